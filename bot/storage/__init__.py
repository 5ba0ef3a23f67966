"""Storage adapters: Redis and in-process stores, and every Redis key name."""
