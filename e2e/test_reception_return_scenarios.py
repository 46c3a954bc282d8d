"""Reception (COA) and return (DTenV) under pressure, through the whole chain: a surge
climbs the ladder and comes down, a rejected applicant leaves reception 4 weeks after
the decision, missed reports end in MOB and a SIS return alert, a departure records the
EES exit and deletes the alert, detention never exceeds its capacity, every case ends
in exactly one outcome and nobody holds two places."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from google.protobuf.message import Message

from chainctl.arrivals import make_arrivals
from chainctl.broker import EmbeddedBroker, ensure_topics
from chainctl.chain import Chain
from chainctl.watch import CaseBook
from e2e.europaloket_helpers import everything
from e2e.helpers import drive
from migratieketen.v1.arrival_pb2 import ArrivalReport
from migratieketen.v1.asylum_pb2 import AppealDecided, AppealOutcome, DecisionOutcome
from migratieketen.v1.common_pb2 import ArrivalReason, ArrivalSetting, Partner
from migratieketen.v1.deadline_pb2 import DeadlineEvent, DeadlineState
from migratieketen.v1.europaloket_pb2 import CheckOperation, CheckRequest
from migratieketen.v1.outcome_pb2 import CaseOutcome, Outcome
from migratieketen.v1.reception_pb2 import (
    LadderChanged,
    LadderStep,
    ReceptionEnded,
    ReceptionEndReason,
    ReceptionPlacement,
    ReportMissed,
)
from migratieketen.v1.returns_pb2 import DetentionChanged
from migratieketen.v1.screening_pb2 import Referral

pytestmark = pytest.mark.e2e
M = TypeVar("M", bound=Message)

SECONDS_PER_DAY = 0.3
DAY = 86_400
S = LadderStep
Op = CheckOperation
# Small places, so a surge of 30 applicants climbs every step of the ladder.
LOCATIONS = """
[[location]]
name = "COL Ter Apel"
type = "CENTRAL_RECEPTION"
tier = "REGULAR"
capacity = 60
raisable = false
"""
for _kind, _sizes in {
    "PROCESS_RECEPTION": (6, 2, 2, 2),
    "FAST_TRACK": (6, 2, 2, 2),
    "REGULAR_CENTRE": (6, 2, 4, 4),
    "UAM_LOCATION": (4, 0, 2, 0),
}.items():
    for _tier, _size in zip(("REGULAR", "RESERVE", "EMERGENCY", "CRISIS"), _sizes, strict=True):
        if _size:
            LOCATIONS += (
                f'\n[[location]]\nname = "{_kind} {_tier}"\ntype = "{_kind}"\n'
                f'tier = "{_tier}"\ncapacity = {_size}\n'
            )
for _kind in ("CLOSED_FAMILY_FACILITY", "BORDER_DETENTION", "FREEDOM_RESTRICTING"):
    LOCATIONS += (
        f'\n[[location]]\nname = "{_kind}"\ntype = "{_kind}"\ntier = "REGULAR"\ncapacity = 20\n'
    )

# Test-team plants: who misses reports after the decision (MOB), how returns end.
RECEPTION_PLANTS = """
[[person]]
partner_reference = "COA-MOB-1"
misses_reports = "decision"

[[person]]
partner_reference = "COA-MOB-2"
misses_reports = "decision"

[[person]]
partner_reference = "COA-MOB-3"
misses_reports = "decision"
"""
RETURNS_PLANTS = (
    """
