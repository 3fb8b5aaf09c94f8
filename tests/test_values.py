"""aqistream/kafka/values.py: values as plain JSON or in the registry's wire format, written
through JSONSerializer and read back in both forms, with a real Apicurio Registry."""

from __future__ import annotations

import struct
import uuid

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.json_schema import JSONDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from aqistream.kafka.values import BreaksContract, ValueCodec
from aqistream.record import InvalidRecord, encode_record, normalise
from aqistream.registry.failures import RegistryUnavailable
from aqistream.registry.schemas import value_subject
from tests.schema_registry import free_port
from tests.test_record import FETCHED_AT, HA_SENSOR, load_feed

RECORD = normalise(load_feed(HA_SENSOR), "utrecht", FETCHED_AT)


@pytest.fixture
def topic() -> str:
    return f"test_values_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def codec(schema_registry, topic) -> ValueCodec:
    """A codec with the registry, the record's schema registered for `topic`."""
    codec = ValueCodec({"url": schema_registry.url})
    codec.register(topic)
    return codec


def wire(schema_id: int, json_text: bytes) -> bytes:
    return b"\0" + struct.pack(">I", schema_id) + json_text


def test_without_a_registry_values_are_the_plain_json_they_always_were(topic):
    plain = ValueCodec({})
    assert plain.register(topic) is None
    value = plain.encode(topic, RECORD)
    assert value == encode_record(RECORD)
    decoded = plain.decode(topic, value)
    assert (decoded.record, decoded.json, decoded.schema_id) == (RECORD, value, None)
    plain.check(topic, {"not": "a record"})  # nothing registered to check against


def test_with_a_registry_values_are_wire_format_with_the_registered_id(
    codec, topic, schema_registry
):
    value = codec.encode(topic, RECORD)
    latest = schema_registry.client().get_latest_version(value_subject(topic))
    assert value == wire(latest.schema_id, encode_record(RECORD))
    decoded = codec.decode(topic, value)
    assert decoded.record == RECORD
    assert (decoded.json, decoded.schema_id) == (encode_record(RECORD), latest.schema_id)


def test_a_plain_json_deserializer_with_only_the_url_decodes_exactly_the_record(
    codec, topic, schema_registry
):
    client = SchemaRegistryClient({"url": schema_registry.url})
    deserializer = JSONDeserializer(None, schema_registry_client=client)
    value = codec.encode(topic, RECORD)
    # validation on, as by default: the record matches the registered schema
    assert deserializer(value, SerializationContext(topic, MessageField.VALUE)) == RECORD


def test_both_forms_on_one_topic_decode_to_the_same_record(codec, topic):
    plain, in_wire_format = encode_record(RECORD), codec.encode(topic, RECORD)
    assert codec.decode(topic, plain).record == codec.decode(topic, in_wire_format).record


def test_without_a_registry_the_wire_format_is_read_by_its_header(codec, topic):
    value = codec.encode(topic, RECORD)
    decoded = ValueCodec({}).decode(topic, value)
    assert decoded.record == RECORD
    assert decoded.schema_id == struct.unpack(">I", value[1:5])[0]
    guid_value = b"\x01" + uuid.uuid4().bytes + encode_record(RECORD)  # newer clients' header
    assert ValueCodec({}).decode(topic, guid_value).record == RECORD


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (wire(987654321, encode_record(RECORD)), "schema 987654321 is not in the schema registry"),
        (b"\0\0\0", "cut"),
        (wire(1, b"\xff not json"), "not UTF-8"),
        (wire(1, b'{"schema_version": 2}'), "schema_version is 2, expected 1"),
        (b"", "empty message"),
        (b"{broken", "not JSON"),
    ],
    ids=["unknown schema id", "cut header", "binary behind header", "v2", "empty", "broken"],
)
def test_values_that_are_not_records_are_invalid_in_either_form(codec, topic, value, reason):
    with pytest.raises(InvalidRecord, match=reason):
        codec.decode(topic, value)


def test_an_id_looked_up_once_decodes_like_the_deserializer_and_still_through_the_gate(
    codec, topic, schema_registry
):
    value = codec.encode(topic, RECORD)
    schema_id = struct.unpack(">I", value[1:5])[0]
    first = codec.decode(topic, value)
    assert codec.known_ids == {schema_id}
    assert codec.decode(topic, value) == first  # behind the id's header, as JSON
    with pytest.raises(InvalidRecord, match="schema_version is 2, expected 1"):
        codec.decode(topic, wire(schema_id, b'{"schema_version": 2}'))
    with pytest.raises(InvalidRecord, match="not UTF-8"):
        codec.decode(topic, wire(schema_id, b"\xff not json"))
    with pytest.raises(InvalidRecord, match="schema 987654321 is not in the schema registry"):
        codec.decode(topic, wire(987654321, encode_record(RECORD)))  # others still asked


def test_a_schema_not_cached_while_the_registry_is_down_is_waited_for_not_skipped(codec, topic):
    value = codec.encode(topic, RECORD)
    down = ValueCodec({"url": f"http://localhost:{free_port()}/apis/ccompat/v7"})
    with pytest.raises(RegistryUnavailable, match="unreachable"):
        down.decode(topic, value)


def test_a_record_the_registered_schema_refuses_breaks_the_contract(codec, topic):
    codec.check(topic, RECORD)
    with pytest.raises(BreaksContract, match=r"at station/geo: \[52.1\] is too short"):
        codec.check(topic, {**RECORD, "station": {**RECORD["station"], "geo": [52.1]}})
    with pytest.raises(BreaksContract, match=f"registered for {value_subject(topic)} at aqi"):
        codec.check(topic, {**RECORD, "aqi": 29.5})
