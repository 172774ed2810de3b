"""A private Kafka broker for fault tests: its own data dir and ports (deploy/local/services.sh
with NEWSFLOW_SERVICES_DATA, KAFKA_PORT, KAFKA_CONTROLLER_PORT), so a test may kill and restart
it without touching the shared broker other tests and engineers use."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from benchmarks.corpus import free_port
from tests.conftest import REQUIRE_SERVICES
from tests.support.daemons import SERVICES_SH


class PrivateKafka:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port, self.controller_port = free_port(), free_port()
        self.env = {
            **os.environ,
            "NEWSFLOW_SERVICES_DATA": str(data_dir),
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "ES_PORT": str(free_port()),  # never started; set so nothing points at the shared node
            "ES_TRANSPORT_PORT": str(free_port()),
            "SERVICES_STOP_TIMEOUT": "10",
            # A broker restarted after kill() serves once its dead registration is fenced: after this,
            # not Kafka's 9 s. Its heartbeat (a sixth) stays well inside it on a loaded machine.
            "KAFKA_BROKER_SESSION_TIMEOUT_MS": "3000",
        }

    @property
    def servers(self) -> list[str]:
        return [f"127.0.0.1:{self.port}"]

    def _services(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", str(SERVICES_SH), *args], env=self.env, capture_output=True, text=True, timeout=300)

    def up(self) -> float:
        """Start (or restart, on the same data: topics and offsets are kept); seconds it took."""
        started = time.monotonic()
        done = self._services("up", "kafka")
        if done.returncode != 0:
            raise RuntimeError(f"private kafka did not start:\n{done.stderr[-2000:]}")
        return time.monotonic() - started

    def kill(self) -> None:
        """SIGKILL, as in the issue's drills: no clean shutdown of the broker."""
        pid_file = self.data_dir / "run" / "kafka.pid"
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if _dead(pid):
                return
            time.sleep(0.05)
        raise RuntimeError(f"private kafka (pid {pid}) still alive after SIGKILL")

    def stop(self) -> None:
        self._services("stop", "kafka")


def _dead(pid: int) -> bool:
    """Gone, or a zombie: it has exited and its ports are closed; init reaps it up to a second or so later."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state == "Z"


@pytest.fixture(scope="module")
def private_kafka(tmp_path_factory) -> Iterator[PrivateKafka]:
    """A private broker for this module's tests; stopped at the end."""
    kafka = PrivateKafka(tmp_path_factory.mktemp("private-kafka"))
    try:
        kafka.up()
    except Exception as exc:  # no JDK, no cached jars and no network, ...
        if REQUIRE_SERVICES:
            pytest.fail(f"could not start a private Kafka broker: {exc}", pytrace=False)
        pytest.skip(f"could not start a private Kafka broker: {exc}")
    try:
        yield kafka
    finally:
        kafka.stop()
