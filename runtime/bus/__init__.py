"""Bus adapters: embedded feeds and Apache Kafka."""
