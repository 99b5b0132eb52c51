"""The routing engine: directory, topology, pipeline stages, ledger, CLI."""
