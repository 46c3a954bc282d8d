"""The IND through the running chain: a table of asylum scenarios (each routing ground,
the unaccompanied-minor exemption and its security exception, special needs, security
beats Dublin, both Dublin variants with silence, a missed Dublin deadline, an appeal,
both regimes, a crisis, a planted decision, a repeated arrival), bad input dead-lettered,
and the adequate capacity of the border procedure with its priorities."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest
from google.protobuf.message import Message

from chainkit.clock import timestamp
from e2e.europaloket_helpers import PATIENT_SCREENING, arrival, events, everything, fingerprint
from e2e.europaloket_helpers import running as running_chain_of
from e2e.europaloket_helpers import send as publish
from migratieketen.v1.arrival_pb2 import ArrivalRejected, ArrivalReport
from migratieketen.v1.asylum_pb2 import (
    AppealDecided,
    AppealOutcome,
    AsylumApplicationRegistered,
    AsylumDecision,
    AsylumProcedure,
    AsylumRegime,
    DecisionOutcome,
)
from migratieketen.v1.bvv_pb2 import PersonRegistered
from migratieketen.v1.common_pb2 import ArrivalReason, ArrivalSetting, VulnerabilityIndicator
from migratieketen.v1.deadletter_pb2 import DeadLetter
from migratieketen.v1.deadline_pb2 import DeadlineEvent, DeadlineState
from migratieketen.v1.ind_pb2 import (
    AppealLodged,
    ApplicationSupplemented,
    BorderCapacityChanged,
    CapacityState,
    CrisisDeclared,
    DublinStep,
    DublinStepKind,
)
from migratieketen.v1.returns_pb2 import TransferExpired

pytestmark = pytest.mark.e2e

M = TypeVar("M", bound=Message)
P = AsylumProcedure
S = DublinStepKind
SERVICES = ("bvv", "screening", "europaloket", "asylum")
NO_SEEDED_HITS = {
    f"MK_EUROPALOKET_{system}__HIT_SHARE": "0"
    for system in ("EURODAC", "SIS", "VIS", "EES", "ETIAS", "ECRIS_TCN", "MID")
}


def at(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 12, tzinfo=UTC)


def report(
    ref: str,
    nationality: str = "SYR",
    *,
    border: bool = False,
    age: int = 30,
    accompanied: bool = True,
    torture: bool = False,
    made_at: datetime | None = None,
    hash_of: str | None = None,
) -> ArrivalReport:
    """A clean arrival: nothing the seeded generator adds, only the traits asked for."""
    r = arrival(ref, age=age, biometric_hash=fingerprint(hash_of or ref))
    r.claimed_identity.nationalities[:] = [nationality]
    r.setting = (
        ArrivalSetting.ARRIVAL_SETTING_EXTERNAL_BORDER
        if border
        else ArrivalSetting.ARRIVAL_SETTING_INLAND
    )
    r.reason = (
        ArrivalReason.ARRIVAL_REASON_ASYLUM_AT_BORDER_CROSSING_POINT
        if border
        else ArrivalReason.ARRIVAL_REASON_ASYLUM_INLAND
    )
    r.accompanied = accompanied
    r.family_group_id = f"{ref}-FAM" if age < 18 and accompanied else ""
    r.travelling_with_children = False
    del r.vulnerability_indicators[:]
    if torture:
        r.vulnerability_indicators.append(
            VulnerabilityIndicator.VULNERABILITY_INDICATOR_SIGNS_OF_TORTURE
        )
    r.needs_medical_care = False
    del r.family_member_states[:]
    r.relocation_candidate = False
    r.held_hours_before_screening = 0
    r.ClearField("reported_at")
    if made_at is not None:
        r.application_made_at.CopyFrom(timestamp(made_at))
    return r


@dataclass
class Scenario:
    ref: str
    arrival: ArrivalReport
    procedure: AsylumProcedure.ValueType
    reason: str  # a part of the routing reason
    regime: str = "PACT"
    dublin: tuple[DublinStepKind.ValueType, ...] = ()
    outcome: DecisionOutcome.ValueType | None = None
    appeal: bool = False
    crisis: str = ""
    notes: list[str] = field(default_factory=list)


BORDER = P.ASYLUM_PROCEDURE_BORDER
ACCELERATED = P.ASYLUM_PROCEDURE_ACCELERATED
REGULAR = P.ASYLUM_PROCEDURE_REGULAR
DUBLIN = P.ASYLUM_PROCEDURE_DUBLIN
D = DecisionOutcome
LOW = "recognition_rate_at_or_below_threshold"
DANGER = "danger_to_public_order"
OLD = "NATIONAL_PRE_PACT"
TAKE_BACK = (
    S.DUBLIN_STEP_KIND_STARTED,
    S.DUBLIN_STEP_KIND_REQUEST_SENT,
    S.DUBLIN_STEP_KIND_ACCEPTED_BY_SILENCE,
    S.DUBLIN_STEP_KIND_TRANSFER_DECIDED,
)
TAKE_CHARGE = (
    S.DUBLIN_STEP_KIND_STARTED,
    S.DUBLIN_STEP_KIND_HEARING_HELD,
    S.DUBLIN_STEP_KIND_REQUEST_SENT,
    S.DUBLIN_STEP_KIND_ACCEPTED_BY_SILENCE,
    S.DUBLIN_STEP_KIND_TRANSFER_DECIDED,
)
MISSED = (S.DUBLIN_STEP_KIND_STARTED, S.DUBLIN_STEP_KIND_NL_RESPONSIBLE)


def uam(ref: str) -> ArrivalReport:
    """An unaccompanied minor of 16 at the border, from a low-rate country."""
    return report(ref, "MAR", border=True, age=16, accompanied=False)


def scenarios() -> list[Scenario]:
    s = Scenario
    return [
        s("IND-LOW-RATE", report("IND-LOW-RATE", "MAR", border=True), BORDER, LOW),
        s("IND-MISLEADING", report("IND-MISLEADING", border=True), BORDER, "misleading"),
        s("IND-SECURITY", report("IND-SECURITY", border=True), BORDER, DANGER),
        s("IND-INLAND-LOW", report("IND-INLAND-LOW", "MAR"), ACCELERATED, "Art. 42(1)"),
        s("IND-REGULAR", report("IND-REGULAR"), REGULAR, "no ground for the border"),
        s("IND-UAM", uam("IND-UAM"), REGULAR,
          "unaccompanied minor: not on recognition_rate"),
        s("IND-UAM-SECURITY", uam("IND-UAM-SECURITY"), BORDER,
          DANGER),
        s("IND-SPECIAL-NEEDS", report("IND-SPECIAL-NEEDS", "MAR", border=True, torture=True),
          ACCELERATED, "special needs not met at the border (possible_torture)"),
        s("IND-SECURITY-DUBLIN", report("IND-SECURITY-DUBLIN", border=True), BORDER,
          "AMMR Art. 16(4)"),
        s("IND-TAKE-BACK", report("IND-TAKE-BACK"), DUBLIN, "take-back", dublin=TAKE_BACK,
          outcome=D.DECISION_OUTCOME_DUBLIN_TRANSFER),
        s("IND-TAKE-CHARGE", report("IND-TAKE-CHARGE"), DUBLIN, "take-charge",
          dublin=TAKE_CHARGE, outcome=D.DECISION_OUTCOME_DUBLIN_TRANSFER),
        s("IND-DUBLIN-MISSED", report("IND-DUBLIN-MISSED"), DUBLIN, "take-charge",
          dublin=MISSED, outcome=D.DECISION_OUTCOME_GRANTED_SUBSIDIARY),
        s("IND-APPEAL", report("IND-APPEAL", "MAR"), ACCELERATED, "accelerated",
          outcome=D.DECISION_OUTCOME_REJECTED_MANIFESTLY_UNFOUNDED, appeal=True),
        s("IND-PLANTED", report("IND-PLANTED", "MAR"), ACCELERATED, "accelerated",
          outcome=D.DECISION_OUTCOME_GRANTED_REFUGEE),
        s("IND-OLD-BORDER", report("IND-OLD-BORDER", "MAR", border=True, made_at=at(2026, 5, 1)),
          BORDER, "old regime, 9 weeks", regime=OLD),
        s("IND-OLD-INLAND", report("IND-OLD-INLAND", "MAR", made_at=at(2026, 5, 2)), REGULAR,
          "old national regime", regime=OLD),
        s("IND-CRISIS", report("IND-CRISIS", "NGA", border=True, made_at=at(2026, 7, 15)),
          REGULAR, "no ground", crisis="E2E-CRISIS"),
        s("IND-NO-CRISIS", report("IND-NO-CRISIS", "NGA", border=True, made_at=at(2026, 8, 15)),
          BORDER, LOW),
    ]  # fmt: skip


EUROPALOKET_FIXTURES = f"""
[[mid]]
biometric_hash = "{fingerprint("IND-MISLEADING")}"
colour = "RED"

