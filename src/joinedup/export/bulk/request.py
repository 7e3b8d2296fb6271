"""A Bulk Data kick-off request, checked (HL7 FHIR Bulk Data Access IG v2.0.0, "Bulk Data
Kick-off Request": ``_outputFormat``, ``_since``, ``_type``, ``_typeFilter``, ``_elements``,
and ``patient``, which only a POST kick-off can carry, in a FHIR Parameters body)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qsl

from joinedup.export.bulk.elements import parse_elements
from joinedup.export.deidentify import patient_id_of
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
    elements: tuple[str, ...] = ()
    """``_elements`` entries (``name`` or ``Type.name``), checked; empty: whole resources."""
    patients: tuple[str, ...] = ()
    """Patient ids from ``patient``: only their compartments are exported."""

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "group_id": self.group_id,
            "types": list(self.types),
            "since": self.since,
            "type_filters": [list(pair) for pair in self.type_filters],
            "elements": list(self.elements),
            "patients": list(self.patients),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExportRequest:
        return cls(
            level=data["level"],
            group_id=data["group_id"],
            types=tuple(data["types"]),
            since=data["since"],
            type_filters=tuple((t, q) for t, q in data["type_filters"]),
            # Jobs stored before _elements and patient existed have neither key.
            elements=tuple(data.get("elements", ())),
            patients=tuple(data.get("patients", ())),
        )


def parse_kickoff(
    level: Level,
    group_id: str | None,
    params: list[tuple[str, str]],
    patients: Sequence[str] = (),
) -> ExportRequest:
    """Check the kick-off parameters (``patients``: the ids a POST body's ``patient``
    parameters name); a :class:`FHIRError` (400) names the one at fault."""
    types: list[str] = []
    filters: list[tuple[str, str]] = []
    elements: list[str] = []
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
        elif name == "_elements":
            elements.extend(parse_elements(value))
        elif name == "patient":
            raise FHIRError(
                "patient is taken only by a POST kick-off: send a Parameters body with one "
                "patient parameter (valueReference Patient/<id>) per patient",
                expression="patient",
            )
        else:
            raise FHIRError(
                f"{name} is not a $export parameter; "
                "use _outputFormat, _since, _type, _typeFilter, _elements or (POST) patient",
                expression=name,
            )
    if patients and level == "system":
        raise FHIRError(
            "patient does not apply to a system-level export; "
            "POST to Patient/$export or Group/[id]/$export",
            expression="patient",
        )
    if types:
        for parameter, named in (
            ("_typeFilter", {t for t, _ in filters}),
            ("_elements", {e.rpartition(".")[0] for e in elements} - {""}),
        ):
            stray = sorted(named - set(types))
            if stray:
                raise FHIRError(
                    f"{parameter} names {', '.join(stray)}, which _type leaves out; "
                    "add it to _type",
                    expression=parameter,
                )
    return ExportRequest(
        level,
        group_id,
        tuple(dict.fromkeys(types)),
        since,
        tuple(filters),
        tuple(dict.fromkeys(elements)),
        tuple(dict.fromkeys(patients)),
    )


def kickoff_parameters(body: Any) -> tuple[list[tuple[str, str]], list[str]]:
    """A POST kick-off's Parameters resource as the ``(name, value)`` pairs a GET would carry,
    and the Patient ids of its ``patient`` parameters."""
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise FHIRError(
            "a POST kick-off takes a FHIR Parameters resource, e.g. "
            '{"resourceType": "Parameters", "parameter": [{"name": "_type", '
            '"valueString": "Patient"}]}',
            expression="Parameters",
        )
    pairs: list[tuple[str, str]] = []
    patients: list[str] = []
    for index, parameter in enumerate(body.get("parameter") or []):
        path = f"Parameters.parameter[{index}]"
        name = parameter.get("name") if isinstance(parameter, dict) else None
        if not isinstance(name, str):
            raise FHIRError("each parameter needs a name", expression=path)
        if name == "patient":
            patients.append(_patient_id(parameter.get("valueReference"), path))
            continue
        values = [v for k, v in parameter.items() if k.startswith("value") and isinstance(v, str)]
        if len(values) != 1:
            raise FHIRError(
                f"parameter {name} needs one value, e.g. valueString (valueInstant for _since)",
                expression=path,
            )
        pairs.append((name, values[0]))
    return pairs, patients


def _patient_id(reference: Any, path: str) -> str:
    text = reference.get("reference") if isinstance(reference, dict) else None
    patient_id = patient_id_of(text) if isinstance(text, str) else None
    if patient_id is None:
        raise FHIRError(
            "patient takes valueReference with reference Patient/<id>",
            expression=f"{path}.valueReference",
        )
    return patient_id


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
