"""Where a snapshot reads resources from: the record store, or a folder of ``<Type>.ndjson`` /
``<Type>.parquet`` files (what the synthetic generator and a snapshot write).

Both stream one resource type at a time so memory stays flat whatever the size.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import orjson

from joinedup.fhir.outcome import FHIRError
from joinedup.store.base import Store
from joinedup.views.columnar import resource_texts

_COMPARTMENT_BATCH = 500
_Value = TypeVar("_Value", str, int)


class ResourceSource(Protocol):
    description: str

    def type_sizes(self) -> dict[str, int]:
        """Each type that has at least one current resource, with its size: a count of
        resources or of bytes, enough to tell the big types from the small."""
        ...

    def resources(self, resource_type: str) -> Iterator[dict[str, Any]]: ...

    def texts(self, resource_type: str) -> Iterator[str]:
        """What :meth:`resources` yields, as each resource's JSON text (valid JSON)."""
        ...

    def compartment(self, patient_ids: Sequence[str]) -> Iterable[tuple[str, str]]:
        """(type, id) of every resource in these patients' compartments, where the source
        indexes compartments; a folder does not (references decide there)."""
        ...


class FolderSource:
    """A folder with one ``<Type>.ndjson`` or ``<Type>.parquet`` (either snapshot layout) per
    type."""

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise FHIRError(
                f"{folder} is not a folder; give a folder of <Type>.ndjson files", code="not-found"
            )
        self.folder = folder
        self.description = f"folder {folder.name}"
        self._files: dict[str, Path] = {}
        for path in sorted(folder.iterdir()):
            if path.suffix in {".ndjson", ".parquet"} and path.stem[:1].isupper():
                if path.stem in self._files:
                    raise FHIRError(
                        f"{folder} holds both {path.stem}.ndjson and {path.stem}.parquet; keep one"
                    )
                self._files[path.stem] = path
        if not self._files:
            raise FHIRError(
                f"{folder} holds no <Type>.ndjson or <Type>.parquet files", code="not-found"
            )

    def type_sizes(self) -> dict[str, int]:
        return {resource_type: path.stat().st_size for resource_type, path in self._files.items()}

    def resources(self, resource_type: str) -> Iterator[dict[str, Any]]:
        for text, resource in self._read(resource_type):
            yield resource if resource is not None else orjson.loads(text)

    def texts(self, resource_type: str) -> Iterator[str]:
        for text, _ in self._read(resource_type):
            yield text

    def _read(self, resource_type: str) -> Iterator[tuple[str, dict[str, Any] | None]]:
        """Each resource's text, with the resource where checking the text parsed it."""
        path = self._files.get(resource_type)
        if path is None:
            return
        if path.suffix == ".parquet":
            for text in resource_texts(path):
                yield text, None
            return
        with path.open("rb") as lines:
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    try:
                        resource = orjson.loads(line)
                    except orjson.JSONDecodeError as exc:
                        raise FHIRError(
                            f"{path.name} line {number} is not JSON ({exc}); "
                            "fix or regenerate the file"
                        ) from None
                    # Spelled again by orjson, as the record stores JSON: a hand-written line
                    # may repeat a key, and the text must be the resource parsed here.
                    yield orjson.dumps(resource).decode(), resource

    def compartment(self, patient_ids: Sequence[str]) -> Iterable[tuple[str, str]]:
        return ()


class StoreSource:
    """The record: current, non-deleted resources through :meth:`Store.iter_resources`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.description = f"record store ({store.dialect})"

    def type_sizes(self) -> dict[str, int]:
        with self.store.transaction() as tx:
            present = tx.execute("SELECT DISTINCT resource_type FROM resource WHERE deleted = 0")
            # Deleted rows counted too: then only the (resource_type, ...) index is read.
            counts = tx.execute(
                "SELECT resource_type, count(*) FROM resource GROUP BY resource_type"
            )
        sizes = {str(resource_type): int(count) for resource_type, count in counts}
        return {str(resource_type): sizes[str(resource_type)] for (resource_type,) in present}

    def resources(self, resource_type: str) -> Iterator[dict[str, Any]]:
        for stored in self.store.iter_resources([resource_type]):
            if stored.resource is not None:
                yield stored.resource

    def texts(self, resource_type: str) -> Iterator[str]:
        return self.store.iter_json([resource_type])

    def compartment(self, patient_ids: Sequence[str]) -> Iterator[tuple[str, str]]:
        # The compartment index first, then the members' rows in table order: looked up in
        # the index's order they are random reads all over a large record. Yielded, not
        # listed: the opt-out keeps them in a set of its own.
        pks: list[int] = []
        for batch in _batches(patient_ids):
            with self.store.transaction() as tx:
                rows = tx.execute(
                    "SELECT resource_pk FROM patient_compartment "  # noqa: S608 - marks only
                    f"WHERE patient_id IN ({_marks(batch)})",
                    batch,
                )
            pks.extend(int(pk) for (pk,) in rows)
        for pk_batch in _batches(sorted(set(pks))):
            with self.store.transaction() as tx:
                found = tx.execute(
                    "SELECT resource_type, id FROM resource "  # noqa: S608 - marks only
                    f"WHERE deleted = 0 AND pk IN ({_marks(pk_batch)})",
                    pk_batch,
                )
            yield from ((str(t), str(i)) for t, i in found)


def _batches(values: Sequence[_Value]) -> Iterator[list[_Value]]:
    for start in range(0, len(values), _COMPARTMENT_BATCH):
        yield list(values[start : start + _COMPARTMENT_BATCH])


def _marks(batch: Sequence[object]) -> str:
    return ", ".join("?" for _ in batch)
