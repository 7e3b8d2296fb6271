"""The one store interface every capability codes against (issue 3).

``open_store(url)`` (in :mod:`joinedup.store`) returns a :class:`Store` for
``sqlite:///path.db`` or ``postgresql://…`` and creates/migrates the schema on open.

Writes happen in units of work: ``with store.transaction() as tx:`` is one database
transaction (one FHIR transaction); if the block raises, nothing persists. The single-operation
methods on :class:`Store` (``create``, ``update``, ``delete``…) each run in their own transaction.

Every read-path method takes ``restriction=``: an object with
``sql(dialect, alias) -> (predicate_sql, params)`` returning a boolean SQL predicate over a row of
the ``resource`` table aliased ``alias`` (parameters in ``?`` style on both dialects). The store
ANDs it into every query of that call — matches, totals, paging, ``_include``/``_revinclude``,
chained and ``_has`` targets, history and ``$everything`` — so a denied resource is
indistinguishable from a missing one (:class:`NotFound`). ``None`` means unrestricted. A
restriction may also offer ``wide_sql`` (:class:`WideRestriction`): the same rows shaped for a
search across a whole type, which the store uses for the matches of a search that is not for a
Patient and has no reference or ``_id`` criterion.

Schema a restriction predicate (or an extension) may rely on; the same names on both dialects:

``resource`` — one row per resource (current version, including deleted resources):
    ``pk`` integer surrogate key · ``resource_type`` text · ``id`` text · ``version_id`` integer ·
    ``last_updated`` text, ISO 8601 UTC with microseconds (``2026-11-22T19:30:00.123456+00:00``,
    so text order is time order) · ``deleted`` integer 0/1 · ``source_org`` text or NULL
    (the contributing organisation, ``Organization/<id>`` or an ODS code as the writer gave it) ·
    ``content`` the JSON (text in SQLite, JSONB in PostgreSQL; for a deleted resource the last
    live version's JSON, so predicates still evaluate).
``resource_history`` — every version: ``resource_type``, ``id``, ``version_id``, ``last_updated``,
    ``deleted``, ``source_org``, ``content`` (NULL for a deletion).
``resource_security`` — ``resource_pk``, ``system``, ``code``: the ``meta.security`` labels of the
    current version.
``patient_compartment`` — ``resource_pk``, ``patient_id``: the Patient compartments (R4
    CompartmentDefinition) the current version belongs to; a Patient is in its own compartment.
Search index tables (``idx_token``, ``idx_string``, ``idx_date``, ``idx_reference``,
``idx_quantity``, ``idx_number``, ``idx_uri``) are keyed by ``resource_pk`` and ``param``;
they are the store's business and may change.

Example restriction ("only resources in the compartment of patients the caller may see")::

    class SeesPatients:
        def __init__(self, ids: list[str]) -> None:
            self.ids = ids

        def sql(self, dialect: str, alias: str) -> tuple[str, list[Any]]:
            marks = ", ".join("?" for _ in self.ids)
            return (f"EXISTS (SELECT 1 FROM patient_compartment pc "
                    f"WHERE pc.resource_pk = {alias}.pk AND pc.patient_id IN ({marks}))",
                    list(self.ids))
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import orjson

from joinedup.fhir.outcome import FHIRError
from joinedup.store.search.query import SearchQuery

Dialect = Literal["sqlite", "postgresql"]
WriteOperation = Literal["create", "update", "delete"]
Resource = dict[str, Any]
SearchParams = Sequence[tuple[str, str]]
"""Search parameters as ``(name, value)`` pairs exactly as in a query string (name may carry
``:modifier``; repeated names AND, commas inside a value OR)."""


class Restriction(Protocol):
    """An access decision as SQL, ANDed into every query of one read-path call."""

    def sql(self, dialect: str, alias: str) -> tuple[str, list[Any]]:
        """A boolean predicate over the ``resource`` row aliased ``alias`` and its parameters
        (``?`` placeholders, in order). ``dialect`` is ``"sqlite"`` or ``"postgresql"``."""
        ...


@runtime_checkable
class WideRestriction(Restriction, Protocol):
    """A restriction that can also shape itself for a search over a whole type."""

    def wide_sql(self, dialect: str, alias: str) -> tuple[str, list[Any]]:
        """The same rows as :meth:`sql`, shaped for a search not narrowed to a person or to
        ids (the store uses it for the rows such a search matches, :meth:`sql` everywhere else)."""
        ...


# --- results -------------------------------------------------------------------------------

#: Sets a slot of an immutable result (whose own ``__setattr__`` refuses).
_set = object.__setattr__


class StoredResource:
    """One version of one resource as stored (immutable).

    The store hands over the JSON text it holds and parses it only when ``resource`` is first
    used, so a path that passes resources on unchanged (a Bundle built from ``text``) never
    parses them: for a ``$everything`` of 500 resources parsing was most of the time."""

    __slots__ = (
        "_resource",
        "_text",
        "deleted",
        "id",
        "last_updated",
        "resource_type",
        "source_org",
        "version_id",
    )
    resource_type: str
    id: str
    version_id: int
    last_updated: str
    """ISO 8601 UTC with microseconds, e.g. ``2026-11-22T19:30:00.123456+00:00``."""
    deleted: bool
    source_org: str | None
    _resource: Resource | None
    _text: str | None

    def __init__(
        self,
        resource_type: str,
        id: str,
        version_id: int,
        last_updated: str,
        deleted: bool,
        resource: Resource | None = None,
        source_org: str | None = None,
        *,
        text: str | None = None,
    ) -> None:
        """``resource`` or ``text`` (its JSON as stored) gives the content; neither for the
        version that records a deletion."""
        # One call per slot, not a loop over pairs: a page of $everything makes 500 of these.
        _set(self, "resource_type", resource_type)
        _set(self, "id", id)
        _set(self, "version_id", version_id)
        _set(self, "last_updated", last_updated)
        _set(self, "deleted", deleted)
        _set(self, "source_org", source_org)
        _set(self, "_resource", resource)
        _set(self, "_text", text)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"StoredResource is immutable (cannot set {name})")

    @property
    def resource(self) -> Resource | None:
        """The JSON with ``meta.versionId`` and ``meta.lastUpdated`` set by the store; ``None``
        for the version that records a deletion."""
        if self._resource is None and self._text is not None:
            object.__setattr__(self, "_resource", orjson.loads(self._text))
        return self._resource

    @property
    def text(self) -> str | None:
        """:attr:`resource` as JSON text (what the store holds, unparsed when it came from
        the database); ``None`` for a deletion."""
        if self._text is None and self._resource is not None:
            object.__setattr__(self, "_text", orjson.dumps(self._resource).decode())
        return self._text

    @property
    def etag(self) -> str:
        """The HTTP ETag of this version: ``W/"<versionId>"``."""
        return f'W/"{self.version_id}"'

    def _key(self) -> tuple[Any, ...]:
        return (
            self.resource_type,
            self.id,
            self.version_id,
            self.last_updated,
            self.deleted,
            self.resource,
            self.source_org,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StoredResource) and self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]  # holds a dict, as the dataclass did

    def __repr__(self) -> str:
        return (
            f"StoredResource({self.resource_type}/{self.id}, version {self.version_id}, "
            f"{self.last_updated}{', deleted' if self.deleted else ''})"
        )


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What one write did.

    ``outcome``: ``created`` (new resource, or update-as-create), ``updated``, ``deleted``,
    ``existing`` (conditional create matched one resource: ``stored`` is that resource and
    nothing was written), ``absent`` (delete of something that does not exist: nothing written).
    """

    outcome: Literal["created", "updated", "deleted", "existing", "absent"]
    stored: StoredResource | None


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of a search (or of ``$everything``).

    ``matches`` are the resources the query matched (Bundle entries with ``search.mode=match``),
    in the query's ``_sort`` order; ``included`` are ``_include``/``_revinclude`` results
    (``search.mode=include``), each at most once and never one of ``matches``.
    ``total`` is the number of matches across all pages (``None`` under ``_total=none``).
    ``next_cursor``/``prev_cursor`` are opaque keyset tokens; pass one back as the
    ``_cursor`` parameter with the other parameters unchanged
    (:meth:`SearchQuery.link_params` builds that list) to get the adjacent page. Keyset paging
    means a page boundary never shifts when other resources are written meanwhile.
    For ``_summary=count`` ``matches`` is empty and only ``total`` is set.
    """

    matches: list[StoredResource]
    included: list[StoredResource] = field(default_factory=list)
    total: int | None = None
    next_cursor: str | None = None
    prev_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """Versions newest first (``last_updated`` descending); deletions have ``resource=None``."""

    entries: list[StoredResource]
    total: int | None = None
    next_cursor: str | None = None


# --- errors (all FHIRError, so they become OperationOutcomes) ------------------------------


class NotFound(FHIRError):
    """404: no such resource or version — or the restriction denies it (indistinguishable)."""

    def __init__(self, resource_type: str, id: str, version: int | None = None) -> None:
        what = f"{resource_type}/{id}" + (f"/_history/{version}" if version else "")
        super().__init__(f"{what} is not known", status=404, code="not-found")


class Gone(FHIRError):
    """410: the resource existed and was deleted (its history is still readable)."""

    def __init__(self, resource_type: str, id: str, version: int) -> None:
        super().__init__(
            f"{resource_type}/{id} was deleted (version {version}); its history is still readable",
            status=410,
            code="deleted",
        )
        self.version_id = version


class VersionConflict(FHIRError):
    """412: ``If-Match`` named a version that is not the current one."""

    def __init__(self, resource_type: str, id: str, expected: int, current: int | None) -> None:
        super().__init__(
            f"{resource_type}/{id} is at version {current}, not {expected}: read it again and "
            "retry the change",
            status=412,
            code="conflict",
        )


class MultipleMatches(FHIRError):
    """412: a conditional create/update/delete matched more than one resource."""

    def __init__(self, resource_type: str, count: int) -> None:
        super().__init__(
            f"the condition matched {count} {resource_type} resources; make it more selective",
            status=412,
            code="multiple-matches",
        )


class IdConflict(FHIRError):
    """409: ``create`` with an explicit id that already exists."""

    def __init__(self, resource_type: str, id: str) -> None:
        super().__init__(
            f"{resource_type}/{id} already exists; use update to change it",
            status=409,
            code="duplicate",
        )


# --- extensions ------------------------------------------------------------------------------

WriteHook = Callable[["Transaction", StoredResource, WriteOperation], None]
"""Called inside the writing database transaction after each create/update/delete, with the new
version (``resource`` is ``None`` for a delete). Raising aborts the whole transaction."""


@dataclass(frozen=True, slots=True)
class StoreExtension:
    """Tables and write hooks another capability (access, export, audit) adds to the store.

    ``ddl`` maps ``"sqlite"``/``"postgresql"`` to statements run on open (and on
    registration); make them idempotent (``CREATE TABLE IF NOT EXISTS …``).
    """

    name: str
    ddl: Mapping[str, Sequence[str]] = field(default_factory=dict)
    on_write: WriteHook | None = None


# --- units of work -----------------------------------------------------------------------------


class Transaction(ABC):
    """One database transaction. Reads inside it see its own writes and are unrestricted."""

    dialect: Dialect

    @abstractmethod
    def create(
        self,
        resource: Resource,
        *,
        id: str | None = None,
        source_org: str | None = None,
        if_none_exist: SearchParams | None = None,
    ) -> WriteResult:
        """Create a resource (``resource["id"]`` is ignored, as FHIR create says).

        ``id``: the id to use (e.g. one allocated in advance for a Bundle's ``urn:uuid``);
        :class:`IdConflict` if taken; a new UUID when ``None``.
        ``if_none_exist``: conditional create. The store claims the condition in a table with a
        unique index inside this transaction, so concurrent identical conditional creates make
        exactly one resource; the others (and later ones) get ``outcome="existing"``.
        More than one match raises :class:`MultipleMatches`.
        """

    @abstractmethod
    def update(
        self,
        resource: Resource,
        *,
        if_match: int | None = None,
        source_org: str | None = None,
    ) -> WriteResult:
        """Write a new version of ``resource["resourceType"]/resource["id"]``; creates it
        (update-as-create, client id) when absent or deleted. ``if_match``: the version the
        caller read; :class:`VersionConflict` unless it is the current one (exactly one of many
        concurrent updates with the same ``if_match`` wins)."""

    @abstractmethod
    def delete(self, resource_type: str, id: str, *, if_match: int | None = None) -> WriteResult:
        """Soft delete: a deletion version in history, the resource leaves search.
        ``outcome="absent"`` when nothing to delete (already deleted or never existed)."""

    @abstractmethod
    def conditional_update(
        self,
        resource: Resource,
        criteria: SearchParams,
        *,
        if_match: int | None = None,
        source_org: str | None = None,
    ) -> WriteResult:
        """FHIR conditional update: no match → create (with ``resource["id"]`` if given),
        one match → update it, more → :class:`MultipleMatches`."""

    @abstractmethod
    def conditional_delete(
        self, resource_type: str, criteria: SearchParams, *, multiple: bool = False
    ) -> list[WriteResult]:
        """Delete what ``criteria`` matches; more than one match raises
        :class:`MultipleMatches` unless ``multiple``."""

    @abstractmethod
    def read(self, resource_type: str, id: str) -> StoredResource:
        """Current version (raises :class:`NotFound` / :class:`Gone`), seeing this tx's writes."""

    @abstractmethod
    def search(self, query: SearchQuery) -> SearchPage:
        """Search inside this transaction (e.g. to resolve a Bundle's conditional references)."""

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run SQL in this transaction with ``?`` placeholders on both dialects; rows returned
        (empty for statements without results)."""


# --- the store -------------------------------------------------------------------------------


class Store(ABC):
    """A FHIR R4 record store. Thread-safe: share one per process."""

    dialect: Dialect

    # units of work

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Transaction]:
        """``with store.transaction() as tx:`` — commit on exit, roll back if the block raises."""

    def create(
        self,
        resource: Resource,
        *,
        id: str | None = None,
        source_org: str | None = None,
        if_none_exist: SearchParams | None = None,
    ) -> WriteResult:
        """:meth:`Transaction.create` in its own transaction."""
        with self.transaction() as tx:
            return tx.create(resource, id=id, source_org=source_org, if_none_exist=if_none_exist)

    def update(
        self, resource: Resource, *, if_match: int | None = None, source_org: str | None = None
    ) -> WriteResult:
        """:meth:`Transaction.update` in its own transaction."""
        with self.transaction() as tx:
            return tx.update(resource, if_match=if_match, source_org=source_org)

    def delete(self, resource_type: str, id: str, *, if_match: int | None = None) -> WriteResult:
        """:meth:`Transaction.delete` in its own transaction."""
        with self.transaction() as tx:
            return tx.delete(resource_type, id, if_match=if_match)

    def conditional_update(
        self,
        resource: Resource,
        criteria: SearchParams,
        *,
        if_match: int | None = None,
        source_org: str | None = None,
    ) -> WriteResult:
        """:meth:`Transaction.conditional_update` in its own transaction."""
        with self.transaction() as tx:
            return tx.conditional_update(
                resource, criteria, if_match=if_match, source_org=source_org
            )

    def conditional_delete(
        self, resource_type: str, criteria: SearchParams, *, multiple: bool = False
    ) -> list[WriteResult]:
        """:meth:`Transaction.conditional_delete` in its own transaction."""
        with self.transaction() as tx:
            return tx.conditional_delete(resource_type, criteria, multiple=multiple)

    @abstractmethod
    def bulk_load(self, resources: Iterable[Resource], *, source_org: str | None = None) -> int:
        """Fast path for ``joinedup load``: write resources that already carry their ids and
        resolved references, as update-as-create, in batched statements inside one
        transaction (all or nothing). Returns how many were written. Write hooks still run."""

    # read path (every method takes ``restriction``)

    @abstractmethod
    def read(
        self, resource_type: str, id: str, *, restriction: Restriction | None = None
    ) -> StoredResource:
        """Current version; :class:`NotFound` (also when denied) or :class:`Gone` (deleted)."""

    @abstractmethod
    def vread(
        self,
        resource_type: str,
        id: str,
        version_id: int,
        *,
        restriction: Restriction | None = None,
    ) -> StoredResource:
        """One version; a deletion version comes back with ``deleted=True, resource=None``.
        The restriction is evaluated on the resource's current row."""

    @abstractmethod
    def history(
        self,
        resource_type: str | None = None,
        id: str | None = None,
        *,
        since: str | None = None,
        count: int = 100,
        cursor: str | None = None,
        restriction: Restriction | None = None,
    ) -> HistoryPage:
        """Instance (type and id), type (type only) or system (neither) history, newest first.
        ``since``: FHIR instant; only versions with ``last_updated`` >= it. ``count`` per page;
        ``cursor`` from a previous page's ``next_cursor``. The restriction is evaluated on each
        resource's current row."""

    @abstractmethod
    def search(self, query: SearchQuery, *, restriction: Restriction | None = None) -> SearchPage:
        """Run a query from :func:`joinedup.store.parse_search`."""

    @abstractmethod
    def everything(
        self,
        patient_id: str,
        *,
        types: Sequence[str] | None = None,
        since: str | None = None,
        count: int = 100,
        cursor: str | None = None,
        restriction: Restriction | None = None,
    ) -> SearchPage:
        """``Patient/$everything``: the Patient and every current resource in its compartment
        (``types`` narrows, ``since`` = ``_since``), in a stable order, paged by keyset cursor;
        ``total`` is the accurate count. Each page's ``included`` holds the resources outside
        the compartment that its matches refer to (practitioners, organisations,
        medications…; one may recur on several pages). :class:`NotFound` if the Patient is
        absent or denied."""

    @abstractmethod
    def iter_resources(
        self,
        types: Sequence[str] | None = None,
        since: str | None = None,
        *,
        restriction: Restriction | None = None,
    ) -> Iterator[StoredResource]:
        """Every current (not deleted) resource of ``types`` (all types when ``None``) updated at
        or after ``since``, in no particular order, from one read transaction streamed through a
        cursor (server-side on PostgreSQL): memory stays flat whatever the store size. The
        calling thread may write while it iterates."""

    @abstractmethod
    def iter_json(
        self,
        types: Sequence[str] | None = None,
        since: str | None = None,
        *,
        restriction: Restriction | None = None,
    ) -> Iterator[str]:
        """What :meth:`iter_resources` yields, as each resource's JSON text (one line, no
        newline) straight from the store, never parsed: the resource ``read`` returns (``meta``
        included; PostgreSQL spells JSONB with its own key order and spacing), for writing
        NDJSON at the speed of the database."""

    # extensions and lifecycle

    @abstractmethod
    def register_extension(self, extension: StoreExtension) -> None:
        """Create the extension's tables now and call its write hook on every later write."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""
