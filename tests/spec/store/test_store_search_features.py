"""Search across types (``_type``), ``_text``/``_content``, token ``:in``/``:not-in``, uri
``:above``/``:below``, UCUM quantities and Location ``near``, on every store."""

from __future__ import annotations

from typing import Any

import pytest

from joinedup.fhir.outcome import FHIRError
from joinedup.store import Store, open_store, parse_search
from joinedup.store.search import parse_system_search

UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
XHTML = 'xmlns="http://www.w3.org/1999/xhtml"'


def _lab(oid: str, code: str, value: float, unit: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": "Patient/zoe"},
        "valueQuantity": {"value": value, "system": UCUM, "code": unit, "unit": unit},
        **extra,
    }


def _place(lid: str, latitude: float, longitude: float) -> dict[str, Any]:
    return {
        "resourceType": "Location",
        "id": lid,
        "name": lid,
        "position": {"latitude": latitude, "longitude": longitude},
    }


RESOURCES: list[dict[str, Any]] = [
    {
        "resourceType": "Patient",
        "id": "zoe",
        "name": [{"family": "Brontë", "given": ["Zoë"]}],
        "text": {
            "status": "generated",
            "div": f"<div {XHTML}>Lives alone; <b>frail</b> &amp; at risk of falls</div>",
        },
        "meta": {"tag": [{"system": "http://example.org/tags", "code": "pilot"}]},
    },
    {"resourceType": "Patient", "id": "sam", "name": [{"family": "Smith", "given": ["Sam"]}]},
    _lab("glucose-umol", "2345-7", 5400, "umol/L"),
    _lab("glucose-mmol", "2345-7", 5.3, "mmol/L"),
    _lab("glucose-mgdl", "2345-7", 97, "mg/dL"),
    _lab("weight-kg", "29463-7", 70.5, "kg"),
    _lab("weight-g", "29463-7", 71000, "g"),
    _lab("bp-kpa", "8480-6", 16, "kPa"),
    {
        **_lab("free-text", "8867-4", 5.4, "mmol/L"),
        "valueQuantity": {"value": 5.4, "unit": "mmol/L"},
        "note": [{"text": "Taken after a fall at home"}],
    },
    {
        "resourceType": "Condition",
        "id": "diabetes",
        "subject": {"reference": "Patient/zoe"},
        "code": {"coding": [{"system": SNOMED, "code": "44054006", "display": "Type 2 diabetes"}]},
    },
    {
        "resourceType": "Condition",
        "id": "asthma",
        "subject": {"reference": "Patient/sam"},
        "code": {"coding": [{"system": SNOMED, "code": "195967001", "display": "Asthma"}]},
    },
    {
        "resourceType": "Condition",
        "id": "local-code",
        "subject": {"reference": "Patient/sam"},
        "code": {"coding": [{"system": "http://example.org/local", "code": "X1"}]},
    },
    {
        "resourceType": "ValueSet",
        "id": "ltc-old",
        "url": "http://example.org/fhir/ValueSet/ltc",
        "version": "1",
        "status": "retired",
        "compose": {"include": [{"system": SNOMED, "concept": [{"code": "195967001"}]}]},
    },
    {
        "resourceType": "ValueSet",
        "id": "ltc",
        "url": "http://example.org/fhir/ValueSet/ltc",
        "version": "2",
        "status": "active",
        "compose": {
            "include": [{"system": SNOMED, "concept": [{"code": "44054006"}, {"code": "1"}]}]
        },
    },
    {
        "resourceType": "ValueSet",
        "id": "all-snomed-but-asthma",
        "url": "http://example.org/fhir/ValueSet/snomed",
        "status": "active",
        "compose": {
            "include": [{"system": SNOMED}],
            "exclude": [{"system": SNOMED, "concept": [{"code": "195967001"}]}],
        },
    },
    {
        "resourceType": "ValueSet",
        "id": "nested",
        "url": "http://example.org/fhir/ValueSet/nested",
        "status": "active",
        "compose": {"include": [{"valueSet": ["http://example.org/fhir/ValueSet/snomed"]}]},
    },
    {
        "resourceType": "ValueSet",
        "id": "by-filter",
        "url": "http://example.org/fhir/ValueSet/by-filter",
        "status": "active",
        "compose": {
            "include": [
                {"system": SNOMED, "filter": [{"property": "concept", "op": "is-a", "value": "1"}]}
            ]
        },
    },
    {
        "resourceType": "ValueSet",
        "id": "expanded",
        "url": "urn:uuid:3c1a8f2e-0000-4000-8000-000000000001",
        "status": "active",
        "expansion": {
            "timestamp": "2024-01-01",
            "contains": [{"system": "http://example.org/local", "code": "X1"}],
        },
    },
    _place("leeds-gi", 53.8017, -1.5525),  # Leeds General Infirmary
    _place("st-james", 53.8075, -1.5205),  # St James's, Leeds: ~2.2 km from the LGI
    _place("york", 53.9690, -1.0830),  # York Hospital: ~35 km
    _place("fiji", -17.7134, 178.0650),  # near the antimeridian
    _place("fiji-east", -17.7134, -179.9),  # ~212 km east of "fiji", across it
    _place("pole", 89.95, 120.0),  # ~15 km from 89.9°N 0°E, on the far side of the pole
]