[[case]]
partner_reference = "COA-LEAVES"
outcome = "DEPARTED_VOLUNTARY"
after_days = 3
"""
    + "".join(
        f'\n[[case]]\npartner_reference = "COA-{ref}"\noutcome = "DEPARTED_FORCED"\n'
        f"detention = true\n"
        for ref in ("DETAIN-1", "DETAIN-2", "DETAIN-3")
    )
    + "".join(
        f'\n[[case]]\npartner_reference = "COA-{ref}"\noutcome = "DEPARTED_FORCED"\n'
        f"detention = false\n"
        for ref in [*(f"LOW-{n}" for n in range(6)), *(f"MOB-{n}" for n in (1, 2, 3))]
    )
)


@dataclass
class Scenario:
    bootstrap: str
    data_dir: Path
    book: CaseBook
    reports: dict[str, ArrivalReport]

    def v(self, ref: str) -> str:
        return self.book.v_nummer_of[ref]


def _applicant(ref: str, nationality: str, asylum: bool = True) -> ArrivalReport:
    """A single adult reporting inland; each gets fingerprints of their own."""
    (report,) = make_arrivals(1, seed=sum(ord(c) * 31**i for i, c in enumerate(ref)), prefix="COA")
    report.partner_reference = ref
    report.biometrics.template_hash = hashlib.sha256(f"coa|{ref}".encode()).hexdigest()
    report.setting = ArrivalSetting.ARRIVAL_SETTING_INLAND
    report.reporting_partner = Partner.PARTNER_AVIM
    report.location = "Ter Apel"
    report.reason = (
        ArrivalReason.ARRIVAL_REASON_ASYLUM_INLAND
        if asylum
        else ArrivalReason.ARRIVAL_REASON_ILLEGALLY_STAYING
    )
    report.asylum_requested = asylum
    report.claimed_age = 30
    report.claimed_identity.date_of_birth.year = report.reported_at.ToDatetime().year - 30
    report.accompanied = True
    report.family_group_id = ""
    report.travelling_with_children = False
    report.relocation_candidate = False
    report.claimed_identity.nationalities[:] = [nationality]
    del report.documents[:]
    del report.vulnerability_indicators[:]
    report.needs_medical_care = False
    return report


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    data_dir = tmp_path_factory.mktemp("coa-dtenv")
    (data_dir / "locations.toml").write_text(LOCATIONS)
    (data_dir / "reception.toml").write_text(RECEPTION_PLANTS)
    (data_dir / "returns.toml").write_text(RETURNS_PLANTS)
    quiet = {  # no random hits: everyone's referral follows from the report
        f"MK_EUROPALOKET_{system}__HIT_SHARE": "0"
        for system in ("EURODAC", "SIS", "VIS", "EES", "ETIAS", "ECRIS_TCN", "MID")
    }
    env = {
        **quiet,
        "MK_RECEPTION_LOCATIONS_FILE": str(data_dir / "locations.toml"),
        "MK_RECEPTION_CAPACITY_SCALE": "1",
        "MK_RECEPTION_COL_OVERNIGHT_CAP": "60",
        "MK_RECEPTION_MOB_SHARE": "0",
        "MK_RECEPTION_MISS_SHARE": "0",
        "MK_RECEPTION_MISSED_REPORTS_LIMIT": "2",
        "MK_RECEPTION_FIXTURES": str(data_dir / "reception.toml"),
        "MK_RETURNS_FIXTURES": str(data_dir / "returns.toml"),
        "MK_RETURNS_DETENTION_CAPACITY": "1",
    }
    reports = [_applicant(f"COA-SURGE-{n}", "SYR") for n in range(24)]
    reports += [_applicant(f"COA-LOW-{n}", "TUN") for n in range(6)]
    reports += [_applicant(f"COA-MOB-{n}", "TUN") for n in (1, 2, 3)]
    reports += [_applicant(ref, "MAR", asylum=False) for ref in ("COA-LEAVES",)]
    reports += [_applicant(f"COA-DETAIN-{n}", "DZA", asylum=False) for n in (1, 2, 3)]
    with EmbeddedBroker() as broker:
        asyncio.run(ensure_topics(broker.bootstrap_servers))
        chain = Chain(
            broker.bootstrap_servers,
            data_dir,
            seconds_per_day=SECONDS_PER_DAY,
            seed=11,
            extra_env={**env, **{k: v for k, v in os.environ.items() if k.startswith("MK_PACT")}},
        )
        with chain:
            chain.wait_ready(timeout=90)
            book = asyncio.run(
                drive(broker.bootstrap_servers, data_dir / "traces", reports, timeout=240)
            )
            asyncio.run(asyncio.sleep(2.0))  # let the last SIS/EES requests out
            yield Scenario(
                broker.bootstrap_servers,
                data_dir,
                book,
                {r.partner_reference: r for r in reports},
            )


def _events(scenario: Scenario, kind: type[M]) -> list[M]:
    return [m for _, m in asyncio.run(everything(scenario.bootstrap, kind))]


def test_the_surge_climbs_the_ladder_step_by_step_and_comes_down(scenario: Scenario) -> None:
    steps = _events(scenario, LadderChanged)
    assert steps, "the surge exceeded regular capacity but the ladder never moved"
    for change in steps:
        assert abs(change.step - change.previous_step) == 1, "one step at a time"
        assert change.occupancy > 0 or change.step < change.previous_step
    ups = [c for c in steps if c.step > c.previous_step]
    assert ups[0].previous_step == S.LADDER_STEP_REGULAR
    assert all(u.location_type and u.cause.startswith("no free place") for u in ups)
    assert max(c.step for c in steps) >= S.LADDER_STEP_RESERVE_CAPACITY
    assert steps[-1].step == S.LADDER_STEP_REGULAR, "the ladder did not come back down"


def test_a_rejected_applicant_leaves_reception_4_weeks_after_the_decision(
    scenario: Scenario,
) -> None:
    ended = {e.v_nummer: e for e in _events(scenario, ReceptionEnded)}
    watched = {
        d.v_nummer: d
        for d in _events(scenario, DeadlineEvent)
        if d.type == "reception.end_after_rejection" and d.state == DeadlineState.DEADLINE_STATE_MET
    }
    # After a suspensive appeal the 4 weeks run from the court's dismissal.
    dismissed = {
        a.v_nummer: a
        for a in _events(scenario, AppealDecided)
        if a.appeal_outcome == AppealOutcome.APPEAL_OUTCOME_DISMISSED
    }
    checked = 0
    for n in range(6):
        v = scenario.v(f"COA-LOW-{n}")
        decision = scenario.book.decisions[v]
        final_at = dismissed[v].decided_at if v in dismissed else decision.decided_at
        if decision.outcome in (
            DecisionOutcome.DECISION_OUTCOME_GRANTED_REFUGEE,
            DecisionOutcome.DECISION_OUTCOME_GRANTED_SUBSIDIARY,
        ):
            continue
        end = ended[v]
        assert end.reason == ReceptionEndReason.RECEPTION_END_REASON_DEPARTURE_PERIOD_ENDED
        # Never before the 4 weeks; the period ran from the decision, met within its day.
        assert (end.ended_at.seconds - final_at.seconds) / DAY >= 28
        met = watched[v]
        assert met.started_at == final_at
        assert (met.due_at.seconds - met.started_at.seconds) / DAY == 29  # 4 weeks + 1 day
        checked += 1
    assert checked, "no rejected applicant among the low-recognition cases"


def test_missed_reports_end_in_mob_and_a_sis_return_alert(scenario: Scenario) -> None:
    missed = Counter(m.v_nummer for m in _events(scenario, ReportMissed))
    requests = _events(scenario, CheckRequest)
    ended = {e.v_nummer: e for e in _events(scenario, ReceptionEnded)}
    checked = 0
    for n in (1, 2, 3):
        v = scenario.v(f"COA-MOB-{n}")
        if (
            scenario.book.decisions[v].outcome
            != DecisionOutcome.DECISION_OUTCOME_REJECTED_MANIFESTLY_UNFOUNDED
        ):
            continue
        assert missed[v] == 2  # MK_RECEPTION_MISSED_REPORTS_LIMIT
        assert ended[v].reason == ReceptionEndReason.RECEPTION_END_REASON_ABSCONDED
        assert scenario.book.outcomes[v].outcome == Outcome.OUTCOME_ABSCONDED
        operations = {r.operation for r in requests if r.v_nummer == v}
        assert Op.CHECK_OPERATION_CREATE_RETURN_ALERT in operations
        assert Op.CHECK_OPERATION_RECORD_DEPARTURE_PERIOD_END in operations
        checked += 1
    assert checked, "no planted MOB case was rejected"


def test_a_departure_records_the_ees_exit_and_deletes_the_alert(scenario: Scenario) -> None:
    v = scenario.v("COA-LEAVES")
    assert scenario.book.screened[v].referral == Referral.REFERRAL_RETURN
    assert scenario.book.outcomes[v].outcome == Outcome.OUTCOME_DEPARTED_VOLUNTARY
    operations = [
        r.operation
        for r in _events(scenario, CheckRequest)
        if r.v_nummer == v and r.partner == Partner.PARTNER_DTENV
    ]
    assert operations == [
        Op.CHECK_OPERATION_CREATE_RETURN_ALERT,
        Op.CHECK_OPERATION_RECORD_EXIT,
        Op.CHECK_OPERATION_DELETE_RETURN_ALERT,
    ]


def test_detention_never_exceeds_its_capacity(scenario: Scenario) -> None:
    changes = _events(scenario, DetentionChanged)
    detained = {c.v_nummer for c in changes if c.detained}
    assert detained == {scenario.v(f"COA-DETAIN-{n}") for n in (1, 2, 3)}
    assert all(0 <= c.occupancy <= c.capacity == 1 for c in changes)
    for v in detained:
        outcome = scenario.book.outcomes[v]
        assert outcome.outcome == Outcome.OUTCOME_DEPARTED_FORCED
        assert outcome.detained and outcome.entry_ban


def test_every_case_has_one_outcome_and_nobody_two_places(scenario: Scenario) -> None:
    outcomes = Counter(o.v_nummer for o in _events(scenario, CaseOutcome))
    everyone = {scenario.v(ref) for ref in scenario.reports}
    assert set(outcomes) == everyone and set(outcomes.values()) == {1}
    where: dict[str, str] = {}
    moves: list[ReceptionPlacement | ReceptionEnded] = [
        *_events(scenario, ReceptionPlacement),
        *_events(scenario, ReceptionEnded),
    ]

    def at(event: ReceptionPlacement | ReceptionEnded) -> int:
        if isinstance(event, ReceptionPlacement):
            return event.placed_at.ToNanoseconds()
        return event.ended_at.ToNanoseconds()

    for event in sorted(moves, key=at):
        if isinstance(event, ReceptionPlacement):
            assert where.get(event.v_nummer, "") == event.previous_location, "two beds"
            assert event.occupancy <= event.capacity, "placed above capacity"
            where[event.v_nummer] = event.location
        else:
            assert where.pop(event.v_nummer, "") == event.location, "ended a place not held"
    assert not where, f"still placed after their outcome: {sorted(where)}"
