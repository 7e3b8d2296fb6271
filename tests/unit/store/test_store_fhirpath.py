"""The FHIRPath subset compiled for search parameter extraction."""

from __future__ import annotations

from typing import Any

import pytest

from joinedup.fhir.outcome import FHIRError
from joinedup.fhir.search_parameters import resource_types, search_parameters
from joinedup.store.fhirpath import compile_expression, present_fields, root_fields

OBS: dict[str, Any] = {
    "resourceType": "Observation",
    "subject": {"reference": "Patient/1"},
    "performer": [{"reference": "Practitioner/2"}, {"reference": "Organization/3"}],
    "effectivePeriod": {"start": "2020"},
    "valueQuantity": {"value": 1},
    "component": [
        {"code": {"text": "a"}, "valueQuantity": {"value": 2}},
        {"code": {"text": "b"}, "valueString": "x"},
    ],
}


def values(expression: str, resource: dict[str, Any] = OBS) -> list[Any]:
    return [v for v, _ in compile_expression(expression, resource["resourceType"])(resource)]


def test_paths_lists_and_choice_elements() -> None:
    assert values("Observation.performer") == OBS["performer"]
    assert values("Observation.effective") == [{"start": "2020"}]
    assert values("Observation.component.code") == [{"text": "a"}, {"text": "b"}]
    assert values("Observation.missing.path") == []


def test_type_filters_all_spellings() -> None:
    assert values("Observation.value.as(Quantity)") == [{"value": 1}]
    assert values("(Observation.value as Quantity)") == [{"value": 1}]
    assert values("Observation.value.ofType(Quantity)") == [{"value": 1}]
    assert values("Observation.component.value.as(string)") == ["x"]
    assert values("Observation.value.as(CodeableConcept)") == []


def test_unions_where_and_root_terms() -> None:
    assert values("Observation.value.as(Quantity) | Observation.component.value.as(Quantity)") == [
        {"value": 1},
        {"value": 2},
    ]
    assert values("Observation.performer.where(resolve() is Organization)") == [
        {"reference": "Organization/3"}
    ]
    assert len(values("Observation | Observation.component")) == 3
    patient = {
        "resourceType": "Patient",
        "telecom": [{"system": "email", "value": "a@b"}, {"system": "phone", "value": "1"}],
    }
    assert values("Patient.telecom.where(system='phone')", patient) == [
        {"system": "phone", "value": "1"}
    ]


def test_exists_and_not_false() -> None:
    expression = "Patient.deceased.exists() and Patient.deceased != false"
    assert values(expression, {"resourceType": "Patient"}) == [False]
    assert values(expression, {"resourceType": "Patient", "deceasedBoolean": False}) == [False]
    assert values(expression, {"resourceType": "Patient", "deceasedDateTime": "2020"}) == [True]


def test_relative_expressions_for_composite_components() -> None:
    assert compile_expression("value.as(Quantity)")({"valueQuantity": {"value": 3}}) == [
        ({"value": 3}, "Quantity")
    ]


def test_root_fields_let_the_indexer_skip_absent_elements() -> None:
    assert root_fields("Observation.value.as(Quantity)", "Observation") == {"value"}
    assert root_fields("Observation | Observation.component", "Observation") is None
    assert root_fields("Patient.deceased.exists() and Patient.deceased != false", "Patient") is None
    assert "value" in present_fields({"valueQuantity": {}})


def test_unsupported_syntax_is_an_error() -> None:
    with pytest.raises(FHIRError):
        compile_expression("Observation.value.resolve()", "Observation")


@pytest.mark.parametrize("resource_type", sorted(resource_types()))
def test_every_indexed_expression_compiles(resource_type: str) -> None:
    for param in search_parameters(resource_type).values():
        compile_expression(param.expression, resource_type)
