"""Time periods as Regulation (EEC, Euratom) No 1182/71 counts them.

A period starts the day after the event (Art. 3(1)) and ends when the last hour of
its last day expires (Art. 3(2)): for days, the last of the N days; for weeks and
months, the day of the last week or month that has the same weekday or date as the
day of the event, or, when that month has no such date, its last day (Art. 3(2)(c)).
So 31 January + 1 month ends at the end of 28 (29) February, not after 30 days.
Public holidays are not modelled (Art. 3(4)).
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta


def _end_of(day: date) -> datetime:
    """The instant the last hour of `day` expires (UTC)."""
    return datetime.combine(day + timedelta(days=1), time(0), UTC)


def add_months_to_date(day: date, months: int) -> date:
    """The same date `months` later, or the last day of that month when it has none."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def months_after(event: datetime, months: int) -> datetime:
    return _end_of(add_months_to_date(event.astimezone(UTC).date(), months))


def weeks_after(event: datetime, weeks: int) -> datetime:
    return _end_of(event.astimezone(UTC).date() + timedelta(weeks=weeks))


def days_after(event: datetime, days: int) -> datetime:
    return _end_of(event.astimezone(UTC).date() + timedelta(days=days))


class Period:
    """A period in the unit the law states it in: `Period(3, "months")`."""

    UNITS = ("days", "weeks", "months")

    def __init__(self, amount: int, unit: str) -> None:
        if unit not in self.UNITS:
            raise ValueError(f"unit must be one of {', '.join(self.UNITS)}")
        if amount < 0:
            raise ValueError("a period cannot be negative")
        self.amount = amount
        self.unit = unit

    def after(self, event: datetime) -> datetime:
        if self.unit == "months":
            return months_after(event, self.amount)
        if self.unit == "weeks":
            return weeks_after(event, self.amount)
        return days_after(event, self.amount)

    def plus(self, other: Period) -> Period:
        """Two periods in the same unit added (e.g. 12 weeks + 6 weeks in a crisis)."""
        if other.unit != self.unit:
            raise ValueError("only periods in the same unit add up")
        return Period(self.amount + other.amount, self.unit)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Period) and (self.amount, self.unit) == (other.amount, other.unit)

    def __hash__(self) -> int:
        return hash((self.amount, self.unit))

    def __repr__(self) -> str:
        return f"Period({self.amount}, {self.unit!r})"

    def __str__(self) -> str:
        unit = self.unit.removesuffix("s") if self.amount == 1 else self.unit
        return f"{self.amount} {unit}"
