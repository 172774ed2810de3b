"""Expected failures end with one ``error:`` line naming the cause, a non-zero exit and no
traceback; ``--debug`` (or NEWSFLOW_DEBUG=1) shows the traceback; a real bug keeps it.

Real commands in subprocesses, each meeting one kind of failure: a bad or missing config, an
unreachable Elasticsearch or Kafka, a missing file, a missing spaCy model, a damaged SQLite
index, Ctrl-C, and `newsflow bench` without the benchmarks of a checkout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from benchmarks.corpus import free_port
from newsflow.cli.errors import NewsflowGroup

PY = [sys.executable, "-m", "newsflow"]


def newsflow(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PY, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env={**os.environ, **(env or {})})


def error_line(proc: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    """The one ``error:`` line of a failed command, which must name ``words``."""
    assert proc.returncode == code, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr[-3000:]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def config(tmp_path: Path, text: str = "") -> Path:
    path = tmp_path / "newsflow.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n{text}')
    return path


def test_bad_config_is_one_error_naming_the_file_and_keys(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[poller]\nmax_intervall = 10\n')
    proc = newsflow("config", "check", "--config", str(bad), cwd=tmp_path)
    error_line(proc, 2, "invalid configuration", "bad.toml")
    assert "poller.max_intervall: unknown key" in proc.stderr


def test_missing_config_file(tmp_path: Path) -> None:
    proc = newsflow("search", "x", "--config", str(tmp_path / "nope.toml"), cwd=tmp_path)
    error_line(proc, 2, "config file not found", "nope.toml")


def test_unreachable_elasticsearch_says_which_setting(tmp_path: Path) -> None:
    cfg = config(tmp_path, f'[index]\nbackend = "elasticsearch"\n[index.elasticsearch]\nhosts = ["http://127.0.0.1:{free_port()}"]\n')
    proc = newsflow("search", "anything", "--config", str(cfg), cwd=tmp_path)
    error_line(proc, 1, "Connection", "index.elasticsearch.hosts")


def test_unreachable_kafka_says_which_setting(tmp_path: Path) -> None:
    cfg = config(tmp_path, f'[bus]\nbackend = "kafka"\n[bus.kafka]\nbootstrap_servers = ["127.0.0.1:{free_port()}"]\ntimeout = 2.0\n')
    proc = newsflow("dlq", "replay", "--config", str(cfg), cwd=tmp_path)
    error_line(proc, 1, "kafka", "bus.kafka.bootstrap_servers")


def test_extract_of_a_missing_file_names_it(tmp_path: Path) -> None:
    proc = newsflow("extract", str(tmp_path / "missing.html"), cwd=tmp_path)
    error_line(proc, 1, "missing.html", "No such file")


def test_missing_spacy_model_says_what_to_install(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    proc = newsflow("enrich", "--config", str(cfg), cwd=tmp_path, env={"NEWSFLOW_ENRICH__SPACY_MODEL": "xx_no_such_model_sm"})
    error_line(proc, 2, "xx_no_such_model_sm", "enrich.spacy_model")


def test_damaged_sqlite_index(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "index.sqlite3").write_bytes(b"not a database, " * 400)
    proc = newsflow("search", "x", "--config", str(cfg), cwd=tmp_path)
    error_line(proc, 1, "index.sqlite3", "not a database")


@pytest.mark.parametrize("how", ["--debug", "NEWSFLOW_DEBUG"])
def test_debug_shows_the_traceback(tmp_path: Path, how: str) -> None:
    args = ["extract", str(tmp_path / "missing.html")]
    if how == "--debug":
        proc = newsflow("--debug", *args, cwd=tmp_path)
    else:
        proc = newsflow(*args, cwd=tmp_path, env={"NEWSFLOW_DEBUG": "1"})
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "FileNotFoundError" in proc.stderr


def test_ctrl_c_exits_130_without_a_traceback(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    proc = subprocess.Popen([*PY, "dlq", "replay", "--config", str(cfg), "--idle", "60"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)  # started and waiting for dead letters
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr


def test_bench_without_the_benchmarks_says_so(tmp_path: Path) -> None:
    # An installed wheel: no benchmarks/ beside newsflow/.
    code = (f"import newsflow.cli.bench as b; from pathlib import Path; b.CHECKOUT = Path({str(tmp_path)!r}); "
            "from newsflow.cli.app import main; main()")
    proc = subprocess.run([sys.executable, "-c", code, "bench", "poll", "--feeds", "3"], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    error_line(proc, 2, "newsflow bench needs a checkout of the newsflow repository")


def test_a_bug_keeps_its_traceback() -> None:
    app = typer.Typer(cls=NewsflowGroup)

    @app.command()
    def broken() -> None:
        raise KeyError("a bug")

    @app.command()
    def missing() -> None:
        open("/no/such/file")

    result = CliRunner().invoke(app, ["broken"])
    assert isinstance(result.exception, KeyError)
    result = CliRunner().invoke(app, ["missing"])
    assert result.exit_code == 1 and "error: /no/such/file: No such file or directory" in result.output
