"""The three daemons (``python -m newsflow poll|enrich|index``) as subprocesses of a benchmark, over
the generated corpus: their config, their start and stop, their metrics and their CPU.

Shared by ``bench pipeline`` and ``bench faults``. Each daemon serves /metrics and /health on a
free port of its own (``NEWSFLOW_DAEMON__METRICS_PORT``); its output goes to ``<log_dir>/<name>.log``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.corpus import free_port, host_map

CLK_TCK = os.sysconf("SC_CLK_TCK")
REPO = Path(__file__).resolve().parent.parent
POLITENESS_DELAY = 0.5  # poller.per_host_delay of the generated config
# Each stage's progress counter: articles it handed on (poll: acknowledged by the bus).
COUNTERS = {"poll": "newsflow_articles_extracted_total", "enrich": "newsflow_articles_enriched_total",
            "index": "newsflow_articles_indexed_total"}


# --- /proc: CPU and memory of a process and its children ---------------------------------------


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry))
    return found


def cpu_and_hwm(pid: int) -> tuple[float, int]:
    """(user+system seconds, peak RSS KB) of one process; (0, 0) once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/status") as f:
            hwm = next((int(line.split()[1]) for line in f if line.startswith("VmHWM:")), 0)
        return (int(fields[11]) + int(fields[12])) / CLK_TCK, hwm
    except (OSError, IndexError, ValueError):
        return 0.0, 0


# --- one daemon ----------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    metrics_port: int
    cpu: dict[int, float] = field(default_factory=dict)  # pid -> last CPU seen (the tree's processes)
    hwm: dict[int, int] = field(default_factory=dict)  # pid -> peak RSS KB
    cpu_ready: float = 0.0
    count: float = 0.0
    first: float | None = None  # when its counter first moved
    last: float | None = None  # when its counter last moved
    scraped: float = 0.0  # when its metrics were last read

    @property
    def stage(self) -> str:
        return self.name.split("-")[0]

    def sample(self) -> None:
        for pid in [self.popen.pid, *children(self.popen.pid)]:
            cpu, hwm = cpu_and_hwm(pid)
            if cpu:
                self.cpu[pid] = max(cpu, self.cpu.get(pid, 0.0))
                self.hwm[pid] = max(hwm, self.hwm.get(pid, 0))

    @property
    def cpu_total(self) -> float:
        return sum(self.cpu.values())

    def metrics(self) -> dict[str, float] | None:
        """Every metric of /metrics summed over its labels; None while the endpoint does not answer."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2) as r:
                text = r.read().decode()
        except OSError:
            return None
        values: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name.split("{", 1)[0]] = values.get(name.split("{", 1)[0], 0.0) + float(value)
        return values

    def ready(self) -> bool:
        """/health/ready answers 200 (enrich and index: the group assigned them partitions)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/health/ready", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False


def write_config(path: Path, run: str, site: Any, port: int, backend: str, data_dir: Path, enrich_workers: int,
                 partitions: int, enrichers: list[str] | None, overrides: dict[str, dict[str, Any]] | None = None) -> None:
    """The daemons' config for one run: the corpus's feeds, topics/groups/alias named after ``run``.
    ``overrides`` are merged over it, key by key at every level (``{"bus": {"kafka": {...}}}``)."""
    import tomlkit

    doc: dict[str, Any] = {
        "data_dir": str(data_dir),
        "feeds": [{"url": u} for u in site.feed_urls()],
        "poller": {"allow_addresses": ["127.0.0.0/8"], "host_map": host_map(site.hosts, port), "per_host_delay": POLITENESS_DELAY, "per_host_concurrency": 1,
                   "concurrency": 128, "max_entries_per_poll": max(200, site.per_feed)},
        "enrich": {"workers": enrich_workers, **({"enrichers": enrichers} if enrichers is not None else {})},
        "bus": {"backend": backend, "group_prefix": f"bench-{run}",
                "topics": {"cleaned": f"bench-{run}.cleaned", "enriched": f"bench-{run}.enriched",
                           "dead_letters": f"bench-{run}.dead-letters", "partitions": partitions}},
        "index": {"backend": "elasticsearch",
                  "elasticsearch": {"alias": f"bench-{run}-articles", "feed_status_index": f"bench-{run}-feed-status"}},
        "daemon": {"log_format": "json", "log_level": "WARNING", "shutdown_timeout": 10.0},
    }
    path.write_text(tomlkit.dumps(_merged(doc, overrides or {})))


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    return {**base, **{k: _merged(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
                       for k, v in over.items()}}


def start_daemon(name: str, stage: str, config: Path, log_dir: Path, env_extra: dict[str, str] | None = None) -> Proc:
    """``python -m newsflow <stage>`` with its metrics on a free port; output to ``<log_dir>/<name>.log``
    (appended: a restarted daemon's log follows its predecessor's)."""
    port = free_port()
    env = {**os.environ, "NEWSFLOW_DAEMON__METRICS_PORT": str(port), **(env_extra or {})}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    with open(log_dir / f"{name}.log", "ab") as log:
        popen = subprocess.Popen([sys.executable, "-m", "newsflow", stage, "--config", str(config)], env=env, cwd=REPO,
                                 stdout=log, stderr=subprocess.STDOUT)
    return Proc(name, popen, port)


def wait_metrics(procs: list[Proc], timeout: float = 120.0) -> None:
    """Until every daemon's metrics endpoint answers (it opens once the daemon has started)."""
    deadline = time.monotonic() + timeout
    for p in procs:
        while p.metrics() is None:
            if p.popen.poll() is not None:
                raise RuntimeError(f"{p.name} exited with {p.popen.returncode} at start-up (see its log)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{p.name} did not start within {timeout:.0f}s")
            time.sleep(0.1)


def exit_on_sigterm(signum: int, frame: Any) -> None:
    """A SIGTERM (an operator stopping a long run) unwinds like Ctrl-C: daemons stopped, leftovers deleted."""
    raise SystemExit(128 + signum)


def stop_all(procs: list[Any], timeout: float = 30.0) -> None:
    """SIGTERM every stage process (they drain and commit), then wait; kill what outlives ``timeout``."""
    for p in procs:
        if p.popen.poll() is None:
            p.popen.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            p.popen.kill()
            p.popen.wait()


def topic_messages(bootstrap_servers: list[str], topic: str) -> int:
    """Messages in ``topic``: end minus beginning offsets over its partitions (0 if it does not exist)."""
    from kafka import KafkaConsumer
    from kafka.structs import TopicPartition

    probe = KafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in probe.partitions_for_topic(topic) or set()]
        if not tps:
            return 0
        end, begin = probe.end_offsets(tps), probe.beginning_offsets(tps)
        return sum(end[tp] - begin[tp] for tp in tps)
    finally:
        probe.close()
