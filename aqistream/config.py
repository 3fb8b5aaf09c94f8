"""Configuration from the places the Confluent getting-started layout puts it.

config.ini holds librdkafka settings: [default] for both clients, [producer] and [consumer]
for one each; [schema_registry], when present, turns on data contracts in a schema registry
(Confluent's `url` and `basic.auth.user.info`, as in their getting-started guide). The
WAQI token comes from WAQI_TOKEN in the environment or in .env, never from the command
line (where `ps` and shell history would show it).
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import load_dotenv

DEFAULT_CONFIG = Path("config.ini")
DEFAULT_BOOTSTRAP_SERVERS = "localhost:9092"
TOKEN_HELP = "get a free token at https://aqicn.org/data-platform/token/ and put it in .env"
SECTIONS = ("default", "producer", "consumer", "schema_registry")
# What [schema_registry] may hold: confluent-kafka's SchemaRegistryClient settings a
# deployment needs (Confluent Cloud: url and basic.auth.user.info), and a request timeout.
REGISTRY_KEYS = (
    "url",
    "basic.auth.user.info",
    "timeout",
    "ssl.ca.location",
    "ssl.certificate.location",
    "ssl.key.location",
)


class ConfigError(Exception):
    """Bad usage or configuration: the message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class KafkaConfig:
    """librdkafka settings: `common` for every client, plus each role's own."""

    common: dict[str, str]
    producer: dict[str, str] = field(default_factory=dict)
    consumer: dict[str, str] = field(default_factory=dict)
    source: str = "defaults"
    # [schema_registry]; empty: values are plain JSON.
    schema_registry: dict[str, str] = field(default_factory=dict)

    @property
    def bootstrap_servers(self) -> str:
        return self.common["bootstrap.servers"]

    @property
    def secrets(self) -> list[str]:
        """What must never be shown: the registry's credentials (the whole key:secret pair,
        and the secret alone)."""
        user_info = self.schema_registry.get("basic.auth.user.info", "")
        return [user_info, user_info.partition(":")[2]] if user_info else []


def read_kafka_config(path: str | None) -> KafkaConfig:
    """The settings in `path`; with no path, config.ini when present, else localhost:9092."""
    if path is None and not DEFAULT_CONFIG.exists():
        return KafkaConfig({"bootstrap.servers": DEFAULT_BOOTSTRAP_SERVERS})
    config_file = Path(path) if path is not None else DEFAULT_CONFIG
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # librdkafka keys are case-sensitive
    try:
        with open(config_file, encoding="utf-8") as text:
            parser.read_file(text)
    except FileNotFoundError:
        raise ConfigError(
            f"{config_file}: no such file (copy config.ini.example to {config_file})"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{config_file}: cannot read it: {error}") from None
    except configparser.Error as error:
        first_line = str(error).splitlines()[0]
        raise ConfigError(f"{config_file}: not a valid INI file: {first_line}") from None
    unknown = [name for name in parser.sections() if name not in SECTIONS]
    if unknown:
        raise ConfigError(
            f"{config_file}: unknown section [{unknown[0]}] "
            "(expected [default], [producer], [consumer] and [schema_registry])"
        )
    common = section(parser, "default")
    if not common.get("bootstrap.servers"):
        raise ConfigError(f"{config_file}: set bootstrap.servers in [default]")
    registry = section(parser, "schema_registry")
    if parser.has_section("schema_registry"):
        check_registry_settings(registry, config_file)
    return KafkaConfig(
        common,
        section(parser, "producer"),
        section(parser, "consumer"),
        str(config_file),
        registry,
    )


def check_registry_settings(settings: dict[str, str], config_file: Path) -> None:
    """[schema_registry] names a registry by an http(s) URL and holds only known keys."""
    unknown = [key for key in settings if key not in REGISTRY_KEYS]
    if unknown:
        raise ConfigError(
            f"{config_file}: unknown key {unknown[0]} in [schema_registry] "
            f"(expected {', '.join(REGISTRY_KEYS)})"
        )
    urls = [url.strip() for url in settings.get("url", "").split(",") if url.strip()]
    if not urls:
        raise ConfigError(
            f"{config_file}: set url in [schema_registry] "
            "(for the local registry: url=http://localhost:8080/apis/ccompat/v7)"
        )
    for url in urls:
        if not url.startswith(("http://", "https://")) or "@" in url:
            raise ConfigError(
                f"{config_file}: url in [schema_registry] must be http:// or https:// "
                "without credentials (they go in basic.auth.user.info)"
            )
    user_info = settings.get("basic.auth.user.info")
    if user_info is not None and ":" not in user_info:
        raise ConfigError(
            f"{config_file}: basic.auth.user.info in [schema_registry] must be "
            "<API key>:<API secret>"
        )
    timeout = settings.get("timeout")
    if timeout is not None:
        try:
            valid = float(timeout) > 0
        except ValueError:
            valid = False
        if not valid:
            raise ConfigError(
                f"{config_file}: timeout in [schema_registry] must be a number of seconds above 0"
            )


def section(parser: configparser.ConfigParser, name: str) -> dict[str, str]:
    return dict(parser.items(name)) if parser.has_section(name) else {}


def waqi_token(env_file: str = ".env") -> str:
    """WAQI_TOKEN from the environment, else from .env; a missing one is a ConfigError."""
    load_dotenv(env_file, override=False)
    token = os.environ.get("WAQI_TOKEN", "").strip()
    if not token:
        raise ConfigError(f"WAQI_TOKEN is not set: {TOKEN_HELP} as WAQI_TOKEN=...")
    return token
