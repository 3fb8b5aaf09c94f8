"""The compacted `<topic>.latest` topic: each station's newest reading, read to its end.

The producer reads it back at start-up to learn what was published; `consumer.py
--snapshot` prints it before streaming. Both read it with read_committed, so only readings
of committed transactions count.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)


class ReadFailed(Exception):
    """The topic could not be read to its end (Kafka unreachable, or too slow)."""


def latest_topic(topic: str) -> str:
    return f"{topic}.latest"


def read_to_end(
    settings: dict, topic: str, timeout: float, isolation_level: str = "read_committed"
) -> Iterator[Message]:
    """Every committed message of `topic`, from the beginning to the current end.

    (isolation_level="read_uncommitted" also shows what aborted transactions wrote.)
    """
    consumer = Consumer(
        {
            **settings,
            # A throwaway group: this read neither uses nor moves anyone's offsets.
            "group.id": f"aqi-stream-reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "isolation.level": isolation_level,
            "enable.partition.eof": True,
        }
    )
    deadline = time.monotonic() + timeout
    try:
        metadata = consumer.list_topics(topic, timeout=timeout)
        if metadata.topics[topic].error is not None:
            raise ReadFailed(f"topic {topic}: {metadata.topics[topic].error.str()}")
        partitions = set(metadata.topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        while partitions:
            if time.monotonic() > deadline:
                raise ReadFailed(f"timed out reading {topic} to its end")
            for message in consumer.consume(1000, timeout=0.5):
                error = message.error()
                if error is None:
                    yield message
                elif error.code() == KafkaError._PARTITION_EOF:
                    partitions.discard(message.partition())
                else:
                    raise ReadFailed(f"reading {topic}: {error.str()}")
    except KafkaException as error:
        raise ReadFailed(f"reading {topic}: {error.args[0].str()}") from None
    finally:
        consumer.close()
