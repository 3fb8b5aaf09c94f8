import logging
import os
from pathlib import Path

import pytest

from aqistream.source.stations import (
    WORLD,
    AreaQuery,
    Box,
    StationList,
    StationQuery,
    StationsError,
    find_duplicates,
    parse_stations,
    read_stations,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
ACCEPTED = "expected a city name, @idx, A<id>, geo:lat;lng, bounds:lat1,lng1,lat2,lng2 or world"


def feed_paths(text: str) -> list[str]:
    return [station.feed_path for station in parse_stations(text, "stations.txt")]


def write(path: Path, text: str | bytes, mtime_ns: int) -> None:
    """Replace the file's content and set its mtime explicitly, so no test waits for a clock."""
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    os.utime(path, ns=(mtime_ns, mtime_ns))


# --- line forms ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "feed_path"),
    [
        ("zurich", "zurich"),
        ("st. gallen", "st. gallen"),
        ("saint-gallen", "saint-gallen"),
        ("netherland/utrecht/griftpark", "netherland/utrecht/griftpark"),
        ("Zürich", "Zürich"),
        ("here", "here"),
        ("@5419", "@5419"),
        ("@05419", "@5419"),
        ("A123946", "A123946"),
        ("a123946", "A123946"),
        ("@-123946", "A123946"),
        ("geo:47.37;8.54", "geo:47.37;8.54"),
        ("geo:-33.87;-151.21", "geo:-33.87;-151.21"),
        ("geo: 47.37 ; 8.54", "geo:47.37;8.54"),
        ("GEO:47;8", "geo:47;8"),
        ("geo:90;180", "geo:90;180"),
        ("geo:-90;-180", "geo:-90;-180"),
    ],
)
def test_each_line_form_gives_its_feed_path(line: str, feed_path: str) -> None:
    assert feed_paths(line) == [feed_path]


def test_query_keeps_the_line_as_written_and_its_number() -> None:
    text = "# header\n\n  @-123946   # crowd sensor\nzurich\n"
    assert parse_stations(text, "stations.txt") == [
        StationQuery(text="@-123946", line=3, feed_path="A123946"),
        StationQuery(text="zurich", line=4, feed_path="zurich"),
    ]


def test_comments_blank_lines_and_whitespace_are_ignored() -> None:
    text = "# whole-line comment\n\n   \nzurich  # the old town\n\t bern\t\n   # indented comment\n"
    assert feed_paths(text) == ["zurich", "bern"]


def test_windows_line_endings_and_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "stations.txt"
    path.write_bytes(b"\xef\xbb\xbfzurich\r\n# note\r\nbern\r\n")
    stations = read_stations(path)
    assert [(s.text, s.line) for s in stations] == [("zurich", 1), ("bern", 3)]


@pytest.mark.parametrize(
    ("line", "feed_path"),
    [("Aarau", "Aarau"), ("Amsterdam", "Amsterdam"), ("A123", "A123"), ("A12b", "A12b")],
)
def test_only_a_followed_by_digits_is_a_crowd_station(line: str, feed_path: str) -> None:
    assert feed_paths(line) == [feed_path]


def test_duplicates_are_kept_and_can_be_listed() -> None:
    stations = parse_stations("zurich\n@-123946\nbern\nzurich\nA123946\n", "stations.txt")
    assert len(stations) == 5
    pairs = [(repeat.line, first.line) for repeat, first in find_duplicates(stations)]
    assert pairs == [(4, 1), (5, 2)]


# --- areas: bounds: and world ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "box"),
    [
        ("bounds:45.8,5.9,47.9,10.5", Box(45.8, 5.9, 47.9, 10.5)),
        ("bounds:47.9,10.5,45.8,5.9", Box(45.8, 5.9, 47.9, 10.5)),  # the other two corners
        ("bounds:47.9,5.9,45.8,10.5", Box(45.8, 5.9, 47.9, 10.5)),  # north-west, south-east
        ("BOUNDS: -34 , 150 , -33.5 , 151.5", Box(-34, 150, -33.5, 151.5)),
        ("bounds:-90,-180,90,180", WORLD),
        ("world", WORLD),
        ("World", WORLD),
    ],
)
def test_an_area_line_is_a_box_of_two_corners(line: str, box: Box) -> None:
    assert parse_stations(f"zurich\n{line}  # an area\n", "stations.txt") == [
        StationQuery(text="zurich", line=1, feed_path="zurich"),
        AreaQuery(text=line, line=2, box=box),
    ]


