"""A Kafka broker and an Elasticsearch node of a benchmark's own, to kill and restart at will.

``deploy/local/services.sh`` runs them from the same cached jars as the shared local services, but
with their data, logs and pid files in a folder of their own (``NEWSFLOW_SERVICES_DATA``) and on free
ports (``KAFKA_PORT``, ``KAFKA_CONTROLLER_PORT``, ``ES_PORT``, ``ES_TRANSPORT_PORT``), so a drill
never touches the broker and node on 9092/9200 that others use. ``kill`` sends SIGKILL to the pid
``services.sh`` recorded in that folder's ``run/``, after checking the process's command line names
that folder; ``restart`` starts it again with the same environment (same data: it recovers).

``services.sh up`` takes a lock in its cache folder, one ``up`` at a time on the machine: the
shared services' ``up`` would delay a drill's restart. So the script gets a cache folder of its own
whose jar folders are links to the shared cache's (used as they are, once complete).

    with PrivateServices(tmp) as svc:     # both started; both stopped on exit, error or Ctrl-C
        svc.bootstrap, svc.es_url
        svc.kill("kafka"); svc.restart("kafka")   # -> when it answered again
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from benchmarks.corpus import free_port

REPO = Path(__file__).resolve().parent.parent
SERVICES_SH = REPO / "deploy" / "local" / "services.sh"
MARKERS = {"kafka": "kafka.Kafka", "elasticsearch": "EmbeddedElasticsearch"}
SHARED_CACHE = Path(os.environ.get("NEWSFLOW_CACHE") or Path.home() / ".cache" / "newsflow")
JAR_DIRS = ("kafka", "kafka-tools", "elasticsearch")
PROBE_EVERY = 0.2


class ServicesError(RuntimeError):
    pass


class PrivateServices:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        ports: set[int] = set()
        while len(ports) < 4:  # distinct: free_port may give one back twice
            ports.add(free_port())
        self.kafka_port, self.controller_port, self.es_port, self.transport_port = sorted(ports)
        # python3 of services.sh's readiness check: this venv's, which has kafka-python (without it
        # the script only greps the broker's log, which says "started" again after a restart).
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        self.env = {**os.environ, "PATH": path, "NEWSFLOW_SERVICES_DATA": str(self.data),
                    "KAFKA_PORT": str(self.kafka_port), "KAFKA_CONTROLLER_PORT": str(self.controller_port),
                    "ES_PORT": str(self.es_port), "ES_TRANSPORT_PORT": str(self.transport_port)}
        cache = self._private_cache()
        if cache is not None:
            self.env["NEWSFLOW_CACHE"] = str(cache)
        self.started: dict[str, float] = {}  # service -> seconds its last `up` took
        # A drill's thread may be starting a service when the bench stops (Ctrl-C mid-outage):
        # stop() waits for that `up` and no `up` starts after it, so nothing is left running.
        self._up_lock = threading.Lock()
        self._closed = False

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def es_url(self) -> str:
        return f"http://127.0.0.1:{self.es_port}"

    def _private_cache(self) -> Path | None:
        """A cache folder whose jar folders link to the shared ones; None (use the shared cache and its
        lock) while those are not all complete, so that a first download is never done twice at once."""
        shared = SHARED_CACHE / "services"
        if not all(any((shared / name).glob("*/.complete")) for name in JAR_DIRS):
            return None
        cache = self.root / "cache"
        (cache / "services").mkdir(parents=True, exist_ok=True)
        for name in JAR_DIRS:
            (cache / "services" / name).symlink_to(shared / name)
        return cache

    def _script(self, *args: str, timeout: float = 600) -> None:
        log = self.root / "services.log"
        with open(log, "ab") as out:
            proc = subprocess.run(["bash", str(SERVICES_SH), *args], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                  timeout=timeout, cwd=REPO)
        if proc.returncode != 0:
            tail = log.read_text(errors="replace")[-3000:]
            raise ServicesError(f"services.sh {' '.join(args)} failed (exit {proc.returncode}):\n{tail}")

    def up(self, *services: str) -> float:
        """Start the services (both when none is named); wait until they answer. Returns the seconds it took."""
        with self._up_lock:
            if self._closed:
                raise ServicesError("the bench's services are being stopped")
            started = time.monotonic()
            self._script("up", *services)
            took = time.monotonic() - started
        for name in services or tuple(MARKERS):
            self.started[name] = took
        return took

    def restart(self, service: str) -> float:
        """Start ``service`` again; returns when it first answered (monotonic seconds), probed every
        PROBE_EVERY s while ``services.sh up`` waits (its own check runs once a second, a new process each)."""
        box: dict[str, BaseException] = {}

        def up() -> None:
            try:
                self.up(service)
            except BaseException as exc:  # raised below, in the caller's thread
                box["error"] = exc

        thread = threading.Thread(target=up, name=f"up-{service}", daemon=True)
        thread.start()
        answered = None
        while thread.is_alive() and answered is None:
            if self.answers(service):
                answered = time.monotonic()
            else:
                time.sleep(PROBE_EVERY)
        thread.join()
        if "error" in box:
            raise box["error"]
        return answered or time.monotonic()

    def answers(self, service: str) -> bool:
        """The broker lists its topics / the node's cluster health is yellow or green."""
        try:
            if service == "kafka":
                from kafka import KafkaAdminClient

                admin = KafkaAdminClient(bootstrap_servers=[self.bootstrap], bootstrap_timeout_ms=2000, request_timeout_ms=2000)
                try:
                    admin.list_topics()
                finally:
                    admin.close()
                return True
            with urllib.request.urlopen(f"{self.es_url}/_cluster/health", timeout=2) as r:
                return json.loads(r.read()).get("status") in ("yellow", "green")
        except Exception:  # refused, timed out, not ready yet
            return False

    def pid(self, service: str) -> int | None:
        """The pid of our own ``service``: recorded in our run folder, alive, and started on our data."""
        try:
            pid = int((self.data / "run" / f"{service}.pid").read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError):
            return None
        return pid if MARKERS[service] in cmdline and str(self.data) in cmdline else None

    def kill(self, service: str) -> None:
        """SIGKILL our ``service`` and wait until it is gone."""
        pid = self.pid(service)
        if pid is None:
            raise ServicesError(f"the bench's {service} is not running")
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # a zombie until init reaps it: its ports are closed already

    def stop(self) -> None:
        self._closed = True
        self._up_lock.acquire(timeout=600)  # an `up` under way finishes first (services.sh gives up after 180 s)
        try:
            self._script("stop", timeout=120)
        except (ServicesError, subprocess.TimeoutExpired):
            for service in MARKERS:  # what the script could not stop, by our own pid files only
                pid = self.pid(service)
                if pid is not None:
                    os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> "PrivateServices":
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self.up()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
