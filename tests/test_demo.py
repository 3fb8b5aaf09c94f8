"""`make demo` from start to Ctrl-C: its own broker (and with REGISTRY=1 its own schema
registry), the simulator, readings and NowCast alerts on screen, and nothing it started left
running afterwards (nor anything it did not start stopped)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from confluent_kafka.schema_registry import SchemaRegistryClient

from tests.kafka_cluster import free_base_port
from tests.pipeline import ROOT, broker_answers, wait_for
from tests.schema_registry import free_port
from tests.simulator import running_simulator

# How the demo's pretty lines name the 9 Swiss stations (long names are cut).
SWISS_NAMES = [
    "Zürich-Kaserne", "Genève-Necker", "Basel-St. Johann", "Lausanne-César-Roux",
    "Bern-Bollwerk", "Winterthur-Obertor", "St. Gallen-Blumenbergplatz", "Lugano-Università",
    "Neuchâtel-Jeunes-Rives",
]  # fmt: skip

# Ctrl-C as a terminal's foreground job gets it: with SIGINT's default disposition. A test
# run started in the background of a script (or by a CI runner) ignores SIGINT, and an
# ignored signal stays ignored across exec: make and the demo's bash would then never see
# the Ctrl-C (make exits 0). So make is started with SIGINT reset, as a shell would for it.
AS_IN_A_TERMINAL = [
    sys.executable, "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execvp(sys.argv[1], sys.argv[1:])",
]  # fmt: skip


def run_demo(tmp_path: Path, config_text: str, *make_args: str, during=lambda: None):
    """`make demo CONFIG=... [make_args]` until the 9 Swiss stations are on screen, then
    Ctrl-C; `during()` runs while it shows them. (exit status, output, what it had started)."""
    config = tmp_path / "config.ini"
    config.write_text(config_text)
    run_dir = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WAQI_", "NO_COLOR"))}
    # Set but empty: the simulator, whatever a developer's .env says.
    env.update(WAQI_TOKEN="", DEMO_RUN_DIR=str(run_dir))
    output = tmp_path / "demo.out"
    shown = lambda: output.read_text(errors="replace")  # noqa: E731
    with open(output, "wb") as out:
        demo = subprocess.Popen(
            [*AS_IN_A_TERMINAL, "make", "demo", f"CONFIG={config}", *make_args], cwd=ROOT, env=env,
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group of its own, as in a terminal
        )  # fmt: skip
        try:
            wait_for(lambda: all(name in shown() for name in SWISS_NAMES), 90,
                     "readings of the 9 Swiss stations")  # fmt: skip
            # Beside the readings, the stations' NowCast alerts (the first announce each).
            wait_for(lambda: shown().count(" ALERT ") >= 9, 120, "the alerts of the 9 stations")
            started = demo_processes(demo.pid, run_dir)
            kinds = " ".join(started.values())
            for kind in ("kafka.Kafka", "aqistream.waqi_sim", "producer.py", "aggregator.py",
                         "consumer.py"):  # fmt: skip
                assert kind in kinds, f"the demo runs no {kind}: {started}"
            during()
            os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C
            status = demo.wait(60)
        finally:
            if demo.poll() is None:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait()
            for script, state in (("local_registry.py", "registry"), ("local_kafka.py", "kafka")):
                subprocess.run(
                    [str(ROOT / ".venv/bin/python"), str(ROOT / "kafka" / script),
                     "--run-dir", str(run_dir / state), "down", "--clean"],
                    capture_output=True, timeout=120,
                )  # fmt: skip
    return status, shown(), started


def assert_stopped_all_it_started_and_nothing_else(status, shown, started):
    # The demo ends as asked; make, interrupted too, ends by SIGINT (130 in a shell).
    assert status == -signal.SIGINT, shown
    assert "make: ***" not in shown
    # The consumer starts once the producer has created the topic: no warning on screen.
    assert "WARNING" not in shown
    still_running = {pid: command for pid, command in started.items() if running(pid, command)}
    assert not still_running, f"left running after Ctrl-C: {still_running}"


def test_make_demo_shows_swiss_readings_and_ctrl_c_stops_all_it_started(
    tmp_path, bootstrap_servers
):
    port = free_base_port(1)  # nothing answers there: the demo has to start its own broker
    with running_simulator() as bystander:
        status, shown, started = run_demo(
            tmp_path, f"[default]\nbootstrap.servers=localhost:{port}\n"
        )
        assert_stopped_all_it_started_and_nothing_else(status, shown, started)
        assert not broker_answers(f"localhost:{port}")
        assert "stopped the Kafka broker the demo had started" in shown
        assert bystander.process.poll() is None, "the demo stopped a simulator it did not start"
    assert broker_answers(bootstrap_servers), "the demo stopped a broker it did not start"


def test_make_demo_registry_1_writes_through_a_registry_it_starts_and_stops(
    tmp_path, bootstrap_servers
):
    port, registry_port = free_base_port(1), free_port()
    url = f"http://localhost:{registry_port}/apis/ccompat/v7"
    topic = "air_quality_index_simulated"
    subjects = []
    status, shown, started = run_demo(
        tmp_path,
        f"[default]\nbootstrap.servers=localhost:{port}\n[schema_registry]\nurl={url}\n",
        "REGISTRY=1",
        during=lambda: subjects.extend(SchemaRegistryClient({"url": url}).get_subjects()),
    )
    assert "aqistream.registry.run-dir" in " ".join(started.values()), started
    assert "starting Apicurio Registry there for the demo" in shown
    assert f"reading {topic} at localhost:{port} as group aqi-stream-demo, schemas from {url}" in (
        shown
    )
    # The producer's two, and aggregator.py's three outputs.
    suffixes = ["", ".alerts", ".daily", ".latest", ".nowcast"]
    assert sorted(subjects) == [f"{topic}{suffix}-value" for suffix in suffixes]
    producer_log = (tmp_path / "demo" / "producer.log").read_text()
    assert f"value schemas registered at {url}" in producer_log
    assert_stopped_all_it_started_and_nothing_else(status, shown, started)
    assert "stopped the schema registry the demo had started" in shown
    assert (
        subprocess.run(
            [str(ROOT / ".venv/bin/python"), str(ROOT / "kafka/local_registry.py"), "probe", url],
            capture_output=True,
        ).returncode
        == 1
    )
    assert broker_answers(bootstrap_servers), "the demo stopped a broker it did not start"


def demo_processes(session: int, run_dir: Path) -> dict[int, str]:
    """pid -> command line of every process of the demo's session, and of the broker it
    started (in a session of its own, found by its run directory)."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            stat = (proc / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        session_id = int(stat.rsplit(")", 1)[1].split()[3])
        if command and (session_id == session or str(run_dir) in command):
            found[int(proc.name)] = command
    return found


def running(pid: int, command: str) -> bool:
    """Whether that process still runs (not a zombie, and not another one with its pid)."""
    proc = Path(f"/proc/{pid}")
    try:
        same = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip() == command
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return same and state != "Z"
