"""Throughput benchmark: N arrivals fed at once through the whole chain, CPU per case.

Starts the embedded broker and the six services exactly as `migratieketen run` does
(same services, outbox, inbox, traces), then prints:

- the idle CPU of the chain (broker included) before any work,
- cases per second end to end and CPU seconds per case per process (broker included),
- hop latency p50/p95/p99 per topic (publish span to consumer span),
- peak RSS per process,
- the CPU per event of a bare FastStream relay over the same number of events on the
  same broker (handed one message at a time, and in batches; the median of three runs
  each), and the chain's CPU per event against each.

CPU is read from /proc (user + system seconds), not wall time: the numbers hold on a
shared machine. A benchmark prints numbers; it asserts nothing.

    .venv/bin/python bench/throughput.py --cases 1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from chainctl.arrivals import make_arrivals
from chainctl.broker import EmbeddedBroker, ensure_topics
from chainctl.chain import Chain
from chainctl.watch import CaseBook, ChainWatch, feed
from chainkit.clock import SimClock
from chainkit.telemetry import setup_telemetry
from migratieketen.v1.arrival_pb2 import ArrivalRejected
from migratieketen.v1.bvv_pb2 import PersonRegistered
from migratieketen.v1.outcome_pb2 import CaseOutcome

# What the benchmark reads to know a case is settled (refused, or registered and
# concluded). The watcher is the benchmark's instrument, not part of the chain: each
# topic it follows is work for the broker that the chain's CPU would be charged with.
SETTLING = (ArrivalRejected, PersonRegistered, CaseOutcome)

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else 0.0


def read_spans(trace_dir: Path) -> dict[str, dict[str, Any]]:
    spans = {}
    for path in trace_dir.glob("*.jsonl"):
        for line in path.read_text().splitlines():
            span = json.loads(line)
            spans[span["span_id"]] = span
    return spans


def hop_latencies(
    spans: dict[str, dict[str, Any]], window: tuple[int, int] | None = None
) -> dict[str, list[float]]:
    """Real milliseconds from a publish span to the consumer span it caused, per topic
    (only hops published within `window`, if given). The time an event waited in the
    outbox before the relay sent it is not in it."""
    hops: dict[str, list[float]] = {}
    for span in spans.values():
        parent = spans.get(span["parent_id"] or "")
        if span["name"].endswith(" process") and parent is not None:
            if window and not window[0] <= parent["start_ns"] <= window[1]:
                continue
            gap = (span["start_ns"] - parent["start_ns"]) / 1e6
            hops.setdefault(span["name"].removesuffix(" process"), []).append(gap)
    return hops


def outbox_waits(
    spans: dict[str, dict[str, Any]], window: tuple[int, int] | None = None
) -> list[float]:
    """Real milliseconds from the end of the span that published an event (its handler
    or timer, ended once its transaction committed) to the relay sending it."""
    waits = []
    for span in spans.values():
        parent = spans.get(span["parent_id"] or "")
        if span["kind"] == "PRODUCER" and parent is not None and parent["kind"] != "PRODUCER":
            if window and not window[0] <= span["start_ns"] <= window[1]:
                continue
            waits.append((span["start_ns"] - parent["end_ns"]) / 1e6)
    return waits


def steady_window(spans: dict[str, dict[str, Any]], warm_up: float) -> tuple[int, int]:
    """While arrivals flow: from `warm_up` seconds after the first arrival's publish to
    the last one's. Before it, each service's first fetch after the idle minute waits
    up to the idle fetch wait (MK_IDLE_FETCH_MAX_WAIT_MS), once per hop; after it, a
    service that receives nothing for 2 s goes back to that wait."""
    arrivals = [s["start_ns"] for s in spans.values() if s["name"] == "arrival.reported.v1 publish"]
    if not arrivals:
        return 0, 0
    return min(arrivals) + int(warm_up * 1e9), max(arrivals)


class CpuMeter:
    """CPU seconds of a set of processes between two readings."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self._start = self._read()

    def _read(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def reset(self) -> None:
        self._start = self._read()

    def used(self) -> dict[str, float]:
        now = self._read()
        return {name: now[name] - self._start[name] for name in self.pids}


async def run_cases(args: argparse.Namespace, chain: Chain, bootstrap: str, data: Path) -> CaseBook:
    clock = SimClock(float(chain.env["MK_CLOCK_EPOCH"]), args.seconds_per_day)
    reports = make_arrivals(args.cases, seed=args.seed, prefix="BENCH")
    provider = setup_telemetry("partner", data / "traces")
    watch = ChainWatch(bootstrap, SETTLING)
    await watch.start()
    refs = {r.partner_reference for r in reports}
    spread = args.cases / args.rate if args.rate else 0.0
    feeding = asyncio.create_task(feed(bootstrap, reports, provider, spread, clock))
    started = time.monotonic()

    def progress(book: CaseBook) -> None:
        done = sum(1 for ref in refs if book.settled(ref))
        print(f"  {time.monotonic() - started:6.1f}s settled {done:>6} of {len(refs)}", flush=True)

    complete = await watch.until(
        lambda book: all(book.settled(ref) for ref in refs),
        args.timeout,
        progress,
        chain.check_alive,
        every=5.0,
    )
    await feeding
    await watch.stop()
    provider.shutdown()
    watch.book.counts["elapsed_ms"] = int((time.monotonic() - started) * 1000)
    watch.book.counts["complete"] = int(complete)
    return watch.book


def bare_relay(
    bootstrap: str, events: int, hops: int, broker_pid: int, kind: str
) -> tuple[int, float]:
    """Run bench/bare_relay.py (`kind`: message or batch) on the broker; return the
    events it relayed and the CPU seconds they cost, its own and the broker's."""
    done = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("bare_relay.py")),
            "--bootstrap-servers",
            bootstrap,
            "--messages",
            str(max(1, events // hops)),
            "--hops",
            str(hops),
            "--broker-pid",
            str(broker_pid),
            "--kind",
            kind,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    relayed, cpu = done.stdout.split()[-2:]
    return int(relayed), float(cpu)


def table(rows: Iterable[tuple[str, str]]) -> str:
    rows = list(rows)
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"  {label:<{width}}  {value}" for label, value in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seconds-per-day", type=float, default=0.05)
    parser.add_argument("--rate", type=float, default=0.0, help="arrivals/s (0: all at once)")
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument(
        "--bare-runs", type=int, default=3, help="runs of the bare relay (the median counts)"
    )
    parser.add_argument(
        "--warm-up-seconds",
        type=float,
        default=5.0,
        help="hops published this long after the first arrival count as warmed up",
    )
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="throughput-"))
    with EmbeddedBroker(log_path=data / "logs" / "broker.log") as broker:
        assert broker.process is not None
        broker_pid = broker.process.pid
        asyncio.run(ensure_topics(broker.bootstrap_servers))
        started = time.monotonic()
        chain = Chain(broker.bootstrap_servers, data, args.seconds_per_day)
        with chain:
            chain.wait_ready(timeout=120.0)
            startup = time.monotonic() - started
            pids = {"broker": broker_pid} | {
                name: proc.pid for name, proc in chain.processes.items()
            }
            meter = CpuMeter(pids)
            time.sleep(args.idle_seconds)
            idle = meter.used()
            meter.reset()
            book = asyncio.run(run_cases(args, chain, broker.bootstrap_servers, data))
            busy = meter.used()
            rss = {name: peak_rss_mb(pid) for name, pid in pids.items()}
        time.sleep(1.0)  # the last spans are written on shutdown
        spans = read_spans(data / "traces")
        events = sum(1 for span in spans.values() if span["kind"] == "PRODUCER")
        # The yardstick is measured more than once: one run of it moves by a third
        # from one minute to the next on a shared machine, more than the chain does.
        bare = {
            kind: [
                bare_relay(broker.bootstrap_servers, events, 3, broker_pid, kind)
                for _ in range(args.bare_runs)
            ]
            for kind in ("message", "batch")
        }
    elapsed = book.counts["elapsed_ms"] / 1000
    settled = len(book.outcomes) + len(book.rejected)
    total = sum(busy.values())
    print()
    print(
        f"{args.cases} arrivals ({'all at once' if not args.rate else f'{args.rate:g}/s'}), "
        f"1 simulated day = {args.seconds_per_day} s; start-up {startup:.1f} s; data in {data}"
    )
    print(
        f"cases settled {settled} in {elapsed:.1f} s: {settled / elapsed:.1f} cases/s end to end"
        + ("" if book.counts["complete"] else " (TIMED OUT)")
    )
    if len(book.rejected) > settled // 2:
        print(
            f"WARNING: {len(book.rejected)} arrivals rejected: start-up took "
            f"{startup / args.seconds_per_day:.0f} simulated days, so their claimed ages no "
            "longer match their birth dates; these numbers are not a chain run "
            "(run on a quieter machine or with a larger --seconds-per-day)"
        )
    print(f"CPU per case, ms (total {1000 * total / max(settled, 1):.1f}):")
    print(
        table(
            (name, f"{1000 * cpu / max(settled, 1):6.1f}")
            for name, cpu in sorted(busy.items(), key=lambda kv: -kv[1])
        )
    )
    chain_per_event = 1000 * total / max(events, 1)
    print(f"events published (producer spans) {events}: {chain_per_event:.2f} ms CPU per event")
    print("bare FastStream relay, same broker, same events through 3 hops, broker included:")
    for kind, label in (
        ("message", "a message at a time, no confirm (issue 9's yardstick)"),
        ("batch", "in batches, publish_batch, no confirm"),
    ):
        runs = sorted(1000 * cpu / max(relayed, 1) for relayed, cpu in bare[kind])
        bare_per_event = runs[len(runs) // 2]
        print(
            f"  {label:55s} {bare_per_event:.3f} ms CPU per event; "
            f"chain / bare = {chain_per_event / max(bare_per_event, 1e-9):.1f}x"
            + (f" (median of {' '.join(f'{r:.3f}' for r in runs)})" if len(runs) > 1 else "")
        )
    print(
        f"idle chain: {sum(idle.values()) / args.idle_seconds:.3f} cores "
        f"({', '.join(f'{n} {c / args.idle_seconds:.3f}' for n, c in idle.items())})"
    )
    print("peak RSS, MB: " + ", ".join(f"{n} {m:.0f}" for n, m in rss.items()))
    window = steady_window(spans, args.warm_up_seconds)
    steady = hop_latencies(spans, window)
    print(
        "hop latency, real ms (publish -> consume): p50 / p95 / p99, and p99 of the hops "
        f"published while arrivals flowed, from {args.warm_up_seconds:g} s after the first"
    )
    for hop, values in sorted(hop_latencies(spans).items()):
        later = steady.get(hop, [])
        print(
            f"  {hop:36s} {percentile(values, 0.5):7.1f} {percentile(values, 0.95):7.1f}"
            f" {percentile(values, 0.99):7.1f}"
            + (f"  | {percentile(later, 0.99):7.1f}" if later else "  |       -")
        )
    waits, steady_waits = outbox_waits(spans), outbox_waits(spans, window)
    print(
        f"  {'(outbox: commit -> relay sends)':36s} {percentile(waits, 0.5):7.1f}"
        f" {percentile(waits, 0.95):7.1f} {percentile(waits, 0.99):7.1f}"
        + (f"  | {percentile(steady_waits, 0.99):7.1f}" if steady_waits else "  |       -")
    )


if __name__ == "__main__":
    main()
