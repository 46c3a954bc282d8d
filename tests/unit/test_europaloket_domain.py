"""Europaloket rules: need-to-know, and the seeded simulation of the eu-LISA systems."""

from __future__ import annotations

import pytest

from europaloket.domain import (
    HIT_SHARE,
    MEMBER_STATES,
    NEED_TO_KNOW,
    denied_systems,
    overall_status,
    simulate,
)
from migratieketen.v1.common_pb2 import EuSystem, Partner
from migratieketen.v1.europaloket_pb2 import CheckRequest, CheckStatus, SystemAnswer

S = EuSystem
ALL_SYSTEMS: list[EuSystem.ValueType] = [
    S.EU_SYSTEM_EURODAC,
    S.EU_SYSTEM_SIS,
    S.EU_SYSTEM_VIS,
    S.EU_SYSTEM_EES,
    S.EU_SYSTEM_ETIAS,
    S.EU_SYSTEM_ECRIS_TCN,
    S.EU_SYSTEM_ESP,
    S.EU_SYSTEM_MID,
]
SEED = 20260612
HIT = CheckStatus.CHECK_STATUS_HIT
NO_HIT = CheckStatus.CHECK_STATUS_NO_HIT
NOT_APPLICABLE = CheckStatus.CHECK_STATUS_NOT_APPLICABLE


def request(
    n: int = 1,
    partner: Partner.ValueType = Partner.PARTNER_SCREENING,
    systems: list[EuSystem.ValueType] | None = None,
    age: int = 30,
) -> CheckRequest:
    """The n-th synthetic subject, with its own V-nummer and template hash."""
    return CheckRequest(
        request_id=f"req-{n}",
        v_nummer=f"{2_600_000_000 + n:010d}",
        partner=partner,
        systems=ALL_SYSTEMS if systems is None else systems,
        biometric_template_hash=f"{n:064x}",
        claimed_age=age,
    )


@pytest.mark.parametrize("systems", [ALL_SYSTEMS, [S.EU_SYSTEM_SIS], [S.EU_SYSTEM_EURODAC]])
def test_coa_is_denied_everything(systems: list[EuSystem.ValueType]) -> None:
    assert denied_systems(request(partner=Partner.PARTNER_COA, systems=systems)) == systems


def test_all_systems_lists_every_system() -> None:
    assert sorted(ALL_SYSTEMS) == sorted(v for v in EuSystem.values() if v != 0)


def test_coa_has_no_need_to_know_entry() -> None:
    assert not NEED_TO_KNOW.get(Partner.PARTNER_COA)


@pytest.mark.parametrize(
    "partner", [Partner.PARTNER_UNSPECIFIED, Partner.PARTNER_NIDOS, Partner.PARTNER_BVV]
)
def test_partners_without_need_to_know_are_denied_everything(partner: Partner.ValueType) -> None:
    assert denied_systems(request(partner=partner)) == ALL_SYSTEMS


@pytest.mark.parametrize(
    ("partner", "systems", "denied"),
    [
        (Partner.PARTNER_SCREENING, ALL_SYSTEMS, []),
        (Partner.PARTNER_KMAR, [S.EU_SYSTEM_EURODAC, S.EU_SYSTEM_SIS], []),
        (Partner.PARTNER_IND, [S.EU_SYSTEM_EURODAC, S.EU_SYSTEM_VIS], []),
        (
            Partner.PARTNER_IND,
            [S.EU_SYSTEM_EURODAC, S.EU_SYSTEM_ECRIS_TCN],
            [S.EU_SYSTEM_ECRIS_TCN],
        ),
        (Partner.PARTNER_DTENV, [S.EU_SYSTEM_SIS, S.EU_SYSTEM_EES], []),
        (Partner.PARTNER_DTENV, [S.EU_SYSTEM_SIS, S.EU_SYSTEM_VIS], [S.EU_SYSTEM_VIS]),
        (Partner.PARTNER_SCREENING, [], []),
    ],
)
def test_need_to_know(
    partner: Partner.ValueType, systems: list[EuSystem.ValueType], denied: list[EuSystem.ValueType]
) -> None:
    assert denied_systems(request(partner=partner, systems=systems)) == denied


@pytest.mark.parametrize("system", ALL_SYSTEMS)
def test_simulate_is_deterministic_for_the_same_seed(system: EuSystem.ValueType) -> None:
    for n in range(200):
        first = simulate(request(n), system, SEED)
        assert simulate(request(n), system, SEED) == first


def test_simulate_depends_on_the_biometrics_not_the_request() -> None:
    one, other = request(7), request(7)
    other.request_id, other.v_nummer = "another-request", "2699999999"
    for system in ALL_SYSTEMS:
        assert simulate(one, system, SEED) == simulate(other, system, SEED)


