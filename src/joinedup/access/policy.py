"""The one place where access is decided.

Reads: :func:`restriction_for` turns a principal into a SQL predicate the store ANDs into every
query, so search totals, paging, ``_include``/``_revinclude``, chaining, ``_has``, history,
vread and ``$everything`` can never show or count what the policy denies.
Entry checks: :func:`interaction_denial` refuses (403) an interaction the token's scopes or the
role never allow, before anything is looked up. Writes: :func:`check_write` (run inside the
writing transaction) lets a user write only as their own organisation and never change another
organisation's entries.

The rules, per role:

* **system** — anything its ``system/`` scopes grant.
* **direct care** (clinician, social care practitioner, care coordinator) — entries their own
  organisation wrote; the directory (organisations, practitioners, locations…); and, for each
  person they have a legitimate relationship with (:mod:`~joinedup.access.relationships`) or an
  active break-glass grant for, that person's entries, less what the person's choices
  (:mod:`~joinedup.access.consent`) and the restricted ``meta.security`` labels keep for the
  authoring organisation. An entry in several people's compartments needs all of them.
* **citizen** — the entries in their own compartment only, and the directory.
* **analyst, Place leader, admin** — the directory only: no identifiable record access.

Analytics (:data:`ANALYTICS_ACCESS`) never reads the record: ``ViewDefinition`` (the view
library and ``$run`` on the de-identified snapshot) is for analysts; ``Measure/$evaluate-measure``
(published, disclosure-controlled aggregates) for analysts and Place leaders; system tokens
for both, as their scopes allow.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

import orjson

from joinedup.access.consent import DECLINE_SHARING, DENY_ORG, RESTRICTED_LABEL
from joinedup.access.principal import DIRECT_CARE, Principal, Role
from joinedup.access.references import format_instant, reference_id
from joinedup.access.relationships import REGISTERED
from joinedup.access.scopes import ALL_TYPES, Context, Permission
from joinedup.access.settings import AccessSettings
from joinedup.fhir.outcome import FHIRError
from joinedup.store.base import Store, StoredResource, Transaction, WriteOperation

#: Resources about the system rather than a person: organisations, staff, places, definitions.
DIRECTORY_TYPES = frozenset(
    {
        "Organization",
        "OrganizationAffiliation",
        "Practitioner",
        "PractitionerRole",
        "Location",
        "HealthcareService",
        "Endpoint",
        "Medication",
        "Substance",
        "CodeSystem",
        "ValueSet",
        "ConceptMap",
        "NamingSystem",
        "StructureDefinition",
        "SearchParameter",
        "OperationDefinition",
        "CapabilityStatement",
        "Questionnaire",
        "ActivityDefinition",
        "PlanDefinition",
        "Library",
        "Measure",
    }
)

#: Where a citizen may write: their own sharing choices.
CITIZEN_WRITABLE = frozenset({"Consent"})

#: Interactions served from the de-identified snapshot or the published outcomes, never the
#: record: (resource type, interaction name, or None for every interaction on the type) ->
#: the roles besides system tokens that may use them.
ANALYTICS_ACCESS: dict[tuple[str, str | None], frozenset[Role]] = {
    ("ViewDefinition", None): frozenset({Role.ANALYST}),
    ("Measure", "$evaluate-measure"): frozenset({Role.ANALYST, Role.PLACE_LEADER}),
}


# --- organisations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OrgKeys:
    """The spellings one organisation goes by in the record."""

    own: tuple[str, ...] = ()
    """Bare Organization ids and the ODS code (as relationship and consent rows hold them)."""
    source: tuple[str, ...] = ()
    """``source_org`` spellings: the ODS code and ``Organization/<id>``."""
    registered: tuple[str, ...] = ()
    """``own`` plus the practices whose ``partOf`` is this organisation (a PCN's practices)."""


class OrgDirectory:
    """Resolves an ODS code to its keys, cached briefly (the hierarchy changes rarely)."""

    def __init__(self, store: Store, ttl_seconds: float = 60.0) -> None:
        self.store = store
        self.ttl = ttl_seconds
        self._cache: dict[str, tuple[float, OrgKeys]] = {}
        self._lock = threading.Lock()

    def keys(self, ods: str | None) -> OrgKeys:
        known = self.cached(ods)
        if known is not None:
            return known
        assert ods is not None
        with self.store.transaction() as tx:
            keys = org_keys(tx, ods)
        with self._lock:
            self._cache[ods] = (time.monotonic(), keys)
        return keys

    def cached(self, ods: str | None) -> OrgKeys | None:
        """The keys if known without the database (None: ask :meth:`keys`), so the event
        loop answers nearly every request itself instead of handing it to a thread."""
        if ods is None:
            return OrgKeys()
        with self._lock:
            hit = self._cache.get(ods)
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        return None

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()


def org_keys(tx: Transaction, ods: str) -> OrgKeys:
    ids = {row[0] for row in tx.execute("SELECT org_id FROM access_org WHERE ods = ?", [ods])}
    own = sorted(ids | {ods})
    marks = ", ".join("?" for _ in own)
    children = tx.execute(f"SELECT org_id, ods FROM access_org WHERE parent_id IN ({marks})", own)  # noqa: S608
    registered = set(own) | {c[0] for c in children} | {c[1] for c in children if c[1]}
    source = sorted({ods} | {f"Organization/{i}" for i in own})
    return OrgKeys(own=tuple(own), source=tuple(source), registered=tuple(sorted(registered)))


# --- entry checks ----------------------------------------------------------------------------


def interaction_denial(
    principal: Principal,
    resource_type: str | None,
    permission: Permission,
    interaction: str | None = None,
) -> str | None:
    """Why this interaction is refused outright (403), or None to go on to the query.

    ``resource_type`` None means a system-level interaction (whole-system search or history,
    a transaction Bundle), checked per entry later. ``interaction`` is its name (``read``,
    ``$evaluate-measure``…), needed where an operation is allowed to fewer roles than a read."""
    if resource_type is None:
        return None if _scope_types(principal, permission) else _no_scope(permission, "any type")
    if not _scope_allows(principal, resource_type, permission):
        return _no_scope(permission, resource_type)
    role = principal.role
    if role is Role.SYSTEM:
        return None
    for key in ((resource_type, interaction), (resource_type, None)):
        if key in ANALYTICS_ACCESS:
            return None if role in ANALYTICS_ACCESS[key] else _analytics_denial(role, key)
    if role in DIRECT_CARE or role is Role.CITIZEN:
        if permission in (Permission.CREATE, Permission.UPDATE, Permission.DELETE):
            return _write_denial(principal, resource_type)
        return None
    if resource_type not in DIRECTORY_TYPES:
        return (
            f"the {role} role has no access to identifiable records through the record API; "
            "use the de-identified snapshots and dashboards"
        )
    if permission in (Permission.CREATE, Permission.UPDATE, Permission.DELETE):
        return _write_denial(principal, resource_type)
    return None


def _analytics_denial(role: Role, key: tuple[str, str | None]) -> str:
    resource_type, interaction = key
    what = f"{resource_type} {interaction}" if interaction else resource_type
    allowed = sorted(r.value for r in ANALYTICS_ACCESS[key])
    roles = " and ".join(allowed) + (" roles" if len(allowed) > 1 else " role")
    return f"{what} is only for the {roles} and system tokens; the {role} role cannot use it"


def _write_denial(principal: Principal, resource_type: str) -> str | None:
    role = principal.role
    if role is Role.SYSTEM:
        return None
    if role is Role.ADMIN:
        if resource_type in DIRECTORY_TYPES:
            return None
        return "an admin manages organisations and users but does not write clinical data"
    if role in DIRECT_CARE:
        if resource_type in DIRECTORY_TYPES:
            return f"{resource_type} entries are managed by an admin"
        return None
    if role is Role.CITIZEN:
        if resource_type in CITIZEN_WRITABLE:
            return None
        return "a citizen can change their own sharing choices (Consent) but not the record"
    return f"the {role} role cannot change the record"


def _scope_types(principal: Principal, permission: Permission) -> frozenset[str]:
    scopes = principal.scopes
    granted = scopes.types(Context.USER, permission)
    if principal.role is Role.SYSTEM:
        granted |= scopes.types(Context.SYSTEM, permission)
    if principal.patient is not None:
        granted |= scopes.types(Context.PATIENT, permission)
    return granted


def _scope_allows(principal: Principal, resource_type: str, permission: Permission) -> bool:
    granted = _scope_types(principal, permission)
    return ALL_TYPES in granted or resource_type in granted


def _no_scope(permission: Permission, what: str) -> str:
    return (
        f"the token's scopes do not allow {permission.name.lower()} on {what}; "
        "ask for a token with a wider SMART scope"
    )


# --- the read restriction --------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    """What the restriction's text depends on: everything but the request's instant."""

    principal: Principal
    keys: OrgKeys
    restricted_labels: tuple[str, ...]


class _Instant(Enum):
    """Stand-ins in a cached text's parameters for the instants each request binds."""

    NOW = "now"
    CUTOFF = "cutoff"


@functools.lru_cache(maxsize=1024)
def _shaped(rule: _Rule, dialect: str, alias: str, wide: bool) -> tuple[str, tuple[Any, ...]]:
    """The restriction's text and parameters (the instants as stand-ins). A user's requests
    share them, so the text is built (67 µs) once per user and shape, not for every request."""
    builder = _Sql(dialect, alias, wide=wide)
    return builder.visible(rule), tuple(builder.params)


@dataclass(frozen=True)
class PolicyRestriction:
    """The store restriction for one request (see :class:`joinedup.store.base.Restriction`)."""

    principal: Principal
    keys: OrgKeys
    now: str
    """The request's instant (break-glass expiry is compared with it)."""
    cutoff: str
    """Episodes, encounters and referrals that ended before this no longer bind."""
    restricted_labels: tuple[str, ...]

    def sql(self, dialect: str, alias: str) -> tuple[str, list[Any]]:
        return self._built(dialect, alias, wide=False)

    def wide_sql(self, dialect: str, alias: str) -> tuple[str, list[Any]]:
        """The same rows, shaped for a search over a whole type (see :meth:`_Sql.person_set`)."""
        return self._built(dialect, alias, wide=True)

    def _built(self, dialect: str, alias: str, *, wide: bool) -> tuple[str, list[Any]]:
        rule = _Rule(self.principal, self.keys, self.restricted_labels)
        text, params = _shaped(rule, dialect, alias, wide)
        instants = {_Instant.NOW: self.now, _Instant.CUTOFF: self.cutoff}
        return text, [instants[p] if isinstance(p, _Instant) else p for p in params]


def restriction_for(
    principal: Principal,
    keys: OrgKeys,
    settings: AccessSettings,
    now: datetime,
) -> PolicyRestriction | None:
    """The restriction for ``principal``; None only for a system token that may read all."""
    if principal.role is Role.SYSTEM and ALL_TYPES in _readable_types(principal):
        return None
    return PolicyRestriction(
        principal=principal,
        keys=keys,
        now=format_instant(now),
        cutoff=format_instant(now - timedelta(days=settings.recent_days)),
        restricted_labels=tuple(settings.restricted_labels),
    )


def _readable_types(principal: Principal) -> frozenset[str]:
    return _scope_types(principal, Permission.READ) | _scope_types(principal, Permission.SEARCH)


#: What a constant of this module may look like to be spliced into the text as a literal.
_LITERAL = re.compile(r"[A-Za-z][A-Za-z-]*")


class _Sql:
    """Builds the predicate text and its ``?`` parameters in one left-to-right pass.

    Only table and alias names and this module's own constants (resource type names, the
    relationship and consent kinds) are spliced into the text; every value that comes from
    the principal, the configuration or the request is a bound parameter (hence the S608
    waivers below). The constants are literals because a text with more than 50 parameters is
    parsed again by psycopg on every execution (its statement cache skips such texts), which
    cost a person-level search ≈ 0.3 ms on PostgreSQL (docs/access.md, Overhead)."""

    def __init__(self, dialect: str, alias: str, *, wide: bool) -> None:
        self.dialect = dialect
        self.r = alias
        self.wide = wide
        # Inner aliases derive from the outer one so they can never shadow it.
        self.pc = f"{alias}_pc"
        self.params: list[Any] = []

    def value(self, value: Any) -> str:
        self.params.append(value)
        return "?"

    def among(self, column: str, values: tuple[str, ...] | frozenset[str]) -> str:
        if not values:
            return "1 = 0"
        return f"{column} IN ({', '.join(self.value(v) for v in sorted(values))})"

    @staticmethod
    def literal(value: str) -> str:
        if not _LITERAL.fullmatch(value):
            raise ValueError(f"not a name to splice into SQL: {value!r}")
        return f"'{value}'"

    def among_names(self, column: str, names: frozenset[str]) -> str:
        """``column`` is one of this module's fixed ``names`` (spliced as literals)."""
        return f"{column} IN ({', '.join(self.literal(n) for n in sorted(names))})"

    def in_compartment(self) -> str:
        return (
            f"EXISTS (SELECT 1 FROM patient_compartment {self.r}_pc0"  # noqa: S608
            f" WHERE {self.r}_pc0.resource_pk = {self.r}.pk)"
        )

    def person_or_directory(self, allowed: Callable[[], str]) -> str:
        """A row in patients' compartments: ``allowed`` (over ``{alias}_pc.patient_id``) must
        hold for every one of them; any other row: only the directory. One CASE, so the
        compartment is probed once to choose the branch."""
        condition = allowed()  # built first: its parameters come first in the text
        return (
            f"(CASE WHEN {self.in_compartment()}"  # noqa: S608
            f" THEN NOT EXISTS (SELECT 1 FROM patient_compartment {self.pc}"
            f" WHERE {self.pc}.resource_pk = {self.r}.pk AND NOT ({condition}))"
            f" ELSE {self.among_names(f'{self.r}.resource_type', DIRECTORY_TYPES)} END)"
        )

    def directory(self) -> str:
        return (
            f"({self.among_names(f'{self.r}.resource_type', DIRECTORY_TYPES)}"
            f" AND NOT {self.in_compartment()})"
        )

    def visible(self, rule: _Rule) -> str:
        principal = rule.principal
        types = self.type_scope(principal)
        role = principal.role
        if role is Role.SYSTEM:
            return types
        if role is Role.CITIZEN:
            body = self.person_or_directory(lambda: self.is_self(principal))
        elif role in DIRECT_CARE and self.wide:
            body = self.person_set(rule)
        elif role in DIRECT_CARE:
            body = (
                f"({self.own(rule)} OR {self.person_or_directory(lambda: self.direct_care(rule))})"
            )
        else:
            body = self.directory()
        return f"({types} AND {body})"

    def is_self(self, principal: Principal) -> str:
        return f"{self.pc}.patient_id = {self.value(principal.patient)}"

    def type_scope(self, principal: Principal) -> str:
        scopes = principal.scopes
        wide: set[str] = set()
        for permission in (Permission.READ, Permission.SEARCH):
            wide |= scopes.types(Context.USER, permission)
            if principal.role is Role.SYSTEM:
                wide |= scopes.types(Context.SYSTEM, permission)
        if ALL_TYPES in wide:
            return "1 = 1"
        parts = [self.among(f"{self.r}.resource_type", frozenset(wide))] if wide else []
        if principal.patient is not None:
            narrow = scopes.types(Context.PATIENT, Permission.READ) | scopes.types(
                Context.PATIENT, Permission.SEARCH
            )
            if narrow:
                of_type = (
                    "1 = 1"
                    if ALL_TYPES in narrow
                    else self.among(f"{self.r}.resource_type", narrow)
                )
                mine = self.person_or_directory(lambda: self.is_self(principal))
                parts.append(f"({of_type} AND {mine})")
        return "(" + " OR ".join(parts) + ")" if parts else "1 = 0"

    def own(self, rule: _Rule) -> str:
        return self.among(f"{self.r}.source_org", rule.keys.source)

    def person_set(self, rule: _Rule) -> str:
        """The direct-care rows as a set probe and an exact check, for whole-type searches.

        The row-by-row shape searches the compartment twice for every row the organisation did
        not write; over a whole type that is most rows. Here the first conjunct is a cheap
        superset — the organisation's own row, a directory type, or a row in the compartment
        of someone seen, that last an uncorrelated set built once per query and probed — so
        most rows fail without a lookup. The second makes it exact for the rows left that the
        organisation did not write: everyone whose compartment holds the row must be seen, and
        their choices must allow it (a directory row outside every compartment passes).
        The set holds every compartment row of everyone seen, so a search already narrowed to
        a person or to ids keeps the row-by-row shape."""
        r, cp, pc = self.r, f"{self.r}_cp", self.pc
        # f-strings evaluate left to right, so each parameter is bound where it appears.
        candidate = (
            f"({self.own(rule)} OR {r}.pk IN ("  # noqa: S608
            f"SELECT {cp}0.resource_pk FROM patient_compartment {cp}0"
            f" WHERE {self.one_of(f'{cp}0.patient_id', self.related_people(rule, f'{cp}0_rel'))}"
            f" UNION ALL SELECT {cp}1.resource_pk FROM patient_compartment {cp}1"
            f" WHERE {self.one_of(f'{cp}1.patient_id', self.granted_people(rule, f'{cp}1_bg'))})"
            f" OR {self.among_names(f'{r}.resource_type', DIRECTORY_TYPES)})"
        )
        exact = (
            f"({self.own(rule)} OR NOT EXISTS (SELECT 1 FROM patient_compartment {pc}"  # noqa: S608
            f" WHERE {pc}.resource_pk = {r}.pk AND NOT {self.direct_care(rule)}))"
        )
        return f"({candidate} AND {exact})"

    def related(self, rule: _Rule, column: str) -> str:
        """``column`` (a patient id) is someone the principal has a legitimate relationship
        with. Set-shaped, the set of everyone related is built once per query and probed: a
        whole-type search meets many rows of many people. Row by row, the person's own
        relationships are probed through their index, so the few rows of a narrowed search,
        a read or an ``$everything`` cost a few index probes each, however large the
        principal's panel (building the panel's set cost a person-level search 0.6 ms of
        PostgreSQL execution here, and grows with the panel; docs/access.md, Overhead)."""
        rel = f"{column.split('.')[0]}_rel"
        if self.wide:
            return f"{column} IN ({self.related_people(rule, rel)})"
        return (
            f"EXISTS (SELECT 1 FROM access_relationship {rel}"  # noqa: S608
            f" WHERE {rel}.patient_id = {column} AND ({self.relationship(rule, rel)}))"
        )

    def granted(self, rule: _Rule, column: str) -> str:
        """``column`` (a patient id) is someone the principal holds a live break-glass grant
        for (a set or a probe, as in :meth:`related`)."""
        bg = f"{column.split('.')[0]}_bg"
        if self.wide:
            return f"{column} IN ({self.granted_people(rule, bg)})"
        return (
            f"EXISTS (SELECT 1 FROM access_breakglass {bg}"  # noqa: S608
            f" WHERE {bg}.patient_id = {column} AND {self.live_grant(rule, bg)})"
        )

    def one_of(self, column: str, people: str) -> str:
        """``column`` is one of ``people`` (a subquery), looked up through ``column``'s index.
        PostgreSQL plans ``IN`` as a hash of the people and a scan of the whole table; as an
        array it probes the index once per person, so the cost follows the principal's
        panel rather than the size of the record."""
        if self.dialect == "postgresql":
            return f"{column} = ANY (ARRAY({people}))"
        return f"{column} IN ({people})"

    def related_people(self, rule: _Rule, rel: str) -> str:
        """The ids of the people the principal has a legitimate relationship with."""
        return (
            f"SELECT {rel}.patient_id FROM access_relationship {rel}"  # noqa: S608
            f" WHERE {self.relationship(rule, rel)}"
        )

    def relationship(self, rule: _Rule, rel: str) -> str:
        """The ``access_relationship`` row ``rel`` binds the principal."""
        principal, keys = rule.principal, rule.keys
        staff = tuple(
            ref
            for ref in (
                principal.practitioner and f"Practitioner/{principal.practitioner}",
                principal.practitioner_role and f"PractitionerRole/{principal.practitioner_role}",
            )
            if ref
        )
        return (
            f"({rel}.kind = {self.literal(REGISTERED)}"
            f" AND ({self.among(f'{rel}.org', keys.registered)}"
            f" OR {self.among(f'{rel}.practitioner', staff)}))"
            f" OR ({rel}.kind <> {self.literal(REGISTERED)}"
            f" AND ({self.among(f'{rel}.org', keys.own)}"
            f" OR {self.among(f'{rel}.practitioner', staff)})"
            f" AND ({rel}.ended IS NULL OR {rel}.ended >= {self.value(_Instant.CUTOFF)}))"
        )

    def granted_people(self, rule: _Rule, bg: str) -> str:
        """The ids of the people the principal holds a live break-glass grant for."""
        return (
            f"SELECT {bg}.patient_id FROM access_breakglass {bg}"  # noqa: S608
            f" WHERE {self.live_grant(rule, bg)}"
        )

    def live_grant(self, rule: _Rule, bg: str) -> str:
        """The ``access_breakglass`` row ``bg`` is the principal's and has not expired."""
        return (
            f"{bg}.subject = {self.value(rule.principal.subject)}"
            f" AND {bg}.expires > {self.value(_Instant.NOW)}"
        )

    def direct_care(self, rule: _Rule) -> str:
        """Over ``{alias}_pc.patient_id``: a relationship or break-glass, and the choices."""
        keys = rule.keys
        r, pc = self.r, self.pc
        ch, sec = f"{r}_ch", f"{r}_sec"
        seen = (
            f"({self.related(rule, f'{pc}.patient_id')}"
            f" OR {self.granted(rule, f'{pc}.patient_id')})"
        )
        label = f"{sec}.system || '|' || {sec}.code"
        withheld = (
            f"{ch}.kind = {self.literal(DECLINE_SHARING)}"
            f" OR ({ch}.kind = {self.literal(DENY_ORG)} AND {self.among(f'{ch}.value', keys.own)})"
        )
        # Who withholds their record from the organisation: a set or a probe, as in related.
        shared = (
            f"{pc}.patient_id NOT IN (SELECT {ch}.patient_id FROM access_consent {ch}"  # noqa: S608
            f" WHERE {withheld})"
            if self.wide
            else f"NOT EXISTS (SELECT 1 FROM access_consent {ch}"  # noqa: S608
            f" WHERE {ch}.patient_id = {pc}.patient_id AND ({withheld}))"
        )
        # Labels are looked up from the row first: most rows have none, so this is one probe.
        choices = (
            f"({r}.resource_type = {self.literal('Consent')}"  # noqa: S608
            f" OR ({shared}"
            f" AND NOT EXISTS (SELECT 1 FROM resource_security {sec}"
            f" WHERE {sec}.resource_pk = {r}.pk"
            f" AND ({self.among(label, frozenset(rule.restricted_labels))}"
            f" OR EXISTS (SELECT 1 FROM access_consent {ch}"
            f" WHERE {ch}.patient_id = {pc}.patient_id"
            f" AND {ch}.kind = {self.literal(RESTRICTED_LABEL)} AND {ch}.value = {label})))))"
        )
        return f"({seen} AND {choices})"


# --- the write rules -------------------------------------------------------------------------


def check_write(
    tx: Transaction,
    principal: Principal,
    keys: OrgKeys,
    stored: StoredResource,
    operation: WriteOperation,
) -> None:
    """Inside the writing transaction: raise 403 unless ``principal`` may make this write."""
    permission = {
        "create": Permission.CREATE,
        "update": Permission.UPDATE,
        "delete": Permission.DELETE,
    }[operation]
    denial = interaction_denial(principal, stored.resource_type, permission)
    if denial is not None:
        raise FHIRError(denial, status=403, code="forbidden")
    if principal.role is Role.SYSTEM:
        return
    previous = _previous_version(tx, stored)
    if principal.role is Role.CITIZEN:
        _check_citizen_write(principal, stored, previous)
        return
    if stored.resource is not None and stored.source_org not in keys.source:
        raise FHIRError(
            f"you may only write as your own organisation ({principal.org})",
            status=403,
            code="forbidden",
        )
    if previous is not None and previous[0] not in keys.source:
        raise FHIRError(
            "this entry was written by another organisation; you may add your own entry "
            "but not change theirs",
            status=403,
            code="forbidden",
        )


def _previous_version(
    tx: Transaction, stored: StoredResource
) -> tuple[str | None, dict[str, Any] | None] | None:
    """(source_org, content) of the version before this write, or None for a new resource."""
    rows = tx.execute(
        "SELECT source_org, content, deleted FROM resource_history"
        " WHERE resource_type = ? AND id = ? AND version_id < ?"
        " ORDER BY version_id DESC LIMIT 1",
        [stored.resource_type, stored.id, stored.version_id],
    )
    if not rows or rows[0][2]:
        return None
    content = rows[0][1]
    if isinstance(content, str | bytes):
        content = orjson.loads(content)
    return rows[0][0], content


def _check_citizen_write(
    principal: Principal,
    stored: StoredResource,
    previous: tuple[str | None, dict[str, Any] | None] | None,
) -> None:
    versions = [stored.resource] + ([previous[1]] if previous is not None else [])
    for content in versions:
        about = None if content is None else reference_id(content.get("patient"), "Patient")
        if content is not None and about != principal.patient:
            raise FHIRError(
                "you can record sharing choices about yourself only",
                status=403,
                code="forbidden",
            )
