"""Periods as Regulation 1182/71 counts them: calendar months and weeks, end of day."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from asylum import law
from asylum.periods import Period, add_months_to_date


def at(y: int, m: int, d: int, h: int = 10) -> datetime:
    return datetime(y, m, d, h, tzinfo=UTC)


def end(y: int, m: int, d: int) -> datetime:
    """The expiry of the last hour of that day."""
    return datetime(y, m, d, tzinfo=UTC) + (datetime(2000, 1, 2) - datetime(2000, 1, 1))


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (at(2027, 1, 31), 1, end(2027, 2, 28)),  # no 31 February: the last day
        (at(2028, 1, 31), 1, end(2028, 2, 29)),  # leap year
        (at(2026, 6, 12), 3, end(2026, 9, 12)),  # same date
        (at(2026, 8, 31), 6, end(2027, 2, 28)),
        (at(2026, 12, 15), 2, end(2027, 2, 15)),  # over the year end
        (at(2026, 3, 31), 1, end(2026, 4, 30)),
    ],
)
def test_months_end_on_the_same_date(start: datetime, months: int, expected: datetime) -> None:
    assert Period(months, "months").after(start) == expected


def test_weeks_end_on_the_same_weekday() -> None:
    start = at(2026, 6, 12)  # a Friday
    due = Period(12, "weeks").after(start)
    assert due == end(2026, 9, 4)
    assert (due.date().toordinal() - 1) % 7 == start.date().toordinal() % 7


def test_days_count_from_the_day_after_the_event() -> None:
    assert Period(5, "days").after(at(2026, 6, 12, 23)) == end(2026, 6, 17)


def test_a_month_is_not_thirty_days() -> None:
    assert law.ACCELERATED.after(at(2027, 1, 31)) == end(2027, 4, 30)
    assert law.REGULAR.after(at(2026, 8, 31)) == end(2027, 2, 28)


def test_crisis_extension_adds_weeks() -> None:
    assert law.BORDER.plus(law.BORDER_CRISIS_EXTRA) == Period(18, "weeks")
    with pytest.raises(ValueError, match="same unit"):
        law.BORDER.plus(law.ACCELERATED)


@pytest.mark.parametrize(("unit", "amount"), [("years", 1), ("days", -1)])
def test_bad_periods_are_refused(unit: str, amount: int) -> None:
    with pytest.raises(ValueError, match=r"unit|negative"):
        Period(amount, unit)


def test_add_months_to_date_backwards() -> None:
    assert add_months_to_date(datetime(2026, 3, 31).date(), -1) == datetime(2026, 2, 28).date()
