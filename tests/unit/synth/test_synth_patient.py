"""Patient meets the UK Core rules the issue names."""

from __future__ import annotations

from typing import Any

from joinedup.fhir import nhs_number
from joinedup.synth import vocabulary as v


def test_uk_core_patient(small_resources: dict[str, list[dict[str, Any]]]) -> None:
    patients = small_resources["Patient"]
    practices = {
        f"Organization/{o['id']}"
        for o in small_resources["Organization"]
        if any(c["code"] == "gp-practice" for t in o["type"] for c in t["coding"])
    }
    numbers = []
    for patient in patients:
        (identifier,) = [i for i in patient["identifier"] if i["system"] == nhs_number.SYSTEM]
        assert nhs_number.is_synthetic(identifier["value"])
        numbers.append(identifier["value"])
        (ethnicity,) = [e for e in patient["extension"] if e["url"] == v.ETHNICITY_EXTENSION]
        (coding,) = ethnicity["valueCodeableConcept"]["coding"]
        assert coding["system"] == v.ETHNICITY_SYSTEM
        assert coding["code"] in v.ETHNIC_CATEGORIES
        assert patient["gender"] in {"male", "female"}
        (address,) = patient["address"]
        assert address["postalCode"]
        extensions = {e["url"]: e for e in address["extension"]}
        assert extensions[v.LSOA_EXTENSION]["valueCoding"]["code"].startswith("E01")
        assert 1 <= extensions[v.IMD_EXTENSION]["valueInteger"] <= 10
        assert next(g["reference"] for g in patient["generalPractitioner"]) in practices
    assert len(set(numbers)) == len(numbers)
