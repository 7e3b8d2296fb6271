"""Batch and transaction Bundles over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

PATIENT_URL = "urn:uuid:11111111-2222-4333-8444-555555555555"


def entry(
    resource: dict[str, Any],
    method: str = "POST",
    url: str | None = None,
    full_url: str | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "resource": resource,
        "request": {"method": method, "url": url or resource["resourceType"]},
    }
    if full_url:
        item["fullUrl"] = full_url
    return item


def observation(subject: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "pulse"},
        "subject": {"reference": subject},
        **extra,
    }


def test_transaction_resolves_urn_uuid_and_stores_everything(client: httpx.Client) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            entry(observation(PATIENT_URL)),
            entry({"resourceType": "Patient", "gender": "male"}, full_url=PATIENT_URL),
        ],
    }
    response = client.post("/fhir", json=bundle)
    assert response.status_code == 200
    result = response.json()
    assert result["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in result["entry"]]
    assert statuses == ["201 Created", "201 Created"]
    observation_id = result["entry"][0]["response"]["location"].split("/")[1]
    patient_id = result["entry"][1]["response"]["location"].split("/")[1]
    stored = client.get(f"/fhir/Observation/{observation_id}").json()
    assert stored["subject"]["reference"] == f"Patient/{patient_id}"


def test_failed_transaction_stores_nothing(client: httpx.Client) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            entry({"resourceType": "Patient"}, full_url=PATIENT_URL),
            entry(observation(PATIENT_URL, status="")),
        ],
    }
    response = client.post("/fhir", json=bundle)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Bundle.entry[1].resource.status"]
    assert client.get("/fhir/Patient").json()["total"] == 0


def test_batch_entries_are_independent(client: httpx.Client) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            entry(observation("Patient/absent")),
            entry({"resourceType": "Patient"}),
            {"request": {"method": "GET", "url": "Patient?_summary=count"}},
        ],
    }
    result = client.post("/fhir", json=bundle).json()
    assert result["type"] == "batch-response"
    first, second, third = result["entry"]
    assert first["response"]["status"].startswith("422")
    assert first["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert second["response"]["status"] == "201 Created"
    assert third["resource"]["total"] == 1


def test_conditional_create_and_reference_in_a_transaction(client: httpx.Client) -> None:
    org = {
        "resourceType": "Organization",
        "name": "Leeds practice",
        "identifier": [
            {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "B86001"}
        ],
    }
    condition = "identifier=https://fhir.nhs.uk/Id/ods-organization-code|B86001"
    existing = client.post("/fhir/Organization", json=org).json()
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                **entry(org, full_url="urn:uuid:aaaaaaaa-0000-4000-8000-000000000001"),
                "request": {"method": "POST", "url": "Organization", "ifNoneExist": condition},
            },
            entry(
                {
                    "resourceType": "Patient",
                    "managingOrganization": {"reference": f"Organization?{condition}"},
                    "generalPractitioner": [
                        {"reference": "urn:uuid:aaaaaaaa-0000-4000-8000-000000000001"}
                    ],
                }
            ),
        ],
    }
    result = client.post("/fhir", json=bundle).json()
    assert result["entry"][0]["response"]["status"] == "200 OK"
    patient_id = result["entry"][1]["response"]["location"].split("/")[1]
    patient = client.get(f"/fhir/Patient/{patient_id}").json()
    assert patient["managingOrganization"]["reference"] == f"Organization/{existing['id']}"
    assert patient["generalPractitioner"][0]["reference"] == f"Organization/{existing['id']}"
    assert client.get("/fhir/Organization").json()["total"] == 1


def test_a_synthea_transaction_bundle_posts_unchanged(
    client: httpx.Client, reference_dir: Path
) -> None:
    path = (
        reference_dir / "synthea-r4" / "Ossie_Rodriguez_d7ec3d8f-7be8-4a94-a20c-e694f7bfdb80.json"
    )
    bundle = json.loads(path.read_text())
    response = client.post("/fhir", json=bundle)
    assert response.status_code == 200, response.text[:500]
    entries = response.json()["entry"]
    assert len(entries) == len(bundle["entry"])
    assert {e["response"]["status"] for e in entries} == {"201 Created"}
    patient_id = next(
        e["response"]["location"].split("/")[1]
        for e in entries
        if e["response"]["location"].startswith("Patient/")
    )
    everything = client.get(f"/fhir/Patient/{patient_id}/$everything", params={"_count": "1000"})
    matched = [e for e in everything.json()["entry"] if e["search"]["mode"] == "match"]
    encounters = [e for e in matched if e["resource"]["resourceType"] == "Encounter"]
    assert len(encounters) == sum(
        e["resource"]["resourceType"] == "Encounter" for e in bundle["entry"]
    )
    assert all(e["resource"]["subject"]["reference"] == f"Patient/{patient_id}" for e in encounters)
