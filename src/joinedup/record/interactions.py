"""The FHIR interactions on the record: one place that both the REST routes and Bundle
entries go through, so a write is validated, attributed and stored the same way however it
arrives.

Reads pass the caller's ``restriction`` to every store call; writes are attributed to their
:class:`~joinedup.record.provenance.Author`: the writing organisation in ``meta.source`` and the
store's ``source_org`` (kept on every version), and a Provenance per unit of work naming the
versions written and who wrote them.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from joinedup.fhir.bundle import EntryRequest, EntryResponse, Target, Written
from joinedup.fhir.outcome import FHIRError
from joinedup.fhir.patch import apply_patch
from joinedup.fhir.validation import (
    relative_reference,
    validate_references,
    validate_structure,
    validate_uk_core,
)
from joinedup.record.provenance import ODS_SYSTEM, Author, attesting, provenance
from joinedup.record.searchset import history_bundle, result_shaping, searchset
from joinedup.record.shown import ShownResponse, shown_in
from joinedup.store.base import (
    Gone,
    NotFound,
    Restriction,
    Store,
    StoredResource,
    Transaction,
    VersionConflict,
    WriteResult,
)
from joinedup.store.search import parse_search, parse_system_search

#: ``meta.source`` for a write on behalf of an organisation: its record in the NHS ODS
#: directory (ODS codes are the organisation identifiers of the NHS in England).
ODS_SOURCE = ODS_SYSTEM + "/"
DEFAULT_COUNT = 50
MAX_COUNT = 1000


def parse_version(value: str | None, where: str) -> int | None:
    """A version number from a ``_history/{vid}`` segment or an ``If-Match`` ETag."""
    if value is None:
        return None
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not text.isdigit() or len(text) > 9:
        raise FHIRError(
            f'{where} must be a version number such as W/"3", not {value!r}', expression=where
        )
    return int(text)


def exists(tx: Transaction, resource_type: str, id: str) -> bool:
    """Whether a reference target exists (a deleted resource existed: links to it stay valid)."""
    try:
        tx.read(resource_type, id)
    except NotFound:
        return False
    except Gone:
        return True
    return True


def _count(params: Sequence[tuple[str, str]], default: int) -> int:
    for name, value in params:
        if name == "_count":
            if not value.isdigit():
                raise FHIRError("_count must be a whole number", expression="_count")
            return min(int(value), MAX_COUNT)
    return default


def _param(params: Sequence[tuple[str, str]], name: str) -> str | None:
    for key, value in params:
        if key == name:
            return value
    return None


_OPERATIONS = {"created": "CREATE", "updated": "UPDATE", "deleted": "DELETE"}


def written_version(result: WriteResult) -> Written:
    """The version a write made, as its unit of work's Provenance names it."""
    stored = result.stored
    assert stored is not None
    return Written(
        f"{stored.resource_type}/{stored.id}/_history/{stored.version_id}",
        _OPERATIONS[result.outcome],
        stored.last_updated,
    )


def _without(params: Sequence[tuple[str, str]], *names: str) -> list[tuple[str, str]]:
    return [(key, value) for key, value in params if key not in names]


