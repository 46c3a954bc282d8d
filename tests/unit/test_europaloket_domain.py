"""Europaloket rules: need-to-know per partner, purpose and system; writes; ESP; result."""

from __future__ import annotations

import pytest

from europaloket.domain import (
    DATA_SYSTEMS,
    NEED_TO_KNOW,
    WRITES,
    Consult,
    Denied,
    overall_status,
    plan,
)
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
Op = CheckOperation
ALL: list[EuSystem.ValueType] = [v for v in EuSystem.values() if v != S.EU_SYSTEM_UNSPECIFIED]
SCREENING_SIX = [
    S.EU_SYSTEM_EURODAC,
    S.EU_SYSTEM_SIS,
    S.EU_SYSTEM_VIS,
    S.EU_SYSTEM_EES,
    S.EU_SYSTEM_ETIAS,
    S.EU_SYSTEM_ECRIS_TCN,
]
HIT = CheckStatus.CHECK_STATUS_HIT
NO_HIT = CheckStatus.CHECK_STATUS_NO_HIT
UNAVAILABLE = CheckStatus.CHECK_STATUS_UNAVAILABLE
NOT_APPLICABLE = CheckStatus.CHECK_STATUS_NOT_APPLICABLE
RECORDED = CheckStatus.CHECK_STATUS_RECORDED


def request(
    partner: Partner.ValueType = P.PARTNER_SCREENING,
    purpose: CheckPurpose.ValueType = U.CHECK_PURPOSE_SCREENING_SECURITY,
    systems: list[EuSystem.ValueType] | None = None,
    operation: CheckOperation.ValueType = Op.CHECK_OPERATION_UNSPECIFIED,
) -> CheckRequest:
    return CheckRequest(
        request_id="req-1",
        v_nummer="2600000001",
        partner=partner,
        purpose=purpose,
        systems=SCREENING_SIX if systems is None else systems,
        operation=operation,
    )


def systems_of(steps: list[Consult] | Denied) -> list[EuSystem.ValueType]:
    assert isinstance(steps, list), steps
    return [c.system for c in steps]


def test_screening_may_ask_its_six_systems() -> None:
    assert systems_of(plan(request())) == SCREENING_SIX


@pytest.mark.parametrize(
    ("partner", "purpose", "system"),
    [
        (P.PARTNER_COA, U.CHECK_PURPOSE_RETURN, S.EU_SYSTEM_SIS),
        (P.PARTNER_COA, U.CHECK_PURPOSE_SCREENING_SECURITY, S.EU_SYSTEM_SIS),
        (P.PARTNER_IND, U.CHECK_PURPOSE_ASYLUM_DUBLIN, S.EU_SYSTEM_SIS),
        (P.PARTNER_IND, U.CHECK_PURPOSE_ASYLUM_DUBLIN, S.EU_SYSTEM_ECRIS_TCN),
        (P.PARTNER_DTENV, U.CHECK_PURPOSE_RETURN, S.EU_SYSTEM_ECRIS_TCN),
        (P.PARTNER_DTENV, U.CHECK_PURPOSE_SCREENING_SECURITY, S.EU_SYSTEM_SIS),
        (P.PARTNER_AVIM, U.CHECK_PURPOSE_SCREENING_SECURITY, S.EU_SYSTEM_ECRIS_TCN),
        (P.PARTNER_SCREENING, U.CHECK_PURPOSE_UNSPECIFIED, S.EU_SYSTEM_SIS),
        (P.PARTNER_UNSPECIFIED, U.CHECK_PURPOSE_SCREENING_SECURITY, S.EU_SYSTEM_SIS),
    ],
)
def test_need_to_know_denies(
    partner: Partner.ValueType, purpose: CheckPurpose.ValueType, system: EuSystem.ValueType
) -> None:
    verdict = plan(request(partner, purpose, [S.EU_SYSTEM_EURODAC, system]))
    assert isinstance(verdict, Denied)
    assert system in verdict.systems
    assert Partner.Name(partner) in verdict.reason
    assert S.Name(system).removeprefix("EU_SYSTEM_") in verdict.reason
    assert CheckPurpose.Name(purpose) in verdict.reason


