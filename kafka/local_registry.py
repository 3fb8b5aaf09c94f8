"""Run Apicurio Registry on this machine from Maven Central, without Docker, beside Kafka.

    local_registry.py up      start it (a no-op if it runs); it needs a Kafka broker
    local_registry.py down [--clean]   stop it; --clean also deletes its schemas (topics)
    local_registry.py status  say whether it runs
    local_registry.py probe [URL]      exit 0 if a schema registry answers there

Apicurio Registry 3.3 (io.apicurio:apicurio-registry-app, a Quarkus application) speaks
Confluent's Schema Registry API at /apis/ccompat/v7, which is what the project's clients
use: http://localhost:8080/apis/ccompat/v7 by default. Its HTTP port and its management
port (health, metrics) listen on 127.0.0.1 only. Schemas live in Kafka (kafkasql storage:
the topic <prefix>-journal, and <prefix>-snapshots), so they survive a restart; the broker
is the one of --bootstrap-servers. It needs Java 21 or newer (Java 17 fails with
UnsupportedClassVersionError): JAVA_HOME if it is one, else java on PATH, else the newest
JDK 21+ in /usr/lib/jvm.

State lives in --run-dir (default kafka/.run/registry): its settings, pid and log. The
application is resolved once into kafka/.run/registry-dist and unpacked beside it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from local_kafka import (
    KAFKA_DIR,
    NoBroker,
    SetupError,
    StartFailed,
    broker_count,
    copy_from_maven,
    file_tail,
    java_major_version,
    port_is_free,
    running_pid,
    shown,
    stop_pid,
    wait_for_exit,
)

POM = KAFKA_DIR / "registry-pom.xml"
DIST = KAFKA_DIR / ".run" / "registry-dist"
APP = KAFKA_DIR / ".run" / "registry-app"
MIN_JAVA = 21
JVM_DIR = Path("/usr/lib/jvm")  # where Debian, and Temurin's packages, install JDKs
API_PATH = "/apis/ccompat/v7"


@dataclass(frozen=True)
class Registry:
    run_dir: Path
    port: int
    management_port: int
    bootstrap_servers: str
    topic_prefix: str
    heap: str

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}{API_PATH}"

    @property
    def ready_url(self) -> str:
        return f"http://127.0.0.1:{self.management_port}/health/ready"

    @property
    def topics(self) -> list[str]:
        return [f"{self.topic_prefix}-{name}" for name in ("journal", "snapshots", "events")]

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "registry.log"

    @property
    def settings_file(self) -> Path:
        return self.run_dir / "registry.json"


# ---------------------------------------------------------------- pure: configuration


def registry_properties(registry: Registry) -> dict[str, str]:
    """Apicurio's settings: loopback only, schemas in Kafka."""
    journal, snapshots, events = registry.topics
    return {
        "quarkus.http.host": "127.0.0.1",
        "quarkus.http.port": str(registry.port),
        "quarkus.management.host": "127.0.0.1",
        "quarkus.management.port": str(registry.management_port),
        "apicurio.storage.kind": "kafkasql",
        "apicurio.kafkasql.bootstrap.servers": registry.bootstrap_servers,
        "apicurio.kafkasql.topic": journal,
        "apicurio.kafkasql.snapshots.topic": snapshots,
        # Otherwise every registry on the broker shares one events topic, registry-events.
        "apicurio.events.kafka.topic": events,
        # Start-up reads the journal with polls this long: Apicurio's 5 s costs ~20 s.
        "apicurio.kafkasql.consumer.poll.timeout": "200",
        # One line per request (every consumer asking for a schema) is not worth a log.
        "quarkus.http.access-log.enabled": "false",
    }


def java_command(java: str, app: Path, registry: Registry) -> list[str]:
    return [
        java,
        f"-Xmx{registry.heap}",
        # A small service on a small machine: the quick compiler and the serial collector
        # start it sooner and keep it smaller.
        "-XX:TieredStopAtLevel=1",
        "-XX:+UseSerialGC",
        "-Djava.awt.headless=true",
        # Marks the process as this run directory's (see read_pid).
        f"-Daqistream.registry.run-dir={registry.run_dir}",
        *(f"-D{key}={value}" for key, value in registry_properties(registry).items()),
        "-jar",
        str(app / "quarkus-run.jar"),
    ]


# ---------------------------------------------------------------- the machine