class Record:
    """Performs interactions against a store for one caller.

    ``restriction`` comes from the access policy (None: unrestricted), ``author`` says who
    writes (its ``org`` is the contributing organisation), ``base`` the FHIR base URL for links.
    """

    def __init__(
        self,
        store: Store,
        *,
        base: str,
        restriction: Restriction | None = None,
        author: Author | None = None,
        strict: bool = False,
    ) -> None:
        self.store = store
        self.base = base
        self.restriction = restriction
        self.author = author or Author()
        self.strict = strict

    @property
    def writer_org(self) -> str | None:
        """The contributing organisation (ODS code), if the author names one."""
        return self.author.org

    # --- EntryExecutor --------------------------------------------------------------------

    def unit(self) -> AbstractContextManager[Transaction]:
        return self.store.transaction()

    def find(self, unit: Any, resource_type: str, params: list[tuple[str, str]]) -> list[str]:
        # Two matches are enough to tell "one" from "several"; no total needed.
        paging = [("_count", "2"), ("_total", "none")]
        query = parse_search(resource_type, [*_without(params, "_count", "_total"), *paging])
        page = self.store.search(query) if unit is None else unit.search(query)
        return [stored.id for stored in page.matches]

    def perform(self, unit: Any | None, request: EntryRequest) -> EntryResponse:
        method = request.method
        if method in ("GET", "HEAD") or (method == "POST" and request.target.search):
            return self.read(request.target)
        if unit is None:
            with self.store.transaction() as tx:
                result = self._write(tx, request)
                self.attest(tx, [result.written] if result.written is not None else [])
                return result
        return self._write(unit, request)

    def attest(self, unit: Transaction, written: list[Written]) -> None:
        """The Provenance of a unit of work's writes, validated like any write and stored in
        the same transaction."""
        if not written:
            return
        targets = {relative_reference(w.reference) for w in written}
        resource = self.checked(
            provenance(written, self.author, lambda kind, id: exists(unit, kind, id)),
            "Provenance",
        )
        validate_references(
            resource, lambda kind, id: (kind, id) in targets or exists(unit, kind, id)
        )
        with attesting():
            unit.create(resource, source_org=self.writer_org)

    # --- writes -----------------------------------------------------------------------------

    def _write(self, tx: Transaction, request: EntryRequest) -> EntryResponse:
        target = request.target
        if target.resource_type is None or target.history or target.operation or target.version:
            raise FHIRError(
                f"{request.method} is not supported at this URL", status=405, code="not-supported"
            )
        if_match = parse_version(request.if_match, "If-Match")
        if request.method == "POST":
            if target.id is not None:
                raise FHIRError(
                    "POST creates a resource at the type URL (e.g. POST Patient); "
                    "use PUT Patient/{id} to write a chosen id",
                    status=405,
                    code="not-supported",
                )
            return self._create(tx, request)
        if request.method == "PUT":
            return self._update(tx, request, if_match)
        if request.method == "PATCH":
            return self._patch(tx, request, if_match)
        if request.method == "DELETE":
            return self._delete(tx, target, if_match)
        raise FHIRError(f"{request.method} is not a FHIR interaction", status=405)

    def checked(self, body: Any, resource_type: str) -> dict[str, Any]:
        """``body`` validated (structure, UK Core) and attributed to the writing organisation;
        references are checked separately, as they need the store."""
        if not isinstance(body, dict):
            raise FHIRError("The body must be a JSON object holding a FHIR resource")
        if body.get("resourceType") != resource_type:
            raise FHIRError(
                f"The body's resourceType {body.get('resourceType')!r} does not match the URL's "
                f"{resource_type}",
                expression="resourceType",
            )
        validate_structure(body)
        validate_uk_core(body, writer_org=self.writer_org)
        if self.writer_org is None:
            return body
        meta = dict(body.get("meta") or {})
        meta["source"] = ODS_SOURCE + self.writer_org
        return {**body, "meta": meta}

    def _prepare(self, tx: Transaction, request: EntryRequest, body: Any) -> dict[str, Any]:
        resource_type = str(request.target.resource_type)
        resource = self.checked(body, resource_type)
        validate_references(
            resource, lambda kind, id: (kind, id) in request.pending or exists(tx, kind, id)
        )
        return resource

    def _created(self, result: WriteResult) -> EntryResponse:
        stored = result.stored
        assert stored is not None and stored.resource is not None
        status = 201 if result.outcome == "created" else 200
        location = f"{stored.resource_type}/{stored.id}/_history/{stored.version_id}"
        wrote = result.outcome in ("created", "updated")
        return EntryResponse(
            status,
            stored.resource,
            location=location if wrote else None,
            etag=stored.etag,
            last_modified=stored.last_updated,
            written=written_version(result) if wrote else None,
        )

    def _create(self, tx: Transaction, request: EntryRequest) -> EntryResponse:
        resource_type = request.target.resource_type
        assert resource_type is not None
        if request.existing and request.assigned_id:
            return self._found(tx.read(resource_type, request.assigned_id), 200)
        resource = self._prepare(tx, request, request.body)
        result = tx.create(
            resource,
            id=request.assigned_id,
            source_org=self.writer_org,
            if_none_exist=request.if_none_exist,
        )
        stored = result.stored
        if (
            result.outcome == "existing"
            and request.assigned_id
            and stored is not None
            and stored.id != request.assigned_id
        ):
            raise FHIRError(
                "Another request created the matching resource while this transaction ran; "
                "send the Bundle again",
                status=409,
                code="conflict",
            )
        return self._created(result)

    def _update(
        self, tx: Transaction, request: EntryRequest, if_match: int | None
    ) -> EntryResponse:
        target = request.target
        assert target.resource_type is not None
        body = request.body
        if target.conditional:
            resource = self._prepare(tx, request, body)
            result = tx.conditional_update(
                resource, target.params, if_match=if_match, source_org=self.writer_org
            )
            return self._created(result)
        if target.id is None:
            raise FHIRError(
                "PUT needs an id in the URL (Patient/123) or search criteria "
                "(Patient?identifier=…)",
                status=400,
            )
        if not isinstance(body, dict) or body.get("id") != target.id:
            raise FHIRError(
                f"The body's id {body.get('id') if isinstance(body, dict) else None!r} must equal "
                f"the id in the URL ({target.id})",
                expression=f"{target.resource_type}.id",
            )
        resource = self._prepare(tx, request, body)
        return self._created(tx.update(resource, if_match=if_match, source_org=self.writer_org))

    def _patch(self, tx: Transaction, request: EntryRequest, if_match: int | None) -> EntryResponse:
        target = request.target
        assert target.resource_type is not None
        if target.id is None:
            raise FHIRError("PATCH needs an id in the URL (Patient/123)", status=400)
        current = tx.read(target.resource_type, target.id)
        assert current.resource is not None
        if if_match is not None and if_match != current.version_id:
            raise VersionConflict(target.resource_type, target.id, if_match, current.version_id)
        patched = apply_patch(current.resource, request.body)
        resource = self._prepare(tx, request, patched)
        result = tx.update(resource, if_match=current.version_id, source_org=self.writer_org)
        return self._created(result)

    def _delete(self, tx: Transaction, target: Target, if_match: int | None) -> EntryResponse:
        assert target.resource_type is not None
        if target.conditional:
            deleted = tx.conditional_delete(target.resource_type, target.params)
            written = [written_version(r) for r in deleted if r.outcome == "deleted"]
            return EntryResponse(204, written=written[0] if written else None)
        if target.id is None:
            raise FHIRError(
                "DELETE needs an id (Patient/123) or search criteria (Patient?identifier=…)",
                status=400,
            )
        result = tx.delete(target.resource_type, target.id, if_match=if_match)
        if result.stored is not None and result.outcome == "deleted":
            return EntryResponse(204, etag=result.stored.etag, written=written_version(result))
        if result.stored is not None:
            return EntryResponse(204, etag=result.stored.etag)
        return EntryResponse(204)

    # --- reads ------------------------------------------------------------------------------

    def _found(self, stored: StoredResource, status: int = 200) -> EntryResponse:
        return EntryResponse(
            status, stored.resource, etag=stored.etag, last_modified=stored.last_updated
        )

    def _shown(self, stored: StoredResource) -> ShownResponse:
        return ShownResponse(
            200,
            stored.resource,
            etag=stored.etag,
            last_modified=stored.last_updated,
            shown=shown_in(stored.resource),
        )

    def read(self, target: Target) -> EntryResponse:
        """read, vread, search, history and ``$everything``."""
        resource_type = target.resource_type
        params = target.params
        if target.operation is not None:
            if target.operation != "$everything" or resource_type != "Patient" or not target.id:
                raise FHIRError(
                    f"The operation {target.operation} is not supported here; "
                    "this server offers Patient/{id}/$everything",
                    status=404,
                    code="not-supported",
                )
            return self.everything(target.id, params)
        if target.history:
            return self.history(resource_type, target.id, params)
        if resource_type is None:
            return self.search_system(params)
        if target.id is None:
            return self.search(resource_type, params)
        if target.version is not None:
            version = parse_version(target.version, "_history/{vid}")
            assert version is not None
            stored = self.store.vread(
                resource_type, target.id, version, restriction=self.restriction
            )
            if stored.deleted or stored.resource is None:
                raise FHIRError(
                    f"{resource_type}/{target.id} version {version} records its deletion",
                    status=410,
                    code="deleted",
                )
            return self._shown(stored)
        return self._shown(self.store.read(resource_type, target.id, restriction=self.restriction))

    def search(self, resource_type: str, params: Sequence[tuple[str, str]]) -> EntryResponse:
        elements, summary = result_shaping(params)
        query = parse_search(resource_type, list(params), strict=self.strict)
        page = self.store.search(query, restriction=self.restriction)
        bundle, shown = searchset(
            page,
            base=self.base,
            path=resource_type,
            params=query.params,
            elements=elements,
            summary=summary,
            warnings=query.warnings,
        )
        return ShownResponse(200, bundle, shown=shown)

    def search_system(self, params: Sequence[tuple[str, str]]) -> EntryResponse:
        """``GET [base]?_type=…``: the common parameters across types, each resource under
        the same access restriction as in a search of its own type."""
        elements, summary = result_shaping(params)
        query = parse_system_search(list(params), strict=self.strict)
        page = self.store.search(query, restriction=self.restriction)
        bundle, shown = searchset(
            page,
            base=self.base,
            path="",
            params=query.params,
            elements=elements,
            summary=summary,
            warnings=query.warnings,
        )
        return ShownResponse(200, bundle, shown=shown)

    def history(
        self, resource_type: str | None, id: str | None, params: Sequence[tuple[str, str]]
    ) -> EntryResponse:
        since = _param(params, "_since")
        page = self.store.history(
            resource_type,
            id,
            since=since,
            count=_count(params, DEFAULT_COUNT) or 1,
            cursor=_param(params, "_cursor"),
            restriction=self.restriction,
        )
        path = "/".join(part for part in (resource_type, id, "_history") if part)
        bundle, shown = history_bundle(
            page, base=self.base, path=path, params=_without(params, "_cursor")
        )
        return ShownResponse(200, bundle, shown=shown)

    def everything(self, patient_id: str, params: Sequence[tuple[str, str]]) -> EntryResponse:
        types_text = _param(params, "_type")
        types = [t for t in types_text.split(",") if t] if types_text else None
        page = self.store.everything(
            patient_id,
            types=types,
            since=_param(params, "_since"),
            count=_count(params, DEFAULT_COUNT) or 1,
            cursor=_param(params, "_cursor"),
            restriction=self.restriction,
        )
        bundle, shown = searchset(
            page,
            base=self.base,
            path=f"Patient/{patient_id}/$everything",
            params=_without(params, "_cursor"),
        )
        return ShownResponse(200, bundle, shown=shown)