@pytest.fixture(scope="module")
def loaded(shared_store: Store) -> Store:
    shared_store.bulk_load(RESOURCES)
    return shared_store


def ids(store: Store, resource_type: str, *params: tuple[str, str]) -> list[str]:
    page = store.search(parse_search(resource_type, [*params, ("_count", "100")], strict=True))
    assert page.total == len(page.matches)
    return sorted(m.id for m in page.matches)


def system_ids(store: Store, *params: tuple[str, str]) -> list[str]:
    page = store.search(parse_system_search([*params, ("_count", "100")], strict=True))
    assert page.total == len(page.matches)
    return sorted(f"{m.resource_type}/{m.id}" for m in page.matches)


# --- _text and _content ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ([("_text", "FRAIL")], ["zoe"]),
        ([("_text", "risk of falls")], ["zoe"]),
        ([("_text", "risk falls")], []),  # a phrase's words must be together
        ([("_text", "fal")], []),  # whole words only
        ([("_text", "bronte")], []),  # the name is not in the narrative
        ([("_content", "bronte")], ["zoe"]),  # but it is in the resource
        ([("_content", "Zoë Brontë")], []),  # family comes before given in the resource
        ([("_content", "brontë zoe")], ["zoe"]),
        ([("_content", "sam,frail")], ["sam", "zoe"]),
        ([("_content", "frail"), ("_content", "alone")], ["zoe"]),
        ([("_text:missing", "true")], ["sam"]),
    ],
)
def test_text_and_content(
    loaded: Store, params: list[tuple[str, str]], expected: list[str]
) -> None:
    assert ids(loaded, "Patient", *params) == expected


def test_content_reaches_every_string_of_a_resource(loaded: Store) -> None:
    assert ids(loaded, "Observation", ("_content", "after a fall")) == ["free-text"]
    assert ids(loaded, "Condition", ("_content", "type 2 diabetes")) == ["diabetes"]


@pytest.mark.parametrize("params", [[("_text:exact", "frail")], [("_content", "!!")]])
def test_full_text_refuses_what_it_cannot_mean(
    loaded: Store, params: list[tuple[str, str]]
) -> None:
    with pytest.raises(FHIRError) as raised:
        parse_search("Patient", params, strict=True)
    assert raised.value.status == 400


# --- quantities in UCUM units ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # 5400 umol/L is 5.4 mmol/L; 97 mg/dL is a mass concentration, never converted to mol
        (f"ge5.4|{UCUM}|mmol/L", ["glucose-umol"]),
        (f"5.4|{UCUM}|mmol/L", ["glucose-umol"]),
        (f"5400|{UCUM}|umol/L", ["glucose-umol"]),
        (f"lt5400|{UCUM}|umol/L", ["glucose-mmol"]),
        (f"gt0.005|{UCUM}|mol/L", ["glucose-mmol", "glucose-umol"]),
        (f"ne5.4|{UCUM}|mmol/L", ["glucose-mmol"]),
        (f"970|{UCUM}|mg/L", ["glucose-mgdl"]),
        (f"gt70000|{UCUM}|g", ["weight-g", "weight-kg"]),
        (f"gt70.9|{UCUM}|kg", ["weight-g"]),
        (f"ap120|{UCUM}|mm[Hg]", ["bp-kpa"]),  # 16 kPa = 120.0 mm[Hg]
        # a unit the table does not convert: the stored system and code must match
        (f"5.3|{UCUM}|mmol/L{{glucose}}", []),
        # without a system, the code or the unit text as given
        ("5.4||mmol/L", ["free-text"]),
        ("5.4", ["free-text"]),
    ],
)
def test_quantity_in_canonical_units(loaded: Store, value: str, expected: list[str]) -> None:
    assert ids(loaded, "Observation", ("value-quantity", value)) == expected


