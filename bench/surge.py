"""Surge benchmark: N arrivals over D simulated days through registration and screening.

Prints throughput, how many screenings finished every check inside the legal limit,
which checks were recorded as not done and why, the breaches, hop latencies and memory.
A benchmark prints numbers; it asserts nothing.

    .venv/bin/python bench/surge.py --cases 1000 --days 7 --seconds-per-day 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from chainctl.arrivals import make_arrivals
from chainctl.broker import EmbeddedBroker, ensure_topics
from chainctl.chain import Chain
from chainctl.watch import CaseBook, ChainWatch, feed
from chainkit.clock import SimClock
from chainkit.telemetry import setup_telemetry
from migratieketen.v1.screening_pb2 import CheckState

SERVICES = ("bvv", "screening", "europaloket")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else 0.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def hop_latencies(trace_dir: Path) -> dict[str, list[float]]:
    """Real milliseconds from a publish span to the consumer span it caused."""
    spans = {}
    for path in trace_dir.glob("*.jsonl"):
        for line in path.read_text().splitlines():
            span = json.loads(line)
            spans[span["span_id"]] = span
    hops: dict[str, list[float]] = {}
    for span in spans.values():
        parent = spans.get(span["parent_id"] or "")
        if span["name"].endswith(" process") and parent is not None:
            gap = (span["start_ns"] - parent["start_ns"]) / 1e6
            hops.setdefault(span["name"].removesuffix(" process"), []).append(gap)
    return hops


async def surge(args: argparse.Namespace, chain: Chain, bootstrap: str, data: Path) -> CaseBook:
    reports = make_arrivals(args.cases, seed=args.seed, prefix="SURGE")
    provider = setup_telemetry("partner", data / "traces")
    watch = ChainWatch(bootstrap)
    await watch.start()
    clock = SimClock(float(chain.env["MK_CLOCK_EPOCH"]), args.seconds_per_day)
    refs = {r.partner_reference for r in reports}

    def screened(book: CaseBook) -> bool:
        done = sum(
            1
            for ref in refs
            if ref in book.rejected
            or (ref in book.v_nummer_of and book.v_nummer_of[ref] in book.screened)
        )
        return done == len(refs)

    started = time.monotonic()

    def progress(book: CaseBook) -> None:
        print(
            f"  {time.monotonic() - started:6.1f}s registered {len(book.v_nummer_of):>5}"
            f"  screened {len(book.screened):>5}  rejected {len(book.rejected)}",
            flush=True,
        )

    feeding = asyncio.create_task(
        feed(bootstrap, reports, provider, args.days * args.seconds_per_day, clock)
    )
    await watch.until(screened, args.timeout, progress, chain.check_alive)
    await feeding
    await watch.stop()
    provider.shutdown()
    watch.book.counts["elapsed_ms"] = int((time.monotonic() - started) * 1000)
    return watch.book


def report(args: argparse.Namespace, book: CaseBook, chain: Chain, data: Path) -> None:
    elapsed = book.counts["elapsed_ms"] / 1000
    screenings = list(book.screened.values())
    hours = [
        (s.completed_at.ToNanoseconds() - s.started_at.ToNanoseconds()) / 3.6e12 for s in screenings
    ]
    complete = [
        s
        for s in screenings
        if not s.indicators.checks_not_done
        and s.completed_at.ToNanoseconds() <= s.deadline_at.ToNanoseconds()
    ]
    not_done: Counter[str] = Counter()
    for s in screenings:
        for c in s.checks:
            if c.state == CheckState.CHECK_STATE_NOT_DONE:
                not_done[f"{c.check}: {c.reason}"] += 1
    print()
    print(
        f"arrivals {args.cases} over {args.days:g} simulated days "
        f"({args.days * args.seconds_per_day:.0f} s real, 1 day = {args.seconds_per_day} s)"
    )
    print(f"screened {len(screenings)} in {elapsed:.1f} s ({len(screenings) / elapsed:.0f}/s)")
    print(f"every check done within the limit: {len(complete)} of {len(screenings)}")
    print(
        f"screening duration (simulated hours): p50 {percentile(hours, 0.5):.1f}  "
        f"p95 {percentile(hours, 0.95):.1f}  max {max(hours, default=0):.1f}"
    )
    print("checks not done, with the reason recorded:")
    for line, count in not_done.most_common(10) or [("none", 0)]:
        print(f"  {count:5d}  {line}")
    print(f"deadline breaches: {dict(Counter(b.rule for b in book.breaches)) or 'none'}")
    print("hop latency, real ms (publish -> consume): p50 / p95")
    for hop, values in sorted(hop_latencies(data / "traces").items()):
        print(f"  {hop:36s} {percentile(values, 0.5):7.1f} {percentile(values, 0.95):7.1f}")
    print(
        "peak memory (MB): "
        + ", ".join(f"{name} {rss_mb(proc.pid):.0f}" for name, proc in chain.processes.items())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--days", type=float, default=7.0, help="simulated days of arrivals")
    parser.add_argument("--seconds-per-day", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="surge-"))
    with EmbeddedBroker(log_path=data / "logs" / "broker.log") as broker:
        asyncio.run(ensure_topics(broker.bootstrap_servers))
        chain = Chain(broker.bootstrap_servers, data, args.seconds_per_day, services=SERVICES)
        with chain:
            chain.wait_ready()
            book = asyncio.run(surge(args, chain, broker.bootstrap_servers, data))
            report(args, book, chain, data)
    print(f"data, logs and traces: {data}")


if __name__ == "__main__":
    main()
