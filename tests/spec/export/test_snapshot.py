"""Snapshots from every kind of source (folder, SQLite, PostgreSQL): de-identified, opt-out
clean, references intact, in both formats (Parquet is columnar)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from joinedup.export.deidentify import Deidentification
from joinedup.export.optouts import references_in
from joinedup.export.pseudonyms import Pseudonymiser
from joinedup.export.snapshot import write_snapshot
from joinedup.export.sources import FolderSource, ResourceSource
from joinedup.export.writers import Format
from joinedup.fhir.outcome import FHIRError
from joinedup.views.columnar import is_columnar


def deid(key: str) -> Deidentification:
    return Deidentification(Pseudonymiser(key.encode()))


def read_snapshot(folder: Path) -> dict[str, list[dict[str, Any]]]:
    manifest = orjson.loads((folder / "manifest.json").read_bytes())
    source = FolderSource(folder)
    return {Path(name).stem: list(source.resources(Path(name).stem)) for name in manifest["files"]}


def every_string_of(folder: Path) -> Iterator[str]:
    """Every string of every output file: each file's text, or for Parquet every column and
    field name and every string cell at any depth (a JSON-typed cell also as its JSON's
    strings), read with pyarrow rather than the snapshot's own reader."""
    for path in folder.iterdir():
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            yield from table.schema.names
            for column in table.columns:
                yield from strings(column.to_pylist())
        else:
            yield path.read_text()
            if path.suffix == ".ndjson":
                for line in path.read_bytes().splitlines():
                    yield from strings(orjson.loads(line))


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value
        if value[:1] in ("{", "[", '"'):
            yield from strings(orjson.loads(value))


@pytest.mark.parametrize("format", ["ndjson", "parquet"])
def test_no_identifying_string_of_the_source_appears_in_any_output_file(
    ics_source: ResourceSource, tmp_path: Path, format: Format, crafted: ModuleType
) -> None:
    out = tmp_path / "snapshot"
    write_snapshot(ics_source, out, format=format, deidentification=deid(crafted.KEY))
    identifying = crafted.identifying_strings(crafted.record())
    scanned = set()
    for text in every_string_of(out):
        scanned.add(text)
        leaked = [s for s in identifying if s in text]
        assert not leaked, f"{leaked} found in the snapshot"
    # The scan must have seen every string the snapshot publishes, however it is stored.
    published = {text for resources in read_snapshot(out).values() for text in strings(resources)}
    assert len(published) > 100
    assert published <= scanned, sorted(published - scanned)[:5]


@pytest.mark.parametrize("format", ["ndjson", "parquet"])
def test_opted_out_people_are_gone_from_every_resource_type(
    ics_source: ResourceSource, tmp_path: Path, format: Format, crafted: ModuleType
) -> None:
    result = write_snapshot(
        ics_source, tmp_path / "s", format=format, deidentification=deid(crafted.KEY)
    )
    pseudonymiser = Pseudonymiser(crafted.KEY.encode())
    gone = {pseudonymiser.patient(p) for p in crafted.OPTED_OUT} | crafted.OPTED_OUT
    text = "\n".join(every_string_of(tmp_path / "s"))
    for token in gone:
        assert f"Patient/{token}" not in text and f'"{token}"' not in text
    snapshot = read_snapshot(tmp_path / "s")
    assert len(snapshot["Patient"]) == 4
    # Encounters, observations and conditions of 2 of 6 people go; so do the claims that only
    # point at their encounters, and the provenance of their observations.
    for resource_type in (
        "Encounter",
        "Observation",
        "Condition",
        "Claim",
        "Provenance",
        "RelatedPerson",
    ):
        assert len(snapshot[resource_type]) == 4, resource_type
    assert [c["id"] for c in snapshot["Consent"]] == ["withdrawn"]
    group = snapshot["Group"][0]
    assert group["quantity"] == 4 and len(group["member"]) == 4
    assert result.manifest["optOut"] == {
        "peopleRemoved": 2,
        "resourcesRemoved": 2 * 9,
    }  # 9 resources each


@pytest.mark.parametrize("format", ["ndjson", "parquet"])
def test_every_reference_in_the_snapshot_resolves_inside_it(
    ics_source: ResourceSource, tmp_path: Path, format: Format, crafted: ModuleType
) -> None:
    write_snapshot(ics_source, tmp_path / "s", format=format, deidentification=deid(crafted.KEY))
    snapshot = read_snapshot(tmp_path / "s")
    present = {f"{t}/{r['id']}" for t, resources in snapshot.items() for r in resources}
    references = [
        ref for resources in snapshot.values() for r in resources for ref in references_in(r)
    ]
    assert len(references) > 50
    unresolved = sorted({ref for ref in references if ref not in present})
    assert not unresolved


