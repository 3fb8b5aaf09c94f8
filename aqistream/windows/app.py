"""aggregator.py's Quix Streams application: readings in, daily figures, NowCast and alerts out.

    readings ─► check (poison: reported, skipped)
       ├─► NowCast per station (state: its last 12 hours) ─► <topic>.nowcast
       │                                                  └─► category changed ─► <topic>.alerts
       └─► the station's wall clock ─► LocalDayWindow (24 h, grace) ─► <topic>.daily

Values in and out go through kafka/values.py: readings are read in both forms (plain JSON
and the schema registry's wire format, by Quix value deserializer calling ValueCodec.decode);
with [schema_registry] the three outputs are written in wire format, their schemas
(schemas/daily-v1.json, nowcast-v1.json, alert-v1.json) registered first under
`<topic>.daily-value` and so on. A reading whose schema the registry cannot give now ends
the run of the application, which starts again from its last checkpoint (nothing skipped,
nothing twice) until the registry answers.

Exactly once end to end: Quix's "exactly-once" guarantee commits the consumed offsets, the
three outputs and the state's changelog topics in one Kafka transaction per checkpoint,
so a crash anywhere re-runs the uncommitted messages from the last checkpoint, with the
state as it was there. Each step's work is a pure function of aqistream/windows/.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from aqistream.config import ConfigError, KafkaConfig
from aqistream.kafka.values import ValueCodec
from aqistream.record import InvalidRecord
from aqistream.registry.failures import RegistryUnavailable
from aqistream.windows import daily, nowcast
from aqistream.windows.closing import LocalDayWindow
from aqistream.windows.localday import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    local_date,
    offset_minutes,
    utc_ms,
    wall_clock_ms,
)
from aqistream.windows.outputs import DAILY, OUTPUT_KINDS
from aqistream.windows.quix import (
    Application,
    ConnectionConfig,
    Deserializer,
    QuixException,
    SerializationContext,
    Serializer,
    State,
    TopicConfig,
    default_on_consumer_error,
)
from aqistream.windows.reading import Reading, compact_reading

log = logging.getLogger("aqistream.aggregator")
kafka_log = logging.getLogger("aqistream.librdkafka")

DEFAULT_GROUP = "aqi-stream-aggregator"
DEFAULT_GRACE_MS = 3 * HOUR_MS
# Outputs become visible when a checkpoint commits: this bounds a NowCast's delay.
COMMIT_INTERVAL_SECONDS = 0.5
# An instance that died in a transaction, and is not run again, holds back what readers of
# the outputs see until Kafka aborts its transaction.
TRANSACTION_TIMEOUT_MS = 10_000
# A day is logged as late once per station; this many are remembered.
LATE_DAYS_REMEMBERED = 10_000
REPORT_EVERY_SECONDS = 30.0
RESTART_AFTER_SECONDS = 5.0
# librdkafka and Quix repeat a complaint every second while Kafka is away: once a minute.
REPEAT_AFTER_SECONDS = 60.0


@dataclass(frozen=True)
class AggregatorOptions:
    topic: str = "air_quality_index"
    grace_ms: int = DEFAULT_GRACE_MS
    group: str | None = None
    state_dir: str = "aggregator-state"


@dataclass
class Counts:
    readings: int = 0
    invalid: int = 0
    nowcasts: int = 0
    alerts: int = 0
    days_closed: int = 0
    late: int = 0
    late_days: OrderedDict = field(default_factory=OrderedDict)

    def summary(self) -> str:
        return (
            f"{self.readings} readings in ({self.invalid} invalid, skipped; {self.late} too "
            f"late for their day), {self.days_closed} days closed, {self.nowcasts} NowCasts, "
            f"{self.alerts} alerts"
        )


def group_of(config: KafkaConfig, options: AggregatorOptions) -> str:
    return options.group or config.consumer.get("group.id") or DEFAULT_GROUP


def transactional_id(group: str, state_dir: str) -> str:
    """The same for an instance run again (same machine, same state directory), so that the
    run fences the one before it and Kafka aborts that one's open transaction at once,
    rather than after its timeout with every reader of the outputs held back meanwhile."""
    where = hashlib.sha1(os.path.abspath(state_dir).encode()).hexdigest()[:10]
    return f"{group}-{socket.gethostname()}-{where}"


class Stopper:
    """SIGINT and SIGTERM: stop the running application, and the loop that restarts it."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.app: Application | None = None

    def install(self) -> None:
        signal.signal(signal.SIGINT, self.handle)
        signal.signal(signal.SIGTERM, self.handle)

    def handle(self, signum: int, frame: Any) -> None:
        if not self.event.is_set():
            log.info("%s: stopping", signal.Signals(signum).name)
        self.event.set()
        if self.app is not None:
            self.app.stop()


