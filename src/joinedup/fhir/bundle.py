"""Batch and transaction Bundles (R4 http.html#transaction), independent of any store.

A Bundle becomes a list of :class:`EntryRequest` (the same shape a single REST request takes),
which an :class:`EntryExecutor` performs. For a **transaction** everything runs in one unit of
work, in the order the spec gives — DELETE, then POST, then PUT/PATCH, then GET/HEAD — after
every ``urn:uuid`` (or other ``fullUrl``) and every conditional reference (``Type?params``)
has been resolved to a real ``Type/id``; any failure undoes the whole Bundle. A **batch** runs
each entry on its own: one entry's failure is reported in its response entry and the rest go on.
Each unit of work ends by handing the executor what it wrote (:meth:`EntryExecutor.attest`;
the record writes a Provenance), inside the unit, so a unit that fails records nothing.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from joinedup.fhir.outcome import FHIRError
from joinedup.fhir.search_parameters import resource_types
from joinedup.fhir.validation import references

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
# R4 http.html#trules: the order a server processes a transaction's entries in.
_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}


@dataclass(slots=True)
class Target:
    """What a request URL addresses, relative to the FHIR base."""

    resource_type: str | None = None
    id: str | None = None
    version: str | None = None
    history: bool = False
    search: bool = False
    operation: str | None = None
    params: list[tuple[str, str]] = field(default_factory=list)

    @property
    def conditional(self) -> bool:
        """A type-level PUT/DELETE/PATCH with criteria (``Patient?identifier=…``)."""
        return self.resource_type is not None and self.id is None and bool(self.params)


def parse_url(url: str, where: str = "url") -> Target:
    """Parse a relative FHIR URL: ``Patient/1/_history/2``, ``Observation?code=x``, ``_history``."""
    if "\x00" in url or "%00" in url:
        raise FHIRError(f"{where} contains a NUL character", expression=where)
    split = urlsplit(url)
    if split.scheme or split.netloc:
        raise FHIRError(
            f"{where} must be relative to the FHIR base (e.g. Patient/123), not {url!r}",
            expression=where,
        )
    parts = [part for part in split.path.split("/") if part]
    params = parse_qsl(split.query, keep_blank_values=True)
    target = Target(params=params)
    if not parts:
        return target
    if parts[0] == "_history" and len(parts) == 1:
        target.history = True
        return target
    if parts[0].startswith("$") and len(parts) == 1:
        target.operation = parts[0]
        return target
    if parts[0] not in resource_types():
        raise FHIRError(
            f"{where}: '{parts[0]}' is not a resource type this server holds",
            expression=where,
            status=404,
            code="not-supported",
        )
    target.resource_type = parts[0]
    rest = parts[1:]
    if not rest:
        return target
    if rest == ["_history"]:
        target.history = True
    elif rest == ["_search"]:
        target.search = True
    elif len(rest) == 1 and rest[0].startswith("$"):
        target.operation = rest[0]
    else:
        target.id = rest[0]
        tail = rest[1:]
        if tail == ["_history"]:
            target.history = True
        elif len(tail) == 2 and tail[0] == "_history":
            target.version = tail[1]
        elif len(tail) == 1 and tail[0].startswith("$"):
            target.operation = tail[0]
        elif tail:
            raise FHIRError(f"{where}: {url!r} is not a FHIR REST URL", expression=where)
    return target


@dataclass(slots=True)
class EntryRequest:
    """One interaction: a REST request, or one Bundle entry's ``request`` plus its resource."""

    method: str
    target: Target
    body: Any = None
    """The resource (POST/PUT), the JSON Patch (PATCH) or None."""
    if_match: str | None = None
    if_none_exist: list[tuple[str, str]] | None = None
    full_url: str | None = None
    index: int = 0
    assigned_id: str | None = None
    """For a transaction POST: the id allocated (or matched) before any write."""
    existing: bool = False
    """For a transaction POST: ``if_none_exist`` matched this existing resource already."""
    pending: frozenset[tuple[str, str]] = frozenset()
    """For a transaction: every ``(type, id)`` it writes, so references between its entries
    count as resolved before the target is written."""

    @property
    def where(self) -> str:
        return f"Bundle.entry[{self.index}]"