def test_the_same_area_written_twice_is_a_duplicate() -> None:
    lines = parse_stations("bounds:1,2,3,4\nzurich\nbounds:3,4,1,2\nworld\n", "stations.txt")
    pairs = [(repeat.line, first.line) for repeat, first in find_duplicates(lines)]
    assert pairs == [(3, 1)]
    assert str(lines[0].box) == "1,2,3,4"  # the order WAQI's map/bounds takes


def test_only_the_word_alone_is_the_world() -> None:
    assert parse_stations("world wide\n", "stations.txt") == [
        StationQuery("world wide", 1, "world wide")  # a name, as WAQI may know one
    ]


def test_a_box_knows_which_boxes_it_holds() -> None:
    swiss = Box(45.8, 5.9, 47.9, 10.5)
    assert WORLD.contains(swiss)
    assert swiss.contains(Box(46, 6, 47, 7))
    assert not swiss.contains(Box(46, 6, 48, 7))


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("bounds:45.8,5.9,47.9", "write a box as bounds:lat1,lng1,lat2,lng2"),
        ("bounds:45.8;5.9;47.9;10.5", "write a box as bounds:lat1,lng1,lat2,lng2"),
        ("bounds:", "write a box as bounds:lat1,lng1,lat2,lng2"),
        ("bounds:1,2,3,4,5", "write a box as bounds:lat1,lng1,lat2,lng2"),
        ("bounds:91,5,47,10", "latitude must be between -90 and 90"),
        ("bounds:45,5,47,-181", "longitude must be between -180 and 180"),
        ("bounds:45,east,47,10", "longitude 'east' is not a decimal number"),
        ("bounds:lol,5,47,10", "latitude 'lol' is not a decimal number"),
        ("bounds:nan,5,47,10", "latitude 'nan' is not a decimal number"),
        ("bounds:45,5,45,10", "the two corners must differ in both latitude and longitude"),
        ("bounds:45,5,47,5", "the two corners must differ in both latitude and longitude"),
    ],
)
def test_a_malformed_area_is_rejected_with_its_location(line: str, problem: str) -> None:
    with pytest.raises(StationsError) as error:
        parse_stations(f"zurich\n{line}\n", "my/stations.txt")
    message = str(error.value)
    assert message.startswith(f"my/stations.txt:2: {line!r} is not a valid line: ")
    assert problem in message


# --- rejected lines ------------------------------------------------------------------------


def test_rejection_names_file_line_problem_and_accepted_forms() -> None:
    text = "zurich\n# comment\n\ngeo:91;8\n"
    with pytest.raises(StationsError) as error:
        parse_stations(text, "stations.txt")
    assert str(error.value) == (
        "stations.txt:4: 'geo:91;8' is not a valid line: latitude must be between -90 and 90 "
        f"({ACCEPTED})"
    )


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("geo:91;8", "latitude must be between -90 and 90"),
        ("geo:-90.5;8", "latitude must be between -90 and 90"),
        ("geo:47;181", "longitude must be between -180 and 180"),
        ("geo:47.37,8.54", "separated by ';'"),
        ("geo:47.37", "separated by ';'"),
        ("geo:1;2;3", "separated by ';'"),
        ("geo:abc;8", "latitude 'abc' is not a decimal number"),
        ("geo:47;", "longitude '' is not a decimal number"),
        ("geo:nan;nan", "latitude 'nan' is not a decimal number"),
        ("geo:1e3;8", "latitude '1e3' is not a decimal number"),
        ("@abc", "@ followed by a whole number"),
        ("@12.5", "@ followed by a whole number"),
        ("@", "@ followed by a whole number"),
        ("@ 5419", "@ followed by a whole number"),
        ("@0", "greater than 0"),
        ("A0", "greater than 0"),
        ("what?", "cannot contain '?'"),
        ("zur%69ch", "cannot contain '%'"),
        ("zurich;bern", "cannot contain ';'"),
        ("netherland\\utrecht", "cannot contain '\\\\'"),
        ("zu\x01rich", "cannot contain '\\x01'"),
        ("zu\x00rich", "cannot contain '\\x00'"),
        ("zu\x1b[31mrich", "cannot contain '\\x1b'"),
        ("zu\u200brich", "cannot contain '\\u200b'"),
        ("netherland//utrecht", "cannot have empty parts"),
        ("/london", "cannot have empty parts"),
        ("london/", "cannot have empty parts"),
        ("a/../b", "cannot have empty parts"),
        ("x" * 201, "longer than 200 characters"),
    ],
)
def test_invalid_line_is_rejected_with_its_location(line: str, problem: str) -> None:
    with pytest.raises(StationsError) as error:
        parse_stations(f"zurich\n{line}\n", "my/stations.txt")
    message = str(error.value)
    assert message.startswith("my/stations.txt:2: ")
    assert problem in message
    assert message.endswith(f"({ACCEPTED})")


