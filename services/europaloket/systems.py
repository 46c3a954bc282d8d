"""Pure simulation of the eu-LISA systems: seeded population, planted records, Dutch writes."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from chainkit.runtime import chance
from europaloket.domain import (
    CREATE_RETURN_ALERT,
    DELETE_RETURN_ALERT,
    QUERY,
    RECORD_DEPARTURE_PERIOD_END,
    RECORD_EXIT,
    REGISTER,
    Consult,
)
from europaloket.fixtures import Fixtures
from migratieketen.v1.common_pb2 import EuSystem
from migratieketen.v1.europaloket_pb2 import (
    CheckOperation,
    CheckPurpose,
    CheckRequest,
    CheckStatus,
    EurodacCategory,
    EurodacVerification,
    MidLinkColour,
    SystemAnswer,
)

S = EuSystem
HIT = CheckStatus.CHECK_STATUS_HIT
NO_HIT = CheckStatus.CHECK_STATUS_NO_HIT
NOT_APPLICABLE = CheckStatus.CHECK_STATUS_NOT_APPLICABLE
RECORDED = CheckStatus.CHECK_STATUS_RECORDED
CONFIRMED = EurodacVerification.EURODAC_VERIFICATION_CONFIRMED
REJECTED = EurodacVerification.EURODAC_VERIFICATION_REJECTED

# States the seeded population's records come from (the frequent first-entry states).
SEEDED_STATES = ("IT", "GR", "ES", "DE", "BG", "HR", "AT", "FR", "PL", "BE")
EURODAC_CATEGORIES = (
    ("APPLICANT", 0.5),
    ("IRREGULAR_BORDER_CROSSER", 0.3),
    ("ILLEGALLY_STAYING", 0.15),
    ("SEARCH_AND_RESCUE", 0.05),
)
# What a Eurodac hit means for the Dublin procedure (AMMR).
EURODAC_ACTIONS = {
    "APPLICANT": "take back notification to the member state of the earlier application",
    "IRREGULAR_BORDER_CROSSER": "take charge request to the member state of first entry",
    "ILLEGALLY_STAYING": "check responsibility under the AMMR",
    "SEARCH_AND_RESCUE": "take charge request to the member state of disembarkation",
    "RESETTLEMENT": "check responsibility under the AMMR",
    "TEMPORARY_PROTECTION": "check the temporary protection status",
}
SIS_ACTIONS = {
    "RETURN": "enforce the return decision",
    "REFUSAL_OF_ENTRY": "refuse entry or stay",
    "ARREST": "arrest for surrender or extradition",
    "MISSING_PERSON": "place under protection",
    "DISCREET_CHECK": "report the encounter to the issuing state",
}
MID_ACTIONS = {
    "YELLOW": "verify the link manually",
    "WHITE": "same person: use the linked identities together",
    "GREEN": "different persons: no action",
    "RED": "identity fraud: refer for investigation",
}
_MID_COLOURS = (("YELLOW", 0.4), ("WHITE", 0.3), ("GREEN", 0.2), ("RED", 0.1))
# Purposes under which VIS, EES, ETIAS and ECRIS-TCN return only records on security
# grounds (Screening Regulation Art. 15-16).
_SCREENING_PURPOSES = frozenset(
    {
        CheckPurpose.CHECK_PURPOSE_SCREENING_SECURITY,
        CheckPurpose.CHECK_PURPOSE_SCREENING_IDENTIFICATION,
    }
)
_SECURITY_ONLY = frozenset(
    {S.EU_SYSTEM_VIS, S.EU_SYSTEM_EES, S.EU_SYSTEM_ETIAS, S.EU_SYSTEM_ECRIS_TCN}
)

# Kinds of what the Netherlands writes into the systems through the gateway.
EURODAC_REGISTRATION = "EURODAC_REGISTRATION"
SIS_RETURN_ALERT = "SIS_RETURN_ALERT"
SIS_DEPARTURE_PERIOD_END = "SIS_DEPARTURE_PERIOD_END"
SIS_RETURN_ALERT_DELETED = "SIS_RETURN_ALERT_DELETED"
EES_EXIT = "EES_EXIT"


@dataclass(frozen=True)
class Subject:
    """The person a request is about, as far as the systems can search for them."""

    v_nummer: str
    biometric_hash: str
    documents: tuple[str, ...]
    claimed_age: int

    @classmethod
    def of(cls, request: CheckRequest) -> Subject:
        return cls(
            request.v_nummer,
            request.biometric_template_hash,
            tuple(request.document_numbers),
            request.claimed_age,
        )

    @property
    def key(self) -> str:
        """The handle of the seeded population: the fingerprints, else the V-nummer."""
        return self.biometric_hash or self.v_nummer


@dataclass(frozen=True)
class NationalRecord:
    """What the Netherlands wrote into a system through the gateway."""

    system: EuSystem.ValueType
    kind: str
    v_nummer: str
    reference: str
    category: str = ""
    occurred_at: float = 0.0  # simulated Unix time


@dataclass(frozen=True)
class Population:
    """The reference data of all systems: a seeded random population plus planted records."""

    seed: int
    hit_share: Mapping[EuSystem.ValueType, float]
    eurodac_rejected_share: float = 0.05
    eurodac_min_age: int = 6
    fixtures: Fixtures = field(default_factory=Fixtures)


def answer(
    consult: Consult,
    request: CheckRequest,
    population: Population,
    national: Sequence[NationalRecord] = (),
) -> tuple[SystemAnswer, NationalRecord | None]:
    """What the system answers, and what it stores for a write."""
    operation = request.operation or QUERY
    subject = Subject.of(request)
    if operation == QUERY:
        reply = query(consult.system, subject, request.purpose, population, national)
        written = None
    else:
        reply, written = write(operation, subject, request, population, national)
    reply.via = consult.via
    return reply, written


def query(
    system: EuSystem.ValueType,
    subject: Subject,
    purpose: CheckPurpose.ValueType,
    population: Population,
    national: Sequence[NationalRecord] = (),
) -> SystemAnswer:
    if system == S.EU_SYSTEM_EURODAC:
        refused = eurodac_not_applicable(subject, population.eurodac_min_age)
        if refused is not None:
            return refused
    found = planted(system, subject, population.fixtures)
    candidates = found + national_answers(system, subject.v_nummer, national)
    if not found:  # a planted person is exactly what the fixture file says
        drawn = seeded(system, subject.key, population)
        candidates += [drawn] if drawn is not None else []
    shown = [c for c in candidates if visible(c, purpose)]
    return shown[0] if shown else SystemAnswer(system=system, status=NO_HIT)


def visible(record: SystemAnswer, purpose: CheckPurpose.ValueType) -> bool:
    """Screening sees VIS, EES, ETIAS and ECRIS-TCN records only on security grounds."""
    if purpose in _SCREENING_PURPOSES and record.system in _SECURITY_ONLY:
        return record.security_ground
    return True


def eurodac_not_applicable(subject: Subject, min_age: int) -> SystemAnswer | None:
    if subject.claimed_age < min_age:
        reason = f"no fingerprints are taken under the Eurodac minimum age of {min_age}"
    elif not subject.biometric_hash:
        reason = "Eurodac searches by fingerprints and the request has none"
    else:
        return None
    return SystemAnswer(system=S.EU_SYSTEM_EURODAC, status=NOT_APPLICABLE, reason=reason)


def write(
    operation: CheckOperation.ValueType,
    subject: Subject,
    request: CheckRequest,
    population: Population,
    national: Sequence[NationalRecord] = (),
) -> tuple[SystemAnswer, NationalRecord | None]:
    seed, v = population.seed, subject.v_nummer
    occurred = request.occurred_at.seconds
    if operation == REGISTER:
        refused = eurodac_not_applicable(subject, population.eurodac_min_age)
        if refused is not None:
            return refused, None
        if not request.eurodac_category:
            return _not_applicable(S.EU_SYSTEM_EURODAC, "a Eurodac registration needs a category")
        category = EurodacCategory.Name(request.eurodac_category).removeprefix("EURODAC_CATEGORY_")
        reference = f"NL{_digits(10, seed, 'eurodac', subject.biometric_hash, category)}"
        # Registering compares the fingerprints with every other state's records.
        reply = query(S.EU_SYSTEM_EURODAC, subject, request.purpose, population)
        if reply.status != HIT:
            candidate = reply
            reply = SystemAnswer(
                system=S.EU_SYSTEM_EURODAC, status=RECORDED, member_state="NL", category=category
            )
            # A candidate the fingerprint expert rejected stays visible, as no hit.
            reply.verification = candidate.verification
            reply.reference = candidate.reference
        reply.recorded_reference = reference
        return reply, NationalRecord(
            S.EU_SYSTEM_EURODAC, EURODAC_REGISTRATION, v, reference, category, occurred
        )
    if operation == CREATE_RETURN_ALERT:
        reference = f"SIS-NL-{_digits(8, seed, 'sis-return', v)}"
        reply = sis_answer("NL", "RETURN", reference)
        reply.status, reply.recorded_reference = RECORDED, reference
        return reply, NationalRecord(
            S.EU_SYSTEM_SIS, SIS_RETURN_ALERT, v, reference, "RETURN", occurred
        )
    if operation == RECORD_DEPARTURE_PERIOD_END:
        alert = next((r for r in national if r.kind == SIS_RETURN_ALERT and r.v_nummer == v), None)
        if alert is None:
            reason = "there is no Dutch return alert for this person to update"
            return _not_applicable(S.EU_SYSTEM_SIS, reason)
        reply = sis_answer("NL", "RETURN", alert.reference, _PERIOD_ENDED)
        reply.status, reply.recorded_reference = RECORDED, alert.reference
        return reply, NationalRecord(
            S.EU_SYSTEM_SIS, SIS_DEPARTURE_PERIOD_END, v, alert.reference, "RETURN", occurred
        )
    if operation == DELETE_RETURN_ALERT:
        deleted = {r.reference for r in national if r.kind == SIS_RETURN_ALERT_DELETED}
        alert = next(
            (
                r
                for r in national
                if r.kind == SIS_RETURN_ALERT and r.v_nummer == v and r.reference not in deleted
            ),
            None,
        )
        if alert is None:
            return _not_applicable(S.EU_SYSTEM_SIS, "there is no Dutch return alert to delete")
        reply = SystemAnswer(
            system=S.EU_SYSTEM_SIS,
            status=RECORDED,
            member_state="NL",
            category="RETURN_ALERT_DELETED",
            reference=alert.reference,
            recorded_reference=alert.reference,
        )
        return reply, NationalRecord(
            S.EU_SYSTEM_SIS, SIS_RETURN_ALERT_DELETED, v, alert.reference, "RETURN", occurred
        )
    if operation == RECORD_EXIT:
        reference = f"EES-NL-{_digits(8, seed, 'ees-exit', v, occurred)}"
        reply = SystemAnswer(
            system=S.EU_SYSTEM_EES,
            status=RECORDED,
            member_state="NL",
            category="EXIT_RECORDED",
            reference=reference,
            recorded_reference=reference,
        )
        return reply, NationalRecord(S.EU_SYSTEM_EES, EES_EXIT, v, reference, "EXIT", occurred)
    raise ValueError(f"unknown operation {operation}")


_PERIOD_ENDED = "enforce the return decision: the voluntary departure period has ended"


def national_answers(
    system: EuSystem.ValueType, v_nummer: str, national: Sequence[NationalRecord]
) -> list[SystemAnswer]:
    """The Dutch records a query finds: return alerts in SIS, exits in EES."""
    mine = [r for r in national if r.v_nummer == v_nummer]
    if system == S.EU_SYSTEM_SIS:
        ended = any(r.kind == SIS_DEPARTURE_PERIOD_END for r in mine)
        deleted = {r.reference for r in mine if r.kind == SIS_RETURN_ALERT_DELETED}
        return [
            sis_answer("NL", "RETURN", r.reference, _PERIOD_ENDED if ended else None)
            for r in mine
            if r.kind == SIS_RETURN_ALERT and r.reference not in deleted
        ]
    if system == S.EU_SYSTEM_EES:
        return [ees_answer("NL", "EXIT", r.reference, False) for r in mine if r.kind == EES_EXIT]
    return []


Keys = tuple[str, str, tuple[str, ...]]  # V-nummer, fingerprint hash, documents


def _planted_eurodac(fixtures: Fixtures, keys: Keys) -> list[SystemAnswer]:
    return [
        eurodac_answer(
            e.member_state,
            e.category,
            e.reference or f"{e.member_state}{_digits(10, 'fixture', e)}",
            e.verification,
        )
        for e in fixtures.eurodac
        if e.matches(*keys)
    ]


def _planted_sis(fixtures: Fixtures, keys: Keys) -> list[SystemAnswer]:
    return [
        sis_answer(
            s.member_state,
            s.category,
            s.reference or f"SIS-{s.member_state}-{_digits(8, 'fixture', s)}",
            s.action,
        )
        for s in fixtures.sis
        if s.matches(*keys)
    ]


def _planted_vis(fixtures: Fixtures, keys: Keys) -> list[SystemAnswer]:
    return [
        vis_answer(
            r.member_state,
            r.record,
            f"VIS-{r.member_state}-{_digits(8, 'fixture', r)}",
            r.security_ground,
        )
        for r in fixtures.vis
        if r.matches(*keys)
    ]


def _planted_ees(fixtures: Fixtures, keys: Keys) -> list[SystemAnswer]:
    return [
        ees_answer(
            x.member_state,
            x.record,
            f"EES-{x.member_state}-{_digits(8, 'fixture', x)}",
            x.security_ground,
        )
        for x in fixtures.ees
        if x.matches(*keys)
    ]


def _planted_etias(fixtures: Fixtures, keys: Keys) -> list[SystemAnswer]:
    return [
        etias_answer(
            t.member_state,
            t.record,
            f"ETIAS-{t.member_state}-{_digits(8, 'fixture', t)}",
            t.security_ground,
        )
        for t in fixtures.etias
        if t.matches(*keys)
    ]


def _planted_ecris(fixtures: Fixtures, keys: Keys) -> list[SystemAnswer]:
    return [
        ecris_answer(tuple(c.member_states), c.serious)
        for c in fixtures.ecris_tcn
        if c.matches(*keys)
    ]


def _planted_mid(fixtures: Fixtures, keys: Keys) -> list[SystemAnswer]:
    return [
        mid_answer(m.colour, m.reference or f"MID-{_digits(10, 'fixture', m)}")
        for m in fixtures.mid
        if m.matches(*keys)
    ]


def _seeded_eurodac(
    rng: random.Random, state: str, number: int, population: Population
) -> SystemAnswer:
    category = _weighted(rng, EURODAC_CATEGORIES)
    rejected = rng.random() < population.eurodac_rejected_share
    return eurodac_answer(
        state, category, f"{state}{number:010d}", "REJECTED" if rejected else "CONFIRMED"
    )


def _seeded_sis(rng: random.Random, state: str, number: int, _: Population) -> SystemAnswer:
    category = rng.choice(tuple(SIS_ACTIONS))
    return sis_answer(state, category, f"SIS-{state}-{number % 10**8:08d}")


def _seeded_vis(rng: random.Random, state: str, number: int, _: Population) -> SystemAnswer:
    record = _weighted(rng, (("ISSUED", 0.6), ("REFUSED", 0.3), ("REVOKED", 0.1)))
    security = record != "ISSUED" and rng.random() < 0.5
    return vis_answer(state, record, f"VIS-{state}-{number % 10**8:08d}", security)


def _seeded_ees(rng: random.Random, state: str, number: int, _: Population) -> SystemAnswer:
    record = _weighted(rng, (("ENTRY", 0.7), ("REFUSED_ENTRY", 0.3)))
    security = record == "REFUSED_ENTRY" and rng.random() < 0.5
    return ees_answer(state, record, f"EES-{state}-{number % 10**8:08d}", security)


def _seeded_etias(rng: random.Random, state: str, number: int, _: Population) -> SystemAnswer:
    options = (("AUTHORISED", 0.6), ("REFUSED", 0.2), ("REVOKED", 0.1), ("WATCHLIST", 0.1))
    record = _weighted(rng, options)
    security = record == "WATCHLIST" or (record != "AUTHORISED" and rng.random() < 0.5)
    return etias_answer(state, record, f"ETIAS-{state}-{number % 10**8:08d}", security)


def _seeded_ecris(rng: random.Random, _state: str, _number: int, _: Population) -> SystemAnswer:
    states = tuple(rng.sample(SEEDED_STATES, rng.randint(1, 3)))
    return ecris_answer(states, serious=rng.random() < 0.5)


def _seeded_mid(rng: random.Random, _state: str, number: int, _: Population) -> SystemAnswer:
    return mid_answer(_weighted(rng, _MID_COLOURS), f"MID-{number:010d}")


@dataclass(frozen=True)
class _Records:
    """Where a system's records come from: the fixture file, and the seeded population."""

    planted: Callable[[Fixtures, Keys], list[SystemAnswer]]
    seeded: Callable[[random.Random, str, int, Population], SystemAnswer]


