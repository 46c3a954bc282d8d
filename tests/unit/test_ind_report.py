"""The IND's lines of the demo summary, from the events the asylum service publishes."""

from __future__ import annotations

from chainctl.ind_report import IndBook
from migratieketen.v1.asylum_pb2 import (
    AppealDecided,
    AppealOutcome,
    AsylumApplicationRegistered,
    AsylumDecision,
)
from migratieketen.v1.ind_pb2 import (
    AppealLodged,
    BorderCapacityChanged,
    CapacityState,
    DublinStep,
    DublinStepKind,
)


def test_the_summary_counts_routes_capacity_dublin_appeals_and_penalties() -> None:
    book = IndBook()
    for in_use, regime in ((3, "PACT"), (7, "PACT"), (5, "NATIONAL_PRE_PACT")):
        book.add(AsylumApplicationRegistered(border_places_in_use=in_use, regime_name=regime))
    book.add(BorderCapacityChanged(state=CapacityState.CAPACITY_STATE_REACHED, in_use=7))
    book.add(BorderCapacityChanged(state=CapacityState.CAPACITY_STATE_RELEASED, in_use=6))
    book.add(DublinStep(step=DublinStepKind.DUBLIN_STEP_KIND_STARTED))
    book.add(DublinStep(step=DublinStepKind.DUBLIN_STEP_KIND_ACCEPTED_BY_SILENCE))
    book.add(DublinStep(step=DublinStepKind.DUBLIN_STEP_KIND_NL_RESPONSIBLE))
    book.add(AppealLodged())
    book.add(AppealDecided(appeal_outcome=AppealOutcome.APPEAL_OUTCOME_UPHELD))
    book.add(AsylumDecision(late_days=20, penalty_eur=532))
    book.add(AsylumDecision(late_days=0, penalty_eur=0))
    rows = dict(book.rows())
    assert rows["IND regimes"] == "PACT 2, NATIONAL_PRE_PACT 1"
    assert rows["border capacity peak"] == "7 places (threshold reached 1 times)"
    assert rows["Dublin steps"] == "accepted by silence 1, NL responsible 1"
    assert rows["appeals"] == "1 lodged; ruled: upheld 1"
    assert rows["late IND decisions"] == "1; Awb 4:17 penalties EUR 532"
