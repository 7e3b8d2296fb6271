"""Snapshots for analytics: the record streamed through opt-out removal and de-identification
into one file per resource type plus ``manifest.json``.

Written into a temporary sibling folder and renamed into place at the end, so readers never
see half a snapshot and a failed run leaves the previous snapshot untouched. Memory is flat:
one resource type is open at a time and each writer buffers a bounded batch; the only set
that grows is the ids removed for opted-out people (a few per cent of the record).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from joinedup import __version__
from joinedup.export.deidentify import Deidentification
from joinedup.export.optouts import OptOutFilter, opted_out_patients, stream_order
from joinedup.export.sources import ResourceSource
from joinedup.export.writers import Format, open_writer
from joinedup.fhir.outcome import FHIRError

MANIFEST = "manifest.json"
Progress = Callable[[str, int], None]
"""Called with a resource type and how many of its resources were just read."""
_PROGRESS_EVERY = 5_000


@dataclass
class SnapshotResult:
    folder: Path
    manifest: dict[str, Any]
    counts: dict[str, int] = field(default_factory=dict)


def write_snapshot(
    source: ResourceSource,
    out: Path,
    *,
    format: Format = "parquet",
    deidentification: Deidentification | None,
    progress: Progress | None = None,
) -> SnapshotResult:
    """Write a snapshot of ``source`` to ``out``.

    ``deidentification=None`` writes an *identifiable* snapshot (the caller has checked the
    ``allow_identifiable`` setting and audited it); opt-outs do not apply to direct care, so
    nobody is removed. Otherwise opted-out people go with everything about them and every
    remaining resource is de-identified. ``out`` must be absent, empty or a previous snapshot.
    """
    _check_target(out)
    started = datetime.now(UTC)
    types = stream_order(source.resource_types())
    if deidentification is not None:
        patients = opted_out_patients(source.resources("Consent"))
        optouts = OptOutFilter(patients, source.compartment(sorted(patients)))
    else:
        optouts = OptOutFilter(set())

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.{uuid.uuid4().hex}.partial"
    staging.mkdir()
    counts: dict[str, int] = {}
    try:
        for resource_type in types:
            written = _write_type(
                source, staging, resource_type, format, optouts, deidentification, progress
            )
            if written:
                counts[resource_type] = written
        manifest = {
            "snapshotTime": started.isoformat(),
            "joinedupVersion": __version__,
            "source": source.description,
            "format": format,
            "identifiable": deidentification is None,
            "deidentification": deidentification.describe() if deidentification else None,
            "optOut": None
            if deidentification is None
            else {
                "peopleRemoved": len(optouts.patients),
                "resourcesRemoved": optouts.removed_count,
            },
            "counts": counts,
            "files": [f"{t}.{format}" for t in counts],
        }
        (staging / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
        _replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return SnapshotResult(out, manifest, counts)


def _write_type(
    source: ResourceSource,
    folder: Path,
    resource_type: str,
    format: Format,
    optouts: OptOutFilter,
    deidentification: Deidentification | None,
    progress: Progress | None,
) -> int:
    writer = None
    written = read = 0
    try:
        for resource in source.resources(resource_type):
            read += 1
            if progress is not None and read % _PROGRESS_EVERY == 0:
                progress(resource_type, _PROGRESS_EVERY)
            kept = optouts.apply(resource)
            if kept is None:
                continue
            if deidentification is not None:
                kept = deidentification.apply(kept)
            if writer is None:
                writer = open_writer(folder, resource_type, format)
            writer.write(kept)
            written += 1
    finally:
        if writer is not None:
            writer.close()
    if progress is not None and read % _PROGRESS_EVERY:
        progress(resource_type, read % _PROGRESS_EVERY)
    return written


def _check_target(out: Path) -> None:
    if out.exists() and (
        not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).exists())
    ):
        raise FHIRError(
            f"{out} exists and is not a snapshot; choose a new folder "
            "(a previous snapshot is replaced)",
            code="conflict",
        )


def _replace(staging: Path, out: Path) -> None:
    if out.exists():
        retired = out.parent / f".{out.name}.{uuid.uuid4().hex}.old"
        out.rename(retired)
        staging.rename(out)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staging.rename(out)
