"""When to fetch what (which stations there are is stations.py's business).

Each line of the stations list resolves to a WAQI station idx the first time it is fetched.
Lines that turn out to be the same station are fetched once, under the first such line.
A station the API does not know is asked again only after a pause, not every cycle.

With `--interval`, every station is fetched every interval (``due``, the fixed way). By
default the scheduler is cadence-aware: it knows every station, listed or discovered on the
map (``bounds:`` and ``world`` lines), with what it has shown so far (cadence.py), and
``plan`` hands out, best first, the requests worth making now:

1. the map tiles discovery still needs (discovery.py), since they find the stations;
2. a feed for each station the map shows a reading for that is newer than the one already
   published: first the changes the map shows after its first look at a station, then the
   backlog of that first look (the readings there when the producer started, or after a
   restart newer than the last published) with the quota left over, so what is new stays
   fresh while the backlog clears; the oldest first within each (replaced soonest);
3. a feed for each station only a feed can show (one not on any map area), once its
   cadence says the next reading should have appeared;
4. a map tile again once the stations in it should together have about SWEEP_NEWS new
   readings (or after MAX_SWEEP_GAP), since one map request shows every one of them.

Everything is in the API's time (clock.py). Pure: no I/O, no clock of its own.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

from aqistream.source.cadence import Cadence
from aqistream.source.discovery import LearnedCap, MapStation, Tile, Tiling, Verdict
from aqistream.source.stations import AreaQuery, StationLine, StationQuery

UNKNOWN_STATION_PAUSE = 3600.0
# A map tile is asked again when its stations should together have this many new readings,
# or this share of its stations, whichever is more (a crowded tile's answer is large).
SWEEP_NEWS = 3
SWEEP_SHARE = 0.01
MIN_SWEEP_GAP = 15.0
MAX_SWEEP_GAP = 600.0
EMPTY_SWEEP_GAP = 3600.0  # a tile without stations, in case one appears
RETRY_AFTER = 60.0  # a request that failed for a passing reason
# A leaf whose map requests failed this many times in a row is "down": its stations are
# then fetched on their cadence, as if listed, until the map answers again.
MAP_DOWN_AFTER = 2
FEED_BEHIND_RETRY = 300.0  # the feed showed an older reading than the map: ask again
FEED_BEHIND_TRIES = 3
# Of the requests handed out while both are waiting, at most this share are feeds the map
# asked for: a backlog of feeds must not keep the map from showing what is new meanwhile.
NEWS_SHARE = 0.8

FEED = "feed"
MAP = "map"
LIVE, BACKLOG = 0, 1  # the classes of news, in the order they are fetched


@dataclass(frozen=True)
class Request:
    """One request to make: a station's feed or a map tile."""

    kind: str  # FEED or MAP
    key: object  # what it is about: a station idx, a line's text, or a Tile
    feed_path: str = ""
    query: str = ""  # the stations.txt line a record of it names
    line: int = 0
    tile: Tile | None = None
    area: str = ""  # the key of the area a tile belongs to
    discovered: bool = False  # a station found on the map, not a line of its own


@dataclass(eq=False)
class Watched:
    """A station the scheduler follows."""

    idx: int
    feed_path: str
    query: str
    line: int
    cadence: Cadence = field(default_factory=Cadence)
    listed: bool = False  # a stations.txt line of its own resolves to it
    tile: Tile | None = None  # the map leaf it is in; None: only feeds show it
    map_observed: int | None = None  # its newest reading according to the map
    # Whether map_observed is what the first look at it showed (the start's backlog).
    first_look: bool = True
    have: int = 0  # observation epoch of the newest reading fetched or published
    asked_for: int | None = None  # the map reading the last feed request was made for
    behind_tries: int = 0
    not_before: float = -math.inf  # API time before which it is not asked again
    look_at: float = math.inf  # when a feed is next due for it, if only a feed shows it

    @property
    def has_news(self) -> bool:
        """Whether the map shows a reading newer than the one fetched or published."""
        seen = self.map_observed
        return seen is not None and seen > self.have and seen != self.asked_for


@dataclass
class _Area:
    query: AreaQuery
    tiling: Tiling
    announced: bool = False  # its discovery has been reported complete


@dataclass
class _Sweep:
    """When a map leaf was last asked, and when it is worth asking again."""

    last: float = -math.inf
    due: float = -math.inf
    failures: int = 0  # in a row


