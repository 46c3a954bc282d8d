"""The generated Kafka ACLs grant each principal exactly what the catalogue says.

The ACLs are read back from the generated script (infra/kafka/acls.sh) and evaluated
with Kafka's authorizer semantics: deny unless an ALLOW binding matches (the broker runs
with allow.everyone.if.no.acl.found=false); a DENY binding wins; a LITERAL resource
matches its name (or every name when it is `*`), a PREFIXED one every name that starts
with it; `User:*` matches every principal; ALL implies every operation, and READ, WRITE,
DELETE and ALTER imply DESCRIBE. Consuming needs READ on the topic and on the group;
producing (idempotent too, since Kafka 3.0) needs WRITE on the topic.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from chainctl import acls
from chainctl.cli import main
from chainkit.catalogue import partners, services, topics

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "infra" / "kafka" / "acls.sh"
IMPLIES_DESCRIBE = {"Read", "Write", "Delete", "Alter"}
Acl = tuple[str, str, str, str, str, str]  # principal, type, pattern, name, operation, permission


def parse(script: str) -> list[Acl]:
    """The `kafka-acls.sh --add` commands of a script as ACL bindings."""
    out: list[Acl] = []
    for line in script.splitlines():
        if "kafka-acls.sh" not in line or line.startswith("#"):
            continue
        words = shlex.split(line)
        options = {words[i]: words[i + 1] for i in range(len(words) - 1) if words[i][:2] == "--"}
        assert "--add" in words
        if "--allow-principal" in options:
            who, permission = options["--allow-principal"], "Allow"
        else:
            who, permission = options["--deny-principal"], "Deny"
        kind = "Topic" if "--topic" in options else "Group"
        name = options["--topic" if kind == "Topic" else "--group"]
        pattern = options.get("--resource-pattern-type", "literal").upper()
        out.append((who, kind, pattern, name, options["--operation"], permission))
    return out


def _matches(acl: Acl, user: str, kind: str, name: str, operation: str) -> bool:
    who, acl_kind, pattern, acl_name, acl_operation, _ = acl
    if who not in (f"User:{user}", "User:*") or acl_kind != kind:
        return False
    named = name.startswith(acl_name) if pattern == "PREFIXED" else acl_name in (name, "*")
    implied = acl_operation == "All" or (
        operation == "Describe" and acl_operation in IMPLIES_DESCRIBE
    )
    return named and (acl_operation == operation or implied)


def authorized(bindings: list[Acl], user: str, kind: str, name: str, operation: str) -> bool:
    found = [b for b in bindings if _matches(b, user, kind, name, operation)]
    return bool(found) and all(b[5] == "Allow" for b in found)


def can_produce(bindings: list[Acl], user: str, topic: str) -> bool:
    return authorized(bindings, user, "Topic", topic, "Write")


def can_consume(bindings: list[Acl], user: str, topic: str, group: str) -> bool:
    return authorized(bindings, user, "Topic", topic, "Read") and authorized(
        bindings, user, "Group", group, "Read"
    )


@pytest.fixture(scope="module")
def generated() -> list[Acl]:
    return parse(SCRIPT.read_text("utf-8"))


def _group(name: str) -> str:
    """A consumer group the principal uses: a service's own name, a partner's prefix."""
    return f"{acls.principal(name)}-outcomes" if name in partners() else name


def test_the_committed_script_is_up_to_date() -> None:
    assert SCRIPT.read_text("utf-8") == acls.script(), (
        "infra/kafka/acls.sh drifted from topics.toml: run "
        "`.venv/bin/migratieketen acls --output infra/kafka/acls.sh`"
    )


def test_one_principal_per_service_and_partner() -> None:
    assert set(acls.principals()) == {n.lower() for n in (*services(), *partners())}
    script = SCRIPT.read_text("utf-8")
    for user in acls.principals():
        assert f"--entity-name {user} " in script


@pytest.mark.parametrize("name", [*services(), *partners()])
def test_each_principal_writes_only_its_topics(generated: list[Acl], name: str) -> None:
    user = acls.principal(name)
    for topic in topics().values():
        expected = name in topic.producers
        assert can_produce(generated, user, topic.name) == expected, (
            f"{user} {'cannot' if expected else 'can'} write {topic.name}"
        )


@pytest.mark.parametrize("name", [*services(), *partners()])
def test_each_principal_reads_only_what_the_catalogue_grants(
    generated: list[Acl], name: str
) -> None:
    user = acls.principal(name)
    for topic in topics().values():
        expected = name in topic.consumers or name in topic.readers
        assert can_consume(generated, user, topic.name, _group(name)) == expected, (
            f"{user} {'cannot' if expected else 'can'} read {topic.name}"
        )


@pytest.mark.parametrize("name", [*services(), *partners()])
def test_nobody_uses_another_principal_s_group(generated: list[Acl], name: str) -> None:
    user = acls.principal(name)
    for other in (*services(), *partners()):
        if other != name:
            assert not authorized(generated, user, "Group", _group(other), "Read")


def test_the_reporting_partners_and_their_topics(generated: list[Acl]) -> None:
    for user in ("kmar", "avim", "disa", "ind"):
        assert can_produce(generated, user, "arrival.reported.v1")
        for topic in ("bvv.registered.v1", "case.outcome.v1", "arrival.rejected.v1"):
            assert can_consume(generated, user, topic, f"{user}-partner-example")
        assert not can_consume(generated, user, "screening.completed.v1", f"{user}-x")
        assert not can_produce(generated, user, "case.outcome.v1")
    assert can_consume(generated, "nidos", "screening.guardian-requested.v1", "nidos-1")
    assert not can_produce(generated, "nidos", "arrival.reported.v1")
    assert can_consume(generated, "operations", "deadletter.v1", "operations-dlq")
    assert can_consume(generated, "screening", "bvv.registered.v1", "screening")
    assert not can_consume(generated, "screening", "bvv.registered.v1", "bvv")


def test_the_evaluator_applies_kafka_semantics() -> None:
    """The evaluator itself can refuse: prefixes, wildcards, implied DESCRIBE, DENY wins."""
    allow_prefix = ("User:kmar", "Group", "PREFIXED", "kmar-", "Read", "Allow")
    assert authorized([allow_prefix], "kmar", "Group", "kmar-1", "Read")
    assert not authorized([allow_prefix], "kmar", "Group", "kmarx", "Read")
    assert not authorized([allow_prefix], "avim", "Group", "kmar-1", "Read")
    assert authorized([allow_prefix], "kmar", "Group", "kmar-1", "Describe")
    assert not authorized([allow_prefix], "kmar", "Group", "kmar-1", "Delete")
    wildcard = ("User:*", "Topic", "LITERAL", "*", "All", "Allow")
    deny = ("User:kmar", "Topic", "LITERAL", "case.outcome.v1", "Read", "Deny")
    assert authorized([wildcard], "kmar", "Topic", "case.outcome.v1", "Write")
    assert not authorized([wildcard, deny], "kmar", "Topic", "case.outcome.v1", "Read")
    assert not authorized([], "kmar", "Topic", "case.outcome.v1", "Read")


def test_a_missing_acl_is_found(generated: list[Acl]) -> None:
    without = [b for b in generated if b[0] != "User:kmar" or b[1] != "Group"]
    assert not can_consume(without, "kmar", "case.outcome.v1", "kmar-partner-example")


def test_the_command_writes_the_script(tmp_path: Path) -> None:
    output = tmp_path / "kafka" / "acls.sh"
    assert main(["acls", "--output", str(output)]) == 0
    assert output.read_text("utf-8") == acls.script()
