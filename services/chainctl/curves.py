"""The published peak curves that `migratieketen replay` follows: data files in
`replays/` with their sources; where only a total is published, the split over days and
hours is an assumption the file states."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

CURVES = Path(__file__).parent / "replays"
# Reception's places follow the share of arrivals replayed (--scale), so a replay at a
# tenth of the arrivals meets a tenth of the places.
SCALED_WITH_ARRIVALS = ("MK_RECEPTION_CAPACITY_SCALE",)


class ReplayError(ValueError):
    """An unknown replay name or a curve file that does not add up."""


@dataclass(frozen=True)
class Curve:
    name: str
    title: str
    total: int
    days: int
    seconds_per_day: float
    after_days: float  # keep watching this long after the last arrival (simulated days)
    buckets: list[int]  # arrivals per hour of simulated time, summing to total
    settings: dict[str, str]
    source: str

    @property
    def hours(self) -> int:
        return len(self.buckets)


def names() -> list[str]:
    return sorted(p.stem for p in CURVES.glob("*.toml"))


def load(name: str, scale: float = 1.0) -> Curve:
    path = CURVES / f"{name}.toml"
    if not path.is_file():
        raise ReplayError(f"no replay called {name!r}; there are: {', '.join(names())}")
    text = path.read_text("utf-8")
    raw = tomllib.loads(text)
    days = int(raw["days"])
    day_profile = [float(w) for w in raw["day_profile"]]
    hour_profile = [float(w) for w in raw["hour_profile"]]
    if len(hour_profile) != 24 or not day_profile or raw.get("bucket_hours", 1) != 1:
        raise ReplayError(f"{path}: hour_profile needs 24 hourly weights, day_profile one or more")
    weights = [
        day_profile[d % len(day_profile)] * hour_profile[h] for d in range(days) for h in range(24)
    ]
    total = max(round(int(raw["total"]) * scale), 1)
    source = "\n".join(line[2:] for line in text.splitlines() if line.startswith("# "))
    return Curve(
        name=name,
        title=str(raw["title"]),
        total=total,
        days=days,
        seconds_per_day=float(raw["seconds_per_day"]),
        after_days=float(raw.get("after_days", 0.0)),
        buckets=spread(total, weights),
        settings=_settings(raw.get("settings", {}), scale),
        source=source,
    )


def _settings(raw: dict[str, object], scale: float) -> dict[str, str]:
    """The chain's environment for the replay: files (`*_FILE`) relative to `replays/`,
    capacities scaled like the arrivals."""
    settings = {}
    for key, value in raw.items():
        if key.endswith("_FILE") and not Path(str(value)).is_absolute():
            value = (CURVES / str(value)).resolve()
        elif key in SCALED_WITH_ARRIVALS:
            value = float(str(value)) * scale
        settings[key] = str(value)
    return settings


def spread(total: int, weights: list[float]) -> list[int]:
    """Whole arrivals per bucket in proportion to the weights, adding up to the total
    (largest remainders)."""
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts
