"""A test team's scenario: only the installed package and its pytest plugin, no conftest."""

from chainctl.testing import RunningChain, check_case_trace, drive, make_arrivals, wait_for_traces


async def test_our_arrivals_reach_an_outcome_in_one_trace_each(
    running_chain: RunningChain,
) -> None:
    reports = make_arrivals(5, seed=11, prefix="TEAM")
    book = await drive(running_chain.bootstrap_servers, running_chain.trace_dir, reports)
    v_nummers = [book.v_nummer_of[r.partner_reference] for r in reports]
    assert set(v_nummers) <= set(book.outcomes)
    await wait_for_traces(running_chain.trace_dir, book, v_nummers)
    check_case_trace(running_chain.trace_dir, book, v_nummers[0])
