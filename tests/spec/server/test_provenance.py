"""A Provenance for every write: REST, transaction and batch Bundles, ``joinedup load``; who
may read it; and none when the write does not happen."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import in_process

from joinedup.access.consent import is_opt_out
from joinedup.access.middleware import TOKEN_COOKIE
from joinedup.access.settings import ACT_CODE
from joinedup.access.tokens import dev_token
from joinedup.config import Settings
from joinedup.fhir.nhs_number import SYSTEM, from_serial
from joinedup.fhir.validation import validate_structure
from joinedup.record.load import Loader
from joinedup.server.app import create_app
from joinedup.store import Store
from security.access_world import GP_A, HOSP, PERSONAS, load

DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"


def provenances(client: httpx.Client, target: str) -> list[dict[str, Any]]:
    found = client.get("/fhir/Provenance", params={"target": target, "_count": "100"}).json()
    return [entry["resource"] for entry in found.get("entry", [])]


def activity(provenance: dict[str, Any]) -> str | None:
    codings = provenance.get("activity", {}).get("coding", [])
    assert all(c["system"] == DATA_OPERATION for c in codings)
    return codings[0]["code"] if codings else None


def observation(pid: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "pulse"},
        "subject": {"reference": f"Patient/{pid}"},
        **extra,
    }


def test_each_rest_write_leaves_a_provenance_of_its_version(org_client: httpx.Client) -> None:
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": SYSTEM, "value": from_serial(3)}],
    }
    pid = org_client.post("/fhir/Patient", json=patient).json()["id"]
    created = org_client.post("/fhir/Observation", json=observation(pid)).json()
    oid = created["id"]
    updated = org_client.put(
        f"/fhir/Observation/{oid}", json={**observation(pid), "id": oid, "status": "amended"}
    ).json()
    patch = [{"op": "replace", "path": "/status", "value": "corrected"}]
    org_client.patch(
        f"/fhir/Observation/{oid}",
        content=json.dumps(patch),
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert org_client.delete(f"/fhir/Observation/{oid}").status_code == 204

    found = sorted(provenances(org_client, f"Observation/{oid}"), key=lambda p: p["recorded"])
    assert [p["target"] for p in found] == [
        [{"reference": f"Observation/{oid}/_history/{version}"}] for version in (1, 2, 3, 4)
    ]
    assert [activity(p) for p in found] == ["CREATE", "UPDATE", "UPDATE", "DELETE"]
    assert found[0]["recorded"] == created["meta"]["lastUpdated"]
    assert found[1]["recorded"] == updated["meta"]["lastUpdated"]
    for provenance in found:
        validate_structure(provenance)
        # A system token with an organisation: the organisation is the author.
        (agent,) = provenance["agent"]
        assert agent["type"]["coding"][0]["code"] == "author"
        assert agent["who"] == {
            "type": "Organization",
            "identifier": {"system": ODS, "value": "A81001"},
        }
        assert provenance["meta"]["source"] == f"{ODS}/A81001"
    assert len(provenances(org_client, f"Patient/{pid}")) == 1


def test_a_transaction_has_one_provenance_naming_all_it_wrote(client: httpx.Client) -> None:
    existing = client.post("/fhir/Patient", json={"resourceType": "Patient"}).json()["id"]
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:3a0c9f0e-0000-4000-8000-000000000001",
                "resource": {"resourceType": "Patient", "gender": "female"},
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": observation("placeholder")
                | {"subject": {"reference": "urn:uuid:3a0c9f0e-0000-4000-8000-000000000001"}},
                "request": {"method": "POST", "url": "Observation"},
            },
            {
                "resource": {"resourceType": "Patient", "id": existing, "gender": "male"},
                "request": {"method": "PUT", "url": f"Patient/{existing}"},
            },
            {"request": {"method": "GET", "url": f"Patient/{existing}"}},
        ],
    }
    response = client.post("/fhir", json=bundle).json()
    written = [e["response"]["location"] for e in response["entry"][:3]]
    (provenance,) = provenances(client, written[0].rsplit("/_history", 1)[0])
    assert sorted(t["reference"] for t in provenance["target"]) == sorted(written)
    assert provenance["activity"] == {"text": "CREATE, UPDATE"}
    assert len(provenances(client, f"Patient/{existing}")) == 2  # its create, then this


def test_a_failed_transaction_leaves_no_provenance(client: httpx.Client) -> None:
    before = client.get("/fhir/Provenance", params={"_summary": "count"}).json()["total"]
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {"resourceType": "Patient"},
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": observation("not-there"),
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    }
    refused = client.post("/fhir", json=bundle)
    assert refused.status_code == 422
    after = client.get("/fhir/Provenance", params={"_summary": "count"}).json()["total"]
    assert after == before
    assert client.get("/fhir/Patient", params={"_summary": "count"}).json()["total"] == 0


def test_batch_entries_each_have_their_own(client: httpx.Client) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {
                "resource": {"resourceType": "Patient", "gender": "female"},
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": observation("not-there"),
                "request": {"method": "POST", "url": "Observation"},
            },
            {
                "resource": {"resourceType": "Patient", "gender": "male"},
                "request": {"method": "POST", "url": "Patient"},
            },
        ],
    }
    response = client.post("/fhir", json=bundle).json()
    first, failed, last = (e["response"] for e in response["entry"])
    assert failed["status"].startswith("422")
    for written in (first, last):
        (provenance,) = provenances(client, written["location"].rsplit("/_history", 1)[0])
        assert provenance["target"] == [{"reference": written["location"]}]
    assert client.get("/fhir/Provenance", params={"_summary": "count"}).json()["total"] == 2


def test_a_write_that_writes_nothing_leaves_none(client: httpx.Client) -> None:
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": SYSTEM, "value": from_serial(5)}],
    }
    condition = {"If-None-Exist": f"identifier={SYSTEM}|{from_serial(5)}"}
    assert client.post("/fhir/Patient", json=patient, headers=condition).status_code == 201
    assert client.post("/fhir/Patient", json=patient, headers=condition).status_code == 200
    assert client.delete("/fhir/Observation/never-was").status_code == 204
    assert client.get("/fhir/Provenance", params={"_summary": "count"}).json()["total"] == 1


# --- the author and who may read it ---------------------------------------------------------


@pytest.fixture
def world(store: Store, data_dir: Path) -> Iterator[httpx.Client]:
    """The access tests' small ICS behind the server; callers bring their own token."""
    app = create_app(store, Settings(data_dir=data_dir))
    load(store)  # after create_app, so the access tables and hooks are in place
    for practitioner in ("doc-1", "gp-1"):
        store.update({"resourceType": "Practitioner", "id": practitioner}, source_org=None)
    with in_process(app) as http:
        yield http


