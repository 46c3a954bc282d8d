"""Replays of real peaks: arrivals following a published curve (chainctl.curves), at a
chosen speed, with a summary and charts afterwards (arrivals against the stages,
backlog, deadlines, occupancy per location type and the ladder step)."""

from __future__ import annotations

import asyncio
import csv
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chainctl.arrivals import make_arrivals
from chainctl.board import CAPACITY_TOPICS, BoardReader, existing_topics
from chainctl.chain import SERVICES
from chainctl.console import capacity_topics, consumer_lag
from chainctl.curves import Curve
from chainctl.watch import CaseBook, ChainWatch, feed
from chainkit.catalogue import topic_for
from chainkit.clock import SimClock
from chainkit.telemetry import setup_telemetry
from migratieketen.v1.arrival_pb2 import ArrivalReport
from migratieketen.v1.deadline_pb2 import DeadlineEvent
from migratieketen.v1.reception_pb2 import LadderStep


@dataclass
class Sample:
    sim_days: float
    fed: int
    registered: int
    screened: int
    decided: int
    outcomes: int
    backlog: dict[str, int]
    at_risk: dict[str, int]
    breached: dict[str, int]
    capacity: dict[str, float]  # see Recorder.sample for the keys


OCCUPANCY = "occupancy:"  # + location type
LADDER_STEP, LADDER_PLACES = "ladder step", "places at the step"
WITHOUT_PLACE = "without a place (now)"
BORDER_IN_USE = "border procedure places in use"


STEP_NAMES = ("regular", "raised", "reserve", "emergency", "crisis")


def reception_text(sample: Sample) -> str:
    """' | in reception 410, step reserve, 3 without a place' once COA has placed anyone."""
    if LADDER_STEP not in sample.capacity:
        return ""
    held = sum(v for k, v in sample.capacity.items() if k.startswith(OCCUPANCY))
    step = STEP_NAMES[int(sample.capacity[LADDER_STEP]) - 1]
    without = int(sample.capacity.get(WITHOUT_PLACE, 0))
    return f" | in reception {held:.0f}, step {step}, {without} without a place"


@dataclass
class Recorder:
    """Samples the chain every few real seconds while a replay runs."""

    bootstrap_servers: str
    clock: SimClock
    started: float = field(default_factory=time.time)  # real time the replay began
    samples: list[Sample] = field(default_factory=list)
    fed: int = 0

    async def sample(self, book: CaseBook, reader: BoardReader) -> None:
        try:
            lag = await consumer_lag(self.bootstrap_servers)
        except Exception:
            lag = {}
        backlog = dict.fromkeys(SERVICES, 0)
        for (group, _), behind in lag.items():
            backlog[group] += behind
        totals = reader.board.totals()
        held = reader.board.capacity
        capacity: dict[str, float] = {
            f"{OCCUPANCY}{kind}": float(n) for kind, n in held.coa.occupancy.items()
        }
        if held.coa.occupancy:
            last = held.coa.ladder[-1] if held.coa.ladder else None
            capacity[LADDER_STEP] = float(last.step if last else LadderStep.LADDER_STEP_REGULAR)
            if last is not None:
                capacity[LADDER_PLACES] = float(last.capacity)
            capacity[WITHOUT_PLACE] = float(len(held.waiting))
        if held.border is not None:
            capacity[BORDER_IN_USE] = float(held.border.in_use)
        self.samples.append(
            Sample(
                sim_days=(time.time() - self.started) / self.clock.seconds_per_day,
                fed=self.fed,
                registered=len(book.v_nummer_of),
                screened=len(book.screened),
                decided=len(book.decisions),
                outcomes=len(book.outcomes),
                backlog=backlog,
                at_risk={t: c.get("at risk", 0) for t, c in totals.items()},
                breached={t: c.get("breached", 0) for t, c in totals.items()},
                capacity=capacity,
            )
        )


