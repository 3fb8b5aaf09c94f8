"""Kafka edges: publishing in transactions with `.latest`, reading in consumer groups."""