def as_persona(data_dir: Path, persona: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {dev_token(data_dir, PERSONAS[persona])}"}


def test_a_clinician_writes_on_behalf_of_their_organisation(
    world: httpx.Client, data_dir: Path
) -> None:
    hospital = as_persona(data_dir, "hospital")
    written = world.post("/fhir/Observation", json=observation("reg"), headers=hospital)
    assert written.status_code == 201
    oid = written.json()["id"]
    found = world.get("/fhir/Provenance", params={"target": f"Observation/{oid}"}, headers=hospital)
    (provenance,) = [e["resource"] for e in found.json()["entry"]]
    (agent,) = provenance["agent"]
    assert agent["who"] == {"reference": "Practitioner/doc-1"}
    assert agent["onBehalfOf"] == {
        "type": "Organization",
        "identifier": {"system": ODS, "value": HOSP},
    }
    assert provenance["meta"]["source"] == f"{ODS}/{HOSP}"
    # Provenance?agent= finds what this practitioner wrote.
    by_agent = world.get(
        "/fhir/Provenance", params={"agent": "Practitioner/doc-1"}, headers=hospital
    ).json()
    assert [e["resource"]["id"] for e in by_agent["entry"]] == [provenance["id"]]


def test_it_is_read_by_those_who_may_read_its_target_and_no_one_else(
    world: httpx.Client, data_dir: Path
) -> None:
    hospital = as_persona(data_dir, "hospital")
    oid = world.post("/fhir/Observation", json=observation("reg"), headers=hospital).json()["id"]
    labelled = observation("sens", meta={"security": [{"system": ACT_CODE, "code": "SEX"}]})
    sid = world.post("/fhir/Observation", json=labelled, headers=hospital).json()["id"]
    provenance_of = {}
    for target in (oid, sid):
        found = world.get(
            "/fhir/Provenance", params={"target": f"Observation/{target}"}, headers=hospital
        )
        provenance_of[target] = found.json()["entry"][0]["resource"]["id"]

    # GP A: registered with reg (sees the hospital's Observation and so its Provenance); but
    # a restricted label written by another organisation hides both for sens.
    # The community physio has no relationship with either person.
    cases = [
        ("gp_a", oid, 200),
        ("gp_a", sid, 404),
        ("community_physio", oid, 404),
        ("community_physio", sid, 404),
        ("citizen_reg", oid, 200),
    ]
    for persona, target, status in cases:
        headers = as_persona(data_dir, persona)
        assert world.get(f"/fhir/Observation/{target}", headers=headers).status_code == status
        read = world.get(f"/fhir/Provenance/{provenance_of[target]}", headers=headers)
        assert read.status_code == status, (persona, target)
        searched = world.get(
            "/fhir/Provenance", params={"target": f"Observation/{target}"}, headers=headers
        ).json()
        assert searched["total"] == (1 if status == 200 else 0), (persona, target)
    everything = world.get("/fhir/Patient/reg/$everything", headers=as_persona(data_dir, "gp_a"))
    shown = {e["resource"]["id"] for e in everything.json()["entry"]}
    assert provenance_of[oid] in shown


def test_a_citizen_s_own_choice_is_attested_to_them(world: httpx.Client, data_dir: Path) -> None:
    citizen = as_persona(data_dir, "citizen_reg")
    choice = {
        "resourceType": "Consent",
        "status": "active",
        "scope": {"coding": [{"code": "patient-privacy"}]},
        "category": [{"coding": [{"code": "59284-0"}]}],
        "patient": {"reference": "Patient/reg"},
        "provision": {
            "type": "deny",
            "actor": [
                {
                    "role": {"coding": [{"code": "PRCP"}]},
                    "reference": {"reference": f"Organization/{GP_A}"},
                }
            ],
        },
    }
    written = world.post("/fhir/Consent", json=choice, headers=citizen)
    assert written.status_code == 201, written.text
    found = world.get(
        "/fhir/Provenance", params={"target": f"Consent/{written.json()['id']}"}, headers=citizen
    ).json()
    (provenance,) = [e["resource"] for e in found["entry"]]
    assert provenance["agent"][0]["who"] == {"reference": "Patient/reg"}
    # The Provenance is the server's: the citizen still cannot write one themself.
    forged = {
        "resourceType": "Provenance",
        "target": [{"reference": "Patient/reg"}],
        "recorded": "2024-01-01T00:00:00Z",
        "agent": [{"who": {"reference": "Patient/reg"}}],
    }
    assert world.post("/fhir/Provenance", json=forged, headers=citizen).status_code == 403


def test_choices_saved_in_the_portal_are_attested_to_the_citizen(
    world: httpx.Client, data_dir: Path
) -> None:
    citizen = as_persona(data_dir, "citizen_reg")
    token = citizen["Authorization"].removeprefix("Bearer ")
    saved = world.post(
        "/web/me/choices",
        content="sharing=share&opt_out=yes",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"{TOKEN_COOKIE}={token}",
        },
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/web/me?saved=1"
    consents = world.get(
        "/fhir/Consent", params={"patient": "Patient/reg", "status": "active"}, headers=citizen
    ).json()
    (opt_out,) = [e["resource"] for e in consents["entry"] if is_opt_out(e["resource"])]
    found = world.get(
        "/fhir/Provenance", params={"target": f"Consent/{opt_out['id']}"}, headers=citizen
    ).json()
    (provenance,) = [e["resource"] for e in found["entry"]]
    assert provenance["agent"][0]["who"] == {"reference": "Patient/reg"}
    assert activity(provenance) == "CREATE"
    assert provenance["target"] == [{"reference": f"Consent/{opt_out['id']}/_history/1"}]


# --- joinedup load ---------------------------------------------------------------------------


def test_a_loaded_bundle_file_leaves_one_provenance(store: Store, tmp_path: Path) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:3a0c9f0e-0000-4000-8000-000000000009",
                "resource": {"resourceType": "Patient"},
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": observation("x")
                | {"subject": {"reference": "urn:uuid:3a0c9f0e-0000-4000-8000-000000000009"}},
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    }
    (tmp_path / "one.json").write_text(json.dumps(bundle))
    lines = [json.dumps({"resourceType": "Patient", "id": f"n{i}"}) for i in range(3)]
    (tmp_path / "Patient.ndjson").write_text("\n".join(lines) + "\n")
    summary = Loader(store).load([tmp_path / "Patient.ndjson", tmp_path / "one.json"])
    assert summary.resources == 5 and not summary.problems
    attested = sorted(
        (s.resource for s in store.iter_resources(["Provenance"]) if s.resource),
        key=lambda p: len(p["target"]),
    )
    from_bundle, from_ndjson = attested
    patients = {s.id for s in store.iter_resources(["Patient"])}
    bundle_patient = (patients - {"n0", "n1", "n2"}).pop()
    assert {t["reference"].split("/_history")[0] for t in from_bundle["target"]} >= {
        f"Patient/{bundle_patient}"
    }
    assert all(t["reference"].endswith("/_history/1") for t in from_bundle["target"])
    assert activity(from_bundle) == "CREATE"
    # NDJSON lines are update-as-create: the version and the operation are not known.
    assert from_ndjson["target"] == [{"reference": f"Patient/n{i}"} for i in range(3)]
    assert "activity" not in from_ndjson
    for provenance in attested:
        validate_structure(provenance)
        # No organisation named (--org): the tool is the author.
        assert provenance["agent"][0]["who"] == {"type": "Device", "display": "joinedup load"}
