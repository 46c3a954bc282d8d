"""Dublin (AMMR): which request, its deadlines, silence, security keeps responsibility."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from asylum.dublin import (
    SECURITY_KEEPS,
    Answer,
    Evidence,
    Kind,
    claim,
    needs_hearing,
    reply_due,
    request_due,
    simulated_answer,
)

HIT = datetime(2026, 7, 31, 9, tzinfo=UTC)
REG = datetime(2026, 8, 3, 9, tzinfo=UTC)


def end(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC) + timedelta(days=1)


def test_eurodac_applicant_hit_is_a_take_back() -> None:
    c, why = claim(Evidence(eurodac_member_state="IT", eurodac_category="APPLICANT"))
    assert c is not None and c.kind == Kind.TAKE_BACK and c.member_state == "IT" and not why
    assert not needs_hearing(c)
    assert request_due(c, REG, HIT) == end(2026, 8, 14)  # 2 weeks after the hit
    assert reply_due(c, REG) == end(2026, 8, 17)  # silence confirms after 2 weeks


def test_irregular_entry_hit_is_a_take_charge_with_a_hearing() -> None:
    c, _ = claim(Evidence(eurodac_member_state="GR", eurodac_category="IRREGULAR_BORDER_CROSSER"))
    assert c is not None and c.kind == Kind.TAKE_CHARGE and c.hit
    assert needs_hearing(c)
    assert request_due(c, REG, HIT) == end(2026, 8, 31)  # 1 month after the hit
    assert reply_due(c, REG) == end(2026, 8, 17)  # 2 weeks after a hit


def test_vis_hit_is_a_take_charge() -> None:
    c, _ = claim(Evidence(vis_member_state="FR"))
    assert c is not None and c.kind == Kind.TAKE_CHARGE and c.member_state == "FR" and c.hit


def test_family_criterion_without_hit_has_the_long_periods() -> None:
    c, _ = claim(Evidence(family_member_states=("DE",)))
    assert c is not None and not c.hit
    assert request_due(c, REG, HIT) == end(2026, 10, 3)  # 2 months from registration
    assert reply_due(c, REG) == end(2026, 9, 3)  # 1 month


def test_security_beats_dublin() -> None:
    c, why = claim(Evidence(eurodac_member_state="IT", eurodac_category="APPLICANT", security=True))
    assert c is None and why == SECURITY_KEEPS and "Art. 16(4)" in why


@pytest.mark.parametrize("evidence", [Evidence(), Evidence(family_member_states=("NL",))])
def test_nothing_points_elsewhere(evidence: Evidence) -> None:
    assert claim(evidence) == (None, "")


def test_simulated_answers_are_seeded_and_follow_the_shares() -> None:
    draws = [simulated_answer(random.Random(i), 0.7, 0.15) for i in range(2000)]
    assert draws == [simulated_answer(random.Random(i), 0.7, 0.15) for i in range(2000)]
    share = {a: draws.count(a) / len(draws) for a in Answer}
    assert 0.65 < share[Answer.ACCEPT] < 0.75
    assert 0.11 < share[Answer.REJECT] < 0.19
    assert simulated_answer(random.Random(1), 0, 0) == Answer.SILENCE
