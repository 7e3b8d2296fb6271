"""Structure validation against fhir.resources R4B as the oracle, UK Core rules, references."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from r4_structure_source import TARGET, render

from joinedup.fhir.nhs_number import SYSTEM, from_serial
from joinedup.fhir.outcome import FHIRError
from joinedup.fhir.validation import (
    MAX_DEPTH,
    summary_elements,
    validate_references,
    validate_structure,
    validate_uk_core,
)


def oracle_accepts(resource: dict[str, Any]) -> bool:
    try:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    except Exception:
        return False
    return True


def failing_path(resource: Any) -> list[str]:
    with pytest.raises(FHIRError) as caught:
        validate_structure(resource)
    assert caught.value.status == 400
    return caught.value.expression


def test_shipped_element_table_matches_the_r4b_models() -> None:
    assert TARGET.read_text(encoding="utf-8") == render()


def test_every_synthea_resource_is_valid_for_both(reference_dir: Path) -> None:
    files = sorted((reference_dir / "synthea-r4").glob("[A-Z]*_*.json"))[:3]
    checked = 0
    for path in files:
        for entry in json.loads(path.read_text())["entry"]:
            validate_structure(entry["resource"])
            checked += 1
    assert checked > 300
    sample = json.loads(files[0].read_text())["entry"][:40]
    assert all(oracle_accepts(entry["resource"]) for entry in sample)


INVALID = [
    ({"resourceType": "Patient", "foo": 1}, "Patient.foo"),
    ({"resourceType": "Patient", "birthDate": "2020-13-01"}, "Patient.birthDate"),
    ({"resourceType": "Patient", "birthDate": "20200101"}, "Patient.birthDate"),
    ({"resourceType": "Patient", "name": {"family": "x"}}, "Patient.name"),
    ({"resourceType": "Patient", "name": [{"family": ["x"]}]}, "Patient.name[0].family"),
    ({"resourceType": "Observation", "code": {"text": "x"}}, "Observation.status"),
    ({"resourceType": "Observation", "status": "final"}, "Observation.code"),
    (
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "x"},
            "valueString": "a",
            "valueBoolean": True,
        },
        "Observation.valueBoolean",
    ),
    (
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"code": "AMB"},
            "length": {"value": "x"},
        },
        "Encounter.length.value",
    ),
    ({"resourceType": "Patient", "id": "bad id!"}, "Patient.id"),
    (
        {"resourceType": "Patient", "meta": {"lastUpdated": "2020-01-01"}},
        "Patient.meta.lastUpdated",
    ),
    ({"resourceType": "Patient", "contained": [{"resourceType": "Nope"}]}, "Patient.contained[0]"),
    ({"resourceType": "Patient", "gender": ""}, "Patient.gender"),
    ({"resourceType": "Patient", "name": [{"text": ""}]}, "Patient.name[0].text"),
    ({"resourceType": "Patient", "extension": [{"valueString": "x"}]}, "Patient.extension[0].url"),
    (
        {"resourceType": "Patient", "deceasedBoolean": True, "deceasedDateTime": "2020"},
        "Patient.deceasedDateTime",
    ),
]


@pytest.mark.parametrize(("resource", "path"), INVALID, ids=[p for _, p in INVALID])
def test_invalid_structure_is_refused_with_its_path_and_the_oracle_agrees(
    resource: dict[str, Any], path: str
) -> None:
    assert failing_path(resource) == [path]
    assert not oracle_accepts(resource)


VALID = [
    {"resourceType": "Patient"},
    {"resourceType": "Patient", "multipleBirthInteger": -1, "birthDate": "2020"},
    {
        "resourceType": "Patient",
        "name": [
            {
                "given": ["a", "b"],
                "_given": [None, {"extension": [{"url": "x", "valueString": "y"}]}],
            }
        ],
    },
    {"resourceType": "Patient", "_birthDate": {"extension": [{"url": "x", "valueString": "y"}]}},
    {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "valueQuantity": {"value": 72.5, "unit": "/min"},
        "effectiveDateTime": "2024-01-02T03:04:05+00:00",
        "contained": [{"resourceType": "Patient", "id": "p1"}],
    },
]


@pytest.mark.parametrize("resource", VALID)
def test_valid_resources_pass_and_the_oracle_agrees(resource: dict[str, Any]) -> None:
    validate_structure(resource)
    assert oracle_accepts(resource)


@pytest.mark.parametrize(
    ("resource", "path"),
    [
        # JSON rules the R4B models relax (R4 json.html: no empty arrays, no whitespace-only
        # values, booleans are JSON booleans).
        ({"resourceType": "Patient", "name": []}, "Patient.name"),
        ({"resourceType": "Patient", "name": [{"text": "  "}]}, "Patient.name[0].text"),
        ({"resourceType": "Patient", "active": "yes"}, "Patient.active"),
    ],
)
def test_json_format_rules_stricter_than_the_oracle(resource: dict[str, Any], path: str) -> None:
    assert failing_path(resource) == [path]


def test_bodies_that_are_not_resources() -> None:
    assert failing_path([1, 2]) == [""]
    assert failing_path({"name": []}) == ["Resource"]
    assert failing_path({"resourceType": "Spaceship"}) == ["Spaceship"]


def test_deep_nesting_is_refused_not_a_crash() -> None:
    extension: dict[str, Any] = {"url": "x", "valueString": "leaf"}
    for _ in range(MAX_DEPTH + 5):
        extension = {"url": "x", "extension": [extension]}
    with pytest.raises(FHIRError, match="nests more than"):
        validate_structure({"resourceType": "Patient", "extension": [extension]})


def test_summary_elements_follow_r4() -> None:
    summary = summary_elements("Patient")
    assert {"id", "name", "birthDate", "identifier"} <= summary
    assert "contact" not in summary and "photo" not in summary


def nhs_patient(value: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "identifier": [{"system": SYSTEM, "value": value}]}


def test_nhs_number_check_digit() -> None:
    validate_uk_core(nhs_patient(from_serial(7)), writer_org=None)
    good = from_serial(7)
    bad = good[:9] + str((int(good[9]) + 1) % 10)
    with pytest.raises(FHIRError) as caught:
        validate_uk_core(nhs_patient(bad), writer_org="A81001")
    assert caught.value.expression == ["Patient.identifier[0].value"]


def test_patient_from_an_organisation_needs_an_nhs_number() -> None:
    validate_uk_core({"resourceType": "Patient"}, writer_org=None)
    validate_uk_core(nhs_patient(from_serial(1)), writer_org="A81001")
    with pytest.raises(FHIRError) as caught:
        validate_uk_core({"resourceType": "Patient"}, writer_org="A81001")
    assert caught.value.expression == ["Patient.identifier"]


def test_references_must_exist() -> None:
    known = {("Patient", "p1")}
    resource = {
        "resourceType": "Observation",
        "subject": {"reference": "Patient/p1"},
        "performer": [{"reference": "#local"}, {"reference": "https://elsewhere.example/x/1"}],
    }
    validate_references(resource, lambda t, i: (t, i) in known)
    resource["hasMember"] = [{"reference": "Observation/missing"}]
    with pytest.raises(FHIRError) as caught:
        validate_references(resource, lambda t, i: (t, i) in known)
    assert caught.value.expression == ["Observation.hasMember[0].reference"]
    assert caught.value.status == 422
