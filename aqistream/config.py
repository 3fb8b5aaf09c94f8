"""Configuration from the places the Confluent getting-started layout puts it.

config.ini holds librdkafka settings: [default] for both clients, [producer] and [consumer]
for one each. The WAQI token comes from WAQI_TOKEN in the environment or in .env, never from
the command line (where `ps` and shell history would show it).
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


class ConfigError(Exception):
    """Bad usage or configuration: the message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class KafkaConfig:
    """librdkafka settings: `common` for every client, plus each role's own."""

    common: dict[str, str]
    producer: dict[str, str] = field(default_factory=dict)
    consumer: dict[str, str] = field(default_factory=dict)
    source: str = "defaults"

    @property
    def bootstrap_servers(self) -> str:
        return self.common["bootstrap.servers"]


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
    unknown = [
        name for name in parser.sections() if name not in ("default", "producer", "consumer")
    ]
    if unknown:
        raise ConfigError(
            f"{config_file}: unknown section [{unknown[0]}] "
            "(expected [default], [producer] and [consumer])"
        )
    common = section(parser, "default")
    if not common.get("bootstrap.servers"):
        raise ConfigError(f"{config_file}: set bootstrap.servers in [default]")
    return KafkaConfig(
        common, section(parser, "producer"), section(parser, "consumer"), str(config_file)
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
