"""Finding every station of an area on WAQI's map, and what a map answer says changed (pure).

``/v2/map/bounds`` lists the stations inside a box with each one's latest observation time,
but a crowded box comes back *thinned*: only some of its stations, and WAQI documents
neither that nor how many it keeps (a whole-world answer holds about 1,250 of more than
10,000). So an area is covered by a quadtree of tiles. The rule that tells a thinned tile,
whatever the cap is and however it changes: a tile whose four quarters together hold more
stations than the tile itself returned was thinned, and is replaced by its quarters; a tile
whose quarters hold no more is complete and becomes a leaf. Proving a leaf complete costs
its four quarters once; afterwards one request per leaf shows every station in it.

Leaves are kept between sweeps, and checked again when they grow close to the most a tile
was ever seen to return when thinned (the learned cap), or after RECHECK_AFTER, so a leaf
that new stations fill up is split before it loses any. This module only decides which
tiles to ask and what their answers mean; when to ask is the scheduler's business.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from aqistream.source.stations import Box

# A tile smaller than this is not split: stations stacked on one spot cannot be told
# apart by boxes, and WAQI's coordinates have about four decimals.
MIN_TILE_DEGREES = 1 / 256
# A leaf holding this share of the smallest answer ever proven thinned is split before
# it reaches that size: the cap varies a little from box to box and hour to hour.
SPLIT_SHARE = 0.85
# Every leaf is proven complete again this often (API seconds), in case the cap shrank.
RECHECK_AFTER = 6 * 3600.0


@dataclass(frozen=True)
class Tile:
    """One box of the quadtree; depth 0 is the area itself."""

    box: Box
    depth: int = 0

    def quarters(self) -> tuple[Tile, Tile, Tile, Tile]:
        box = self.box
        middle_lat = (box.south + box.north) / 2
        middle_lng = (box.west + box.east) / 2
        depth = self.depth + 1
        return (
            Tile(Box(box.south, box.west, middle_lat, middle_lng), depth),
            Tile(Box(box.south, middle_lng, middle_lat, box.east), depth),
            Tile(Box(middle_lat, box.west, box.north, middle_lng), depth),
            Tile(Box(middle_lat, middle_lng, box.north, box.east), depth),
        )

    @property
    def splittable(self) -> bool:
        box = self.box
        return min(box.north - box.south, box.east - box.west) / 2 >= MIN_TILE_DEGREES

    def __str__(self) -> str:
        return str(self.box)


class MapStation(NamedTuple):
    """One item of a map answer: a station and the time of its latest reading (a tuple:
    a sweep of the world makes a hundred thousand of them an hour)."""

    uid: int
    observed: int | None  # true UTC epoch seconds of station.time; None if unreadable

    @property
    def feed_path(self) -> str:
        # Crowd stations have negative uids and are fetched as A<n> (API.md section 10).
        return f"A{-self.uid}" if self.uid < 0 else f"@{self.uid}"


MAP_TIME_CACHE = 10_000  # parsed station.time strings kept at most


def map_stations(items: Iterable, times: dict[str, int | None] | None = None) -> list[MapStation]:
    """The stations of a map answer's `data`; items without a usable uid are skipped.

    `times` caches parsed station.time strings: a sweep sees the same ones again and again.
    """
    cache = {} if times is None else times
    stations = []
    for item in items:
        if not isinstance(item, dict):
            continue
        uid = item.get("uid")
        if type(uid) is not int or uid == 0:
            continue
        station = item.get("station")
        text = station.get("time") if isinstance(station, dict) else None
        if not isinstance(text, str):
            stations.append(MapStation(uid, None))
            continue
        observed = cache.get(text, -1)
        if observed == -1:
            if len(cache) >= MAP_TIME_CACHE:
                cache.clear()  # times that carry seconds would otherwise grow it for ever
            observed = cache[text] = _epoch(text)
        stations.append(MapStation(uid, observed))
    return stations


def _epoch(text: str) -> int | None:
    """station.time is an absolute instant written in +09:00 (API.md section 6)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:  # not the documented form: its zone cannot be guessed
        return None
    return int(moment.timestamp())