class StoppedBySignals(Application):
    """Quix installs its own signal handlers in run(); these also end the restart loop."""

    stopper: Stopper

    def _setup_signal_handlers(self) -> None:
        self.stopper.install()


class RepeatFilter(logging.Filter):
    """Lets a log line through, then the same line again only after a while."""

    def __init__(self, every: float = REPEAT_AFTER_SECONDS):
        super().__init__()
        self.every = every
        self.shown: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        text = record.getMessage()
        if now - self.shown.get(text, -self.every) < self.every:
            return False
        self.shown[text] = now
        return True


class ValueDeserializer(Deserializer):
    """The readings' values through ValueCodec.decode, plain JSON or wire format. Poison is
    passed on as its InvalidRecord, for the check step to report and skip;
    RegistryUnavailable is raised (see on_consumer_error)."""

    def __init__(self, values: ValueCodec):
        super().__init__()
        self.values = values

    def __call__(self, value: bytes, ctx: SerializationContext) -> Any:
        try:
            return self.values.decode(ctx.topic, value, ctx.headers).record
        except InvalidRecord as problem:
            return problem


class ValueSerializer(Serializer):
    """An output's values in the registry's wire format, with its topic's registered id."""

    def __init__(self, values: ValueCodec, topic: str):
        self.values = values
        self.topic = topic

    def __call__(self, value: dict, ctx: SerializationContext) -> bytes:
        return self.values.encode(self.topic, value)


def on_consumer_error(exc: Exception, message: Any, logger: logging.Logger) -> bool:
    """A reading whose schema the registry cannot give now ends the application's run (no
    traceback; Aggregation.run says so and starts it again); the rest as Quix does."""
    if isinstance(exc, RegistryUnavailable):
        return False
    return default_on_consumer_error(exc, message, logger)


