"""Pure gateway rules: need-to-know, write rights, ESP fan-out and the overall result."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from migratieketen.v1.common_pb2 import EuSystem, Partner
from migratieketen.v1.europaloket_pb2 import (
    CheckOperation,
    CheckPurpose,
    CheckRequest,
    CheckStatus,
    SystemAnswer,
)

S = EuSystem
P = Partner
U = CheckPurpose

QUERY = CheckOperation.CHECK_OPERATION_QUERY
REGISTER = CheckOperation.CHECK_OPERATION_REGISTER
CREATE_RETURN_ALERT = CheckOperation.CHECK_OPERATION_CREATE_RETURN_ALERT
RECORD_DEPARTURE_PERIOD_END = CheckOperation.CHECK_OPERATION_RECORD_DEPARTURE_PERIOD_END
RECORD_EXIT = CheckOperation.CHECK_OPERATION_RECORD_EXIT
DELETE_RETURN_ALERT = CheckOperation.CHECK_OPERATION_DELETE_RETURN_ALERT

# Systems with data of their own; the ESP is a search portal over all of them.
DATA_SYSTEMS: tuple[EuSystem.ValueType, ...] = (
    S.EU_SYSTEM_EURODAC,
    S.EU_SYSTEM_SIS,
    S.EU_SYSTEM_VIS,
    S.EU_SYSTEM_EES,
    S.EU_SYSTEM_ETIAS,
    S.EU_SYSTEM_ECRIS_TCN,
    S.EU_SYSTEM_MID,
)

_SCREENING = frozenset(DATA_SYSTEMS) | {S.EU_SYSTEM_ESP}
_IDENTIFICATION = frozenset(
    {S.EU_SYSTEM_EURODAC, S.EU_SYSTEM_MID, S.EU_SYSTEM_VIS, S.EU_SYSTEM_SIS, S.EU_SYSTEM_ESP}
)

# Which partner may consult which system for which purpose. A pair that is not listed
# consults nothing: COA, Nidos, DJI and the BVV have no access to the eu-LISA systems.
NEED_TO_KNOW: dict[
    tuple[Partner.ValueType, CheckPurpose.ValueType], frozenset[EuSystem.ValueType]
] = {
    (P.PARTNER_SCREENING, U.CHECK_PURPOSE_SCREENING_SECURITY): _SCREENING,
    (P.PARTNER_SCREENING, U.CHECK_PURPOSE_SCREENING_IDENTIFICATION): _IDENTIFICATION,
    (P.PARTNER_KMAR, U.CHECK_PURPOSE_SCREENING_SECURITY): _SCREENING,
    (P.PARTNER_KMAR, U.CHECK_PURPOSE_SCREENING_IDENTIFICATION): _IDENTIFICATION,
    # Exit checks at the external border.
    (P.PARTNER_KMAR, U.CHECK_PURPOSE_RETURN): frozenset({S.EU_SYSTEM_SIS, S.EU_SYSTEM_EES}),
    (P.PARTNER_AVIM, U.CHECK_PURPOSE_SCREENING_IDENTIFICATION): _IDENTIFICATION,
    (P.PARTNER_DISA, U.CHECK_PURPOSE_SCREENING_IDENTIFICATION): _IDENTIFICATION,
    # The IND is the inland screening authority from 12 June 2026.
    (P.PARTNER_IND, U.CHECK_PURPOSE_SCREENING_SECURITY): _SCREENING,
    (P.PARTNER_IND, U.CHECK_PURPOSE_SCREENING_IDENTIFICATION): _IDENTIFICATION,
    (P.PARTNER_IND, U.CHECK_PURPOSE_ASYLUM_DUBLIN): frozenset(
        {S.EU_SYSTEM_EURODAC, S.EU_SYSTEM_VIS, S.EU_SYSTEM_ESP}
    ),
    (P.PARTNER_DTENV, U.CHECK_PURPOSE_RETURN): frozenset(
        {S.EU_SYSTEM_SIS, S.EU_SYSTEM_EES, S.EU_SYSTEM_VIS, S.EU_SYSTEM_EURODAC, S.EU_SYSTEM_ESP}
    ),
}

# Which system offers which write, and which partners may write it (on top of the
# need-to-know for the system and purpose).
WRITES: dict[CheckOperation.ValueType, tuple[EuSystem.ValueType, frozenset[Partner.ValueType]]] = {
    REGISTER: (
        S.EU_SYSTEM_EURODAC,
        frozenset(
            {
                P.PARTNER_SCREENING,
                P.PARTNER_KMAR,
                P.PARTNER_AVIM,
                P.PARTNER_DISA,
                P.PARTNER_IND,
            }
        ),
    ),
    CREATE_RETURN_ALERT: (S.EU_SYSTEM_SIS, frozenset({P.PARTNER_DTENV})),
    RECORD_DEPARTURE_PERIOD_END: (S.EU_SYSTEM_SIS, frozenset({P.PARTNER_DTENV})),
    RECORD_EXIT: (S.EU_SYSTEM_EES, frozenset({P.PARTNER_DTENV, P.PARTNER_KMAR})),
    DELETE_RETURN_ALERT: (S.EU_SYSTEM_SIS, frozenset({P.PARTNER_DTENV})),
}


def operation_of(request: CheckRequest) -> CheckOperation.ValueType:
    return request.operation or QUERY


def system_name(system: EuSystem.ValueType) -> str:
    return EuSystem.Name(system).removeprefix("EU_SYSTEM_")


def operation_name(operation: CheckOperation.ValueType) -> str:
    return CheckOperation.Name(operation).removeprefix("CHECK_OPERATION_")


@dataclass(frozen=True)
class Consult:
    """One call the gateway makes: a system, reached directly or through the ESP."""

    system: EuSystem.ValueType
    via: EuSystem.ValueType = S.EU_SYSTEM_UNSPECIFIED
    offered: bool = True  # False: the system does not offer the operation; no call


@dataclass(frozen=True)
class Denied:
    reason: str
    systems: tuple[EuSystem.ValueType, ...]


def plan(request: CheckRequest) -> list[Consult] | Denied:
    """What the gateway will call for this request, or why it refuses the whole request."""
    operation = operation_of(request)
    partner = Partner.Name(request.partner)
    asked = list(dict.fromkeys(request.systems))
    if operation != QUERY:
        _, writers = WRITES[operation]
        if request.partner not in writers:
            return Denied(f"{partner} may not {operation_name(operation)}", tuple(asked))
    allowed = NEED_TO_KNOW.get((request.partner, request.purpose), frozenset())
    denied = [s for s in asked if s not in allowed]
    if denied:
        names = ", ".join(system_name(s) for s in denied)
        purpose = CheckPurpose.Name(request.purpose)
        return Denied(f"{partner} may not consult {names} for {purpose}", tuple(denied))
    consults: list[Consult] = []
    for system in asked:
        if system == S.EU_SYSTEM_ESP and operation == QUERY:
            # The ESP searches every system behind it that the partner may see for this
            # purpose; a system also named directly is answered once.
            consults += [
                Consult(s, via=S.EU_SYSTEM_ESP)
                for s in DATA_SYSTEMS
                if s in allowed and s not in asked
            ]
        else:
            consults.append(Consult(system, offered=offers(system, operation)))
    return consults


def offers(system: EuSystem.ValueType, operation: CheckOperation.ValueType) -> bool:
    return operation == QUERY or WRITES[operation][0] == system


def denied_answers(denied: Denied) -> list[SystemAnswer]:
    return [
        SystemAnswer(system=s, status=CheckStatus.CHECK_STATUS_DENIED, reason=denied.reason)
        for s in denied.systems
    ]


def not_offered(consult: Consult, operation: CheckOperation.ValueType) -> SystemAnswer:
    return SystemAnswer(
        system=consult.system,
        via=consult.via,
        status=CheckStatus.CHECK_STATUS_NOT_APPLICABLE,
        reason=f"{system_name(consult.system)} does not offer {operation_name(operation)}",
    )


def overall_status(answers: Sequence[SystemAnswer]) -> CheckStatus.ValueType:
    """HIT when any system hit; UNAVAILABLE only when no system answered at all."""
    statuses = {a.status for a in answers}
    if CheckStatus.CHECK_STATUS_HIT in statuses:
        return CheckStatus.CHECK_STATUS_HIT
    if statuses == {CheckStatus.CHECK_STATUS_UNAVAILABLE}:
        return CheckStatus.CHECK_STATUS_UNAVAILABLE
    if CheckStatus.CHECK_STATUS_RECORDED in statuses:
        return CheckStatus.CHECK_STATUS_RECORDED
    if statuses == {CheckStatus.CHECK_STATUS_NOT_APPLICABLE}:
        return CheckStatus.CHECK_STATUS_NOT_APPLICABLE
    return CheckStatus.CHECK_STATUS_NO_HIT


def result_class(status: CheckStatus.ValueType) -> str:
    return CheckStatus.Name(status).removeprefix("CHECK_STATUS_")
