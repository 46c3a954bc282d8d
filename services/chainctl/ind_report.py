"""The IND's part of the demo summary: routes, border capacity, Dublin, appeals, late
decisions and the Awb 4:17 penalties, from the events the asylum service publishes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

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

IND_WATCHED = (DublinStep, AppealLodged, AppealDecided, BorderCapacityChanged)
_DUBLIN_ENDS = {
    DublinStepKind.DUBLIN_STEP_KIND_ACCEPTED: "accepted",
    DublinStepKind.DUBLIN_STEP_KIND_ACCEPTED_BY_SILENCE: "accepted by silence",
    DublinStepKind.DUBLIN_STEP_KIND_REJECTED: "rejected",
    DublinStepKind.DUBLIN_STEP_KIND_NL_RESPONSIBLE: "NL responsible",
    DublinStepKind.DUBLIN_STEP_KIND_TRANSFER_DECIDED: "transfer decided",
}


@dataclass
class IndBook:
    regimes: Counter[str] = field(default_factory=Counter)
    capacity_peak: int = 0
    capacity_reached: int = 0
    dublin: Counter[str] = field(default_factory=Counter)
    appeals_lodged: int = 0
    appeals: Counter[str] = field(default_factory=Counter)
    late: int = 0
    penalty_eur: int = 0

    def add(self, message: object) -> None:
        match message:
            case AsylumApplicationRegistered():
                self.regimes[message.regime_name or "PACT"] += 1
                self.capacity_peak = max(self.capacity_peak, message.border_places_in_use)
            case AsylumDecision():
                self.late += message.late_days > 0
                self.penalty_eur += message.penalty_eur
            case DublinStep() if message.step in _DUBLIN_ENDS:
                self.dublin[_DUBLIN_ENDS[message.step]] += 1
            case AppealLodged():
                self.appeals_lodged += 1
            case AppealDecided():
                name = AppealOutcome.Name(message.appeal_outcome).removeprefix("APPEAL_OUTCOME_")
                self.appeals[name.lower()] += 1
            case BorderCapacityChanged() if message.state == CapacityState.CAPACITY_STATE_REACHED:
                self.capacity_reached += 1

    def rows(self) -> list[tuple[str, str]]:
        def names(counter: Counter[str]) -> str:
            return ", ".join(f"{k} {v}" for k, v in counter.most_common()) or "none"

        return [
            ("IND regimes", names(self.regimes)),
            (
                "border capacity peak",
                f"{self.capacity_peak} places (threshold reached {self.capacity_reached} times)",
            ),
            ("Dublin steps", names(self.dublin)),
            ("appeals", f"{self.appeals_lodged} lodged; ruled: {names(self.appeals)}"),
            ("late IND decisions", f"{self.late}; Awb 4:17 penalties EUR {self.penalty_eur:,}"),
        ]
