#!/usr/bin/env python3
"""What scripts/demo.sh needs to know, found the way producer.py and consumer.py find it.

    demo_settings.py [CONFIG]                    "<bootstrap servers> real|simulator"
    demo_settings.py --sim-start TOPIC [CONFIG]  when the simulator's clock should start
    demo_settings.py --registry-url [CONFIG]     CONFIG's [schema_registry] url, if any
    demo_settings.py --with-registry URL [CONFIG]  CONFIG's text, with that registry in it

Exit codes: 0, or 2 with one line on stderr when CONFIG is unusable.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Run as a script from anywhere: the library is one directory up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aqistream.config import (  # noqa: E402
    DEFAULT_BOOTSTRAP_SERVERS,
    DEFAULT_CONFIG,
    ConfigError,
    KafkaConfig,
    read_kafka_config,
    waqi_token,
)
from aqistream.kafka.latest import ReadFailed, latest_topic, read_to_end  # noqa: E402
from aqistream.kafka.values import ValueCodec  # noqa: E402
from aqistream.record import InvalidRecord  # noqa: E402
from aqistream.registry.failures import RegistryUnavailable  # noqa: E402


def waqi_source() -> str:
    """ "real" when WAQI_TOKEN is set (environment, else .env), as the producer reads it."""
    try:
        waqi_token()
    except ConfigError:
        return "simulator"
    return "real"


def simulator_start(config: KafkaConfig, topic: str) -> str:
    """An hour after the newest reading an earlier demo published to `topic`, if that is
    later than now; else nothing (the simulator starts at the real time).

    The simulator's clock runs fast, so an earlier demo's readings can lie hours ahead of
    the real time. A simulator restarted at the real time would serve only older ones,
    which the producer rightly does not publish again: the demo would show nothing new.
    """
    newest = ""
    values = ValueCodec(config.schema_registry)
    settings = {**config.common, "log_level": 0}
    try:
        for message in read_to_end(settings, latest_topic(topic), timeout=30):
            try:
                record = values.decode(message.topic(), message.value()).record
            except InvalidRecord:
                continue
            newest = max(newest, record["observed_at"])
    except (ReadFailed, RegistryUnavailable):
        return ""  # no such topic yet (a first demo on this broker), or no registry yet
    if not newest:
        return ""
    start = datetime.fromisoformat(newest) + timedelta(hours=1)
    return start.strftime("%Y-%m-%dT%H:%M:%SZ") if start > datetime.now(UTC) else ""


def with_registry(config: KafkaConfig, path: str | None, url: str) -> str:
    """The config file's text with [schema_registry] url=URL, unless it has the section."""
    if config.schema_registry:
        return Path(config.source).read_text(encoding="utf-8")
    if path is not None or DEFAULT_CONFIG.exists():
        text = Path(path or DEFAULT_CONFIG).read_text(encoding="utf-8")
    else:
        text = f"[default]\nbootstrap.servers={DEFAULT_BOOTSTRAP_SERVERS}\n"
    return f"{text.rstrip()}\n\n[schema_registry]\nurl={url}\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="demo_settings.py")
    parser.add_argument("config", nargs="?", metavar="CONFIG")
    parser.add_argument("--sim-start", metavar="TOPIC")
    parser.add_argument("--registry-url", action="store_true")
    parser.add_argument("--with-registry", metavar="URL")
    args = parser.parse_args(argv)
    try:
        config = read_kafka_config(args.config)
        if args.sim_start:
            print(simulator_start(config, args.sim_start))
        elif args.registry_url:
            print(config.schema_registry.get("url", "").split(",")[0].strip())
        elif args.with_registry:
            print(with_registry(config, args.config, args.with_registry), end="")
        else:
            print(config.bootstrap_servers, waqi_source())
    except ConfigError as error:  # config.ini, or a registry refusing its credentials
        print(f"demo: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
