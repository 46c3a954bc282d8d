"""The `migratieketen` command: run the chain with a demo, feed, topics, trace, broker."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shlex
import shutil
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from opentelemetry.sdk.trace import TracerProvider

from chainctl import acls, asyncapi, curves, docs
from chainctl.arrivals import make_arrivals
from chainctl.broker import BrokerError, EmbeddedBroker, ensure_topics, topic_configs
from chainctl.chain import Chain, ChainError
from chainctl.traces import case_traces, render
from chainctl.watch import CaseBook, ChainWatch, feed
from chainkit.catalogue import topic_for, topics
from chainkit.clock import SimClock, init_epoch
from chainkit.kafka_security import KafkaSecurityError
from chainkit.people import is_v_nummer
from chainkit.telemetry import setup_telemetry
from migratieketen.v1.asylum_pb2 import AsylumProcedure, DecisionOutcome
from migratieketen.v1.deadline_pb2 import DeadlineEvent
from migratieketen.v1.outcome_pb2 import Outcome
from migratieketen.v1.screening_pb2 import Referral

if TYPE_CHECKING:  # the console and the replay load web and chart libraries: only when used
    from chainctl.board import Board
    from chainctl.console import ConsoleServer
    from chainctl.replay import Recorder

DEADLINE_TOPIC = topic_for(DeadlineEvent).name
_DEFAULT_BOOTSTRAP = os.environ.get(
    "MK_BOOTSTRAP_SERVERS", os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
)


def _trace_hint(book: CaseBook, data_dir: Path) -> None:
    """A command, runnable as printed, that shows one finished case's trace."""
    example = next(iter(sorted(book.outcomes)), None)
    if example:
        _say(
            f"Show one case's trace:  {self_command()} trace {example}"
            f" --data-dir {shlex.quote(str(data_dir))}"
        )


def _say(text: str) -> None:
    print(text, flush=True)


def self_command() -> str:
    """This command as a user can type it again from the current directory (hints)."""
    script = Path(sys.argv[0])
    if script.name != "migratieketen":
        return f"{shlex.quote(sys.executable)} -m chainctl"
    if script.is_absolute() and script.is_relative_to(Path.cwd()):
        script = script.relative_to(Path.cwd())
    return shlex.quote(str(script))


def _partner_telemetry(data_dir: Path) -> TracerProvider:
    """The partner's spans (the root of every case's trace): to the trace files, and over
    OTLP when OTEL_EXPORTER_OTLP_ENDPOINT (or MK_OTLP_ENDPOINT) is set, as the services do."""
    endpoint = os.environ.get("MK_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    return setup_telemetry("partner", data_dir / "traces", endpoint or None)


def _progress(total: int, started: float) -> Callable[[CaseBook], None]:
    def show(book: CaseBook) -> None:
        _say(
            f"  {time.monotonic() - started:6.1f}s  registered {len(book.v_nummer_of):>4}/{total}"
            f" | screened {len(book.screened):>4} | in asylum {len(book.applications):>4}"
            f" | decided {len(book.decisions):>4} | outcomes {len(book.outcomes):>4}"
            f" | dead letters {len(book.dead_letters)}"
        )

    return show


def _names(counter: Counter[str]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counter.most_common()) or "none"


def _short(enum_name: str, prefix: str) -> str:
    return enum_name.removeprefix(prefix).lower().replace("_", " ")


def summary(book: CaseBook, arrivals: int) -> str:
    referrals = Counter(
        _short(Referral.Name(s.referral), "REFERRAL_") for s in book.screened.values()
    )
    procedures = Counter(
        _short(AsylumProcedure.Name(a.procedure), "ASYLUM_PROCEDURE_")
        for a in book.applications.values()
    )
    decisions = Counter(
        _short(DecisionOutcome.Name(d.outcome), "DECISION_OUTCOME_")
        for d in book.decisions.values()
    )
    outcomes = Counter(_short(Outcome.Name(o.outcome), "OUTCOME_") for o in book.outcomes.values())
    not_done = Counter(
        check for s in book.screened.values() for check in s.indicators.checks_not_done
    )
    in_time = sum(
        1
        for s in book.screened.values()
        if not s.indicators.checks_not_done
        and s.completed_at.ToNanoseconds() <= s.deadline_at.ToNanoseconds()
    )
    breaches = Counter(b.rule for b in book.breaches)
    rejected = Counter(r.field for r in book.rejected.values())
    reasons = Counter(d.reason_code for d in book.dead_letters)
    rows = [
        ("arrival reports", str(arrivals)),
        (
            "registered (BVV)",
            f"{len(book.v_nummer_of)} (identified as known: {book.identified_existing})",
        ),
        ("screened", f"{len(book.screened)}: referred to {_names(referrals)}"),
        (
            "arrival reports rejected",
            f"{len(book.rejected)}" + (f": {_names(rejected)}" if rejected else ""),
        ),
        ("screened with every check", f"{in_time} within the time limit"),
        ("screening checks not done", _names(not_done)),
        ("legal deadlines breached", _names(breaches)),
        ("asylum procedures", f"{len(book.applications)}: {_names(procedures)}"),
        *book.ind.rows(),
        ("in reception (placed)", str(len(book.placements))),
        ("asylum decisions", f"{len(book.decisions)}: {_names(decisions)}"),
        ("reception ended", str(len(book.reception_ended))),
        ("final outcomes", f"{len(book.outcomes)}: {_names(outcomes)}"),
        *book.coa.rows(),
        ("dead letters", f"{len(book.dead_letters)}" + (f": {_names(reasons)}" if reasons else "")),
    ]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"  {label:<{width}}  {value}" for label, value in rows)