def test_composite_quantity_converts_too(loaded: Store) -> None:
    value = f"{LOINC}|2345-7$ge5.4|{UCUM}|mmol/L"
    assert ids(loaded, "Observation", ("code-value-quantity", value)) == ["glucose-umol"]


# --- token :in / :not-in, :above / :below ------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ([("code:in", "http://example.org/fhir/ValueSet/ltc")], ["diabetes"]),
        ([("code:in", "http://example.org/fhir/ValueSet/ltc|1")], ["asthma"]),
        ([("code:in", "ValueSet/ltc-old")], ["asthma"]),
        ([("code:not-in", "http://example.org/fhir/ValueSet/ltc")], ["asthma", "local-code"]),
        ([("code:in", "http://example.org/fhir/ValueSet/snomed")], ["diabetes"]),
        ([("code:in", "http://example.org/fhir/ValueSet/nested")], ["diabetes"]),
        ([("code:in", "urn:uuid:3c1a8f2e-0000-4000-8000-000000000001")], ["local-code"]),
        (
            [
                ("code:in", "http://example.org/fhir/ValueSet/snomed,ValueSet/expanded"),
                ("subject", "Patient/sam"),
            ],
            ["local-code"],
        ),
    ],
)
def test_token_in_a_stored_value_set(
    loaded: Store, params: list[tuple[str, str]], expected: list[str]
) -> None:
    assert ids(loaded, "Condition", *params) == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ([("code:in", "http://example.org/fhir/ValueSet/by-filter")], "terminology server"),
        ([("code:in", "http://example.org/fhir/ValueSet/absent")], "no ValueSet"),
        ([("code:below", f"{SNOMED}|73211009")], "hierarchy"),
        ([("code:above", f"{SNOMED}|44054006")], "hierarchy"),
        ([("code:subsumes", f"{SNOMED}|44054006")], "not supported"),
    ],
)
def test_what_a_token_search_cannot_answer_is_a_400(
    loaded: Store, params: list[tuple[str, str]], message: str
) -> None:
    with pytest.raises(FHIRError) as raised:
        ids(loaded, "Condition", *params)
    assert raised.value.status == 400
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            [("url:below", "http://example.org/fhir/")],
            ["all-snomed-but-asthma", "by-filter", "ltc", "ltc-old", "nested"],
        ),
        ([("url:below", "http://example.org/fhir/ValueSet/ltc")], ["ltc", "ltc-old"]),
        ([("url:below", "http://example.org/fhir/Value")], []),  # whole path segments
        ([("url:above", "http://example.org/fhir/ValueSet/ltc/_history/2")], ["ltc", "ltc-old"]),
        ([("url:above", "http://example.org/fhir/ValueSet/ltcX")], []),
        ([("url", "http://example.org/fhir/ValueSet/ltc")], ["ltc", "ltc-old"]),
    ],
)
def test_uri_above_and_below_follow_paths(
    loaded: Store, params: list[tuple[str, str]], expected: list[str]
) -> None:
    assert ids(loaded, "ValueSet", *params) == expected


def test_uri_above_and_below_refuse_urns(loaded: Store) -> None:
    with pytest.raises(FHIRError) as raised:
        ids(loaded, "ValueSet", ("url:below", "urn:uuid:3c1a8f2e"))
    assert "URLs only" in str(raised.value)


# --- Location near -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("near", "expected"),
    [
        ("53.8017|-1.5525|1|km", ["leeds-gi"]),
        ("53.8017|-1.5525|3|km", ["leeds-gi", "st-james"]),
        ("53.8017|-1.5525|3000|m", ["leeds-gi", "st-james"]),
        ("53.8017|-1.5525|2|[mi_i]", ["leeds-gi", "st-james"]),
        ("53.8017|-1.5525|40", ["leeds-gi", "st-james", "york"]),
        ("53.8017|-1.5525", ["leeds-gi", "st-james"]),  # the default distance
        ("-17.7134|178.0650|250|km", ["fiji", "fiji-east"]),  # across the antimeridian
        ("-17.7134|178.0650|100|km", ["fiji"]),
        ("89.9|0|20|km", ["pole"]),  # a circle around the pole: no longitude bounds
    ],
)
def test_near(loaded: Store, near: str, expected: list[str]) -> None:
    assert ids(loaded, "Location", ("near", near)) == expected


