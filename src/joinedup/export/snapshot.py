"""Snapshots for analytics: the record streamed through opt-out removal and de-identification
into one file per resource type plus ``manifest.json``. Parquet files are columnar (see
:mod:`joinedup.export.writers`); for them most resources are de-identified on their stored
JSON text without being parsed (:mod:`joinedup.export.verbatim`).

Written into a temporary sibling folder and renamed into place at the end, so readers never
see half a snapshot and a failed run leaves the previous snapshot untouched. Memory is flat:
one resource type is open at a time and streams to disk; the only set that grows is the ids
removed for opted-out people (a few per cent of the record).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from joinedup import __version__
from joinedup.export.deidentify import RESOURCE_ELEMENTS_REMOVED, Deidentification
from joinedup.export.optouts import OptOutFilter, opted_out_patients, stream_order
from joinedup.export.sources import ResourceSource
from joinedup.export.verbatim import verbatim
from joinedup.export.writers import Format, ResourceWriter, TypeFiles
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
    types = stream_order(source.type_sizes())
    if deidentification is not None:
        patients = opted_out_patients(source.resources("Consent"))
        optouts = OptOutFilter(patients, source.compartment(sorted(patients)))
    else:
        optouts = OptOutFilter(set())

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.{uuid.uuid4().hex}.partial"
    staging.mkdir()
    try:
        counts = _write_types(source, staging, types, format, optouts, deidentification, progress)
        manifest = {
            "snapshotTime": started.isoformat(),
            "joinedupVersion": __version__,
            "source": source.description,
            "format": format,
            **({"layout": "columnar"} if format == "parquet" else {}),
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


def _write_types(
    source: ResourceSource,
    folder: Path,
    types: list[str],
    format: Format,
    optouts: OptOutFilter,
    deidentification: Deidentification | None,
    progress: Progress | None,
) -> dict[str, int]:
    """Each type's file in ``folder``; how many resources each holds (types with some)."""
    leave_out = RESOURCE_ELEMENTS_REMOVED if deidentification is not None else frozenset()
    files = TypeFiles(folder, format, leave_out)
    # Finishing a type's file (the Parquet conversion, in DuckDB outside the GIL) overlaps
    # with streaming the next types through Python. One at a time: two at once ran out of
    # DuckDB's memory limit, and largest first leaves little to convert at the end.
    finishing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="snapshot-finish")
    finished: list[tuple[ResourceWriter, Future[None]]] = []
    counts: dict[str, int] = {}
    try:
        for resource_type in types:
            written, writer = _write_type(
                source, files, resource_type, optouts, deidentification, progress
            )
            if writer is not None:
                counts[resource_type] = written
                finished.append((writer, finishing.submit(writer.close)))
        for _, future in finished:
            future.result()
    except BaseException:
        finishing.shutdown(cancel_futures=True)
        for writer, future in finished:
            if future.cancelled():
                writer.discard()
        raise
    finally:
        finishing.shutdown()
        files.close()
    return counts


def _write_type(
    source: ResourceSource,
    files: TypeFiles,
    resource_type: str,
    optouts: OptOutFilter,
    deidentification: Deidentification | None,
    progress: Progress | None,
) -> tuple[int, ResourceWriter | None]:
    """How many resources were kept and the writer holding them, still to be closed."""
    writer = None
    written = read = 0
    try:
        for text in source.texts(resource_type):
            read += 1
            if progress is not None and read % _PROGRESS_EVERY == 0:
                progress(resource_type, _PROGRESS_EVERY)
            line = _published(text, resource_type, files.format, optouts, deidentification)
            if line is None:
                continue
            if writer is None:
                writer = files.open(resource_type)
            writer.write(line)
            written += 1
    except BaseException:
        if writer is not None:
            writer.discard()
        raise
    if progress is not None and read % _PROGRESS_EVERY:
        progress(resource_type, read % _PROGRESS_EVERY)
    return written, writer


def _published(
    text: str,
    resource_type: str,
    format: Format,
    optouts: OptOutFilter,
    deidentification: Deidentification | None,
) -> bytes | None:
    """The NDJSON line to write for a resource's text, or ``None`` if it is removed.

    Columnar files take texts de-identified without parsing where :func:`verbatim` clears
    them (the columns drop the top-level ``text`` it lets through); NDJSON files, which have
    no columns to drop, always take the full transform."""
    if format == "parquet":
        if deidentification is None:
            return text.encode() + b"\n"
        cleared = verbatim(text, resource_type)
        if cleared is not None:
            if optouts.removes_relative(f"{resource_type}/{cleared.id}", cleared.references):
                return None
            pseudonym = deidentification.pseudonymiser.patient
            return cleared.with_pseudonyms(pseudonym).encode() + b"\n"
    kept = optouts.apply(orjson.loads(text))
    if kept is None:
        return None
    if deidentification is not None:
        kept = deidentification.apply(kept)
    return orjson.dumps(kept, option=orjson.OPT_APPEND_NEWLINE)


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
