"""Which stations to poll: parsing and hot-reloading ``stations.txt``.

One station per line, in any of the forms WAQI's ``/feed/`` endpoint accepts:

    zurich                          a city or station name (``netherland/utrecht/griftpark``)
    @5419                           an official station by idx
    A123946                         a crowd (third-party) station; ``@-123946`` means the same
    geo:47.37;8.54                  the nearest station to a point (latitude;longitude)

or a whole area, whose stations are found on WAQI's map (discovery.py):

    bounds:45.8,5.9,47.9,10.5       every station, official and crowd, inside a box (two
                                    opposite corners, latitude,longitude each)
    world                           every station WAQI has

Blank lines and ``#`` comments (whole-line or trailing) are ignored. When to poll is
decided elsewhere (the scheduler); this module only says *what* to poll.
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from dataclasses import dataclass

MAX_LINE_CHARS = 200
# A stations list is a few hundred lines at most; a bigger file is almost certainly the
# wrong path (a log, a dump), and reading it whole on every reload would be wasteful.
MAX_FILE_BYTES = 1024 * 1024

_ACCEPTED = "expected a city name, @idx, A<id>, geo:lat;lng, bounds:lat1,lng1,lat2,lng2 or world"
_EMPTY_HINT = "add one per line, e.g. zurich or @5419"

_STATION_IDX = re.compile(r"@(-?)(\d+)")
_CROWD_ID = re.compile(r"[Aa](\d+)")
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
# Characters that would change what the URL path means: '?' starts the query string, '%'
# an escape, ';' separates geo coordinates, and some servers read '\' as '/'.
_FORBIDDEN_IN_NAME = set("?%;\\")


@dataclass(frozen=True)
class StationQuery:
    """One station line: what was written, where, and what to put after ``/feed/``."""

    text: str
    line: int
    feed_path: str

    @property
    def key(self) -> str:
        """What makes two lines the same request."""
        return self.feed_path


@dataclass(frozen=True)
class Box:
    """A latitude/longitude rectangle, south <= north and west <= east (degrees)."""

    south: float
    west: float
    north: float
    east: float

    def contains(self, other: Box) -> bool:
        return (
            self.south <= other.south
            and self.west <= other.west
            and other.north <= self.north
            and other.east <= self.east
        )

    def __str__(self) -> str:
        # The order WAQI's map/bounds takes: south-west corner, then north-east corner.
        return ",".join(f"{value:g}" for value in (self.south, self.west, self.north, self.east))


WORLD = Box(-90.0, -180.0, 90.0, 180.0)


@dataclass(frozen=True)
class AreaQuery:
    """A ``bounds:`` or ``world`` line: every station inside ``box``, found on the map."""

    text: str
    line: int
    box: Box

    @property
    def key(self) -> str:
        return f"bounds:{self.box}"


StationLine = StationQuery | AreaQuery


class StationsError(ValueError):
    """The stations file is missing, unreadable or has a line we cannot poll."""


def parse_stations(text: str, source: str) -> list[StationLine]:
    """Parse the contents of a stations file; ``source`` names it in error messages."""
    stations = []
    # Split on "\n" only: str.splitlines() also breaks on form feeds and other control
    # characters, which would shift line numbers away from what an editor shows.
    for number, raw_line in enumerate(text.split("\n"), start=1):
        station_text = raw_line.partition("#")[0].strip()
        if not station_text:
            continue
        try:
            stations.append(_parse_line(station_text, number))
        except ValueError as problem:
            shown = station_text if len(station_text) <= 60 else station_text[:57] + "..."
            raise StationsError(
                f"{source}:{number}: {shown!r} is not a valid line: {problem} ({_ACCEPTED})"
            ) from None
    if not stations:
        raise StationsError(f"{source}: no stations listed ({_EMPTY_HINT})")
    return stations


def read_stations(path: str | os.PathLike[str]) -> list[StationLine]:
    """Read and parse a stations file, raising StationsError for any problem with it."""
    source = os.fspath(path)
    return parse_stations(_decode(_read_bytes(path), source), source)


def find_duplicates(stations: list[StationLine]) -> list[tuple[StationLine, StationLine]]:
    """Pairs of (repeated line, first line asking the same), for a warning.

    Only literal repeats are found here; two different lines that resolve to the same
    station idx are only known after fetching, so the producer dedupes those by idx.
    """
    first_by_key: dict[str, StationLine] = {}
    duplicates = []
    for station in stations:
        first = first_by_key.setdefault(station.key, station)
        if first is not station:
            duplicates.append((station, first))
    return duplicates


class StationList:
    """The stations file as seen by a long-running producer, re-read when it changes.

    An edit that breaks the file is logged once and ignored: the producer keeps polling
    the last good list instead of stopping in the middle of the night.
    """

    def __init__(self, path: str | os.PathLike[str], log: logging.Logger) -> None:
        self._path = path
        self.source = os.fspath(path)
        self._log = log
        # (mtime_ns, size) of the file when last read; None while it cannot be read.
        self._stamp: tuple[int, int] | None = self._stat()
        content = _read_bytes(path)
        self._stations = parse_stations(_decode(content, self.source), self.source)
        # The last content looked at, valid or not, so an unchanged file is never re-parsed
        # and a broken edit is reported once rather than on every call.
        self._seen_content = content

    def current(self) -> list[StationLine]:
        """The stations to poll now: the file's if it changed and is valid, else the last good."""
        try:
            # Stat before reading: if the file changes while we read it, the next call sees
            # a different stamp and reads it again.
            stamp = self._stat()
            if stamp == self._stamp:
                return self._stations
            content = _read_bytes(self._path)
        except StationsError as problem:
            # Often a save in progress (the editor renamed the file away): report the first
            # failure only, and read it again whenever it is back.
            if self._stamp is not None:
                self._stamp = None
                self._keep_previous(problem)
            return self._stations
        self._stamp = stamp
        if content == self._seen_content:
            return self._stations
        self._seen_content = content
        try:
            stations = parse_stations(_decode(content, self.source), self.source)
        except StationsError as problem:
            self._keep_previous(problem)
            return self._stations
        self._log_reload(stations)
        self._stations = stations
        return stations

    def _stat(self) -> tuple[int, int]:
        try:
            status = os.stat(self._path)
        except OSError as problem:
            raise StationsError(_os_error_message(self.source, problem)) from None
        return status.st_mtime_ns, status.st_size

    def _keep_previous(self, problem: StationsError) -> None:
        self._log.error(
            "%s; still polling the previous %d stations until the file is fixed",
            problem,
            len(self._stations),
        )

    def _log_reload(self, stations: list[StationLine]) -> None:
        before = {station.key for station in self._stations}
        after = {station.key for station in stations}
        self._log.info(
            "%s: reloaded, %d stations (%d added, %d removed)",
            self.source,
            len(stations),
            len(after - before),
            len(before - after),
        )


