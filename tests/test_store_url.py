"""The --store URL: the forms accepted, the mistakes refused, the password never shown."""

from __future__ import annotations

import pytest

from aqistream.config import ConfigError
from aqistream.store.url import DEFAULT_STORE, parse_store_url


def test_sqlite_urls_relative_and_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert parse_store_url(DEFAULT_STORE).target == "air_quality.db"
    (tmp_path / "data").mkdir()
    assert parse_store_url("sqlite:///data/aq.db").target == "data/aq.db"
    absolute = parse_store_url(f"sqlite:///{tmp_path}/aq.db")
    assert absolute.target == f"{tmp_path}/aq.db" and absolute.dialect == "sqlite"
    assert absolute.shown == f"sqlite:///{tmp_path}/aq.db" and absolute.secrets == ()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("air_quality.db", "is not a database URL"),
        ("config.ini", "CONFIG goes before --store"),
        ("mysql://u:p@h/db", "unknown database scheme 'mysql://'"),
        ("sqlite://air_quality.db", "three slashes"),
        ("sqlite:///", "three slashes"),
        ("sqlite:///no/such/dir/aq.db", "no directory no/such/dir"),
        ("postgresql://u@localhost:notaport/db", "not a valid PostgreSQL URL"),
        ("postgresql://u@localhost", "names no database"),
    ],
)
def test_mistakes_say_what_is_wrong(url, says, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=says):
        parse_store_url(url, environ={})


def test_a_directory_is_not_a_database_file(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"):
        parse_store_url(f"sqlite:///{tmp_path}")


def test_postgresql_urls_hide_the_password_and_list_it_as_a_secret():
    url = parse_store_url("postgresql://aqi:s%40cret-pw@db.example:5433/air?sslmode=require", {})
    assert url.dialect == "postgresql"
    assert url.target == "postgresql://aqi:s%40cret-pw@db.example:5433/air?sslmode=require"
    assert url.shown == "postgresql://aqi:***@db.example:5433/air?sslmode=require"
    assert set(url.secrets) == {"s%40cret-pw", "s@cret-pw"}
    assert parse_store_url("postgres://aqi@db/air", {}).shown == "postgres://aqi@db/air"


def test_pgpassword_is_a_secret_too_and_pgdatabase_names_the_database():
    url = parse_store_url("postgresql://aqi@db", {"PGPASSWORD": "from-env-1", "PGDATABASE": "x"})
    assert url.secrets == ("from-env-1",)


def test_a_bad_url_never_shows_its_password():
    with pytest.raises(ConfigError) as raised:
        parse_store_url("postgresql://aqi:topsecret@host:99999999/db", {})
    assert "topsecret" not in str(raised.value) and "aqi:***@host" in str(raised.value)
    with pytest.raises(ConfigError) as raised:
        parse_store_url("mysql://aqi:topsecret@host/db", {})
    assert "topsecret" not in str(raised.value)
