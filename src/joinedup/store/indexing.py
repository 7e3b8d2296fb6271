"""Search-index rows for one resource, from the compiled R4 search parameter extractors.

Each table's rows are tuples in the column order of :data:`INDEX_COLUMNS` (without the leading
``resource_pk``, which the store adds). ``grp`` is 0 for ordinary parameters; for a composite
parameter every matched element gets its own ``grp`` so that components are matched within one
element (``code-value-quantity`` pairs the code and value of the same Observation/component).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

from joinedup.fhir.search_parameters import (
    SearchParameter,
    patient_compartment,
    search_parameter,
    search_parameters,
)
from joinedup.fhir.ucum import UCUM, canonical
from joinedup.store import fulltext
from joinedup.store.fhirpath import (
    Extractor,
    Node,
    compile_expression,
    present_fields,
    root_fields,
)
from joinedup.store.ranges import MAX_US, MIN_US, date_range
from joinedup.store.text import normalize

Row = tuple[Any, ...]

INDEX_COLUMNS: dict[str, tuple[str, ...]] = {
    "idx_token": ("param", "grp", "system", "code", "text", "type_system", "type_code"),
    "idx_string": ("param", "grp", "value", "norm"),
    "idx_date": ("param", "grp", "low", "high"),
    "idx_reference": ("param", "grp", "target_type", "target_id", "url"),
    "idx_quantity": (
        "param",
        "grp",
        "value",
        "system",
        "code",
        "unit",
        "canonical_value",
        "canonical_code",
    ),
    "idx_number": ("param", "grp", "value"),
    "idx_uri": ("param", "grp", "value"),
    "idx_text": ("param", "grp", "words"),
    "idx_position": ("param", "grp", "latitude", "longitude", "x", "y", "z"),
}
TABLE_OF_TYPE = {
    "token": "idx_token",
    "string": "idx_string",
    "date": "idx_date",
    "reference": "idx_reference",
    "quantity": "idx_quantity",
    "number": "idx_number",
    "uri": "idx_uri",
    # The one special parameter the record indexes is Location's ``near`` (a position).
    "special": "idx_position",
}
# What each full-text parameter gathers (the kinds ``_values`` knows besides parameter types).
_FULL_TEXT_KIND = {"_text": "narrative", "_content": "content"}
_TABLE_OF_KIND = {**TABLE_OF_TYPE, "narrative": "idx_text", "content": "idx_text"}

# FHIR ContactPoint.system codes: a {system, value} pair with one of these is a ContactPoint,
# whose token is its value alone; any other system is an Identifier's namespace URI.
_CONTACT_SYSTEMS = frozenset({"phone", "fax", "email", "pager", "url", "sms", "other"})
_NAME_PARTS = ("family", "given", "prefix", "suffix", "text")
_ADDRESS_PARTS = ("line", "city", "district", "state", "postalCode", "country", "text")


TokenRow = tuple[str | None, str | None, str | None, str | None, str | None]
"""``(system, code, text, type_system, type_code)``."""


def _tokens(value: Any) -> list[TokenRow]:
    if isinstance(value, bool):
        return [(None, "true" if value else "false", None, None, None)]
    if isinstance(value, str | int | float):
        return [(None, str(value), None, None, None)]
    if not isinstance(value, dict):
        return []
    if "coding" in value or ("text" in value and "value" not in value and "code" not in value):
        text = value.get("text")
        rows: list[TokenRow] = [
            (
                c.get("system"),
                c.get("code"),
                normalize(c.get("display") or text or "") or None,
                None,
                None,
            )
            for c in value.get("coding", [])
            if isinstance(c, dict)
        ]
        if not rows and isinstance(text, str):
            rows.append((None, None, normalize(text), None, None))
        return rows
    if "value" in value:
        system, code = value.get("system"), value.get("value")
        if system in _CONTACT_SYSTEMS:
            return [(None, str(code), None, None, None)]
        types = [c for c in (value.get("type") or {}).get("coding", []) if isinstance(c, dict)]
        text = normalize(value.get("type", {}).get("text") or "") or None if types else None
        if not types:
            return [(system, str(code) if code is not None else None, None, None, None)]
        return [
            (system, str(code) if code is not None else None, text, t.get("system"), t.get("code"))
            for t in types
        ]
    if "code" in value or "system" in value:
        display = value.get("display")
        return [
            (
                value.get("system"),
                value.get("code"),
                normalize(display) if display else None,
                None,
                None,
            )
        ]
    return []


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, dict):
        return []
    parts = _NAME_PARTS if ("family" in value or "given" in value) else _ADDRESS_PARTS
    out: list[str] = []
    for part in parts:
        found = value.get(part)
        if isinstance(found, str):
            out.append(found)
        elif isinstance(found, list):
            out.extend(f for f in found if isinstance(f, str))
    return out


def _dates(value: Any) -> list[tuple[int, int]]:
    try:
        if isinstance(value, str):
            return [date_range(value)]
        if not isinstance(value, dict):
            return []
        if "start" in value or "end" in value:
            low = date_range(value["start"])[0] if value.get("start") else MIN_US
            high = date_range(value["end"])[1] if value.get("end") else MAX_US
            return [(low, high)]
        if "event" in value or "repeat" in value:
            out = [date_range(e) for e in value.get("event", []) if isinstance(e, str)]
            bounds = value.get("repeat", {}).get("boundsPeriod")
            return out + (_dates(bounds) if bounds else [])
    except ValueError:
        # Validation on write is the server's job; an unparseable date is simply not indexed.
        return []
    return []


def parse_reference(ref: str) -> tuple[str | None, str | None, str | None]:
    """``(type, id, url)`` of a reference string: relative ``Type/id[/_history/v]`` gives
    type and id; an absolute URL keeps ``url`` and, when it ends in ``Type/id``, those too;
    anything else (``urn:uuid:…``, canonicals) only ``url``."""
    base = ref.split("/_history/")[0]
    absolute = "://" in base or base.startswith("urn:")
    parts = base.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2][:1].isupper() and parts[-2].isalpha():
        return parts[-2], parts[-1], ref if absolute else None
    return None, None, ref


def _references(value: Any) -> list[tuple[str | None, str | None, str | None]]:
    if isinstance(value, str):
        return [parse_reference(value)]
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str) and not ref.startswith("#"):
            return [parse_reference(ref)]
    return []


def _quantities(value: Any) -> list[Row]:
    """``(value, system, code, unit, canonical value, canonical code)``: the canonical pair
    only for a UCUM unit :mod:`joinedup.fhir.ucum` converts, else ``None, None``."""
    number = value.get("value") if isinstance(value, dict) else None
    if not isinstance(number, int | float) or isinstance(number, bool):
        return []
    system, code = value.get("system"), value.get("code")
    # repr() is the shortest text of the float, so 5.4 converts as the decimal 5.4.
    converted = (
        canonical(Decimal(repr(number)), code) if system == UCUM and isinstance(code, str) else None
    )
    return [
        (
            float(number),
            system,
            code,
            value.get("unit"),
            float(converted[0]) if converted else None,
            converted[1] if converted else None,
        )
    ]


def _positions(value: Any) -> list[Row]:
    """``(latitude, longitude, x, y, z)`` of a ``Location.position``: degrees, and the point on
    the unit sphere, so that a distance search compares dot products instead of calling
    trigonometric functions the database may lack."""
    if not isinstance(value, dict):
        return []
    latitude, longitude = value.get("latitude"), value.get("longitude")
    if not isinstance(latitude, int | float) or not isinstance(longitude, int | float):
        return []
    lat, lon = math.radians(latitude), math.radians(longitude)
    return [
        (
            float(latitude),
            float(longitude),
            math.cos(lat) * math.cos(lon),
            math.cos(lat) * math.sin(lon),
            math.sin(lat),
        )
    ]


def _values(kind: str, node: Node) -> list[Row]:
    value = node[0]
    if kind == "token":
        return _tokens(value)
    if kind == "string":
        return [(s, normalize(s)) for s in _strings(value)]
    if kind == "date":
        return _dates(value)
    if kind == "reference":
        return _references(value)
    if kind == "quantity":
        return _quantities(value)
    if kind == "number":
        return (
            [(float(value),)]
            if isinstance(value, int | float) and not isinstance(value, bool)
            else []
        )
    if kind == "uri":
        return [(value,)] if isinstance(value, str) else []
    if kind == "special":
        return _positions(value)
    if kind in ("narrative", "content"):
        text = fulltext.narrative(value) if kind == "narrative" else fulltext.content(value)
        return [(text,)] if text else []
    return []


@dataclass(frozen=True, slots=True)
class _Component:
    kind: str
    extract: Extractor


@dataclass(slots=True)
class IndexPlan:
    """The compiled extractors of one resource type."""

    simple: list[tuple[SearchParameter, Extractor, frozenset[str] | None, str]] = field(
        default_factory=list
    )
    """Each parameter with its extractor, the top-level elements it needs (None: any) and the
    kind of value it indexes (its type, or what a full-text parameter gathers)."""
    composite: list[tuple[SearchParameter, Extractor, list[_Component]]] = field(
        default_factory=list
    )
    compartment_params: frozenset[str] = frozenset()


@cache
def plan_for(resource_type: str) -> IndexPlan:
    """Compile (once) every indexed parameter of ``resource_type``."""
    plan = IndexPlan(compartment_params=frozenset(patient_compartment().get(resource_type, ())))
    for param in search_parameters(resource_type).values():
        if param.code == "_id" or param.code == "_lastUpdated":
            continue  # columns of the resource table
        if param.type == "composite":
            components = []
            for code, expression in param.components:
                component = search_parameter(resource_type, code)
                kind = component.type if component else "token"
                components.append(_Component(kind, compile_expression(expression)))
            plan.composite.append(
                (param, compile_expression(param.expression, resource_type), components)
            )
        else:
            plan.simple.append(
                (
                    param,
                    compile_expression(param.expression, resource_type),
                    root_fields(param.expression, resource_type),
                    _FULL_TEXT_KIND.get(param.code, param.type),
                )
            )
    return plan


@dataclass(slots=True)
class ResourceIndex:
    """Everything the store writes about one resource version besides its JSON."""

    rows: dict[str, list[Row]]
    compartment: set[str]
    security: list[tuple[str | None, str | None]]


def index_resource(resource: dict[str, Any]) -> ResourceIndex:
    """Index rows, Patient compartments and security labels of ``resource``."""
    resource_type = resource["resourceType"]
    plan = plan_for(resource_type)
    rows: dict[str, list[Row]] = {table: [] for table in INDEX_COLUMNS}
    compartment: set[str] = set()
    present = present_fields(resource)
    memo: dict[tuple[str, int], list[Row]] = {}

    def values(kind: str, node: Node) -> list[Row]:
        # Many parameters reach the same element (code, combo-code, the code-value-*
        # composites…): convert each element once per resource.
        key = (kind, id(node[0]))
        found = memo.get(key)
        if found is None:
            found = memo[key] = _values(kind, node)
        return found

    for param, extract, needs, kind in plan.simple:
        if needs is not None and needs.isdisjoint(present):
            continue
        out = rows[_TABLE_OF_KIND[kind]]
        seen: set[Row] = set()
        for node in extract(resource):
            for value in values(kind, node):
                row = (param.code, 0, *value)
                if row not in seen:
                    seen.add(row)
                    out.append(row)
                    if (
                        param.type == "reference"
                        and param.code in plan.compartment_params
                        and value[0] == "Patient"
                        and value[1]
                    ):
                        compartment.add(value[1])
    for param, extract, components in plan.composite:
        for grp, element in enumerate(extract(resource), start=1):
            # A composite matches only an element with every component, so an element missing
            # one (the value of a valueString observation, for code-value-quantity) is skipped.
            # The last component (the value, which most elements lack) is looked at first.
            parts: list[list[Row]] = []
            for component in reversed(components):
                found = [
                    v
                    for node in component.extract(element[0])
                    for v in values(component.kind, node)
                ]
                if not found:
                    break
                parts.append(found)
            else:
                for component, found in zip(components, reversed(parts), strict=True):
                    rows[TABLE_OF_TYPE[component.kind]].extend(
                        (param.code, grp, *value) for value in found
                    )
    if resource_type == "Patient" and resource.get("id"):
        compartment.add(resource["id"])
    security = [
        (label.get("system"), label.get("code"))
        for label in resource.get("meta", {}).get("security", [])
        if isinstance(label, dict)
    ]
    return ResourceIndex(rows=rows, compartment=compartment, security=security)
