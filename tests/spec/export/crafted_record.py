"""A small crafted ICS record with every kind of identifier, and people who opted out
(shared by the export tests; the fixtures are in ``conftest.py``)."""

from __future__ import annotations

from typing import Any

from joinedup.fhir.nhs_number import SYSTEM as NHS_NUMBER
from joinedup.fhir.nhs_number import from_serial
from joinedup.synth.vocabulary import (
    IMD_EXTENSION,
    LSOA_EXTENSION,
    LSOA_SYSTEM,
    NATIONAL_OPT_OUT_POLICY,
)

KEY = "k" * 64
OTHER_KEY = "z" * 64
FAMILIES = ["Quixwell", "Ombrage", "Trevanion", "Pellinore", "Haverstock", "Wyndcliffe"]
GIVENS = ["Ysolde", "Barnaby", "Clemency", "Ptolemy", "Euphemia", "Lysander"]
OPTED_OUT = {"p1", "p4"}


def person(index: int) -> dict[str, Any]:
    pid = f"p{index}"
    patient = {
        "resourceType": "Patient",
        "id": pid,
        "meta": {"lastUpdated": "2026-01-01T00:00:00+00:00"},
        "text": {
            "status": "generated",
            "div": f"<div>{GIVENS[index]} {FAMILIES[index]}, narrative</div>",
        },
        "identifier": [
            {"system": NHS_NUMBER, "value": from_serial(index * 7 + 3)},
            {"system": "https://trust.example.org/mrn", "value": f"MRN-7731{index}"},
        ],
        "name": [
            {
                "family": FAMILIES[index],
                "given": [GIVENS[index]],
                "text": f"{GIVENS[index]} {FAMILIES[index]}",
            }
        ],
        "telecom": [
            {"system": "phone", "value": f"0161 496 08{index:02d}"},
            {"system": "email", "value": f"{GIVENS[index].lower()}@mail.example"},
        ],
        "gender": "female" if index % 2 else "male",
        "birthDate": f"19{50 + index}-0{index + 1}-1{index}",
        "deceasedDateTime": "2025-03-14T10:20:00Z" if index == 5 else None,
        "address": [
            {
                "line": [f"{index + 10} Larkspur Mews"],
                "city": "Grimsditch",
                "postalCode": f"ZZ{index} 9QX",
                "extension": [
                    {
                        "url": LSOA_EXTENSION,
                        "valueCoding": {"system": LSOA_SYSTEM, "code": f"E0190000{index}"},
                    },
                    {"url": IMD_EXTENSION, "valueInteger": index + 1},
                ],
            }
        ],
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName",
                "valueString": f"Fairweather{index}",
            }
        ],
        "photo": [{"contentType": "image/png", "data": "aGVsbG8="}],
        "generalPractitioner": [{"reference": "Organization/gp1", "display": "Larkspur Surgery"}],
        "managingOrganization": {"reference": "Organization/gp1"},
    }
    return {k: v for k, v in patient.items() if v is not None}