def test_pseudonyms_are_stable_under_one_key_and_change_with_another(
    ics_source: ResourceSource, tmp_path: Path, crafted: ModuleType
) -> None:
    def patient_ids(key: str, name: str) -> list[str]:
        write_snapshot(ics_source, tmp_path / name, format="ndjson", deidentification=deid(key))
        return sorted(p["id"] for p in read_snapshot(tmp_path / name)["Patient"])

    first, again, other = (
        patient_ids(crafted.KEY, "a"),
        patient_ids(crafted.KEY, "b"),
        patient_ids(crafted.OTHER_KEY, "c"),
    )
    assert first == again
    assert not set(first) & set(other)


def test_manifest_records_time_counts_and_the_deidentification(
    ics_source: ResourceSource, tmp_path: Path, crafted: ModuleType
) -> None:
    result = write_snapshot(
        ics_source, tmp_path / "s", format="parquet", deidentification=deid(crafted.KEY)
    )
    manifest = orjson.loads((tmp_path / "s" / "manifest.json").read_bytes())
    assert manifest == result.manifest
    assert manifest["identifiable"] is False
    assert manifest["counts"]["Patient"] == 4 and manifest["counts"]["Organization"] == 2
    assert manifest["deidentification"]["generalised"]["Patient.birthDate"] == "month"
    assert (
        manifest["deidentification"]["pseudonym"]["keyFingerprint"]
        == Pseudonymiser(crafted.KEY.encode()).fingerprint()
    )
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == sorted(
        [*manifest["files"], "manifest.json"]
    )
    assert manifest["layout"] == "columnar"
    assert all(is_columnar(tmp_path / "s" / name) for name in manifest["files"])


def test_parquet_columns_are_the_typed_elements_holding_the_pseudonyms(
    ics_source: ResourceSource, tmp_path: Path, crafted: ModuleType
) -> None:
    write_snapshot(ics_source, tmp_path / "s", format="parquet", deidentification=deid(crafted.KEY))
    schema = pq.read_schema(tmp_path / "s" / "Condition.parquet")
    assert {"resourceType", "id", "subject", "code"} <= set(schema.names)
    assert pa.types.is_struct(schema.field("subject").type)
    pseudonyms = {Pseudonymiser(crafted.KEY.encode()).patient(f"p{i}") for i in range(6)}
    references = duckdb.execute(
        "SELECT subject.reference FROM read_parquet($path)",
        {"path": str(tmp_path / "s" / "Condition.parquet")},
    ).fetchall()
    assert len(references) == 4
    assert {reference for (reference,) in references} <= {f"Patient/{p}" for p in pseudonyms}


def test_identifiable_snapshot_keeps_everyone_as_recorded(
    ics_source: ResourceSource, tmp_path: Path, crafted: ModuleType
) -> None:
    result = write_snapshot(ics_source, tmp_path / "s", format="ndjson", deidentification=None)
    snapshot = read_snapshot(tmp_path / "s")

    def unstored(resource: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in resource.items() if k != "meta"}

    assert [unstored(p) for p in snapshot["Patient"]] == [
        unstored(p) for p in crafted.record()["Patient"]
    ]
    assert result.manifest["identifiable"] is True and result.manifest["optOut"] is None


def test_a_snapshot_replaces_a_previous_one_but_never_other_folders(
    ics_source: ResourceSource, tmp_path: Path, crafted: ModuleType
) -> None:
    out = tmp_path / "s"
    write_snapshot(ics_source, out, format="ndjson", deidentification=deid(crafted.KEY))
    write_snapshot(ics_source, out, format="parquet", deidentification=deid(crafted.KEY))
    assert (out / "Patient.parquet").exists() and not (out / "Patient.ndjson").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    other = tmp_path / "precious"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(FHIRError, match="not a snapshot"):
        write_snapshot(ics_source, other, format="ndjson", deidentification=deid(crafted.KEY))
    assert (other / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("format", ["ndjson", "parquet"])
def test_a_failed_snapshot_leaves_no_partial_folder(
    ics_folder: Path, tmp_path: Path, crafted: ModuleType, format: Format
) -> None:
    # Zebra streams after the clinical types, while their files may still be being finished.
    (ics_folder / "Zebra.ndjson").write_text('{"resourceType": "Zebra"}\nnot json\n')
    with pytest.raises(FHIRError, match=r"Zebra\.ndjson line 2 is not JSON"):
        write_snapshot(
            FolderSource(ics_folder),
            tmp_path / "s",
            format=format,
            deidentification=deid(crafted.KEY),
        )
    assert list(tmp_path.iterdir()) == [ics_folder]