def test_a_line_of_exactly_200_characters_is_accepted() -> None:
    assert feed_paths("x" * 200) == ["x" * 200]


def test_a_long_comment_is_not_a_long_line() -> None:
    assert feed_paths("zurich  # " + "y" * 500) == ["zurich"]


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n   # another\n\n"])
def test_no_stations_is_an_error(text: str) -> None:
    with pytest.raises(StationsError) as error:
        parse_stations(text, "stations.txt")
    assert str(error.value) == (
        "stations.txt: no stations listed (add one per line, e.g. zurich or @5419)"
    )


# --- reading the file ----------------------------------------------------------------------


def test_shipped_stations_file_lists_the_nine_swiss_cities() -> None:
    stations = read_stations(REPO_ROOT / "stations.txt")
    assert [station.feed_path for station in stations] == [
        "zurich",
        "geneva",
        "basel",
        "lausanne",
        "bern",
        "winterthur",
        "saint-gallen",
        "lugano",
        "neuchatel",
    ]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.txt"
    with pytest.raises(StationsError, match=r"nope\.txt: file not found"):
        read_stations(path)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(StationsError, match="is a directory"):
        read_stations(tmp_path)


def test_binary_garbage_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "stations.txt"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(StationsError) as error:
        read_stations(path)
    assert str(error.value).startswith(f"{path}: contains NUL bytes")


def test_text_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "stations.txt"
    path.write_bytes("zurich\nz\u00fcrich\n".encode("latin-1"))
    with pytest.raises(StationsError) as error:
        read_stations(path)
    assert str(error.value) == (
        f"{path}: not UTF-8 text (invalid byte 0xfc at offset 8); save it as UTF-8"
    )


def test_empty_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "stations.txt"
    path.write_bytes(b"")
    with pytest.raises(StationsError, match=r"stations\.txt: no stations listed"):
        read_stations(path)


def test_huge_file_is_refused_without_parsing(tmp_path: Path) -> None:
    path = tmp_path / "stations.txt"
    path.write_bytes(b"zurich\n" * 200_000)
    with pytest.raises(StationsError, match="larger than 1024 KiB"):
        read_stations(path)


def test_error_in_file_names_the_path_and_line(tmp_path: Path) -> None:
    path = tmp_path / "stations.txt"
    path.write_text("zurich\n@bern\n", encoding="utf-8")
    with pytest.raises(StationsError, match=rf"^{path}:2: '@bern' is not a valid line"):
        read_stations(path)


# --- hot reload ----------------------------------------------------------------------------

T0 = 1_700_000_000_000_000_000  # mtime_ns values are set explicitly, one second apart


@pytest.fixture
def log() -> logging.Logger:
    return logging.getLogger("test.stations")


def test_station_list_refuses_an_invalid_file_at_start(tmp_path: Path, log) -> None:
    path = tmp_path / "stations.txt"
    write(path, "geo:91;8\n", T0)
    with pytest.raises(StationsError, match="latitude must be between"):
        StationList(path, log)
    with pytest.raises(StationsError, match="file not found"):
        StationList(tmp_path / "missing.txt", log)


def test_unchanged_file_is_not_read_again(tmp_path: Path, log) -> None:
    path = tmp_path / "stations.txt"
    write(path, "zurich\n", T0)
    stations = StationList(path, log)
    first = stations.current()
    assert stations.current() is first
    assert [s.feed_path for s in first] == ["zurich"]