class LearnedCap:
    """The fewest stations any tile was proven thinned at: WAQI's cap, as far as seen.

    Shared by every area's tiling, since the cap is the API's, not an area's.
    """

    def __init__(self) -> None:
        self.floor: int | None = None

    def thinned_at(self, count: int) -> None:
        self.floor = count if self.floor is None else min(self.floor, count)

    def near(self, count: int) -> bool:
        """Whether a tile holding `count` stations is close enough to the cap to split."""
        return self.floor is not None and count >= SPLIT_SHARE * self.floor


@dataclass
class Leaf:
    """A tile proven complete: its answer lists every station inside it."""

    uids: frozenset[int]
    checked_at: float  # API time it was last proven complete


@dataclass
class _Check:
    """A tile answered, waiting for its quarters' answers to tell whether it was thinned."""

    uids: frozenset[int]
    quarters: dict[Tile, frozenset[int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """What an answer did to the tiling, for the progress log."""

    thinned: Tile | None = None  # this tile was found thinned and split
    leaf: Tile | None = None  # this tile became a leaf
    too_small: Tile | None = None  # thinned, yet too small to split: some stations missed


class Tiling:
    """The quadtree of tiles that covers one area, built and kept up from map answers.

    ``wanted()`` lists the tiles whose answers discovery still needs (first the area, then
    the quarters that prove or disprove thinning); ``leaves`` are the tiles a sweep asks.
    Feed every answer of a tile (wanted or swept) to ``answered()``.
    """

    def __init__(self, box: Box, cap: LearnedCap | None = None) -> None:
        self.root = Tile(box)
        self.cap = cap or LearnedCap()
        self.leaves: dict[Tile, Leaf] = {}
        self._ask: set[Tile] = {self.root}  # tiles whose own answer is needed
        self._checks: dict[Tile, _Check] = {}  # tile -> its pending thinning check
        self._parent: dict[Tile, Tile] = {}  # quarter -> the tile being checked
        # tile being checked -> (the larger tile whose verdict it decides, since that one's
        # other quarters are empty; and those empty tiles)
        self._stand_in: dict[Tile, tuple[Tile, tuple[Tile, ...]]] = {}
        self.requests = 0  # answers taken, for the progress log
        self._floor_seen: int | None = None  # the cap when the leaves were last compared

    # ---------------------------------------------------------------- what to ask

    def wanted(self) -> list[Tile]:
        """Tiles whose answer discovery waits for, largest first."""
        if self.cap.floor != self._floor_seen:
            self._floor_seen = self.cap.floor
            for tile in list(self.leaves):
                self._check_if_near_cap(tile)
        waiting = set(self._ask) | set(self._parent)
        return sorted(waiting, key=lambda tile: (tile.depth, tile.box.south, tile.box.west))

    @property
    def complete(self) -> bool:
        """Whether the area is covered by leaves proven complete (nothing left to ask)."""
        return not self._ask and not self._parent

    def stations(self) -> frozenset[int]:
        """Every station found so far: in the leaves, and in tiles still being checked."""
        found: set[int] = set()
        for leaf in self.leaves.values():
            found |= leaf.uids
        for check in self._checks.values():
            found |= check.uids
            for uids in check.quarters.values():
                found |= uids
        return frozenset(found)

    def due_for_check(self, now: float) -> list[Tile]:
        """Leaves not proven complete for RECHECK_AFTER: start their check again."""
        return [
            tile
            for tile, leaf in self.leaves.items()
            if now - leaf.checked_at >= RECHECK_AFTER
            and tile not in self._checks
            and tile not in self._ask
        ]

    def recheck(self, tile: Tile) -> None:
        """Prove this leaf complete again: its quarters are asked; it stays a leaf meanwhile."""
        if tile in self.leaves and tile not in self._checks and tile.splittable:
            self._ask.add(tile)  # its own answer first: what it holds now is the measure

    # ---------------------------------------------------------------- answers

    def answered(self, tile: Tile, stations: list[MapStation], now: float) -> Verdict:
        """Take a tile's answer; what it decided, if anything."""
        self.requests += 1
        uids = frozenset(station.uid for station in stations)
        verdict = Verdict()
        if tile in self._parent:
            verdict = self._quarter_answered(tile, uids, now)
        if tile in self._ask:
            self._ask.discard(tile)
            if tile in self.leaves:
                self.leaves[tile].uids = uids
            verdict = self._own_answer(tile, uids, now) or verdict
        elif tile in self.leaves:
            verdict = self._swept(tile, uids, now) or verdict
        return verdict

    def _own_answer(self, tile: Tile, uids: frozenset[int], now: float) -> Verdict | None:
        if uids and tile.splittable:
            self._start_check(tile, uids)
            return None
        # Too small to split at the end of a descent that never saw the stations apart:
        # nothing says the larger tile it stands for is thinned, so that one is the leaf.
        stands_for, _ = self._stand_in.pop(tile, (tile, ()))
        return self._make_leaf(stands_for, uids, now)

    def _swept(self, tile: Tile, uids: frozenset[int], now: float) -> Verdict | None:
        self.leaves[tile].uids = uids
        self._check_if_near_cap(tile)
        return None

    def _check_if_near_cap(self, tile: Tile) -> None:
        """A leaf that has filled up (or the cap learned since says it is full) is split."""
        leaf = self.leaves[tile]
        if self.cap.near(len(leaf.uids)) and tile not in self._checks and tile.splittable:
            self._start_check(tile, leaf.uids)

    def _start_check(self, tile: Tile, uids: frozenset[int]) -> None:
        self._checks[tile] = _Check(uids)
        for quarter in tile.quarters():
            self._parent[quarter] = tile

    def _quarter_answered(self, quarter: Tile, uids: frozenset[int], now: float) -> Verdict:
        parent = self._parent.pop(quarter)
        check = self._checks[parent]
        check.quarters[quarter] = uids
        if len(check.quarters) < 4:
            return Verdict()
        del self._checks[parent]
        stands_for, empty_on_the_way = self._stand_in.pop(parent, (parent, ()))
        together = frozenset().union(*check.quarters.values())
        occupied = [tile for tile, tile_uids in check.quarters.items() if tile_uids]
        empty = tuple(tile for tile, tile_uids in check.quarters.items() if not tile_uids)
        thinned = len(together) > len(check.uids)
        full = self.cap.near(len(check.uids))
        if thinned:
            # More in the parts than in the whole: the tile was thinned.
            self.cap.thinned_at(len(check.uids))
        elif len(occupied) == 1 and self.cap.floor is None and len(check.uids) > 1:
            # One occupied quarter tells nothing (it may be thinned just like the whole),
            # as long as no cap is known that the tile is well under: check the quarter
            # instead. If it proves complete, so is the tile it stands for, which then stays
            # one leaf rather than a trail of empty quarters.
            self._stand_in[occupied[0]] = (stands_for, (*empty_on_the_way, *empty))
            self._own_answer(occupied[0], check.quarters[occupied[0]], now)
            return Verdict()
        elif not full:
            if stands_for != parent:
                self.leaves.pop(parent, None)
            return self._make_leaf(stands_for, check.uids, now)
        # Thinned, or so close to the cap that a little growth or a smaller cap would thin
        # it: its quarters take over, each checked in turn.
        self.leaves.pop(parent, None)
        self.leaves.pop(stands_for, None)
        for tile in empty_on_the_way:
            self.leaves[tile] = Leaf(frozenset(), now)
        for child, child_uids in check.quarters.items():
            self._own_answer(child, child_uids, now)
        return Verdict(thinned=parent if thinned else None)

    def _make_leaf(self, tile: Tile, uids: frozenset[int], now: float) -> Verdict:
        self.leaves[tile] = Leaf(uids, now)
        if uids and not tile.splittable and self.cap.near(len(uids)):
            return Verdict(too_small=tile)
        return Verdict(leaf=tile)
