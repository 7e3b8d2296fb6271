"""Writing one resource type to one file, streaming: ``<Type>.ndjson`` or ``<Type>.parquet``.

The Parquet layout is what the views engines read: a ``resource`` column with the resource's
JSON text, plus convenience columns for quick filters and joins without parsing JSON
(``id``, ``patient`` — the Patient the resource is about — and ``last_updated``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from joinedup.export.deidentify import patient_id_of

Format = Literal["ndjson", "parquet"]
PARQUET_SCHEMA = pa.schema(
    [
        pa.field("resource", pa.string(), nullable=False),
        pa.field("id", pa.string()),
        pa.field("patient", pa.string()),
        pa.field("last_updated", pa.string()),
    ]
)
#: Rows buffered before a Parquet row group is written: bounds memory per open file.
PARQUET_BATCH = 8_192
_SUBJECT_ELEMENTS = ("subject", "patient", "beneficiary")


class ResourceWriter(Protocol):
    path: Path

    def write(self, resource: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


def open_writer(folder: Path, resource_type: str, format: Format) -> ResourceWriter:
    if format == "parquet":
        return ParquetResourceWriter(folder / f"{resource_type}.parquet")
    return NdjsonResourceWriter(folder / f"{resource_type}.ndjson")


class NdjsonResourceWriter:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: BinaryIO = path.open("wb")

    def write(self, resource: dict[str, Any]) -> None:
        self._file.write(orjson.dumps(resource, option=orjson.OPT_APPEND_NEWLINE))

    def close(self) -> None:
        self._file.close()


class ParquetResourceWriter:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer = pq.ParquetWriter(path, PARQUET_SCHEMA, compression="zstd")
        self._rows: dict[str, list[str | None]] = {name: [] for name in PARQUET_SCHEMA.names}

    def write(self, resource: dict[str, Any]) -> None:
        rows = self._rows
        rows["resource"].append(orjson.dumps(resource).decode())
        rows["id"].append(resource.get("id"))
        rows["patient"].append(patient_of(resource))
        rows["last_updated"].append(resource.get("meta", {}).get("lastUpdated"))
        if len(rows["resource"]) >= PARQUET_BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._rows["resource"]:
            self._writer.write_table(pa.Table.from_pydict(self._rows, schema=PARQUET_SCHEMA))
            self._rows = {name: [] for name in PARQUET_SCHEMA.names}

    def close(self) -> None:
        self._flush()
        self._writer.close()


def patient_of(resource: dict[str, Any]) -> str | None:
    """The id of the Patient a resource is about (its own id for a Patient)."""
    if resource.get("resourceType") == "Patient":
        return resource.get("id")
    for element in _SUBJECT_ELEMENTS:
        reference = resource.get(element)
        if isinstance(reference, dict) and isinstance(reference.get("reference"), str):
            patient_id = patient_id_of(reference["reference"])
            if patient_id:
                return patient_id
    return None