def find_java() -> tuple[str, int]:
    """A java of version MIN_JAVA or newer, and its version: JAVA_HOME's, PATH's, or the
    newest in /usr/lib/jvm; else say what to install."""
    candidates: list[str] = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(str(Path(os.environ["JAVA_HOME"]) / "bin" / "java"))
    if shutil.which("java"):
        candidates.append(shutil.which("java"))
    candidates += [str(path) for path in sorted(JVM_DIR.glob("*/bin/java"))]
    found: dict[str, int] = {}
    for java in dict.fromkeys(candidates):
        try:
            output = subprocess.run(
                [java, "-version"], capture_output=True, text=True, timeout=30
            ).stderr
        except OSError:
            continue
        major = java_major_version(output)
        if major is not None:
            found[java] = major
    for java in dict.fromkeys(candidates[:2]):  # JAVA_HOME, then PATH
        if found.get(java, 0) >= MIN_JAVA:
            return java, found[java]
    newest = max(found, key=found.get, default=None)
    if newest is not None and found[newest] >= MIN_JAVA:
        return newest, found[newest]
    seen = ", ".join(f"{major} ({java})" for java, major in found.items()) or "none"
    raise SetupError(
        f"Apicurio Registry 3 needs Java {MIN_JAVA} or newer (found: {seen}): install a "
        f"JDK {MIN_JAVA}+ (Temurin, or Debian's openjdk-21-jre-headless) and set JAVA_HOME to it"
    )


def resolve_app() -> Path:
    """The application, from Maven Central once per registry-pom.xml version, unpacked."""
    copied = copy_from_maven(POM, DIST, "Apicurio Registry")
    if copied or not (APP / "quarkus-run.jar").exists():
        archives = sorted(DIST.glob("apicurio-registry-app-*-all.tar.gz"))
        if not archives:
            raise SetupError(f"no apicurio-registry-app archive in {shown(DIST)}")
        if APP.exists():
            shutil.rmtree(APP)
        with tarfile.open(archives[0]) as archive:
            archive.extractall(APP, filter="data")
    return APP


def app_version() -> str:
    archives = sorted(DIST.glob("apicurio-registry-app-*-all.tar.gz"))
    return archives[0].name.removesuffix("-all.tar.gz") if archives else "apicurio-registry-app"


def read_pid(registry: Registry) -> int | None:
    """The pid of this run directory's registry, if it runs (stale pid files are ignored)."""
    marker = f"-Daqistream.registry.run-dir={registry.run_dir}\0".encode()
    return running_pid(registry.pid_file, marker)


def free_port() -> int:
    """A port nothing listens on now (for --port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_until_ready(registry: Registry, process: subprocess.Popen, timeout: float) -> None:
    """Ready: the management port reports ready (storage bootstrapped) and the API answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            registry.pid_file.unlink(missing_ok=True)
            raise StartFailed(
                f"Apicurio Registry exited during start-up; the tail of "
                f"{shown(registry.log_file)}:\n{file_tail(registry.log_file)}"
            )
        if answers(registry.ready_url) and answers(f"{registry.url}/subjects"):
            return
        time.sleep(0.3)
    raise StartFailed(
        f"Apicurio Registry was not ready after {timeout:.0f} s; the tail of "
        f"{shown(registry.log_file)}:\n{file_tail(registry.log_file)}"
    )


def delete_topics(registry: Registry) -> bool:
    """Forget every schema: delete the topics kafkasql keeps them in; False when the broker
    does not answer (and its topics are left as they are)."""
    from confluent_kafka.admin import AdminClient

    if broker_count(registry.bootstrap_servers) == 0:
        return False
    admin = AdminClient({"bootstrap.servers": registry.bootstrap_servers, "log_level": 0})
    futures = admin.delete_topics(registry.topics, operation_timeout=30, request_timeout=30)
    for future in futures.values():
        with contextlib.suppress(Exception):  # one never created: nothing to delete
            future.result()
    return True


# ---------------------------------------------------------------- commands


def load_registry(run_dir: Path) -> Registry | None:
    try:
        saved = json.loads((run_dir / "registry.json").read_text())
    except (OSError, ValueError):
        return None
    return Registry(run_dir=run_dir, **{k: v for k, v in saved.items() if k != "run_dir"})


