"""PostgreSQL edge: migrations and the non-blocking record writer."""
