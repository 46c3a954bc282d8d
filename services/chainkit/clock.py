"""The simulated chain clock: procedures of days and months run in seconds."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

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


def read_epoch(path: Path) -> float:
    """The chain's clock epoch from the file `init_epoch` wrote."""
    try:
        return float(path.read_text("ascii").strip())
    except FileNotFoundError:
        raise ValueError(
            f"clock epoch file {path} does not exist: write it once for the whole chain"
            " (migratieketen clock --epoch-file PATH)"
        ) from None
    except ValueError:
        raise ValueError(f"clock epoch file {path} holds no Unix time") from None


def init_epoch(path: Path, epoch: float | None = None) -> float:
    """Write the chain's epoch (now unless given) to `path` unless it is there already,
    and return the epoch in force: the clock of a chain is set once and kept across
    restarts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return read_epoch(path)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(repr(time.time() if epoch is None else epoch) + "\n")
    return read_epoch(path)


_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(moment: datetime) -> Timestamp:
    """As `Timestamp.FromDatetime` (a naive datetime is UTC), in a tenth of its time:
    several are made for every event."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    since = moment - _UNIX_EPOCH
    return Timestamp(seconds=since.days * 86_400 + since.seconds, nanos=since.microseconds * 1000)


def from_timestamp(ts: Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)
