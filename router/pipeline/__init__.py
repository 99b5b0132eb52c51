"""The stages as pure decisions: intake, delivery, hub statuses, the envelope, the signature seam.

Imports no pika: the amqp room executes what these decide."""
