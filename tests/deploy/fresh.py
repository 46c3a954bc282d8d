"""A fresh virtual environment with locked dependencies and the package, as a new
operator's image or a test team's CI installs it (pip's own cache keeps it quick)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What infra/Dockerfile copies into the image before `pip install --no-deps .`.
PACKAGE_SOURCES = ("pyproject.toml", "README.md", "services", "contracts")


def run(
    *argv: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def fresh_venv(base: Path, lock: str) -> Path:
    """A venv under `base` with the lock file's packages (hashes checked) and the package
    from a copy of its sources (not editable, no dependencies); returns its python."""
    source = base / "src"
    source.mkdir(parents=True)
    for name in PACKAGE_SOURCES:
        path = ROOT / name
        if path.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
            shutil.copytree(path, source / name, ignore=ignore)
        else:
            shutil.copy2(path, source / name)
    venv = base / "venv"
    made = run(sys.executable, "-m", "venv", venv)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    pip = (python, "-m", "pip", "install", "--quiet", "--no-deps")
    locked = run(*pip, "--require-hashes", "-r", ROOT / lock)
    assert locked.returncode == 0, locked.stderr[-3000:]
    package = run(*pip, source)
    assert package.returncode == 0, package.stderr[-3000:]
    return python
