"""aqistream/registry/client.py against a real Apicurio Registry: the compatibility rule,
what it accepts and refuses, and how failures are told apart."""

from __future__ import annotations

import copy
import http.server
import json
import socket
import threading
import time
import uuid

import pytest
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.error import SchemaRegistryError

from aqistream.config import ConfigError
from aqistream.registry.client import reason, register, registry_client
from aqistream.registry.failures import RegistryUnavailable, SchemaRefused
from aqistream.registry.schemas import COMPATIBILITY, RECORD_SCHEMA, load_schema, registered_text
from tests.schema_registry import (
    V1,
    changed,
    free_port,
    with_aqi_as_text,
    with_optional_region,
    with_required_country,
    without_fetched_at,
)


def schema(form: dict) -> Schema:
    return Schema(registered_text(form), "JSON")


@pytest.fixture
def subject() -> str:
    return f"test_subject_{uuid.uuid4().hex[:10]}-value"


def test_registering_sets_the_compatibility_rule_and_the_same_schema_gets_its_id_back(
    schema_registry, subject
):
    client = registry_client({"url": schema_registry.url})
    first = register(client, subject, schema(V1), schema_registry.url)
    assert client.get_compatibility(subject) == COMPATIBILITY == "BACKWARD_TRANSITIVE"
    # A restarted producer registers the same text: the same id, no new version.
    again = register(registry_client({"url": schema_registry.url}), subject, schema(V1), "x")
    assert again == first
    assert client.get_versions(subject) == [1]


def test_a_compatible_change_a_new_optional_field_registers_as_a_new_version(
    schema_registry, subject
):
    client = registry_client({"url": schema_registry.url})
    first = register(client, subject, schema(V1), schema_registry.url)
    second = register(client, subject, schema(changed(with_optional_region)), schema_registry.url)
    assert second != first
    assert client.get_versions(subject) == [1, 2]
    # and the producer of v1, restarted after it, still gets its own id back
    assert register(client, subject, schema(V1), schema_registry.url) == first


@pytest.mark.parametrize(
    ("change", "registry_says"),
    [
        (with_required_country, "A new required property was added"),
        (with_aqi_as_text, "/properties/aqi"),
        (without_fetched_at, "Object type property schemas narrowed"),
    ],
    ids=["new required field", "changed type", "removed field"],
)
def test_an_incompatible_change_is_refused_naming_the_subject_and_the_reason(
    schema_registry, subject, change, registry_says
):
    client = registry_client({"url": schema_registry.url})
    register(client, subject, schema(V1), schema_registry.url)
    with pytest.raises(SchemaRefused) as refused:
        register(client, subject, schema(changed(change)), schema_registry.url)
    message = str(refused.value)
    assert subject in message and registry_says in message
    assert f"compatibility {COMPATIBILITY}" in message
    assert "RuleViolationException" not in message and "\n" not in message
    assert client.get_versions(subject) == [1]


def test_a_stricter_rule_someone_set_is_left_alone(schema_registry, subject):
    client = registry_client({"url": schema_registry.url})
    client.set_compatibility(subject, "FULL_TRANSITIVE")
    register(client, subject, schema(V1), schema_registry.url)
    assert client.get_compatibility(subject) == "FULL_TRANSITIVE"


def test_apicurio_cannot_check_draft_2020_12_schemas_which_is_why_draft07_is_registered(
    schema_registry, subject
):
    client = registry_client({"url": schema_registry.url})
    client.set_compatibility(subject, COMPATIBILITY)
    source = load_schema(RECORD_SCHEMA)
    client.register_schema(subject, Schema(json.dumps(source), "JSON"))
    optional_region = copy.deepcopy(source)
    optional_region["properties"]["region"] = {"type": "string"}
    with pytest.raises(SchemaRegistryError) as failed:
        client.register_schema(subject, Schema(json.dumps(optional_region), "JSON"))
    assert failed.value.http_status_code == 500
    assert "could not determine version" in failed.value.error_message


def test_a_registry_nobody_answers_at_is_unavailable_not_a_refusal(subject):
    url = f"http://localhost:{free_port()}/apis/ccompat/v7"
    with pytest.raises(RegistryUnavailable, match=f"schema registry unreachable at {url}"):
        register(registry_client({"url": url}), subject, schema(V1), url)


def test_a_registry_that_never_answers_is_given_up_on_after_the_timeout(subject):
    """The client's own default is to wait forever."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts connections, never answers them
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/apis/ccompat/v7"
        client = registry_client({"url": url, "timeout": "1"})
        began = time.monotonic()
        with pytest.raises(RegistryUnavailable, match="did not answer in time"):
            register(client, subject, schema(V1), url)
    assert time.monotonic() - began < 10


def test_the_reason_is_the_registry_s_own_words_without_the_java_class():
    error = SchemaRegistryError(
        409,
        409,
        "io.apicurio.registry.rules.violation.RuleViolationException: Incompatible artifact: "
        "x-value [JSON], num of incompatible diffs: {1}",
    )
    assert reason(error) == "Incompatible artifact: x-value [JSON], num of incompatible diffs: {1}"
    assert reason(SchemaRegistryError(500, 50001, "")) == "HTTP 500"


class Refusing(http.server.BaseHTTPRequestHandler):
    """Answers every request as Confluent Cloud does a wrong API key."""

    def do_GET(self):  # noqa: N802 (http.server's names)
        body = json.dumps({"error_code": 401, "message": "Unauthorized"}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_PUT = do_POST = do_GET  # noqa: N815

    def log_message(self, *args):
        pass


def test_refused_credentials_are_a_configuration_error_that_shows_no_secret(subject):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        client = registry_client({"url": url, "basic.auth.user.info": "KEY:hush-hush-secret"})
        with pytest.raises(ConfigError) as refused:
            register(client, subject, schema(V1), url)
    finally:
        server.shutdown()
    message = str(refused.value)
    assert "refused the credentials (HTTP 401: Unauthorized)" in message
    assert "check basic.auth.user.info in [schema_registry]" in message
    assert "hush-hush-secret" not in message
