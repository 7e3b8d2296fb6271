"""Search semantics of every parameter type, modifier and prefix, on every store."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from joinedup.fhir.outcome import FHIRError
from joinedup.store import Store, parse_search

NHS = "https://fhir.nhs.uk/Id/nhs-number"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


def _observation(
    oid: str, patient: str, code: str, value: float, when: str, **extra: Any
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code, "display": f"Test {code}"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
        **extra,
    }


RESOURCES: list[dict[str, Any]] = [
    {
        "resourceType": "Organization",
        "id": "gp",
        "name": "Chapeltown Surgery",
        "identifier": [
            {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "B86010"}
        ],
    },
    {
        "resourceType": "Patient",
        "id": "zoe",
        "gender": "female",
        "birthDate": "1984-03-02",
        "active": True,
        "name": [{"family": "Brontë", "given": ["Zoë", "Anne"]}],
        "identifier": [
            {"system": NHS, "value": "9990000018"},
            {
                "system": "http://hospital.example/mrn",
                "value": "MRN1",
                "type": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}
                    ]
                },
            },
        ],
        "telecom": [{"system": "phone", "value": "0113 496 0000"}],
        "managingOrganization": {"reference": "Organization/gp"},
        "meta": {"profile": ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"]},
    },
    {
        "resourceType": "Patient",
        "id": "sam",
        "gender": "male",
        "birthDate": "1950",
        "name": [{"family": "Smith", "given": ["Samuel"]}],
        "identifier": [{"system": NHS, "value": "9990000026"}],
        "deceasedDateTime": "2020-01-01",
    },
    {
        "resourceType": "Patient",
        "id": "ann",
        "gender": "female",
        "birthDate": "2001-11-30",
        "name": [{"family": "O'Neil-Smithers", "given": ["Ann"]}],
    },
    _observation("bp-1", "zoe", "8480-6", 142, "2021-06-01T09:30:00Z"),
    _observation("bp-2", "zoe", "8480-6", 118, "2022-06-01T09:30:00+01:00"),
    _observation("bp-3", "sam", "8480-6", 100.5, "2022-07-15"),
    _observation(
        "hr-1", "sam", "8867-4", 72, "2022-07-15", performer=[{"reference": "Organization/gp"}]
    ),
    {
        "resourceType": "Observation",
        "id": "panel",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}], "text": "Blood pressure panel"},
        "subject": {"reference": "Patient/ann"},
        "effectivePeriod": {"start": "2023-01-01", "end": "2023-01-03"},
        "component": [
            {
                "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                "valueQuantity": {"value": 160, "system": UCUM, "code": "mm[Hg]"},
            },
            {
                "code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                "valueQuantity": {"value": 95, "system": UCUM, "code": "mm[Hg]"},
            },
        ],
    },
    {
        "resourceType": "Provenance",
        "id": "prov-1",
        "recorded": "2022-06-01T10:00:00Z",
        "target": [{"reference": "Observation/bp-2"}],
        "agent": [{"who": {"reference": "Organization/gp"}}],
    },
    {
        "resourceType": "Condition",
        "id": "htn",
        "subject": {"reference": "Patient/zoe"},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003"}]},
        "onsetDateTime": "2019",
    },
]


@pytest.fixture(scope="module")
def loaded(shared_store: Store) -> Store:
    shared_store.bulk_load(RESOURCES)
    return shared_store


def ids(store: Store, resource_type: str, *params: tuple[str, str]) -> list[str]:
    page = store.search(parse_search(resource_type, [*params, ("_count", "100")]))
    assert page.total == len(page.matches)
    return sorted(m.id for m in page.matches)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ([("identifier", f"{NHS}|9990000018")], ["zoe"]),
        ([("identifier", "9990000026")], ["sam"]),
        ([("identifier", f"{NHS}|")], ["sam", "zoe"]),
        ([("identifier", "|9990000018")], []),
        (
            [("identifier:of-type", "http://terminology.hl7.org/CodeSystem/v2-0203|MR|MRN1")],
            ["zoe"],
        ),
        ([("gender", "female")], ["ann", "zoe"]),
        ([("gender:not", "female")], ["sam"]),
        ([("gender", "male,female")], ["ann", "sam", "zoe"]),
        ([("active", "true")], ["zoe"]),
        ([("deceased", "true")], ["sam"]),
        ([("deceased", "false")], ["ann", "zoe"]),
        ([("phone", "0113 496 0000")], ["zoe"]),
        ([("_id", "zoe,ann")], ["ann", "zoe"]),
    ],
)
def test_token_search(loaded: Store, params: list[tuple[str, str]], expected: list[str]) -> None:
    assert ids(loaded, "Patient", *params) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ([("name", "zoe")], ["zoe"]),
        ([("name", "BRONTE")], ["zoe"]),
        ([("family", "smi")], ["sam"]),
        ([("family", "o'neil")], ["ann"]),
        ([("family:exact", "Brontë")], ["zoe"]),
        ([("family:exact", "bronte")], []),
        ([("family:contains", "smith")], ["ann", "sam"]),
        ([("given", "an")], ["ann", "zoe"]),
        ([("name", "zzz")], []),
        ([("name", "smith"), ("gender", "male")], ["sam"]),
    ],
)
def test_string_search(loaded: Store, params: list[tuple[str, str]], expected: list[str]) -> None:
    assert ids(loaded, "Patient", *params) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ([("birthdate", "1984-03-02")], ["zoe"]),
        ([("birthdate", "1984")], ["zoe"]),
        ([("birthdate", "eq1950-06-01")], []),
        ([("birthdate", "ne1984-03-02")], ["ann", "sam"]),
        ([("birthdate", "gt1984-03-02")], ["ann"]),
        ([("birthdate", "ge1984-03-02")], ["ann", "zoe"]),
        ([("birthdate", "lt1984-03-02")], ["sam"]),
        ([("birthdate", "le1984-03-02")], ["sam", "zoe"]),
        ([("birthdate", "sa1950-06-01")], ["ann", "zoe"]),
        ([("birthdate", "eb2001-11-30")], ["sam", "zoe"]),
        ([("birthdate", "ge1950-06-01")], ["ann", "sam", "zoe"]),
        ([("birthdate", "ap1984-03-01")], ["zoe"]),
        ([("birthdate", "ge1980"), ("birthdate", "lt2000")], ["zoe"]),
        ([("death-date", "2020")], ["sam"]),
    ],
)
def test_date_search(loaded: Store, params: list[tuple[str, str]], expected: list[str]) -> None:
    assert ids(loaded, "Patient", *params) == expected


def test_date_search_on_periods_and_time_zones(loaded: Store) -> None:
    # 09:30+01:00 is 08:30Z.
    assert ids(loaded, "Observation", ("date", "2022-06-01T08:30:00Z")) == ["bp-2"]
    assert ids(loaded, "Observation", ("date", "2023-01-02")) == []
    assert ids(loaded, "Observation", ("date", "ge2023-01-02")) == ["panel"]
    assert ids(loaded, "Observation", ("date", "2023-01")) == ["panel"]
    assert ids(loaded, "Observation", ("date", "lt2021-06-02")) == ["bp-1"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ([("value-quantity", "142")], ["bp-1"]),
        ([("value-quantity", "100")], []),
        ([("value-quantity", "100.5")], ["bp-3"]),
        ([("value-quantity", "gt118")], ["bp-1"]),
        ([("value-quantity", "ge118")], ["bp-1", "bp-2"]),
        ([("value-quantity", "lt100")], ["hr-1"]),
        ([("value-quantity", "le72")], ["hr-1"]),
        ([("value-quantity", "ne142"), ("code", "8480-6")], ["bp-2", "bp-3"]),
        ([("value-quantity", "ap110")], ["bp-2", "bp-3"]),
        ([("value-quantity", f"142|{UCUM}|mm[Hg]")], ["bp-1"]),
        ([("value-quantity", "142||mmHg")], ["bp-1"]),
        ([("value-quantity", f"142|{UCUM}|kg")], []),
        ([("component-value-quantity", "gt150")], ["panel"]),
        ([("code-value-quantity", f"{LOINC}|8480-6$gt130")], ["bp-1"]),
        ([("code-value-quantity", f"{LOINC}|8867-4$gt130")], []),
        ([("component-code-value-quantity", f"{LOINC}|8462-4$gt90")], ["panel"]),
        ([("component-code-value-quantity", f"{LOINC}|8462-4$gt100")], []),
        ([("combo-code-value-quantity", f"{LOINC}|8480-6$gt150")], ["panel"]),
    ],
)
def test_quantity_and_composite_search(
    loaded: Store, params: list[tuple[str, str]], expected: list[str]
) -> None:
    assert ids(loaded, "Observation", *params) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ([("subject", "Patient/zoe")], ["bp-1", "bp-2"]),
        ([("subject", "zoe")], ["bp-1", "bp-2"]),
        ([("subject:Patient", "zoe")], ["bp-1", "bp-2"]),
        ([("patient", "ann")], ["panel"]),
        ([("subject", "Patient/nobody")], []),
        ([("subject:missing", "true")], []),
        ([("performer:missing", "false")], ["hr-1"]),
        ([("code", f"{LOINC}|8480-6")], ["bp-1", "bp-2", "bp-3"]),
        ([("code:text", "blood pressure")], ["panel"]),
        ([("combo-code", "8462-4")], ["panel"]),
        ([("subject:Patient.name", "smith")], ["bp-3", "hr-1"]),
        ([("subject:Patient.gender", "female"), ("code", "8480-6")], ["bp-1", "bp-2"]),
        ([("patient.organization.name", "chapeltown")], ["bp-1", "bp-2"]),
        ([("_has:Provenance:target:agent", "Organization/gp")], ["bp-2"]),
    ],
)
def test_reference_chain_and_has(
    loaded: Store, params: list[tuple[str, str]], expected: list[str]
) -> None:
    assert ids(loaded, "Observation", *params) == expected


def test_reverse_chain_on_patient(loaded: Store) -> None:
    assert ids(loaded, "Patient", ("_has:Observation:patient:code", "8867-4")) == ["sam"]
    assert ids(loaded, "Patient", ("_has:Condition:subject:code", "38341003")) == ["zoe"]
    assert ids(
        loaded, "Patient", ("_has:Observation:patient:_has:Provenance:target:agent", "gp")
    ) == ["zoe"]


def test_uri_and_meta_parameters(loaded: Store) -> None:
    profile = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"
    assert ids(loaded, "Patient", ("_profile", profile)) == ["zoe"]
    assert ids(loaded, "Patient", ("_profile:below", "https://fhir.hl7.org.uk/")) == ["zoe"]
    assert ids(loaded, "Patient", ("_lastUpdated", "ge2000-01-01")) == ["ann", "sam", "zoe"]
    assert ids(loaded, "Patient", ("_lastUpdated", "lt2000-01-01")) == []


def test_include_revinclude_and_iterate(loaded: Store) -> None:
    page = loaded.search(
        parse_search(
            "Observation",
            [
                ("_id", "bp-2"),
                ("_include", "Observation:subject"),
                ("_revinclude", "Provenance:target"),
            ],
        )
    )
    assert [m.id for m in page.matches] == ["bp-2"]
    assert sorted(f"{r.resource_type}/{r.id}" for r in page.included) == [
        "Patient/zoe",
        "Provenance/prov-1",
    ]
    iterated = loaded.search(
        parse_search(
            "Observation",
            [
                ("_id", "bp-2"),
                ("_include", "Observation:subject"),
                ("_include:iterate", "Patient:organization"),
            ],
        )
    )
    assert sorted(f"{r.resource_type}/{r.id}" for r in iterated.included) == [
        "Organization/gp",
        "Patient/zoe",
    ]
    rev = loaded.search(
        parse_search("Patient", [("_id", "sam"), ("_revinclude", "Observation:subject")])
    )
    assert sorted(r.id for r in rev.included) == ["bp-3", "hr-1"]
    typed = loaded.search(
        parse_search(
            "Observation", [("_id", "hr-1"), ("_include", "Observation:performer:Practitioner")]
        )
    )
    assert typed.included == []


def test_sort_on_several_keys(loaded: Store) -> None:
    def order(sort: str) -> list[str]:
        page = loaded.search(
            parse_search("Observation", [("_sort", sort), ("code", "8480-6,8867-4")])
        )
        return [m.id for m in page.matches]

    assert order("date") == ["bp-1", "bp-2", "bp-3", "hr-1"]
    assert order("-value-quantity") == ["bp-1", "bp-2", "bp-3", "hr-1"]
    assert order("subject,-value-quantity") == ["bp-3", "hr-1", "bp-1", "bp-2"]
    assert order("-date,_id") == ["bp-3", "hr-1", "bp-2", "bp-1"]
    patients = loaded.search(parse_search("Patient", [("_sort", "-death-date,family")]))
    # Patients without a death date sort last in either direction.
    assert [m.id for m in patients.matches] == ["sam", "zoe", "ann"]


def test_total_modes_and_summary_count(loaded: Store) -> None:
    assert loaded.search(parse_search("Observation", [("_total", "none")])).total is None
    counted = loaded.search(parse_search("Observation", [("_summary", "count")]))
    assert counted.total == 5 and counted.matches == []
    assert loaded.search(parse_search("Observation", [("_count", "2")])).total == 5
    # A first page holding every match counts them itself; a full one or a later one asks.
    assert loaded.search(parse_search("Observation", [("_count", "6")])).total == 5
    assert loaded.search(parse_search("Observation", [("_count", "5")])).total == 5
    first = loaded.search(parse_search("Observation", [("_count", "4")]))
    later = parse_search("Observation", [("_count", "4"), ("_cursor", first.next_cursor or "")])
    assert first.total == 5 and loaded.search(later).total == 5
    assert len(loaded.search(later).matches) == 1
    only_count = [("_summary", "count"), ("_total", "none")]
    assert loaded.search(parse_search("Observation", only_count)).total == 5
    assert loaded.search(parse_search("Observation", [("_count", "0")])).total == 5


def test_unknown_parameters_lenient_and_strict(loaded: Store) -> None:
    lenient = parse_search("Patient", [("shoe-size", "9"), ("gender", "male")])
    assert lenient.warnings and "shoe-size" in lenient.warnings[0]
    assert [m.id for m in loaded.search(lenient).matches] == ["sam"]
    with pytest.raises(FHIRError) as raised:
        parse_search("Patient", [("shoe-size", "9")], strict=True)
    assert raised.value.status == 400 and "shoe-size" in raised.value.diagnostics


@pytest.mark.parametrize(
    ("resource_type", "name", "value"),
    [
        ("Patient", "birthdate", "yesterday"),
        ("Patient", "birthdate", "xx2020"),
        ("Observation", "value-quantity", "lots"),
        ("Patient", "gender:exact", "male"),
        ("Patient", "_count", "-1"),
        ("Patient", "_sort", "shoe-size"),
        ("Patient", "_include", "Patient:gender"),
        ("Observation", "code-value-quantity", "8480-6"),
        ("Patient", "_cursor", "not-a-cursor"),
        ("Patient", "family", ""),
    ],
)
def test_parse_errors_name_the_parameter(
    loaded: Store, resource_type: str, name: str, value: str
) -> None:
    with pytest.raises(FHIRError) as raised:
        loaded.search(parse_search(resource_type, [(name, value)]))
    assert raised.value.status == 400
    assert name.split(":")[0] in raised.value.diagnostics


def test_injection_attempts_are_plain_values(loaded: Store) -> None:
    for value in ["x' OR '1'='1", 'x"; DROP TABLE resource; --', "%", "_", "\\"]:
        assert ids(loaded, "Patient", ("family", value)) == []
        assert ids(loaded, "Patient", ("family:contains", value)) == []
        assert ids(loaded, "Patient", ("identifier", value)) == []
    assert len(ids(loaded, "Patient")) == 3


def test_paging_is_complete_and_stable_under_concurrent_writes(store: Store) -> None:
    store.bulk_load(
        [
            {"resourceType": "Patient", "id": f"p{i:03d}", "birthDate": f"19{i % 90 + 10}-01-01"}
            for i in range(25)
        ]
    )
    query = [("_count", "10"), ("_sort", "birthdate")]
    first = store.search(parse_search("Patient", query))
    assert len(first.matches) == 10 and first.next_cursor is not None
    # Someone writes between page requests: a patient sorting before the cursor and one after.
    store.create({"resourceType": "Patient", "birthDate": "1900-01-01"}, id="early")
    store.create({"resourceType": "Patient", "birthDate": "2099-01-01"}, id="late")
    seen = [m.id for m in first.matches]
    cursor = first.next_cursor
    while cursor:
        page = store.search(parse_search("Patient", [*query, ("_cursor", cursor)]))
        seen += [m.id for m in page.matches]
        cursor = page.next_cursor
    assert len(seen) == len(set(seen)) == 26
    assert "late" in seen and "early" not in seen
    # And backwards from the last page with prev cursors.
    second = store.search(parse_search("Patient", [*query, ("_cursor", first.next_cursor)]))
    assert second.prev_cursor is not None
    back = store.search(parse_search("Patient", [*query, ("_cursor", second.prev_cursor)]))
    assert [m.id for m in back.matches] == [m.id for m in first.matches]


@pytest.mark.parametrize(
    "params",
    [
        [("subject", "Patient/zoe"), ("code", f"{LOINC}|8480-6")],
        [("code", f"{LOINC}|8480-6"), ("value-quantity", "gt110"), ("status:not", "cancelled")],
        [("subject:missing", "false"), ("code", "8480-6"), ("_id", "bp-1,bp-3,hr-1")],
        [("code:text", "test"), ("subject", "Patient/zoe"), ("performer:missing", "true")],
    ],
)
def test_criteria_mean_the_same_in_any_order(loaded: Store, params: list[tuple[str, str]]) -> None:
    # One criterion drives the query and the others are checked per row; which one drives
    # depends on the mix, and must never change the answer: the intersection of each
    # criterion's own answer.
    alone = [set(ids(loaded, "Observation", p)) for p in params]
    expected = sorted(set.intersection(*alone))
    for order in itertools.permutations(params):
        assert ids(loaded, "Observation", *order) == expected
