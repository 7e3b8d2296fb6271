"""One timeline of a person's record across organisations, for the pages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from joinedup.store.base import StoredResource

#: What the timeline shows, and which element dates each kind of entry.
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Encounter": ("Encounter", ("period.start",)),
    "Condition": ("Condition", ("onsetDateTime", "recordedDate")),
    "MedicationRequest": ("Medication", ("authoredOn",)),
    "MedicationStatement": ("Medication", ("effectiveDateTime", "dateAsserted")),
    "Observation": ("Observation", ("effectiveDateTime", "issued")),
    "CarePlan": ("Care plan", ("period.start", "created")),
    "ServiceRequest": ("Referral", ("authoredOn", "occurrenceDateTime")),
    "EpisodeOfCare": ("Episode of care", ("period.start",)),
}


@dataclass(frozen=True)
class Entry:
    when: str
    kind: str
    summary: str
    status: str
    author: str


def timeline(resources: Iterable[StoredResource], org_names: dict[str, str]) -> list[Entry]:
    """Newest first; entries without a date sort last."""
    entries = []
    for stored in resources:
        resource = stored.resource
        if resource is None or stored.resource_type not in KINDS:
            continue
        kind, date_paths = KINDS[stored.resource_type]
        when = next((d for d in (_at(resource, p) for p in date_paths) if d), "")
        entries.append(
            Entry(
                when=str(when)[:10],
                kind=kind,
                summary=summary(resource),
                status=str(resource.get("status") or _clinical_status(resource)),
                author=author(stored, org_names),
            )
        )
    return sorted(entries, key=lambda e: e.when, reverse=True)


def author(stored: StoredResource, org_names: dict[str, str]) -> str:
    org = stored.source_org
    if org is None:
        return "not recorded"
    return org_names.get(org, org)


def summary(resource: dict[str, Any]) -> str:
    concept = (
        resource.get("code")
        or resource.get("medicationCodeableConcept")
        or (resource.get("type") or [None])[0]
        or (resource.get("category") or [None])[0]
        or {}
    )
    text = _concept_text(concept) if isinstance(concept, dict) else ""
    title = resource.get("title")
    if not text and isinstance(title, str):
        text = title
    value = resource.get("valueQuantity")
    if isinstance(value, dict) and "value" in value:
        text += f": {value['value']} {value.get('unit', '')}".rstrip()
    elif isinstance(resource.get("valueCodeableConcept"), dict):
        text += f": {_concept_text(resource['valueCodeableConcept'])}"
    return text or resource.get("resourceType", "entry")


def _concept_text(concept: dict[str, Any]) -> str:
    if concept.get("text"):
        return str(concept["text"])
    for coding in concept.get("coding") or []:
        if isinstance(coding, dict) and (coding.get("display") or coding.get("code")):
            return str(coding.get("display") or coding.get("code"))
    return ""


def _clinical_status(resource: dict[str, Any]) -> str:
    status = resource.get("clinicalStatus")
    return _concept_text(status) if isinstance(status, dict) else ""


def _at(resource: dict[str, Any], path: str) -> Any:
    value: Any = resource
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
