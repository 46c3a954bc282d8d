"""Generated arrivals stay valid however far the simulated clock runs during a feed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bvv.domain import check_arrival
from chainctl.arrivals import make_arrivals
from chainctl.watch import _report_now

GENERATED = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)


def test_a_report_published_years_later_still_matches_its_claimed_age() -> None:
    reports = make_arrivals(200, seed=3, now=GENERATED)
    for days in (0, 45, 400, 1200, 3650):  # 1,200 days: 60 s of a feed at 0.05 s a day
        later = GENERATED + timedelta(days=days)
        for report in reports:
            copy = type(report).FromString(report.SerializeToString())
            _report_now(copy, later)
            assert copy.reported_at.ToDatetime(tzinfo=UTC) == later
            check_arrival(copy, later.date())  # raises ArrivalRefused on a mismatch
