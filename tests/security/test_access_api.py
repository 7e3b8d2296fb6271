"""The access middleware on the real server: 401s, 403s, the break-glass flow, write rules
over HTTP, and an audit entry for every request."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from access_world import GP_A, HOSP, PERSONAS, load
from fastapi.testclient import TestClient

from joinedup.access import audit
from joinedup.access.principal import Principal
from joinedup.access.settings import AccessSettings
from joinedup.access.tokens import dev_key, dev_token, mint
from joinedup.config import Settings
from joinedup.server.app import create_app
from joinedup.store import open_store
from joinedup.store.base import Store


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("access-api")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'record.db'}")
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def http(store: Store, data_dir: Path) -> Iterator[TestClient]:
    app = create_app(store, Settings(data_dir=data_dir))
    load(store)  # after create_app: the access tables and write hooks are in place
    with TestClient(app, base_url="http://record.test") as client:
        yield client


def bearer(data_dir: Path, persona: str | Principal) -> dict[str, str]:
    principal = PERSONAS[persona] if isinstance(persona, str) else persona
    return {"Authorization": f"Bearer {dev_token(data_dir, principal)}"}


def audit_count(store: Store) -> int:
    return audit.verify(store).entries


def outcome(response: Any) -> str:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return str(body["issue"][0]["diagnostics"])


# --- 401 ---------------------------------------------------------------------------------------


def test_missing_expired_forged_and_wrong_audience_tokens_get_401(
    http: TestClient, store: Store, data_dir: Path
) -> None:
    gp = PERSONAS["gp_a"]
    key = dev_key(AccessSettings().key_dir(data_dir))
    expired = mint(gp, key, audience="joinedup", minutes=1, now=time.time() - 3600)
    other_audience = mint(gp, key, audience="someone-else")
    header, payload, signature = dev_token(data_dir, gp).split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"
    before = audit_count(store)
    for headers in (
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": f"Bearer {expired}"},
        {"Authorization": f"Bearer {other_audience}"},
        {"Authorization": f"Bearer {forged}"},
    ):
        response = http.get("/fhir/Patient/reg", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert outcome(response)
    # Each refusal is audited too, with no one named as the agent.
    assert audit_count(store) == before + 5
    last = audit.entries_about(store, "reg", limit=1)[0].event
    assert last["outcome"] == "4" and last["agent"][0]["who"]["display"] == "unauthenticated"


def test_public_paths_need_no_token(http: TestClient) -> None:
    assert http.get("/fhir/metadata").status_code == 200


# --- 403 ---------------------------------------------------------------------------------------


def test_too_narrow_scopes_get_403_with_an_operation_outcome(
    http: TestClient, data_dir: Path
) -> None:
    only_obs = bearer(data_dir, "gp_a_obs_only")
    response = http.get("/fhir/Patient", headers=only_obs)
    assert response.status_code == 403
    assert "scopes do not allow search on Patient" in outcome(response)
    create = http.post(
        "/fhir/Observation",
        headers=only_obs | {"Content-Type": "application/fhir+json"},
        json={"resourceType": "Observation", "status": "final", "code": {"text": "x"}},
    )
    assert create.status_code == 403
    assert http.get("/fhir/Observation", headers=only_obs).status_code == 200


def test_analysts_have_no_identifiable_access(http: TestClient, data_dir: Path) -> None:
    analyst = bearer(data_dir, "analyst")
    assert http.get("/fhir/Observation", headers=analyst).status_code == 403
    organisations = http.get("/fhir/Organization", headers=analyst)
    assert organisations.status_code == 200 and organisations.json()["total"] == 6


def test_no_relationship_gets_the_same_403_whether_or_not_the_person_exists(
    http: TestClient, data_dir: Path
) -> None:
    gp = bearer(data_dir, "gp_a")
    exists = http.get("/fhir/Patient/other", headers=gp)
    missing = http.get("/fhir/Patient/nobody", headers=gp)
    assert exists.status_code == missing.status_code == 403
    assert outcome(exists).replace("other", "X") == outcome(missing).replace("nobody", "X")
    assert "break glass" in outcome(exists)
    assert http.get("/fhir/Patient/reg", headers=gp).status_code == 200


# --- break-glass ----------------------------------------------------------------------------


def test_break_glass_grants_time_limited_audited_access(
    http: TestClient, store: Store, data_dir: Path
) -> None:
    gp = bearer(data_dir, "gp_a")
    too_short = http.post(
        "/access/break-glass", headers=gp, json={"patient": "other", "reason": "x"}
    )
    assert too_short.status_code == 400
    analyst = http.post(
        "/access/break-glass",
        headers=bearer(data_dir, "analyst"),
        json={"patient": "other", "reason": "unconscious in A&E, no records"},
    )
    assert analyst.status_code == 403
    granted = http.post(
        "/access/break-glass",
        headers=gp,
        json={"patient": "other", "reason": "unconscious in A&E, no records"},
    )
    assert granted.status_code == 201
    assert granted.json()["expires"] > granted.json()["started"]
    assert http.get("/fhir/Patient/other", headers=gp).status_code == 200
    search = http.get("/fhir/Observation", params={"subject": "Patient/other"}, headers=gp)
    assert [e["resource"]["id"] for e in search.json()["entry"]] == ["other-gp"]
    # Audited as break-glass with the reason, and shown to the person.
    about = [e.event for e in audit.entries_about(store, "other")]
    purposes = [e["purposeOfEvent"][0] for e in about]
    assert all(p["coding"][0]["code"] == "BTG" for p in purposes[:3])
    assert purposes[0]["text"] == "unconscious in A&E, no records"
    # While that grant is live, a request about someone the GP cares for is not under it.
    http.get("/fhir/Observation", params={"subject": "Patient/reg"}, headers=gp)
    latest = audit.entries_about(store, "reg")[0].event
    assert latest["purposeOfEvent"][0]["coding"][0]["code"] == "TREAT"
    # Listed for review: an admin sees every grant, the GP their own.
    review = http.get("/access/break-glass", headers=bearer(data_dir, "admin")).json()["grants"]
    assert [(g["patient_id"], g["subject"], g["active"]) for g in review] == [
        ("other", "gp-1", True)
    ]
    assert (
        http.get("/access/break-glass", headers=bearer(data_dir, "hospital")).json()["grants"] == []
    )


# --- writes ---------------------------------------------------------------------------------


def test_writes_over_http_follow_the_write_rules(
    http: TestClient, store: Store, data_dir: Path
) -> None:
    gp = bearer(data_dir, "gp_a") | {"Content-Type": "application/fhir+json"}
    theirs = store.read("Observation", "reg-hosp")
    assert theirs.resource is not None and theirs.source_org == HOSP
    changed = http.put(
        "/fhir/Observation/reg-hosp", headers=gp, json=theirs.resource | {"status": "amended"}
    )
    assert changed.status_code == 403
    assert "written by another organisation" in outcome(changed)
    assert store.read("Observation", "reg-hosp").version_id == theirs.version_id
    created = http.post(
        "/fhir/Observation",
        headers=gp,
        json={
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "blood pressure"},
            "subject": {"reference": "Patient/reg"},
        },
    )
    assert created.status_code == 201, created.text
    assert store.read("Observation", created.json()["id"]).source_org == GP_A
    # A transaction that also touches another organisation's entry writes nothing at all.
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:7f0f7c33-3c1b-4a43-9b1a-8d4a2b6d4d01",
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": "a"},
                },
                "request": {"method": "POST", "url": "Observation"},
            },
            {
                "resource": theirs.resource | {"status": "amended"},
                "request": {"method": "PUT", "url": "Observation/reg-hosp"},
            },
        ],
    }
    before = len(store.history("Observation", count=1000).entries)
    refused = http.post("/fhir", headers=gp, json=bundle)
    assert refused.status_code == 403
    assert len(store.history("Observation", count=1000).entries) == before


def test_a_citizen_changes_their_own_sharing_choice(http: TestClient, data_dir: Path) -> None:
    citizen = bearer(data_dir, "citizen_reg") | {"Content-Type": "application/fhir+json"}
    hospital = bearer(data_dir, "hospital")
    assert http.get("/fhir/Observation/reg-gp", headers=hospital).status_code == 200
    choice = {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": "Patient/reg"},
        "provision": {"type": "deny"},
    }
    made = http.post("/fhir/Consent", headers=citizen, json=choice)
    assert made.status_code == 201, made.text
    # The hospital now sees only what it wrote itself.
    assert http.get("/fhir/Observation/reg-gp", headers=hospital).status_code == 404
    assert http.get("/fhir/Observation/reg-hosp", headers=hospital).status_code == 200
    someone_else = http.post(
        "/fhir/Consent", headers=citizen, json=choice | {"patient": {"reference": "Patient/other"}}
    )
    assert someone_else.status_code == 403


def test_every_request_is_audited_and_cannot_opt_out(
    http: TestClient, store: Store, data_dir: Path
) -> None:
    before = audit_count(store)
    headers = bearer(data_dir, "hospital") | {"X-Audit": "off", "Prefer": "audit=none"}
    http.get(
        "/fhir/Observation", params={"_audit": "false", "subject": "Patient/reg"}, headers=headers
    )
    http.get("/fhir/Observation/old-hosp", headers=headers)
    http.get("/fhir/Patient", headers=bearer(data_dir, "analyst"))  # denied
    assert audit_count(store) == before + 3
    newest = audit.entries_about(store, "reg", limit=1)[0].event
    assert newest["agent"][0]["who"]["identifier"]["value"] == "doc-1"
    assert newest["agent"][1]["who"]["identifier"]["value"] == HOSP
    ids = {e["what"]["reference"] for e in newest["entity"] if "what" in e}
    assert ids == {"Observation/reg-gp", "Observation/reg-hosp"}
    # Search values never reach the log: only the parameter names do.
    assert "Patient/reg" not in str(newest["entity"][-1])
    assert audit.verify(store).intact


def test_a_conditional_create_never_hands_back_a_resource_the_writer_may_not_see(
    http: TestClient, store: Store, data_dir: Path
) -> None:
    hospital = bearer(data_dir, "hospital") | {"Content-Type": "application/fhir+json"}
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}
    before = len(store.history("Observation", count=1000).entries)
    # decline-gp exists, but the person declined sharing beyond GP A: the hospital may not see it.
    hidden = http.post(
        "/fhir/Observation",
        headers=hospital | {"If-None-Exist": "_id=decline-gp"},
        json=observation,
    )
    assert hidden.status_code == 412
    assert "decline-gp" not in hidden.text and "271649006" not in hidden.text
    # A match the hospital may see comes back as FHIR says (200 with the resource).
    seen = http.post(
        "/fhir/Observation",
        headers=hospital | {"If-None-Exist": "_id=decline-hosp"},
        json=observation,
    )
    assert seen.status_code == 200 and seen.json()["id"] == "decline-hosp"
    assert len(store.history("Observation", count=1000).entries) == before