def _parse_line(station_text: str, number: int) -> StationLine:
    """One line as a query; ValueError says what is wrong with it."""
    if len(station_text) > MAX_LINE_CHARS:
        raise ValueError(f"longer than {MAX_LINE_CHARS} characters")
    if station_text.lower() == "world":
        return AreaQuery(text=station_text, line=number, box=WORLD)
    if station_text[:7].lower() == "bounds:":
        return AreaQuery(text=station_text, line=number, box=_box(station_text[7:]))
    return StationQuery(text=station_text, line=number, feed_path=_feed_path(station_text))


def _box(corners: str) -> Box:
    parts = [part.strip() for part in corners.split(",")]
    if len(parts) != 4:
        raise ValueError(
            "write a box as bounds:lat1,lng1,lat2,lng2 (two opposite corners), separated by ','"
        )
    lat1, lat2 = (_coordinate("latitude", value, 90) for value in parts[0::2])
    lng1, lng2 = (_coordinate("longitude", value, 180) for value in parts[1::2])
    if lat1 == lat2 or lng1 == lng2:
        raise ValueError("the two corners must differ in both latitude and longitude")
    # A box is the smaller rectangle between its corners: one across the antimeridian is two
    # lines, one on each side.
    return Box(min(lat1, lat2), min(lng1, lng2), max(lat1, lat2), max(lng1, lng2))


