"""Kafka values: a record as plain JSON, or in the schema registry's wire format.

Without [schema_registry] in config.ini every value is the record's compact JSON
(record.encode_record), as it always was. With it, values are written through
confluent-kafka's JSONSerializer in Confluent's wire format: a zero byte, the id of the
registered schema (4 bytes, big-endian), then the same JSON text.

`ValueCodec.decode` is the one place where a reader turns a value into a record, whatever
the reader (consumer.py, --store, aggregator.py, the producer reading `.latest`). It reads
both forms on one topic, told apart by the first byte (JSON text never starts with a zero
byte), so a topic moves to the registry while its readers keep running. With a registry it
looks the schema id up through confluent-kafka's JSONDeserializer (schemas are cached, so
a registry that goes down stops nobody who has seen them); without one it takes the JSON
behind the header as it is. Either way the record passes the same cheap gate
(record.check_record) rather than the full JSON Schema: the producer validated it before
writing, and a full JSON Schema check costs many times what the gate does.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from confluent_kafka.schema_registry import Schema, topic_subject_name_strategy
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext, SerializationError
from jsonschema import Draft7Validator
from jsonschema.exceptions import best_match

from aqistream.record import InvalidRecord, Record, check_record, encode_record, parse_json
from aqistream.registry.client import (
    RegistryUnavailable,
    failure,
    register,
    registry_client,
    registry_url,
)
from aqistream.registry.client import reason as registry_reason
from aqistream.registry.schemas import (
    RECORD_SCHEMA,
    draft07,
    load_schema,
    registered_text,
    value_subject,
)

# The first byte of a wire-format value: 0 before a 4-byte schema id, 1 before a 16-byte
# schema GUID (newer Confluent clients). Neither can start JSON text.
WIRE_FORMAT_BYTES = (0, 1)
ID_HEADER = 5  # the zero byte and the 4-byte id
GUID_HEADER = 17


class BreaksContract(ValueError):
    """A record that the schema registered for its topic refuses: it is not published."""


@dataclass(frozen=True)
class Decoded:
    record: Any  # what the caller's check returned
    json: bytes  # the JSON text, without the wire format's header
    schema_id: int | None = None  # None: the value was plain JSON


class ValueCodec:
    """How this deployment's values look: plain JSON, or the registry's wire format.

    Built once per process from config.ini's [schema_registry] (empty: plain JSON). A
    writer registers each topic's schema first (`register`), then `check`s and `encode`s.
    """

    def __init__(self, registry_settings: dict[str, str]):
        self.client = registry_client(registry_settings) if registry_settings else None
        self.url = registry_url(registry_settings) if registry_settings else None
        self.serializers: dict[str, JSONSerializer] = {}
        self.validators: dict[str, Draft7Validator] = {}
        self.deserializer = None
        if self.client is not None:
            self.deserializer = JSONDeserializer(
                None,
                schema_registry_client=self.client,
                conf={"subject.name.strategy": topic_subject_name_strategy, "validate": False},
                json_decode=parse_json,
            )

    @property
    def uses_registry(self) -> bool:
        return self.client is not None

    # ------------------------------------------------------------ writing

    def register(self, topic: str, schema_file: str = RECORD_SCHEMA) -> int | None:
        """Register the draft-07 form of schemas/`schema_file` under `<topic>-value`, with
        its compatibility rule; from then on values for `topic` are written with its id,
        without asking the registry again. None without a registry.

        Raises SchemaRefused, RegistryUnavailable or ConfigError.
        """
        if self.client is None:
            return None
        form = draft07(load_schema(schema_file))
        schema = Schema(registered_text(form), "JSON")
        schema_id = register(self.client, value_subject(topic), schema, self.url)
        self.serializers[topic] = JSONSerializer(
            schema,
            self.client,
            conf={
                # Registered above, so this only finds the id in the client's cache.
                "auto.register.schemas": True,
                "subject.name.strategy": topic_subject_name_strategy,
                "validate": False,  # check() has done it, once per record
            },
            # The same bytes as plain JSON (orjson, the default, refuses integers beyond
            # 64 bits that json accepts).
            json_encode=encode_record,
        )
        self.validators[topic] = Draft7Validator(form)
        return schema_id

    def check(self, topic: str, record: Record) -> None:
        """Raise BreaksContract if the schema registered for `topic` refuses the record
        (a record a registry deserializer would refuse, with validation on, as by default).
        Without a registry there is nothing to check against."""
        validator = self.validators.get(topic)
        if validator is None:
            return
        error = best_match(validator.iter_errors(record))
        if error is not None:
            where = "/".join(str(part) for part in error.absolute_path) or "the record"
            raise BreaksContract(
                f"does not match the schema registered for {value_subject(topic)} "
                f"at {where}: {error.message}"
            )

    def encode(self, topic: str, record: Record) -> bytes:
        """The value to write: plain JSON, or wire format with `topic`'s registered id."""
        if self.client is None:
            return encode_record(record)
        context = SerializationContext(topic, MessageField.VALUE)
        try:
            return self.serializers[topic](record, context)
        except (SchemaRegistryError, httpx.HTTPError) as error:
            # Only if the client's cache lost the id register() put there.
            explained = failure(error, self.url)
            if isinstance(explained, SchemaRegistryError):
                raise RegistryUnavailable(f"schema registry at {self.url}: {explained}") from None
            raise explained from None

    # ------------------------------------------------------------ reading

    def decode(
        self,
        topic: str,
        value: bytes | None,
        headers: list | None = None,
        check: Callable[[Any], Any] = check_record,
    ) -> Decoded:
        """The record in a value of `topic`, plain JSON or wire format, passed through
        `check` (by default the reading's gate, record.check_record).

        Raises InvalidRecord (poison: report it and skip it), RegistryUnavailable (the
        schema is not cached and the registry cannot be asked: wait and try again) or
        ConfigError (the registry refuses the credentials).
        """
        if not value:
            raise InvalidRecord("empty message (no value)")
        if value[0] not in WIRE_FORMAT_BYTES:
            return Decoded(check(parse_json(value)), value)
        header = ID_HEADER if value[0] == 0 else GUID_HEADER
        if len(value) < header:
            raise InvalidRecord("value starts like the schema registry's wire format but is cut")
        schema_id = struct.unpack(">I", value[1:5])[0] if value[0] == 0 else None
        if self.deserializer is None:
            return Decoded(check(parse_json(value[header:])), value[header:], schema_id)
        try:
            data = self.deserializer(
                value, SerializationContext(topic, MessageField.VALUE, headers)
            )
        except InvalidRecord:
            raise  # the JSON behind the header (parse_json)
        except SchemaRegistryError as error:
            explained = failure(error, self.url)
            if explained is not error:
                raise explained from None
            shown = schema_id if schema_id is not None else value[1:header].hex()
            if error.http_status_code == 404:
                raise InvalidRecord(
                    f"schema {shown} is not in the schema registry at {self.url}"
                ) from None
            raise InvalidRecord(
                f"the schema registry at {self.url} cannot give schema {shown} "
                f"(HTTP {error.http_status_code}: {registry_reason(error)})"
            ) from None
        except httpx.HTTPError as error:
            raise failure(error, self.url) from None
        except (SerializationError, ValueError, TypeError) as error:
            raise InvalidRecord(f"not a valid wire-format value: {error}") from None
        return Decoded(check(data), value[header:], schema_id)
