"""Publishing readings to Kafka exactly once: topics, transactions, and the committed state.

Each batch goes out in one transaction that writes every reading to `<topic>` and each
station's newest reading to the compacted `<topic>.latest`. Because both are in the same
transaction, `.latest` is always exactly what `<topic>` holds as committed: reading it back
(read_committed) tells a restarted producer what was published, with no local state file.

With [schema_registry] in config.ini, each topic's value schema is registered (with its
compatibility rule) before the first transaction, and values are written in the registry's
wire format with its id (kafka/values.py); a schema the registry refuses stops the producer
before anything is published.

After any failure inside a transaction the producer instance is dropped. The next connect()
creates a new one with the same transactional.id, whose init_transactions() completes or
aborts whatever the old one left open, and only then reads `.latest` back. So an ambiguous
commit (the broker committed, the answer was lost) is resolved by Kafka, never guessed.
"""

from __future__ import annotations

import logging
import time

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from aqistream.config import ConfigError, KafkaConfig
from aqistream.kafka.latest import ReadFailed, latest_topic, read_to_end
from aqistream.kafka.values import ValueCodec
from aqistream.record import InvalidRecord, Record, record_key
from aqistream.registry.failures import RegistryUnavailable, SchemaRefused
from aqistream.registry.schemas import COMPATIBILITY, value_subject

log = logging.getLogger("aqistream.kafka.publish")
kafka_log = logging.getLogger("aqistream.librdkafka")

# Errors that are the user's configuration, not a passing outage.
CONFIGURATION_ERRORS = {
    KafkaError.INVALID_REPLICATION_FACTOR: "the replication factor is larger than the brokers",
    KafkaError.INVALID_PARTITIONS: "invalid number of partitions",
    KafkaError.TOPIC_AUTHORIZATION_FAILED: "not authorised to use the topic",
    KafkaError.CLUSTER_AUTHORIZATION_FAILED: "not authorised to create topics",
    KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED: "not authorised to use transactional.id",
    KafkaError.POLICY_VIOLATION: "the cluster's topic policy refused the topic",
    KafkaError._AUTHENTICATION: "authentication failed",
    KafkaError.SASL_AUTHENTICATION_FAILED: "authentication failed",
}
FENCED = {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}
REGISTRY = "the schema registry"


class KafkaUnavailable(Exception):
    """Kafka (or the schema registry) could not be reached, or a transaction failed: retry
    later, nothing is lost."""

    def __init__(self, message: str, service: str = "Kafka"):
        super().__init__(message)
        self.service = service  # what is waited for, as the log says it


class Fenced(Exception):
    """Another producer with the same transactional.id took over: this one must stop."""


def producer_settings(config: KafkaConfig, topic: str) -> dict:
    return {
        # The same transactional.id on a restart or a replacement machine fences the old one.
        "transactional.id": f"aqi-stream-{topic}",
        "linger.ms": 20,
        "compression.type": "lz4",
        "transaction.timeout.ms": 60000,
        **config.common,
        **config.producer,
        "logger": kafka_log,
    }


