"""Throw-away PostgreSQL servers for the tests: initdb into a temporary directory, pg_ctl on
a free local port, a superuser with a password (so redaction and refused logins can be
tested), stopped and removed afterwards.

initdb and postgres refuse to run as root: as root (CI is), they run as the `postgres`
system user that Debian's package creates. The binaries come from Debian's `postgresql`
package (/usr/lib/postgresql/<version>/bin); `make test` installs it where it is missing
(scripts/postgres-binaries.sh).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from tests.kafka_cluster import port_is_free

USER = "aqi_test"
PASSWORD = "pg-secret-7d2b91"  # distinctive, so a leak is easy to find
INSTALL_HINT = (
    "PostgreSQL's server binaries are missing: install Debian's package "
    "(apt-get install -y postgresql, or `make test`, which does), or set AQI_TEST_POSTGRES_URL "
    "to a server where this user may create databases"
)


def binaries() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin with initdb and pg_ctl in it."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if not found:
        on_path = shutil.which("initdb")
        if on_path is None:
            raise RuntimeError(INSTALL_HINT)
        return Path(on_path).parent
    return found[-1].parent


def free_port() -> int:
    for port in range(25432, 26432):
        if port_is_free(port) and port_is_free(port + 1):
            return port
    raise RuntimeError("no free port for a test PostgreSQL")


class PostgresServer:
    """One server of its own: `up()`, `stop()`, `start()` again, `down()` to remove it."""

    def __init__(self) -> None:
        self.bin = binaries()
        self.root = Path(tempfile.mkdtemp(prefix="aqi-test-postgres-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError(
                    "running as root, and no `postgres` user to run the server as: "
                    "apt-get install -y postgresql creates it"
                ) from None
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def run(self, tool: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [*self.as_user, str(self.bin / tool), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
        )
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{tool} {' '.join(args)} failed:\n{result.stderr}\n{log}")
        return result

    def up(self, durable: bool = False) -> PostgresServer:
        """initdb and start. Not `durable` (the tests): no fsync, which a test server whose
        data die with it does not need; durable (the benchmark): PostgreSQL's defaults."""
        password_file = self.root / "password"
        password_file.write_text(PASSWORD + "\n")
        if self.as_user:
            shutil.chown(password_file, "postgres")
        self.run(
            "initdb", "--pgdata", str(self.data), "--username", USER,
            "--pwfile", str(password_file), "--auth", "scram-sha-256", "--encoding", "UTF8",
            "--locale", "C", "--no-sync",
        )  # fmt: skip
        password_file.unlink()
        # Its own port, and a socket only in its own directory.
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\nmax_connections = 60\n"
                + ("" if durable else "fsync = off\nshared_buffers = 64MB\n")
            )
        self.start()
        return self

    def start(self) -> None:
        self.run("pg_ctl", "--pgdata", str(self.data), "--log", str(self.log), "--wait", "start")

    def stop(self) -> None:
        self.run("pg_ctl", "--pgdata", str(self.data), "--mode", "fast", "--wait", "stop")

    def down(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres", password: str = PASSWORD) -> str:
        return f"postgresql://{USER}:{password}@127.0.0.1:{self.port}/{database}"


def create_database(admin_url: str) -> str:
    """A new, empty database on the server of `admin_url`; its URL."""
    name = f"aqi_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')  # an identifier, not a value
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
