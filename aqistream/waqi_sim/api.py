"""The WAQI endpoints: from a request target and an instant to a reply. No sockets, no clock.

`parse_target` does what nginx does in front of WAQI (merge `//` with a 301, an HTML 404 for
unknown paths, the JSON `message: 404` for an empty city) and otherwise names the endpoint.
`WaqiApi.answer` then builds the reply for a request whose token and quota are already checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from aqistream.waqi_sim import responses
from aqistream.waqi_sim.catalogue import Catalogue, Station
from aqistream.waqi_sim.churn import Churn
from aqistream.waqi_sim.spatial import GridIndex
from aqistream.waqi_sim.thinning import DEFAULT_MAP_CAP, MapCap, map_priority
from aqistream.waqi_sim.world import Reading, World

JSON_TYPE = "application/json; charset=UTF-8"
HTML_TYPE = "text/html"
SEARCH_LIMIT = 100  # the simulator's choice: a keyword like "a" should not list 20,000 stations

FEED = "feed"
SEARCH = "search"
MAP_BOUNDS = "map_bounds"
MAP_BOUNDS_V2 = "map_bounds_v2"
_ENDPOINTS = {"/search": SEARCH, "/map/bounds": MAP_BOUNDS, "/v2/map/bounds": MAP_BOUNDS_V2}

# Go's strconv.ParseFloat syntax (Python's float() also takes "1_0" and surrounding spaces).
_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)", re.IGNORECASE
)
_A_STATION = re.compile(r"A(\d+)")
_AT_STATION = re.compile(r"@(-?)(\d+)")


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str | None = JSON_TYPE
    location: str | None = None
    # nginx answers some requests itself; only the WAQI app adds X-Powered-By and X-Gen-Time.
    from_app: bool = True
    # (idx, true-UTC observation time) of the feed reading this reply carries, if any.
    served_reading: tuple[int, int] | None = None


@dataclass(frozen=True)
class Request:
    endpoint: str
    argument: str  # what follows /feed/, percent-decoded; "" for other endpoints
    params: dict[str, str] = field(default_factory=dict)

    @property
    def token(self) -> str | None:
        return self.params.get("token")


def query_params(query: str) -> dict[str, str]:
    """First value of each query parameter, blanks kept (`?token=` is an empty token)."""
    return {key: values[0] for key, values in parse_qs(query, keep_blank_values=True).items()}


def parse_target(target: str) -> Request | Reply:
    """Route a request target (path and query) the way api.waqi.info's nginx does."""
    parts = urlsplit(target)
    path, query = parts.path, parts.query
    if "//" in path:
        merged = re.sub(r"/{2,}", "/", path)
        location = merged + (f"?{query}" if query else "")
        return Reply(301, b"", content_type=None, location=location, from_app=False)
    params = query_params(query)
    trimmed = path.rstrip("/")
    if trimmed == "/feed":
        return Reply(200, responses.empty_city_body(), from_app=False)
    if trimmed.startswith("/feed/"):
        return Request(FEED, unquote(trimmed.removeprefix("/feed/")), params)
    if trimmed in _ENDPOINTS:
        return Request(_ENDPOINTS[trimmed], "", params)
    return Reply(404, responses.nginx_page(404), content_type=HTML_TYPE, from_app=False)