@dataclass(frozen=True, slots=True)
class Written:
    """One version an interaction wrote: what the Provenance of its unit of work names."""

    reference: str
    """Versioned (``Observation/1/_history/2``) wherever the writer knows the version."""
    operation: str | None
    """The http://terminology.hl7.org/CodeSystem/v3-DataOperation code (CREATE, UPDATE,
    DELETE); None where the writer does not know which (a bulk update-as-create)."""
    recorded: str
    """When it was written (the version's ``lastUpdated``)."""


@dataclass(slots=True)
class EntryResponse:
    """The result of one interaction, before it becomes an HTTP response or a response entry."""

    status: int
    resource: dict[str, Any] | None = None
    location: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    written: Written | None = None
    """The version this interaction wrote; None when it wrote nothing (a read, a conditional
    create that matched, a delete of something absent)."""

    def entry(self, full_url: str | None = None) -> dict[str, Any]:
        response: dict[str, Any] = {"status": f"{self.status} {HTTPStatus(self.status).phrase}"}
        for key, value in (
            ("location", self.location),
            ("etag", self.etag),
            ("lastModified", self.last_modified),
        ):
            if value is not None:
                response[key] = value
        entry: dict[str, Any] = {}
        if self.resource is not None and self.resource.get("resourceType") == "OperationOutcome":
            response["outcome"] = self.resource
        elif self.resource is not None:
            if full_url:
                entry["fullUrl"] = full_url
            entry["resource"] = self.resource
        entry["response"] = response
        return entry


class EntryExecutor(Protocol):
    """What performs the interactions. ``unit()`` opens one database transaction."""

    def unit(self) -> AbstractContextManager[Any]: ...

    def find(self, unit: Any, resource_type: str, params: list[tuple[str, str]]) -> list[str]:
        """Ids of the current resources matching a search, seen from inside ``unit`` (or
        outside any transaction when ``unit`` is None)."""
        ...

    def perform(self, unit: Any | None, request: EntryRequest) -> EntryResponse:
        """Perform one interaction inside ``unit`` (None: a read outside any transaction)."""
        ...

    def attest(self, unit: Any, written: list[Written]) -> None:
        """Record who made the writes ``written`` (all of one unit's, none when it wrote
        nothing) inside ``unit``, so they commit or roll back together."""
        ...


