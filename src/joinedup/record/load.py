"""Loading files into the record: NDJSON (one resource per line) and Bundle JSON files.

A Bundle file is processed exactly as ``POST /fhir`` would (a transaction all or nothing, a
batch entry by entry). A plain transaction of creates and updates — what Synthea and most
exporters write — takes a fast path: ids and references are resolved as the spec says, each
resource is validated, and the whole Bundle is written with one batched ``bulk_load``.
NDJSON lines carry their ids (as Bulk Data export writes them) and are written in batches
as update-as-create; one bad line is reported with its file and line number and skipped.

A load is a write like any other, so each Bundle file and each NDJSON batch leaves one
Provenance (``joinedup.record.provenance``), in the same ``bulk_load`` and so the same
database transaction: one per resource would double the rows written. The batched path
writes update-as-create without reading what was there, so it cannot know a version it
overwrote: its targets are versioned for the Bundle's creates (a new id is version 1) and
unversioned otherwise, and its ``activity`` is given only when every entry is a create.

Nothing here prints: progress and problems go to the callbacks, so the command decides how
they look (and no resource content ever reaches a message).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from joinedup.fhir.bundle import (
    EntryRequest,
    Written,
    parse_bundle,
    process,
    resolve_transaction,
)
from joinedup.fhir.outcome import FHIRError
from joinedup.fhir.validation import validate_references
from joinedup.record.interactions import Record
from joinedup.record.provenance import Author, provenance
from joinedup.store.base import Gone, NotFound, Store
from joinedup.store.ranges import now_instant

#: Synthea writes the organisations and practitioners its patient bundles point at into
#: these files; loading them first lets conditional references to them resolve.
FIRST = ("hospitalInformation", "practitionerInformation")
BATCH_LINES = 2_000
#: The agent of a load's Provenance when no organisation is named (``--org``).
SOFTWARE = "joinedup load"


@dataclass(frozen=True, slots=True)
class LoadProblem:
    file: Path
    line: int | None
    """1-based line of an NDJSON file; None for a Bundle file."""
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else str(self.file)
        return f"{where}: {self.message}"


@dataclass(slots=True)
class LoadSummary:
    files: int = 0
    resources: int = 0
    problems: list[LoadProblem] = field(default_factory=list)


class StopLoading(Exception):
    """Raised under ``strict`` at the first problem."""

    def __init__(self, problem: LoadProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def source_files(sources: Iterable[Path]) -> list[Path]:
    """Every ``.ndjson`` and ``.json`` file named or under a named folder, Synthea's shared
    organisation and practitioner files first, otherwise in name order."""
    found: list[Path] = []
    for source in sources:
        if source.is_dir():
            found += sorted(
                p for p in source.rglob("*") if p.is_file() and p.suffix in (".ndjson", ".json")
            )
        elif source.is_file():
            found.append(source)
        else:
            raise FileNotFoundError(f"{source} does not exist")
    return sorted(found, key=lambda p: (not p.name.startswith(FIRST), str(p)))


class Loader:
    """Loads files into ``store`` on behalf of ``writer_org`` (None: no attribution)."""

    def __init__(
        self,
        store: Store,
        *,
        writer_org: str | None = None,
        strict: bool = False,
        on_progress: Callable[[int], None] = lambda _bytes: None,
        on_problem: Callable[[LoadProblem], None] = lambda _problem: None,
    ) -> None:
        self.store = store
        self.record = Record(store, base="", author=Author(org=writer_org, software=SOFTWARE))
        self.writer_org = writer_org
        self.strict = strict
        self.on_progress = on_progress
        self.on_problem = on_problem
        self.summary = LoadSummary()
        self._known: set[tuple[str, str]] = set()

    def load(self, files: Iterable[Path]) -> LoadSummary:
        for path in files:
            self.summary.files += 1
            if path.suffix == ".ndjson":
                self._load_ndjson(path)
            else:
                self._load_bundle_file(path)
        return self.summary

    def _problem(self, path: Path, line: int | None, message: str) -> None:
        problem = LoadProblem(path, line, message)
        self.summary.problems.append(problem)
        self.on_problem(problem)
        if self.strict:
            raise StopLoading(problem)

    # --- Bundles --------------------------------------------------------------------------

    def _load_bundle_file(self, path: Path) -> None:
        data = path.read_bytes()
        try:
            parsed = parse_bundle(orjson.loads(data))
            if parsed.type == "transaction" and _plain_writes(parsed.entries):
                self.summary.resources += self._bulk_transaction(parsed.entries)
            else:
                response = process(parsed, self.record)
                self.summary.resources += sum(
                    1
                    for entry in response["entry"]
                    if entry["response"]["status"].startswith(("200", "201"))
                    and "outcome" not in entry["response"]
                )
                for index, entry in enumerate(response["entry"]):
                    if "outcome" in entry["response"]:
                        issue = entry["response"]["outcome"]["issue"][0]
                        self._problem(path, None, f"entry {index}: {issue['diagnostics']}")
        except orjson.JSONDecodeError as error:
            self._problem(path, None, f"not valid JSON ({error})")
        except FHIRError as error:
            self._problem(path, None, f"{error.diagnostics} (nothing from this file was loaded)")
        self.on_progress(len(data))

    def _bulk_transaction(self, entries: list[EntryRequest]) -> int:
        resolve_transaction(entries, self.record, None)
        pending = entries[0].pending if entries else frozenset()
        resources = []
        for entry in entries:
            resource_type = str(entry.target.resource_type)
            resource_id = entry.assigned_id or entry.target.id
            try:
                checked = self.record.checked({**entry.body, "id": resource_id}, resource_type)
                validate_references(
                    checked, lambda kind, id: (kind, id) in pending or self._exists(kind, id)
                )
            except FHIRError as error:
                raise FHIRError(
                    f"Bundle.entry[{entry.index}]: {error.diagnostics}",
                    status=error.status,
                    code=error.code,
                ) from None
            resources.append(checked)
        now = now_instant()
        written = [
            Written(f"{r['resourceType']}/{r['id']}/_history/1", "CREATE", now)
            if entry.method == "POST"
            else Written(f"{r['resourceType']}/{r['id']}", None, now)
            for entry, r in zip(entries, resources, strict=True)
        ]
        count = self.store.bulk_load(
            [*resources, self._provenance(written)], source_org=self.writer_org
        )
        self._known |= pending
        return count - 1

    def _provenance(self, written: list[Written]) -> dict[str, Any]:
        """The load's Provenance of ``written``, validated like any write (its targets are
        written in the same ``bulk_load``, so they are not looked up)."""
        resource = provenance(written, self.record.author, self._exists)
        return self.record.checked({**resource, "id": str(uuid.uuid4())}, "Provenance")

    def _exists(self, resource_type: str, id: str) -> bool:
        if (resource_type, id) in self._known:
            return True
        try:
            self.store.read(resource_type, id)
        except NotFound:
            return False
        except Gone:
            pass
        self._known.add((resource_type, id))
        return True

    # --- NDJSON ---------------------------------------------------------------------------

    def _load_ndjson(self, path: Path) -> None:
        batch: list[dict[str, Any]] = []
        first_line = 1
        with path.open("rb") as lines:
            for number, line in enumerate(lines, start=1):
                self.on_progress(len(line))
                if not line.strip():
                    continue
                resource = self._ndjson_line(path, number, line)
                if resource is None:
                    continue
                if not batch:
                    first_line = number
                batch.append(resource)
                if len(batch) >= BATCH_LINES:
                    self._write_batch(path, first_line, number, batch)
                    batch = []
        if batch:
            self._write_batch(path, first_line, number, batch)

    def _ndjson_line(self, path: Path, number: int, line: bytes) -> dict[str, Any] | None:
        try:
            resource = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            self._problem(path, number, f"not valid JSON: {error.msg} at character {error.pos + 1}")
            return None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            self._problem(path, number, "not a FHIR resource (no resourceType)")
            return None
        if not isinstance(resource.get("id"), str):
            self._problem(path, number, "an NDJSON resource needs its id")
            return None
        try:
            return self.record.checked(resource, resource["resourceType"])
        except FHIRError as error:
            self._problem(path, number, error.diagnostics)
            return None

    def _write_batch(self, path: Path, first: int, last: int, batch: list[dict[str, Any]]) -> None:
        now = now_instant()
        attested = self._provenance(
            [Written(f"{r['resourceType']}/{r['id']}", None, now) for r in batch]
        )
        try:
            self.summary.resources += (
                self.store.bulk_load([*batch, attested], source_org=self.writer_org) - 1
            )
        except FHIRError as error:
            self._problem(path, first, f"lines {first}-{last} not loaded: {error.diagnostics}")


def _plain_writes(entries: list[EntryRequest]) -> bool:
    """A transaction of unconditional creates and updates: fit for one ``bulk_load``."""
    return bool(entries) and all(
        not (entry.target.search or entry.target.history or entry.target.operation)
        and (
            (entry.method == "POST" and not entry.if_none_exist and entry.target.id is None)
            or (
                entry.method == "PUT"
                and entry.target.id is not None
                and entry.body.get("id") == entry.target.id
            )
        )
        for entry in entries
    )
