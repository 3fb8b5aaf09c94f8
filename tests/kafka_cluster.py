"""Private Kafka clusters for tests that stop, kill or restart brokers.

Each one is started by kafka/local_kafka.py on its own free ports and run directory, so it
never disturbs the shared broker at localhost:9092 that the rest of the suite uses.
"""

from __future__ import annotations

import random
import socket
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "kafka" / "local_kafka.py"


def free_base_port(nodes: int) -> int:
    """An even port p where p .. p + 2*nodes - 1 are all free."""
    for _ in range(200):
        base = random.randrange(20000, 40000, 2)
        if all(port_is_free(port) for port in range(base, base + 2 * nodes)):
            return base
    raise RuntimeError("no free ports for a private Kafka")


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class LocalKafka:
    def __init__(self, run_dir: Path, nodes: int = 1, heap: str = "384m"):
        self.run_dir = run_dir
        self.nodes = nodes
        self.heap = heap
        self.base_port = free_base_port(nodes)

    @property
    def bootstrap_servers(self) -> str:
        ports = (self.base_port + 2 * n for n in range(self.nodes))
        return ",".join(f"localhost:{port}" for port in ports)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, str(SCRIPT), "--run-dir", str(self.run_dir), *args],
            capture_output=True,
            text=True,
            timeout=180,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"local_kafka.py {' '.join(args)} failed:\n{result.stderr}")
        return result

    def up(self) -> LocalKafka:
        self.run(
            "up",
            "--nodes",
            str(self.nodes),
            "--base-port",
            str(self.base_port),
            "--heap",
            self.heap,
        )
        return self

    def down(self) -> None:
        self.run("down", "--clean", check=False)

    def stop_node(self, node: int, kill: bool = False) -> None:
        self.run("stop-node", str(node), *(["--kill"] if kill else []))

    def start_node(self, node: int) -> None:
        self.run("start-node", str(node))

    def pids(self) -> list[int]:
        found = []
        for pid_file in self.run_dir.glob("node-*/pid"):
            found.append(int(pid_file.read_text()))
        return found