@dataclass(slots=True)
class ParsedBundle:
    type: str
    entries: list[EntryRequest]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_bundle(bundle: Any) -> ParsedBundle:
    """Check a batch/transaction Bundle's shape and turn its entries into requests."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise FHIRError("POST to the FHIR base takes a Bundle", expression="Bundle")
    kind = bundle.get("type")
    if kind not in ("batch", "transaction"):
        raise FHIRError(
            "Bundle.type must be 'batch' or 'transaction' to be processed", expression="Bundle.type"
        )
    raw_entries = bundle.get("entry", [])
    if not isinstance(raw_entries, list):
        raise FHIRError("Bundle.entry must be an array", expression="Bundle.entry")
    entries: list[EntryRequest] = []
    for index, raw in enumerate(raw_entries):
        where = f"Bundle.entry[{index}]"
        request = raw.get("request") if isinstance(raw, dict) else None
        if not isinstance(request, dict):
            raise FHIRError(f"{where}.request is required", expression=f"{where}.request")
        method = request.get("method")
        url = request.get("url")
        if method not in METHODS:
            raise FHIRError(
                f"{where}.request.method must be one of {', '.join(METHODS)}",
                expression=f"{where}.request.method",
            )
        if not isinstance(url, str) or not url:
            raise FHIRError(f"{where}.request.url is required", expression=f"{where}.request.url")
        target = parse_url(url, f"{where}.request.url")
        body = raw.get("resource")
        if method in ("POST", "PUT") and not isinstance(body, dict):
            raise FHIRError(f"{where}.resource is required for {method}", expression=where)
        if method == "PATCH":
            body = _patch_body(body, f"{where}.resource")
        if_none_exist = _text(request.get("ifNoneExist"))
        if if_none_exist and "\x00" in if_none_exist:
            raise FHIRError(
                f"{where}.request.ifNoneExist contains a NUL character",
                expression=f"{where}.request.ifNoneExist",
            )
        entries.append(
            EntryRequest(
                method=method,
                target=target,
                body=body,
                if_match=_text(request.get("ifMatch")),
                if_none_exist=parse_qsl(if_none_exist.lstrip("?"), keep_blank_values=True)
                if if_none_exist
                else None,
                full_url=_text(raw.get("fullUrl")),
                index=index,
            )
        )
    return ParsedBundle(kind, entries)


def _patch_body(body: Any, where: str) -> Any:
    """In a Bundle a JSON Patch travels as a Binary resource holding the base64 patch."""
    if isinstance(body, dict) and body.get("resourceType") == "Binary":
        try:
            return json.loads(base64.b64decode(str(body.get("data", ""))))
        except ValueError:
            raise FHIRError(f"{where} must hold a base64 JSON Patch", expression=where) from None
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        raise FHIRError(
            "FHIRPath Patch is not supported; use JSON Patch",
            expression=where,
            status=400,
            code="not-supported",
        )
    raise FHIRError(f"{where} must be a Binary holding a JSON Patch", expression=where)


def _located(error: FHIRError, entry: EntryRequest) -> FHIRError:
    """The same error, said about the entry it came from."""
    expression = [
        f"{entry.where}.resource" + path[path.find(".") :] if "." in path else f"{entry.where}"
        for path in error.expression
    ] or [entry.where]
    located = FHIRError(
        f"{entry.where}: {error.diagnostics}",
        status=error.status,
        code=error.code,
        expression=expression,
        severity=error.severity,
    )
    return located


def _single(
    executor: EntryExecutor,
    unit: Any,
    resource_type: str,
    params: list[tuple[str, str]],
    where: str,
) -> str | None:
    ids = executor.find(unit, resource_type, params)
    if len(ids) > 1:
        raise FHIRError(
            f"{where}: the condition matched {len(ids)} {resource_type} resources; make it more "
            "selective",
            status=412,
            code="multiple-matches",
            expression=where,
        )
    return ids[0] if ids else None


def _allocate(
    entries: list[EntryRequest], executor: EntryExecutor, unit: Any, new_id: Callable[[], str]
) -> dict[str, str]:
    """Decide every written resource's id before any write, so references can point at them."""
    mapping: dict[str, str] = {}
    targets: set[tuple[str, str]] = set()
    for entry in entries:
        target = entry.target
        if (
            entry.method == "POST"
            and target.resource_type
            and target.id is None
            and not (target.search or target.operation)
        ):
            existing = None
            if entry.if_none_exist:
                existing = _single(
                    executor,
                    unit,
                    target.resource_type,
                    entry.if_none_exist,
                    f"{entry.where}.request.ifNoneExist",
                )
            entry.existing = existing is not None
            entry.assigned_id = existing or new_id()
        elif entry.method in ("PUT", "PATCH", "DELETE") and target.conditional:
            assert target.resource_type is not None
            found = _single(
                executor, unit, target.resource_type, target.params, f"{entry.where}.request.url"
            )
            if found is None and entry.method != "PUT":
                if entry.method == "PATCH":
                    raise FHIRError(
                        f"{entry.where}: the conditional patch matched nothing",
                        status=404,
                        code="not-found",
                        expression=entry.where,
                    )
                entry.assigned_id = None
                continue
            body_id = entry.body.get("id") if isinstance(entry.body, dict) else None
            target.id = found or (body_id if isinstance(body_id, str) else None) or new_id()
            target.params = []
            if entry.method == "PUT" and isinstance(entry.body, dict) and found:
                entry.body["id"] = found
        resource_type = target.resource_type
        written_id = entry.assigned_id or target.id
        if resource_type and written_id and entry.method in ("POST", "PUT", "PATCH", "DELETE"):
            if (resource_type, written_id) in targets and not entry.existing:
                raise FHIRError(
                    f"{entry.where}: {resource_type}/{written_id} is changed by more than one "
                    "entry of this transaction",
                    expression=entry.where,
                )
            targets.add((resource_type, written_id))
            if entry.full_url:
                if entry.full_url in mapping:
                    raise FHIRError(
                        f"{entry.where}.fullUrl {entry.full_url} is used by two entries",
                        expression=f"{entry.where}.fullUrl",
                    )
                mapping[entry.full_url] = f"{resource_type}/{written_id}"
    return mapping


