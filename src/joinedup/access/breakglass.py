"""Break-glass: time-limited access to one person's record without a recorded relationship.

The user states a reason; the grant lasts ``breakglass_minutes``, is written to
``access_breakglass`` (listed for review at ``GET /access/break-glass`` and shown on the
person's own page) and every request made under it is audited with the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from joinedup.access.principal import DIRECT_CARE, Principal
from joinedup.access.references import format_instant
from joinedup.fhir.outcome import FHIRError
from joinedup.store.base import Store, StoreExtension, Transaction

MIN_REASON_LENGTH = 10

_TABLES = [
    "CREATE TABLE IF NOT EXISTS access_breakglass ("
    " grant_id TEXT PRIMARY KEY, subject TEXT NOT NULL, role TEXT NOT NULL, org TEXT,"
    " practitioner TEXT, patient_id TEXT NOT NULL, reason TEXT NOT NULL,"
    " started TEXT NOT NULL, expires TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS access_breakglass_patient"
    " ON access_breakglass (patient_id, subject, expires)",
    # The audit asks, for every direct-care request, whether the user holds a live grant.
    "CREATE INDEX IF NOT EXISTS access_breakglass_subject ON access_breakglass (subject, expires)",
]

EXTENSION = StoreExtension(name="access-breakglass", ddl={"sqlite": _TABLES, "postgresql": _TABLES})


@dataclass(frozen=True)
class BreakGlass:
    grant_id: str
    subject: str
    role: str
    org: str | None
    practitioner: str | None
    patient_id: str
    reason: str
    started: str
    expires: str


def grant(
    store: Store,
    principal: Principal,
    patient_id: str,
    reason: str,
    *,
    minutes: int,
    now: datetime | None = None,
) -> BreakGlass:
    """Record a break-glass grant; only direct-care users may break glass, with a reason."""
    if principal.role not in DIRECT_CARE:
        raise FHIRError(
            f"the {principal.role} role cannot break glass; only direct-care roles can",
            status=403,
            code="forbidden",
        )
    reason = " ".join(reason.split())
    if len(reason) < MIN_REASON_LENGTH:
        raise FHIRError(
            f"state why you need this record now (at least {MIN_REASON_LENGTH} characters)",
            expression="reason",
        )
    if not patient_id:
        raise FHIRError("name the Patient whose record you need", expression="patient")
    started = now or datetime.now(UTC)
    record = BreakGlass(
        grant_id=uuid.uuid4().hex,
        subject=principal.subject,
        role=principal.role.value,
        org=principal.org,
        practitioner=principal.practitioner,
        patient_id=patient_id,
        reason=reason,
        started=format_instant(started),
        expires=format_instant(started + timedelta(minutes=minutes)),
    )
    with store.transaction() as tx:
        tx.execute(
            "INSERT INTO access_breakglass (grant_id, subject, role, org, practitioner,"
            " patient_id, reason, started, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                record.grant_id,
                record.subject,
                record.role,
                record.org,
                record.practitioner,
                record.patient_id,
                record.reason,
                record.started,
                record.expires,
            ],
        )
    return record


def grants(
    store: Store,
    *,
    patient_id: str | None = None,
    subject: str | None = None,
    active_at: datetime | None = None,
) -> list[BreakGlass]:
    """Grants newest first: all (for review), one person's, or one user's active ones."""
    with store.transaction() as tx:
        return _grants(tx, patient_id=patient_id, subject=subject, active_at=active_at)


def live_probe(subject: str, at: datetime) -> tuple[str, list[str]]:
    """A scalar subquery: 1 if ``subject`` holds any grant live at ``at``, else NULL. The audit
    reads it with the chain's head, so the usual answer (none) costs no round trip."""
    return (
        "SELECT 1 FROM access_breakglass WHERE subject = ? AND expires > ? LIMIT 1",
        [subject, format_instant(at)],
    )


def reason_under(
    tx: Transaction, subject: str, patients: Collection[str], at: datetime
) -> str | None:
    """The reason of ``subject``'s newest grant live at ``at`` for any of ``patients`` — the
    grant a request about them ran under — or None, read in the caller's transaction."""
    for found in _grants(tx, subject=subject, active_at=at):
        if found.patient_id in patients:
            return found.reason
    return None


def _grants(
    tx: Transaction,
    *,
    patient_id: str | None = None,
    subject: str | None = None,
    active_at: datetime | None = None,
) -> list[BreakGlass]:
    where: list[str] = []
    params: list[str] = []
    if patient_id is not None:
        where.append("patient_id = ?")
        params.append(patient_id)
    if subject is not None:
        where.append("subject = ?")
        params.append(subject)
    if active_at is not None:
        where.append("expires > ?")
        params.append(format_instant(active_at))
    sql = (
        "SELECT grant_id, subject, role, org, practitioner, patient_id, reason, started, expires"  # noqa: S608
        " FROM access_breakglass"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY started DESC"
    )
    return [BreakGlass(*row) for row in tx.execute(sql, params)]
