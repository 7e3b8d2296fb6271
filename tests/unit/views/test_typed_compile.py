"""Type-directed compilation over columnar Parquet and over NDJSON read by the R4 definitions:
typed SQL where it can, JSON where it must, and always the reference engine's rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from columnar_duckdb import columnar_copy
from joinedup.views.columnar import write_json_text
from joinedup.views.compile.shapes import ListOf, Struct
from joinedup.views.conformance import canonical_row
from joinedup.views.engines import ReferenceEngine
from joinedup.views.engines.duckdb import DuckDBEngine, columnar_shape
from joinedup.views.model import parse_view
from joinedup.views.sources import Source, write_ndjson

NHS = "https://fhir.nhs.uk/Id/nhs-number"
PATIENTS: list[dict[str, Any]] = [
    {
        "resourceType": "Patient",
        "id": "p1",
        "active": True,
        "name": [{"use": "usual", "given": ["Al"]}, {"use": "official", "family": "Roe"}],
        "identifier": [{"system": NHS, "value": "9000000009"}],
        "link": [
            {"other": {"reference": "Patient/p2"}},
            {"other": {"reference": "RelatedPerson/r"}},
        ],
        "managingOrganization": {"reference": "Organization/o1"},
        "extension": [
            {"url": "http://e/a", "valueCode": "x"},
            {"url": "http://e/b", "extension": [{"url": "inner", "valueString": "deep"}]},
        ],
        "multipleBirthInteger": 2,
    },
    {
        "resourceType": "Patient",
        "id": "p2",
        "name": [{"family": "Ng", "given": ["Bo", "Cy"]}],
        "multipleBirthBoolean": False,
    },
    {"resourceType": "Patient", "id": "p3"},
]
OBSERVATIONS: list[dict[str, Any]] = [
    {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": "s", "code": "a"}, {"system": "t", "code": "b"}]},
        "valueQuantity": {"value": 1.50, "unit": "kg"},
        "component": [{"valueInteger": 3}, {"valueInteger": 4}],
    },
    {
        "resourceType": "Observation",
        "id": "o2",
        "status": "preliminary",
        "subject": {"reference": "urn:uuid:abc"},
        "code": {"text": "no codings"},
        "valueString": "high",
    },
    {
        "resourceType": "Observation",
        "id": "o3",
        "status": "final",
        "code": {"coding": [{"system": "s", "code": "a"}]},
        "performer": [{"reference": "Practitioner/d1"}, {"reference": "PractitionerRole/r1"}],
        "component": [
            {"code": {"coding": [{"code": "x"}]}, "valueQuantity": {"value": 120, "unit": "mm"}},
            {"code": {"coding": [{"code": "y"}]}, "valueQuantity": {"value": 80}},
        ],
    },
]

# Each view's rows over the columnar copy must equal the reference engine's.
VIEWS: dict[str, dict[str, Any]] = {
    "member of a list of structs skips absent fields": {
        "resource": "Patient",
        "select": [{"column": [{"name": "f", "path": "name.family.first()", "type": "string"}]}],
    },
    "where on a list of structs, then a field": {
        "resource": "Patient",
        "select": [
            {
                "column": [
                    {"name": "nhs", "path": f"identifier.where(system = '{NHS}').value.first()"},
                    {"name": "official", "path": "name.where(use = 'official').exists()"},
                ]
            }
        ],
    },
    "indexer, exists, empty and a list of strings": {
        "resource": "Patient",
        "select": [
            {
                "column": [
                    {"name": "second", "path": "name[1].given.first()", "type": "string"},
                    {"name": "out_of_range", "path": "name[5].family", "type": "string"},
                    {"name": "has_given", "path": "name.given.exists()", "type": "boolean"},
                    {"name": "no_link", "path": "link.empty()", "type": "boolean"},
                    {"name": "given", "path": "name.given", "collection": True},
                ]
            }
        ],
    },
    "where then a field, a key or a primitive; a list of strings equal to one": {
        "resource": "Observation",
        "select": [
            {
                "column": [
                    {
                        "name": "x",
                        "path": "component.where(code.coding.code = 'x')"
                        ".value.ofType(Quantity).value.first()",
                        "type": "decimal",
                    },
                    {
                        "name": "s_code",
                        "path": "code.coding.where(system = 's').where(code.exists()).code.first()",
                    },
                    {"name": "role", "path": "performer.getReferenceKey(PractitionerRole).first()"},
                    {"name": "is_a", "path": "code.coding.code = 'a'", "type": "boolean"},
                    {"name": "a_is", "path": "'a' = code.coding.code", "type": "boolean"},
                    {"name": "not_b", "path": "code.coding.code != 'b'", "type": "boolean"},
                ]
            }
        ],
    },
    "a member no resource has is empty": {
        "resource": "Patient",
        "select": [
            {
                "column": [
                    {"name": "none", "path": "photo.url.first()", "type": "string"},
                    {"name": "no_field", "path": "name.suffix.exists()", "type": "boolean"},
                ]
            }
        ],
    },
    "reference keys on a struct and on a list of structs": {
        "resource": "Patient",
        "select": [
            {
                "column": [
                    {"name": "org", "path": "managingOrganization.getReferenceKey()"},
                    {"name": "org_typed", "path": "managingOrganization.getReferenceKey(Patient)"},
                    {"name": "key", "path": "getResourceKey()"},
                    {"name": "links", "path": "link.other.getReferenceKey(Patient)"},
                ]
            }
        ],
    },
    "choice types and typed scalars": {
        "resource": "Patient",
        "select": [
            {
                "column": [
                    {"name": "n", "path": "multipleBirth.ofType(integer)", "type": "integer"},
                    {"name": "b", "path": "multipleBirth.ofType(boolean)", "type": "boolean"},
                    {"name": "more", "path": "multipleBirth.ofType(integer) > 1"},
                ]
            }
        ],
    },
    "extension() on typed structs, nested": {
        "resource": "Patient",
        "select": [
            {
                "column": [
                    {"name": "a", "path": "extension('http://e/a').value.ofType(code).first()"},
                    {
                        "name": "deep",
                        "path": "extension('http://e/b').extension('inner').value.ofType(string)",
                    },
                ]
            }
        ],
    },
    "forEach and forEachOrNull over lists of structs": {
        "resource": "Patient",
        "select": [
            {"column": [{"name": "id", "path": "id"}]},
            {
                "forEachOrNull": "name",
                "column": [
                    {"name": "family", "path": "family"},
                    {"name": "given", "path": "given.join(' ')"},
                    {"name": "i", "path": "%rowIndex", "type": "integer"},
                ],
            },
        ],
    },
    "a struct returned whole and joined falls back to JSON": {
        "resource": "Patient",
        "where": [{"path": "name.exists()"}],
        "select": [
            {
                "forEach": "name",
                "column": [{"name": "has_use", "path": "$this.use.exists()", "type": "boolean"}],
            },
            {"column": [{"name": "n", "path": "name.given.join('+')"}]},
        ],
    },
    "the resource filtered as a whole": {
        "resource": "Patient",
        "select": [{"column": [{"name": "id", "path": "where(active = true).id"}]}],
    },
    "view where, forEach over a nested list, JSON decimals": {
        "resource": "Observation",
        "where": [{"path": "status = 'final'"}],
        "select": [
            {
                "column": [
                    {"name": "patient", "path": "subject.getReferenceKey(Patient)"},
                    {"name": "v", "path": "value.ofType(Quantity).value", "type": "decimal"},
                    {
                        "name": "low",
                        "path": "value.ofType(Quantity).value.lowBoundary()",
                        "type": "decimal",
                    },
                    {
                        "name": "ints",
                        "path": "component.value.ofType(integer)",
                        "type": "integer",
                        "collection": True,
                    },
                ]
            },
            {"forEach": "code.coding", "column": [{"name": "code", "path": "code"}]},
        ],
    },
    "unionAll over typed and JSON branches": {
        "resource": "Observation",
        "select": [
            {
                "unionAll": [
                    {"forEach": "code.coding", "column": [{"name": "c", "path": "code"}]},
                    {"column": [{"name": "c", "path": "value.ofType(string)"}]},
                ]
            }
        ],
    },
    "repeat over typed items": {
        "resource": "Patient",
        "select": [{"repeat": ["extension"], "column": [{"name": "url", "path": "url"}]}],
    },
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_ndjson(tmp_path, PATIENTS + OBSERVATIONS)
    return tmp_path


def _rows(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(canonical_row(row) for row in rows)


@pytest.mark.parametrize("layout", ["columnar Parquet", "NDJSON"])
@pytest.mark.parametrize("case", sorted(VIEWS))
def test_typed_rows_equal_the_reference_engines(case: str, layout: str, folder: Path) -> None:
    view = parse_view(VIEWS[case])
    expected = _rows(ReferenceEngine().rows(view, Source(folder)))
    typed = columnar_copy(Source(folder)) if layout == "columnar Parquet" else Source(folder)
    got = _rows(DuckDBEngine().rows(view, typed))
    assert got == expected


def test_hot_operations_compile_to_struct_access_not_json(folder: Path) -> None:
    view = parse_view(
        {
            "resource": "Observation",
            "where": [{"path": "status = 'final'"}],
            "select": [
                {
                    "column": [
                        {"name": "id", "path": "getResourceKey()"},
                        {"name": "patient", "path": "subject.getReferenceKey(Patient)"},
                        {"name": "unit", "path": "value.ofType(Quantity).unit"},
                        {"name": "s", "path": "code.coding.where(system = 's').code.first()"},
                        {"name": "has", "path": "component.exists()", "type": "boolean"},
                    ]
                },
                {"forEach": "code.coding", "column": [{"name": "code", "path": "code"}]},
            ],
        }
    )
    sql = DuckDBEngine().compile(view, columnar_copy(Source(folder))).sql().upper()
    assert "STRUCT_EXTRACT" in sql and "LAMBDA" in sql
    assert "JSON" not in sql


def test_where_then_first_is_one_pass_over_the_list(folder: Path) -> None:
    # The filter, the field and the dropping of NULLs share one lambda; the list read from
    # the column is not copied into a non-NULL default first.
    view = parse_view(
        {
            "resource": "Observation",
            "select": [
                {"column": [{"name": "s", "path": "code.coding.where(system = 's').code.first()"}]}
            ],
        }
    )
    sql = DuckDBEngine().compile(view, columnar_copy(Source(folder))).sql().upper()
    assert sql.count("LAMBDA") == 1
    assert "COALESCE" not in sql


def test_json_text_parquet_keeps_the_json_path(folder: Path, tmp_path: Path) -> None:
    json_text = tmp_path / "json-text"
    json_text.mkdir()
    columnar = columnar_copy(Source(folder)).folder / "Patient.parquet"
    write_json_text(columnar, json_text / "Patient.parquet")
    view = parse_view(VIEWS["member of a list of structs skips absent fields"])
    sql = DuckDBEngine().compile(view, Source(json_text)).sql().upper()
    assert "JSON_EXTRACT" in sql and "STRUCT_EXTRACT" not in sql


def test_the_compiler_is_given_the_files_type_tree(folder: Path) -> None:
    parquet = columnar_copy(Source(folder)).folder / "Patient.parquet"
    shape = columnar_shape(DuckDBEngine().connection, parquet)
    name = shape.field("name")
    assert isinstance(name, ListOf) and isinstance(name.item, Struct)
    assert name.item.field("given") == ListOf("string")
    assert shape.field("active") == "boolean"
    assert shape.field("multipleBirthInteger") == "integer"
    assert shape.field("photo") is None


def test_several_values_where_one_is_needed_is_still_an_error(folder: Path) -> None:
    view = parse_view(
        {"resource": "Patient", "select": [{"column": [{"name": "n", "path": "name"}]}]}
    )
    with pytest.raises(Exception, match="returned several values"):
        DuckDBEngine().rows(view, columnar_copy(Source(folder)))