[[sis]]
biometric_hash = "{fingerprint("IND-SECURITY")}"
member_state = "DE"
category = "ARREST"

[[sis]]
biometric_hash = "{fingerprint("IND-UAM-SECURITY")}"
member_state = "DE"
category = "ARREST"

[[sis]]
biometric_hash = "{fingerprint("IND-SECURITY-DUBLIN")}"
member_state = "BE"
category = "ARREST"

[[eurodac]]
biometric_hash = "{fingerprint("IND-SECURITY-DUBLIN")}"
member_state = "IT"
category = "APPLICANT"

[[eurodac]]
biometric_hash = "{fingerprint("IND-TAKE-BACK")}"
member_state = "IT"
category = "APPLICANT"

[[eurodac]]
biometric_hash = "{fingerprint("IND-TAKE-CHARGE")}"
member_state = "GR"
category = "IRREGULAR_BORDER_CROSSER"

[[eurodac]]
biometric_hash = "{fingerprint("IND-DUBLIN-MISSED")}"
member_state = "ES"
category = "IRREGULAR_BORDER_CROSSER"
"""

ASYLUM_FIXTURES = """
[[dublin]]
partner_reference = "IND-TAKE-BACK"
answer = "SILENCE"

[[dublin]]
partner_reference = "IND-TAKE-CHARGE"
answer = "SILENCE"

