"""The principals docker-compose.yml logs in with are the ones infra/kafka/acls.sh creates,
and each may do, under the generated ACLs, what its container does.

Evaluated with the Kafka ACL semantics of tests/unit/test_acls.py on the committed
script (which that test keeps equal to the catalogue); no broker is needed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from chainctl.chain import SERVICES
from chainkit.catalogue import consumed_by, topics
from tests.unit.test_acls import Acl, can_consume, can_produce, parse

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "infra" / "kafka" / "acls.sh"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
    return loaded


@pytest.fixture(scope="module")
def generated() -> list[Acl]:
    return parse(SCRIPT.read_text("utf-8"))


def _user(compose: dict[str, Any], name: str) -> str:
    return str(compose["services"][name]["environment"]["MK_KAFKA_USERNAME"])


def test_every_compose_login_is_a_principal_the_script_creates(compose: dict[str, Any]) -> None:
    script = SCRIPT.read_text("utf-8")
    created = set(re.findall(r"--entity-name (\S+) ", script))
    read = set(re.findall(r"\$\{(MK_PASSWORD_\w+):\?", script))
    for name, service in compose["services"].items():
        user = service.get("environment", {}).get("MK_KAFKA_USERNAME")
        if user is not None and user != "admin":
            assert user in created, f"{name} logs in as {user}, which acls.sh never creates"
    given = {k for k in compose["services"]["acls"]["environment"] if k.startswith("MK_PASSWORD_")}
    assert given == read, "the acls job sets exactly the passwords acls.sh reads"


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_may_do_what_it_does(
    compose: dict[str, Any], generated: list[Acl], name: str
) -> None:
    """A service consumes its topics in the group named after it (chainkit.runtime) and
    its relay writes the topics it produces."""
    user = _user(compose, name)
    for topic in consumed_by(name):
        assert can_consume(generated, user, topic.name, name), f"{user} cannot read {topic.name}"
    for topic in (t for t in topics().values() if name in t.producers):
        assert can_produce(generated, user, topic.name), f"{user} cannot write {topic.name}"
    assert not can_produce(generated, user, "arrival.reported.v1"), "only partners report"


def test_the_demo_reports_arrivals_as_a_partner(
    compose: dict[str, Any], generated: list[Acl]
) -> None:
    user = _user(compose, "demo")
    assert user == "kmar"
    assert can_produce(generated, user, "arrival.reported.v1")
    assert not can_produce(generated, user, "bvv.registered.v1")
    assert not can_consume(generated, user, "screening.completed.v1", f"{user}-demo")