def _coordinate(label: str, value: str, limit: int) -> float:
    if not _DECIMAL.fullmatch(value):
        raise ValueError(f"{label} {value!r} is not a decimal number")
    if not -limit <= float(value) <= limit:
        raise ValueError(f"{label} must be between -{limit} and {limit}")
    return float(value)


def _feed_path(station_text: str) -> str:
    """What goes after ``/feed/`` for one station line."""
    if station_text[:4].lower() == "geo:":
        return _geo_path(station_text[4:])
    if station_text.startswith("@"):
        return _idx_path(station_text)
    crowd = _CROWD_ID.fullmatch(station_text)
    if crowd:
        # Only "A" followed by digits is a crowd station: "Aarau" is a city name.
        return f"A{_positive_id(crowd.group(1))}"
    return _name_path(station_text)


def _geo_path(coordinates: str) -> str:
    parts = coordinates.split(";")
    if len(parts) != 2:
        raise ValueError("write coordinates as geo:latitude;longitude, separated by ';'")
    latitude, longitude = (part.strip() for part in parts)
    _coordinate("latitude", latitude, 90)
    _coordinate("longitude", longitude, 180)
    return f"geo:{latitude};{longitude}"


def _idx_path(station_text: str) -> str:
    match = _STATION_IDX.fullmatch(station_text)
    if not match:
        raise ValueError("a station idx is @ followed by a whole number, e.g. @5419")
    negative, digits = match.groups()
    number = _positive_id(digits)
    # WAQI gives crowd stations negative idx values, but only the A<id> form fetches them.
    return f"A{number}" if negative else f"@{number}"


def _positive_id(digits: str) -> int:
    number = int(digits)
    if number == 0:
        raise ValueError("a station id must be greater than 0")
    return number


def _name_path(name: str) -> str:
    for character in name:
        if character in _FORBIDDEN_IN_NAME or unicodedata.category(character) in ("Cc", "Cf"):
            raise ValueError(f"a station name cannot contain {character!r}")
    segments = name.split("/")
    if any(segment.strip() in ("", ".", "..") for segment in segments):
        raise ValueError("a station path like country/city/station cannot have empty parts")
    return name


def _read_bytes(path: str | os.PathLike[str]) -> bytes:
    source = os.fspath(path)
    try:
        with open(path, "rb") as stations_file:
            content = stations_file.read(MAX_FILE_BYTES + 1)
    except OSError as problem:
        raise StationsError(_os_error_message(source, problem)) from None
    if len(content) > MAX_FILE_BYTES:
        raise StationsError(
            f"{source}: larger than {MAX_FILE_BYTES // 1024} KiB, is this the stations list?"
        )
    return content


def _decode(content: bytes, source: str) -> str:
    if b"\x00" in content:
        raise StationsError(
            f"{source}: contains NUL bytes; it looks like a binary file, not a text list "
            f"of stations ({_EMPTY_HINT})"
        )
    try:
        # utf-8-sig: editors on Windows may start the file with a byte-order mark.
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as problem:
        raise StationsError(
            f"{source}: not UTF-8 text (invalid byte 0x{content[problem.start]:02x} at "
            f"offset {problem.start}); save it as UTF-8"
        ) from None


def _os_error_message(source: str, problem: OSError) -> str:
    if isinstance(problem, FileNotFoundError):
        return f"{source}: file not found (create it with one station per line, e.g. zurich)"
    if isinstance(problem, IsADirectoryError):
        return f"{source}: is a directory, not a stations file"
    if isinstance(problem, PermissionError):
        return f"{source}: permission denied (make the file readable by this user)"
    return f"{source}: cannot read the file ({problem.strerror or problem})"