_RECORDS: dict[EuSystem.ValueType, _Records] = {
    S.EU_SYSTEM_EURODAC: _Records(_planted_eurodac, _seeded_eurodac),
    S.EU_SYSTEM_SIS: _Records(_planted_sis, _seeded_sis),
    S.EU_SYSTEM_VIS: _Records(_planted_vis, _seeded_vis),
    S.EU_SYSTEM_EES: _Records(_planted_ees, _seeded_ees),
    S.EU_SYSTEM_ETIAS: _Records(_planted_etias, _seeded_etias),
    S.EU_SYSTEM_ECRIS_TCN: _Records(_planted_ecris, _seeded_ecris),
    S.EU_SYSTEM_MID: _Records(_planted_mid, _seeded_mid),
}


def planted(system: EuSystem.ValueType, subject: Subject, fixtures: Fixtures) -> list[SystemAnswer]:
    """The fixture file's records for this subject, as the system would answer them."""
    records = _RECORDS.get(system)
    keys = (subject.v_nummer, subject.biometric_hash, subject.documents)
    return records.planted(fixtures, keys) if records else []


def seeded(system: EuSystem.ValueType, key: str, population: Population) -> SystemAnswer | None:
    """The seeded population's record of this person in this system, if any: the same
    seed and key always give the same record."""
    # Most people are in no system: that is decided by a hash, and a random source is
    # seeded (5 µs) only for a record.
    if chance(population.seed, system, key) >= population.hit_share.get(system, 0.0):
        return None
    rng = random.Random(f"{population.seed}|{system}|{key}")
    state = rng.choice(SEEDED_STATES)
    number = rng.randrange(10**10)
    records = _RECORDS.get(system)
    return records.seeded(rng, state, number, population) if records else None