@pytest.mark.parametrize(
    ("partner", "purpose", "systems"),
    [
        (P.PARTNER_KMAR, U.CHECK_PURPOSE_SCREENING_SECURITY, ALL),
        (P.PARTNER_IND, U.CHECK_PURPOSE_SCREENING_SECURITY, SCREENING_SIX),
        (P.PARTNER_IND, U.CHECK_PURPOSE_ASYLUM_DUBLIN, [S.EU_SYSTEM_EURODAC, S.EU_SYSTEM_VIS]),
        (P.PARTNER_DTENV, U.CHECK_PURPOSE_RETURN, [S.EU_SYSTEM_SIS, S.EU_SYSTEM_EES]),
        (P.PARTNER_AVIM, U.CHECK_PURPOSE_SCREENING_IDENTIFICATION, [S.EU_SYSTEM_MID]),
        (P.PARTNER_SCREENING, U.CHECK_PURPOSE_SCREENING_SECURITY, []),
    ],
)
def test_need_to_know_allows(
    partner: Partner.ValueType,
    purpose: CheckPurpose.ValueType,
    systems: list[EuSystem.ValueType],
) -> None:
    assert not isinstance(plan(request(partner, purpose, systems)), Denied)


@pytest.mark.parametrize("partner", [P.PARTNER_COA, P.PARTNER_NIDOS, P.PARTNER_DJI, P.PARTNER_BVV])
def test_partners_without_access_consult_nothing(partner: Partner.ValueType) -> None:
    assert not any(allowed for (p, _), allowed in NEED_TO_KNOW.items() if p == partner)
    for purpose in CheckPurpose.values():
        for system in ALL:
            assert isinstance(plan(request(partner, purpose, [system])), Denied)


def test_a_repeated_system_is_consulted_once() -> None:
    steps = plan(request(systems=[S.EU_SYSTEM_SIS, S.EU_SYSTEM_SIS]))
    assert systems_of(steps) == [S.EU_SYSTEM_SIS]


def test_esp_fans_out_to_every_system_the_partner_may_see() -> None:
    steps = plan(request(P.PARTNER_KMAR, systems=[S.EU_SYSTEM_ESP]))
    assert isinstance(steps, list)
    assert [c.system for c in steps] == list(DATA_SYSTEMS)
    assert all(c.via == S.EU_SYSTEM_ESP and c.offered for c in steps)


def test_esp_reaches_only_what_the_purpose_allows() -> None:
    steps = plan(request(P.PARTNER_IND, U.CHECK_PURPOSE_ASYLUM_DUBLIN, [S.EU_SYSTEM_ESP]))
    assert systems_of(steps) == [S.EU_SYSTEM_EURODAC, S.EU_SYSTEM_VIS]


def test_esp_does_not_ask_a_system_twice() -> None:
    steps = plan(request(P.PARTNER_KMAR, systems=[S.EU_SYSTEM_SIS, S.EU_SYSTEM_ESP]))
    assert isinstance(steps, list)
    assert [c.system for c in steps].count(S.EU_SYSTEM_SIS) == 1
    assert steps[0] == Consult(S.EU_SYSTEM_SIS)


def test_esp_needs_its_own_need_to_know() -> None:
    verdict = plan(request(P.PARTNER_IND, U.CHECK_PURPOSE_ASYLUM_DUBLIN, [S.EU_SYSTEM_ESP]))
    assert not isinstance(verdict, Denied)
    assert isinstance(plan(request(P.PARTNER_COA, systems=[S.EU_SYSTEM_ESP])), Denied)


