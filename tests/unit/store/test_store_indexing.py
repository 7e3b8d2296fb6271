"""Index rows, Patient compartments and security labels extracted at write time."""

from __future__ import annotations

from joinedup.store.indexing import index_resource, parse_reference
from joinedup.store.ranges import MAX_US, date_range


def test_patient_rows() -> None:
    index = index_resource(
        {
            "resourceType": "Patient",
            "id": "p1",
            "name": [{"family": "Brontë", "given": ["Anne"]}],
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000018"}],
            "telecom": [{"system": "phone", "value": "0113"}],
            "birthDate": "1984",
            "meta": {
                "security": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                        "code": "R",
                    }
                ]
            },
        }
    )
    tokens = {(r[0], r[2], r[3]) for r in index.rows["idx_token"]}
    assert ("identifier", "https://fhir.nhs.uk/Id/nhs-number", "9990000018") in tokens
    assert ("phone", None, "0113") in tokens
    assert ("deceased", None, "false") in tokens
    strings = {(r[0], r[3]) for r in index.rows["idx_string"]}
    assert {("family", "bronte"), ("given", "anne"), ("name", "bronte")} <= strings
    assert ("birthdate", 0, *date_range("1984")) in index.rows["idx_date"]
    assert index.compartment == {"p1"}
    assert index.security == [("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "R")]


def test_observation_compartment_periods_and_composites() -> None:
    index = index_resource(
        {
            "resourceType": "Observation",
            "subject": {"reference": "Patient/p1"},
            "performer": [{"reference": "Patient/p2"}, {"reference": "Practitioner/x"}],
            "effectivePeriod": {"start": "2020-01-01"},
            "code": {"coding": [{"system": "http://loinc.org", "code": "1"}]},
            "component": [
                {"code": {"coding": [{"code": "a"}]}, "valueQuantity": {"value": 1}},
                {"code": {"coding": [{"code": "b"}]}, "valueQuantity": {"value": 2}},
            ],
        }
    )
    assert index.compartment == {"p1", "p2"}
    assert ("date", 0, date_range("2020-01-01")[0], MAX_US) in index.rows["idx_date"]
    pairs = {
        (t[1], t[3]) for t in index.rows["idx_token"] if t[0] == "component-code-value-quantity"
    }
    values = {
        (q[1], q[2]) for q in index.rows["idx_quantity"] if q[0] == "component-code-value-quantity"
    }
    # Each component keeps its own group, so code a pairs with 1 and b with 2 only.
    assert pairs == {(1, "a"), (2, "b")} and values == {(1, 1.0), (2, 2.0)}


def test_reference_forms() -> None:
    assert parse_reference("Patient/1") == ("Patient", "1", None)
    assert parse_reference("Patient/1/_history/3") == ("Patient", "1", None)
    assert parse_reference("https://x/fhir/Patient/1") == (
        "Patient",
        "1",
        "https://x/fhir/Patient/1",
    )
    assert parse_reference("urn:uuid:abc") == (None, None, "urn:uuid:abc")