async def feed_curve(
    bootstrap_servers: str,
    curve: Curve,
    reports: list[ArrivalReport],
    clock: SimClock,
    provider: Any,
    on_fed: Callable[[int], None],
) -> None:
    """Publish each hour's arrivals spread over that hour, in simulated time."""
    hour_real = clock.seconds_per_day / 24
    started = time.monotonic()
    at = 0
    for hour, count in enumerate(curve.buckets):
        wait = started + hour * hour_real - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        if count:
            batch = reports[at : at + count]
            on_fed(at + count // 2)  # being fed through this hour, when a sample falls in it
            await feed(
                bootstrap_servers, batch, provider, spread_seconds=hour_real * 0.9, clock=clock
            )
            at += count
            on_fed(at)


async def replay(
    curve: Curve,
    bootstrap_servers: str,
    trace_dir: Path,
    clock: SimClock,
    timeout: float,
    progress: Callable[[Recorder], None],
    every: float = 2.0,
) -> tuple[CaseBook, Recorder, bool]:
    reports = make_arrivals(curve.total, seed=7, prefix=curve.name.upper())
    refs = {r.partner_reference for r in reports}
    provider = setup_telemetry("partner", trace_dir)
    watch = ChainWatch(bootstrap_servers)
    reader = BoardReader(
        bootstrap_servers,
        list(
            dict.fromkeys(
                existing_topics(topic_for(DeadlineEvent).name, *capacity_topics()) + CAPACITY_TOPICS
            )
        ),
    )
    recorder = Recorder(bootstrap_servers, clock)
    await watch.start()
    await reader.start()

    def fed(count: int) -> None:
        recorder.fed = count

    fed(0)
    # Ctrl-C or SIGTERM ends the replay early, but with its summary and charts.
    interrupted = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, interrupted.set)
    feeding = asyncio.create_task(
        feed_curve(bootstrap_servers, curve, reports, clock, provider, fed)
    )
    deadline = time.monotonic() + timeout
    watch_until = time.monotonic() + (curve.days + curve.after_days) * clock.seconds_per_day
    complete = False
    try:
        next_sample = time.monotonic()
        while time.monotonic() < deadline and not interrupted.is_set():
            await watch.poll(0.2)
            await reader.poll(0.05)
            if time.monotonic() >= next_sample:
                await recorder.sample(watch.book, reader)
                progress(recorder)
                next_sample += every
            if feeding.done():
                feeding.result()
                book = watch.book
                if all(book.settled(r) for r in refs) or (
                    time.monotonic() >= watch_until and all(_taken_in(book, r) for r in refs)
                ):
                    complete = True
                    break
        await recorder.sample(watch.book, reader)
        return watch.book, recorder, complete
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        feeding.cancel()
        await asyncio.gather(feeding, return_exceptions=True)
        await reader.stop()
        await watch.stop()
        provider.shutdown()


def _taken_in(book: CaseBook, partner_reference: str) -> bool:
    """The surge is over for a report once it is refused or its person is screened."""
    if partner_reference in book.rejected:
        return True
    return book.v_nummer_of.get(partner_reference) in book.screened


def write_samples(samples: list[Sample], path: Path) -> None:
    types = sorted({t for s in samples for t in (*s.at_risk, *s.breached)})
    capacity = sorted({k for s in samples for k in s.capacity})
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(
            [
                "sim_days", "fed", "registered", "screened", "decided", "outcomes",
                *(f"backlog:{s}" for s in SERVICES),
                *(f"at_risk:{t}" for t in types),
                *(f"breached:{t}" for t in types),
                *capacity,
            ]
        )  # fmt: skip
        for s in samples:
            writer.writerow(
                [
                    f"{s.sim_days:.4f}", s.fed, s.registered, s.screened, s.decided, s.outcomes,
                    *(s.backlog.get(x, 0) for x in SERVICES),
                    *(s.at_risk.get(t, 0) for t in types),
                    *(s.breached.get(t, 0) for t in types),
                    *(s.capacity.get(k, "") for k in capacity),
                ]
            )  # fmt: skip


