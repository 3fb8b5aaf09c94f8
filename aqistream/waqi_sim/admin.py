"""The admin endpoint (/admin/...): read and steer the simulator from tests. JSON in and out.

No token is needed, no quota or fault applies. The paths and shapes are documented in the
package docstring (aqistream/waqi_sim/__init__.py) and in `--help`.
"""

from __future__ import annotations

import json
from typing import Any

from aqistream.waqi_sim.catalogue import (
    CROWD,
    OFFICIAL,
    STATUSES,
    Catalogue,
    Station,
    stations_of,
)
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
        catalogue: Catalogue,
        clock: SimulatedClock,
        quota: Quota,
        faults: Faults,
        served: ServedRecord,
    ) -> None:
        self.catalogue = catalogue
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
            ("GET", "/admin/served"): lambda: self.served_json(params),
            ("POST", "/admin/reset"): lambda: self.reset(),
            ("GET", "/admin/stations"): lambda: self.stations_json(params),
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
                "GET /admin/served": "readings served (?idx=N for one station) and requests "
                "per token",
                "POST /admin/reset": "forget what was served and counted, refill all quotas",
                "GET /admin/stations": "stations, ?network=official|crowd&status=...&limit=N",
            }
        }

    # --- clock -------------------------------------------------------------------------------

    def clock_json(self) -> dict:
        now = self.clock.now()
        return {
            "now": utc_iso(now),
            "epoch": now,
            "start": utc_iso(self.clock.start),
            "hour_seconds": self.clock.hour_seconds,
            "speed": self.clock.speed,
        }

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

    def stations_json(self, params: dict[str, str]) -> dict:
        network = params.get("network")
        status = params.get("status")
        if status is not None and status not in STATUSES:
            raise AdminError(400, f"status must be one of {list(STATUSES)}")
        if network is not None and network not in (OFFICIAL, CROWD):
            raise AdminError(400, f"network must be {OFFICIAL!r} or {CROWD!r}")
        limit = _int_param(params, "limit")
        wanted = {name: params[name] for name in ("network", "status") if name in params}
        found = stations_of(self.catalogue, **wanted)
        shown = found if limit is None else found[:limit]
        return {"count": len(found), "stations": [_station_json(s) for s in shown]}


def _station_json(station: Station) -> dict:
    feed = f"/feed/A{-station.idx}/" if station.is_crowd else f"/feed/@{station.idx}/"
    return {
        "idx": station.idx,
        "name": station.name,
        "network": station.network,
        "status": station.status,
        "feed": feed,
        "geo": list(station.geo),
        "report_second": station.report_second,
        "hotspot": station.hotspot,
    }


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


def _parse_instant(value: object) -> float:
    try:
        return parse_instant(str(value))
    except ValueError:
        raise AdminError(400, f"set must be an ISO 8601 time, not {value!r}") from None
