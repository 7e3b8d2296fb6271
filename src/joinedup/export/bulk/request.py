"""A Bulk Data kick-off request, checked (HL7 FHIR Bulk Data Access IG v2.0.0, "Bulk Data
Kick-off Request": ``_outputFormat``, ``_since``, ``_type``, ``_typeFilter``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qsl

from joinedup.fhir.outcome import FHIRError
from joinedup.fhir.validation import is_resource_type
from joinedup.store.search import parse_search

Level = Literal["system", "patient", "group"]
#: The IG lets servers accept these abbreviations of application/fhir+ndjson.
NDJSON_FORMATS = frozenset({"application/fhir+ndjson", "application/ndjson", "ndjson"})
NDJSON = "application/fhir+ndjson"


@dataclass(frozen=True)
class ExportRequest:
    level: Level
    group_id: str | None
    types: tuple[str, ...]
    """Requested types; empty means every type the level covers."""
    since: str | None
    type_filters: tuple[tuple[str, str], ...]
    """``(type, query string)`` pairs from ``_typeFilter``, already checked to parse."""

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "group_id": self.group_id,
            "types": list(self.types),
            "since": self.since,
            "type_filters": [list(pair) for pair in self.type_filters],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExportRequest:
        return cls(
            level=data["level"],
            group_id=data["group_id"],
            types=tuple(data["types"]),
            since=data["since"],
            type_filters=tuple((t, q) for t, q in data["type_filters"]),
        )


def parse_kickoff(
    level: Level, group_id: str | None, params: list[tuple[str, str]]
) -> ExportRequest:
    """Check the kick-off parameters; a :class:`FHIRError` (400) names the one at fault."""
    types: list[str] = []
    filters: list[tuple[str, str]] = []
    since = None
    for name, value in params:
        if name == "_outputFormat":
            if value not in NDJSON_FORMATS:
                raise FHIRError(
                    f"_outputFormat {value!r} is not supported; use {NDJSON}",
                    expression="_outputFormat",
                )
        elif name == "_since":
            since = _instant(value)
        elif name == "_type":
            types.extend(_types(value))
        elif name == "_typeFilter":
            filters.extend(_type_filter(part) for part in value.split(","))
        else:
            raise FHIRError(
                f"{name} is not a $export parameter; "
                "use _outputFormat, _since, _type or _typeFilter",
                expression=name,
            )
    if types:
        stray = sorted({t for t, _ in filters} - set(types))
        if stray:
            raise FHIRError(
                f"_typeFilter names {', '.join(stray)}, which _type leaves out; add it to _type",
                expression="_typeFilter",
            )
    return ExportRequest(level, group_id, tuple(dict.fromkeys(types)), since, tuple(filters))


def _types(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if not is_resource_type(name)]
    if unknown:
        raise FHIRError(
            f"_type names {', '.join(unknown)}, which are not FHIR R4 resource types",
            expression="_type",
        )
    return names


def _type_filter(value: str) -> tuple[str, str]:
    resource_type, _, query = value.partition("?")
    if not query:
        raise FHIRError(
            f"_typeFilter {value!r} must be a search like Observation?category=laboratory",
            expression="_typeFilter",
        )
    # Parsing now turns a bad filter into a 400 at kick-off rather than a failed job later.
    parse_search(resource_type, parse_qsl(query, keep_blank_values=True), strict=True)
    return resource_type, query


def _instant(value: str) -> str:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise FHIRError(
            f"_since {value!r} is not a FHIR instant; give one with a time zone, "
            "e.g. 2026-01-01T00:00:00Z",
            expression="_since",
        )
    return value