def charts(curve: Curve, samples: list[Sample], out_dir: Path) -> list[Path]:
    """Four PNG charts over simulated time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    days = [s.sim_days for s in samples]
    written = []

    def save(fig: Any, name: str) -> None:
        path = out_dir / name
        fig.axes[0].set_ylim(bottom=0)
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for label, values in (
        ("arrivals", [s.fed for s in samples]),
        ("registered (BVV)", [s.registered for s in samples]),
        ("screened", [s.screened for s in samples]),
        ("asylum decisions", [s.decided for s in samples]),
        ("outcomes", [s.outcomes for s in samples]),
    ):
        ax.plot(days, values, label=label)
    ax.set(title=f"{curve.title}: arrivals and stages", xlabel="simulated days",
           ylabel="cases (cumulative)")  # fmt: skip
    ax.legend()
    ax.grid(alpha=0.3)
    save(fig, "arrivals.png")

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for service in SERVICES:
        ax.plot(days, [s.backlog.get(service, 0) for s in samples], label=service)
    ax.set(title=f"{curve.title}: backlog per service (consumer lag)",
           xlabel="simulated days", ylabel="records behind")  # fmt: skip
    ax.legend()
    ax.grid(alpha=0.3)
    save(fig, "backlog.png")

    fig, ax = plt.subplots(figsize=(8, 4.5))
    types = sorted({t for s in samples for t in (*s.at_risk, *s.breached)})
    for dtype in types:
        (line,) = ax.plot(
            days, [s.at_risk.get(dtype, 0) for s in samples], label=f"{dtype} at risk"
        )
        ax.plot(days, [s.breached.get(dtype, 0) for s in samples], linestyle="--",
                color=line.get_color(), label=f"{dtype} breached")  # fmt: skip
    ax.set(title=f"{curve.title}: legal deadlines at risk (now) and breached",
           xlabel="simulated days", ylabel="cases")  # fmt: skip
    if types:
        ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    save(fig, "deadlines.png")

    fig, ax = plt.subplots(figsize=(8, 4.5))
    keys = sorted({k for s in samples for k in s.capacity})
    kinds = [k for k in keys if k.startswith(OCCUPANCY)]
    for key in kinds:
        ax.plot(days, [s.capacity.get(key, 0.0) for s in samples],
                label=key.removeprefix(OCCUPANCY))  # fmt: skip
    if kinds:
        total = [sum(s.capacity.get(k, 0.0) for k in kinds) for s in samples]
        ax.plot(days, total, color="black", label="in reception (all types)")
    for key, style in ((LADDER_PLACES, ":"), (WITHOUT_PLACE, "--"), (BORDER_IN_USE, "-.")):
        if key in keys:
            ax.plot(days, [s.capacity.get(key, float("nan")) for s in samples],
                    linestyle=style, color="grey" if key == LADDER_PLACES else None,
                    label=key)  # fmt: skip
    ax.set(title=f"{curve.title}: occupancy and ladder steps", xlabel="simulated days",
           ylabel="people")  # fmt: skip
    if LADDER_STEP in keys:
        steps = ax.twinx()
        steps.step(days, [s.capacity.get(LADDER_STEP, float("nan")) for s in samples],
                   where="post", color="firebrick", linewidth=2, label="ladder step")  # fmt: skip
        steps.set_ylim(0.5, 5.5)
        steps.set_yticks(range(1, 6), STEP_NAMES)
        steps.set_ylabel("COA ladder step", color="firebrick")
        steps.legend(loc="lower right", fontsize="small")
    if keys:
        ax.legend(fontsize="small", loc="upper left")
    else:
        ax.text(0.5, 0.5, "no occupancy, ladder or capacity events in this chain yet",
                ha="center", va="center", transform=ax.transAxes)  # fmt: skip
    ax.grid(alpha=0.3)
    save(fig, "occupancy.png")
    return written
