"""create, read, vread, update, patch, delete, conditional forms, ETag and Prefer."""

from __future__ import annotations

from typing import Any

import httpx

from joinedup.fhir.nhs_number import SYSTEM, from_serial

FHIR_JSON = "application/fhir+json"


def patient(**extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "name": [{"family": "Okafor"}], **extra}


def nhs(serial: int) -> list[dict[str, str]]:
    return [{"system": SYSTEM, "value": from_serial(serial)}]


def test_create_then_read(client: httpx.Client) -> None:
    created = client.post("/fhir/Patient", json=patient())
    assert created.status_code == 201
    assert created.headers["content-type"].startswith(FHIR_JSON)
    body = created.json()
    assert body["meta"]["versionId"] == "1"
    assert created.headers["etag"] == 'W/"1"'
    assert created.headers["location"] == f"http://record.test/fhir/Patient/{body['id']}/_history/1"
    assert created.headers["last-modified"].endswith("GMT")
    read = client.get(f"/fhir/Patient/{body['id']}")
    assert read.status_code == 200
    assert read.json() == body
    assert read.headers["etag"] == 'W/"1"'


def test_create_ignores_a_client_id(client: httpx.Client) -> None:
    created = client.post("/fhir/Patient", json=patient(id="mine")).json()
    assert created["id"] != "mine"


def test_update_versions_and_vread(client: httpx.Client) -> None:
    body = client.post("/fhir/Patient", json=patient()).json()
    body["gender"] = "female"
    updated = client.put(f"/fhir/Patient/{body['id']}", json=body)
    assert updated.status_code == 200
    assert updated.json()["meta"]["versionId"] == "2"
    first = client.get(f"/fhir/Patient/{body['id']}/_history/1").json()
    assert "gender" not in first
    assert client.get(f"/fhir/Patient/{body['id']}/_history/2").json()["gender"] == "female"
    assert client.get(f"/fhir/Patient/{body['id']}/_history/3").status_code == 404


def test_update_as_create_with_a_client_id(client: httpx.Client) -> None:
    response = client.put("/fhir/Patient/chosen-1", json=patient(id="chosen-1"))
    assert response.status_code == 201
    assert response.json()["id"] == "chosen-1"
    assert client.get("/fhir/Patient/chosen-1").status_code == 200