class WaqiApi:
    """Answers WAQI requests from the catalogue and the world, caching this hour's bodies."""

    def __init__(
        self,
        catalogue: Catalogue,
        world: World,
        churn: Churn | None = None,
        map_cap: MapCap | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.world = world
        self.churn = churn if churn is not None else Churn()
        self.map_cap = map_cap if map_cap is not None else MapCap(world.seed, DEFAULT_MAP_CAP)
        self.map_priority = {
            station.idx: map_priority(world.seed, station) for station in catalogue.stations
        }
        self.index = GridIndex(
            (station, self.map_priority[station.idx]) for station in catalogue.stations
        )
        # idx -> (observation time, sync time, body): a body is built once per reading.
        self._feed_bodies: dict[int, tuple[int | None, int | None, bytes]] = {}
        # idx -> reading, for search and map items (which show no forecast or sync).
        self._readings: dict[int, Reading] = {}
        # idx -> (time shown, encoded map item)
        self._map_items: dict[int, tuple[int, bytes]] = {}

    def answer(self, request: Request, now: float) -> Reply:
        if request.endpoint == FEED:
            return self._feed(request.argument, now)
        if request.endpoint == SEARCH:
            return self._search(request.params.get("keyword", ""), now)
        official_only = request.endpoint == MAP_BOUNDS or (
            request.params.get("networks") == "official"
        )
        return self._map_bounds(request.params.get("latlng", ""), official_only, now)

    def present(self, station: Station | None, now: float) -> bool:
        """Whether WAQI knows the station at `now` (churn: not yet appeared, or vanished)."""
        return station is not None and self.churn.present(station, now)

    # --- /feed/ ------------------------------------------------------------------------------

    def _feed(self, argument: str, now: float) -> Reply:
        if argument == "here":
            return self.feed_of(self.catalogue.here, now)
        if argument.startswith("geo:"):
            return self._geo(argument.removeprefix("geo:"), now)
        if argument.startswith("@"):
            return self._at_station(argument, now)
        a_station = _A_STATION.fullmatch(argument)
        if a_station:
            station = self.catalogue.by_idx(-int(a_station.group(1)))
            if not self.present(station, now) or not station.is_crowd:
                return Reply(200, responses.error_body(responses.NO_SUCH_STATION))
            return self.feed_of(station, now)
        station = self.catalogue.by_name(argument)
        if not self.present(station, now):
            return Reply(200, responses.error_body(responses.UNKNOWN_STATION))
        return self.feed_of(station, now)

    def _at_station(self, argument: str, now: float) -> Reply:
        """`@5419` finds official stations, `@-123946` crowd ones; `@123946` does not."""
        match = _AT_STATION.fullmatch(argument)
        if match is None:
            return Reply(200, responses.error_body(responses.UNKNOWN_STATION))
        negative, number = match.groups()
        station = self.catalogue.by_idx(-int(number) if negative else int(number))
        if not self.present(station, now):
            return Reply(200, responses.unknown_id_body())
        return self.feed_of(station, now)

    def _geo(self, text: str, now: float) -> Reply:
        parts = text.split(";")
        if len(parts) != 2 or not all(_GO_FLOAT.fullmatch(part) for part in parts):
            return Reply(200, responses.bad_geo_body(",".join(parts)))
        # Out-of-range coordinates (5000;5000, nan;nan) are answered, not rejected.
        lat, lng = (float(part) for part in parts)
        nearest = self.catalogue.nearest_reporting(lat, lng, lambda s: self.present(s, now))
        return self.feed_of(nearest, now)

    def feed_of(self, station: Station, now: float) -> Reply:
        observed = self.world.observed_at(station, now)
        synced = None if station.is_crowd else self.world.synced_at(station, now)
        cached = self._feed_bodies.get(station.idx)
        if cached is not None and cached[0] == observed and cached[1] == synced:
            body = cached[2]
        else:
            reading = self.world.reading(station, now)
            forecast = self.world.forecast(station, now)
            body = responses.ok_body(responses.feed_data(station, reading, forecast, synced))
            self._feed_bodies[station.idx] = (observed, synced, body)
        served = None if observed is None else (station.idx, observed)
        return Reply(200, body, served_reading=served)

    # --- /search/ and /map/bounds/ -----------------------------------------------------------

    def _search(self, keyword: str, now: float) -> Reply:
        found = self.catalogue.search(keyword, SEARCH_LIMIT, lambda s: self.present(s, now))
        items = [responses.search_item(station, *self._listed(station, now)) for station in found]
        return Reply(200, responses.ok_body(items))

    def _map_bounds(self, latlng: str, official_only: bool, now: float) -> Reply:
        parts = latlng.split(",")
        if len(parts) != 4:
            return Reply(200, responses.bad_bounds_body(None))
        for part in parts:
            if not _GO_FLOAT.fullmatch(part):
                return Reply(200, responses.bad_bounds_body(part))
        lat1, lng1, lat2, lng2 = (float(part) for part in parts)
        # Either corner order is answered (API.md section 10).
        box = (min(lat1, lat2), min(lng1, lng2), max(lat1, lat2), max(lng1, lng2))
        limit = self.map_cap.limit(box, now)
        items = []
        for station in self.index.in_box(box):
            if (official_only and station.is_crowd) or not self.churn.present(station, now):
                continue
            items.append(self._map_item(station, now))
            if len(items) == limit:
                break
        return Reply(200, b'{"status":"ok","data":[' + b",".join(items) + b"]}")

    def _map_item(self, station: Station, now: float) -> bytes:
        """One map item, encoded once per reading shown."""
        observed = self.world.observed_at(station, now)
        shown = observed if observed is not None else self.world.frozen_at(station, now)
        cached = self._map_items.get(station.idx)
        if cached is None or cached[0] != shown:
            item = responses.map_item(station, *self._listed(station, now))
            cached = self._map_items[station.idx] = (shown, responses.compact_json(item))
        return cached[1]

    def _listed(self, station: Station, now: float) -> tuple[Reading, int]:
        """The reading and the time a search or map item shows (time-less: when it stopped)."""
        observed = self.world.observed_at(station, now)
        if observed is None:  # values change with every sync: nothing to cache
            return self.world.reading(station, now), self.world.frozen_at(station, now)
        cached = self._readings.get(station.idx)
        if cached is None or cached.observed_at != observed:
            cached = self.world.reading(station, now)
            self._readings[station.idx] = cached
        return cached, observed
