"""Adapters: PostgreSQL, Kafka, files and embedded servers. No business rules."""
