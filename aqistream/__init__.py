"""aqi-stream: a real-time stream of air-quality readings from WAQI into Apache Kafka."""