def _raise_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def cmd_run(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    data_dir: Path = args.data_dir
    if data_dir.exists() and not args.keep_data:
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    broker: EmbeddedBroker | None = None
    chain: Chain | None = None
    console: ConsoleServer | None = None
    try:
        if args.bootstrap_servers:
            bootstrap = args.bootstrap_servers
            _say(f"Using the Kafka broker at {bootstrap}")
        else:
            broker = EmbeddedBroker(log_path=data_dir / "logs" / "broker.log")
            broker.start()
            bootstrap = broker.bootstrap_servers
            _say(f"Embedded broker (Tansu) listening on {bootstrap}")
        created = asyncio.run(ensure_topics(bootstrap))
        _say(f"Topics ready ({len(topics())} in the catalogue, {len(created)} created)")
        chain = Chain(bootstrap, data_dir, args.seconds_per_day, args.seed)
        chain.start()
        chain.wait_ready()
        startup = time.monotonic() - t0
        _say(
            f"Chain started: {len(chain.services)} services in {startup:.1f} s "
            f"({', '.join(chain.services)}); logs in {data_dir / 'logs'}"
        )
        if args.console_port:
            from chainctl.console import ConsoleServer

            console = ConsoleServer(bootstrap, data_dir, args.console_host, args.console_port)
            if console.start():
                _say(f"Operations console: {console.url} (open it in a browser while it runs)")
            else:
                _say(f"Operations console not started: {console.url} is taken (--console-port)")
                console = None
        book, complete = asyncio.run(_demo(args, bootstrap, chain))
        elapsed = time.monotonic() - t0
        _say("")
        _say(f"Summary ({args.cases} arrivals, 1 simulated day = {args.seconds_per_day} s):")
        _say(summary(book, args.cases))
        _say("")
        if complete:
            _say(f"All cases reached an outcome; start-up {startup:.1f} s, total {elapsed:.1f} s.")
        else:
            _say(f"Stopped after {args.timeout:.0f} s with {len(book.open_cases())} cases open.")
        _say(f"Traces: {data_dir / 'traces'} (one JSON-lines file per service).")
        _trace_hint(book, data_dir)
        return 0 if complete else 1
    except (BrokerError, ChainError) as error:
        _say(f"error: {error}")
        return 2
    except KeyboardInterrupt:
        _say("\nInterrupted; stopping the chain.")
        return 130
    finally:
        _stop(console, chain, broker)
        _say("Chain stopped.")


async def _demo(args: argparse.Namespace, bootstrap: str, chain: Chain) -> tuple[CaseBook, bool]:
    provider = _partner_telemetry(args.data_dir)
    watch = ChainWatch(bootstrap)
    await watch.start()
    try:
        clock = SimClock(float(chain.env["MK_CLOCK_EPOCH"]), args.seconds_per_day)
        reports = make_arrivals(args.cases, seed=args.seed or 1)
        started = time.monotonic()
        spread = args.arrival_days * args.seconds_per_day
        _say(
            f"Feeding {len(reports)} arrival reports over {args.arrival_days:g} simulated days"
            f" ({spread:.1f} s); following the cases:"
        )
        await feed(bootstrap, reports, provider, spread_seconds=spread, clock=clock)
        refs = {r.partner_reference for r in reports}
        expected = len(refs)

        def done(book: CaseBook) -> bool:
            return all(book.settled(ref) for ref in refs)

        complete = await watch.until(
            done, args.timeout, _progress(expected, started), chain.check_alive
        )
        _progress(expected, started)(watch.book)
        return watch.book, complete
    finally:
        await watch.stop()
        provider.shutdown()


def cmd_feed(args: argparse.Namespace) -> int:
    provider = _partner_telemetry(args.data_dir)
    reports = make_arrivals(args.cases, seed=args.seed)
    asyncio.run(feed(args.bootstrap_servers, reports, provider))
    provider.shutdown()
    _say(f"Published {len(reports)} arrival reports to {args.bootstrap_servers}")
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    if args.kafka_config:
        for topic in topics().values():
            replicas = args.replication_factor or topic.replication_factor
            configs = topic_configs(topic, replicas)
            _say(
                f"kafka-topics.sh --bootstrap-server {args.bootstrap_servers}"
                f" --create --if-not-exists --topic {topic.name}"
                f" --partitions {args.partitions or topic.partitions}"
                f" --replication-factor {replicas}"
                + "".join(f" --config {key}={value}" for key, value in configs.items())
            )
        return 0
    if args.create:
        try:
            created = asyncio.run(
                ensure_topics(args.bootstrap_servers, args.partitions, args.replication_factor)
            )
        except BrokerError as error:
            _say(f"error: {error}")
            return 2
        _say(f"Created {len(created)} topics on {args.bootstrap_servers}")
    for topic in topics().values():
        message = f"migratieketen.v1.{topic.message.__name__}"
        _say(f"{topic.name:<32} key={topic.key:<18} message={message}")
        _say(
            f"{'':<32} producers={','.join(topic.producers)} consumers={','.join(topic.consumers)}"
        )
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    if not is_v_nummer(args.v_nummer):
        _say(f"error: {args.v_nummer!r} is not a V-nummer (a V-nummer is exactly 10 digits)")
        return 2
    trace_dir = args.data_dir / "traces"
    if not trace_dir.is_dir():
        _say(f"error: no traces in {trace_dir}; run the chain first or pass --data-dir")
        return 2
    found = case_traces(trace_dir, args.v_nummer)
    if not found:
        _say(f"no spans carry V-nummer {args.v_nummer} in {trace_dir}")
        return 1
    for trace_id, spans in found.items():
        _say(render(trace_id, spans, args.v_nummer))
    return 0


def render_deadlines(board: Board, limit: int) -> str:
    """At-risk and breached cases per deadline type, with the simulated time left."""
    from chainctl.board import left_text

    now = board.chain_now
    if now is None:
        return "No deadline events yet (nothing watched on chain.deadline.v1)."
    out = [f"Deadlines at chain time {now:%Y-%m-%d %H:%M} (the newest deadline event):"]
    listed = board.watched("at risk", "breached")
    for dtype, counts in board.totals().items():
        summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        rows = listed.get(dtype, [])
        description = rows[0].description if rows else ""
        out.append(f"{dtype}: {summary}" + (f"  ({description})" if description else ""))
        for row in rows[:limit]:
            out.append(
                f"  {row.state:<9} {row.v_nummer}  due {row.due_at:%Y-%m-%d %H:%M}"
                f"  {left_text(row.left(now))}  ({row.service})"
            )
        if len(rows) > limit:
            out.append(f"  ... and {len(rows) - limit} more (--limit)")
    return "\n".join(out)


def cmd_deadlines(args: argparse.Namespace) -> int:
    from aiokafka.errors import KafkaError

    from chainctl.board import BoardReader, existing_topics

    async def read() -> tuple[Board, bool]:
        reader = BoardReader(args.bootstrap_servers, existing_topics(DEADLINE_TOPIC))
        try:
            await reader.start()
            return reader.board, await reader.catch_up(args.timeout)
        finally:
            await reader.stop()

    try:
        board, complete = asyncio.run(read())
    except KafkaError as error:
        _say(f"error: cannot read {DEADLINE_TOPIC} from {args.bootstrap_servers}: {error}")
        return 2
    _say(render_deadlines(board, args.limit))
    if not complete:
        _say(f"(stopped reading after {args.timeout:g} s; the list may be incomplete)")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    try:
        curve = curves.load(args.name, args.scale)
    except curves.ReplayError as error:
        _say(f"error: {error}")
        return 2
    seconds_per_day = args.seconds_per_day or curve.seconds_per_day
    data_dir: Path = args.data_dir
    if data_dir.exists() and not args.keep_data:
        shutil.rmtree(data_dir)
    out_dir = data_dir / "replay" / curve.name
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    broker: EmbeddedBroker | None = None
    chain: Chain | None = None
    console: ConsoleServer | None = None
    t0 = time.monotonic()
    try:
        if args.bootstrap_servers:
            bootstrap = args.bootstrap_servers
        else:
            broker = EmbeddedBroker(log_path=data_dir / "logs" / "broker.log")
            broker.start()
            bootstrap = broker.bootstrap_servers
        asyncio.run(ensure_topics(bootstrap))
        chain = Chain(bootstrap, data_dir, seconds_per_day, args.seed, extra_env=curve.settings)
        chain.start()
        chain.wait_ready()
        clock = SimClock(float(chain.env["MK_CLOCK_EPOCH"]), seconds_per_day)
        _say(
            f"Replay {curve.name}: {curve.title}, {curve.total:,} arrivals over {curve.days}"
            f" simulated days, 1 day = {seconds_per_day:g} s ({curve.days * seconds_per_day:.0f}"
            f" s of arrivals); chain of {len(chain.services)} services ready."
        )
        if args.console_port:
            from chainctl.console import ConsoleServer

            console = ConsoleServer(bootstrap, data_dir, "127.0.0.1", args.console_port)
            if console.start():
                _say(f"Operations console: {console.url}")
            else:
                console = None

        from chainctl import replay

        def progress(recorder: Recorder) -> None:
            if len(recorder.samples) % 5 != 1:
                return  # a line every 10 s
            s = recorder.samples[-1]
            _say(
                f"  day {s.sim_days:6.2f}  arrived {s.fed:>6} | registered {s.registered:>6}"
                f" | screened {s.screened:>6} | decided {s.decided:>6} | outcomes {s.outcomes:>6}"
                f" | backlog {sum(s.backlog.values()):>6} | at risk {sum(s.at_risk.values()):>5}"
                f" | breached {sum(s.breached.values()):>5}{replay.reception_text(s)}"
            )

        book, recorder, complete = asyncio.run(
            replay.replay(curve, bootstrap, data_dir / "traces", clock, args.timeout, progress)
        )
        out_dir.mkdir(parents=True, exist_ok=True)
        replay.write_samples(recorder.samples, out_dir / "samples.csv")
        written = replay.charts(curve, recorder.samples, out_dir)
        text = summary(book, curve.total)
        (out_dir / "summary.txt").write_text(f"{curve.title}\n{curve.source}\n\n{text}\n")
        _say("")
        _say(f"Summary of {curve.name} ({curve.total:,} arrivals, {time.monotonic() - t0:.0f} s):")
        _say(text)
        if not complete:
            _say(
                f"Stopped after {time.monotonic() - t0:.0f} s (interrupted or --timeout) with"
                f" {len(book.open_cases())} cases without an outcome."
            )
        _say(f"Charts: {', '.join(str(p) for p in written)}")
        _say(f"Samples: {out_dir / 'samples.csv'}; summary: {out_dir / 'summary.txt'}")
        _trace_hint(book, data_dir)
        return 0 if complete else 1
    except (BrokerError, ChainError) as error:
        _say(f"error: {error}")
        return 2
    except KeyboardInterrupt:
        _say("\nInterrupted; stopping the chain.")
        return 130
    finally:
        _stop(console, chain, broker)


def _stop(
    console: ConsoleServer | None, chain: Chain | None, broker: EmbeddedBroker | None
) -> None:
    """Stop what `run` or `replay` started, the console first and the broker last."""
    if console is not None:
        console.stop()
    if chain is not None:
        chain.stop()
    if broker is not None:
        broker.stop()


def cmd_console(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    _say(
        f"Operations console on http://{args.host}:{args.port}/ reading {args.bootstrap_servers}"
        f" and {args.data_dir / 'traces'}; Ctrl-C stops it."
    )
    from chainctl.console import serve
    from chainkit.metrics import setup_metrics

    endpoint = os.environ.get("MK_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if args.metrics_port or endpoint:  # the backlog (mk.consumer.lag) of every service
        setup_metrics("console", port=args.metrics_port, host=args.host, otlp_endpoint=endpoint)
        if args.metrics_port:
            _say(f"Consumer lag for Prometheus on http://{args.host}:{args.metrics_port}/metrics")
    with contextlib.suppress(KeyboardInterrupt):
        serve(args.bootstrap_servers, args.data_dir, args.host, args.port)
    return 0


def cmd_clock(args: argparse.Namespace) -> int:
    epoch = init_epoch(args.epoch_file, args.epoch)
    _say(f"Chain clock epoch {epoch!r} in {args.epoch_file}")
    return 0


def cmd_broker(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    broker = EmbeddedBroker(port=args.port)
    try:
        broker.start()
    except BrokerError as error:
        _say(f"error: {error}")
        return 2
    try:
        asyncio.run(ensure_topics(broker.bootstrap_servers))
        _say(f"Embedded broker on {broker.bootstrap_servers} with all topics; Ctrl-C stops it.")
        while broker.process is not None and broker.process.poll() is None:
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        broker.stop()


def cmd_asyncapi(args: argparse.Namespace) -> int:
    if args.output is None:
        sys.stdout.write(asyncapi.render())
    else:
        args.output.write_text(asyncapi.render(), "utf-8")
        _say(f"Wrote {args.output}")
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    if not args.write:
        _say(docs.print_all())
        return 0
    for path in docs.write(args.root):
        _say(f"Updated {path}")
    return 0


def cmd_acls(args: argparse.Namespace) -> int:
    if args.output is None:
        sys.stdout.write(acls.script())
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(acls.script(), "utf-8")
        _say(f"Wrote {args.output}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="migratieketen", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    data = argparse.ArgumentParser(add_help=False)
    data.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".data"),
        help="where databases, logs and traces go (default .data)",
    )

    run = sub.add_parser("run", parents=[data], help="run the whole chain with a demo batch")
    run.add_argument("--cases", type=int, default=50, help="arrivals to feed (default 50)")
    run.add_argument(
        "--seconds-per-day",
        type=float,
        default=0.4,
        help="real seconds per simulated day (default 0.4)",
    )
    run.add_argument(
        "--arrival-days",
        type=float,
        default=10.0,
        help="spread the arrivals over this many simulated days (default 10)",
    )
    run.add_argument("--seed", type=int, default=None, help="simulation seed")
    run.add_argument("--timeout", type=float, default=300.0, help="give up after N seconds")
    run.add_argument(
        "--bootstrap-servers",
        default=None,
        help="use this Kafka instead of starting the embedded broker",
    )
    run.add_argument("--keep-data", action="store_true", help="do not wipe --data-dir first")
    run.add_argument(
        "--console-port",
        type=int,
        default=8765,
        help="serve the operations console on this port while the chain runs (0: off)",
    )
    run.add_argument("--console-host", default="127.0.0.1", help="console address")
    run.set_defaults(func=cmd_run)

    fd = sub.add_parser("feed", parents=[data], help="publish demo arrival reports")
    fd.add_argument("--cases", type=int, default=50)
    fd.add_argument("--seed", type=int, default=1)
    fd.add_argument("--bootstrap-servers", default=_DEFAULT_BOOTSTRAP)
    fd.set_defaults(func=cmd_feed)

    tp = sub.add_parser("topics", help="list the topic catalogue, optionally create the topics")
    tp.add_argument(
        "--create",
        action="store_true",
        help="create the missing topics with the catalogue's [kafka] settings",
    )
    tp.add_argument(
        "--kafka-config",
        action="store_true",
        help="print the kafka-topics.sh commands that create the topics, and nothing else",
    )
    tp.add_argument(
        "--partitions", type=int, default=None, help="instead of the catalogue's partitions"
    )
    tp.add_argument(
        "--replication-factor",
        type=int,
        default=None,
        help="instead of the catalogue's (1 on a single-node Kafka)",
    )
    tp.add_argument("--bootstrap-servers", default=_DEFAULT_BOOTSTRAP)
    tp.set_defaults(func=cmd_topics)

    tr = sub.add_parser("trace", parents=[data], help="show one case's trace by V-nummer")
    tr.add_argument("v_nummer")
    tr.set_defaults(func=cmd_trace)

    dl = sub.add_parser(
        "deadlines", help="legal deadlines at risk and breached, per type, with the time left"
    )
    dl.add_argument("--bootstrap-servers", default=_DEFAULT_BOOTSTRAP)
    dl.add_argument("--limit", type=int, default=20, help="cases listed per type (default 20)")
    dl.add_argument("--timeout", type=float, default=20.0, help="stop reading after N s")
    dl.set_defaults(func=cmd_deadlines)

    rp = sub.add_parser(
        "replay",
        parents=[data],
        help="replay a real peak: " + ", ".join(curves.names()),
    )
    rp.add_argument("name", help="one of: " + ", ".join(curves.names()))
    rp.add_argument(
        "--seconds-per-day",
        type=float,
        default=None,
        help="real seconds per simulated day (default: the replay's own)",
    )
    rp.add_argument(
        "--scale", type=float, default=1.0, help="replay this share of the arrivals (default 1)"
    )
    rp.add_argument("--seed", type=int, default=None, help="simulation seed")
    rp.add_argument("--timeout", type=float, default=7200.0, help="give up after N seconds")
    rp.add_argument("--bootstrap-servers", default=None, help="use this Kafka instead")
    rp.add_argument("--keep-data", action="store_true", help="do not wipe --data-dir first")
    rp.add_argument("--console-port", type=int, default=8765, help="console port (0: off)")
    rp.set_defaults(func=cmd_replay)

    co = sub.add_parser("console", parents=[data], help="the operations console in the browser")
    co.add_argument("--bootstrap-servers", default=_DEFAULT_BOOTSTRAP)
    co.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    co.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    co.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve mk.consumer.lag for Prometheus on this port (default off)",
    )
    co.set_defaults(func=cmd_console)

    ck = sub.add_parser(
        "clock", help="write the chain's clock epoch to a file once (kept if already there)"
    )
    ck.add_argument("--epoch-file", type=Path, required=True)
    ck.add_argument("--epoch", type=float, default=None, help="Unix time (default now)")
    ck.set_defaults(func=cmd_clock)

    br = sub.add_parser("broker", help="run the embedded broker with all topics")
    br.add_argument("--port", type=int, default=9092)
    br.set_defaults(func=cmd_broker)

    aa = sub.add_parser("asyncapi", help="print the AsyncAPI document of every topic")
    aa.add_argument("--output", type=Path, default=None, help="write it here (default stdout)")
    aa.set_defaults(func=cmd_asyncapi)

    dc = sub.add_parser(
        "docs", help="print the README's and the guide's tables (topics, reason codes)"
    )
    dc.add_argument("--write", action="store_true", help="rewrite them in the Markdown files")
    dc.add_argument("--root", type=Path, default=Path("."), help="repository root (default .)")
    dc.set_defaults(func=cmd_docs)

    ac = sub.add_parser(
        "acls", help="Kafka SASL/SCRAM principals and ACLs per service and partner, as a script"
    )
    ac.add_argument("--output", type=Path, default=None, help="write it here (default stdout)")
    ac.set_defaults(func=cmd_acls)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "cases", 1) < 1:
        _say("error: --cases must be at least 1")
        return 2
    try:
        code: int = args.func(args)
    except KafkaSecurityError as error:
        _say(f"error: {error}")
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
