"""SimClock: simulated chain time runs 86,400/seconds_per_day times faster than real time."""

from __future__ import annotations

import random
import types
from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

import chainkit.clock
from chainkit.clock import DAY, SimClock, from_timestamp, timestamp

EPOCH = datetime(2026, 6, 12, tzinfo=UTC).timestamp()


def freeze_real_time(monkeypatch: pytest.MonkeyPatch, real: float) -> None:
    """Make the clock module see `real` as the current Unix time."""
    monkeypatch.setattr(chainkit.clock, "time", types.SimpleNamespace(time=lambda: real))


def test_simulated_time_starts_at_the_epoch() -> None:
    clock = SimClock(EPOCH, 1.0)
    assert clock.at_real(EPOCH) == datetime(2026, 6, 12, tzinfo=UTC)


def test_simulated_time_is_timezone_aware_utc() -> None:
    assert SimClock(EPOCH, 1.0).at_real(EPOCH + 5).tzinfo == UTC


@pytest.mark.parametrize(
    ("seconds_per_day", "real_elapsed", "simulated_elapsed"),
    [
        (1.0, 1.0, timedelta(days=1)),
        (1.0, 7.0, timedelta(days=7)),
        (0.1, 1.0, timedelta(days=10)),
        (0.05, 0.5, timedelta(days=10)),
        (3_600.0, 3_600.0, timedelta(days=1)),
        (DAY, 60.0, timedelta(seconds=60)),  # one real day per day: real time
    ],
)
def test_at_real_runs_day_over_seconds_per_day_faster(
    seconds_per_day: float, real_elapsed: float, simulated_elapsed: timedelta
) -> None:
    clock = SimClock(EPOCH, seconds_per_day)
    elapsed = clock.at_real(EPOCH + real_elapsed) - clock.at_real(EPOCH)
    assert elapsed.total_seconds() == pytest.approx(simulated_elapsed.total_seconds(), abs=1e-3)


def test_now_reads_real_time_through_at_real(monkeypatch: pytest.MonkeyPatch) -> None:
    freeze_real_time(monkeypatch, EPOCH + 2.5)
    clock = SimClock(EPOCH, 0.5)
    assert clock.now() == datetime(2026, 6, 17, tzinfo=UTC)  # 2.5 s / 0.5 s per day


@pytest.mark.parametrize(
    ("seconds_per_day", "ahead", "real_seconds"),
    [
        (1.0, timedelta(days=3), 3.0),
        (2.0, timedelta(days=3), 6.0),
        (0.1, timedelta(days=7), 0.7),
        (1.0, timedelta(hours=12), 0.5),
        (1.0, timedelta(days=-2), -2.0),  # already past: negative
        (1.0, timedelta(0), 0.0),
    ],
)
def test_real_seconds_until(
    monkeypatch: pytest.MonkeyPatch, seconds_per_day: float, ahead: timedelta, real_seconds: float
) -> None:
    freeze_real_time(monkeypatch, EPOCH + 10.0)
    clock = SimClock(EPOCH, seconds_per_day)
    assert clock.real_seconds_until(clock.now() + ahead) == pytest.approx(real_seconds, abs=1e-6)


def test_real_seconds_until_inverts_at_real(monkeypatch: pytest.MonkeyPatch) -> None:
    freeze_real_time(monkeypatch, EPOCH + 4.0)
    clock = SimClock(EPOCH, 0.25)
    assert clock.real_seconds_until(clock.at_real(EPOCH + 9.0)) == pytest.approx(5.0, abs=1e-6)


def test_clocks_with_the_same_epoch_agree() -> None:
    """Deadlines stored by one service mean the same instant to every other service."""
    one, other = SimClock(EPOCH, 0.2), SimClock(EPOCH, 0.2)
    assert one.at_real(EPOCH + 123.4) == other.at_real(EPOCH + 123.4)


@pytest.mark.parametrize("seconds_per_day", [0.0, -0.1, -1.0, -DAY])
def test_rejects_non_positive_seconds_per_day(seconds_per_day: float) -> None:
    with pytest.raises(ValueError, match="seconds_per_day"):
        SimClock(EPOCH, seconds_per_day)


def test_timestamp_round_trip() -> None:
    moment = datetime(2026, 6, 12, 13, 14, 15, 123000, tzinfo=UTC)
    assert from_timestamp(timestamp(moment)) == moment


def test_timestamp_is_what_protobuf_makes_of_the_moment() -> None:
    rng = random.Random(11)
    zones = [UTC, None, timezone(timedelta(hours=-11, minutes=-30)), timezone(timedelta(hours=14))]
    for _ in range(5_000):
        moment = datetime.fromtimestamp(rng.uniform(-3e9, 6e9), UTC)
        zone = rng.choice(zones)
        moment = moment.replace(tzinfo=None) if zone is None else moment.astimezone(zone)
        expected = Timestamp()
        expected.FromDatetime(moment)
        assert timestamp(moment) == expected, moment
