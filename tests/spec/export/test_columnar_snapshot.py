"""Columnar Parquet snapshots lose nothing: every resource read back from the columnar files
equals the de-identified resource written (the NDJSON snapshot under the same key), through
every reader of snapshot folders, and Spark runs the standard views over them. Snapshots in
the older JSON-text Parquet layout (a ``resource`` column) still read everywhere."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from joinedup.export.deidentify import Deidentification
from joinedup.export.pseudonyms import Pseudonymiser
from joinedup.export.snapshot import write_snapshot
from joinedup.export.sources import FolderSource, ResourceSource, StoreSource
from joinedup.store import open_store
from joinedup.synth.generator import SynthOptions, generate
from joinedup.views.columnar import is_columnar
from joinedup.views.conformance import canonical_row
from joinedup.views.engines import ReferenceEngine, run_many
from joinedup.views.library.catalogue import VIEW_NAMES, library_view
from joinedup.views.sources import Source

KEY = b"c" * 32
SYNTHEA_BUNDLES = 12


def by_id(resources: Any) -> dict[str, dict[str, Any]]:
    return {resource["id"]: resource for resource in resources}


def snapshots(source: ResourceSource, folder: Path) -> tuple[Path, Path]:
    """The same de-identified snapshot as NDJSON (what was written) and as Parquet."""
    deid = Deidentification(Pseudonymiser(KEY))
    for format in ("ndjson", "parquet"):
        write_snapshot(source, folder / format, format=format, deidentification=deid)
    return folder / "ndjson", folder / "parquet"


def assert_round_trip(written: Path, columnar: Path) -> None:
    """Both readers give back every resource of every type exactly as written."""
    manifest = orjson.loads((columnar / "manifest.json").read_bytes())
    assert manifest["layout"] == "columnar"
    assert sorted(manifest["counts"]) == sorted(p.stem for p in written.glob("*.ndjson"))
    for resource_type, count in manifest["counts"].items():
        assert is_columnar(columnar / f"{resource_type}.parquet")
        lines = (written / f"{resource_type}.ndjson").read_bytes().splitlines()
        expected = by_id(orjson.loads(line) for line in lines)
        assert len(expected) == count
        got = by_id(FolderSource(columnar).resources(resource_type))
        assert got == expected, resource_type
        # The views' reader keeps decimals exact: compare with the NDJSON read the same way.
        exact = by_id(json.loads(line, parse_float=Decimal) for line in lines)
        assert by_id(Source(columnar).read(resource_type)) == exact, resource_type


@pytest.fixture(scope="module")
def synthetic_snapshots(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A synthetic ICS loaded into a SQLite record, snapshotted in both formats."""
    folder = tmp_path_factory.mktemp("columnar")
    generate(SynthOptions(people=300, seed=23, out=folder / "synthetic", workers=1))
    store = open_store(f"sqlite:///{folder / 'record.db'}")
    try:
        store.bulk_load(
            [
                orjson.loads(line)
                for path in sorted((folder / "synthetic").glob("*.ndjson"))
                for line in path.read_bytes().splitlines()
            ]
        )
        return snapshots(StoreSource(store), folder)
    finally:
        store.close()


def test_every_resource_of_a_synthetic_record_round_trips_through_columnar_parquet(
    synthetic_snapshots: tuple[Path, Path],
) -> None:
    written, columnar = synthetic_snapshots
    assert len(list(written.glob("*.ndjson"))) >= 12
    assert_round_trip(written, columnar)


def test_synthea_resources_of_every_shape_round_trip(reference_dir: Path, tmp_path: Path) -> None:
    # Synthea varies shapes between resources (value[x] of several types, decimals, nested
    # extensions): the elements that end up as JSON columns.
    folder = tmp_path / "synthea"
    folder.mkdir()
    by_type: dict[str, dict[str, bytes]] = {}
    for path in sorted((reference_dir / "synthea-r4").glob("*.json"))[:SYNTHEA_BUNDLES]:
        for entry in orjson.loads(path.read_bytes())["entry"]:
            resource = entry["resource"]
            # Bundles repeat the organisations and practitioners they share.
            of_type = by_type.setdefault(resource["resourceType"], {})
            of_type.setdefault(resource["id"], orjson.dumps(resource))
    for resource_type, lines in by_type.items():
        (folder / f"{resource_type}.ndjson").write_bytes(b"\n".join(lines.values()) + b"\n")
    written, columnar = snapshots(FolderSource(folder), tmp_path)
    assert len(by_type) >= 10
    # Decimal values are kept as JSON in the columnar file; they must come back as numbers.
    quantity = pq.read_schema(columnar / "Observation.parquet").field("valueQuantity").type
    assert "arrow.json" in str(quantity.field("value").type)
    assert_round_trip(written, columnar)