@pytest.mark.parametrize("near", ["53.8|", "95|0|1|km", "53.8|-1.5|1|furlong", "a|b|1|km"])
def test_near_refuses_bad_values(near: str) -> None:
    with pytest.raises(FHIRError) as raised:
        parse_search("Location", [("near", near)])
    assert raised.value.status == 400


# --- search across types -------------------------------------------------------------------


def test_type_searches_the_named_types_with_common_parameters(loaded: Store) -> None:
    assert system_ids(loaded, ("_type", "Patient,Condition"), ("_content", "bronte,asthma")) == [
        "Condition/asthma",
        "Patient/zoe",
    ]
    assert system_ids(loaded, ("_tag", "http://example.org/tags|pilot")) == ["Patient/zoe"]
    assert system_ids(loaded, ("_type", "Location"), ("_id", "york,zoe")) == ["Location/york"]
    # without _type: every type
    assert system_ids(loaded, ("_id", "york,zoe")) == ["Location/york", "Patient/zoe"]


def test_type_search_pages_sorts_and_includes(loaded: Store) -> None:
    first = parse_system_search(
        [("_type", "Patient,Condition"), ("_sort", "_id"), ("_count", "2"), ("_total", "accurate")]
    )
    page = loaded.search(first)
    assert page.total == 5
    seen = [m.id for m in page.matches]
    while page.next_cursor:
        page = loaded.search(parse_system_search([*first.params, ("_cursor", page.next_cursor)]))
        seen += [m.id for m in page.matches]
    assert seen == sorted(["zoe", "sam", "diabetes", "asthma", "local-code"])
    included = loaded.search(
        parse_system_search(
            [("_type", "Condition"), ("_id", "asthma"), ("_include", "Condition:subject")]
        )
    )
    assert [m.id for m in included.matches] == ["asthma"]
    assert [m.id for m in included.included] == ["sam"]


@pytest.mark.parametrize(
    "params",
    [
        [("_type", "Patient,Shoe")],
        [("_type", "Patient"), ("name", "zoe")],  # not a common parameter
        [("_has:Observation:patient:code", "1")],
        [("_type", "Patient"), ("_sort", "_content")],
        [("_type", "Condition"), ("_include", "Observation:subject")],
    ],
)
def test_type_search_refuses_what_it_does_not_take(params: list[tuple[str, str]]) -> None:
    with pytest.raises(FHIRError) as raised:
        parse_system_search(params, strict=True)
    assert raised.value.status == 400


def test_type_search_is_lenient_unless_strict(loaded: Store) -> None:
    query = parse_system_search([("_type", "Patient"), ("name", "zoe")])
    assert query.warnings and "common parameters" in query.warnings[0]
    assert len(loaded.search(query).matches) == 2


# --- migration from schema version 1 -------------------------------------------------------


def _downgrade_to_version_1(store: Store) -> None:
    """Make the store look as the version-1 code left it: no text or position index, no
    canonical quantity columns."""
    with store.transaction() as tx:
        for statement in (
            "DROP TABLE idx_text",
            "DROP TABLE idx_position",
            "DROP INDEX idx_quantity_canonical",
            "ALTER TABLE idx_quantity DROP COLUMN canonical_value",
            "ALTER TABLE idx_quantity DROP COLUMN canonical_code",
            "UPDATE store_meta SET value = '1' WHERE key = 'schema_version'",
        ):
            tx.execute(statement)


def test_a_version_1_store_is_migrated_and_reindexed_on_open(store_url: str) -> None:
    store = open_store(store_url)
    store.bulk_load(RESOURCES)
    _downgrade_to_version_1(store)
    store.close()
    reopened = open_store(store_url)
    try:
        assert ids(reopened, "Patient", ("_text", "frail")) == ["zoe"]
        assert ids(reopened, "Observation", ("value-quantity", f"ge5.4|{UCUM}|mmol/L")) == [
            "glucose-umol"
        ]
        assert ids(reopened, "Location", ("near", "53.8017|-1.5525|1|km")) == ["leeds-gi"]
        with reopened.transaction() as tx:
            version = tx.execute("SELECT value FROM store_meta WHERE key = 'schema_version'")
        assert version == [("2",)]
    finally:
        reopened.close()
