"""Generated ViewDefinitions over generated Patients: every engine returns the same rows.

The reference engine is the oracle; DuckDB is checked on every Hypothesis example, over the
NDJSON (typed by the R4 definitions), over columnar Parquet copies (typed by the file's
schema) and over JSON-text Parquet copies (the JSON path), and Spark on a fixed sample of
generated cases run as one batch (one Spark job, shared session).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from columnar_duckdb import ColumnarDuckDBEngine
from joinedup.views.conformance import canonical_row
from joinedup.views.engines import ReferenceEngine, run_many
from joinedup.views.engines.duckdb import DuckDBEngine
from joinedup.views.model import ViewDefinition, parse_view
from joinedup.views.sources import Source, write_ndjson

WORDS = st.sampled_from(["Ng", "Roe", "Smith", "O'Neil", "Zoë", "a,b", ""])

HUMAN_NAME = st.fixed_dictionaries(
    {},
    optional={
        "use": st.sampled_from(["official", "usual", "maiden"]),
        "family": WORDS,
        "given": st.lists(WORDS, min_size=1, max_size=3),
    },
)
TELECOM = st.fixed_dictionaries(
    {"system": st.sampled_from(["phone", "email"])}, optional={"value": WORDS}
)
BIRTH_DATE = (
    st.dates()
    .map(lambda d: d.isoformat())
    .flatmap(lambda text: st.sampled_from([text, text[:7], text[:4]]))
)


@st.composite
def patients(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(min_value=0, max_value=6))
    out = []
    for i in range(count):
        optional = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "gender": st.sampled_from(["male", "female", "unknown"]),
                    "active": st.booleans(),
                    "birthDate": BIRTH_DATE,
                    "name": st.lists(HUMAN_NAME, min_size=1, max_size=3),
                    "telecom": st.lists(TELECOM, min_size=1, max_size=3),
                },
            )
        )
        out.append({"resourceType": "Patient", "id": f"p{i}", **optional})
    return out


# (path, type) per focus: the resource, a HumanName, a ContactPoint, a string.
ROOT_COLUMNS = [
    ("id", "id"),
    ("gender", "code"),
    ("active", "boolean"),
    ("birthDate", "date"),
    ("birthDate.lowBoundary()", "date"),
    ("birthDate.highBoundary()", "date"),
    ("name.family.first()", "string"),
    ("name.given.join(',')", "string"),
    ("name.exists()", "boolean"),
    ("name.where(use = 'official').family.first()", "string"),
    ("telecom[1].value", "string"),
    ("getResourceKey()", "string"),
    ("%rowIndex", "integer"),
    ("gender = 'male' or active", "boolean"),
    ("name.given.first() = 'Ng'", "boolean"),
]
FOCUS_COLUMNS = {
    "name": [("family", "string"), ("use", "code"), ("given.join(' ')", "string"),
             ("given.exists()", "boolean"), ("%rowIndex", "integer"),
             ("family.empty()", "boolean")],
    "telecom": [("system", "code"), ("value", "string"), ("%rowIndex", "integer"),
                ("system = 'email'", "boolean")],
    "name.given": [("$this", "string"), ("%rowIndex", "integer")],
}  # fmt: skip
FILTERS = [
    "active = true",
    "gender.exists()",
    "name.where(family.exists()).exists()",
    "birthDate >= '1970'",
]


@st.composite
def views(draw: st.DrawFn) -> dict[str, Any]:
    names = iter(f"c{i}" for i in range(100))

    def columns(options: list[tuple[str, str]], low: int = 1) -> list[dict[str, Any]]:
        chosen = draw(st.lists(st.sampled_from(options), min_size=low, max_size=3))
        return [{"name": next(names), "path": path, "type": kind} for path, kind in chosen]

    selects: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        shape = draw(st.sampled_from(["plain", "forEach", "forEachOrNull", "unionAll"]))
        if shape == "plain":
            selects.append({"column": columns(ROOT_COLUMNS)})
            continue
        focus = draw(st.sampled_from(sorted(FOCUS_COLUMNS)))
        if shape == "unionAll":
            # Branches share column names and types: text columns from a name and a telecom.
            first = columns(
                [("family", "string"), ("use", "string"), ("given.join(' ')", "string")]
            )
            second = [
                {**column, "path": draw(st.sampled_from(["system", "value", "'x'"]))}
                for column in first
            ]
            selects.append(
                {
                    "unionAll": [
                        {"forEach": "name", "column": first},
                        {"forEachOrNull": "telecom", "column": second},
                    ]
                }
            )
            continue
        selects.append({shape: focus, "column": columns(FOCUS_COLUMNS[focus])})
    view: dict[str, Any] = {"resource": "Patient", "select": selects}
    if draw(st.booleans()):
        view["where"] = [{"path": draw(st.sampled_from(FILTERS))}]
    return view


def _rows(outcome: list[dict[str, Any]] | Exception) -> Counter[str] | str:
    if isinstance(outcome, Exception):
        return "error"
    return Counter(canonical_row(row) for row in outcome)


def _write(resources: list[dict[str, Any]]) -> Source:
    folder = Path(tempfile.mkdtemp(prefix="joinedup-agree-"))
    write_ndjson(folder, resources)
    return Source(folder)


def _comparable(view: ViewDefinition, source: Source) -> Counter[str] | str:
    return _rows(run_many(ReferenceEngine(), [view], source)[0])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(resources=patients(), view=views())
def test_duckdb_agrees_with_the_reference(
    resources: list[dict[str, Any]], view: dict[str, Any]
) -> None:
    parsed = parse_view(view)
    source = _write(resources)
    expected = _comparable(parsed, source)
    got = _rows(run_many(DuckDBEngine(), [parsed], source)[0])
    assert got == expected


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(resources=patients(), view=views())
def test_duckdb_over_columnar_parquet_agrees_with_the_reference(
    resources: list[dict[str, Any]], view: dict[str, Any]
) -> None:
    parsed = parse_view(view)
    source = _write(resources)
    expected = _comparable(parsed, source)
    got = _rows(run_many(ColumnarDuckDBEngine(), [parsed], source)[0])
    assert got == expected


def _json_text_copy(source: Source) -> Source:
    """``<folder>/json-text/<Type>.parquet``: each resource's JSON text in a ``resource``
    column, the layout DuckDB reads on the JSON path."""
    target = source.folder / "json-text"
    target.mkdir()
    for ndjson in source.folder.glob("*.ndjson"):
        lines = ndjson.read_text(encoding="utf-8").splitlines()
        pq.write_table(pa.table({"resource": lines}), target / f"{ndjson.stem}.parquet")
    return Source(target)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(resources=patients(), view=views())
def test_duckdb_over_json_text_parquet_agrees_with_the_reference(
    resources: list[dict[str, Any]], view: dict[str, Any]
) -> None:
    parsed = parse_view(view)
    source = _write(resources)
    expected = _comparable(parsed, source)
    got = _rows(run_many(DuckDBEngine(), [parsed], _json_text_copy(source))[0])
    assert got == expected


@pytest.mark.spark
def test_spark_agrees_with_the_reference(spark: Any) -> None:
    from joinedup.views.engines.spark import SparkEngine

    cases = [(views().example(), patients().example()) for _ in range(12)]
    resources = [
        {**resource, "id": f"{n}-{resource['id']}"}
        for n, (_, group) in enumerate(cases)
        for resource in group
    ]
    source = _write(resources)
    parsed = [parse_view(view) for view, _ in cases]
    engine = SparkEngine(spark)
    for view, outcome in zip(parsed, engine.rows_batch(parsed, source), strict=True):
        assert _rows(outcome) == _comparable(view, source)
