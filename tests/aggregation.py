"""Run aggregator.py against the real broker and compare its outputs with the reference.

The outputs are read back with read_committed, as any downstream consumer sees them, and
checked for what exactly once means here: each (station, local day) once in `.daily`,
each reading's NowCast once in `.nowcast`, each alert once, and every value equal to
tests/reference.py's.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from aqistream.kafka.latest import ReadFailed, read_to_end
from aqistream.kafka.values import ValueCodec
from aqistream.record import InvalidRecord
from aqistream.windows.outputs import ALERT, DAILY, NOWCAST
from tests.pipeline import Running, script_env, start_script, wait_for
from tests.reference import Reference, assert_same


def start_aggregator(workdir: Path, topic: str, *args: str, state: str = "state") -> Running:
    """aggregator.py with workdir's config.ini, its local state in workdir/`state`."""
    return start_script(
        "aggregator.py", "config.ini", "--topic", topic, "--state-dir", str(workdir / state),
        *args, env=script_env(None), cwd=workdir,
    )  # fmt: skip


PLAIN = ValueCodec({})  # reads both forms (the JSON behind a wire-format header as it is)


def partition_logs(
    bootstrap_servers: str, topic: str, values: ValueCodec = PLAIN
) -> list[list[dict]]:
    """Each partition's readings in log order (what is not one, keyed by its station, is
    left out; `values` with a registry: a schema it does not hold too)."""
    logs: dict[int, list[dict]] = defaultdict(list)
    for message in read_to_end({"bootstrap.servers": bootstrap_servers}, topic, timeout=60):
        try:
            record = values.decode(topic, message.value()).record
        except InvalidRecord:
            continue
        if message.key() == str(record["station"]["idx"]).encode():
            logs[message.partition()].append(record)
    return [logs[number] for number in sorted(logs)]


@dataclass
class Outputs:
    daily: Counter  # (idx, date) -> times
    nowcast: Counter  # (idx, observed_at) -> times
    alerts: Counter  # (idx, observed_at) -> times
    values: dict  # (kind, key) -> the value


def read_outputs(bootstrap_servers: str, topic: str) -> Outputs:
    counts = {kind.kind: Counter() for kind in (DAILY, NOWCAST, ALERT)}
    values = {}
    for kind, field in ((DAILY, "date"), (NOWCAST, "observed_at"), (ALERT, "observed_at")):
        settings = {"bootstrap.servers": bootstrap_servers, "log_level": 0}
        try:
            messages = list(read_to_end(settings, kind.topic(topic), timeout=30))
        except ReadFailed:
            messages = []
        for message in messages:
            value = PLAIN.decode(kind.topic(topic), message.value(), check=kind.check).record
            key = (value["station"]["idx"], value[field])
            assert message.key() == str(key[0]).encode(), message.key()
            counts[kind.kind][key] += 1
            values[kind.kind, key] = value
    return Outputs(counts["daily"], counts["nowcast"], counts["alert"], values)


def expected_outputs(reference: Reference) -> dict:
    return {
        "daily": reference.closed_days(),
        "nowcast": reference.nowcasts(),
        "alert": {(a["station"]["idx"], a["observed_at"]): a for a in reference.alerts()},
    }


def wait_for_outputs(
    bootstrap_servers: str, topic: str, reference: Reference, timeout: float = 180
) -> Outputs:
    """Until the outputs hold as many distinct entries as the reference expects."""
    expected = expected_outputs(reference)
    seen: list[Outputs] = []

    def complete() -> bool:
        outputs = read_outputs(bootstrap_servers, topic)
        seen[:] = [outputs]
        return (
            len(outputs.daily) >= len(expected["daily"])
            and len(outputs.nowcast) >= len(expected["nowcast"])
            and len(outputs.alerts) >= len(expected["alert"])
        )

    try:
        wait_for(complete, timeout, "the aggregator's outputs", every=2.0)
    except AssertionError:
        got = seen[0] if seen else None
        summary = (
            f"{len(got.daily)}/{len(expected['daily'])} days, "
            f"{len(got.nowcast)}/{len(expected['nowcast'])} NowCasts, "
            f"{len(got.alerts)}/{len(expected['alert'])} alerts"
            if got
            else "nothing read"
        )
        raise AssertionError(f"outputs incomplete after {timeout} s: {summary}") from None
    return seen[0]


def assert_exactly_the_reference(outputs: Outputs, reference: Reference) -> None:
    expected = expected_outputs(reference)
    for kind, counts in (("daily", outputs.daily), ("nowcast", outputs.nowcast),
                         ("alert", outputs.alerts)):  # fmt: skip
        twice = {key: n for key, n in counts.items() if n > 1}
        assert not twice, f"{kind} published more than once: {sorted(twice.items())[:5]}"
        missing = set(expected[kind]) - set(counts)
        extra = set(counts) - set(expected[kind])
        assert not missing, f"{kind} missing: {sorted(missing)[:5]}"
        assert not extra, f"{kind} not expected: {sorted(extra)[:5]}"
        for key, value in expected[kind].items():
            assert_same(outputs.values[kind, key], value, f"{kind}{key}")
