"""The bus between stages: one processing model over two backends (local and Kafka)."""
