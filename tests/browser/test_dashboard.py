"""The dashboard in headless Chromium: every Place page and a measure page render with their
charts, and axe finds no serious or critical accessibility violations."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from joinedup.measures.compute import compute_measures
from joinedup.synth.generator import SynthOptions, generate
from joinedup.web.dashboard import dashboard_router

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def dashboard_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    source = tmp_path_factory.mktemp("ics") / "source"
    source.mkdir()
    generate(SynthOptions(people=1000, seed=5, out=source, workers=1))
    out = tmp_path_factory.mktemp("measures")
    compute_measures(source, out)
    app = FastAPI()
    app.include_router(dashboard_router(out), prefix="/dashboard")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/dashboard"
    server.should_exit = True
    thread.join()


@pytest.fixture(scope="module")
def page(dashboard_url: str) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser.new_page()
        browser.close()


def assert_accessible(page: Any) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not serious, [(v["id"], v["help"]) for v in serious]


def test_overview_and_every_place_page(page: Any, dashboard_url: str) -> None:
    page.goto(dashboard_url + "/")
    assert "shared outcomes" in page.inner_text("h1")
    assert_accessible(page)
    links = page.eval_on_selector_all("nav a", "els => els.map(e => e.getAttribute('href'))")
    assert len(links) == 3
    for href in links:
        page.goto(
            href if href.startswith("http") else dashboard_url.rsplit("/dashboard", 1)[0] + href
        )
        assert page.locator(".tile").count() >= 20
        assert "accountable" in page.inner_text("main").lower()
        assert page.locator("svg.sparkline").count() > 0
        assert_accessible(page)


def test_measure_page_draws_its_charts(page: Any, dashboard_url: str) -> None:
    page.goto(dashboard_url + "/measure/ae-attendances")
    page.wait_for_selector("#spc-chart .main-svg")
    assert page.locator("#funnel-practice .main-svg, #funnel-place .main-svg").count() > 0
    assert page.locator("#breakdown-imd_quintile .main-svg").count() > 0
    assert page.evaluate("typeof Plotly") == "object"
    assert_accessible(page)


def test_trajectory_and_funnel_axes_are_drawn(page: Any, dashboard_url: str) -> None:
    page.goto(dashboard_url + "/measure/hypertension-controlled")
    page.wait_for_selector("#spc-chart .main-svg")
    assert "Trajectory" in page.inner_text("main")
    names = page.evaluate("Array.from(document.getElementById('spc-chart').data).map(t => t.name)")
    assert "Trajectory" in names
    page.goto(dashboard_url + "/measure/ae-attendances")
    page.wait_for_selector("#spc-chart .main-svg")
    titles = page.evaluate(
        "Array.from(document.querySelectorAll('[id^=funnel-]')).map(d => d.layout.xaxis.title.text)"
    )
    assert titles and set(titles) == {"Denominator (person-years)"}
    assert_accessible(page)
