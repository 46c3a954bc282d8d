"""examples/team-project runs its scenario through the installed plugin.

A fresh venv gets the `testing` extra's locked dependencies and the package (not
editable); the example project is copied out of this repository, so no conftest.py of
ours is in reach: the fixtures come from the plugin's pytest11 entry point.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.deploy.fresh import ROOT, fresh_venv, run

pytestmark = pytest.mark.e2e


def test_the_example_team_project_passes_through_the_installed_plugin(tmp_path: Path) -> None:
    python = fresh_venv(tmp_path / "env", "requirements-testing.lock")
    project = tmp_path / "team-project"
    shutil.copytree(ROOT / "examples" / "team-project", project)
    assert not list(project.rglob("conftest.py"))
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KAFKA_BOOTSTRAP_SERVERS")
    }
    result = run(python, "-m", "pytest", "-p", "no:cacheprovider", "-v", cwd=project, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "migratieketen-0.1.0" in output, "the plugin did not come from the installed package"
    assert "1 passed" in output
