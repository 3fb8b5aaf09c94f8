"""The schemas the registry holds: each file in schemas/ is the one source, in draft 2020-12;
the registry gets its draft-07 form (pure).

Apicurio Registry 3.3 checks compatibility only between draft-04/06/07 schemas: given a
2019-09 or 2020-12 one it answers HTTP 500 "could not determine version". So the form
registered is translated here from the file, keyword by keyword, never kept as a second
copy that could drift; tests/test_schemas.py checks that both forms accept and reject the
same records.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"
RECORD_SCHEMA = "record-v1.json"
DRAFT_07 = "http://json-schema.org/draft-07/schema#"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

# Every new version of a subject must accept every record any earlier version accepted: the
# topic, and its compacted .latest for good, keep records of every version, and a reader
# replaying from the beginning meets them all. FULL_TRANSITIVE would be stricter, but with
# additionalProperties false (the contract is closed) an old schema refuses any added field,
# so not even an optional one could ever be added.
COMPATIBILITY = "BACKWARD_TRANSITIVE"
# Levels that are at least as strict: a subject someone set to one of them is left alone.
COMPATIBLE_ENOUGH = {"BACKWARD_TRANSITIVE", "FULL_TRANSITIVE"}

# Keywords whose value is one schema, a list of schemas, or a name -> schema map (draft
# 2020-12 core and applicator vocabularies); everything else holds data (const, enum...).
_ONE_SCHEMA = (
    "additionalProperties", "items", "contains", "propertyNames", "not", "if", "then", "else",
)  # fmt: skip
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
# 2020-12 keywords draft-07 has no way to say: a schema using one cannot be registered.
_NO_DRAFT_07_FORM = (
    "unevaluatedProperties", "unevaluatedItems", "minContains", "maxContains",
    "$anchor", "$dynamicRef", "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor",
    "$vocabulary",
)  # fmt: skip


class NoDraft07Form(ValueError):
    """The schema uses a 2020-12 keyword that draft-07 cannot express."""


def value_subject(topic: str) -> str:
    """The subject of a topic's values under the topic name strategy: `<topic>-value`."""
    return f"{topic}-value"


def load_schema(name: str) -> dict[str, Any]:
    """A schema of schemas/, as written there (draft 2020-12)."""
    return json.loads((SCHEMAS_DIR / name).read_text(encoding="utf-8"))


def registered_text(form: dict[str, Any]) -> str:
    """The text registered for a schema's draft-07 form: always written the same way, since
    the registry tells versions apart by their text."""
    return json.dumps(form, indent=2, ensure_ascii=False)


def draft07(schema: dict[str, Any]) -> dict[str, Any]:
    """The draft-07 form of a draft 2020-12 schema: the same records valid, the same invalid."""
    if schema.get("$schema") != DRAFT_2020_12:
        raise NoDraft07Form(
            f"expected a draft 2020-12 schema, found $schema {schema.get('$schema')!r}"
        )
    translated = _translate(schema, "#")
    translated["$schema"] = DRAFT_07
    return translated


def _translate(schema: Any, where: str) -> Any:
    if isinstance(schema, bool):
        return schema
    if not isinstance(schema, dict):
        raise NoDraft07Form(f"{where}: a schema must be an object or a boolean")
    for keyword in _NO_DRAFT_07_FORM:
        if keyword in schema:
            raise NoDraft07Form(f"{where}: {keyword} has no draft-07 form")
    translated: dict[str, Any] = {}
    for keyword, value in schema.items():
        inside = f"{where}/{keyword}"
        if keyword in _ONE_SCHEMA:
            translated[keyword] = _translate(value, inside)
        elif keyword in _SCHEMA_LISTS:
            translated[keyword] = [
                _translate(item, f"{inside}/{n}") for n, item in enumerate(value)
            ]
        elif keyword in _SCHEMA_MAPS:
            translated[keyword] = {
                name: _translate(item, f"{inside}/{name}") for name, item in value.items()
            }
        elif keyword == "$ref":
            translated[keyword] = value.replace("#/$defs/", "#/definitions/", 1)
        else:
            translated[keyword] = value
    # Draft-07 spells a tuple as an array of schemas in `items`, and what may follow it as
    # `additionalItems`; 2020-12 says `prefixItems` and `items`.
    if "prefixItems" in translated:
        after = translated.pop("items", None)
        translated["items"] = translated.pop("prefixItems")
        if after is not None:
            translated["additionalItems"] = after
    # Draft-07 ignores whatever stands beside a $ref; 2020-12 applies it too.
    if "$ref" in translated and len(translated) > 1:
        reference = {"$ref": translated.pop("$ref")}
        translated["allOf"] = [*translated.get("allOf", []), reference]
    if "$defs" in translated:
        translated["definitions"] = translated.pop("$defs")
    if "dependentRequired" in translated or "dependentSchemas" in translated:
        translated["dependencies"] = {
            **translated.pop("dependentRequired", {}),
            **translated.pop("dependentSchemas", {}),
        }
    return translated
