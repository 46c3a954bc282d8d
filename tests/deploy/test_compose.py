"""docker-compose.yml and the image recipe, checked without a Docker engine.

The compose file is validated against the compose-spec JSON schema (the copy that
ships in the check-jsonschema package, vendored there from the compose-spec project),
then against what this project promises: one clock, OTLP everywhere, topics and ACLs
before services, a host listener, SASL/SCRAM and ACLs on Kafka with each service logged
in as its own principal, and services that `--scale`. When the `docker compose`
plugin is installed, `docker compose config` (which needs no daemon) must accept it too.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from chainctl import acls
from chainctl.chain import SERVICES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "infra" / "Dockerfile"
JOBS = ("clock", "topics", "acls")
KAFKA_PROPERTIES = ROOT / "infra" / "kafka" / "server.properties"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text("utf-8"))  # resolves `<<:`
    return loaded


def _schema() -> dict[str, Any]:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads(vendor.joinpath("compose-spec.json").read_text("utf-8"))
    return schema


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "environment as a mapping, so anchors can merge"
    return {str(k): str(v) for k, v in env.items()}


def test_compose_file_follows_the_compose_spec(compose: dict[str, Any]) -> None:
    jsonschema.validate(compose, _schema())


def test_the_schema_check_can_fail(compose: dict[str, Any]) -> None:
    broken = {**compose, "services": {**compose["services"], "bvv": {"restart": 3}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, _schema())


def test_every_chain_service_shares_one_clock_and_exports_spans(compose: dict[str, Any]) -> None:
    services = compose["services"]
    chain = [services[name] for name in SERVICES]
    epoch_files = {_env(s).get("MK_CLOCK_EPOCH_FILE") for s in [*chain, services["demo"]]}
    assert epoch_files == {"/clock/epoch"}, "one epoch file for the whole chain"
    assert services["clock"]["command"][-2:] == ["--epoch-file", "/clock/epoch"]
    assert "clock:/clock" in services["clock"]["volumes"]
    for name in SERVICES:
        service = services[name]
        env = _env(service)
        assert "MK_CLOCK_EPOCH" not in env, f"{name}: a per-service epoch would run its own clock"
        assert "clock:/clock:ro" in service["volumes"], name
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318", name
        assert env["MK_IDEMPOTENT_PRODUCER"] == "true", name
        assert env["MK_BOOTSTRAP_SERVERS"] == "kafka:9092", name
        assert env["MK_DATABASE_URL"].startswith("postgresql+asyncpg://"), name
        assert service["command"] == ["python", "-m", name]
        for job in JOBS:
            assert service["depends_on"][job]["condition"] == "service_completed_successfully"
    demo = _env(services["demo"])
    assert demo["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    assert "clock" in compose["volumes"]


def test_services_scale(compose: dict[str, Any]) -> None:
    """`docker compose up --scale bvv=3`: no fixed container name, no host port."""
    for name in SERVICES:
        service = compose["services"][name]
        assert "container_name" not in service, name
        assert "ports" not in service, name


def test_topics_job_creates_the_catalogue_topics(compose: dict[str, Any]) -> None:
    topics = compose["services"]["topics"]
    assert topics["command"][:5] == ["python", "-m", "chainctl", "topics", "--create"]
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"


def _properties(path: Path) -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in path.read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )
    return {key.strip(): value.strip() for key, value in pairs}


def _password_default(value: str) -> tuple[str, str]:
    """`${MK_PASSWORD_BVV:-dev-only-bvv}` -> (variable, default)."""
    match = re.fullmatch(r"\$\{(\w+):-([^}]+)\}", value)
    assert match, f"{value!r}: a password comes from a variable with a dev default"
    return match.group(1), match.group(2)


def test_kafka_has_a_listener_for_the_host(compose: dict[str, Any]) -> None:
    kafka = _properties(KAFKA_PROPERTIES)
    assert "HOST://localhost:29092" in kafka["advertised.listeners"].split(",")
    assert "HOST://:29092" in kafka["listeners"].split(",")
    assert "HOST:SASL_PLAINTEXT" in kafka["listener.security.protocol.map"].split(",")
    assert "29092:29092" in compose["services"]["kafka"]["ports"]
    assert kafka["auto.create.topics.enable"] == "false"


def test_kafka_requires_a_login_and_the_acls(compose: dict[str, Any]) -> None:
    kafka = _properties(KAFKA_PROPERTIES)
    protocols = dict(item.split(":") for item in kafka["listener.security.protocol.map"].split(","))
    for listener in kafka["listeners"].split(","):
        name = listener.split("://")[0]
        assert protocols[name].startswith("SASL_"), f"listener {name} lets anyone in"
    assert kafka["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert kafka["authorizer.class.name"].endswith(".StandardAuthorizer")
    assert kafka["allow.everyone.if.no.acl.found"] == "false"
    assert kafka["super.users"] == "User:admin"
    service = compose["services"]["kafka"]
    assert service["command"] == ["bash", "/mk/kafka/start.sh"]
    assert "./infra/kafka:/mk/kafka:ro" in service["volumes"]
    start = (ROOT / "infra" / "kafka" / "start.sh").read_text("utf-8")
    assert '--add-scram "SCRAM-SHA-512=[name=admin,' in start
    assert "--command-config /tmp/mk-kafka/admin.properties" in service["healthcheck"]["test"][1]


def test_every_chain_client_logs_in_as_its_own_principal(compose: dict[str, Any]) -> None:
    services = compose["services"]
    users = set(acls.principals())
    logins = {name: _env(services[name]) for name in [*SERVICES, "demo", "topics"]}
    for name, env in logins.items():
        assert env["MK_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT", name
        assert env["MK_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512", name
    for name in SERVICES:
        env = logins[name]
        assert env["MK_KAFKA_USERNAME"] == acls.principal(name), name
        variable, default = _password_default(env["MK_KAFKA_PASSWORD"])
        assert variable == acls.password_variable(name), name
        assert default == f"dev-only-{name}", name
    usernames = [logins[name]["MK_KAFKA_USERNAME"] for name in SERVICES]
    assert len(set(usernames)) == len(usernames), "each service its own principal"
    assert all(logins[name]["MK_KAFKA_USERNAME"] in users for name in [*SERVICES, "demo"])
    assert logins["topics"]["MK_KAFKA_USERNAME"] == "admin", "only the super user creates topics"


def test_the_acls_job_creates_every_principal_after_the_topics(compose: dict[str, Any]) -> None:
    services = compose["services"]
    job = services["acls"]
    assert job["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert job["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert "exec bash /mk/kafka/acls.sh" in job["command"][-1]
    assert "./infra/kafka:/mk/kafka:ro" in job["volumes"]
    env = _env(job)
    assert env["BOOTSTRAP"] == "kafka:9092"
    # The job sets each principal's password from the same variable and dev default as
    # the container that logs in with it.
    given = {
        variable: _password_default(env[variable])
        for variable in env
        if variable.startswith("MK_PASSWORD_")
    }
    assert set(given) == {acls.password_variable(user) for user in acls.principals()}
    for name in [*SERVICES, "demo"]:
        login = _env(services[name])
        variable = acls.password_variable(login["MK_KAFKA_USERNAME"])
        assert given[variable] == _password_default(login["MK_KAFKA_PASSWORD"]), name
    admin = _password_default(env["KAFKA_ADMIN_PASSWORD"])
    assert admin == _password_default(_env(services["kafka"])["KAFKA_ADMIN_PASSWORD"])
    assert admin == _password_default(_env(services["topics"])["MK_KAFKA_PASSWORD"])


def test_files_the_compose_file_names_exist(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if "build" in service:
            build = service["build"]
            assert (ROOT / build["context"] / build["dockerfile"]).is_file(), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), (name, source)


def test_the_image_is_non_root_and_runtime_only() -> None:
    lines = [line.strip() for line in DOCKERFILE.read_text("utf-8").splitlines() if line.strip()]
    instructions = [line for line in lines if not line.startswith("#")]
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("0", "root"), "the image runs as root"
    text = "\n".join(instructions)
    assert "--require-hashes -r requirements.lock" in text
    assert "pip install --no-deps ." in text
    for unwanted in ("[dev]", "[testing]", "[embedded]", "requirements-dev", "calfkit"):
        assert unwanted not in text, unwanted
    for line in instructions:
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source


def test_the_build_context_leaves_out_local_state() -> None:
    ignored = set((ROOT / ".dockerignore").read_text("utf-8").split())
    for entry in (".venv", ".tools", ".git", ".data", "node_modules", ".pytest_cache"):
        assert entry in ignored, entry
    for needed in ("requirements.lock", "pyproject.toml", "README.md", "services", "contracts"):
        assert needed not in ignored, needed


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="the docker compose plugin is not installed",
)
def test_docker_compose_config_accepts_it() -> None:
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "--profile", "demo", "config", "--quiet"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_the_kafka_start_script_formats_with_the_admin_credential(tmp_path: Path) -> None:
    """infra/kafka/start.sh run with stand-ins for kafka-storage.sh and kafka-server-start.sh
    (no Kafka here): the configuration it starts the broker with, and the format call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("kafka-storage.sh", "kafka-server-start.sh"):
        stand_in = bin_dir / tool
        stand_in.write_text(
            f'#!/usr/bin/env bash\nprintf "%s\\n" "$@" > "{tmp_path}/{tool}.args"\n'
        )
        stand_in.chmod(0o755)
    work = tmp_path / "work"
    env = {
        "PATH": "/usr/bin:/bin",
        "KAFKA_BIN": str(bin_dir),
        "MK_KAFKA_WORK": str(work),
        "KAFKA_ADMIN_PASSWORD": "pw-1",
        "CLUSTER_ID": "5L6g3nShT-eMCtK--X86sw",
    }
    script = ROOT / "infra" / "kafka" / "start.sh"
    result = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    fmt = (tmp_path / "kafka-storage.sh.args").read_text("utf-8").splitlines()
    assert fmt[:2] == ["format", "--ignore-formatted"]
    assert "SCRAM-SHA-512=[name=admin,password=pw-1]" in fmt
    started = (tmp_path / "kafka-server-start.sh.args").read_text("utf-8").split()
    assert started == [str(work / "server.properties")]
    config = _properties(work / "server.properties")
    assert config["super.users"] == "User:admin"
    jaas = config["listener.name.internal.scram-sha-512.sasl.jaas.config"]
    assert 'username="admin" password="pw-1";' in jaas
    assert 'user_admin="pw-1"' in config["listener.name.controller.plain.sasl.jaas.config"]
    admin = _properties(work / "admin.properties")
    assert admin["security.protocol"] == "SASL_PLAINTEXT"
    assert admin["sasl.mechanism"] == "SCRAM-SHA-512"
    assert 'username="admin" password="pw-1";' in admin["sasl.jaas.config"]
    without = {k: v for k, v in env.items() if k != "KAFKA_ADMIN_PASSWORD"}
    refused = subprocess.run(["bash", str(script)], env=without, capture_output=True, text=True)
    assert refused.returncode != 0 and "KAFKA_ADMIN_PASSWORD" in refused.stderr
