"""Reading FHIR references and instants the way the policy tables store them."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time
from typing import Any

ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"


def reference_id(value: Any, resource_type: str) -> str | None:
    """The id in a Reference to ``resource_type`` (``Type/id``, an absolute URL or a
    ``_history`` form), or None for anything else (contained, ``urn:uuid`` or another type)."""
    if not isinstance(value, dict):
        return None
    reference = value.get("reference")
    if not isinstance(reference, str):
        return None
    parts = reference.split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) >= 2 and parts[-2] == resource_type and parts[-1]:
        return parts[-1]
    return None


def organisation_key(value: Any) -> str | None:
    """The Organization id a Reference names, or its ODS code when it names one by identifier."""
    found = reference_id(value, "Organization")
    if found is not None:
        return found
    if isinstance(value, dict):
        identifier = value.get("identifier")
        if isinstance(identifier, dict) and identifier.get("system") == ODS_SYSTEM:
            code = identifier.get("value")
            return str(code) if code else None
    return None


def practitioner_key(value: Any) -> str | None:
    """``Practitioner/<id>`` or ``PractitionerRole/<id>`` for a reference to either."""
    for resource_type in ("Practitioner", "PractitionerRole"):
        found = reference_id(value, resource_type)
        if found is not None:
            return f"{resource_type}/{found}"
    return None


def ods_code(organization: dict[str, Any]) -> str | None:
    for identifier in organization.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("system") == ODS_SYSTEM:
            value = identifier.get("value")
            if value:
                return str(value)
    return None


def utc_instant(value: str | None) -> str | None:
    """A FHIR date/dateTime/instant as the store's sortable UTC text
    (``2026-11-22T19:30:00.123456+00:00``); a partial date means the end of the period it names."""
    if not value:
        return None
    try:
        if len(value) <= 10:
            parts = [int(p) for p in value.split("-")]
            year, month = parts[0], parts[1] if len(parts) > 1 else 12
            day = parts[2] if len(parts) > 2 else calendar.monthrange(year, month)[1]
            moment = datetime.combine(date(year, month, day), time.max, tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
    except ValueError:
        return None
    return format_instant(moment)


def format_instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
