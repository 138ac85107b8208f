"""The durable job queue (a Redis stream with one consumer group) and the worker that drains it."""
