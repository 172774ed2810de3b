"""The Kafka bus backend (kafka-python 3.x): topics, an idempotent producer, a group consumer.

Delivery is at least once: consumers never auto-commit; the processing steps commit the
offsets of messages whose downstream write is durable. Everything downstream is keyed by
the article id, so a redelivered message overwrites and never duplicates.

The parts: ``client`` (connection and security settings, error mapping), ``broker`` (topics
and group lag, over the admin client), ``producer`` and ``consumer`` (which says how rebalance
callbacks reach the polling thread).
"""

from newsflow.bus.kafka.broker import KafkaBroker
from newsflow.bus.kafka.client import client_config
from newsflow.bus.kafka.consumer import KafkaBusConsumer
from newsflow.bus.kafka.producer import KafkaBusProducer

__all__ = ["KafkaBroker", "KafkaBusConsumer", "KafkaBusProducer", "client_config"]