def command_up(args: argparse.Namespace) -> None:
    existing = load_registry(args.run_dir)
    if existing and read_pid(existing) is not None:
        print(f"Apicurio Registry is already running at {existing.url}; nothing to do.")
        return
    registry = Registry(
        args.run_dir,
        args.port or free_port(),
        args.management_port or free_port(),
        args.bootstrap_servers,
        args.topic_prefix,
        args.heap,
    )
    java, java_version = find_java()
    for port in (registry.port, registry.management_port):
        if not port_is_free(port):
            raise SetupError(
                f"port {port} is already in use by another program: stop it, or start "
                "the registry on other ports with --port and --management-port"
            )
    if broker_count(registry.bootstrap_servers) == 0:
        raise SetupError(
            f"no Kafka broker answers at {registry.bootstrap_servers}: the registry keeps its "
            "schemas in Kafka; start one first (`make kafka-up`)"
        )
    app = resolve_app()
    registry.run_dir.mkdir(parents=True, exist_ok=True)
    saved = {k: v for k, v in asdict(registry).items() if k != "run_dir"}
    registry.settings_file.write_text(json.dumps(saved))
    print(
        f"Starting Apicurio Registry ({app_version()}, from Maven Central) on Java "
        f"{java_version}; schemas kept in Kafka topic {registry.topics[0]} at "
        f"{registry.bootstrap_servers} ..."
    )
    began = time.monotonic()
    with open(registry.log_file, "ab") as log:
        process = subprocess.Popen(
            java_command(java, app, registry),
            cwd=registry.run_dir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own session: a Ctrl-C meant for `make` does not reach it; `down` stops it.
            start_new_session=True,
        )
    registry.pid_file.write_text(str(process.pid))
    wait_until_ready(registry, process, args.timeout)
    print(
        f"Apicurio Registry is ready at {registry.url} ({time.monotonic() - began:.1f} s); "
        f"log in {shown(registry.log_file)}"
    )


def command_down(args: argparse.Namespace) -> None:
    registry = load_registry(args.run_dir)
    if registry is None:
        print("No local Apicurio Registry was started from here; nothing to stop.")
        return
    pid = read_pid(registry)
    if pid is not None:
        stop_pid(pid, kill=False)
        if wait_for_exit([pid], timeout=30):
            stop_pid(pid, kill=True)
            wait_for_exit([pid], timeout=10)
    registry.pid_file.unlink(missing_ok=True)
    if pid is None:
        print(f"Apicurio Registry at {registry.url} was not running.")
    else:
        print(f"Stopped Apicurio Registry at {registry.url}.")
    if args.clean:
        if delete_topics(registry):
            print(f"Deleted its schemas: topics {', '.join(registry.topics)}.")
        else:
            print(f"No Kafka broker answers at {registry.bootstrap_servers}: its schemas stay.")
        shutil.rmtree(registry.run_dir, ignore_errors=True)


def command_status(args: argparse.Namespace) -> None:
    registry = load_registry(args.run_dir)
    pid = read_pid(registry) if registry else None
    if registry is None:
        print("No local Apicurio Registry was started from here.")
    elif pid is None:
        print(f"Apicurio Registry at {registry.url}: stopped")
    else:
        print(f"Apicurio Registry at {registry.url}: running (pid {pid})")


def command_probe(args: argparse.Namespace) -> None:
    if not answers(f"{args.url.rstrip('/')}/subjects"):
        raise NoBroker(f"no schema registry answers at {args.url}")
    print(f"A schema registry answers at {args.url}.")


COMMANDS = {
    "up": command_up,
    "down": command_down,
    "status": command_status,
    "probe": command_probe,
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=KAFKA_DIR / ".run" / "registry",
        help="where the registry keeps its settings, pid and log (default kafka/.run/registry)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the registry")
    up.add_argument(
        "--port", type=int, default=8080, help="HTTP port, on 127.0.0.1 (8080; 0: a free one)"
    )
    up.add_argument(
        "--management-port",
        type=int,
        default=9000,
        help="health and metrics port, on 127.0.0.1 (9000; 0: a free one)",
    )
    up.add_argument(
        "--bootstrap-servers", default="localhost:9092", help="the Kafka that keeps the schemas"
    )
    up.add_argument(
        "--topic-prefix",
        default="aqi-stream-registry",
        help="names of its Kafka topics: PREFIX-journal, -snapshots, -events",
    )
    up.add_argument("--heap", default="256m", help="JVM heap (256m)")
    up.add_argument("--timeout", type=float, default=120, help="seconds to wait for readiness")
    down = commands.add_parser("down", help="stop the registry")
    down.add_argument("--clean", action="store_true", help="also delete its schemas")
    commands.add_parser("status", help="say whether it runs")
    probe = commands.add_parser("probe", help="exit 0 if a schema registry answers")
    probe.add_argument("url", nargs="?", default=f"http://localhost:8080{API_PATH}")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    args.run_dir = args.run_dir.resolve()
    try:
        COMMANDS[args.command](args)
    except SetupError as error:
        print(f"local_registry: {error}", file=sys.stderr)
        return 2
    except (NoBroker, StartFailed) as error:
        print(f"local_registry: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