@pytest.mark.parametrize(
    ("operation", "partner", "purpose", "system"),
    [
        (
            Op.CHECK_OPERATION_REGISTER,
            P.PARTNER_KMAR,
            U.CHECK_PURPOSE_SCREENING_IDENTIFICATION,
            S.EU_SYSTEM_EURODAC,
        ),
        (
            Op.CHECK_OPERATION_CREATE_RETURN_ALERT,
            P.PARTNER_DTENV,
            U.CHECK_PURPOSE_RETURN,
            S.EU_SYSTEM_SIS,
        ),
        (
            Op.CHECK_OPERATION_RECORD_DEPARTURE_PERIOD_END,
            P.PARTNER_DTENV,
            U.CHECK_PURPOSE_RETURN,
            S.EU_SYSTEM_SIS,
        ),
        (Op.CHECK_OPERATION_RECORD_EXIT, P.PARTNER_DTENV, U.CHECK_PURPOSE_RETURN, S.EU_SYSTEM_EES),
        (Op.CHECK_OPERATION_RECORD_EXIT, P.PARTNER_KMAR, U.CHECK_PURPOSE_RETURN, S.EU_SYSTEM_EES),
    ],
)
def test_writes_allowed(
    operation: CheckOperation.ValueType,
    partner: Partner.ValueType,
    purpose: CheckPurpose.ValueType,
    system: EuSystem.ValueType,
) -> None:
    steps = plan(request(partner, purpose, [system], operation))
    assert steps == [Consult(system)]
    assert WRITES[operation][0] == system


@pytest.mark.parametrize(
    ("operation", "partner", "purpose", "system"),
    [
        # Only DTenV enters return alerts, even where SIS may be read.
        (
            Op.CHECK_OPERATION_CREATE_RETURN_ALERT,
            P.PARTNER_KMAR,
            U.CHECK_PURPOSE_RETURN,
            S.EU_SYSTEM_SIS,
        ),
        (
            Op.CHECK_OPERATION_REGISTER,
            P.PARTNER_DTENV,
            U.CHECK_PURPOSE_RETURN,
            S.EU_SYSTEM_EURODAC,
        ),
        (Op.CHECK_OPERATION_RECORD_EXIT, P.PARTNER_COA, U.CHECK_PURPOSE_RETURN, S.EU_SYSTEM_EES),
    ],
)
def test_writes_denied(
    operation: CheckOperation.ValueType,
    partner: Partner.ValueType,
    purpose: CheckPurpose.ValueType,
    system: EuSystem.ValueType,
) -> None:
    verdict = plan(request(partner, purpose, [system], operation))
    assert isinstance(verdict, Denied)
    assert Partner.Name(partner) in verdict.reason


def test_a_write_to_a_system_that_does_not_offer_it_is_not_called() -> None:
    steps = plan(
        request(
            P.PARTNER_DTENV,
            U.CHECK_PURPOSE_RETURN,
            [S.EU_SYSTEM_EES, S.EU_SYSTEM_ESP],
            Op.CHECK_OPERATION_CREATE_RETURN_ALERT,
        )
    )
    assert steps == [
        Consult(S.EU_SYSTEM_EES, offered=False),
        Consult(S.EU_SYSTEM_ESP, offered=False),
    ]


def answers(*statuses: CheckStatus.ValueType) -> list[SystemAnswer]:
    return [SystemAnswer(system=S.EU_SYSTEM_SIS, status=status) for status in statuses]


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ((), NO_HIT),
        ((NO_HIT,), NO_HIT),
        ((NO_HIT, NOT_APPLICABLE), NO_HIT),
        ((NOT_APPLICABLE,), NOT_APPLICABLE),
        ((HIT,), HIT),
        ((NO_HIT, HIT, NO_HIT), HIT),
        ((UNAVAILABLE, HIT), HIT),
        ((UNAVAILABLE, UNAVAILABLE), UNAVAILABLE),
        ((UNAVAILABLE, NO_HIT), NO_HIT),
        ((RECORDED,), RECORDED),
        ((HIT, RECORDED), HIT),
    ],
)
def test_overall_status(statuses: tuple[CheckStatus.ValueType, ...], expected: int) -> None:
    assert overall_status(answers(*statuses)) == expected
