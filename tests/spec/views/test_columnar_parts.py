"""A type's NDJSON converted from parts gives the columnar file the whole gives: the columns
inferred part by part and merged (``merged_columns``) are the ones DuckDB infers over the
whole file, in the same order, and every row reads back the same. The snapshot writer infers
a big type's parts while later ones stream (``TypeFiles(part_lines=…)``)."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from joinedup.export.writers import TypeFiles
from joinedup.synth.generator import SynthOptions, generate
from joinedup.views.columnar import (
    columnar_columns,
    merged_columns,
    streaming_connection,
    write_columnar,
)

KEYS = ["a", "b", "c", "d"]
#: Values whose types clash across rows: integers (one beyond 64 bits), decimals, booleans,
#: dates and other text, nulls, lists and objects nested in each other.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.just(2**70),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(["x", "2024-01-02", "2024-01-02T10:00:00Z", "10:30:00", ""]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=3),
    ),
    max_leaves=8,
)
rows = st.lists(
    st.dictionaries(st.sampled_from(KEYS), values, max_size=4).map(
        lambda row: {"resourceType": "Thing", **row}
    ),
    min_size=2,
    max_size=12,
)


def written(path: Path, resources: list[dict[str, Any]]) -> Path:
    # The standard library spells an integer beyond 64 bits; orjson refuses it.
    path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in resources))
    return path


def parquet_of(path: Path) -> tuple[Any, list[dict[str, Any]]]:
    table = pq.read_table(path)
    return table.schema, table.to_pylist()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(resources=rows, cuts=st.lists(st.integers(min_value=1, max_value=11), max_size=3))
def test_parts_merge_to_the_columns_duckdb_infers_over_the_whole_file(
    tmp_path_factory: pytest.TempPathFactory, resources: list[dict[str, Any]], cuts: list[int]
) -> None:
    folder = tmp_path_factory.mktemp("parts")
    bounds = sorted({0, len(resources), *(c for c in cuts if c < len(resources))})
    parts = [
        written(folder / f"part{i}.ndjson", resources[start:end])
        for i, (start, end) in enumerate(pairwise(bounds))
    ]
    whole = written(folder / "whole.ndjson", resources)
    with streaming_connection() as connection:
        columns = merged_columns([columnar_columns(p, connection) for p in parts])
        assume(columns is not None)  # undecided: the writer infers the parts together
        assert write_columnar(whole, folder / "whole.parquet", connection) == len(resources)
        converted = write_columnar(parts, folder / "parts.parquet", connection, columns=columns)
        assert converted == len(resources)
    whole_schema, whole_rows = parquet_of(folder / "whole.parquet")
    parts_schema, parts_rows = parquet_of(folder / "parts.parquet")
    assert parts_schema == whole_schema
    assert parts_rows == whole_rows


def test_parts_of_fhir_resources_merge_without_inferring_again(tmp_path: Path) -> None:
    """Resources clash in no element, so every type's parts merge (the fast path)."""
    ics = tmp_path / "ics"
    generate(SynthOptions(people=60, seed=3, out=ics))
    with streaming_connection() as connection:
        for source in sorted(ics.glob("*.ndjson")):
            lines = source.read_bytes().splitlines(keepends=True)
            parts = []
            for start in range(0, len(lines), 5):
                parts.append(tmp_path / f"{source.stem}.{start}.ndjson")
                parts[-1].write_bytes(b"".join(lines[start : start + 5]))
            merged = merged_columns([columnar_columns(p, connection) for p in parts])
            assert merged == columnar_columns(source, connection), source.stem


def test_the_snapshot_writer_infers_parts_in_the_background_to_the_same_files(
    tmp_path: Path,
) -> None:
    ics = tmp_path / "ics"
    generate(SynthOptions(people=60, seed=3, out=ics))
    outputs = {}
    for name, part_lines in (("whole", 10**9), ("parts", 7)):
        folder = tmp_path / name
        folder.mkdir()
        files = TypeFiles(folder, "parquet", frozenset({"text"}), part_lines=part_lines)
        try:
            for source in sorted(ics.glob("*.ndjson")):
                writer = files.open(source.stem)
                for line in source.read_bytes().splitlines(keepends=True):
                    writer.write(line)
                writer.close()
        finally:
            files.close()
        outputs[name] = {path.name: parquet_of(path) for path in sorted(folder.iterdir())}
    assert sorted(outputs["parts"]) == sorted(f"{p.stem}.parquet" for p in ics.glob("*.ndjson"))
    assert outputs["parts"] == outputs["whole"]
    observations = outputs["parts"]["Observation.parquet"][1]
    assert len(observations) > 7 * 3  # several parts, merged


def test_a_discarded_writer_leaves_no_part_behind(tmp_path: Path) -> None:
    files = TypeFiles(tmp_path, "parquet", part_lines=2)
    try:
        writer = files.open("Observation")
        for number in range(9):
            writer.write(orjson.dumps({"resourceType": "Observation", "id": str(number)}) + b"\n")
        writer.discard()
    finally:
        files.close()
    assert list(tmp_path.iterdir()) == []
