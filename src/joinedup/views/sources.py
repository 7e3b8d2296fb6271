"""A source folder: per resource type ``<Type>.ndjson`` or ``<Type>.parquet``.

This is the snapshot shape agreed with the export and synthetic-data capabilities: NDJSON
holds one resource per line; Parquet is columnar (:mod:`joinedup.views.columnar`, what
``joinedup snapshot`` writes) or, in older snapshots, holds a ``resource`` column with each
resource's JSON text (other columns are ignored). ``manifest.json`` may sit beside them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from joinedup.fhir.outcome import FHIRError

FORMATS = ("ndjson", "parquet")


@dataclass(frozen=True)
class SourceFile:
    resource_type: str
    path: Path
    format: str


@dataclass(frozen=True)
class Source:
    """A folder of resources; :meth:`file` says where a resource type's data is."""

    folder: Path

    @classmethod
    def open(cls, folder: str | Path) -> Source:
        path = Path(folder)
        if not path.is_dir():
            raise FHIRError(
                f"source folder {path} does not exist; pass a snapshot or synthetic-data folder "
                "holding <Type>.ndjson or <Type>.parquet files",
                code="not-found",
                status=404,
            )
        return cls(path)

    def file(self, resource_type: str) -> SourceFile | None:
        for fmt in FORMATS:
            candidate = self.folder / f"{resource_type}.{fmt}"
            if candidate.is_file():
                return SourceFile(resource_type, candidate, fmt)
        return None

    def read(self, resource_type: str) -> Iterator[dict[str, Any]]:
        """Decoded resources of one type, decimals kept exact (needed for their precision)."""
        found = self.file(resource_type)
        if found is None:
            return
        for text in _texts(found):
            yield json.loads(text, parse_float=Decimal)


def _texts(found: SourceFile) -> Iterator[str]:
    if found.format == "parquet":
        from joinedup.views.columnar import resource_texts

        yield from resource_texts(found.path)
        return
    with found.path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield line


def write_ndjson(folder: Path, resources: list[dict[str, Any]]) -> None:
    """Write resources as ``<Type>.ndjson`` files (used by the conformance runner and tests)."""
    by_type: dict[str, list[str]] = {}
    for resource in resources:
        text = dump_json(resource)
        by_type.setdefault(resource["resourceType"], []).append(text)
    folder.mkdir(parents=True, exist_ok=True)
    for resource_type, lines in by_type.items():
        (folder / f"{resource_type}.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")


def dump_json(value: Any) -> str:
    """JSON text keeping each Decimal's exact digits (``1.0`` stays ``1.0``, not ``1``)."""
    if isinstance(value, dict):
        items = (f"{json.dumps(key)}:{dump_json(item)}" for key, item in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dump_json(item) for item in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value)