class Scheduler:
    def __init__(self, unknown_station_pause: float = UNKNOWN_STATION_PAUSE):
        self.unknown_station_pause = unknown_station_pause
        self.idx_of: dict[str, int] = {}  # query text -> station idx
        self.queries_of: dict[int, set[str]] = {}  # station idx -> query texts
        self.not_before: dict[str, float] = {}  # query text -> time
        # --- cadence-aware
        self.watched: dict[int, Watched] = {}
        self.listed: dict[str, StationQuery] = {}  # query text -> line, in file order
        self.areas: dict[str, _Area] = {}  # area key -> its tiling
        self.cap = LearnedCap()
        self.sweeps: dict[Tile, _Sweep] = {}  # every leaf of every area
        self.in_flight: set[tuple[str, object]] = set()
        self.published: dict[int, int] = {}  # committed in Kafka: idx -> observation epoch
        # Stations with news: a heap of (BACKLOG or LIVE, map observation, idx).
        self._news: list[tuple[int, int, int]] = []
        # Stations only a feed shows (listed and on no map leaf, or on a leaf that is down):
        # a heap of (API time of the next look, idx), checked again when it comes up.
        self._looks: list[tuple[float, int]] = []
        self._down: set[Tile] = set()  # leaves whose map requests keep failing
        self._tile_retry: dict[Tile, float] = {}  # tiles discovery wants, failed: not before
        self._line_looks: dict[str, float] = {}  # unresolved line -> API time to ask again

    # ================================================================ the fixed way

    def due(self, queries: list[StationQuery], now: float) -> list[StationQuery]:
        """The queries to fetch now: one per known station, plus every unresolved one."""
        chosen: list[StationQuery] = []
        seen_idx: set[int] = set()
        for query in queries:
            if self.not_before.get(query.text, -math.inf) > now:
                continue
            idx = self.idx_of.get(query.text)
            if idx is not None:
                if idx in seen_idx:
                    continue
                seen_idx.add(idx)
            chosen.append(query)
        return chosen

    def resolved(self, query: StationQuery, idx: int) -> list[str]:
        """Remember which station a query fetched.

        Returns the other lines that are the same station, when this line is newly resolved.
        """
        self.not_before.pop(query.text, None)
        known = self.idx_of.get(query.text)
        if known == idx:
            return []
        if known is not None:
            self.queries_of[known].discard(query.text)
        self.idx_of[query.text] = idx
        twins = self.queries_of.setdefault(idx, set())
        others = sorted(twins)
        twins.add(query.text)
        return others

    def unknown(self, query: StationQuery, now: float) -> None:
        """The API does not know this station: leave it alone for a while."""
        self.not_before[query.text] = now + self.unknown_station_pause

    def forget_missing(self, queries: list[StationQuery]) -> None:
        """Drop what we know of lines no longer in the list (edits while running)."""
        present = {query.text for query in queries}
        for text in [text for text in self.idx_of if text not in present]:
            self.queries_of[self.idx_of.pop(text)].discard(text)
        for text in [text for text in self.not_before if text not in present]:
            del self.not_before[text]

    def sweep_requests(self, discovery_only: bool = False) -> list[Request]:
        """A full sweep's map requests: what discovery wants, and (unless discovery_only)
        every leaf."""
        requests = []
        for area in self.areas.values():
            tiles = area.tiling.wanted() + ([] if discovery_only else list(area.tiling.leaves))
            requests += [self._tile_request(area, tile) for tile in dict.fromkeys(tiles)]
        return requests

    def news(self, exclude: set[int]) -> list[Request]:
        """A full sweep's feeds: every station the map shows a new reading of, oldest first,
        and every station of a map tile that is down (the map cannot say)."""
        found = sorted(
            (watched.map_observed or 0, idx)
            for idx, watched in self.watched.items()
            if (watched.has_news or watched.tile in self._down) and idx not in exclude
        )
        return [self._feed_request(self.watched[idx]) for _, idx in found]

    def fed(self, idx: int, observed: int) -> None:
        """A full sweep fetched this station's reading."""
        watched = self.watched.get(idx)
        if watched is not None:
            watched.have = max(watched.have, observed)
            watched.asked_for = watched.map_observed

    # ================================================================ what there is

    def update_lines(self, lines: list[StationLine]) -> None:
        """The stations list as it is now: listed lines and areas (edits while running)."""
        queries = [line for line in lines if isinstance(line, StationQuery)]
        self.forget_missing(queries)
        self.listed = {}
        for query in queries:
            self.listed.setdefault(query.text, query)
        for text in [text for text in self._line_looks if text not in self.listed]:
            del self._line_looks[text]
        areas = [line for line in lines if isinstance(line, AreaQuery)]
        # An area inside another is covered by the larger one's tiles.
        kept = {
            area.key: area
            for area in areas
            if not any(other.box.contains(area.box) and other.key != area.key for other in areas)
        }
        for key in [key for key in self.areas if key not in kept]:
            del self.areas[key]
        for key, area in kept.items():
            if key in self.areas:
                self.areas[key].query = area
            else:
                self.areas[key] = _Area(area, Tiling(area.box, self.cap))
        self._leaves_changed()
        area_of_tile = {
            tile: area.query for area in self.areas.values() for tile in area.tiling.leaves
        }
        area_texts = {area.query.text for area in self.areas.values()}
        for watched in list(self.watched.values()):
            first = self._first_line_of(watched.idx)
            watched.listed = first is not None
            if first is not None:
                watched.feed_path, watched.query, watched.line = (
                    first.feed_path, first.text, first.line,
                )  # fmt: skip
            elif watched.tile in area_of_tile:
                area = area_of_tile[watched.tile]
                watched.feed_path = MapStation(watched.idx, None).feed_path
                watched.query, watched.line = area.text, area.line
            elif watched.query not in area_texts:
                del self.watched[watched.idx]  # found in an area no longer listed
        for watched in self.watched.values():
            self._look_later(watched, -math.inf)

    def _first_line_of(self, idx: int) -> StationQuery | None:
        texts = self.queries_of.get(idx, ())
        lines = [self.listed[text] for text in texts if text in self.listed]
        return min(lines, key=lambda query: query.line) if lines else None

    def _leaves_changed(self) -> None:
        """Keep sweeps for exactly the leaves there are; stations of a tile gone lose it."""
        leaves = {tile for area in self.areas.values() for tile in area.tiling.leaves}
        for tile in [tile for tile in self.sweeps if tile not in leaves]:
            del self.sweeps[tile]
        for watched in self.watched.values():
            if watched.tile is not None and watched.tile not in leaves:
                watched.tile = None

    def restore(self, committed: dict[int, int]) -> None:
        """What Kafka holds as published (station idx -> observation epoch)."""
        self.published = dict(committed)
        for idx, observed in committed.items():
            watched = self.watched.get(idx)
            if watched is not None:
                watched.have = max(watched.have, observed)

    @property
    def discovering(self) -> bool:
        return any(not area.tiling.complete for area in self.areas.values())

    def stations_known(self) -> int:
        unresolved = sum(1 for text in self.listed if text not in self.idx_of)
        return len(self.watched) + unresolved

    # ================================================================ what to ask

    def plan(self, now: float, limit: int) -> list[Request]:
        """Up to `limit` requests worth making now, best first (none already in flight)."""
        chosen: list[Request] = []
        for area in self.areas.values():
            for tile in area.tiling.due_for_check(now):
                area.tiling.recheck(tile)
            for tile in area.tiling.wanted():
                if len(chosen) >= limit:
                    return chosen
                if (MAP, tile) not in self.in_flight and self._tile_retry.get(tile, now) <= now:
                    chosen.append(self._tile_request(area, tile))
                    self.in_flight.add((MAP, tile))
        others = sorted(self._looks_due(now) + self._sweeps_due(now), key=lambda item: item[0])
        room = limit - len(chosen)
        news_room = room if not others else min(room, max(1, math.floor(room * NEWS_SHARE)))
        chosen += self._take_news(now, news_room)
        for when, request in others:
            if len(chosen) < limit:
                chosen.append(request)
                self.in_flight.add((request.kind, request.key))
            elif request.kind == FEED and isinstance(request.key, int):
                heapq.heappush(self._looks, (when, request.key))  # its turn comes next time
        chosen += self._take_news(now, limit - len(chosen))
        return chosen

    def _take_news(self, now: float, count: int) -> list[Request]:
        """Feeds for the stations with news: changes before the first look's backlog, and
        the oldest news first within each."""
        taken: list[Request] = []
        later: list[tuple[int, int, int]] = []
        # A listed line being resolved may be one of these stations, and its records should
        # name its own line: the news waits for the moment that takes.
        if any(self._resolving(text, now) for text in self.listed):
            return taken
        while self._news and len(taken) < count:
            entry = heapq.heappop(self._news)
            if not self._valid_news(*entry):
                continue  # an outdated entry: the station has a newer one, or none
            idx = entry[2]
            watched = self.watched[idx]
            if (FEED, idx) in self.in_flight:
                continue  # back in the heap when its answer comes
            if watched.not_before > now:
                later.append(entry)
                continue
            taken.append(self._feed_request(watched))
            self.in_flight.add((FEED, idx))
        for entry in later:
            heapq.heappush(self._news, entry)
        return taken

    def _resolving(self, text: str, now: float) -> bool:
        """Whether this listed line's station is not known yet and is being asked now."""
        if text in self.idx_of:
            return False
        if (FEED, text) in self.in_flight:
            return True
        when = max(self._line_looks.get(text, -math.inf), self.not_before.get(text, -math.inf))
        return when <= now

    def _valid_news(self, news_class: int, observed: int, idx: int) -> bool:
        watched = self.watched.get(idx)
        return (
            watched is not None
            and watched.has_news
            and watched.map_observed == observed
            and _news_class(watched) == news_class
        )

    def _push_news(self, watched: Watched, observed: int) -> None:
        heapq.heappush(self._news, (_news_class(watched), observed, watched.idx))

    def _looks_due(self, now: float) -> list[tuple[float, Request]]:
        """Feeds a cadence asks for: stations only a feed shows, and lines not yet resolved."""
        due = []
        for query in self.listed.values():
            if query.text in self.idx_of or (FEED, query.text) in self.in_flight:
                continue
            when = max(
                self._line_looks.get(query.text, -math.inf),
                self.not_before.get(query.text, -math.inf),
            )
            if when <= now:
                due.append(
                    (when, Request(FEED, query.text, query.feed_path, query.text, query.line))
                )
        later, taken = [], set()
        while self._looks and self._looks[0][0] <= now:
            when, idx = heapq.heappop(self._looks)
            watched = self.watched.get(idx)
            if watched is None or not self._feed_only(watched) or (FEED, idx) in self.in_flight:
                continue  # back in the heap when its answer comes, or no longer looked at
            if idx in taken or when != watched.look_at:
                continue  # an entry made outdated by a newer one
            taken.add(idx)
            actual = max(watched.not_before, watched.cadence.next_look(now))
            if actual > now:
                watched.look_at = actual
                later.append((actual, idx))
            elif not watched.has_news:
                due.append((when, self._feed_request(watched)))
        for entry in later:
            heapq.heappush(self._looks, entry)
        return due

    def _feed_only(self, watched: Watched) -> bool:
        """Whether only a feed shows this station's next reading (no map leaf, or its
        leaf is down)."""
        if watched.tile is None:
            return watched.listed
        return watched.tile in self._down

    def _look_later(self, watched: Watched, now: float) -> None:
        if self._feed_only(watched):
            watched.look_at = max(watched.not_before, watched.cadence.next_look(now))
            heapq.heappush(self._looks, (watched.look_at, watched.idx))

    def _sweeps_due(self, now: float) -> list[tuple[float, Request]]:
        due = []
        for area in self.areas.values():
            for tile in area.tiling.leaves:
                sweep = self.sweeps.get(tile)
                if sweep is not None and sweep.due <= now and (MAP, tile) not in self.in_flight:
                    due.append((sweep.due, self._tile_request(area, tile)))
        return due

    def _tile_request(self, area: _Area, tile: Tile) -> Request:
        return Request(
            MAP, tile, query=area.query.text, line=area.query.line, tile=tile, area=area.query.key
        )

    def _feed_request(self, watched: Watched) -> Request:
        return Request(
            FEED, watched.idx, watched.feed_path, watched.query, watched.line,
            discovered=not watched.listed,
        )  # fmt: skip

    def next_due(self, now: float) -> float:
        """API time at which something will next be worth asking (now if something is)."""
        wanted = [tile for area in self.areas.values() for tile in area.tiling.wanted()]
        if any(tile not in self._tile_retry for tile in wanted):
            return now
        times = [sweep.due for sweep in self.sweeps.values()]
        while self._news and not self._valid_news(*self._news[0]):
            heapq.heappop(self._news)
        # The heap is ordered by class and observation, not by when each may be asked: a
        # look at its first entries is enough, since only a few ever wait.
        times += [
            self.watched[entry[2]].not_before
            for entry in self._news[:200]
            if self._valid_news(*entry) and (FEED, entry[2]) not in self.in_flight
        ]
        for query in self.listed.values():
            if query.text not in self.idx_of:
                times.append(
                    max(
                        self._line_looks.get(query.text, -math.inf),
                        self.not_before.get(query.text, -math.inf),
                    )
                )
        if self._looks:
            times.append(self._looks[0][0])
        times += list(self._tile_retry.values())
        return max(now, min(times)) if times else now + MAX_SWEEP_GAP

    # ================================================================ answers

    def map_answered(self, request: Request, stations: list[MapStation], now: float) -> Verdict:
        """A tile's answer: what discovery makes of it, and which stations have news."""
        self.in_flight.discard((MAP, request.key))
        self._tile_retry.pop(request.tile, None)
        if request.tile in self._down:
            self._down.discard(request.tile)  # back: the map shows its stations again
        area = self.areas.get(request.area)
        if area is None:  # its line was removed meanwhile
            return Verdict()
        tile, tiling = request.tile, area.tiling
        before = tiling.leaves[tile].uids if tile in tiling.leaves else None
        leaves_before = len(tiling.leaves)
        verdict = tiling.answered(tile, stations, now)
        for station in stations:
            self._seen_on_map(station, area.query, now)
        if verdict != Verdict() or len(tiling.leaves) != leaves_before:
            self._leaves_changed()
        for leaf, contents in tiling.leaves.items():
            if leaf not in self.sweeps:
                # A new leaf: its stations are in it, and the answers that proved it complete
                # were just taken, so it counts as swept now.
                self.sweeps[leaf] = _Sweep()
                self._home(contents.uids, leaf)
                self._swept(leaf, contents.uids, now)
        if tile in tiling.leaves and before is not None:
            uids = tiling.leaves[tile].uids
            self._home(uids, tile)
            # A complete tile no longer listing a station: it vanished from WAQI.
            for uid in before - uids:
                watched = self.watched.get(uid)
                if watched is not None and watched.tile == tile:
                    self._lost_from_map(watched)
            self._swept(tile, uids, now)
        return verdict

    def _seen_on_map(self, station: MapStation, area: AreaQuery, now: float) -> None:
        watched = self.watched.get(station.uid)
        if watched is None:
            watched = Watched(station.uid, station.feed_path, area.text, area.line)
            watched.have = self.published.get(station.uid, 0)
            self.watched[station.uid] = watched
        if station.observed is None:
            return
        watched.cadence.looked(station.observed, now)
        if watched.map_observed is None or station.observed > watched.map_observed:
            watched.first_look = watched.map_observed is None
            watched.map_observed = station.observed
            watched.behind_tries = 0
            if watched.has_news:
                self._push_news(watched, station.observed)

    def _home(self, uids: frozenset[int], tile: Tile) -> None:
        for uid in uids:
            watched = self.watched.get(uid)
            if watched is not None and watched.tile != tile:
                watched.tile = tile

    def _lost_from_map(self, watched: Watched) -> None:
        if watched.listed:
            watched.tile = None  # its own line keeps it: feeds only from now on
            self._look_later(watched, -math.inf)
        else:
            del self.watched[watched.idx]  # vanished: it costs nothing more

    def _swept(self, tile: Tile, uids: frozenset[int], now: float) -> None:
        """When this leaf is next worth asking: once its stations should together have
        shown enough new readings."""
        sweep = self.sweeps[tile]
        sweep.last = now
        sweep.failures = 0
        if not uids:
            sweep.due = now + EMPTY_SWEEP_GAP
            return
        enough = max(SWEEP_NEWS, math.ceil(SWEEP_SHARE * len(uids)))
        looks = (self.watched[uid].cadence.next_look(now) for uid in uids if uid in self.watched)
        soonest = heapq.nsmallest(enough, looks)
        wanted_at = soonest[-1] if len(soonest) == enough else now + MAX_SWEEP_GAP
        sweep.due = min(now + MAX_SWEEP_GAP, max(now + MIN_SWEEP_GAP, wanted_at))

    def map_failed(self, request: Request, now: float) -> None:
        """A tile's request failed (retries included): it is asked again later, less often
        the longer it fails; a leaf that keeps failing is down, and the stations in it are
        fetched on their cadence meanwhile."""
        self.in_flight.discard((MAP, request.key))
        tile = request.tile
        sweep = self.sweeps.get(tile)
        if sweep is None:
            failed_before = self._tile_retry.get(tile)
            self._tile_retry[tile] = now + RETRY_AFTER * (2 if failed_before else 1)
            return
        sweep.failures += 1
        sweep.due = now + min(MAX_SWEEP_GAP, RETRY_AFTER * 2 ** (sweep.failures - 1))
        if sweep.failures >= MAP_DOWN_AFTER and tile not in self._down:
            self._down.add(tile)
            for watched in self.watched.values():
                if watched.tile == tile:
                    self._look_later(watched, now)

    def feed_answered(
        self, request: Request, idx: int, observed: int | None, now: float
    ) -> list[str]:
        """A feed's answer (observed: its reading's epoch, None if unusable). Returns the
        other lines that are the same station, when a line is newly resolved."""
        self.in_flight.discard((FEED, request.key))
        twins: list[str] = []
        if not request.discovered and request.query in self.listed:
            twins = self.resolved(self.listed[request.query], idx)
            self._line_looks.pop(request.query, None)
            watched = self.watched.get(idx)
            if watched is None:
                watched = Watched(idx, request.feed_path, request.query, request.line)
                watched.have = self.published.get(idx, 0)
                self.watched[idx] = watched
            if not watched.listed or request.line < watched.line:
                # The first line naming a station is the one its records show.
                watched.feed_path, watched.query, watched.line = (
                    request.feed_path, request.query, request.line,
                )  # fmt: skip
            watched.listed = True
        watched = self.watched.get(idx)
        if watched is None:
            return twins
        asked_for = watched.map_observed
        if self._feed_only(watched):
            watched.cadence.looked(observed, now)
        if observed is not None:
            watched.have = max(watched.have, observed)
        # (A feed without a usable time is not asked again until the map changes.)
        behind = asked_for is not None and observed is not None and observed < asked_for
        if behind and watched.behind_tries < FEED_BEHIND_TRIES:
            # The map showed a newer reading than the feed has yet: ask again in a while.
            watched.behind_tries += 1
            watched.not_before = now + FEED_BEHIND_RETRY
            self._push_news(watched, asked_for)
        else:
            watched.asked_for = asked_for
        self._look_later(watched, now)
        return twins

    def feed_failed(self, request: Request, now: float, unknown: bool) -> None:
        """A feed failed: for a passing reason, or because the API does not know it."""
        self.in_flight.discard((FEED, request.key))
        if isinstance(request.key, str):  # a line not resolved yet
            if unknown:
                self.not_before[request.key] = now + self.unknown_station_pause
            else:
                self._line_looks[request.key] = now + RETRY_AFTER
            return
        watched = self.watched.get(request.key)
        if watched is None:
            return
        if unknown and not watched.listed:
            self.watched.pop(watched.idx)  # vanished from WAQI: it costs nothing more
            return
        watched.not_before = now + (self.unknown_station_pause if unknown else RETRY_AFTER)
        if watched.has_news:
            self._push_news(watched, watched.map_observed)
        self._look_later(watched, now)

    # ================================================================ progress

    def discovery_progress(self) -> list[tuple[AreaQuery, int, int, bool]]:
        """(area, tiles asked, stations found, complete) for each area."""
        return [
            (area.query, area.tiling.requests, len(area.tiling.stations()), area.tiling.complete)
            for area in self.areas.values()
            if not area.announced  # later checks of a tile are no news to a person
        ]

    def newly_complete(self) -> list[tuple[AreaQuery, int, int, int]]:
        """Areas whose discovery has just completed: (area, leaves, requests, stations)."""
        done = []
        for area in self.areas.values():
            tiling = area.tiling
            if tiling.complete and not area.announced:
                area.announced = True
                done.append(
                    (area.query, len(tiling.leaves), tiling.requests, len(tiling.stations()))
                )
        return done


def _news_class(watched: Watched) -> int:
    return BACKLOG if watched.first_look else LIVE
