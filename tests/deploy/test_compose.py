"""docker-compose.yml and the image recipe, checked without a Docker engine.

The compose file is validated against the compose-spec JSON schema (the copy that
ships in the check-jsonschema package, vendored there from the compose-spec project),
then against what this project promises: one clock, OTLP everywhere, topics before
services, a host listener, and services that `--scale`. When the `docker compose`
plugin is installed, `docker compose config` (which needs no daemon) must accept it too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from chainctl.chain import SERVICES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "infra" / "Dockerfile"
JOBS = ("clock", "topics")


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


def test_kafka_has_a_listener_for_the_host(compose: dict[str, Any]) -> None:
    kafka = _env(compose["services"]["kafka"])
    assert "HOST://localhost:29092" in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert "HOST://:29092" in kafka["KAFKA_LISTENERS"].split(",")
    assert "HOST:PLAINTEXT" in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    assert "29092:29092" in compose["services"]["kafka"]["ports"]
    assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


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