def eurodac_answer(state: str, category: str, reference: str, verification: str) -> SystemAnswer:
    """A candidate hit after the fingerprint expert looked at it: a rejected candidate
    is no hit, but its reference is kept for the follow-up with the central system."""
    confirmed = verification == "CONFIRMED"
    return SystemAnswer(
        system=S.EU_SYSTEM_EURODAC,
        status=HIT if confirmed else NO_HIT,
        member_state=state,
        category=category,
        reference=reference,
        action=EURODAC_ACTIONS[category] if confirmed else "",
        verification=CONFIRMED if confirmed else REJECTED,
        reason="" if confirmed else "the fingerprint expert rejected the candidate",
    )


def sis_answer(
    state: str, category: str, reference: str, action: str | None = None
) -> SystemAnswer:
    return SystemAnswer(
        system=S.EU_SYSTEM_SIS,
        status=HIT,
        member_state=state,
        category=category,
        reference=reference,
        action=action or SIS_ACTIONS[category],
        security_ground=category in ("REFUSAL_OF_ENTRY", "ARREST"),
    )


def vis_answer(state: str, record: str, reference: str, security: bool) -> SystemAnswer:
    return SystemAnswer(
        system=S.EU_SYSTEM_VIS,
        status=HIT,
        member_state=state,
        category=f"VISA_{record}",
        reference=reference,
        # A VIS hit shortens the Dublin deadlines.
        action="apply the Dublin deadlines after a VIS hit",
        security_ground=security,
    )