def test_valid_edit_is_picked_up(tmp_path: Path, log, caplog) -> None:
    path = tmp_path / "stations.txt"
    write(path, "zurich\nbern\n", T0)
    stations = StationList(path, log)
    write(path, "zurich\n@5419\ngeo:47.37;8.54\n", T0 + 1_000_000_000)
    with caplog.at_level(logging.INFO, logger=log.name):
        current = stations.current()
    assert [s.feed_path for s in current] == ["zurich", "@5419", "geo:47.37;8.54"]
    assert caplog.messages == [f"{path}: reloaded, 3 stations (2 added, 1 removed)"]


def test_same_size_edit_is_picked_up_by_mtime(tmp_path: Path, log) -> None:
    path = tmp_path / "stations.txt"
    write(path, "bern\n", T0)
    stations = StationList(path, log)
    write(path, "base\n", T0 + 1)  # same size as "bern\n", one nanosecond later
    assert [s.feed_path for s in stations.current()] == ["base"]


def test_malformed_edit_keeps_previous_list_and_is_logged_once(tmp_path: Path, log, caplog) -> None:
    path = tmp_path / "stations.txt"
    write(path, "zurich\nbern\n", T0)
    stations = StationList(path, log)
    good = stations.current()

    write(path, "zurich\ngeo:91;8\n", T0 + 1_000_000_000)
    with caplog.at_level(logging.INFO, logger=log.name):
        for _ in range(5):
            assert stations.current() == good
        # touching the file without changing it is not a new problem either
        os.utime(path, ns=(T0 + 2_000_000_000, T0 + 2_000_000_000))
        assert stations.current() == good
    assert [record.levelno for record in caplog.records] == [logging.ERROR]
    assert caplog.messages == [
        f"{path}:2: 'geo:91;8' is not a valid line: latitude must be between -90 and 90 "
        f"({ACCEPTED}); "
        "still polling the previous 2 stations until the file is fixed"
    ]

    caplog.clear()
    write(path, "zurich\n@bern\n", T0 + 3_000_000_000)
    with caplog.at_level(logging.INFO, logger=log.name):
        assert stations.current() == good
        assert stations.current() == good
    assert len(caplog.messages) == 1
    assert "'@bern' is not a valid line" in caplog.messages[0]

    caplog.clear()
    write(path, "lugano\n", T0 + 4_000_000_000)
    with caplog.at_level(logging.INFO, logger=log.name):
        assert [s.feed_path for s in stations.current()] == ["lugano"]
    assert caplog.messages == [f"{path}: reloaded, 1 stations (1 added, 2 removed)"]


def test_binary_edit_keeps_previous_list(tmp_path: Path, log, caplog) -> None:
    path = tmp_path / "stations.txt"
    write(path, "zurich\n", T0)
    stations = StationList(path, log)
    write(path, b"\x00\x01\x02garbage", T0 + 1_000_000_000)
    with caplog.at_level(logging.INFO, logger=log.name):
        assert [s.feed_path for s in stations.current()] == ["zurich"]
        stations.current()
    assert len(caplog.messages) == 1
    assert "contains NUL bytes" in caplog.messages[0]


def test_file_removed_then_restored(tmp_path: Path, log, caplog) -> None:
    path = tmp_path / "stations.txt"
    write(path, "zurich\n", T0)
    stations = StationList(path, log)
    path.unlink()
    with caplog.at_level(logging.INFO, logger=log.name):
        assert [s.feed_path for s in stations.current()] == ["zurich"]
        assert [s.feed_path for s in stations.current()] == ["zurich"]
    assert len(caplog.messages) == 1
    assert "file not found" in caplog.messages[0]

    caplog.clear()
    write(path, "zurich\n", T0 + 1_000_000_000)
    with caplog.at_level(logging.INFO, logger=log.name):
        assert [s.feed_path for s in stations.current()] == ["zurich"]
    assert caplog.messages == []  # same content as before: nothing to announce

    write(path, "zurich\nbern\n", T0 + 2_000_000_000)
    assert [s.feed_path for s in stations.current()] == ["zurich", "bern"]
