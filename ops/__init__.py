"""Operations: logging, metrics, compliance figures, provisioning, tracing."""
