"""Acceptance: the partner guide's walkthrough (contracts/README.md) runs as written.

Steps 3 to 6 are taken from the guide itself, so the guide and this test cannot drift:
the arrival report in text format, the `protoc --encode` command, `publish.py`,
`consume.py` and the commands that run them. They use only the contract and standard
tools (Debian's `protoc` with `/usr/include`, confluent-kafka): no chainkit, no generated
Python code. Steps 1 and 2 (a broker, the six services) are the `running_chain` fixture;
the only substitutions are the guide's `/tmp/partner` and `127.0.0.1:9092`.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from e2e.conftest import RunningChain

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "contracts" / "README.md"
GUIDE_DIR = "/tmp/partner"
GUIDE_BROKER = "127.0.0.1:9092"
TIMESTAMP_PROTO = Path("/usr/include/google/protobuf/timestamp.proto")
# librdkafka group joins take 15-25 s against the embedded broker.
TIMEOUT = 180.0

RETURN_OUTCOMES = {"OUTCOME_DEPARTED_VOLUNTARY", "OUTCOME_DEPARTED_FORCED", "OUTCOME_ABSCONDED"}


@dataclass(frozen=True)
class Block:
    language: str
    body: str
    before: str  # the guide's text between the previous block and this one


def walkthrough() -> dict[int, list[Block]]:
    """The fenced code blocks of each numbered walkthrough step, in order."""
    text = GUIDE.read_text("utf-8")
    walk = text[text.index("## Walkthrough") :]
    steps: dict[int, list[Block]] = {}
    for part in re.split(r"\n(?=\*\*\d+\. )", walk)[1:]:
        number = int(re.match(r"\*\*(\d+)\.", part).group(1))  # type: ignore[union-attr]
        blocks = []
        rest = part
        for found in re.finditer(r"```(\w*)\n(.*?)```", part, re.DOTALL):
            blocks.append(Block(found.group(1), found.group(2), rest[: found.start()]))
        steps[number] = blocks
    return steps


def _named_file(block: Block) -> str:
    """The `/tmp/partner/...` path the guide names right before the block."""
    names = re.findall(rf"`({re.escape(GUIDE_DIR)}/[\w.]+)`", block.before)
    assert names, f"the guide names no file for this block:\n{block.body[:200]}"
    return str(names[-1])


def require_debian_protoc() -> None:
    """The walkthrough needs `protoc` and libprotobuf-dev's includes: fail in CI (env
    CI=true) when they are missing, skip elsewhere."""
    missing = [
        what
        for what, present in (
            ("protoc (apt-get install protobuf-compiler)", shutil.which("protoc")),
            (f"{TIMESTAMP_PROTO} (apt-get install libprotobuf-dev)", TIMESTAMP_PROTO.exists()),
        )
        if not present
    ]
    if not missing:
        return
    message = "the partner walkthrough needs " + " and ".join(missing)
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; .ci/run installs them")
    pytest.skip(message)


class Walk:
    """Runs the guide's blocks with its directory and broker replaced by the test's."""

    def __init__(self, directory: Path, bootstrap: str) -> None:
        self.directory = directory
        self.bootstrap = bootstrap

    def adapt(self, text: str) -> str:
        return text.replace(GUIDE_DIR, str(self.directory)).replace(GUIDE_BROKER, self.bootstrap)

    def save(self, block: Block) -> Path:
        path = Path(self.adapt(_named_file(block)))
        path.write_text(self.adapt(block.body), "utf-8")
        return path

    def shell(self, block: Block) -> str:
        assert block.language == "sh"
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", self.adapt(block.body)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"{block.body}\nfailed:\n{result.stderr}"
        return result.stdout

    def start(self, block: Block) -> subprocess.Popen[str]:
        assert block.language == "sh"
        return subprocess.Popen(
            ["bash", "-c", self.adapt(block.body)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # Ctrl-C goes to the whole group, as in a terminal
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def _sections(output: str) -> list[tuple[str, str, str]]:
    """consume.py's output as (topic, key, decoded text) per message."""
    return [
        (found.group(1), found.group(2), found.group(3))
        for found in re.finditer(
            r"^--- (\S+) key=(\S*)\n(.*?)(?=^--- |\Z)", output, re.MULTILINE | re.DOTALL
        )
    ]


def _outcome_of(output: str, reference: str) -> tuple[str, str] | None:
    """(V-nummer, outcome) of the report `reference`, once consume.py printed both."""
    sections = _sections(output)
    v_nummer = next(
        (
            key
            for topic, key, text in sections
            if topic == "bvv.registered.v1" and f'partner_reference: "{reference}"' in text
        ),
        None,
    )
    for topic, key, text in sections:
        if topic == "case.outcome.v1" and v_nummer is not None and key == v_nummer:
            found = re.search(r"^outcome: (OUTCOME_\w+)$", text, re.MULTILINE)
            if found:
                return v_nummer, found.group(1)
    return None


def test_partner_walkthrough_as_written(running_chain: RunningChain, tmp_path: Path) -> None:
    require_debian_protoc()
    steps = walkthrough()
    walk = Walk(tmp_path, running_chain.bootstrap_servers)

    (report,) = steps[3]
    report_path = walk.save(report)
    reference = re.search(r'^partner_reference: "([^"]+)"', report.body, re.MULTILINE)
    assert reference, "the guide's report has no partner_reference"

    (encode,) = steps[4]
    walk.shell(encode)
    encoded = tmp_path / "report.bin"
    assert reference.group(1).encode() in encoded.read_bytes()
    assert report_path.exists()

    publish_script, publish = steps[5][:2]
    walk.save(publish_script)
    assert "delivered at offset" in walk.shell(publish)

    consume_script, consume = steps[6][:2]
    walk.save(consume_script)
    process = walk.start(consume)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout or []), daemon=True)
    reader.start()
    deadline = time.monotonic() + TIMEOUT
    found = None
    try:
        while found is None and time.monotonic() < deadline and process.poll() is None:
            running_chain.chain.check_alive()
            time.sleep(1.0)
            found = _outcome_of("".join(output), reference.group(1))
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)  # the guide's Ctrl-C
        process.wait(timeout=30)
        reader.join(timeout=10)
    text = "".join(output)
    assert found is not None, f"consume.py printed no outcome for the report:\n{text[-3000:]}"
    v_nummer, outcome = found
    assert re.fullmatch(r"\d{10}", v_nummer), "the V-nummer is not 10 digits"
    assert outcome in RETURN_OUTCOMES, text
    assert process.returncode == 0, f"consume.py did not stop cleanly on Ctrl-C:\n{text[-3000:]}"


def test_the_walkthrough_is_found_in_the_guide() -> None:
    """The extraction itself: a renamed step or a lost block fails here, not silently."""
    steps = walkthrough()
    assert [block.language for block in steps[3]] == ["text"]
    assert [block.language for block in steps[4]] == ["sh"]
    assert [block.language for block in steps[5][:2]] == ["python", "sh"]
    assert [block.language for block in steps[6][:2]] == ["python", "sh"]
    assert "-I /usr/include" in steps[4][0].body
    assert _named_file(steps[3][0]) == f"{GUIDE_DIR}/report.txt"
    assert _named_file(steps[5][0]) == f"{GUIDE_DIR}/publish.py"
    assert _named_file(steps[6][0]) == f"{GUIDE_DIR}/consume.py"
    for step in (5, 6):
        assert GUIDE_BROKER in steps[step][0].body
