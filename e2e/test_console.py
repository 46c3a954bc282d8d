"""The operations console in a real headless browser (Debian's chromium, via Playwright):
a planted at-risk case shows up in the deadline list, and its timeline opens with every
service on its path. Screenshots of both views go to MK_SCREENSHOT_DIR (default tmp)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chainctl.arrivals import make_arrivals
from chainctl.broker import EmbeddedBroker, ensure_topics
from chainctl.chain import Chain
from chainctl.console import ConsoleServer
from chainctl.watch import ChainWatch, feed
from chainkit.telemetry import setup_telemetry

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _feed_and_register(bootstrap: str, data_dir: Path, cases: int) -> list[str]:
    reports = make_arrivals(cases, seed=11, prefix="CONSOLE")
    provider = setup_telemetry("partner", data_dir / "traces")
    watch = ChainWatch(bootstrap)
    await watch.start()
    refs = {r.partner_reference for r in reports}
    try:
        await feed(bootstrap, reports, provider)
        assert await watch.until(lambda b: refs <= set(b.v_nummer_of), 60)
    finally:
        await watch.stop()
        provider.shutdown()
    return [watch.book.v_nummer_of[r] for r in refs]


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, list[str]]]:
    """Registration and screening without the Europaloket: no screening can finish, so
    every screening deadline runs; at a share of 1 % of the period it is at risk at once.
    One simulated day is 30 s, so none is breached during the test. A broker of its own:
    the console shows one chain, and other tests' chains reuse the same V-nummers."""
    with EmbeddedBroker() as broker:
        yield from _planted(broker.bootstrap_servers, tmp_path_factory.mktemp("console"))


def _planted(bootstrap_servers: str, tmp_path: Path) -> Iterator[tuple[str, str, list[str]]]:
    asyncio.run(ensure_topics(bootstrap_servers))
    chain = Chain(
        bootstrap_servers,
        tmp_path,
        seconds_per_day=30.0,
        services=("bvv", "screening"),
        extra_env={"MK_DEADLINE_AT_RISK_SHARE": "0.01"},
    )
    chain.start()
    console = ConsoleServer(bootstrap_servers, tmp_path, "127.0.0.1", _free_port())
    try:
        chain.wait_ready(timeout=90)
        assert console.start(), "the console did not start"
        v_nummers = asyncio.run(_feed_and_register(bootstrap_servers, tmp_path, 3))
        yield console.url, bootstrap_servers, v_nummers
    finally:
        console.stop()
        chain.stop()


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed (make test)")
def test_console_lists_an_at_risk_case_and_opens_its_timeline(
    planted: tuple[str, str, list[str]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, _, v_nummers = planted
    shots = Path(os.environ.get("MK_SCREENSHOT_DIR") or tmp_path_factory.mktemp("screens"))
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            # The planted case appears in the at-risk list of the screening time limit.
            mine = ", ".join(f'tr.risk a.case[data-v="{v}"]' for v in v_nummers)
            found = page.locator(f'.dtype[data-type="screening.time_limit"] :is({mine})').first
            expect(found).to_be_visible(timeout=60_000)
            expect(page.locator("#backlog tbody tr")).to_have_count(6)
            # Capacity and crisis: this chain has no reception, border procedure or crisis.
            expect(page.locator("#crisis")).to_have_text("not declared")
            expect(page.locator("#ladder")).to_contain_text("regular")
            expect(page.locator("#border")).to_have_text("no border capacity events yet")
            page.screenshot(path=str(shots / "console-overview.png"), full_page=True)

            v_nummer = found.inner_text()
            found.click()
            expect(page.locator("#case-v")).to_have_text(v_nummer)
            # Spans reach the index within a second or two: search again until all are in.
            services = page.locator("#case-services")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if set(services.inner_text().split(", ")) >= {"partner", "bvv", "screening"}:
                    break
                page.wait_for_timeout(500)
                page.locator("#search button").click()
            assert set(services.inner_text().split(", ")) >= {"partner", "bvv", "screening"}
            steps = page.locator("#steps tbody")
            for service in ("partner", "bvv", "screening"):
                expect(steps).to_contain_text(service)
            expect(page.locator("#case-deadlines")).to_contain_text("screening.time_limit")
            expect(page.locator("#case-deadlines")).to_contain_text("at risk")
            page.screenshot(path=str(shots / "console-case.png"), full_page=True)

            # Bad input gets a clear message, not a stack trace.
            page.fill("#v", "12AB")
            page.locator("#search button").click()
            expect(page.locator("#error")).to_have_text(
                "'12AB' is not a V-nummer (a V-nummer is exactly 10 digits)"
            )
            page.fill("#v", "2699999999")
            page.locator("#search button").click()
            expect(page.locator("#error")).to_contain_text("no case with V-nummer 2699999999")
        finally:
            browser.close()


def test_deadlines_command_lists_the_at_risk_cases(planted: tuple[str, str, list[str]]) -> None:
    _, bootstrap, v_nummers = planted
    deadline = time.monotonic() + 60
    while True:
        shown = subprocess.run(
            [sys.executable, "-m", "chainctl", "deadlines", "--bootstrap-servers", bootstrap],
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert shown.returncode == 0, shown.stdout + shown.stderr
        at_risk = {line.split()[2] for line in shown.stdout.splitlines() if "at risk  " in line}
        if set(v_nummers) <= at_risk or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert set(v_nummers) <= at_risk, shown.stdout
    assert "screening.time_limit:" in shown.stdout
    assert "left  (screening)" in shown.stdout