class Publisher:
    def __init__(
        self,
        config: KafkaConfig,
        topic: str,
        partitions: int = 3,
        replication_factor: int = -1,
    ):
        self.config = config
        self.topic = topic
        self.partitions = partitions
        self.replication_factor = replication_factor
        self.last_error: KafkaError | None = None
        self.producer: Producer | None = None
        self.admin: AdminClient | None = None  # kept, so it stays connected between tries
        self.transactions_started = False  # init_transactions() done on this instance
        self.topics_ready = False
        self.values = ValueCodec(config.schema_registry)
        self.schemas_registered = not self.values.uses_registry
        # Built now so a bad setting in config.ini is reported at start-up, broker or not.
        self.producer = self.new_producer()

    # ------------------------------------------------------------ clients

    def on_error(self, error: KafkaError) -> None:
        self.last_error = error

    def new_producer(self) -> Producer:
        try:
            return Producer(
                {**producer_settings(self.config, self.topic), "error_cb": self.on_error}
            )
        except KafkaException as error:
            raise ConfigError(f"{self.config.source}: {error.args[0].str()}") from None

    def common_settings(self) -> dict:
        return {**self.config.common, "logger": kafka_log, "error_cb": self.on_error}

    def reason(self, error: Exception | None = None) -> str:
        """Why Kafka failed, in one line, with the broker's own error when it gave one."""
        text = error.args[0].str() if isinstance(error, KafkaException) else str(error or "")
        if self.last_error is not None and self.last_error.str() not in text:
            text = f"{text}; last broker error: {self.last_error.str()}".lstrip("; ")
        return text or "no answer"

    def raise_if_configuration(self, error: KafkaError | None) -> None:
        for candidate in (error, self.last_error):
            if candidate is not None and candidate.code() in CONFIGURATION_ERRORS:
                raise ConfigError(
                    f"Kafka at {self.config.bootstrap_servers}: "
                    f"{CONFIGURATION_ERRORS[candidate.code()]} ({candidate.str()})"
                )

    # ------------------------------------------------------------ connect

    def connect(self, timeout: float) -> dict[int, str]:
        """Make topics, start transactions and read back what was published.

        Returns station idx -> observed_at of its last committed reading.
        Raises KafkaUnavailable (retry later), ConfigError or Fenced.
        """
        deadline = time.monotonic() + timeout
        self.last_error = None
        if not self.topics_ready:
            self.ensure_topics(timeout)
        if not self.schemas_registered:
            self.register_schemas()
        if self.producer is None:
            self.producer = self.new_producer()
            self.transactions_started = False
        if not self.transactions_started:
            try:
                self.producer.init_transactions(max(1.0, deadline - time.monotonic()))
            except KafkaException as error:
                if not error.args[0].retriable():
                    self.handle_failure(error, "starting transactions")
                # Timed out: the same instance resumes where it was on the next call; a new
                # one would start over, racing the coordinator's clean-up of the last one.
                raise KafkaUnavailable(
                    f"Kafka at {self.config.bootstrap_servers}, starting transactions: "
                    f"{self.reason(error)}"
                ) from None
            self.transactions_started = True
        return self.read_committed_state(max(5.0, deadline - time.monotonic()))

    def ensure_topics(self, timeout: float) -> None:
        if self.admin is None:
            self.admin = AdminClient(self.common_settings())
        admin = self.admin
        try:
            existing = admin.list_topics(timeout=timeout).topics
        except KafkaException as error:
            self.raise_if_configuration(error.args[0])
            raise KafkaUnavailable(
                f"Kafka unreachable at {self.config.bootstrap_servers}: {self.reason(error)}"
            ) from None
        wanted = [
            NewTopic(self.topic, self.partitions, self.replication_factor),
            NewTopic(
                latest_topic(self.topic),
                self.partitions,
                self.replication_factor,
                # Compaction keeps the last reading of every station, and nothing else.
                config={"cleanup.policy": "compact"},
            ),
        ]
        missing = [new for new in wanted if new.topic not in existing]
        if missing:
            futures = admin.create_topics(missing, request_timeout=timeout)
            for name, future in futures.items():
                try:
                    future.result()
                    log.info("created topic %s", name)
                except KafkaException as error:
                    if error.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                        continue
                    self.raise_if_configuration(error.args[0])
                    raise KafkaUnavailable(
                        f"could not create topic {name}: {self.reason(error)}"
                    ) from None
        self.topics_ready = True

    def register_schemas(self) -> None:
        """Register the record's schema for both topics, once: a refusal stops the producer
        before its first transaction, so nothing is published."""
        topics = (self.topic, latest_topic(self.topic))
        try:
            ids = [self.values.register(topic) for topic in topics]
        except SchemaRefused as error:
            raise SchemaRefused(f"{error}; nothing was published") from None
        except RegistryUnavailable as error:
            raise KafkaUnavailable(str(error), REGISTRY) from None
        self.schemas_registered = True
        log.info(
            "value schemas registered at %s: %s (schema ids %s), compatibility %s",
            self.values.url,
            " and ".join(value_subject(topic) for topic in topics),
            " and ".join(str(schema_id) for schema_id in ids),
            COMPATIBILITY,
        )

    def check(self, record: Record) -> None:
        """BreaksContract if the topic's registered schema refuses the record."""
        self.values.check(self.topic, record)

    def read_committed_state(self, timeout: float) -> dict[int, str]:
        """station idx -> observed_at, from `.latest` read with read_committed to its end."""
        committed: dict[int, str] = {}
        in_wire_format = 0
        try:
            for message in read_to_end(self.common_settings(), latest_topic(self.topic), timeout):
                in_wire_format += self.remember_latest(committed, message)
        except ReadFailed as error:
            raise KafkaUnavailable(f"{error}: {self.reason()}") from None
        except RegistryUnavailable as error:
            raise KafkaUnavailable(
                f"reading {latest_topic(self.topic)}: {error}", REGISTRY
            ) from None
        if in_wire_format and not self.values.uses_registry:
            log.warning(
                "%s holds values in the schema registry's wire format, but %s has no "
                "[schema_registry]: new readings go out as plain JSON, which readers with a "
                "registry deserializer cannot read",
                latest_topic(self.topic),
                self.config.source,
            )
        return committed

    def remember_latest(self, committed: dict[int, str], message) -> bool:
        """Note a `.latest` message's station and time; whether it was in wire format."""
        try:
            decoded = self.values.decode(message.topic(), message.value(), message.headers())
        except InvalidRecord as error:
            log.warning(
                "skipping an invalid record in %s partition %d offset %d: %s",
                message.topic(),
                message.partition(),
                message.offset(),
                error,
            )
            return False
        record = decoded.record
        idx = record["station"]["idx"]
        committed[idx] = max(committed.get(idx, ""), record["observed_at"])
        return decoded.schema_id is not None

    # ------------------------------------------------------------ publish

    def publish(self, records: list[dict], timeout: float) -> None:
        """Publish `records` in one transaction, or raise with nothing published."""
        if self.producer is None:
            raise KafkaUnavailable("not connected")
        # Encoded before the transaction opens: it stays open only as long as sending takes.
        newest = {record_key(record): record for record in records}  # oldest first per station
        latest = latest_topic(self.topic)
        try:
            readings = [(record_key(r), self.values.encode(self.topic, r)) for r in records]
            current = [(key, self.values.encode(latest, r)) for key, r in newest.items()]
        except RegistryUnavailable as error:
            raise KafkaUnavailable(str(error), REGISTRY) from None
        try:
            self.producer.begin_transaction()
            for key, value in readings:
                self.produce(self.topic, key, value)
            for key, value in current:
                self.produce(latest, key, value)
            self.producer.commit_transaction(timeout)
        except KafkaException as error:
            self.handle_failure(error, "publishing")

    def produce(self, topic: str, key: bytes, value: bytes) -> None:
        while True:
            try:
                self.producer.produce(topic, value=value, key=key)
                return
            except BufferError:
                # The local queue is full (a long outage's backlog): let it drain.
                self.producer.poll(0.1)

    def handle_failure(self, error: KafkaException, doing: str) -> None:
        """Drop the producer (its transaction is resolved by the next one) and raise."""
        kafka_error = error.args[0]
        self.discard_producer()
        if kafka_error.code() in FENCED:
            raise Fenced(
                f"another producer with transactional.id "
                f"{producer_settings(self.config, self.topic)['transactional.id']} took over"
            ) from None
        self.raise_if_configuration(kafka_error)
        raise KafkaUnavailable(
            f"Kafka at {self.config.bootstrap_servers}, {doing}: {self.reason(error)}"
        ) from None

    def discard_producer(self) -> None:
        """Forget the producer instance; the next one's init_transactions() cleans up after it.

        Not Producer.close(): it tries to abort the open transaction and, with the
        transaction coordinator unreachable, waits for that forever.
        """
        if self.producer is not None:
            self.producer.purge()
            self.producer = None

    def close(self) -> None:
        """At exit. Every transaction has been committed or has failed by now, so there is
        nothing left to send; dropping the instance cannot hang on a broker that is down."""
        self.discard_producer()
