"""Checking $export kick-off parameters (Bulk Data Access IG v2 kick-off request), from a query
string or a POST Parameters body, and the ``_elements`` trimming."""

from __future__ import annotations

import pytest

from joinedup.export.bulk.elements import subsetter
from joinedup.export.bulk.request import ExportRequest, kickoff_parameters, parse_kickoff
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
            ("_elements", "Patient.birthDate,status"),
        ],
        patients=["p1", "p2", "p1"],
    )
    assert request.types == ("Patient", "Observation")
    assert request.type_filters == (("Observation", "code=http://loinc.org|29463-7"),)
    assert request.elements == ("Patient.birthDate", "status")
    assert request.patients == ("p1", "p2")
    assert ExportRequest.from_json(request.to_json()) == request


def test_a_job_stored_before_elements_and_patient_existed_still_loads() -> None:
    stored = {"level": "system", "group_id": None, "types": [], "since": None, "type_filters": []}
    assert ExportRequest.from_json(stored) == parse_kickoff("system", None, [])


def test_a_post_parameters_body_becomes_the_same_request_as_the_query_string() -> None:
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "_type", "valueString": "Patient,Observation"},
            {"name": "_since", "valueInstant": "2026-01-01T00:00:00Z"},
            {"name": "_outputFormat", "valueString": "ndjson"},
            {"name": "_elements", "valueString": "Observation.code"},
            {"name": "patient", "valueReference": {"reference": "Patient/p1"}},
            {
                "name": "patient",
                "valueReference": {"reference": "https://x.nhs.uk/fhir/Patient/p2"},
            },
        ],
    }
    params, patients = kickoff_parameters(body)
    assert patients == ["p1", "p2"]
    posted = parse_kickoff("patient", None, params, patients)
    query = parse_kickoff(
        "patient",
        None,
        [
            ("_type", "Patient,Observation"),
            ("_since", "2026-01-01T00:00:00Z"),
            ("_elements", "Observation.code"),
        ],
    )
    assert posted == ExportRequest(
        "patient", None, query.types, query.since, (), query.elements, ("p1", "p2")
    )


@pytest.mark.parametrize(
    ("body", "message", "where"),
    [
        ({"resourceType": "Patient"}, "takes a FHIR Parameters resource", "Parameters"),
        (
            {"resourceType": "Parameters", "parameter": [{"valueString": "x"}]},
            "needs a name",
            "[0]",
        ),
        (
            {"resourceType": "Parameters", "parameter": [{"name": "_type"}]},
            "needs one value",
            "Parameters.parameter[0]",
        ),
        (
            {
                "resourceType": "Parameters",
                "parameter": [{"name": "patient", "valueReference": {"reference": "Group/1"}}],
            },
            "Patient/<id>",
            "Parameters.parameter[0].valueReference",
        ),
    ],
)
def test_a_bad_parameters_body_is_a_400_naming_the_parameter(
    body: dict[str, object], message: str, where: str
) -> None:
    with pytest.raises(FHIRError, match=message) as error:
        kickoff_parameters(body)
    assert error.value.status == 400
    assert where in error.value.expression[0]


def test_patient_is_refused_on_get_and_at_system_level() -> None:
    with pytest.raises(FHIRError, match="only by a POST kick-off"):
        parse_kickoff("patient", None, [("patient", "Patient/p1")])
    with pytest.raises(FHIRError, match="does not apply to a system-level export"):
        parse_kickoff("system", None, [], patients=["p1"])


def test_elements_keep_what_was_asked_and_what_is_mandatory_tagged_subsetted() -> None:
    observation = {
        "resourceType": "Observation",
        "id": "o1",
        "meta": {"versionId": "3", "tag": [{"code": "kept"}]},
        "status": "final",
        "code": {"text": "BP"},
        "subject": {"reference": "Patient/p1"},
        "valueQuantity": {"value": 120},
        "note": [{"text": "free text"}],
    }
    trim = subsetter(["Observation.value", "Patient.name"], "Observation")
    assert trim is not None
    trimmed = trim(observation)
    assert set(trimmed) == {"resourceType", "id", "meta", "status", "code", "valueQuantity"}
    assert trimmed["meta"]["versionId"] == "3"
    assert trimmed["meta"]["tag"][0] == {"code": "kept"}
    assert trimmed["meta"]["tag"][1]["code"] == "SUBSETTED"
    assert trimmed["meta"]["tag"][1]["system"] == (
        "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
    )
    assert observation["meta"] == {"versionId": "3", "tag": [{"code": "kept"}]}
    # Only Patient-qualified entries: an Observation goes out whole.
    assert subsetter(["Patient.name"], "Observation") is None
    unqualified = subsetter(["subject"], "Encounter")
    assert unqualified is not None
    assert set(
        unqualified({"resourceType": "Encounter", "id": "e", "subject": {}, "class": {}})
    ) == {
        "resourceType",
        "id",
        "meta",
        "subject",
        "class",
    }


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
        ([("_elements", "Patient.nonsense")], "Patient has no element nonsense"),
        ([("_elements", "Wizard.name")], "Wizard, which is not a FHIR R4 resource type"),
        ([("_elements", "name.given")], "root elements only"),
        ([("_elements", "nothingHasThis")], "not an element of any FHIR R4 resource type"),
        ([("_type", "Patient"), ("_elements", "Observation.code")], "add it to _type"),
        ([("includeAssociatedData", "LatestProvenanceResources")], "not a [$]export parameter"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_parameter(
    params: list[tuple[str, str]], message: str
) -> None:
    with pytest.raises(FHIRError, match=message) as error:
        parse_kickoff("system", None, params)
    assert error.value.status == 400
