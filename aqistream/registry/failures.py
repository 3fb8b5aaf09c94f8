"""What a schema registry's failure means to the scripts: wait and try again, or stop.

Apart from the client (registry/client.py), so that code that only handles them does not
load the registry's HTTP stack: a deployment without [schema_registry] never does.
"""

from __future__ import annotations

from aqistream.config import ConfigError


class RegistryUnavailable(Exception):
    """The registry could not be reached, or failed (HTTP 5xx): wait and try again."""


class SchemaRefused(ConfigError):
    """The registry refused to register a schema (incompatible, or not a valid schema)."""
