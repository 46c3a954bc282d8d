"""Dublin (AMMR, Regulation 2024/1351): which request, its deadlines, the answers."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from asylum import law


class Kind(StrEnum):
    TAKE_BACK = "TAKE_BACK"  # the person applied in another state (Eurodac APPLICANT)
    TAKE_CHARGE = "TAKE_CHARGE"  # another state is responsible by the criteria


class Answer(StrEnum):
    ACCEPT = "ACCEPT"  # take-charge accepted, or take-back confirmed
    REJECT = "REJECT"
    SILENCE = "SILENCE"  # no reply in time: acceptance / confirmation (Art. 40(2), 41(2))


@dataclass(frozen=True)
class Claim:
    kind: Kind
    member_state: str
    hit: bool  # found through a Eurodac or VIS hit (shorter periods)
    reason: str


@dataclass(frozen=True)
class Evidence:
    """What screening found that points at another member state."""

    eurodac_member_state: str = ""
    eurodac_category: str = ""
    vis_member_state: str = ""
    family_member_states: tuple[str, ...] = ()
    security: bool = False


SECURITY_KEEPS = (
    "security threat found in screening: the Netherlands is responsible (AMMR Art. 16(4))"
)


def claim(evidence: Evidence) -> tuple[Claim | None, str]:
    """Responsibility first: the claim on another state, or None with why not."""
    other = (
        evidence.eurodac_member_state
        or evidence.vis_member_state
        or next((s for s in evidence.family_member_states if s != "NL"), "")
    )
    if not other or other == "NL":
        return None, ""
    if evidence.security:
        return None, SECURITY_KEEPS
    if evidence.eurodac_member_state and evidence.eurodac_category == "APPLICANT":
        return Claim(
            Kind.TAKE_BACK,
            evidence.eurodac_member_state,
            True,
            f"Eurodac: applied in {evidence.eurodac_member_state} before: take-back "
            "notification (AMMR Art. 36(1), 41)",
        ), ""
    if evidence.eurodac_member_state:
        return Claim(
            Kind.TAKE_CHARGE,
            evidence.eurodac_member_state,
            True,
            f"Eurodac: irregular entry through {evidence.eurodac_member_state}: take-charge "
            "request (AMMR Art. 33, 39)",
        ), ""
    if evidence.vis_member_state:
        return Claim(
            Kind.TAKE_CHARGE,
            evidence.vis_member_state,
            True,
            f"VIS: visa issued by {evidence.vis_member_state}: take-charge request "
            "(AMMR Art. 29, 39)",
        ), ""
    return Claim(
        Kind.TAKE_CHARGE,
        other,
        False,
        f"family member in {other}: take-charge request (AMMR Art. 25-28, 39)",
    ), ""


def request_due(c: Claim, registered_at: datetime, hit_at: datetime) -> datetime:
    """Take-back notification 2 weeks after the hit; take-charge request 2 months from
    registration, 1 month after a Eurodac or VIS hit."""
    if c.kind == Kind.TAKE_BACK:
        return law.TAKE_BACK_NOTIFICATION.after(hit_at)
    if c.hit:
        return law.TAKE_CHARGE_REQUEST_AFTER_HIT.after(hit_at)
    return law.TAKE_CHARGE_REQUEST.after(registered_at)


def reply_due(c: Claim, sent_at: datetime) -> datetime:
    """When the other state's silence counts as confirmation / acceptance."""
    if c.kind == Kind.TAKE_BACK:
        return law.TAKE_BACK_CONFIRMATION.after(sent_at)
    if c.hit:
        return law.TAKE_CHARGE_REPLY_AFTER_HIT.after(sent_at)
    return law.TAKE_CHARGE_REPLY.after(sent_at)


def needs_hearing(c: Claim) -> bool:
    """A take-charge case is heard before the request is sent; take-back is not (seed 003)."""
    return c.kind == Kind.TAKE_CHARGE


def simulated_answer(rng: random.Random, accept_share: float, reject_share: float) -> Answer:
    draw = rng.random()
    if draw < accept_share:
        return Answer.ACCEPT
    if draw < accept_share + reject_share:
        return Answer.REJECT
    return Answer.SILENCE
