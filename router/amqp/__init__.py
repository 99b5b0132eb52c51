"""RabbitMQ at run time: the consumer, its worker pool and executor, group commit, parked queues.

The only room that consumes with pika; the pipeline it runs imports no pika."""
