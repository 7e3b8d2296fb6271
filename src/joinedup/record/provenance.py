"""Who wrote what: the FHIR Provenance every write to the record leaves behind.

Each unit of work that writes — one REST write, one transaction Bundle, one batch entry, one
Bundle file or NDJSON batch of ``joinedup load`` — gets one Provenance written in the same
database transaction, so it commits or rolls back with what it describes. It names the
versions written (``target``), when (``recorded``), what was done (``activity``, a
v3-DataOperation code) and by whom (``agent``: the user's Practitioner on behalf of their
organisation, or the organisation or client software itself).

The R4 Patient compartment places a Provenance by its Patient targets only, so the record of a
write to someone's Observation would be outside their compartment and a clinician who may
read the Observation could not read who wrote it. :data:`EXTENSION` gives every Provenance the
access rows (compartments and security labels) of what it targets, so the access policy lets
exactly those who may read the targets read it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from joinedup.fhir.bundle import Written
from joinedup.fhir.validation import relative_reference
from joinedup.store.base import StoredResource, StoreExtension, Transaction, WriteOperation

ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
_OPERATION_DISPLAY = {"CREATE": "create", "UPDATE": "revise", "DELETE": "delete"}
#: Target ids per statement when copying access rows (well under both databases' limits).
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Author:
    """Who a write is attributed to: the one source of ``meta.source``, the store's
    ``source_org`` and the Provenance agent."""

    org: str | None = None
    """The writing organisation's ODS code."""
    practitioner: str | None = None
    """The user's Practitioner id, when the token names one."""
    patient: str | None = None
    """The person's own Patient id, when they write themselves (a citizen's choices)."""
    software: str | None = None
    """The client or tool, for a writer that is no person (a system token, ``joinedup load``)."""


def _organisation(ods: str) -> dict[str, Any]:
    return {"type": "Organization", "identifier": {"system": ODS_SYSTEM, "value": ods}}


def _agent(author: Author, exists: Callable[[str, str], bool]) -> dict[str, Any]:
    person: dict[str, Any] | None = None
    # A token may name a Practitioner the record does not hold; a reference to it would not
    # validate, so such a write is attributed to the organisation alone.
    if author.practitioner and exists("Practitioner", author.practitioner):
        person = {"reference": f"Practitioner/{author.practitioner}"}
    elif author.patient and exists("Patient", author.patient):
        person = {"reference": f"Patient/{author.patient}"}
    agent: dict[str, Any] = {
        "type": {"coding": [{"system": PARTICIPANT_TYPE, "code": "author", "display": "Author"}]}
    }
    if person is not None:
        agent["who"] = person
        if author.org:
            agent["onBehalfOf"] = _organisation(author.org)
    elif author.org:
        agent["who"] = _organisation(author.org)
    else:
        agent["who"] = {"type": "Device", "display": author.software or "unidentified client"}
    return agent


def _activity(written: Sequence[Written]) -> dict[str, Any] | None:
    operations = list(dict.fromkeys(w.operation for w in written))
    if None in operations:
        return None  # the bulk path does not learn whether it created or updated
    if len(operations) == 1:
        code = str(operations[0])
        return {
            "coding": [
                {"system": DATA_OPERATION, "code": code, "display": _OPERATION_DISPLAY[code]}
            ]
        }
    # One Provenance per transaction: its entries' operations differ, and a CodeableConcept's
    # codings must all mean the same thing, so the mix is said in text.
    return {"text": ", ".join(str(op) for op in operations)}


def provenance(
    written: Sequence[Written], author: Author, exists: Callable[[str, str], bool]
) -> dict[str, Any]:
    """The Provenance of one unit of work that wrote ``written`` (not empty)."""
    resource: dict[str, Any] = {
        "resourceType": "Provenance",
        "target": [{"reference": w.reference} for w in written],
        "recorded": max(w.recorded for w in written),
    }
    activity = _activity(written)
    if activity is not None:
        resource["activity"] = activity
    resource["agent"] = [_agent(author, exists)]
    return resource


# --- writing it past the caller's write rules ------------------------------------------------

_ATTESTING: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "joinedup_attesting", default=False
)


@contextmanager
def attesting() -> Iterator[None]:
    """The record writes a Provenance in here: it is the server's own statement about a write
    the caller was allowed to make, so the caller's write rules (which would refuse a citizen
    or a narrowly scoped token a Provenance) do not apply to it."""
    token = _ATTESTING.set(True)
    try:
        yield
    finally:
        _ATTESTING.reset(token)


def is_attesting() -> bool:
    return _ATTESTING.get()


# --- the access rows of its targets ---------------------------------------------------------


def _target_keys(resource: dict[str, Any]) -> dict[str, set[str]]:
    by_type: dict[str, set[str]] = {}
    for target in resource.get("target") or []:
        value = target.get("reference") if isinstance(target, dict) else None
        found = relative_reference(value) if isinstance(value, str) else None
        if found is not None:
            by_type.setdefault(found[0], set()).add(found[1])
    return by_type


def _chunks(values: Sequence[Any]) -> Iterator[tuple[str, list[Any]]]:
    """``values`` in statement-sized chunks, each with its ``?`` marks."""
    for start in range(0, len(values), _CHUNK):
        chunk = list(values[start : start + _CHUNK])
        yield ", ".join("?" for _ in chunk), chunk


# Table and column names below are this module's own; every value is a bound parameter.


def _rows_of(tx: Transaction, table: str, columns: str, pks: Sequence[Any]) -> set[tuple[Any, ...]]:
    """``columns`` of ``table``'s access rows for the resources ``pks``."""
    found: set[tuple[Any, ...]] = set()
    for marks, chunk in _chunks(pks):
        sql = f"SELECT {columns} FROM {table} WHERE resource_pk IN ({marks})"  # noqa: S608
        found |= {tuple(row) for row in tx.execute(sql, chunk)}
    return found


def _insert(tx: Transaction, table: str, columns: str, rows: Sequence[tuple[Any, ...]]) -> None:
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        values = ", ".join("(" + ", ".join("?" * len(row)) + ")" for row in chunk)
        params = [value for row in chunk for value in row]
        tx.execute(f"INSERT INTO {table} (resource_pk, {columns}) VALUES {values}", params)  # noqa: S608


def follow_targets(tx: Transaction, stored: StoredResource, operation: WriteOperation) -> None:
    """Write hook: a Provenance joins every Patient compartment, and carries every security
    label, of the resources it targets (a deleted target keeps its access rows)."""
    if stored.resource_type != "Provenance" or stored.resource is None:
        return
    # Plain indexed lookups rather than one join: a store that was just bulk loaded has no
    # planner statistics yet, and PostgreSQL then scans whole tables for the join.
    pk = tx.execute(
        "SELECT pk FROM resource WHERE resource_type = ? AND id = ?", ["Provenance", stored.id]
    )[0][0]
    targets: list[Any] = []
    for resource_type, ids in _target_keys(stored.resource).items():
        for marks, chunk in _chunks(sorted(ids)):
            sql = f"SELECT pk FROM resource WHERE resource_type = ? AND id IN ({marks})"  # noqa: S608
            targets += [row[0] for row in tx.execute(sql, [resource_type, *chunk])]
    for table, columns in (
        ("patient_compartment", "patient_id"),
        ("resource_security", "system, code"),
    ):
        missing = _rows_of(tx, table, columns, targets) - _rows_of(tx, table, columns, [pk])
        _insert(tx, table, columns, [(pk, *row) for row in sorted(missing, key=str)])


EXTENSION = StoreExtension(name="record-provenance", on_write=follow_targets)
