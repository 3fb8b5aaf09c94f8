"""What aggregator.py must publish, computed in plain Python from the readings themselves.

No Kafka, no windows, no state stores: group the readings of each station by the date of
their `observed_local`, and walk each partition's log in order to tell which readings came
late. The EPA conversions come from aqistream/windows/epa.py, which EPA's own examples pin
(tests/test_windows_epa.py); everything else here is written again, the obvious way, so
that the streaming code is checked against something it does not share.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, time, timedelta

from aqistream.windows import epa

GRACE_MS = 3 * 3600 * 1000


def instant_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def day_end_ms(record: dict) -> int:
    """The next local midnight after the reading, at the reading's own offset, in UTC."""
    local = datetime.fromisoformat(record["observed_local"])
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), local.tzinfo)
    return int(midnight.timestamp() * 1000)


class Reference:
    """Daily figures, NowCasts and alerts for readings in the order each partition holds them.

    `partitions`: for each partition, its records in log order. A reading is late when the
    newest observed_at already seen in its partition had passed its day's end + grace.
    """

    def __init__(self, partitions: list[list[dict]], grace_ms: int = GRACE_MS):
        self.grace_ms = grace_ms
        self.on_time: list[dict] = []
        self.late: list[dict] = []
        self.clock_of_partition: list[int] = []
        self.station_partition: dict[int, int] = {}
        for number, records in enumerate(partitions):
            clock = 0
            for record in records:
                self.station_partition[record["station"]["idx"]] = number
                observed = instant_ms(record["observed_at"])
                if clock >= day_end_ms(record) + grace_ms:
                    self.late.append(record)
                else:
                    self.on_time.append(record)
                clock = max(clock, observed)
            self.clock_of_partition.append(clock)
        self.all = [record for records in partitions for record in records]

    # ------------------------------------------------------------ days

    def days(self) -> dict[tuple[int, str], list[dict]]:
        grouped: dict[tuple[int, str], list[dict]] = defaultdict(list)
        for record in self.on_time:
            grouped[record["station"]["idx"], record["observed_local"][:10]].append(record)
        return grouped

    def closed_days(self) -> dict[tuple[int, str], dict]:
        """The daily records of the days their partition's clock has passed (end + grace)."""
        closed = {}
        for (idx, date), records in self.days().items():
            records = sorted(records, key=lambda record: record["observed_at"])
            last = records[-1]
            end = day_end_ms(last)
            clock = self.clock_of_partition[self.station_partition[idx]]
            if clock >= end + self.grace_ms:
                closed[idx, date] = daily(idx, date, records)
        return closed

    # ------------------------------------------------------------ NowCast and alerts

    def nowcasts(self) -> dict[tuple[int, str], dict]:
        """(idx, observed_at) -> the NowCast record of that reading."""
        return {key: value[0] for key, value in self._nowcasts_and_alerts().items()}

    def alerts(self) -> list[dict]:
        return [alert for _, alert in self._nowcasts_and_alerts().values() if alert]

    def _nowcasts_and_alerts(self) -> dict:
        results = {}
        by_station: dict[int, list[dict]] = defaultdict(list)
        for record in self.all:
            by_station[record["station"]["idx"]].append(record)
        for idx, records in by_station.items():
            hourly: dict[str, dict[int, list[float]]] = {"pm25": {}, "pm10": {}}
            announced = None
            for record in records:
                hour = instant_ms(record["observed_at"]) // 3_600_000
                figures = {}
                for pollutant in ("pm25", "pm10"):
                    value = record["iaqi"].get(pollutant)
                    if value is not None:
                        hourly[pollutant].setdefault(hour, []).append(
                            epa.concentration_of(pollutant, value)
                        )
                    # Hours 36 or more before the newest are forgotten (KEPT_HOURS).
                    newest = max(hourly[pollutant], default=hour)
                    for old in [h for h in hourly[pollutant] if h <= newest - 36]:
                        del hourly[pollutant][old]
                    figures[pollutant] = nowcast_figure(pollutant, hourly[pollutant], hour)
                present = [(f["aqi"], p) for p, f in figures.items() if f]
                aqi, dominant = max(present) if present else (None, None)
                category = epa.category(aqi)
                station = {"idx": idx, "name": record["station"]["name"]}
                nowcast = {
                    "kind": "nowcast",
                    "schema_version": 1,
                    "station": station,
                    "observed_at": record["observed_at"],
                    "observed_local": record["observed_local"],
                    **figures,
                    "aqi": aqi,
                    "category": category,
                    "dominant": dominant,
                }
                alert = None
                if category is not None and category != announced:
                    alert = {
                        "kind": "alert",
                        "schema_version": 1,
                        "station": station,
                        "observed_at": record["observed_at"],
                        "observed_local": record["observed_local"],
                        "previous": announced,
                        "category": category,
                        "aqi": aqi,
                        "dominant": dominant,
                    }
                    announced = category
                results[idx, record["observed_at"]] = (nowcast, alert)
        return results


def nowcast_figure(pollutant: str, hourly: dict[int, list[float]], hour: int) -> dict | None:
    """EPA's steps, one by one, over the 12 clock hours up to `hour`."""
    window = {
        hour - h: sum(values) / len(values) for h, values in hourly.items() if 0 <= hour - h < 12
    }
    if len([ago for ago in (0, 1, 2) if ago in window]) < 2:
        return None
    smallest, largest = min(window.values()), max(window.values())
    weight = 1.0 if largest <= 0 else max(0.5, smallest / largest)
    ages = sorted(window)
    concentration = sum(window[ago] * weight**ago for ago in ages) / sum(
        weight**ago for ago in ages
    )
    aqi = epa.aqi_of(pollutant, concentration)
    return {
        "concentration": epa.truncate(pollutant, concentration),
        "aqi": aqi,
        "category": epa.category(aqi),
        "hours": len(window),
    }


def daily(idx: int, date: str, records: list[dict]) -> dict:
    """The daily record of one station's local day from its readings, oldest first."""
    first, last = records[0], records[-1]
    day = datetime.fromisoformat(date).date()
    # Midnight at the offset of the day's first reading, the next at that of its last.
    start_local = datetime.combine(day, time(0), _tz(first))
    end_local = datetime.combine(day + timedelta(days=1), time(0), _tz(last))
    hours = (end_local - start_local).total_seconds() / 3600
    hours = int(hours) if hours.is_integer() else hours
    aqis = [record["aqi"] for record in records if record["aqi"] is not None]
    values: dict[str, list[float]] = defaultdict(list)
    for record in records:
        for key, value in record["iaqi"].items():
            values[key].append(value)
    daily_aqi = {}
    for pollutant in ("pm25", "pm10"):
        by_hour: dict[int, list[float]] = defaultdict(list)
        for record in records:
            if pollutant in record["iaqi"]:
                hour = instant_ms(record["observed_at"]) // 3_600_000
                by_hour[hour].append(epa.concentration_of(pollutant, record["iaqi"][pollutant]))
        if by_hour:
            hourly = [sum(by_hour[h]) / len(by_hour[h]) for h in sorted(by_hour)]
            mean = sum(hourly) / len(hourly)
            complete = len(hourly) >= 0.75 * hours
            aqi = epa.aqi_of(pollutant, mean) if complete else None
            daily_aqi[pollutant] = {
                "concentration": epa.truncate(pollutant, mean),
                "hours": len(hourly),
                "complete": complete,
                "aqi": aqi,
                "category": epa.category(aqi),
            }
    return {
        "kind": "daily",
        "schema_version": 1,
        "station": {"idx": idx, "name": last["station"]["name"]},
        "date": date,
        "start": _utc_text(start_local),
        "end": _utc_text(end_local),
        "start_local": start_local.isoformat(),
        "end_local": end_local.isoformat(),
        "hours": hours,
        "readings": len(records),
        "coverage": round(len(records) / hours, 3),
        "first_observed_at": first["observed_at"],
        "last_observed_at": last["observed_at"],
        "aqi": None
        if not aqis
        else {
            "mean": round(sum(aqis) / len(aqis), 2),
            "min": min(aqis),
            "max": max(aqis),
            "readings": len(aqis),
        },
        "iaqi": {
            key: {"mean": round(sum(v) / len(v), 2), "max": max(v), "readings": len(v)}
            for key, v in sorted(values.items())
        },
        "daily_aqi": daily_aqi,
    }


def _tz(record: dict):
    return datetime.fromisoformat(record["observed_local"]).tzinfo


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def assert_same(actual, expected, path: str = "") -> None:
    """Equal, numbers within 0.011 (means are rounded to 2 decimals after sums that may add
    up in another order), everything else exactly."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: {actual!r} is not an object"
        assert set(actual) == set(expected), f"{path}: keys {sorted(actual)} != {sorted(expected)}"
        for key in expected:
            assert_same(actual[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, float) or (isinstance(actual, float) and isinstance(expected, int)):
        assert isinstance(actual, int | float), f"{path}: {actual!r} is not a number"
        assert math.isclose(actual, expected, abs_tol=0.011), f"{path}: {actual} != {expected}"
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"
