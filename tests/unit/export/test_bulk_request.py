"""Checking $export kick-off parameters (Bulk Data Access IG v2 kick-off request)."""

from __future__ import annotations

import pytest

from joinedup.export.bulk.request import ExportRequest, parse_kickoff
from joinedup.fhir.outcome import FHIRError


def test_a_full_request_parses_and_survives_a_round_trip_through_json() -> None:
    request = parse_kickoff(
        "group",
        "g1",
        [
            ("_outputFormat", "application/fhir+ndjson"),
            ("_type", "Patient,Observation"),
            ("_type", "Observation"),
            ("_since", "2026-01-01T00:00:00Z"),
            ("_typeFilter", "Observation?code=http://loinc.org|29463-7"),
        ],
    )
    assert request.types == ("Patient", "Observation")
    assert request.type_filters == (("Observation", "code=http://loinc.org|29463-7"),)
    assert ExportRequest.from_json(request.to_json()) == request


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ([("_outputFormat", "text/csv")], "_outputFormat 'text/csv' is not supported"),
        ([("_type", "Patient,Wizard")], "Wizard, which are not FHIR R4 resource types"),
        ([("_since", "yesterday")], "is not a FHIR instant"),
        ([("_since", "2026-01-01T00:00:00")], "with a time zone"),
        ([("_typeFilter", "Observation")], "must be a search like"),
        ([("_typeFilter", "Observation?nonsense=1")], "nonsense"),
        ([("_type", "Patient"), ("_typeFilter", "Observation?code=x")], "add it to _type"),
        ([("_elements", "id")], "_elements is not a [$]export parameter"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_parameter(
    params: list[tuple[str, str]], message: str
) -> None:
    with pytest.raises(FHIRError, match=message) as error:
        parse_kickoff("system", None, params)
    assert error.value.status == 400
