"""Kafka for the harness: unique topic and group names per run, creating, counting, deleting.

Every topic and consumer group a run uses is named `bench-<run id>-...` and deleted when the
measurement that used it is done (and again, all of them, when the run ends), so a run
never touches a topic that matters to anyone else and leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import secrets
import time
from collections import Counter

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from aqistream.kafka.latest import latest_topic, read_to_end

TIMEOUT = 60.0
PARTITIONS = 3  # producer.py's default --partitions


class Topics:
    def __init__(self, bootstrap_servers: str):
        self.bootstrap_servers = bootstrap_servers
        self.run_id = time.strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(2)
        self.admin = AdminClient({"bootstrap.servers": bootstrap_servers})
        self.numbers = itertools.count(1)
        self.topics: set[str] = set()
        self.groups: set[str] = set()

    def _new_name(self, what: str) -> str:
        return f"bench-{self.run_id}-{what}-{next(self.numbers)}"

    def topic(self, what: str) -> str:
        """A new topic name; its `.latest` twin is deleted with it."""
        name = self._new_name(what)
        self.topics.update((name, latest_topic(name)))
        return name

    def group(self, what: str) -> str:
        name = self._new_name(what)
        self.groups.add(name)
        return name

    def create(self, topic: str) -> None:
        """A topic as aqi-stream's producer makes it (3 partitions, the broker's replication)."""
        for future in self.admin.create_topics([NewTopic(topic, PARTITIONS)]).values():
            future.result(TIMEOUT)

    def committed_count(self, topic: str) -> int:
        """How many committed records `topic` holds (read_committed, from the beginning)."""
        settings = {"bootstrap.servers": self.bootstrap_servers}
        return sum(1 for _ in read_to_end(settings, topic, TIMEOUT))

    def committed_readings(self, topic: str) -> Counter:
        """How many times `topic` holds each reading, (idx, observed_at), read_committed."""
        settings = {"bootstrap.servers": self.bootstrap_servers}
        readings: Counter = Counter()
        for message in read_to_end(settings, topic, TIMEOUT):
            record = json.loads(message.value())
            readings[record["station"]["idx"], record["observed_at"]] += 1
        return readings

    def delete(self, *topics: str) -> None:
        """Delete these topics and their `.latest` twins, if they exist."""
        names = {name for topic in topics for name in (topic, latest_topic(topic))}
        existing = set(self.admin.list_topics(timeout=TIMEOUT).topics)
        doomed = sorted(names & existing)
        if doomed:
            for future in self.admin.delete_topics(doomed, operation_timeout=30).values():
                with contextlib.suppress(KafkaException):
                    future.result(TIMEOUT)
        self.topics -= names

    def delete_groups(self, *groups: str) -> None:
        if groups:
            for future in self.admin.delete_consumer_groups(list(groups)).values():
                with contextlib.suppress(KafkaException):
                    future.result(TIMEOUT)
        self.groups -= set(groups)

    def delete_everything(self) -> None:
        """What this run created and has not deleted yet (at the end, also after a failure)."""
        with contextlib.suppress(KafkaException):
            self.delete_groups(*sorted(self.groups))
        with contextlib.suppress(KafkaException):
            self.delete(*sorted(t for t in self.topics if not t.endswith(".latest")))