def _rewrite_references(
    entries: list[EntryRequest], mapping: dict[str, str], executor: EntryExecutor, unit: Any
) -> None:
    conditional: dict[str, str] = {}
    for entry in entries:
        if not isinstance(entry.body, dict) or entry.method not in ("POST", "PUT"):
            continue
        for holder, ref in references(entry.body, f"{entry.where}.resource"):
            value = ref.value
            if value in mapping:
                holder["reference"] = mapping[value]
            elif value.startswith("urn:uuid:") or value.startswith("urn:oid:"):
                raise FHIRError(
                    f"{ref.path} refers to {value}, which no entry of this Bundle has as fullUrl",
                    expression=ref.path,
                    status=400,
                )
            elif "?" in value and not value.startswith(("http:", "https:")):
                if value not in conditional:
                    found = _resolve_conditional(value, ref.path, executor, unit)
                    conditional[value] = found
                holder["reference"] = conditional[value]


def _resolve_conditional(value: str, where: str, executor: EntryExecutor, unit: Any) -> str:
    resource_type, _, query = value.partition("?")
    if resource_type not in resource_types():
        raise FHIRError(
            f"{where}: {resource_type!r} is not a resource type this server holds",
            expression=where,
        )
    found = _single(executor, unit, resource_type, parse_qsl(query, keep_blank_values=True), where)
    if found is None:
        raise FHIRError(
            f"{where}: the conditional reference {value} matched no resource",
            status=412,
            code="not-found",
            expression=where,
        )
    return f"{resource_type}/{found}"


def resolve_transaction(
    entries: list[EntryRequest],
    executor: EntryExecutor,
    unit: Any,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> None:
    """Give every written resource its id and point every ``fullUrl`` and conditional
    reference at a real ``Type/id``, in place, before anything is written."""
    mapping = _allocate(entries, executor, unit, new_id)
    _rewrite_references(entries, mapping, executor, unit)
    pending = frozenset(
        (str(entry.target.resource_type), str(entry.assigned_id or entry.target.id))
        for entry in entries
        if entry.method in ("POST", "PUT") and (entry.assigned_id or entry.target.id)
    )
    for entry in entries:
        entry.pending = pending


def _in_order(entries: list[EntryRequest]) -> Iterator[EntryRequest]:
    yield from sorted(entries, key=lambda entry: (_ORDER[entry.method], entry.index))


def process(
    bundle: ParsedBundle,
    executor: EntryExecutor,
    *,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> dict[str, Any]:
    """Process a parsed batch/transaction Bundle; the response Bundle."""
    responses: list[dict[str, Any] | None] = [None] * len(bundle.entries)
    if bundle.type == "transaction":
        reads = [entry for entry in bundle.entries if entry.method in ("GET", "HEAD")]
        writes = [entry for entry in bundle.entries if entry.method not in ("GET", "HEAD")]
        with executor.unit() as unit:
            resolve_transaction(writes, executor, unit, new_id)
            written: list[Written] = []
            for entry in _in_order(writes):
                try:
                    result = executor.perform(unit, entry)
                except FHIRError as error:
                    raise _located(error, entry) from None
                responses[entry.index] = result.entry(_full_url(result))
                if result.written is not None:
                    written.append(result.written)
            executor.attest(unit, written)
        # Reads come last (R4 http.html#trules), so they see the committed writes.
        for entry in reads:
            try:
                result = executor.perform(None, entry)
            except FHIRError as error:
                raise _located(error, entry) from None
            responses[entry.index] = result.entry()
        kind = "transaction-response"
    else:
        for entry in bundle.entries:
            responses[entry.index] = _batch_entry(executor, entry)
        kind = "batch-response"
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": kind,
        "entry": [response for response in responses if response is not None],
    }


def _full_url(result: EntryResponse) -> str | None:
    if result.resource is None:
        return None
    resource_type = result.resource.get("resourceType")
    resource_id = result.resource.get("id")
    return f"{resource_type}/{resource_id}" if resource_type and resource_id else None


def _batch_entry(executor: EntryExecutor, entry: EntryRequest) -> dict[str, Any]:
    try:
        if entry.method in ("GET", "HEAD"):
            return executor.perform(None, entry).entry()
        with executor.unit() as unit:
            result = executor.perform(unit, entry)
            executor.attest(unit, [result.written] if result.written is not None else [])
        return result.entry(_full_url(result))
    except FHIRError as error:
        located = _located(error, entry)
        return EntryResponse(located.status, located.to_resource()).entry()
