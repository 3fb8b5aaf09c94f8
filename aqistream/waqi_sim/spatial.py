"""A grid index over the stations: those in a box, highest map priority first, cheaply.

A map/bounds tile over 30,000 stations must not look at all of them. Stations sit in
1-degree cells, each sorted by priority; a box query merges the cells it touches (checking
coordinates only in cells it covers partly), lazily, so taking the first N of a thinned
answer costs about N steps.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Iterator

from aqistream.waqi_sim.catalogue import Station

CELL_DEGREES = 1.0

Box = tuple[float, float, float, float]  # south, west, north, east (inclusive)


class GridIndex:
    def __init__(self, stations: Iterable[tuple[Station, float]]) -> None:
        """`stations`: (station, priority) pairs."""
        cells: dict[tuple[int, int], list[tuple[float, int, Station]]] = {}
        for station, priority in stations:
            lat, lng = station.geo
            cells.setdefault(_cell(lat, lng), []).append((-priority, station.idx, station))
        for entries in cells.values():
            entries.sort()
        self._cells = cells

    def in_box(self, box: Box) -> Iterator[Station]:
        """Stations with south <= lat <= north and west <= lng <= east, by priority."""
        south, west, north, east = box
        if not (south <= north and west <= east):  # NaN corners hold nothing
            return iter(())
        low = _cell(max(south, -90.0), max(west, -180.0))
        high = _cell(min(north, 90.0), min(east, 180.0))
        rows, columns = high[0] - low[0] + 1, high[1] - low[1] + 1
        if rows <= 0 or columns <= 0:
            return iter(())
        if rows * columns <= len(self._cells):
            touched = (
                (row, column)
                for row in range(low[0], high[0] + 1)
                for column in range(low[1], high[1] + 1)
                if (row, column) in self._cells
            )
        else:
            touched = (
                cell
                for cell in self._cells
                if low[0] <= cell[0] <= high[0] and low[1] <= cell[1] <= high[1]
            )
        streams = []
        for cell in touched:
            entries = self._cells[cell]
            if _covers(box, cell):
                streams.append(entries)
            else:
                streams.append(
                    [
                        entry
                        for entry in entries
                        if south <= entry[2].geo[0] <= north and west <= entry[2].geo[1] <= east
                    ]
                )
        return (entry[2] for entry in heapq.merge(*streams))


def _cell(lat: float, lng: float) -> tuple[int, int]:
    return math.floor(lat / CELL_DEGREES), math.floor(lng / CELL_DEGREES)


def _covers(box: Box, cell: tuple[int, int]) -> bool:
    south, west, north, east = box
    row, column = cell
    return (
        south <= row * CELL_DEGREES
        and (row + 1) * CELL_DEGREES <= north
        and west <= column * CELL_DEGREES
        and (column + 1) * CELL_DEGREES <= east
    )