def record() -> dict[str, list[dict[str, Any]]]:
    patients = [person(i) for i in range(6)]
    org = {
        "resourceType": "Organization",
        "id": "gp1",
        "name": "Larkspur Surgery",
        "partOf": {"reference": "Organization/pcn1"},
    }
    pcn = {"resourceType": "Organization", "id": "pcn1", "name": "North PCN"}
    practitioner = {
        "resourceType": "Practitioner",
        "id": "dr1",
        "name": [{"family": "Fothergill", "given": ["Araminta"]}],
        "telecom": [{"system": "phone", "value": "0161 496 0999"}],
    }
    role = {
        "resourceType": "PractitionerRole",
        "id": "role1",
        "practitioner": {"reference": "Practitioner/dr1", "display": "Dr Araminta Fothergill"},
        "organization": {"reference": "Organization/gp1"},
        "code": [{"coding": [{"system": "http://snomed.info/sct", "code": "62247001"}]}],
    }
    encounters, observations, conditions, reports, claims, provenances, consents, related = (
        [],
        [],
        [],
        [],
        [],
        [],
        [],
        [],
    )
    for i, patient in enumerate(patients):
        subject = {"reference": f"Patient/{patient['id']}", "display": patient["name"][0]["text"]}
        encounters.append(
            {
                "resourceType": "Encounter",
                "id": f"e{i}",
                "status": "finished",
                "class": {"code": "AMB"},
                "subject": subject,
                "serviceProvider": {"reference": "Organization/gp1"},
            }
        )
        observations.append(
            {
                "resourceType": "Observation",
                "id": f"o{i}",
                "status": "final",
                "code": {"text": "Body weight"},
                "subject": {
                    "reference": f"http://record.example.org/fhir/Patient/{patient['id']}/_history/1"
                },
                "encounter": {"reference": f"Encounter/e{i}"},
                "valueQuantity": {"value": 70 + i, "unit": "kg"},
                "note": [
                    {"text": f"Seen with daughter {GIVENS[(i + 1) % 6]} at 0161 496 07{i:02d}"}
                ],
                "performer": [{"reference": "PractitionerRole/role1"}],
            }
        )
        conditions.append(
            {
                "resourceType": "Condition",
                "id": f"c{i}",
                "subject": {"reference": f"Patient/{patient['id']}"},
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]},
            }
        )
        reports.append(
            {
                "resourceType": "DiagnosticReport",
                "id": f"r{i}",
                "status": "final",
                "code": {"text": "Letter"},
                "subject": {"reference": f"Patient/{patient['id']}"},
                "presentedForm": [{"contentType": "text/plain", "data": "RGVhciBZc29sZGU="}],
            }
        )
        # Claims point at the Encounter only, so they leave with an opted-out person indirectly.
        claims.append(
            {
                "resourceType": "Claim",
                "id": f"cl{i}",
                "status": "active",
                "item": [{"sequence": 1, "encounter": [{"reference": f"Encounter/e{i}"}]}],
                "provider": {"reference": "Organization/gp1"},
            }
        )
        provenances.append(
            {
                "resourceType": "Provenance",
                "id": f"pv{i}",
                "target": [{"reference": f"Observation/o{i}"}],
                "recorded": "2026-01-01T00:00:00Z",
                "agent": [{"who": {"reference": "Organization/gp1"}}],
            }
        )
        if patient["id"] in OPTED_OUT:
            consents.append(
                {
                    "resourceType": "Consent",
                    "id": f"optout-{i}",
                    "status": "active",
                    "scope": {"coding": [{"code": "research"}]},
                    "category": [{"text": "national data opt-out"}],
                    "patient": {"reference": f"Patient/{patient['id']}"},
                    "policy": [{"uri": NATIONAL_OPT_OUT_POLICY}],
                    "provision": {"type": "deny"},
                }
            )
        related.append(
            {
                "resourceType": "RelatedPerson",
                "id": f"rp{i}",
                "patient": {"reference": f"Patient/{patient['id']}"},
                "name": [{"family": f"Kittredge{i}", "given": ["Philippa"]}],
                "telecom": [{"system": "phone", "value": f"0161 496 06{i:02d}"}],
                "address": [{"line": ["2 Quillon Row"], "postalCode": "ZZ9 1AB"}],
            }
        )
    # A withdrawn opt-out (inactive) does not remove anyone.
    consents.append(
        {
            "resourceType": "Consent",
            "id": "withdrawn",
            "status": "inactive",
            "patient": {"reference": "Patient/p2"},
            "policy": [{"uri": NATIONAL_OPT_OUT_POLICY}],
            "scope": {"text": "x"},
            "category": [{"text": "x"}],
        }
    )
    group = {
        "resourceType": "Group",
        "id": "frailty",
        "type": "person",
        "actual": True,
        "quantity": 6,
        "member": [{"entity": {"reference": f"Patient/{p['id']}"}} for p in patients],
    }
    return {
        "Patient": patients,
        "Organization": [org, pcn],
        "Practitioner": [practitioner],
        "PractitionerRole": [role],
        "Encounter": encounters,
        "Observation": observations,
        "Condition": conditions,
        "DiagnosticReport": reports,
        "Claim": claims,
        "Provenance": provenances,
        "Consent": consents,
        "RelatedPerson": related,
        "Group": [group],
    }


def identifying_strings(data: dict[str, list[dict[str, Any]]]) -> set[str]:
    """Every name, number, postcode, phone, e-mail, address line and narrative of the input."""
    found: set[str] = set()
    for resources in data.values():
        for resource in resources:
            found.update(_identifying(resource))
    return {s for s in found if s}


def _identifying(resource: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for name in resource.get("name", []) if resource.get("resourceType") != "Organization" else []:
        found.update([name.get("family", ""), name.get("text", ""), *name.get("given", [])])
    for identifier in resource.get("identifier", []):
        found.add(identifier["value"])
    for telecom in resource.get("telecom", []):
        found.add(telecom["value"])
    for address in resource.get("address", []):
        found.update([address.get("postalCode", ""), *address.get("line", [])])
    if "text" in resource:
        found.add(resource["text"]["div"])
    for note in resource.get("note", []):
        found.add(note["text"])
    for form in resource.get("presentedForm", []):
        found.add(form["data"])
    for extension in resource.get("extension", []):
        found.add(extension.get("valueString", ""))
    return found
