"""Whole cases through the whole chain: outcomes and one trace per case."""

from __future__ import annotations

import re

import pytest

from chainctl.arrivals import make_arrivals
from chainkit.telemetry import V_NUMMER
from e2e.conftest import RunningChain
from e2e.helpers import check_case_trace, drive, wait_for_traces
from migratieketen.v1.outcome_pb2 import Outcome
from migratieketen.v1.screening_pb2 import CheckState, Referral
from screening.service import TIME_LIMIT

pytestmark = pytest.mark.e2e


async def test_twenty_arrivals_each_reach_an_outcome_in_one_trace(
    running_chain: RunningChain,
) -> None:
    reports = make_arrivals(20, seed=2026, prefix="E2E")
    book = await drive(running_chain.bootstrap_servers, running_chain.trace_dir, reports)

    v_nummers = [book.v_nummer_of[r.partner_reference] for r in reports]
    assert all(re.fullmatch(r"\d{10}", v) for v in v_nummers)
    assert len(set(v_nummers)) == 20, "twenty different people got twenty V-nummers"
    referrals = {book.screened[v].referral for v in v_nummers}
    assert referrals == {Referral.REFERRAL_ASYLUM, Referral.REFERRAL_RETURN}
    # Only this test's cases: the chain is shared, and other tests park poison on purpose.
    ours = {*v_nummers, *(r.partner_reference for r in reports)}
    assert not [
        d
        for d in book.dead_letters
        if d.key.decode(errors="replace") in ours and d.topic != "arrival.reported.v1"
    ]

    # At this fast clock some screenings hit their limit: each then ends in time and
    # says exactly which check was not done and why, and the breach is an event.
    breached = {b.v_nummer for b in book.breaches if b.rule == TIME_LIMIT.name}
    for v in v_nummers:
        screening = book.screened[v]
        assert screening.completed_at.ToNanoseconds() <= screening.deadline_at.ToNanoseconds()
        not_done = [c for c in screening.checks if c.state == CheckState.CHECK_STATE_NOT_DONE]
        assert all(c.reason for c in not_done)
        assert [c.check for c in not_done] == list(screening.indicators.checks_not_done)
        assert (v in breached) == bool(not_done)

    await wait_for_traces(running_chain.trace_dir, book, v_nummers)
    spans = check_case_trace(running_chain.trace_dir, book, v_nummers[0])
    tagged = [s for s in spans if s.attributes.get(V_NUMMER)]
    assert {s.attributes[V_NUMMER] for s in tagged} == {v_nummers[0]}


async def test_spans_carry_no_personal_data(running_chain: RunningChain) -> None:
    reports = make_arrivals(3, seed=99, prefix="PRIV")
    book = await drive(running_chain.bootstrap_servers, running_chain.trace_dir, reports)
    v_nummers = [book.v_nummer_of[r.partner_reference] for r in reports]
    await wait_for_traces(running_chain.trace_dir, book, v_nummers)
    files = [p.read_text("utf-8") for p in running_chain.trace_dir.glob("*.jsonl")]
    logs = [p.read_text("utf-8") for p in (running_chain.data_dir / "logs").glob("*.log")]
    for report in reports:
        identity = report.claimed_identity
        secrets = [identity.family_name, identity.given_names, report.biometrics.template_hash]
        secrets += [d.document_number for d in report.documents]
        dob = identity.date_of_birth
        secrets.append(f"{dob.year}-{dob.month:02d}-{dob.day:02d}")
        for secret in filter(None, secrets):
            assert not any(secret in text for text in files + logs), "personal data leaked"


async def test_a_relocation_candidate_stays_in_the_national_procedure(
    running_chain: RunningChain,
) -> None:
    """The Netherlands contributes to the solidarity pool (the default direction), so it
    relocates nobody out: the candidate's application goes through the IND's procedure
    and the case reaches an outcome here, in one trace."""
    (report,) = make_arrivals(1, seed=31, prefix="RELOC")
    report.asylum_requested = True
    report.relocation_candidate = True
    book = await drive(running_chain.bootstrap_servers, running_chain.trace_dir, [report])
    v = book.v_nummer_of[report.partner_reference]
    screened = book.screened[v]
    assert screened.referral == Referral.REFERRAL_ASYLUM
    assert screened.indicators.relocation_candidate
    assert v in book.decisions
    assert book.outcomes[v].outcome != Outcome.OUTCOME_RELOCATED
    await wait_for_traces(running_chain.trace_dir, book, [v])
    check_case_trace(running_chain.trace_dir, book, v)
