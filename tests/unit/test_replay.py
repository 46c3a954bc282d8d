"""Replays follow their published curves; the charts are written from the samples."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainctl import curves, replay
from chainctl.cli import main
from chainctl.replay import Sample
from reception.domain import load_municipalities


@pytest.mark.parametrize(
    ("name", "total", "days"),
    [("nl-2015-10", 2200, 7), ("munich-2015-09-12", 12200, 1), ("ter-apel-2022", 4435, 30)],
)
def test_each_curve_adds_up_to_its_published_total(name: str, total: int, days: int) -> None:
    curve = curves.load(name)
    assert (curve.total, curve.days, curve.hours) == (total, days, days * 24)
    assert sum(curve.buckets) == total
    assert "Source" in curve.source or "source" in curve.source.lower()
    scaled = curves.load(name, scale=0.1)
    assert sum(scaled.buckets) == round(total * 0.1)


def test_ter_apel_meets_full_reception_with_blocked_outflow() -> None:
    """Reception's places shrink with the arrivals replayed; permit holders' waits come
    from a municipality file next to the curve, longer than the replay."""
    full = curves.load("ter-apel-2022")
    tenth = curves.load("ter-apel-2022", scale=0.1)
    scale = "MK_RECEPTION_CAPACITY_SCALE"
    assert float(tenth.settings[scale]) == pytest.approx(float(full.settings[scale]) / 10)
    towns = Path(full.settings["MK_RECEPTION_MUNICIPALITIES_FILE"])
    assert towns.is_absolute()
    waits = [m.wait_days for m in load_municipalities(towns)]
    assert min(waits) > full.days + full.after_days


def test_munich_peaks_in_the_afternoon() -> None:
    buckets = curves.load("munich-2015-09-12").buckets
    assert max(buckets) == buckets[15] and buckets[3] < buckets[15] / 5


def test_spread_keeps_the_total() -> None:
    assert curves.spread(10, [1, 1, 1]) == [4, 3, 3]
    assert sum(curves.spread(12_200, [float(h % 7 + 1) for h in range(24)])) == 12_200


def test_an_unknown_replay_names_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "rotterdam-1900"]) == 2
    out = capsys.readouterr().out
    assert "no replay called 'rotterdam-1900'" in out and "munich-2015-09-12" in out


def test_charts_are_pngs(tmp_path: Path) -> None:
    curve = curves.load("nl-2015-10", scale=0.01)
    samples = [
        Sample(
            sim_days=d / 2,
            fed=d * 3,
            registered=d * 3,
            screened=d * 2,
            decided=d,
            outcomes=0,
            backlog={"bvv": d % 3, "screening": 1},
            at_risk={"screening.time_limit": d % 2},
            breached={"screening.time_limit": d // 4},
            capacity={
                f"{replay.OCCUPANCY}central reception": float(min(d, 4)),
                f"{replay.OCCUPANCY}regular centre": float(d * 2),
                replay.LADDER_STEP: float(1 + d // 2),
                replay.WITHOUT_PLACE: float(max(d - 7, 0)),
            },
        )
        for d in range(10)
    ]
    written = replay.charts(curve, samples, tmp_path)
    assert replay.reception_text(samples[-1]) == (
        " | in reception 22, step crisis, 2 without a place"
    )
    assert [p.name for p in written] == [
        "arrivals.png",
        "backlog.png",
        "deadlines.png",
        "occupancy.png",
    ]
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    replay.write_samples(samples, tmp_path / "samples.csv")
    header = (tmp_path / "samples.csv").read_text().splitlines()[0]
    assert header.startswith("sim_days,fed,registered,screened,decided,outcomes,backlog:bvv")
    assert "breached:screening.time_limit" in header
