"""The admin endpoint (/admin/...): read and steer the simulator from tests. JSON in and out.

No token is needed, no quota or fault applies. The paths and shapes are documented in the
package docstring (aqistream/waqi_sim/__init__.py) and in `--help`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

from aqistream.waqi_sim.api import WaqiApi
from aqistream.waqi_sim.availability import available_runs
from aqistream.waqi_sim.catalogue import CROWD, OFFICIAL, STATUSES, Catalogue, Station, stations_of
from aqistream.waqi_sim.churn import Interval
from aqistream.waqi_sim.clock import SimulatedClock
from aqistream.waqi_sim.faults import Faults, settings_json
from aqistream.waqi_sim.localtime import parse_instant, utc_iso
from aqistream.waqi_sim.quota import Quota, QuotaSettings
from aqistream.waqi_sim.served import ServedRecord

_FAULT_FIELDS = {"latency_ms", "jitter_ms", "error_rate", "empty_rate", "nonjson_rate"}


class AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class AdminApi:
    def __init__(
        self,
        api: WaqiApi,
        clock: SimulatedClock,
        quota: Quota,
        faults: Faults,
        served: ServedRecord,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.api = api
        self.catalogue = api.catalogue
        self._wall_clock = wall_clock
        self.clock = clock
        self.quota = quota
        self.faults = faults
        self.served = served

    def handle(
        self, method: str, path: str, params: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        """(HTTP status, JSON value) for an admin request."""
        routes = {
            ("GET", "/admin"): lambda: self.index(),
            ("GET", "/admin/clock"): lambda: self.clock_json(),
            ("POST", "/admin/clock"): lambda: self.move_clock(_json_object(body)),
            ("GET", "/admin/faults"): lambda: self.faults_json(),
            ("POST", "/admin/faults"): lambda: self.set_faults(_json_object(body)),
            ("DELETE", "/admin/faults"): lambda: self.clear_faults(),
            ("GET", "/admin/quota"): lambda: self.quota.settings.to_json(),
            ("POST", "/admin/quota"): lambda: self.set_quota(_json_object(body)),
            ("GET", "/admin/map"): lambda: self.api.map_cap.to_json(),
            ("POST", "/admin/map"): lambda: self.set_map(_json_object(body)),
            ("GET", "/admin/served"): lambda: self.served_json(params),
            ("GET", "/admin/available"): lambda: self.available_json(params),
            ("POST", "/admin/reset"): lambda: self.reset(),
            ("GET", "/admin/stations"): lambda: self.stations_json(params),
            ("POST", "/admin/stations"): lambda: self.change_stations(_json_object(body)),
        }
        path = path.rstrip("/") or "/"
        try:
            route = routes.get((method, path))
            if route is None:
                if any(known == path for _, known in routes):
                    raise AdminError(405, f"{method} is not allowed on {path}")
                raise AdminError(404, f"no admin endpoint {path}; GET /admin lists them")
            return 200, route()
        except AdminError as error:
            return error.status, {"error": str(error)}

    def index(self) -> dict:
        return {
            "endpoints": {
                "GET /admin/clock": "the simulated time",
                "POST /admin/clock": '{"advance_hours": h} | {"advance_seconds": s} | {"set": ISO}',
                "GET /admin/faults": "the fault settings",
                "POST /admin/faults": "change some of latency_ms, jitter_ms, error_rate, "
                "empty_rate, nonjson_rate, outage_seconds, outage_mode ('503' or 'close')",
                "DELETE /admin/faults": "no faults",
                "GET /admin/quota": "the quota",
                "POST /admin/quota": '{"per_minute": n, "burst": n} (per_minute 0: off)',
                "GET /admin/map": "the map cap (thinning of map/bounds answers)",
                "POST /admin/map": '{"cap": n} (0: no thinning)',
                "GET /admin/served": "readings served (?idx=N for one station) and requests "
                "per token",
                "GET /admin/available": "when every reading appeared, ?from=ISO&to=ISO"
                "&idx=N,N&network=...&bounds=LAT1,LNG1,LAT2,LNG2&format=runs|readings",
                "POST /admin/reset": "forget what was served and counted, refill all quotas",
                "GET /admin/stations": "stations, ?network=official|crowd&status=..."
                "&present=true|false&bounds=LAT1,LNG1,LAT2,LNG2&limit=N",
                "POST /admin/stations": '{"vanish": [idx, ...], "appear": [idx, ...]}: now',
            }
        }

    # --- clock -------------------------------------------------------------------------------

    def clock_json(self) -> dict:
        now, wall = self._now_and_wall()
        return {
            "now": utc_iso(now),
            "epoch": now,
            "start": utc_iso(self.clock.start),
            "hour_seconds": self.clock.hour_seconds,
            "speed": self.clock.speed,
            "wall": wall,
        }

    def _now_and_wall(self) -> tuple[float, float]:
        """The simulated and the real time of one moment."""
        return self.clock.now(), round(self._wall_clock(), 3)

    def move_clock(self, request: dict) -> dict:
        if len(request) != 1:
            raise AdminError(400, 'send one of "advance_hours", "advance_seconds" or "set"')
        ((name, value),) = request.items()
        if name == "advance_hours":
            self.clock.advance(_number(name, value) * 3600)
        elif name == "advance_seconds":
            self.clock.advance(_number(name, value))
        elif name == "set":
            self.clock.set(_parse_instant(value))
        else:
            raise AdminError(400, f"unknown clock change {name!r}")
        return self.clock_json()

    # --- faults and quota --------------------------------------------------------------------

    def faults_json(self) -> dict:
        return settings_json(self.faults.settings, self.clock.now())

    def set_faults(self, request: dict) -> dict:
        unknown = set(request) - _FAULT_FIELDS - {"outage_seconds", "outage_mode"}
        if unknown:
            raise AdminError(400, f"unknown fault settings {sorted(unknown)}")
        changes: dict[str, Any] = {
            name: _number(name, request[name]) for name in _FAULT_FIELDS & set(request)
        }
        if "outage_seconds" in request:
            seconds = _number("outage_seconds", request["outage_seconds"])
            changes["outage_until"] = self.clock.now() + seconds if seconds > 0 else None
        if "outage_mode" in request:
            changes["outage_mode"] = str(request["outage_mode"])
        try:
            self.faults.update(**changes)
        except ValueError as error:
            raise AdminError(400, str(error)) from None
        return self.faults_json()

    def clear_faults(self) -> dict:
        self.faults.clear()
        return self.faults_json()

    def set_quota(self, request: dict) -> dict:
        unknown = set(request) - {"per_minute", "burst"}
        if unknown:
            raise AdminError(400, f"unknown quota settings {sorted(unknown)}")
        current = self.quota.settings
        per_minute = _number("per_minute", request.get("per_minute", current.per_minute))
        burst = _number("burst", request.get("burst", current.burst))
        if per_minute < 0 or burst < 1 or burst != int(burst):
            raise AdminError(400, "per_minute must be >= 0 and burst a whole number >= 1")
        self.quota.configure(QuotaSettings(per_minute=per_minute, burst=int(burst)))
        return self.quota.settings.to_json()

    # --- what was served ---------------------------------------------------------------------

    def served_json(self, params: dict[str, str]) -> dict:
        idx = _int_param(params, "idx")
        tokens = self.served.tokens_json()
        totals: dict[str, int] = {}
        for counts in tokens.values():
            for name, count in counts.items():
                totals[name] = totals.get(name, 0) + count
        return {
            "now": utc_iso(self.clock.now()),
            "readings": self.served.readings_json(idx),
            "tokens": tokens,
            "totals": totals,
        }

    def reset(self) -> dict:
        self.served.reset()
        self.quota.refill_all()
        return {"reset": True}

    def set_map(self, request: dict) -> dict:
        unknown = set(request) - {"cap"}
        if unknown or "cap" not in request:
            raise AdminError(400, 'send {"cap": n}: a whole number >= 0 (0: no thinning)')
        cap = _number("cap", request["cap"])
        if cap < 0 or cap != int(cap):
            raise AdminError(400, "cap must be a whole number >= 0 (0: no thinning)")
        self.api.map_cap.set(int(cap))
        return self.api.map_cap.to_json()

    # --- stations ----------------------------------------------------------------------------

    def stations_json(self, params: dict[str, str]) -> dict:
        now = self.clock.now()
        found = self._stations_wanted(params)
        if "present" in params:
            wanted = _boolean_param(params, "present")
            found = [station for station in found if self.api.present(station, now) == wanted]
        limit = _int_param(params, "limit")
        shown = found if limit is None else found[:limit]
        return {"count": len(found), "stations": [self._station_json(s, now) for s in shown]}

    def _stations_wanted(self, params: dict[str, str]) -> list[Station]:
        """Stations by network, status and box (the filters both listings share)."""
        network = params.get("network")
        status = params.get("status")
        if status is not None and status not in STATUSES:
            raise AdminError(400, f"status must be one of {list(STATUSES)}")
        if network is not None and network not in (OFFICIAL, CROWD):
            raise AdminError(400, f"network must be {OFFICIAL!r} or {CROWD!r}")
        wanted = {name: params[name] for name in ("network", "status") if name in params}
        found = stations_of(self.catalogue, **wanted)
        if "bounds" in params:
            south, west, north, east = _bounds_param(params["bounds"])
            found = [
                station
                for station in found
                if south <= station.geo[0] <= north and west <= station.geo[1] <= east
            ]
        return found

    def _station_json(self, station: Station, now: float) -> dict:
        feed = f"/feed/A{-station.idx}/" if station.is_crowd else f"/feed/@{station.idx}/"
        appears_at, vanishes_at = _life_around(self.api.churn.life(station.idx), now)
        return {
            "idx": station.idx,
            "name": station.name,
            "network": station.network,
            "status": station.status,
            "feed": feed,
            "geo": list(station.geo),
            "report_second": station.report_second,
            "hotspot": station.hotspot,
            "lag_seconds": self.api.world.publication.typical_lag(station),
            "map_priority": self.api.map_priority[station.idx],
            "appears_at": None if appears_at is None else utc_iso(appears_at),
            "vanishes_at": None if vanishes_at is None else utc_iso(vanishes_at),
            "present": self.api.present(station, now),
        }

    def change_stations(self, request: dict) -> dict:
        unknown = set(request) - {"vanish", "appear"}
        if unknown or not request:
            raise AdminError(400, 'send {"vanish": [idx, ...]} and/or {"appear": [idx, ...]}')
        changes = {name: _idx_list(self.catalogue, name, request.get(name, [])) for name in request}
        if set(changes.get("vanish", [])) & set(changes.get("appear", [])):
            raise AdminError(400, "a station cannot both vanish and appear")
        now = self.clock.now()
        for idx in changes.get("vanish", []):
            self.api.churn.vanish(idx, now)
        for idx in changes.get("appear", []):
            self.api.churn.appear(idx, now)
        return {"vanished": changes.get("vanish", []), "appeared": changes.get("appear", [])}

    # --- when readings appeared --------------------------------------------------------------

    def available_json(self, params: dict[str, str]) -> dict:
        now, wall = self._now_and_wall()
        begin = _instant_param(params, "from", self.clock.start)
        end = min(_instant_param(params, "to", now), now)
        shape = params.get("format", "runs")
        if shape not in ("runs", "readings"):
            raise AdminError(400, "format must be 'runs' or 'readings'")
        stations = self._stations_wanted(params)
        if "idx" in params:
            wanted = set(_idx_list(self.catalogue, "idx", params["idx"].split(",")))
            stations = [station for station in stations if station.idx in wanted]
        runs = available_runs(self.api.world, self.api.churn, stations, begin, end)
        answer: dict[str, Any] = {
            "from": utc_iso(begin),
            "to": utc_iso(end),
            "count": sum(len(run.lags) for run in runs),
            "stations": len({run.idx for run in runs}),
            "now": utc_iso(now),
            "epoch": now,
            "wall": wall,
            "speed": self.clock.speed,
        }
        if shape == "runs":
            answer["runs"] = [run.to_json() for run in runs]
        else:
            answer["readings"] = [
                {"idx": run.idx, "observed_at": utc_iso(observed), "available_at": utc_iso(at)}
                for run in runs
                for observed, at in run.readings()
            ]
        return answer


def _json_object(body: bytes) -> dict:
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except ValueError as error:
        raise AdminError(400, f"the body is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise AdminError(400, "the body must be a JSON object")
    return value


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AdminError(400, f"{name} must be a number")
    return float(value)


def _int_param(params: dict[str, str], name: str) -> int | None:
    if name not in params:
        return None
    try:
        return int(params[name])
    except ValueError:
        raise AdminError(400, f"{name} must be an integer") from None


def _boolean_param(params: dict[str, str], name: str) -> bool:
    value = params[name].lower()
    if value not in ("true", "false"):
        raise AdminError(400, f"{name} must be true or false")
    return value == "true"


def _instant_param(params: dict[str, str], name: str, default: float) -> float:
    if name not in params:
        return default
    try:
        return parse_instant(params[name])
    except ValueError:
        raise AdminError(
            400, f"{name} must be an ISO 8601 time like 2026-11-23T13:20:00Z"
        ) from None


def _bounds_param(text: str) -> tuple[float, float, float, float]:
    """LAT1,LNG1,LAT2,LNG2 in either corner order, as (south, west, north, east)."""
    try:
        lat1, lng1, lat2, lng2 = (float(part) for part in text.split(","))
    except ValueError:
        raise AdminError(400, "bounds must be four numbers: LAT1,LNG1,LAT2,LNG2") from None
    if not all(math.isfinite(value) for value in (lat1, lng1, lat2, lng2)):
        raise AdminError(400, "bounds must be four finite numbers")
    return min(lat1, lat2), min(lng1, lng2), max(lat1, lat2), max(lng1, lng2)


def _idx_list(catalogue: Catalogue, name: str, values: object) -> list[int]:
    """Station ids the simulator has (a list of ints or of their texts)."""
    if not isinstance(values, list):
        raise AdminError(400, f"{name} must be a list of station ids")
    ids = []
    for value in values:
        try:
            idx = int(value) if not isinstance(value, bool | float) else None
        except (TypeError, ValueError):
            idx = None
        if idx is None:
            raise AdminError(400, f"{name}: {value!r} is not a station id")
        if catalogue.by_idx(idx) is None:
            raise AdminError(400, f"{name}: the simulator has no station {idx}")
        ids.append(idx)
    return ids


def _life_around(life: tuple[Interval, ...], now: float) -> Interval:
    """The presence interval holding `now`, else the next one, else the last one."""
    for began, ended in life:
        if ended is None or now < ended:
            return began, ended
    return life[-1] if life else (None, now)


def _parse_instant(value: object) -> float:
    try:
        return parse_instant(str(value))
    except ValueError:
        raise AdminError(400, f"set must be an ISO 8601 time, not {value!r}") from None
