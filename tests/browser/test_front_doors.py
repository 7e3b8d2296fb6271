"""The two front doors in headless Chromium: sign in as each persona, the clinician's single
view (with break-glass), the citizen portal (with a changed choice), and axe-core finding no
serious or critical accessibility violation on any page."""

from __future__ import annotations

import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "security"))
from access_world import COUNCIL, GP_A, HOSP, PCN, PHYSIO, load

from joinedup.config import Settings
from joinedup.server.app import create_app
from joinedup.store import open_store

playwright_api = pytest.importorskip("playwright.sync_api")
axe_api = pytest.importorskip("axe_playwright_python.sync_playwright")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STAFF_ROLE = "https://joinedup.example.org/fhir/CodeSystem/ics-staff-role"


def staff(number: int, kind: str, org: str, practitioner: str) -> list[dict[str, Any]]:
    return [
        {
            "resourceType": "Practitioner",
            "id": practitioner,
            "name": [{"given": ["Sam"], "family": f"Staff{number}"}],
        },
        {
            "resourceType": "PractitionerRole",
            "id": f"role-{number}",
            "practitioner": {"reference": f"Practitioner/{practitioner}"},
            "organization": {"reference": f"Organization/{org}"},
            "code": [{"coding": [{"system": STAFF_ROLE, "code": kind}]}],
        },
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        from conftest import missing

        missing("Chromium not installed (apt-get install chromium)")
    data_dir = tmp_path_factory.mktemp("browser")
    store = open_store(f"sqlite:///{data_dir / 'record.db'}")
    app = create_app(store, Settings(data_dir=data_dir))
    load(store)
    for resource in [
        *staff(1, "gp", GP_A, "gp-1"),
        *staff(2, "physiotherapist", PHYSIO, "physio-1"),
        *staff(3, "social-worker", COUNCIL, "sw-1"),
        *staff(4, "place-accountable-person", PCN, "leader-1"),
        {
            "resourceType": "Condition",
            "id": "reg-asthma",
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": {"text": "Asthma"},
            "subject": {"reference": "Patient/reg"},
            "recordedDate": "2024-05-01",
        },
    ]:
        store.update(resource, source_org=HOSP if resource["resourceType"] == "Condition" else None)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()


@pytest.fixture(scope="module")
def browser(base_url: str) -> Iterator[Any]:
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, base_url: str) -> Iterator[Any]:
    context = browser.new_context(base_url=base_url)
    try:
        yield context.new_page()
    finally:
        context.close()


def assert_accessible(page: Any) -> None:
    results = axe_api.Axe().run(page)
    bad = [
        (v["id"], v["impact"], v["help"])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{page.url}: {bad}"


def sign_in(page: Any, title: str) -> None:
    page.goto("/web/sign-in")
    page.get_by_role("button", name=f"Sign in as {title.lower()}").click()


def test_sign_in_offers_every_persona(page: Any) -> None:
    page.goto("/web/")
    assert page.url.endswith("/web/sign-in")
    buttons = page.get_by_role("button").all_inner_texts()
    assert buttons == [
        "Sign in as a gp",
        "Sign in as a physiotherapist",
        "Sign in as a social worker",
        "Sign in as a place leader",
        "Sign in as an analyst",
        "Sign in as a patient",
    ]
    assert_accessible(page)


def test_the_clinicians_single_view_and_break_glass(page: Any) -> None:
    sign_in(page, "a GP")
    assert page.url.endswith("/web/people")
    assert_accessible(page)
    page.get_by_role("link", name="Open the record of Patient reg").click()
    rows = page.locator("table tbody tr").all_inner_texts()
    # One timeline across organisations: the hospital's condition and encounter beside the
    # practice's observation, each saying who wrote it.
    assert any("Asthma" in r and "Organisation RH1" in r for r in rows)
    assert any("Observation" in r and "Organisation A00001" in r for r in rows)
    assert any("Encounter" in r and "Organisation RH1" in r for r in rows)
    assert_accessible(page)
    # No relationship with "other": the page offers break-glass instead of the record.
    page.goto("/web/person/other")
    assert "no recorded care relationship" in page.content()
    assert_accessible(page)
    page.get_by_label("Why do you need this record now?").fill("Collapsed in clinic, needs history")
    page.get_by_role("button", name="Break glass and open the record").click()
    banner = page.get_by_role("alert")
    assert "Break-glass access" in banner.inner_text()
    assert "Collapsed in clinic" in banner.inner_text()
    assert_accessible(page)
    # The GP also opens the record of the person the patient persona will be.
    page.goto("/web/person/decline")
    assert "declined sharing" in page.content()


def test_roles_without_record_access(page: Any) -> None:
    for title in ("an analyst", "a Place leader"):
        sign_in(page, title)
        assert "no access to identifiable records" in page.content()
        assert_accessible(page)
        page.get_by_role("button", name="Sign out").click()


def test_the_citizen_portal(page: Any) -> None:
    sign_in(page, "a patient")
    assert page.url.endswith("/web/me")
    assert_accessible(page)
    looked = page.locator("table").first.inner_text()
    assert "Practitioner/gp-1" in looked and "your care" in looked
    sharing = page.get_by_label("Only the organisation that wrote each entry may see it")
    assert sharing.is_checked()
    page.get_by_label("Share my record with everyone caring for me").check()
    page.get_by_label("Opt me out of research and planning").check()
    page.get_by_role("button", name="Save my choices").click()
    assert "Your choices are saved" in page.get_by_role("status").inner_text()
    assert page.get_by_label("Share my record with everyone caring for me").is_checked()
    assert page.get_by_label("Opt me out of research and planning").is_checked()
    assert_accessible(page)