[[dublin]]
partner_reference = "IND-DUBLIN-MISSED"
ind_late = true

[[decision]]
partner_reference = "IND-DUBLIN-MISSED"
outcome = "GRANTED_SUBSIDIARY"

[[decision]]
partner_reference = "IND-APPEAL"
outcome = "REJECTED_MANIFESTLY_UNFOUNDED"
appeal = "DISMISSED"

[[decision]]
partner_reference = "IND-PLANTED"
outcome = "GRANTED_REFUGEE"
late_days = 3
"""


def by_v(found: list[tuple[str, M]]) -> dict[str, list[M]]:
    out: dict[str, list[M]] = {}
    for _, message in found:
        out.setdefault(getattr(message, "v_nummer", ""), []).append(message)
    return out


async def v_nummers(bootstrap: str, refs: set[str]) -> dict[str, str]:
    found = await events(
        bootstrap,
        PersonRegistered,
        lambda ms: refs <= {m.arrival.partner_reference for m in ms},
        timeout=120,
    )
    return {
        m.arrival.partner_reference: m.v_nummer
        for _, m in found
        if m.arrival.partner_reference in refs
    }


async def wait_for(
    bootstrap: str, kind: type[M], done: Callable[[list[M]], bool], timeout: float = 120
) -> list[M]:
    return [m for _, m in await events(bootstrap, kind, done, timeout=timeout)]


def test_asylum_scenarios(tmp_path: Path) -> None:
    asyncio.run(_scenarios(tmp_path))


async def _scenarios(tmp_path: Path) -> None:
    (tmp_path / "europaloket.toml").write_text(EUROPALOKET_FIXTURES)
    (tmp_path / "asylum.toml").write_text(ASYLUM_FIXTURES)
    env = {
        **PATIENT_SCREENING,
        **NO_SEEDED_HITS,
        "MK_EUROPALOKET_FIXTURES": str(tmp_path / "europaloket.toml"),
        "MK_ASYLUM_FIXTURES": str(tmp_path / "asylum.toml"),
        "MK_ASYLUM_APPEAL_SHARE": "0",
        # The regular case stays open long enough for the repeated arrival.
        "MK_ASYLUM_HANDLING_DAYS": '{"BORDER": 21, "ACCELERATED": 35, "REGULAR": 40}',
        "MK_ASYLUM_DUBLIN_STEP_DAYS": "1",
    }
    table = scenarios()
    # 0.5 s a simulated day: the IND's Dublin step takes a day and has two weeks, so
    # timers on a loaded two-core machine keep ~6 s of margin; months take a minute.
    async with running_chain_of(
        tmp_path / "chain", SERVICES, env, seed=11, seconds_per_day=0.5
    ) as chain:
        bootstrap = chain.bootstrap_servers
        crisis = CrisisDeclared(
            crisis_id="E2E-CRISIS",
            starts_at=timestamp(at(2026, 7, 1)),
            ends_at=timestamp(at(2026, 8, 1)),
            recognition_rate_threshold=0.05,
            reason="e2e: mass arrival",
        )
        bad_crisis = CrisisDeclared(
            crisis_id="E2E-BAD",
            starts_at=timestamp(at(2026, 9, 1)),
            recognition_rate_threshold=0.03,
        )
        await publish(bootstrap, crisis, bad_crisis)
        await asyncio.sleep(2)  # the crisis is stored before the cases arrive
        bad_nationality = report("IND-BAD-CODE", "XYZ")
        await publish(bootstrap, *(s.arrival for s in table), bad_nationality)
        refs = {s.ref for s in table}
        vs = await v_nummers(bootstrap, refs)
        rejected = await wait_for(
            bootstrap,
            ArrivalRejected,
            lambda ms: any(m.partner_reference == "IND-BAD-CODE" for m in ms),
        )
        refused = next(m for m in rejected if m.partner_reference == "IND-BAD-CODE")
        assert refused.field == "claimed_identity.nationalities[0]"
        assert refused.reason_code == "unknown_code"

        registered = by_v(
            [
                ("", m)
                for m in await wait_for(
                    bootstrap,
                    AsylumApplicationRegistered,
                    lambda ms: set(vs.values()) <= {m.v_nummer for m in ms},
                )
            ]
        )
        for s in table:
            (reg,) = registered[vs[s.ref]]
            assert reg.procedure == s.procedure, (s.ref, P.Name(reg.procedure), reg.routing_reason)
            assert s.reason in reg.routing_reason, (s.ref, reg.routing_reason)
            assert reg.regime_name == s.regime, s.ref
            assert reg.crisis_id == s.crisis, s.ref

        # The repeated arrival of an open case adds to it: no second application.
        await publish(bootstrap, report("IND-REPEAT", hash_of="IND-REGULAR"))
        supplemented = await wait_for(
            bootstrap,
            ApplicationSupplemented,
            lambda ms: vs["IND-REGULAR"] in {m.v_nummer for m in ms},
        )
        assert any(m.v_nummer == vs["IND-REGULAR"] for m in supplemented)

        expected_outcomes = {vs[s.ref]: s for s in table if s.outcome is not None}
        decided = by_v(
            [
                ("", m)
                for m in await wait_for(
                    bootstrap,
                    AsylumDecision,
                    lambda ms: set(expected_outcomes) <= {m.v_nummer for m in ms},
                    timeout=180,
                )
            ]
        )
        for v, s in expected_outcomes.items():
            decision = decided[v][0]
            assert decision.outcome == s.outcome, (s.ref, DecisionOutcome.Name(decision.outcome))
            if decision.outcome == DecisionOutcome.DECISION_OUTCOME_DUBLIN_TRANSFER:
                assert (
                    decision.HasField("transfer_deadline_at") and decision.responsible_member_state
                )
            if decision.return_decision:
                assert decision.departure_period_days > 0
            assert decision.suspensive_appeal_pending == s.appeal, s.ref
        planted = decided[vs["IND-PLANTED"]][0]
        assert planted.late_days >= 3 and planted.penalty_eur >= 3 * 23, planted

        steps = by_v([("", m) for m in await everything_of(bootstrap, DublinStep)])
        for s in table:
            if s.dublin:
                seen = [m.step for m in steps.get(vs[s.ref], [])]
                assert [k for k in seen if k in s.dublin] == list(s.dublin), (s.ref, seen)
        assert vs["IND-SECURITY-DUBLIN"] not in steps

        deadline_events = by_v([("", m) for m in await everything_of(bootstrap, DeadlineEvent)])
        missed = deadline_events[vs["IND-DUBLIN-MISSED"]]
        assert any(
            d.type == "asylum.dublin_request" and d.state == DeadlineState.DEADLINE_STATE_BREACHED
            for d in missed
        )
        old = deadline_events[vs["IND-OLD-BORDER"]]
        assert any(d.type == "asylum.registration" and d.late for d in old), "backlog: late"

        appeal = vs["IND-APPEAL"]
        lodged = await wait_for(
            bootstrap, AppealLodged, lambda ms: appeal in {m.v_nummer for m in ms}
        )
        assert next(m for m in lodged if m.v_nummer == appeal).suspensive
        ruled = await wait_for(
            bootstrap, AppealDecided, lambda ms: appeal in {m.v_nummer for m in ms}
        )
        ruling = next(m for m in ruled if m.v_nummer == appeal)
        assert ruling.appeal_outcome == AppealOutcome.APPEAL_OUTCOME_DISMISSED
        assert (
            ruling.outcome_in_force
            == DecisionOutcome.DECISION_OUTCOME_REJECTED_MANIFESTLY_UNFOUNDED
        )
        assert decided[appeal][0].regime == AsylumRegime.ASYLUM_REGIME_PACT

        # After the final decision, a new application is a subsequent application.
        await publish(bootstrap, report("IND-AGAIN", "MAR", hash_of="IND-APPEAL"))
        again = await wait_for(
            bootstrap,
            AsylumApplicationRegistered,
            lambda ms: sum(m.v_nummer == appeal for m in ms) >= 2,
        )
        second = [m for m in again if m.v_nummer == appeal][-1]
        assert second.subsequent and second.application_id != registered[appeal][0].application_id
        assert "subsequent application" in second.routing_reason

        # Bad input is dead-lettered naming the field; nothing else is lost.
        await publish(
            bootstrap,
            TransferExpired(v_nummer=vs["IND-REGULAR"], application_id="no-such-application"),
        )
        letters = await wait_for(
            bootstrap, DeadLetter, lambda ms: sum(m.service == "asylum" for m in ms) >= 2
        )
        reasons = sorted(m.reason for m in letters if m.service == "asylum")
        assert any(r.startswith("recognition_rate_threshold:") for r in reasons), reasons
        assert any(r.startswith("application_id:") for r in reasons), reasons


def has(v_nummer: str) -> Callable[[list[AsylumApplicationRegistered]], bool]:
    return lambda ms: v_nummer in {m.v_nummer for m in ms}


async def everything_of(bootstrap: str, kind: type[M]) -> list[M]:
    return [m for _, m in await everything(bootstrap, kind)]


def test_border_capacity_with_priorities(tmp_path: Path) -> None:
    asyncio.run(_capacity(tmp_path))


async def _capacity(tmp_path: Path) -> None:
    """Capacity 3, the last place for families, the one before for a return perspective
    or a danger: a deceit-only case gets no place, the fourth low-rate case is routed
    inland with the recognition-rate ground suspended (Art. 48), a family still gets the
    last place; the threshold is reported reached, then released when a place frees."""
    (tmp_path / "europaloket.toml").write_text(
        f'[[mid]]\nbiometric_hash = "{fingerprint("CAP-DECEIT")}"\ncolour = "RED"\n'
    )
    (tmp_path / "asylum.toml").write_text(
        '[[decision]]\npartner_reference = "CAP-A"\noutcome = "GRANTED_REFUGEE"\n'
    )
    env = {
        **PATIENT_SCREENING,
        **NO_SEEDED_HITS,
        "MK_EUROPALOKET_FIXTURES": str(tmp_path / "europaloket.toml"),
        "MK_ASYLUM_FIXTURES": str(tmp_path / "asylum.toml"),
        "MK_ASYLUM_BORDER_CAPACITY": "3",
        "MK_ASYLUM_FAMILY_RESERVE": "1",
        "MK_ASYLUM_PRIORITY_RESERVE": "1",
        "MK_ASYLUM_HANDLING_DAYS": '{"BORDER": 40, "ACCELERATED": 400, "REGULAR": 400}',
        "MK_ASYLUM_APPEAL_SHARE": "0",
    }
    order = [
        ("CAP-A", report("CAP-A", "MAR", border=True), BORDER, ""),
        ("CAP-DECEIT", report("CAP-DECEIT", border=True), ACCELERATED, "no border place"),
        ("CAP-B", report("CAP-B", "MAR", border=True), BORDER, ""),
        ("CAP-C", report("CAP-C", "MAR", border=True), ACCELERATED, "Art. 48"),
        ("CAP-FAMILY", report("CAP-FAMILY", "MAR", border=True, age=8), BORDER, ""),
    ]  # fmt: skip
    async with running_chain_of(
        tmp_path / "chain", SERVICES, env, seed=12, seconds_per_day=0.2
    ) as chain:
        bootstrap = chain.bootstrap_servers
        for ref, arrival_report, procedure, reason in order:
            await publish(bootstrap, arrival_report)
            (v,) = (await v_nummers(bootstrap, {ref})).values()
            registered = await wait_for(bootstrap, AsylumApplicationRegistered, has(v))
            reg = next(m for m in registered if m.v_nummer == v)
            assert reg.procedure == procedure, (ref, reg.routing_reason)
            assert reason in reg.routing_reason, (ref, reg.routing_reason)
        changes = await wait_for(
            bootstrap,
            BorderCapacityChanged,
            lambda ms: (
                [m.state for m in ms][:2]
                == [CapacityState.CAPACITY_STATE_REACHED, CapacityState.CAPACITY_STATE_RELEASED]
            ),
            timeout=120,
        )
        assert (changes[0].in_use, changes[0].capacity) == (3, 3)
        assert changes[1].in_use == 2
