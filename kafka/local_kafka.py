"""Run a real Apache Kafka (KRaft) on this machine from Maven Central jars, without Docker.

    local_kafka.py up [--nodes 1|3]      start a broker (or cluster); a no-op if it runs
    local_kafka.py down [--clean]        stop what `up` started; --clean wipes its data
    local_kafka.py status                say what runs, per node
    local_kafka.py stop-node I [--kill]  stop one node (SIGTERM, or SIGKILL with --kill)
    local_kafka.py start-node I          start one stopped node again, keeping its data
    local_kafka.py probe [SERVERS]       exit 0 if a broker answers (at localhost:9092)

Every node is a combined broker+controller. Node i listens for clients on base_port + 2(i-1)
and for the controller quorum on the port after it: 9092/9093, 9094/9095, 9096/9097.
State lives in --run-dir (default kafka/.run): the cluster's settings, and per node its
server.properties, data, server.log and pid. The jars are resolved once into kafka/.run/libs.

Only this script knows how the broker was started; the project reaches Kafka through
bootstrap.servers alone.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

KAFKA_DIR = Path(__file__).resolve().parent
POM = KAFKA_DIR / "pom.xml"
LIBS = KAFKA_DIR / ".run" / "libs"
LOG4J_CONFIG = KAFKA_DIR / "log4j2.properties"
MIN_JAVA = 17


class SetupError(Exception):
    """Something the person running the script has to fix; the message says what to do."""


class StartFailed(Exception):
    """The broker was started but did not become ready; the message holds its log's tail."""


class NoBroker(Exception):
    """`probe` found nothing answering."""


@dataclass(frozen=True)
class Cluster:
    run_dir: Path
    nodes: int
    base_port: int
    heap: str

    def client_port(self, node: int) -> int:
        return self.base_port + 2 * (node - 1)

    def controller_port(self, node: int) -> int:
        return self.client_port(node) + 1

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"localhost:{self.client_port(n)}" for n in self.node_ids)

    @property
    def node_ids(self) -> range:
        return range(1, self.nodes + 1)

    def node_dir(self, node: int) -> Path:
        return self.run_dir / f"node-{node}"

    def pid_file(self, node: int) -> Path:
        return self.node_dir(node) / "pid"

    def log_file(self, node: int) -> Path:
        return self.node_dir(node) / "server.log"

    def properties_file(self, node: int) -> Path:
        return self.node_dir(node) / "server.properties"


# ---------------------------------------------------------------- pure: configuration


