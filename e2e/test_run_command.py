"""The README's main job: `migratieketen run` finishes its demo, and Ctrl-C leaves nothing."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

CLI = [sys.executable, "-m", "chainctl"]


def _children_of(pid: int) -> list[int]:
    """Live descendants of `pid` (from /proc), to prove none outlive the command."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [child for child, ppid in parents.items() if ppid == parent]
        found += kids
        frontier += kids
    return found


def _processes_using(data_dir: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            if f"MK_DATA_DIR={data_dir}".encode() in environ:
                pids.append(int(entry.name))
    return pids


def test_run_finishes_the_demo_and_prints_the_summary(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    done = subprocess.run(
        [*CLI, "run", "--cases", "8", "--data-dir", str(data_dir), "--seconds-per-day", "0.05"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "Chain started: 6 services in" in out
    assert "registered (BVV)           8" in out
    assert "final outcomes             8:" in out
    assert "All cases reached an outcome" in out
    assert "Operations console" in out  # its address, or that the port is taken
    assert _processes_using(data_dir) == []

    # The hint runs as printed.
    hint = out.split("Show one case's trace:")[1].splitlines()[0]
    command = shlex.split(hint)
    v_nummer = command[command.index("trace") + 1]
    shown = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stdout
    assert f"V-nummer {v_nummer}" in shown.stdout
    for service in ("partner", "bvv", "screening", "europaloket"):
        assert service in shown.stdout


def test_ctrl_c_stops_the_chain_and_leaves_no_process(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    proc = subprocess.Popen(
        [*CLI, "run", "--cases", "500", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("Feeding ") or time.monotonic() > deadline:
            break
    children = _children_of(proc.pid)
    assert len(children) >= 7, "broker and six services were running"
    os.kill(proc.pid, signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, "".join(lines) + rest
    assert "Chain stopped." in rest
    still = [pid for pid in children if Path(f"/proc/{pid}").exists()]
    assert still == [] or all(
        (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z") for pid in still
    )


def test_trace_refuses_a_malformed_v_nummer(tmp_path: Path) -> None:
    shown = subprocess.run(
        [*CLI, "trace", "12AB", "--data-dir", str(tmp_path)], capture_output=True, text=True
    )
    assert shown.returncode == 2
    assert "exactly 10 digits" in shown.stdout
