"""Export jobs kept in the record's own database (a store extension), so that they survive a
server restart: the service resumes them, or fails them cleanly when they cannot be resumed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from joinedup.export.bulk.request import ExportRequest
from joinedup.store.base import Store, StoreExtension

Status = Literal["accepted", "in-progress", "completed", "failed", "cancelled"]
ACTIVE: tuple[Status, ...] = ("accepted", "in-progress")

_DDL = (
    "CREATE TABLE IF NOT EXISTS bulk_export_job ("
    " id TEXT PRIMARY KEY, status TEXT NOT NULL, request TEXT NOT NULL, request_url TEXT NOT NULL,"
    " requester TEXT, restricted INTEGER NOT NULL, transaction_time TEXT NOT NULL,"
    " progress TEXT, output TEXT, error TEXT, updated TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS bulk_export_member ("
    " job_id TEXT NOT NULL, patient_id TEXT NOT NULL, PRIMARY KEY (job_id, patient_id))",
)
EXTENSION = StoreExtension(name="bulk-export", ddl={"sqlite": _DDL, "postgresql": _DDL})
_COLUMNS = (
    "id, status, request, request_url, requester, restricted, transaction_time, progress, "
    "output, error"
)


@dataclass(frozen=True)
class Job:
    id: str
    status: Status
    request: ExportRequest
    request_url: str
    requester: str | None
    """The subject of the principal that kicked it off (only they may poll or download)."""
    restricted: bool
    """Ran under an access restriction, which lives only in memory: cannot resume."""
    transaction_time: str
    progress: str | None
    output: list[dict[str, Any]] | None
    error: str | None


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class JobTable:
    def __init__(self, store: Store) -> None:
        self.store = store
        store.register_extension(EXTENSION)

    def create(
        self,
        request: ExportRequest,
        request_url: str,
        requester: str | None,
        restricted: bool,
        members: list[str] | None,
    ) -> Job:
        job_id = uuid.uuid4().hex
        moment = now()
        with self.store.transaction() as tx:
            tx.execute(
                f"INSERT INTO bulk_export_job ({_COLUMNS}, updated) "  # noqa: S608 - constants
                "VALUES (?, 'accepted', ?, ?, ?, ?, ?, NULL, NULL, NULL, ?)",
                [
                    job_id,
                    orjson.dumps(request.to_json()).decode(),
                    request_url,
                    requester,
                    int(restricted),
                    moment,
                    moment,
                ],
            )
            for patient_id in dict.fromkeys(members or []):
                tx.execute(
                    "INSERT INTO bulk_export_member (job_id, patient_id) VALUES (?, ?)",
                    [job_id, patient_id],
                )
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str) -> Job | None:
        with self.store.transaction() as tx:
            rows = tx.execute(
                f"SELECT {_COLUMNS} FROM bulk_export_job WHERE id = ?",  # noqa: S608 - constants
                [job_id],
            )
        return _job(rows[0]) if rows else None

    def active(self) -> list[Job]:
        with self.store.transaction() as tx:
            rows = tx.execute(
                f"SELECT {_COLUMNS} FROM bulk_export_job "  # noqa: S608 - constants
                "WHERE status IN (?, ?) ORDER BY updated",
                list(ACTIVE),
            )
        return [_job(row) for row in rows]

    def update(
        self,
        job_id: str,
        *,
        status: Status | None = None,
        progress: str | None = None,
        output: list[dict[str, Any]] | None = None,
        error: str | None = None,
        only_if_active: bool = True,
    ) -> bool:
        """Change a job; with ``only_if_active`` a job already finished or cancelled is left
        alone (so a cancel that races a completion wins). True when a row changed."""
        sets, params = ["updated = ?"], [now()]
        for column, value in (("status", status), ("progress", progress), ("error", error)):
            if value is not None:
                sets.append(f"{column} = ?")
                params.append(value)
        if output is not None:
            sets.append("output = ?")
            params.append(orjson.dumps(output).decode())
        where = "id = ?" + (" AND status IN (?, ?)" if only_if_active else "")
        params.append(job_id)
        if only_if_active:
            params.extend(ACTIVE)
        with self.store.transaction() as tx:
            # Column names come from this function; every value is bound.
            tx.execute(f"UPDATE bulk_export_job SET {', '.join(sets)} WHERE {where}", params)  # noqa: S608
            changed = tx.execute("SELECT status FROM bulk_export_job WHERE id = ?", [job_id])
        return bool(changed) and (status is None or changed[0][0] == status)


def _job(row: tuple[Any, ...]) -> Job:
    return Job(
        id=row[0],
        status=row[1],
        request=ExportRequest.from_json(orjson.loads(row[2])),
        request_url=row[3],
        requester=row[4],
        restricted=bool(row[5]),
        transaction_time=row[6],
        progress=row[7],
        output=orjson.loads(row[8]) if row[8] else None,
        error=row[9],
    )
