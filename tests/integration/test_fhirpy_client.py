"""A real FHIR client library (fhirpy) against ``joinedup serve`` on a socket:
create, read, update, search, transaction, history."""

from __future__ import annotations

from fhirpy import SyncFHIRClient
from processes import Served

from joinedup.fhir.nhs_number import SYSTEM, from_serial


def test_fhirpy_through_the_record(served_record: Served) -> None:
    client = SyncFHIRClient(
        served_record.base,
        authorization=f"Bearer {served_record.token}",
        extra_headers={"Content-Type": "application/fhir+json"},
    )

    patient = client.resource(
        "Patient",
        identifier=[{"system": SYSTEM, "value": from_serial(42)}],
        name=[{"family": "Adeyemi", "given": ["Tola"]}],
        gender="female",
        birthDate="1958-04-09",
    )
    patient.save()
    assert patient.id and patient["meta"]["versionId"] == "1"

    read = client.reference("Patient", patient.id).to_resource()
    assert read["name"][0]["family"] == "Adeyemi"

    read["telecom"] = [{"system": "phone", "value": "0113 496 0000"}]
    read.save()
    assert client.reference("Patient", patient.id).to_resource()["meta"]["versionId"] == "2"

    found = client.resources("Patient").search(identifier=f"{SYSTEM}|{from_serial(42)}").fetch()
    assert [p.id for p in found] == [patient.id]
    assert client.resources("Patient").search(family="adeyemi").count() == 1

    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:3b1f0c9e-5d8e-4d59-9d8f-6c1c7e6d0a01",
                "resource": {
                    "resourceType": "Encounter",
                    "status": "finished",
                    "class": {"code": "AMB"},
                    "subject": {"reference": f"Patient/{patient.id}"},
                },
                "request": {"method": "POST", "url": "Encounter"},
            },
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                    "subject": {"reference": f"Patient/{patient.id}"},
                    "encounter": {"reference": "urn:uuid:3b1f0c9e-5d8e-4d59-9d8f-6c1c7e6d0a01"},
                    "valueQuantity": {"value": 64, "unit": "/min"},
                },
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    }
    response = client.execute("", method="post", data=bundle)
    assert response["type"] == "transaction-response"
    assert [e["response"]["status"] for e in response["entry"]] == ["201 Created"] * 2

    observations = client.resources("Observation").search(subject=f"Patient/{patient.id}").fetch()
    assert len(observations) == 1
    encounter_ref = observations[0]["encounter"]["reference"]
    assert encounter_ref.startswith("Encounter/")
    assert client.reference(reference=encounter_ref).to_resource()["status"] == "finished"

    history = client.execute(f"Patient/{patient.id}/_history", method="get")
    assert history["type"] == "history"
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["2", "1"]

    everything = client.execute(f"Patient/{patient.id}/$everything", method="get")
    kinds = sorted(e["resource"]["resourceType"] for e in everything["entry"])
    # The three resources, and the Provenance of each write: create, update, transaction.
    assert everything["total"] == 6
    assert kinds == ["Encounter", "Observation", "Patient", *["Provenance"] * 3]
