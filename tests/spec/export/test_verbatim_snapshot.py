"""A columnar snapshot is the same whether resources go through the text path
(:mod:`joinedup.export.verbatim`) or all through the full de-identifying transform: same
files, same column types, same rows read back, same opt-out counts — on the synthetic ICS
(with national data opt-outs) in SQLite and PostgreSQL, and on Synthea loaded into SQLite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

from joinedup.export import snapshot
from joinedup.export.deidentify import Deidentification
from joinedup.export.pseudonyms import Pseudonymiser
from joinedup.export.snapshot import write_snapshot
from joinedup.export.sources import FolderSource, StoreSource
from joinedup.export.verbatim import Verbatim, verbatim
from joinedup.record.load import FIRST, Loader, source_files
from joinedup.store import Store
from joinedup.synth.generator import SynthOptions, generate

KEY = b"t" * 32
SYNTHEA_BUNDLES = 15


def both_ways(
    store: Store, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path, float]:
    """The snapshot through the text path and through the full transform only, and the share
    of resources the text path took."""
    cleared = tried = 0

    def counted(text: str, resource_type: str) -> Verbatim | None:
        nonlocal cleared, tried
        found = verbatim(text, resource_type)
        tried += 1
        cleared += found is not None
        return found

    deid = Deidentification(Pseudonymiser(KEY))
    with monkeypatch.context() as patch:
        patch.setattr(snapshot, "verbatim", counted)
        write_snapshot(StoreSource(store), folder / "text", deidentification=deid)
    with monkeypatch.context() as patch:
        patch.setattr(snapshot, "verbatim", lambda text, resource_type: None)
        write_snapshot(StoreSource(store), folder / "full", deidentification=deid)
    return folder / "text", folder / "full", cleared / tried


def assert_same_snapshot(text_path: Path, full_path: Path) -> None:
    manifests = [orjson.loads((f / "manifest.json").read_bytes()) for f in (text_path, full_path)]
    for name in ("counts", "files", "optOut", "deidentification", "layout"):
        assert manifests[0][name] == manifests[1][name], name
    for resource_type in manifests[0]["counts"]:
        file = f"{resource_type}.parquet"
        schemas = [pq.read_schema(f / file) for f in (text_path, full_path)]
        assert schemas[0] == schemas[1], resource_type
        rows = [by_id(FolderSource(f).resources(resource_type)) for f in (text_path, full_path)]
        assert rows[0] == rows[1], resource_type


def by_id(resources: Iterator[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {resource["id"]: resource for resource in resources}


@pytest.fixture(scope="module")
def synthetic_ics(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("ics")
    generate(SynthOptions(people=300, seed=29, out=folder, workers=1))
    return [
        orjson.loads(line)
        for path in sorted(folder.glob("*.ndjson"))
        for line in path.read_bytes().splitlines()
    ]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_the_synthetic_ics_snapshots_the_same_through_the_text_path(
    synthetic_ics: list[dict[str, Any]],
    store_kind: str,
    store_factory: Callable[[str], AbstractContextManager[Store]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with store_factory(store_kind) as store:
        store.bulk_load(synthetic_ics)
        text_path, full_path, share = both_ways(store, tmp_path, monkeypatch)
    assert share > 0.8
    manifest = orjson.loads((text_path / "manifest.json").read_bytes())
    assert manifest["optOut"]["peopleRemoved"] > 0 and manifest["optOut"]["resourcesRemoved"] > 0
    assert_same_snapshot(text_path, full_path)


def test_synthea_snapshots_the_same_through_the_text_path(
    reference_dir: Path,
    store_factory: Callable[[str], AbstractContextManager[Store]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Synthea writes narratives, reference displays and attachments: the full path's share.
    files = source_files([reference_dir / "synthea-r4"])
    shared = [f for f in files if f.name.startswith(FIRST)]
    bundles = [f for f in files if f not in shared][:SYNTHEA_BUNDLES]
    with store_factory("sqlite") as store:
        assert not Loader(store, strict=True).load([*shared, *bundles]).problems
        text_path, full_path, share = both_ways(store, tmp_path, monkeypatch)
    assert 0 < share < 1
    assert_same_snapshot(text_path, full_path)
