"""The per-resource transform, element by element."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import orjson
import pytest

from joinedup.export.deidentify import Deidentification, patient_id_of
from joinedup.export.pseudonyms import Pseudonymiser
from joinedup.synth.vocabulary import IMD_EXTENSION, LSOA_EXTENSION


@pytest.fixture
def deid(crafted: ModuleType) -> Deidentification:
    return Deidentification(Pseudonymiser(crafted.KEY.encode()))


def strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return [value] if isinstance(value, str) else []


def test_patient_loses_direct_identifiers_and_keeps_lsoa_and_imd(
    deid: Deidentification, crafted: ModuleType
) -> None:
    source = crafted.person(5)
    patient = deid.apply(source)
    assert patient["id"] == Pseudonymiser(crafted.KEY.encode()).patient("p5")
    for gone in ("name", "telecom", "identifier", "photo", "text"):
        assert gone not in patient
    assert patient["birthDate"] == "1955-06"
    assert patient["deceasedDateTime"] == "2025-03"
    assert patient["address"] == [{"extension": source["address"][0]["extension"]}]
    assert {e["url"] for e in patient["address"][0]["extension"]} == {LSOA_EXTENSION, IMD_EXTENSION}
    assert "extension" not in patient  # mother's maiden name is not on the allow-list
    assert patient["generalPractitioner"] == [{"reference": "Organization/gp1"}]
    assert patient["gender"] == "female"


def test_birth_year_precision_is_configurable(crafted: ModuleType) -> None:
    patient = Deidentification(Pseudonymiser(crafted.KEY.encode()), birth_date="year").apply(
        crafted.person(2)
    )
    assert patient["birthDate"] == "1952"


def test_references_to_patients_become_pseudonyms_in_every_form(
    deid: Deidentification, crafted: ModuleType
) -> None:
    pseudonym = Pseudonymiser(crafted.KEY.encode()).patient("p3")
    for reference in ["Patient/p3", "http://record.example.org/fhir/Patient/p3/_history/2"]:
        observation = deid.apply(
            {
                "resourceType": "Observation",
                "subject": {"reference": reference, "display": "Ptolemy"},
            }
        )
        assert observation["subject"] == {"reference": f"Patient/{pseudonym}"}
    assert patient_id_of("Encounter/p3") is None


def test_narrative_notes_attachments_and_nhs_numbers_go_everywhere(deid: Deidentification) -> None:
    report = deid.apply(
        {
            "resourceType": "DocumentReference",
            "text": {"div": "<div>secret</div>"},
            "subject": {
                "identifier": {
                    "system": "https://fhir.nhs.uk/Id/nhs-number",
                    "value": "9990000018",
                },
                "reference": "Patient/x",
            },
            "content": [
                {"attachment": {"contentType": "text/plain", "data": "c2VjcmV0", "title": "letter"}}
            ],
            "note": [{"text": "secret"}],
            "contained": [{"resourceType": "Patient", "id": "x", "name": [{"family": "secret"}]}],
        }
    )
    assert "secret" not in orjson.dumps(report).decode()
    assert "9990000018" not in orjson.dumps(report).decode()
    assert report["content"] == [{"attachment": {"contentType": "text/plain", "title": "letter"}}]


def test_no_identifying_string_survives_the_transform_of_the_whole_record(
    deid: Deidentification, crafted: ModuleType
) -> None:
    data = crafted.record()
    identifying = crafted.identifying_strings(data)
    assert len(identifying) > 60
    for resources in data.values():
        for resource in resources:
            for text in strings(deid.apply(resource)):
                leaked = [s for s in identifying if s in text]
                assert not leaked, f"{resource['resourceType']}/{resource['id']} leaks {leaked}"


def test_the_source_resource_is_not_modified(deid: Deidentification, crafted: ModuleType) -> None:
    source = crafted.person(1)
    before = orjson.dumps(source)
    deid.apply(source)
    assert orjson.dumps(source) == before
