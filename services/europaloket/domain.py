"""Pure gateway rules: need-to-know, and the seeded simulation of the eu-LISA systems."""

from __future__ import annotations

import random

from chainkit.pact import limits
from migratieketen.v1.common_pb2 import EuSystem, Partner
from migratieketen.v1.europaloket_pb2 import CheckRequest, CheckStatus, SystemAnswer

S = EuSystem
# Which partner may consult which system (need-to-know). COA consults none.
NEED_TO_KNOW: dict[Partner.ValueType, frozenset[EuSystem.ValueType]] = {
    Partner.PARTNER_SCREENING: frozenset(
        {
            S.EU_SYSTEM_EURODAC,
            S.EU_SYSTEM_SIS,
            S.EU_SYSTEM_VIS,
            S.EU_SYSTEM_EES,
            S.EU_SYSTEM_ETIAS,
            S.EU_SYSTEM_ECRIS_TCN,
            S.EU_SYSTEM_ESP,
            S.EU_SYSTEM_MID,
        }
    ),
    Partner.PARTNER_KMAR: frozenset(
        {
            S.EU_SYSTEM_EURODAC,
            S.EU_SYSTEM_SIS,
            S.EU_SYSTEM_VIS,
            S.EU_SYSTEM_EES,
            S.EU_SYSTEM_ETIAS,
            S.EU_SYSTEM_ECRIS_TCN,
            S.EU_SYSTEM_ESP,
            S.EU_SYSTEM_MID,
        }
    ),
    Partner.PARTNER_IND: frozenset(
        {S.EU_SYSTEM_EURODAC, S.EU_SYSTEM_VIS, S.EU_SYSTEM_SIS, S.EU_SYSTEM_ESP}
    ),
    Partner.PARTNER_DTENV: frozenset({S.EU_SYSTEM_SIS, S.EU_SYSTEM_EES, S.EU_SYSTEM_EURODAC}),
}

# Share of persons with a hit in each system, in the seeded random population.
HIT_SHARE: dict[EuSystem.ValueType, float] = {
    S.EU_SYSTEM_EURODAC: 0.15,
    S.EU_SYSTEM_SIS: 0.03,
    S.EU_SYSTEM_VIS: 0.05,
    S.EU_SYSTEM_EES: 0.03,
    S.EU_SYSTEM_ETIAS: 0.01,
    S.EU_SYSTEM_ECRIS_TCN: 0.02,
}
MEMBER_STATES = ("IT", "GR", "ES", "DE", "BG", "HR", "AT", "FR", "PL", "BE")
SIS_ALERTS = (
    ("RETURN", "enforce the return decision"),
    ("REFUSAL_OF_ENTRY", "refuse entry or stay"),
    ("ARREST", "arrest for surrender or extradition"),
    ("MISSING_PERSON", "place under protection"),
    ("DISCREET_CHECK", "report the encounter to the issuing state"),
)


def denied_systems(request: CheckRequest) -> list[EuSystem.ValueType]:
    allowed = NEED_TO_KNOW.get(request.partner, frozenset())
    return [system for system in request.systems if system not in allowed]


def simulate(request: CheckRequest, system: EuSystem.ValueType, seed: int) -> SystemAnswer:
    """The answer the system gives this person; the same seed gives the same answer."""
    subject = request.biometric_template_hash or request.v_nummer
    rng = random.Random(f"{seed}|{system}|{subject}")
    if system == S.EU_SYSTEM_EURODAC and request.claimed_age < limits().eurodac_min_age:
        return SystemAnswer(
            system=system,
            status=CheckStatus.CHECK_STATUS_NOT_APPLICABLE,
            reason="no biometrics under the Eurodac minimum age",
        )
    if rng.random() >= HIT_SHARE.get(system, 0.0):
        return SystemAnswer(system=system, status=CheckStatus.CHECK_STATUS_NO_HIT)
    state = rng.choice(MEMBER_STATES)
    answer = SystemAnswer(system=system, status=CheckStatus.CHECK_STATUS_HIT, member_state=state)
    if system == S.EU_SYSTEM_EURODAC:
        answer.category = rng.choice(("1", "2", "3"))  # applicant, border crosser, staying
        answer.reference = f"{state}{rng.randrange(10**9):09d}"
    elif system == S.EU_SYSTEM_SIS:
        category, action = rng.choice(SIS_ALERTS)
        answer.category, answer.action = category, action
        answer.reference = f"SIS-{state}-{rng.randrange(10**8):08d}"
        answer.security_ground = category in ("REFUSAL_OF_ENTRY", "ARREST")
    elif system == S.EU_SYSTEM_ECRIS_TCN:
        answer.category = "CONVICTION_TERRORISM_OR_SERIOUS_CRIME"
        answer.security_ground = True
    else:  # VIS, EES, ETIAS report only refusals or revocations on security grounds
        answer.category = "REFUSAL_SECURITY_GROUNDS"
        answer.security_ground = True
    return answer


def overall_status(answers: list[SystemAnswer]) -> CheckStatus.ValueType:
    if any(a.status == CheckStatus.CHECK_STATUS_HIT for a in answers):
        return CheckStatus.CHECK_STATUS_HIT
    if answers and all(a.status == CheckStatus.CHECK_STATUS_UNAVAILABLE for a in answers):
        return CheckStatus.CHECK_STATUS_UNAVAILABLE
    return CheckStatus.CHECK_STATUS_NO_HIT
