"""Events for finance systems: the outbox (written in the transaction of what it
announces), the pull API, webhook endpoints and their signed, retried deliveries."""