@pytest.mark.parametrize("system", list(HIT_SHARE))
def test_simulate_differs_across_seeds(system: EuSystem.ValueType) -> None:
    subjects = 2_000
    differing = sum(
        simulate(request(n), system, SEED) != simulate(request(n), system, SEED + 1)
        for n in range(subjects)
    )
    assert differing > 0.5 * HIT_SHARE[system] * subjects


@pytest.mark.parametrize("age", [0, 1, 5])
def test_eurodac_not_applicable_under_six(age: int) -> None:
    for n in range(300):
        answer = simulate(request(n, age=age), S.EU_SYSTEM_EURODAC, SEED)
        assert answer.status == NOT_APPLICABLE
        assert answer.system == S.EU_SYSTEM_EURODAC
        assert answer.reason


@pytest.mark.parametrize("age", [6, 7, 30])
def test_eurodac_applies_from_six(age: int) -> None:
    for n in range(300):
        answer = simulate(request(n, age=age), S.EU_SYSTEM_EURODAC, SEED)
        assert answer.status in (HIT, NO_HIT)


@pytest.mark.parametrize("system", [s for s in ALL_SYSTEMS if s != S.EU_SYSTEM_EURODAC])
def test_age_limit_is_a_eurodac_rule_only(system: EuSystem.ValueType) -> None:
    for n in range(300):
        assert simulate(request(n, age=3), system, SEED).status != NOT_APPLICABLE


def test_eurodac_hit_reference_starts_with_the_member_state() -> None:
    hits = [
        answer
        for n in range(1_000)
        if (answer := simulate(request(n), S.EU_SYSTEM_EURODAC, SEED)).status == HIT
    ]
    assert hits
    for answer in hits:
        assert answer.member_state in MEMBER_STATES
        assert answer.reference.startswith(answer.member_state)
        assert answer.reference[len(answer.member_state) :].isdigit()
        assert answer.category


@pytest.mark.parametrize("system", list(HIT_SHARE))
def test_hit_share_is_near_the_configured_share(system: EuSystem.ValueType) -> None:
    subjects = 5_000
    hits = sum(simulate(request(n), system, SEED).status == HIT for n in range(subjects))
    assert hits / subjects == pytest.approx(HIT_SHARE[system], abs=0.02)


@pytest.mark.parametrize("system", [S.EU_SYSTEM_ESP, S.EU_SYSTEM_MID])
def test_systems_without_a_hit_share_never_hit(system: EuSystem.ValueType) -> None:
    for n in range(500):
        assert simulate(request(n), system, SEED).status == NO_HIT


@pytest.mark.parametrize(
    "system", [S.EU_SYSTEM_VIS, S.EU_SYSTEM_EES, S.EU_SYSTEM_ETIAS, S.EU_SYSTEM_ECRIS_TCN]
)
def test_vis_ees_etias_ecris_hits_are_on_security_grounds(system: EuSystem.ValueType) -> None:
    hits = [a for n in range(2_000) if (a := simulate(request(n), system, SEED)).status == HIT]
    assert hits
    assert all(a.security_ground and a.member_state in MEMBER_STATES for a in hits)


def test_sis_hit_carries_the_alert_and_the_action() -> None:
    hits = [
        a for n in range(2_000) if (a := simulate(request(n), S.EU_SYSTEM_SIS, SEED)).status == HIT
    ]
    assert hits
    for a in hits:
        assert a.category and a.action
        assert a.reference.startswith(f"SIS-{a.member_state}-")
        assert a.security_ground is (a.category in ("REFUSAL_OF_ENTRY", "ARREST"))


def answers(*statuses: CheckStatus.ValueType) -> list[SystemAnswer]:
    return [SystemAnswer(system=S.EU_SYSTEM_SIS, status=status) for status in statuses]


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ((), NO_HIT),
        ((NO_HIT,), NO_HIT),
        ((NO_HIT, NOT_APPLICABLE), NO_HIT),
        ((HIT,), HIT),
        ((NO_HIT, HIT, NO_HIT), HIT),
        ((NOT_APPLICABLE, HIT), HIT),
        ((CheckStatus.CHECK_STATUS_UNAVAILABLE, HIT), HIT),
        ((CheckStatus.CHECK_STATUS_UNAVAILABLE,) * 2, CheckStatus.CHECK_STATUS_UNAVAILABLE),
        ((CheckStatus.CHECK_STATUS_UNAVAILABLE, NO_HIT), NO_HIT),
    ],
)
def test_overall_status(statuses: tuple[CheckStatus.ValueType, ...], expected: int) -> None:
    assert overall_status(answers(*statuses)) == expected
