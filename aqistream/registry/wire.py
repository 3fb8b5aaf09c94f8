"""Confluent's wire format through a schema registry: confluent-kafka's JSONSerializer and
JSONDeserializer, with the topic name strategy, and the checks a writer makes first.

Loaded by kafka/values.py only when config.ini has [schema_registry].
"""

from __future__ import annotations

from typing import Any

import httpx
from confluent_kafka.schema_registry import Schema, topic_subject_name_strategy
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext, SerializationError
from jsonschema import Draft7Validator
from jsonschema.exceptions import best_match

from aqistream.record import InvalidRecord, Record, encode_record, parse_json
from aqistream.registry.client import failure, reason, register, registry_client, registry_url
from aqistream.registry.failures import RegistryUnavailable
from aqistream.registry.schemas import draft07, load_schema, registered_text, value_subject


class RegistryCodec:
    """Values of the topics this process writes or reads, in the registry's wire format."""

    def __init__(self, settings: dict[str, str]):
        self.client = registry_client(settings)
        self.url = registry_url(settings)
        self.serializers: dict[str, JSONSerializer] = {}
        self.validators: dict[str, Draft7Validator] = {}
        self.deserializer = JSONDeserializer(
            None,
            schema_registry_client=self.client,
            # The readers' cheap gate checks each record; the writer checked it in full.
            conf={"subject.name.strategy": topic_subject_name_strategy, "validate": False},
            json_decode=parse_json,
        )

    def register(self, topic: str, schema_file: str) -> int:
        """Register schemas/`schema_file`'s draft-07 form under `<topic>-value`, with its
        compatibility rule; from then on `topic`'s values are written with its id, found in
        the client's cache without asking the registry again.

        Raises SchemaRefused, RegistryUnavailable or ConfigError.
        """
        form = draft07(load_schema(schema_file))
        schema = Schema(registered_text(form), "JSON")
        schema_id = register(self.client, value_subject(topic), schema, self.url)
        self.serializers[topic] = JSONSerializer(
            schema,
            self.client,
            conf={
                "auto.register.schemas": True,  # registered above: only the cache answers
                "subject.name.strategy": topic_subject_name_strategy,
                "validate": False,  # check() has done it, once per record
            },
            # The same bytes as plain JSON (orjson, the default, refuses integers beyond
            # 64 bits that json accepts).
            json_encode=encode_record,
        )
        self.validators[topic] = Draft7Validator(form)
        return schema_id

    def check(self, topic: str, record: Record) -> str | None:
        """Why the schema registered for `topic` refuses the record (as a registry
        deserializer would, with validation on as by default); None if it does not."""
        validator = self.validators.get(topic)
        error = best_match(validator.iter_errors(record)) if validator is not None else None
        if error is None:
            return None
        where = "/".join(str(part) for part in error.absolute_path) or "the record"
        return (
            f"does not match the schema registered for {value_subject(topic)} "
            f"at {where}: {error.message}"
        )

    def encode(self, topic: str, record: Record) -> bytes:
        context = SerializationContext(topic, MessageField.VALUE)
        try:
            return self.serializers[topic](record, context)
        except (SchemaRegistryError, httpx.HTTPError) as error:
            # Only if the client's cache lost the id register() put there.
            explained = failure(error, self.url)
            if isinstance(explained, SchemaRegistryError):
                raise RegistryUnavailable(f"schema registry at {self.url}: {explained}") from None
            raise explained from None

    def decode(self, topic: str, value: bytes, headers: list | None, shown_id: str) -> Any:
        """The JSON of a wire-format value, its schema looked up by id (`shown_id` names it
        in messages). Raises InvalidRecord, RegistryUnavailable or ConfigError."""
        try:
            return self.deserializer(
                value, SerializationContext(topic, MessageField.VALUE, headers)
            )
        except InvalidRecord:
            raise  # the JSON behind the header (parse_json)
        except SchemaRegistryError as error:
            explained = failure(error, self.url)
            if explained is not error:
                raise explained from None
            if error.http_status_code == 404:
                raise InvalidRecord(
                    f"schema {shown_id} is not in the schema registry at {self.url}"
                ) from None
            raise InvalidRecord(
                f"the schema registry at {self.url} cannot give schema {shown_id} "
                f"(HTTP {error.http_status_code}: {reason(error)})"
            ) from None
        except httpx.HTTPError as error:
            raise failure(error, self.url) from None
        except (SerializationError, ValueError, TypeError) as error:
            raise InvalidRecord(f"not a valid wire-format value: {error}") from None
