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

from aqistream.record import InvalidRecord, Record, check_record, encode_record, parse_json
from aqistream.registry.schemas import RECORD_SCHEMA

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
        self.registry = None
        if registry_settings:
            # Only then: the registry's client stack (httpx, jsonschema...) is not light.
            from aqistream.registry.wire import RegistryCodec

            self.registry = RegistryCodec(registry_settings)
        # Schema ids JSONDeserializer has already looked up for this process. Readers do not
        # validate against the schema (the gate does), so for these the deserializer would
        # only return the JSON behind the header: parsed here at the cost of plain JSON.
        self.known_ids: set[int] = set()

    @property
    def uses_registry(self) -> bool:
        return self.registry is not None

    @property
    def url(self) -> str | None:
        """The registry's URL, as messages show it; None without a registry."""
        return self.registry.url if self.registry is not None else None

    # ------------------------------------------------------------ writing

    def register(self, topic: str, schema_file: str = RECORD_SCHEMA) -> int | None:
        """Register the draft-07 form of schemas/`schema_file` under `<topic>-value`, with
        its compatibility rule; from then on values for `topic` are written with its id,
        without asking the registry again. None without a registry.

        Raises SchemaRefused, RegistryUnavailable or ConfigError.
        """
        return self.registry.register(topic, schema_file) if self.registry is not None else None

    def check(self, topic: str, record: Record) -> None:
        """Raise BreaksContract if the schema registered for `topic` refuses the record
        (as a registry deserializer would, with validation on as by default). Without a
        registry there is nothing to check against."""
        problem = self.registry.check(topic, record) if self.registry is not None else None
        if problem is not None:
            raise BreaksContract(problem)

    def encode(self, topic: str, record: Record) -> bytes:
        """The value to write: plain JSON, or wire format with `topic`'s registered id.
        RegistryUnavailable if the registry had to be asked and could not be."""
        if self.registry is None:
            return encode_record(record)
        return self.registry.encode(topic, record)

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
        if self.registry is None:
            return Decoded(check(parse_json(value[header:])), value[header:], schema_id)
        if schema_id in self.known_ids:
            return Decoded(check(parse_json(value[header:])), value[header:], schema_id)
        shown_id = str(schema_id) if schema_id is not None else value[1:header].hex()
        data = self.registry.decode(topic, value, headers, shown_id)
        if schema_id is not None:
            self.known_ids.add(schema_id)
        return Decoded(check(data), value[header:], schema_id)
