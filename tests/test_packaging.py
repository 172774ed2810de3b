"""newsflow is a real package: the wheel built from the checkout holds one top-level import name
and the demo's seed site, and, installed into a fresh venv with no checkout in sight, runs the
demo and a search. The lock files agree with pyproject.toml."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")


def run(*cmd: object, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=False, **kw)  # type: ignore[call-overload]


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"{proc.args}: exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def test_every_package_folder_is_listed() -> None:
    """pyproject lists packages explicitly (package-dir maps the design card's folders into
    newsflow.*): a folder of modules left off the list would be missing from the wheel."""
    tool = PYPROJECT["tool"]["setuptools"]
    listed, dirs = set(tool["packages"]), tool["package-dir"]
    found = set()
    for name, folder in dirs.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder)
            found.add(".".join([name, *rel.parts]))
    missing = {p for p in found if not any(p == q or q.startswith(p + ".") for q in listed) and p not in listed}
    assert not missing, f"packages not listed in pyproject.toml: {sorted(missing)}"
    assert listed <= found, f"listed packages with no folder: {sorted(listed - found)}"


def test_the_hash_pinned_requirements_match_the_lock() -> None:
    """deploy/requirements.lock (the Dockerfile's pip install) is uv.lock exported: `make lock`."""
    if UV is None:
        pytest.fail("uv is not installed (it is in the dev extra)")
    proc = ok(run(UV, "export", "--locked", "--no-dev", "--no-emit-project", "--format", "requirements-txt", "--quiet", cwd=REPO))

    def pins(text: str) -> set[str]:
        return set(re.findall(r"^([A-Za-z0-9_.-]+==\S+)", text, re.M))

    assert pins(proc.stdout) == pins((REPO / "deploy" / "requirements.lock").read_text())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if UV is None:
        pytest.fail("uv is not installed (it is in the dev extra)")
    out = tmp_path_factory.mktemp("dist")
    # From a copy: setuptools leaves build/ and *.egg-info/ beside the sources it builds.
    src = tmp_path_factory.mktemp("src") / "newsflow"
    local = shutil.ignore_patterns(".git", ".venv*", ".tools", "build", "dist", "*.egg-info", "__pycache__")
    shutil.copytree(REPO, src, ignore=lambda folder, names: local(folder, names) | ({"data"} if Path(folder) == REPO else set()))
    ok(run(UV, "build", "--wheel", "--quiet", "--out-dir", out, src, cwd=out))
    (built,) = out.glob("newsflow-*.whl")
    return built


def test_the_wheel_installs_one_top_level_package_and_the_seed_site(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert tops == {"newsflow"}, tops
    assert "newsflow/seeds/site/rss.xml" in names and "newsflow/seeds/site/feeds/posts/default.xml" in names
    assert "newsflow/ingest/poller.py" in names and "newsflow/index/elastic_template.json" in names
    templates = Path(__file__).resolve().parents[1] / "newsflow" / "web" / "templates"
    assert {f"newsflow/web/templates/{t.name}" for t in templates.glob("*.html")} <= set(names)  # `newsflow web`'s pages
    assert not any(n.startswith(("newsflow/tests/", "tests/", "benchmarks/")) for n in names)


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the locked dependencies (hash-checked, nothing resolved) and the wheel."""
    venv = tmp_path_factory.mktemp("venv") / "v"
    ok(run(UV, "venv", "--quiet", "--python", sys.executable, venv))
    python = venv / "bin" / "python"
    ok(run(UV, "pip", "install", "--quiet", "--python", python, "--require-hashes", "-r", REPO / "deploy" / "requirements.lock"))
    ok(run(UV, "pip", "install", "--quiet", "--python", python, "--no-deps", wheel))
    return venv


def test_the_installed_wheel_runs_the_demo_and_a_search_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSFLOW_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"), XDG_CACHE_HOME=str(home / "cache"),
               XDG_CONFIG_HOME=str(home / "config"))
    newsflow = installed / "bin" / "newsflow"
    demo = ok(run(newsflow, "demo", cwd=home, env=env, timeout=600))
    assert "Traceback" not in demo.stderr
    assert "articles in the index: 3" in demo.stdout, demo.stdout
    assert str(REPO) not in demo.stdout, "the demo served the checkout's seed site, not the package's"
    search = ok(run(newsflow, "search", "Stoltenberg", "--json", cwd=home, env=env, timeout=120))
    assert '"total": 1' in search.stdout or '"total": 2' in search.stdout or '"total": 3' in search.stdout, search.stdout
    assert "us-russia" in search.stdout
