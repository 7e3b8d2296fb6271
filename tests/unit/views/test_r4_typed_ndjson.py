"""NDJSON read by the R4 definitions: the R4 → shape → DuckDB type mapping, the columns a view
reads, and the JSON path where the typed read cannot keep what the data holds."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest

from joinedup.views.compile.r4_shape import MAX_DEPTH, resource_shape
from joinedup.views.compile.shapes import ListOf, Shape, Struct
from joinedup.views.conformance import canonical_row
from joinedup.views.engines import ReferenceEngine
from joinedup.views.engines.duckdb import DuckDBEngine, _shape, duckdb_type
from joinedup.views.model import parse_view
from joinedup.views.sources import Source, write_ndjson

FAMILY = {
    "resource": "Patient",
    "select": [
        {
            "column": [
                {"name": "id", "path": "getResourceKey()", "type": "string"},
                {"name": "family", "path": "name.family.first()", "type": "string"},
            ]
        }
    ],
}


def _field(shape: Shape | None, *path: str) -> Shape | None:
    for name in path:
        while isinstance(shape, ListOf):
            shape = shape.item
        assert isinstance(shape, Struct), f"{name}: {shape!r} is not a struct"
        shape = shape.field(name)
    return shape


def _rows(rows: list[dict[str, Any]]) -> Counter[str]:
    return Counter(canonical_row(row) for row in rows)


def test_primitives_follow_their_r4_types() -> None:
    patient = resource_shape("Patient")
    assert patient.field("resourceType") == "string"
    assert patient.field("birthDate") == "string"  # dates stay as written
    assert patient.field("active") == "boolean"
    assert patient.field("multipleBirthInteger") == "integer"
    assert _field(patient, "name", "given") == ListOf("string")
    assert _field(resource_shape("Observation"), "valueQuantity", "value") == "json"  # decimal
    assert _field(resource_shape("Questionnaire"), "item", "maxLength") == "integer"


def test_complex_types_carry_all_their_elements_and_lists_follow_max() -> None:
    name = resource_shape("Patient").field("name")
    assert isinstance(name, ListOf) and isinstance(name.item, Struct)
    assert [field for field, _ in name.item.fields] == [
        "extension", "family", "given", "id", "period", "prefix", "suffix", "text", "use",
    ]  # fmt: skip
    assert isinstance(resource_shape("Patient").field("managingOrganization"), Struct)


def test_choice_types_are_one_field_per_type() -> None:
    observation = resource_shape("Observation")
    assert isinstance(observation.field("valueQuantity"), Struct)
    assert observation.field("valueInteger") == "integer"
    assert observation.field("valueString") == "string"
    assert observation.field("effectiveDateTime") == "string"
    assert isinstance(observation.field("effectivePeriod"), Struct)


def test_recursive_types_are_cut_at_the_depth_limit() -> None:
    patient = resource_shape("Patient")
    # identifier (1) → assigner: Reference (2) → identifier: Identifier (3) → assigner (4).
    assert MAX_DEPTH == 3
    inner = _field(patient, "identifier", "assigner", "identifier")
    assert isinstance(inner, Struct)
    assert inner.field("value") == "string"
    assert inner.field("assigner") == "json"
    assert inner.field("type") == "json"


def test_extensions_contained_resources_and_unknown_members_are_json() -> None:
    patient = resource_shape("Patient")
    assert patient.field("extension") == ListOf("json")
    assert patient.field("modifierExtension") == ListOf("json")
    assert patient.field("contained") == ListOf("json")
    assert _field(patient, "name", "extension") == ListOf("json")
    assert patient.field("_birthDate") == "json"  # a primitive extension
    assert patient.field("notInR4") == "json"
    unknown = resource_shape("NotAResourceType")
    assert unknown.fields == (("resourceType", "string"),)
    assert unknown.field("anything") == "json"


def test_duckdb_types_read_back_as_the_same_shapes() -> None:
    connection = duckdb.connect()
    for resource_type in ("Patient", "Observation", "Encounter"):
        row = resource_shape(resource_type)
        for name, shape in row.fields:
            assert _shape(connection.sqltype(duckdb_type(shape))) == shape, name


@pytest.fixture
def conformant(tmp_path: Path) -> Source:
    write_ndjson(
        tmp_path,
        [
            {
                "resourceType": "Patient",
                "id": "p1",
                "name": [{"family": "Ng"}],
                "birthDate": "1970",
                "_birthDate": {"extension": [{"url": "http://e/acc", "valueCode": "est"}]},
                "photo": [{"url": "http://p"}],
            },
            {"resourceType": "Patient", "id": "p2"},
        ],
    )
    return Source(tmp_path)


def test_only_the_elements_a_view_reads_are_columns(conformant: Source) -> None:
    compiled = DuckDBEngine().compile(parse_view(FAMILY), conformant)
    assert compiled.members == ("resourceType", "id", "name")
    sql = compiled.sql()
    assert "READ_JSON(" in sql.upper() and "'name': 'STRUCT(" in sql
    assert "photo" not in sql and "read_ndjson_objects" not in sql.lower()


def test_a_primitive_extension_is_a_json_column(conformant: Source) -> None:
    view = parse_view(
        {
            "resource": "Patient",
            "select": [
                {
                    "column": [
                        {"name": "id", "path": "id"},
                        {"name": "url", "path": "_birthDate.extension.url.first()"},
                    ]
                }
            ],
        }
    )
    compiled = DuckDBEngine().compile(view, conformant)
    assert "'_birthDate': 'JSON'" in compiled.sql()
    got = DuckDBEngine().rows(view, conformant)
    assert _rows(got) == _rows(ReferenceEngine().rows(view, conformant))
    assert {row["id"]: row["url"] for row in got} == {"p1": "http://e/acc", "p2": None}


def test_a_view_using_the_resource_whole_reads_json(conformant: Source) -> None:
    view = parse_view(
        {"resource": "Patient", "select": [{"column": [{"name": "id", "path": "where(true).id"}]}]}
    )
    compiled = DuckDBEngine().compile(view, conformant)
    assert compiled.members is None
    assert "read_ndjson_objects" in compiled.sql().lower()
    assert _rows(DuckDBEngine().rows(view, conformant)) == _rows(
        ReferenceEngine().rows(view, conformant)
    )


@pytest.fixture
def contradicting(tmp_path: Path) -> Source:
    # ``name`` is a list in R4; here the second Patient holds one object instead.
    write_ndjson(
        tmp_path,
        [
            {"resourceType": "Patient", "id": "p1", "name": [{"family": "Roe"}]},
            {"resourceType": "Patient", "id": "p2", "name": {"family": "Ng"}},
        ],
    )
    return Source(tmp_path)


def test_data_contradicting_r4_runs_on_the_json_path(
    contradicting: Source, caplog: pytest.LogCaptureFixture
) -> None:
    view = parse_view(FAMILY)
    with caplog.at_level(logging.INFO, logger="joinedup.views.engines.duckdb"):
        rows = DuckDBEngine().rows(view, contradicting)
    assert _rows(rows) == _rows(ReferenceEngine().rows(view, contradicting))
    assert {row["id"]: row["family"] for row in rows} == {"p1": "Roe", "p2": "Ng"}
    assert "Patient.ndjson" in caplog.text and "JSON path" in caplog.text
    assert "Ng" not in caplog.text  # the data itself is never logged
    table = DuckDBEngine().arrow(view, contradicting)
    assert sorted(table.column("family").to_pylist()) == ["Ng", "Roe"]


def test_a_lazy_relation_over_contradicting_data_names_file_and_line(
    contradicting: Source,
) -> None:
    relation = DuckDBEngine().relation(parse_view(FAMILY), contradicting)
    with pytest.raises(duckdb.InvalidInputException, match=r"Patient\.ndjson.*line 2"):
        relation.fetchall()


def test_a_struct_returned_whole_holds_only_its_present_elements(conformant: Source) -> None:
    view = parse_view(
        {
            "resource": "Patient",
            "select": [{"column": [{"name": "id", "path": "id"}, {"name": "n", "path": "name"}]}],
        }
    )
    got = {row["id"]: row["n"] for row in DuckDBEngine().rows(view, conformant)}
    assert got == {"p1": '{"family":"Ng"}', "p2": None}
