"""Acceptance: a second, non-Python partner (contracts/examples/node: kafkajs and
protobufjs loading the .proto files) publishes an arrival report and reads the case's
outcome from the running chain. Runs when `node` and `npm` are on PATH."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from e2e.conftest import RunningChain

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).resolve().parents[1] / "contracts" / "examples" / "node"
RETURN_OUTCOMES = {
    "OUTCOME_DEPARTED_VOLUNTARY",
    "OUTCOME_DEPARTED_FORCED",
    "OUTCOME_ABSCONDED",
    "OUTCOME_NOT_REMOVABLE",
}
# kafkajs group joins take 15-25 s against the embedded broker.
TIMEOUT_SECONDS = 180


@pytest.fixture(scope="module")
def node() -> str:
    binary, npm = shutil.which("node"), shutil.which("npm")
    if binary is None or npm is None:
        pytest.skip("node and npm are not installed")
    if not (EXAMPLE / "node_modules" / "kafkajs").is_dir():
        # `make tools` does this too; npm ci installs exactly what package-lock.json says.
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(EXAMPLE)],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return binary


def test_node_partner_reads_the_outcome_of_its_report(
    running_chain: RunningChain, node: str
) -> None:
    reference = f"KMAR-NODE-{uuid.uuid4().hex[:12].upper()}"
    result = subprocess.run(
        [node, str(EXAMPLE / "partner.js")],
        env={
            **os.environ,
            "BOOTSTRAP_SERVERS": running_chain.bootstrap_servers,
            "PARTNER_REFERENCE": reference,
            "TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
        },
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS + 60,
    )
    running_chain.chain.check_alive()
    assert result.returncode == 0, f"partner.js failed:\n{result.stderr[-3000:]}"
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["partner_reference"] == reference
    assert re.fullmatch(r"\d{10}", found["v_nummer"]), "the V-nummer is not 10 digits"
    assert found["outcome"] in RETURN_OUTCOMES
