"""Where --store writes: a database URL, parsed, checked, and shown without its password.

    sqlite:///relative/path.db   sqlite:////absolute/path.db
    postgresql://user[:password]@host[:port]/dbname[?libpq options]   (also postgres://)

A PostgreSQL URL goes to libpq as it is, so libpq's environment (PGPASSWORD, PGHOST, a
~/.pgpass) applies. The password, from the URL or PGPASSWORD, is a secret: `shown` has
`***` in its place, and `secrets` lists what the log must never print.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from aqistream.config import ConfigError
from aqistream.store.schema import POSTGRESQL, SQLITE

DEFAULT_STORE = "sqlite:///air_quality.db"
FORMS = "sqlite:///PATH or postgresql://user[:password]@host[:port]/dbname"


@dataclass(frozen=True)
class StoreUrl:
    dialect: str
    target: str  # SQLite: the file's path; PostgreSQL: the URL for libpq
    shown: str  # the URL with the password replaced by ***
    secrets: tuple[str, ...] = ()


def parse_store_url(text: str, environ: dict[str, str] | None = None) -> StoreUrl:
    """The database `text` names; ConfigError (with the password hidden) when it is not one."""
    environ = os.environ if environ is None else environ
    scheme, found, rest = text.partition("://")
    scheme = scheme.lower()
    if not found:
        raise ConfigError(
            f"--store: {_hide_password(text)!r} is not a database URL (expected {FORMS}; "
            "CONFIG goes before --store)"
        )
    if scheme == "sqlite":
        return _sqlite(text, rest)
    if scheme in ("postgresql", "postgres"):
        return _postgresql(text, environ)
    raise ConfigError(f"--store: unknown database scheme {scheme + '://'!r} (expected {FORMS})")


def _sqlite(text: str, rest: str) -> StoreUrl:
    host, slash, path = rest.partition("/")
    if host or not slash or not path or "?" in path:
        raise ConfigError(
            f"--store: {text!r} is not a SQLite URL: sqlite:///relative/path.db or "
            "sqlite:////absolute/path.db (three slashes, then the path)"
        )
    directory = Path(path).parent
    if not directory.is_dir():
        raise ConfigError(f"--store: {text}: no directory {directory} to create the database in")
    if Path(path).is_dir():
        raise ConfigError(f"--store: {text}: {path} is a directory, not a database file")
    return StoreUrl(SQLITE, path, text)


def _postgresql(text: str, environ: dict[str, str]) -> StoreUrl:
    shown = _hide_password(text)
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError as error:
        raise ConfigError(f"--store: {shown!r} is not a valid PostgreSQL URL: {error}") from None
    if not parts.path.strip("/") and not environ.get("PGDATABASE"):
        raise ConfigError(
            f"--store: {shown!r} names no database: add /dbname (postgresql://host/dbname)"
        )
    secrets = []
    if parts.password:
        secrets += [parts.password, unquote(parts.password)]
    if environ.get("PGPASSWORD"):
        secrets.append(environ["PGPASSWORD"])
    return StoreUrl(POSTGRESQL, text, shown, tuple(dict.fromkeys(secrets)))


def _hide_password(text: str) -> str:
    """`text` with the password of its user:password@ part, if any, replaced by ***."""
    scheme, found, rest = text.partition("://")
    authority, slash, path = rest.partition("/")
    user_info, at, host = authority.rpartition("@")
    if not found or not at or ":" not in user_info:
        return text
    user = user_info.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}{slash}{path}"