def ees_answer(state: str, record: str, reference: str, security: bool) -> SystemAnswer:
    category = {"ENTRY": "ENTRY_RECORDED", "EXIT": "EXIT_RECORDED"}.get(record, record)
    return SystemAnswer(
        system=S.EU_SYSTEM_EES,
        status=HIT,
        member_state=state,
        category=category,
        reference=reference,
        security_ground=security,
    )


def etias_answer(state: str, record: str, reference: str, security: bool) -> SystemAnswer:
    category = "WATCHLIST_HIT" if record == "WATCHLIST" else f"AUTHORISATION_{record}"
    return SystemAnswer(
        system=S.EU_SYSTEM_ETIAS,
        status=HIT,
        member_state=state,
        category=category,
        reference=reference,
        security_ground=security,
    )


def ecris_answer(states: tuple[str, ...], serious: bool) -> SystemAnswer:
    """ECRIS-TCN says only which member states hold convictions, not what they are."""
    return SystemAnswer(
        system=S.EU_SYSTEM_ECRIS_TCN,
        status=HIT,
        member_state=states[0],
        member_states=list(states),
        category="CONVICTION_TERRORISM_OR_SERIOUS_CRIME" if serious else "CONVICTION_OTHER",
        action="request the conviction records from these member states",
        security_ground=serious,
    )


def mid_answer(colour: str, reference: str) -> SystemAnswer:
    """A green link joins two different persons, so it is shown but is no hit."""
    return SystemAnswer(
        system=S.EU_SYSTEM_MID,
        status=NO_HIT if colour == "GREEN" else HIT,
        category=colour,
        reference=reference,
        action=MID_ACTIONS[colour],
        link_colour=MidLinkColour.Value(f"MID_LINK_COLOUR_{colour}"),
    )


def _not_applicable(
    system: EuSystem.ValueType, reason: str
) -> tuple[SystemAnswer, NationalRecord | None]:
    return SystemAnswer(system=system, status=NOT_APPLICABLE, reason=reason), None


def _weighted(rng: random.Random, options: Sequence[tuple[str, float]]) -> str:
    return rng.choices([o for o, _ in options], [w for _, w in options])[0]


def _digits(n: int, *parts: object) -> str:
    """n digits derived from the parts: stable references without storing a counter."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()
    return f"{int(digest, 16) % 10**n:0{n}d}"
