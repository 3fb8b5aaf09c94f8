"""The schema registry over HTTP: confluent-kafka's SchemaRegistryClient set up from
[schema_registry], subjects registered with their compatibility rule, and what a failure
means for the scripts (wait and retry, or stop with one line).

Any registry that speaks Confluent's REST API works: Confluent's own (Confluent Cloud
included) and Apicurio Registry at /apis/ccompat/v7.
"""

from __future__ import annotations

import re

import httpx
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from aqistream.config import ConfigError
from aqistream.registry.failures import RegistryUnavailable, SchemaRefused
from aqistream.registry.schemas import COMPATIBILITY, COMPATIBLE_ENOUGH

# Seconds for one HTTP request. Without it httpx waits forever: a serializer once hung for
# minutes on a lookup the registry never answered.
DEFAULT_TIMEOUT = 10.0
# Apicurio prefixes its reasons with the Java exception's class name.
_JAVA_EXCEPTION = re.compile(r"^(?:[\w$]+\.)+[\w$]*(?:Exception|Error):\s*")


def registry_client(settings: dict[str, str]) -> SchemaRegistryClient:
    """A client for the registry [schema_registry] names, with a request timeout."""
    conf = {**settings, "timeout": float(settings.get("timeout", DEFAULT_TIMEOUT))}
    try:
        return SchemaRegistryClient(conf)
    except (ValueError, TypeError, OSError) as error:
        raise ConfigError(f"[schema_registry]: {error}") from None


def registry_url(settings: dict[str, str]) -> str:
    """The registry's URL as shown in messages (config.py keeps credentials out of it)."""
    return settings["url"].split(",")[0].strip()


def reason(error: SchemaRegistryError) -> str:
    """The registry's own words, on one line."""
    text = " ".join(str(error.error_message or "").split())
    return _JAVA_EXCEPTION.sub("", text) or f"HTTP {error.http_status_code}"


def failure(error: Exception, url: str) -> Exception:
    """What a failed request means: RegistryUnavailable (a passing outage), a ConfigError
    (refused credentials), or the SchemaRegistryError itself (the caller's to explain)."""
    if isinstance(error, httpx.TimeoutException):
        return RegistryUnavailable(f"schema registry at {url} did not answer in time")
    if isinstance(error, httpx.HTTPError):
        detail = str(error) or type(error).__name__
        return RegistryUnavailable(f"schema registry unreachable at {url} ({detail})")
    if isinstance(error, SchemaRegistryError):
        status = error.http_status_code
        if status in (401, 403):
            return ConfigError(
                f"the schema registry at {url} refused the credentials (HTTP {status}: "
                f"{reason(error)}): check basic.auth.user.info in [schema_registry]"
            )
        if status >= 500 or status in (408, 429):
            return RegistryUnavailable(
                f"schema registry at {url} failed (HTTP {status}: {reason(error)})"
            )
    return error


def register(client: SchemaRegistryClient, subject: str, schema: Schema, url: str) -> int:
    """Register `schema` under `subject`, whose compatibility is set to COMPATIBILITY first
    (unless it is already as strict); the schema id. A schema the subject already holds
    gets its id back, without a new version.

    Raises SchemaRefused, RegistryUnavailable or ConfigError.
    """
    try:
        if compatibility(client, subject) not in COMPATIBLE_ENOUGH:
            client.set_compatibility(subject, COMPATIBILITY)
        return client.register_schema_full_response(subject, schema).schema_id
    except (SchemaRegistryError, httpx.HTTPError) as error:
        explained = failure(error, url)
        if isinstance(explained, SchemaRegistryError):
            raise SchemaRefused(
                f"the schema registry at {url} refused the value schema of subject "
                f"{subject} (compatibility {COMPATIBILITY}): {reason(explained)}"
            ) from None
        raise explained from None


def compatibility(client: SchemaRegistryClient, subject: str) -> str | None:
    """The subject's own compatibility level; None when it has none (or does not exist)."""
    try:
        return client.get_compatibility(subject)
    except SchemaRegistryError as error:
        if error.http_status_code == 404:
            return None
        raise
