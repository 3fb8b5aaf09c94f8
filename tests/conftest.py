"""Fixtures shared by the suite: the real Kafka broker the tests talk to, a schema registry
for the tests that need one, and the databases the store tests write to (SQLite files, and a
real PostgreSQL: AQI_TEST_POSTGRES_URL, or a throw-away server started for the session)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from tests.databases import sqlite_url
from tests.pipeline import Running, prepare_workdir
from tests.postgres_server import PostgresServer, create_database
from tests.schema_registry import LocalRegistry

# `make test` (kafka/with-kafka.sh) makes sure a broker answers here before pytest starts.
BOOTSTRAP_SERVERS = os.environ.get("AQI_TEST_BOOTSTRAP_SERVERS", "localhost:9092")


@pytest.fixture(scope="session")
def bootstrap_servers() -> str:
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP_SERVERS})
    try:
        brokers = admin.list_topics(timeout=10).brokers
    except Exception as error:
        pytest.fail(
            f"no Kafka broker answers at {BOOTSTRAP_SERVERS} ({error}): run the suite with "
            "`make test`, which starts one"
        )
    assert brokers, f"no broker listed in metadata at {BOOTSTRAP_SERVERS}"
    return BOOTSTRAP_SERVERS


@pytest.fixture(scope="session")
def schema_registry(tmp_path_factory, bootstrap_servers) -> LocalRegistry:
    """An Apicurio Registry for the tests that need one: started the first time one asks,
    stopped (and its schemas deleted) when the session ends."""
    registry = LocalRegistry(tmp_path_factory.mktemp("registry"), bootstrap_servers)
    try:
        yield registry.up()
    finally:
        registry.down()


@pytest.fixture(autouse=True)
def no_script_left_running():
    """Kill what a test started and did not stop (a failed assertion skips its clean-up)."""
    yield
    while Running.started:
        running = Running.started.pop()
        if running.alive():
            running.process.kill()
            running.process.wait()


@pytest.fixture
def topic_name() -> str:
    """A topic name no other test uses."""
    return f"test_aqi_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def workdir(tmp_path, bootstrap_servers) -> Path:
    """Where a test runs producer.py: config.ini for this broker, stations.txt (SWISS)."""
    return prepare_workdir(tmp_path, bootstrap_servers)


@pytest.fixture(scope="session")
def postgres_admin_url():
    """A PostgreSQL server's URL, for a user who may create databases."""
    given = os.environ.get("AQI_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    try:
        server = PostgresServer().up()
    except RuntimeError as error:
        pytest.fail(str(error))
    try:
        yield server.url()
    finally:
        server.down()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """A new, empty database of each kind: the test runs once with each."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "store.db")
    return create_database(request.getfixturevalue("postgres_admin_url"))
