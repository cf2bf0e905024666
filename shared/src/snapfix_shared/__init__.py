"""SnapFix shared library: what every SnapFix process needs and nothing more.

Message contracts, the topic catalogue, settings fragments, Kafka/Mongo/Redis wiring,
telemetry, health and logging. No business rules, no Beanie documents.
"""