def test_if_match(client: httpx.Client) -> None:
    body = client.post("/fhir/Patient", json=patient()).json()
    url = f"/fhir/Patient/{body['id']}"
    assert client.put(url, json=body, headers={"If-Match": 'W/"1"'}).status_code == 200
    stale = client.put(url, json=body, headers={"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert stale.json()["resourceType"] == "OperationOutcome"
    assert client.get(url).json()["meta"]["versionId"] == "2"


def test_if_none_exist_makes_one(client: httpx.Client) -> None:
    headers = {"If-None-Exist": f"identifier={SYSTEM}|{from_serial(3)}"}
    first = client.post("/fhir/Patient", json=patient(identifier=nhs(3)), headers=headers)
    second = client.post("/fhir/Patient", json=patient(identifier=nhs(3)), headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    found = client.get("/fhir/Patient", params={"identifier": f"{SYSTEM}|{from_serial(3)}"})
    assert found.json()["total"] == 1


def test_conditional_update_and_delete(client: httpx.Client) -> None:
    criteria = {"identifier": f"{SYSTEM}|{from_serial(4)}"}
    created = client.put("/fhir/Patient", params=criteria, json=patient(identifier=nhs(4)))
    assert created.status_code == 201
    updated = client.put(
        "/fhir/Patient", params=criteria, json=patient(identifier=nhs(4), gender="male")
    )
    assert updated.status_code == 200
    assert updated.json()["id"] == created.json()["id"]
    assert client.delete("/fhir/Patient", params=criteria).status_code == 204
    assert client.get(f"/fhir/Patient/{created.json()['id']}").status_code == 410


def test_delete_is_soft(client: httpx.Client) -> None:
    body = client.post("/fhir/Patient", json=patient()).json()
    url = f"/fhir/Patient/{body['id']}"
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 410
    history = client.get(f"{url}/_history").json()
    assert [e["request"]["method"] for e in history["entry"]] == ["DELETE", "POST"]
    assert client.get(f"{url}/_history/1").status_code == 200
    assert client.delete(url).status_code == 204


def test_patch(client: httpx.Client) -> None:
    body = client.post("/fhir/Patient", json=patient()).json()
    url = f"/fhir/Patient/{body['id']}"
    ops = [{"op": "add", "path": "/gender", "value": "other"}]
    patched = client.patch(
        url, json=ops, headers={"Content-Type": "application/json-patch+json", "If-Match": 'W/"1"'}
    )
    assert patched.status_code == 200
    assert patched.json()["gender"] == "other"
    assert patched.json()["meta"]["versionId"] == "2"
    invalid = [{"op": "add", "path": "/gender", "value": ""}]
    refused = client.patch(
        url, json=invalid, headers={"Content-Type": "application/json-patch+json"}
    )
    assert refused.status_code == 400
    assert refused.json()["issue"][0]["expression"] == ["Patient.gender"]
    wrong_type = client.patch(url, json=ops)
    assert wrong_type.status_code == 415


def test_prefer_return(client: httpx.Client) -> None:
    minimal = client.post("/fhir/Patient", json=patient(), headers={"Prefer": "return=minimal"})
    assert minimal.status_code == 201
    assert minimal.content == b""
    assert "location" in minimal.headers
    outcome = client.post(
        "/fhir/Patient", json=patient(), headers={"Prefer": "return=OperationOutcome"}
    )
    assert outcome.json()["resourceType"] == "OperationOutcome"


def test_history_type_and_system_with_since_and_count(client: httpx.Client) -> None:
    ids = [client.post("/fhir/Patient", json=patient()).json()["id"] for _ in range(3)]
    client.post("/fhir/Organization", json={"resourceType": "Organization", "name": "Practice"})
    page = client.get("/fhir/Patient/_history", params={"_count": "2"}).json()
    assert page["type"] == "history"
    assert len(page["entry"]) == 2
    assert page["entry"][0]["fullUrl"].endswith(ids[-1])
    next_url = next(link["url"] for link in page["link"] if link["relation"] == "next")
    rest = client.get(next_url).json()
    assert [e["fullUrl"].rsplit("/", 1)[1] for e in rest["entry"]] == [ids[0]]
    # Every write leaves its Provenance, which system history shows beside it.
    system = client.get("/fhir/_history").json()
    kinds = {"Patient", "Organization", "Provenance"}
    assert {e["fullUrl"].split("/")[-2] for e in system["entry"]} == kinds
    since = client.get(f"/fhir/Patient/{ids[-1]}").json()["meta"]["lastUpdated"]
    recent = client.get("/fhir/_history", params={"_since": since}).json()
    recent_kinds = [e["fullUrl"].split("/")[-2] for e in recent["entry"]]
    assert sorted(recent_kinds) == ["Organization", "Patient", "Provenance", "Provenance"]


def test_meta_source_records_the_writing_organisation(org_client: httpx.Client) -> None:
    created = org_client.post("/fhir/Patient", json=patient(identifier=nhs(8)))
    assert created.status_code == 201
    assert created.json()["meta"]["source"].endswith("/A81001")
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "pulse"},
        "subject": {"reference": f"Patient/{created.json()['id']}"},
        "meta": {"source": "https://forged.example"},
    }
    written = org_client.post("/fhir/Observation", json=observation).json()
    assert written["meta"]["source"].endswith("/A81001")


def test_patient_from_an_organisation_needs_an_nhs_number(org_client: httpx.Client) -> None:
    refused = org_client.post("/fhir/Patient", json=patient())
    assert refused.status_code == 400
    assert refused.json()["issue"][0]["expression"] == ["Patient.identifier"]


def test_invalid_nhs_number_is_refused_with_its_path(client: httpx.Client) -> None:
    bad = from_serial(5)[:9] + str((int(from_serial(5)[9]) + 1) % 10)
    refused = client.post(
        "/fhir/Patient", json=patient(identifier=[{"system": SYSTEM, "value": bad}])
    )
    assert refused.status_code == 400
    assert refused.json()["issue"][0]["expression"] == ["Patient.identifier[0].value"]
    assert client.get("/fhir/Patient").json()["total"] == 0


def test_references_must_exist(client: httpx.Client) -> None:
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "pulse"},
        "subject": {"reference": "Patient/nobody"},
    }
    refused = client.post("/fhir/Observation", json=observation)
    assert refused.status_code == 422
    assert refused.json()["issue"][0]["expression"] == ["Observation.subject.reference"]
    client.put("/fhir/Patient/nobody", json=patient(id="nobody"))
    assert client.post("/fhir/Observation", json=observation).status_code == 201
