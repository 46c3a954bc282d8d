"""Pure asylum rules: which procedure, how long it takes, what the decision is."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from chainkit.pact import limits
from migratieketen.v1.asylum_pb2 import AsylumProcedure, DecisionOutcome
from migratieketen.v1.common_pb2 import ArrivalSetting
from migratieketen.v1.screening_pb2 import ScreeningCompleted

P = AsylumProcedure
D = DecisionOutcome

# Simulated IND handling time per procedure (days), well inside the legal limits.
HANDLING_DAYS: dict[int, float] = {
    P.ASYLUM_PROCEDURE_DUBLIN: 14,
    P.ASYLUM_PROCEDURE_BORDER: 28,
    P.ASYLUM_PROCEDURE_ACCELERATED: 35,
    P.ASYLUM_PROCEDURE_REGULAR: 60,
}


def procedure(screened: ScreeningCompleted) -> AsylumProcedure.ValueType:
    """Dublin when another state is responsible; the mandatory border procedure (Art. 45
    APR) for danger or deceit, or a nationality at or below the recognition threshold,
    never for unaccompanied minors except on the security ground; accelerated for low
    recognition rates inland; else the regular procedure."""
    pact = limits()
    ind = screened.indicators
    if ind.eurodac_hit and ind.eurodac_member_state:
        return P.ASYLUM_PROCEDURE_DUBLIN
    low_rate = pact.recognition_rate(list(screened.form.nationalities)) <= (
        pact.recognition_rate_threshold
    )
    at_border = screened.setting == ArrivalSetting.ARRIVAL_SETTING_EXTERNAL_BORDER
    if at_border:
        if ind.security_flag:
            return P.ASYLUM_PROCEDURE_BORDER
        if not ind.unaccompanied_minor and (ind.misleading_identity or low_rate):
            return P.ASYLUM_PROCEDURE_BORDER
    if low_rate:
        return P.ASYLUM_PROCEDURE_ACCELERATED
    return P.ASYLUM_PROCEDURE_REGULAR


def decision_limit(proc: AsylumProcedure.ValueType) -> timedelta:
    pact = limits()
    days = {
        P.ASYLUM_PROCEDURE_DUBLIN: pact.dublin_transfer_decision_days,
        P.ASYLUM_PROCEDURE_BORDER: pact.border_procedure_days,
        P.ASYLUM_PROCEDURE_ACCELERATED: pact.decision_accelerated_days,
        P.ASYLUM_PROCEDURE_REGULAR: pact.decision_regular_days,
    }[proc]
    return timedelta(days=days)


def handling_time(proc: AsylumProcedure.ValueType) -> timedelta:
    return timedelta(days=HANDLING_DAYS[proc])


@dataclass(frozen=True)
class Decision:
    outcome: DecisionOutcome.ValueType
    return_decision: bool
    departure_period_days: int


def decide(
    proc: AsylumProcedure.ValueType, nationalities: list[str], rng: random.Random
) -> Decision:
    """Dublin cases are transferred; others are granted with the probability of the
    nationality's recognition rate. A rejection carries a return decision (Art. 37 APR)."""
    pact = limits()
    if proc == P.ASYLUM_PROCEDURE_DUBLIN:
        return Decision(D.DECISION_OUTCOME_DUBLIN_TRANSFER, False, 0)
    draw = rng.random()
    rate = pact.recognition_rate(nationalities)
    if draw < rate:
        granted = (
            D.DECISION_OUTCOME_GRANTED_REFUGEE
            if draw < rate * 0.7
            else D.DECISION_OUTCOME_GRANTED_SUBSIDIARY
        )
        return Decision(granted, False, 0)
    rejected = (
        D.DECISION_OUTCOME_REJECTED_UNFOUNDED
        if proc == P.ASYLUM_PROCEDURE_REGULAR
        else D.DECISION_OUTCOME_REJECTED_MANIFESTLY_UNFOUNDED
    )
    period = (
        pact.voluntary_departure_days
        if proc == P.ASYLUM_PROCEDURE_BORDER
        else pact.departure_period_days
    )
    return Decision(rejected, True, period)