class Aggregation:
    """The application for one run: built by build(), run by Application.run()."""

    def __init__(self, config: KafkaConfig, options: AggregatorOptions, counts: Counts):
        self.config = config
        self.options = options
        self.counts = counts
        self.group = group_of(config, options)
        self.reported_at = time.monotonic()
        # Built once: the schemas it has looked up outlive a restart of the application.
        self.values = ValueCodec(config.schema_registry)

    # ------------------------------------------------------------ clients

    def kafka_settings(self, role: dict[str, str]) -> dict[str, Any]:
        settings = {**self.config.common, **role}
        settings.pop("bootstrap.servers", None)
        settings.pop("group.id", None)
        return settings

    def check_settings(self) -> None:
        """A bad setting in config.ini is a ConfigError now, not a crash inside Quix."""
        try:
            # Built and dropped, not connected: nothing to log.
            quiet = {"log_level": 0}
            Consumer(
                {**self.config.common, **self.config.consumer, "group.id": self.group, **quiet}
            ).close()
            Producer({**self.config.common, **self.config.producer, **quiet})
        except KafkaException as error:
            raise ConfigError(f"{self.config.source}: {error.args[0].str()}") from None

    def input_layout(self, stop: threading.Event) -> tuple[int, int]:
        """(partitions, replication factor) of the readings topic, once it exists."""
        admin = AdminClient({**self.config.common, "logger": kafka_log})
        said = None
        while not stop.is_set():
            try:
                topics = admin.list_topics(timeout=10).topics
            except KafkaException as error:
                reason = error.args[0].str()
                message = f"Kafka unreachable at {self.config.bootstrap_servers} ({reason})"
            else:
                metadata = topics.get(self.options.topic)
                if metadata is not None and metadata.error is None and metadata.partitions:
                    first = next(iter(metadata.partitions.values()))
                    return len(metadata.partitions), len(first.replicas)
                message = f"topic {self.options.topic} does not exist yet"
            if message != said:
                log.warning("%s; waiting for it", message)
                said = message
            stop.wait(2)
        raise InterruptedError

    # ------------------------------------------------------------ the application

    def build(self, partitions: int, replication: int) -> Application:
        connection = ConnectionConfig.from_librdkafka_dict(self.config.common, ignore_extras=True)
        app = StoppedBySignals(
            broker_address=connection,
            consumer_group=self.group,
            auto_offset_reset="earliest",
            processing_guarantee="exactly-once",
            commit_interval=COMMIT_INTERVAL_SECONDS,
            state_dir=self.options.state_dir,
            loglevel=None,
            consumer_extra_config={
                # Not Kafka's 45 s: a partner of an instance that died (kill -9) takes its
                # partitions over within 10 s.
                "session.timeout.ms": 10000,
                **self.kafka_settings(self.config.consumer),
                "logger": kafka_log,
            },
            producer_extra_config={
                "transactional.id": transactional_id(self.group, self.options.state_dir),
                "transaction.timeout.ms": TRANSACTION_TIMEOUT_MS,
                **self.kafka_settings(self.config.producer),
                "logger": kafka_log,
            },
            # librdkafka retries while Kafka is away; the caller starts again after this.
            broker_availability_timeout=60,
            on_consumer_error=on_consumer_error,
        )
        readings = app.topic(
            self.options.topic,
            key_deserializer="bytes",
            value_deserializer=ValueDeserializer(self.values),
        )
        created = TopicConfig(num_partitions=partitions, replication_factor=replication)
        outputs = {
            kind: app.topic(
                kind.topic(self.options.topic),
                key_serializer="bytes",
                value_serializer=self.value_serializer(kind.topic(self.options.topic)),
                config=created,
            )
            for kind in OUTPUT_KINDS
        }
        kind_of = {kind.kind: kind for kind in outputs}

        checked = app.dataframe(readings).apply(self.check, metadata=True, expand=True)

        # Branch 1: the NowCast of every reading, and an alert when its category moves.
        observed = checked.apply(self.observe, stateful=True, expand=True)
        observed.to_topic(lambda value, key, timestamp, headers: outputs[kind_of[value["kind"]]])

        # Branch 2: the station's day, on its wall clock.
        days = checked.set_timestamp(
            lambda value, key, timestamp, headers: wall_clock_ms(value["utc"], value["offset"])
        )
        closed = LocalDayWindow(self.options.grace_ms, days, self.on_late).final()
        closed = closed.filter(self.has_readings)
        # Kafka's timestamp of a day: that of the reading that closed it (the window's own,
        # its wall-clock start, would be a fake instant, and retention deletes by it).
        closed = closed.set_timestamp(lambda value, key, timestamp, headers: value["closed_by"])
        closed = closed.apply(self.daily_record, metadata=True)
        closed.to_topic(outputs[DAILY])
        return app

    def value_serializer(self, topic: str) -> Serializer | str:
        """Plain JSON as ever, or with [schema_registry] the wire format."""
        return ValueSerializer(self.values, topic) if self.values.uses_registry else "json"

    def register_outputs(self, stop: threading.Event) -> None:
        """With [schema_registry]: each output's schema under `<topic>-value`, waiting while
        the registry is away. SchemaRefused or ConfigError: nothing is published."""
        said = None
        for kind in OUTPUT_KINDS if self.values.uses_registry else ():
            while not stop.is_set():
                try:
                    schema_id = self.values.register(kind.topic(self.options.topic), kind.schema)
                except RegistryUnavailable as problem:
                    if str(problem) != said:
                        log.warning("%s; waiting for it before publishing anything", problem)
                        said = str(problem)
                    stop.wait(RESTART_AFTER_SECONDS)
                    continue
                log.info(
                    "%s: schema %s registered (id %d)", kind.topic(self.options.topic),
                    kind.schema, schema_id,
                )  # fmt: skip
                break
        if stop.is_set():
            raise InterruptedError

    def run(self, stopper: Stopper) -> None:
        """Until stopped: wait for the readings topic, run the application, and start it
        again (its state and offsets from Kafka) whenever Kafka, or the schema registry,
        fails it."""
        try:
            partitions, replication = self.input_layout(stopper.event)
            self.register_outputs(stopper.event)
        except InterruptedError:
            return
        said = False
        registry_said = False
        while not stopper.event.is_set():
            app = self.build(partitions, replication)
            if not said:  # Quix has made the topics now
                log.info(
                    "publishing to %s", ", ".join(k.topic(self.options.topic) for k in OUTPUT_KINDS)
                )
                said = True
            app.stopper = stopper
            stopper.app = app
            try:
                app.run()
            except RegistryUnavailable as problem:
                if stopper.event.is_set():
                    return
                if not registry_said:  # then every few seconds until it answers: once
                    log.warning(
                        "%s; waiting for it, nothing is skipped (the application starts "
                        "again from its last checkpoint every %g s until it answers)",
                        problem,
                        RESTART_AFTER_SECONDS,
                    )
                    registry_said = True
                stopper.event.wait(RESTART_AFTER_SECONDS)
            except (KafkaException, QuixException) as error:
                if stopper.event.is_set():
                    return
                log.warning(
                    "Kafka failed (%s); starting again in %g s", error, RESTART_AFTER_SECONDS
                )
                stopper.event.wait(RESTART_AFTER_SECONDS)
            else:
                return  # stopped by a signal
            finally:
                stopper.app = None

    # ------------------------------------------------------------ the steps

    def check(
        self, value: bytes | None, key: bytes | None, timestamp: int, headers: Any
    ) -> list[Reading]:
        """The reading in a message (decoded by ValueDeserializer); none (reported,
        counted) when it is not one."""
        try:
            if value is None:
                raise InvalidRecord("empty message (no value)")
            if isinstance(value, InvalidRecord):
                raise value
            record = value
            if key != str(record["station"]["idx"]).encode():
                raise InvalidRecord(
                    f"key {key!r} is not the station idx {record['station']['idx']}"
                )
            utc = utc_ms(record["observed_at"])
            offset = offset_minutes(record["observed_local"])
        except (InvalidRecord, ValueError) as problem:
            self.counts.invalid += 1
            log.warning("skipping an invalid record (key %r): %s", key, problem)
            return []
        self.counts.readings += 1
        return [compact_reading(record, utc, offset, timestamp)]

    def observe(self, reading: Reading, state: State) -> list[dict]:
        """The reading's NowCast record, and its alert if the category moved."""
        history = state.get("history") or nowcast.new_history()
        history, figures, alert = nowcast.observe(history, reading)
        state.set("history", history)
        self.counts.nowcasts += 1
        now = time.monotonic()
        if now - self.reported_at >= REPORT_EVERY_SECONDS:  # while there is work, not idle
            self.reported_at = now
            log.info(self.counts.summary())
        if alert is None:
            return [figures]
        self.counts.alerts += 1
        log.debug(
            "alert: %s: %s -> %s (NowCast AQI %d)",
            alert["station"]["name"],
            alert["previous"] or "none",
            alert["category"],
            alert["aqi"],
        )
        return [figures, alert]

    @staticmethod
    def has_readings(window: dict) -> bool:
        return window["day"]["readings"] > 0

    def daily_record(self, window: dict, key: bytes, timestamp: int, headers: Any) -> dict:
        record = daily.daily_record(int(key), window["day"], window["start"])
        self.counts.days_closed += 1
        pm25 = record["daily_aqi"].get("pm25") or {}
        log.debug(
            "day closed: %s %s: %d readings, daily PM2.5 AQI %s",
            record["station"]["name"],
            record["date"],
            record["readings"],
            pm25.get("aqi", "-"),
        )
        return record

    def on_late(
        self,
        value: Any,
        key: Any,
        timestamp_ms: int,
        late_by_ms: int,
        start: int,
        end: int,
        store_name: str,
        topic: str,
        partition: int,
        offset: int,
    ) -> bool:
        """A reading whose day had closed: counted, logged once per station and day."""
        self.counts.late += 1
        day = (key, start)
        if day not in self.counts.late_days:
            self.counts.late_days[day] = True
            if len(self.counts.late_days) > LATE_DAYS_REMEMBERED:
                self.counts.late_days.popitem(last=False)
            log.warning(
                "late reading: station %s, local day %s, observed %s, arrived when the day "
                "had been closed for %s (its end + %s of grace); counted, not in the day's "
                "result (logged once per station and day)",
                key.decode(errors="replace") if isinstance(key, bytes) else key,
                local_date(start),
                _instant(value["utc"]),
                duration_text(late_by_ms),
                duration_text(self.options.grace_ms),
            )
        return False  # Quix logs nothing more


def _instant(instant_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(instant_ms / 1000))


def duration_text(ms: int) -> str:
    """'3 h', '1.5 h', '2 days', '12 min'."""
    if ms >= DAY_MS:
        return f"{ms / DAY_MS:.3g} days"
    if ms >= HOUR_MS:
        return f"{ms / HOUR_MS:.3g} h"
    return f"{ms / MINUTE_MS:.0f} min"