def shown(path: Path) -> str:
    """A path as a person reads it: relative to the current directory when inside it."""
    path = path.resolve()
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def server_properties(cluster: Cluster, node: int) -> str:
    """The broker+controller settings of one node."""
    replicas = cluster.nodes
    # With 3 nodes, acks=all must survive one node down but not two: min ISR 2 of 3.
    min_isr = 2 if replicas >= 3 else 1
    voters = ",".join(f"{n}@localhost:{cluster.controller_port(n)}" for n in cluster.node_ids)
    settings = {
        "process.roles": "broker,controller",
        "node.id": node,
        "controller.quorum.voters": voters,
        "listeners": (
            f"PLAINTEXT://localhost:{cluster.client_port(node)},"
            f"CONTROLLER://localhost:{cluster.controller_port(node)}"
        ),
        "advertised.listeners": f"PLAINTEXT://localhost:{cluster.client_port(node)}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": cluster.node_dir(node) / "data",
        "num.partitions": 1,
        "default.replication.factor": replicas,
        "min.insync.replicas": min_isr,
        "offsets.topic.replication.factor": replicas,
        # Fewer partitions than the production default of 50: the internal topics of a
        # laptop cluster are created in a blink instead of seconds.
        "offsets.topic.num.partitions": 10,
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": min_isr,
        "transaction.state.log.num.partitions": 10,
        "share.coordinator.state.topic.replication.factor": replicas,
        "share.coordinator.state.topic.min.isr": min_isr,
        "group.initial.rebalance.delay.ms": 0,
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def new_cluster_id() -> str:
    """16 random bytes, base64url without padding, not starting with '-' (as Kafka's Uuid)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def java_major_version(version_output: str) -> int | None:
    """17 from 'openjdk version "17.0.15" 2025-04-15'; 8 from 'java version "1.8.0_392"'."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


# ---------------------------------------------------------------- the machine


def check_tools() -> str:
    """Return the java executable, or say what to install."""
    java = shutil.which("java")
    if java is None:
        raise SetupError(f"java not found: install a Java {MIN_JAVA}+ JDK and put java on PATH")
    output = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    major = java_major_version(output)
    if major is None or major < MIN_JAVA:
        raise SetupError(
            f"Kafka 4 needs Java {MIN_JAVA} or newer, found {major or 'an unknown version'} "
            f"at {java}: install Java {MIN_JAVA}+ or put it first on PATH"
        )
    return java


def resolve_jars() -> Path:
    """Copy the broker's jars from Maven (cached in ~/.m2) once per pom.xml version."""
    copy_from_maven(POM, LIBS, "the Kafka jars")
    return LIBS


def copy_from_maven(pom: Path, output: Path, what: str) -> bool:
    """Copy what `pom` depends on into `output`, from Maven Central (cached in ~/.m2), once
    per version of the pom; whether it copied anew."""
    stamp = output / ".pom-sha256"
    pom_hash = hashlib.sha256(pom.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == pom_hash:
        return False
    mvn = shutil.which("mvn")
    if mvn is None:
        raise SetupError(f"mvn not found: install Apache Maven (it fetches {what})")
    print(f"Resolving {what} of {pom.name} from Maven Central into {shown(output)} ...")
    if output.exists():
        shutil.rmtree(output)
    result = subprocess.run(
        [
            mvn,
            "-B",
            "-q",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={output}",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
        raise SetupError(f"mvn could not resolve {what}:\n{tail}")
    stamp.write_text(pom_hash)
    return True


def kafka_jar(libs: Path) -> str:
    jars = sorted(libs.glob("kafka_2.13-*.jar"))
    return jars[0].name if jars else "no kafka_2.13 jar"


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def read_pid(cluster: Cluster, node: int) -> int | None:
    """The pid of a running node of ours, or None (a stale pid file is ignored)."""
    # The pid may have been reused by another program: ours runs our properties file.
    return running_pid(cluster.pid_file(node), str(cluster.properties_file(node)).encode())


def running_pid(pid_file: Path, marker: bytes) -> int | None:
    """The pid in `pid_file`, if that process runs and its command line holds `marker`."""
    try:
        pid = int(pid_file.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if marker in cmdline and not is_zombie(pid) else None


def java_command(java: str, libs: Path, heap: str, *args: str) -> list[str]:
    return [
        java,
        f"-Xms{heap}",
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
        "-cp",
        f"{libs}/*",
        *args,
    ]


def format_storage(java: str, libs: Path, cluster: Cluster, node: int, cluster_id: str) -> None:
    if (cluster.node_dir(node) / "data" / "meta.properties").exists():
        return
    result = subprocess.run(
        java_command(
            java,
            libs,
            "256m",
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(cluster.properties_file(node)),
        ),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SetupError(f"formatting node {node} failed:\n{result.stdout}{result.stderr}")


def start_node(java: str, libs: Path, cluster: Cluster, node: int) -> subprocess.Popen:
    with open(cluster.log_file(node), "ab") as log:
        process = subprocess.Popen(
            java_command(
                java, libs, cluster.heap, "kafka.Kafka", str(cluster.properties_file(node))
            ),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own session: a Ctrl-C meant for `make` does not reach the broker;
            # it is stopped by `down`, in order.
            start_new_session=True,
        )
    cluster.pid_file(node).write_text(str(process.pid))
    return process


def broker_count(bootstrap_servers: str) -> int:
    """How many brokers one metadata request lists (0 when none answers)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap_servers, "log_level": 0})
    try:
        return len(admin.list_topics(timeout=2).brokers)
    except Exception:
        return 0


def log_tail(cluster: Cluster, node: int, lines: int = 30) -> str:
    return file_tail(cluster.log_file(node), lines)


def file_tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def wait_until_ready(
    cluster: Cluster, started: dict[int, subprocess.Popen], timeout: float
) -> None:
    """Ready means a metadata request lists every node; a node that exits fails fast."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for node, process in started.items():
            if process.poll() is not None:
                cluster.pid_file(node).unlink(missing_ok=True)
                raise StartFailed(
                    f"Kafka node {node} exited during start-up; the tail of "
                    f"{cluster.log_file(node)}:\n{log_tail(cluster, node)}"
                )
        if broker_count(cluster.bootstrap_servers) >= cluster.nodes:
            return
        time.sleep(0.5)
    tails = "\n".join(
        f"--- {cluster.log_file(n)}\n{log_tail(cluster, n)}" for n in cluster.node_ids
    )
    raise StartFailed(f"Kafka was not ready after {timeout:.0f} s:\n{tails}")


def stop_pid(pid: int, kill: bool) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)


def wait_for_exit(pids: list[int], timeout: float) -> list[int]:
    """Wait for the pids to exit; return those still alive."""
    deadline = time.monotonic() + timeout
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if Path(f"/proc/{pid}").exists() and not is_zombie(pid)]
        if alive:
            time.sleep(0.2)
    return alive


def is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z")
    except OSError:
        return True


# ---------------------------------------------------------------- commands


def load_cluster(run_dir: Path) -> Cluster | None:
    try:
        saved = json.loads((run_dir / "cluster.json").read_text())
    except (OSError, ValueError):
        return None
    return Cluster(run_dir, saved["nodes"], saved["base_port"], saved["heap"])


def running_nodes(cluster: Cluster) -> list[int]:
    return [node for node in cluster.node_ids if read_pid(cluster, node) is not None]


def command_up(args: argparse.Namespace) -> None:
    run_dir = args.run_dir
    existing = load_cluster(run_dir)
    if existing and running_nodes(existing):
        if existing.nodes != args.nodes or existing.base_port != args.base_port:
            raise SetupError(
                f"a {existing.nodes}-node Kafka from {run_dir} is already running at "
                f"{existing.bootstrap_servers}: stop it first with `make kafka-down`"
            )
        if len(running_nodes(existing)) == existing.nodes:
            print(f"Kafka is already running at {existing.bootstrap_servers}; nothing to do.")
            return
    cluster = Cluster(run_dir, args.nodes, args.base_port, args.heap)
    if existing and (existing.nodes, existing.base_port) != (cluster.nodes, cluster.base_port):
        raise SetupError(
            f"{run_dir} holds the data of a {existing.nodes}-node cluster on port "
            f"{existing.base_port}: wipe it with `make kafka-down CLEAN=1` first"
        )
    java = check_tools()
    stopped = [n for n in cluster.node_ids if read_pid(cluster, n) is None]
    for node in stopped:
        for port in (cluster.client_port(node), cluster.controller_port(node)):
            if not port_is_free(port):
                raise SetupError(
                    f"port {port} is already in use by another program: stop it, or "
                    f"start Kafka on other ports with --base-port"
                )
    libs = resolve_jars()
    cluster_id = existing_cluster_id(run_dir) or new_cluster_id()
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "cluster.json").write_text(
        json.dumps(
            {
                "nodes": cluster.nodes,
                "base_port": cluster.base_port,
                "heap": cluster.heap,
                "cluster_id": cluster_id,
            }
        )
    )
    for node in stopped:
        cluster.node_dir(node).mkdir(parents=True, exist_ok=True)
        cluster.properties_file(node).write_text(server_properties(cluster, node))
        format_storage(java, libs, cluster, node, cluster_id)
    print(
        f"Starting Apache Kafka ({kafka_jar(libs)}, from Maven Central jars), "
        f"{cluster.nodes} node(s), heap {cluster.heap} each ..."
    )
    began = time.monotonic()
    started = {node: start_node(java, libs, cluster, node) for node in stopped}
    wait_until_ready(cluster, started, args.timeout)
    print(
        f"Kafka is ready at {cluster.bootstrap_servers} ({cluster.nodes} node(s) in metadata, "
        f"{time.monotonic() - began:.1f} s); logs in {shown(run_dir)}/node-*/server.log"
    )


def existing_cluster_id(run_dir: Path) -> str | None:
    try:
        return json.loads((run_dir / "cluster.json").read_text())["cluster_id"]
    except (OSError, ValueError, KeyError):
        return None


def command_down(args: argparse.Namespace) -> None:
    cluster = load_cluster(args.run_dir)
    if cluster is None:
        print("No local Kafka was started from here; nothing to stop.")
    else:
        pids = [pid for n in cluster.node_ids if (pid := read_pid(cluster, n)) is not None]
        for pid in pids:
            stop_pid(pid, kill=False)
        # A node that cannot finish its controlled shutdown (its quorum already gone) is killed.
        for pid in wait_for_exit(pids, timeout=30):
            stop_pid(pid, kill=True)
        wait_for_exit(pids, timeout=10)
        for node in cluster.node_ids:
            cluster.pid_file(node).unlink(missing_ok=True)
        print(f"Stopped Kafka at {cluster.bootstrap_servers} ({len(pids)} process(es)).")
    if args.clean and args.run_dir.exists():
        shutil.rmtree(args.run_dir)
        print(f"Wiped {shown(args.run_dir)}.")


def command_status(args: argparse.Namespace) -> None:
    cluster = load_cluster(args.run_dir)
    if cluster is None:
        print("No local Kafka was started from here.")
        return
    for node in cluster.node_ids:
        pid = read_pid(cluster, node)
        state = f"running (pid {pid})" if pid else "stopped"
        print(f"node {node}: localhost:{cluster.client_port(node)} {state}")


def require_cluster_node(args: argparse.Namespace) -> Cluster:
    cluster = load_cluster(args.run_dir)
    if cluster is None:
        raise SetupError(f"no local Kafka in {args.run_dir}: start one with `make kafka-up`")
    if args.node not in cluster.node_ids:
        raise SetupError(f"node {args.node} does not exist: nodes are 1..{cluster.nodes}")
    return cluster


def command_stop_node(args: argparse.Namespace) -> None:
    cluster = require_cluster_node(args)
    pid = read_pid(cluster, args.node)
    if pid is None:
        print(f"node {args.node} is not running.")
        return
    stop_pid(pid, kill=args.kill)
    if wait_for_exit([pid], timeout=30):
        stop_pid(pid, kill=True)
        wait_for_exit([pid], timeout=10)
    cluster.pid_file(args.node).unlink(missing_ok=True)
    print(f"node {args.node} stopped ({'SIGKILL' if args.kill else 'SIGTERM'}).")


def command_start_node(args: argparse.Namespace) -> None:
    cluster = require_cluster_node(args)
    if read_pid(cluster, args.node) is not None:
        print(f"node {args.node} is already running.")
        return
    for port in (cluster.client_port(args.node), cluster.controller_port(args.node)):
        if not port_is_free(port):
            raise SetupError(f"port {port} is already in use by another program")
    start_node(check_tools(), resolve_jars(), cluster, args.node)
    print(f"node {args.node} started at localhost:{cluster.client_port(args.node)}.")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=KAFKA_DIR / ".run" / "cluster",
        help="where the cluster keeps settings, data, logs, pids (default kafka/.run/cluster)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start a broker, or a cluster of --nodes")
    up.add_argument("--nodes", type=int, choices=(1, 3), default=1)
    up.add_argument("--base-port", type=int, default=9092, help="first client port (9092)")
    up.add_argument("--heap", default="512m", help="JVM heap per node (512m)")
    up.add_argument("--timeout", type=float, default=90, help="seconds to wait for readiness")
    down = commands.add_parser("down", help="stop what `up` started")
    down.add_argument("--clean", action="store_true", help="also wipe the data")
    commands.add_parser("status", help="say which nodes run")
    stop = commands.add_parser("stop-node", help="stop one node")
    stop.add_argument("node", type=int)
    stop.add_argument("--kill", action="store_true", help="SIGKILL instead of SIGTERM")
    start = commands.add_parser("start-node", help="start one stopped node again")
    start.add_argument("node", type=int)
    probe = commands.add_parser("probe", help="exit 0 if a broker answers, 1 if none does")
    probe.add_argument("bootstrap_servers", nargs="?", default="localhost:9092")
    return parser.parse_args(argv)


def command_probe(args: argparse.Namespace) -> None:
    if broker_count(args.bootstrap_servers) == 0:
        raise NoBroker(f"no Kafka broker answers at {args.bootstrap_servers}")
    print(f"A Kafka broker answers at {args.bootstrap_servers}.")


COMMANDS = {
    "up": command_up,
    "down": command_down,
    "status": command_status,
    "stop-node": command_stop_node,
    "start-node": command_start_node,
    "probe": command_probe,
}


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    args.run_dir = args.run_dir.resolve()
    try:
        COMMANDS[args.command](args)
    except SetupError as error:
        print(f"local_kafka: {error}", file=sys.stderr)
        return 2
    except NoBroker as error:
        print(f"local_kafka: {error}", file=sys.stderr)
        return 1
    except StartFailed as error:
        print(f"local_kafka: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