def test_absent_elements_stay_absent_and_nulls_inside_arrays_stay(tmp_path: Path) -> None:
    folder = tmp_path / "source"
    folder.mkdir()
    requests = [
        {
            "resourceType": "ServiceRequest",
            "id": "a",
            "status": "active",
            "instantiatesUri": ["https://example.org/a", "https://example.org/b"],
            "_instantiatesUri": [None, {"id": "second"}],
            "quantityQuantity": {"value": 1.25, "unit": "h"},
        },
        {"resourceType": "ServiceRequest", "id": "b", "quantityRatio": {"numerator": {}}},
        {"resourceType": "ServiceRequest", "id": "c", "status": "draft", "meta": {}},
    ]
    (folder / "ServiceRequest.ndjson").write_bytes(
        b"".join(orjson.dumps(r) + b"\n" for r in requests)
    )
    written, columnar = snapshots(FolderSource(folder), tmp_path)
    assert by_id(FolderSource(columnar).resources("ServiceRequest")) == by_id(requests)
    assert_round_trip(written, columnar)


def comparable(outcome: list[dict[str, Any]] | Exception) -> Counter[str]:
    assert not isinstance(outcome, Exception), outcome
    return Counter(canonical_row(row) for row in outcome)


def test_the_reference_engine_reads_columnar_snapshots(
    synthetic_snapshots: tuple[Path, Path],
) -> None:
    written, columnar = synthetic_snapshots
    views = [library_view(name) for name in VIEW_NAMES]
    expected = run_many(ReferenceEngine(), views, Source(written))
    got = run_many(ReferenceEngine(), views, Source(columnar))
    for view, want, have in zip(views, expected, got, strict=True):
        assert comparable(have) == comparable(want), view.name
    assert sum(len(comparable(rows)) for rows in expected) > 1000


@pytest.mark.spark
def test_spark_runs_the_standard_views_over_columnar_snapshots(
    spark: Any, synthetic_snapshots: tuple[Path, Path]
) -> None:
    from joinedup.views.engines.spark import SparkEngine

    written, columnar = synthetic_snapshots
    views = [library_view(name) for name in VIEW_NAMES]
    expected = run_many(ReferenceEngine(), views, Source(written))
    got = SparkEngine(spark).rows_batch(views, Source(columnar))
    for view, want, have in zip(views, expected, got, strict=True):
        assert comparable(have) == comparable(want), view.name


def json_text_layout(written: Path, out: Path) -> Path:
    """The snapshot as the JSON-text Parquet layout older versions wrote (``resource`` holds
    the JSON text, beside convenience columns)."""
    out.mkdir()
    for path in written.glob("*.ndjson"):
        lines = path.read_bytes().splitlines()
        ids = [orjson.loads(line)["id"] for line in lines]
        table = pa.table(
            {
                "resource": [line.decode() for line in lines],
                "id": ids,
                "patient": [None] * len(ids),
                "last_updated": [None] * len(ids),
            }
        )
        pq.write_table(table, out / f"{path.stem}.parquet")
    return out


def test_older_json_text_parquet_snapshots_still_read(
    synthetic_snapshots: tuple[Path, Path], tmp_path: Path
) -> None:
    written, _ = synthetic_snapshots
    older = json_text_layout(written, tmp_path / "older")
    assert not is_columnar(older / "Patient.parquet")
    for path in written.glob("*.ndjson"):
        lines = path.read_bytes().splitlines()
        assert by_id(FolderSource(older).resources(path.stem)) == by_id(map(orjson.loads, lines))
        exact = by_id(json.loads(line, parse_float=Decimal) for line in lines)
        assert by_id(Source(older).read(path.stem)) == exact
    # ... and can be turned into a columnar snapshot.
    deid = Deidentification(Pseudonymiser(KEY))
    again = write_snapshot(FolderSource(older), tmp_path / "again", deidentification=deid)
    assert again.counts and all(
        is_columnar(tmp_path / "again" / f) for f in again.manifest["files"]
    )


@pytest.mark.spark
def test_spark_still_reads_older_json_text_parquet_snapshots(
    spark: Any, synthetic_snapshots: tuple[Path, Path], tmp_path: Path
) -> None:
    from joinedup.views.engines.spark import SparkEngine

    written, _ = synthetic_snapshots
    older = json_text_layout(written, tmp_path / "older")
    views = [library_view(name) for name in ("patients", "observations", "encounters")]
    expected = run_many(ReferenceEngine(), views, Source(written))
    got = SparkEngine(spark).rows_batch(views, Source(older))
    for view, want, have in zip(views, expected, got, strict=True):
        assert comparable(have) == comparable(want), view.name
