"""When to fetch which station (which stations there are is stations.py's business).

Each line of the stations list resolves to a WAQI station idx the first time it is fetched.
Lines that turn out to be the same station are fetched once, under the first such line.
A station the API does not know is asked again only after a pause, not every cycle.
"""

from __future__ import annotations

from aqistream.source.stations import StationQuery

UNKNOWN_STATION_PAUSE = 3600.0


class Scheduler:
    def __init__(self, unknown_station_pause: float = UNKNOWN_STATION_PAUSE):
        self.unknown_station_pause = unknown_station_pause
        self.idx_of: dict[str, int] = {}  # query text -> station idx
        self.queries_of: dict[int, set[str]] = {}  # station idx -> query texts
        self.not_before: dict[str, float] = {}  # query text -> monotonic time

    def due(self, queries: list[StationQuery], now: float) -> list[StationQuery]:
        """The queries to fetch now: one per known station, plus every unresolved one."""
        chosen: list[StationQuery] = []
        seen_idx: set[int] = set()
        for query in queries:
            if self.not_before.get(query.text, 0.0) > now:
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
