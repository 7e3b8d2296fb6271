"""The Bulk Data export service behind the routes: who may export, kick-off, status, cancel.

Authorisation (Bulk Data Access IG: exports are for backend services): when the access layer
has set ``request.state.principal``, the caller needs ``system/<Type>.r`` (or ``system/*.r``)
for every type exported, and only the principal that kicked a job off may poll it, download
its files or cancel it. The caller's ``request.state.restriction`` is applied to every read
of the job, and to the Patients a ``patient`` parameter names: one the caller may not read
is refused like one that does not exist. Without a principal (the server run without the
access layer, as in tests) the service is open, like every other route.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from joinedup.access.scopes import Context, Permission
from joinedup.export.bulk.jobs import Job, JobTable
from joinedup.export.bulk.request import ExportRequest
from joinedup.export.bulk.runner import ExportRunner
from joinedup.export.deidentify import patient_id_of
from joinedup.fhir.outcome import FHIRError
from joinedup.store.base import Gone, NotFound, Restriction, Store


class BulkExportService:
    def __init__(self, store: Store, root: Path, per_file: int) -> None:
        """``per_file``: resources per output file before a type's next file is started."""
        self.store = store
        self.jobs = JobTable(store)
        self.runner = ExportRunner(store, self.jobs, root, per_file)
        self.runner.resume_all()

    def kick_off(
        self,
        request: ExportRequest,
        request_url: str,
        principal: Any | None,
        restriction: Restriction | None,
    ) -> Job:
        _check_scopes(principal, request.types)
        members = None
        if request.level == "group":
            assert request.group_id is not None
            members = self._group_members(request.group_id, restriction)
        if request.patients:
            members = self._chosen_patients(request, members, restriction)
        job = self.jobs.create(
            request,
            request_url,
            requester=_subject(principal),
            restricted=restriction is not None,
            members=members,
        )
        self.runner.submit(job, restriction)
        return job

    def job_for(self, job_id: str, principal: Any | None) -> Job:
        """The job, if this caller kicked it off; otherwise as if it did not exist."""
        job = self.jobs.get(job_id)
        if job is None or job.status == "cancelled" or job.requester != _subject(principal):
            raise FHIRError(f"no export job {job_id}", status=404, code="not-found")
        return job

    def file_path(self, job: Job, name: str) -> Path:
        if job.status != "completed" or not any(o["file"] == name for o in job.output or []):
            raise FHIRError(f"export job {job.id} has no file {name}", status=404, code="not-found")
        return self.runner.folder(job.id) / name

    def cancel(self, job: Job) -> None:
        self.jobs.update(job.id, status="cancelled", only_if_active=False)
        self.runner.cancel(job.id)

    def close(self) -> None:
        self.runner.shutdown()

    def _group_members(self, group_id: str, restriction: Restriction | None) -> list[str]:
        try:
            group = self.store.read("Group", group_id, restriction=restriction).resource or {}
        except NotFound:
            raise FHIRError(
                f"Group/{group_id} is not known", status=404, code="not-found"
            ) from None
        members = []
        for member in group.get("member", []):
            patient_id = patient_id_of(member.get("entity", {}).get("reference", ""))
            if patient_id is not None and not member.get("inactive", False):
                members.append(patient_id)
        return members

    def _chosen_patients(
        self, request: ExportRequest, members: list[str] | None, restriction: Restriction | None
    ) -> list[str]:
        """The ``patient`` parameter's ids, each a Patient this caller may export (and, for a
        Group, one of its members); otherwise a 400 naming the ones that are not."""
        if members is not None:
            in_group = set(members)
            outside = [p for p in request.patients if p not in in_group]
            if outside:
                raise FHIRError(
                    f"patient names {_listed(outside)}, not members of Group/{request.group_id}; "
                    "remove them from the patient parameter",
                    expression="patient",
                )
        unknown = []
        for patient_id in request.patients:
            try:
                self.store.read("Patient", patient_id, restriction=restriction)
            except (NotFound, Gone):
                # Denied and missing read alike, so the message cannot tell them apart.
                unknown.append(patient_id)
        if unknown:
            raise FHIRError(
                f"patient names {_listed(unknown)}, which this server does not hold or you "
                "may not export; remove them from the patient parameter",
                code="not-found",
                expression="patient",
            )
        return list(request.patients)


def _listed(patient_ids: list[str]) -> str:
    shown = ", ".join(f"Patient/{p}" for p in patient_ids[:5])
    return shown + (f" and {len(patient_ids) - 5} more" if len(patient_ids) > 5 else "")


def _subject(principal: Any | None) -> str | None:
    return None if principal is None else str(principal.subject)


def _check_scopes(principal: Any | None, types: tuple[str, ...]) -> None:
    if principal is None:
        return
    wanted = types or ("*",)
    missing = [t for t in wanted if not principal.scopes.allows(Context.SYSTEM, t, Permission.READ)]
    if missing:
        raise FHIRError(
            "Bulk Data export needs a backend-service token with system/*.r (or system/<Type>.r "
            f"for each type exported); missing for {', '.join(missing)}",
            status=403,
            code="forbidden",
        )
