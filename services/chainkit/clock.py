"""The simulated chain clock: procedures of days and months run in seconds."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

DAY = 86_400.0


class SimClock:
    """Simulated time starts at the real instant `epoch` and runs 86,400/seconds_per_day
    times faster. Every service of one chain gets the same epoch, so deadlines stored by
    one service mean the same instant to all, and survive restarts."""

    def __init__(self, epoch: float, seconds_per_day: float) -> None:
        if seconds_per_day <= 0:
            raise ValueError("seconds_per_day must be positive")
        self.epoch = epoch
        self.seconds_per_day = seconds_per_day

    def now(self) -> datetime:
        return self.at_real(time.time())

    def at_real(self, real: float) -> datetime:
        simulated = self.epoch + (real - self.epoch) * DAY / self.seconds_per_day
        return datetime.fromtimestamp(simulated, UTC)

    def real_seconds_until(self, moment: datetime) -> float:
        return (moment - self.now()).total_seconds() * self.seconds_per_day / DAY


def timestamp(moment: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(moment)
    return ts


def from_timestamp(ts: Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)
