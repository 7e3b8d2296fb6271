"""The FHIR R4 search parameters the record indexes, from ``search_parameters.json``.

The data file is transcribed from the official R4 (4.0.1) definitions (CC0); see its
``_source`` key. ``Resource``-level parameters (``_id``, ``_lastUpdated``, ``_tag``…) apply to
every type.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

ParamType = Literal[
    "token", "string", "date", "reference", "quantity", "number", "uri", "composite", "special"
]
#: ``_text`` (the narrative) and ``_content`` (the whole resource): string parameters matched
#: as words and phrases over text the store gathers at write time, not by string rules.
FULL_TEXT = frozenset({"_text", "_content"})


@dataclass(frozen=True, slots=True)
class SearchParameter:
    """One search parameter of one resource type."""

    resource_type: str
    """The type it applies to (``Resource`` for the common parameters)."""
    code: str
    type: ParamType
    expression: str
    targets: tuple[str, ...] = ()
    components: tuple[tuple[str, str], ...] = ()
    """For composites: ``(component parameter code, expression relative to the element)``."""


@cache
def _table() -> dict[str, dict[str, SearchParameter]]:
    raw = json.loads(
        resources.files("joinedup.fhir").joinpath("search_parameters.json").read_text("utf-8")
    )
    table: dict[str, dict[str, SearchParameter]] = {}
    for resource_type, params in raw.items():
        if resource_type.startswith("_"):
            continue
        table[resource_type] = {}
        for code, spec in params.items():
            kind, expression, extra = spec[0], spec[1], spec[2] if len(spec) > 2 else []
            table[resource_type][code] = SearchParameter(
                resource_type=resource_type,
                code=code,
                type=kind,
                expression=expression,
                targets=tuple(extra) if kind == "reference" else (),
                components=tuple((c[0], c[1]) for c in extra) if kind == "composite" else (),
            )
    return table


def resource_types() -> frozenset[str]:
    """Resource types with search parameters (not counting the abstract ``Resource``)."""
    return frozenset(t for t in _table() if t != "Resource")


@cache
def search_parameters(resource_type: str) -> dict[str, SearchParameter]:
    """All parameters of ``resource_type`` by code, the common ``Resource`` ones included."""
    return {**_table()["Resource"], **_table().get(resource_type, {})}


def search_parameter(resource_type: str, code: str) -> SearchParameter | None:
    """The parameter ``code`` of ``resource_type``, or None when R4 defines none."""
    return search_parameters(resource_type).get(code)


@cache
def patient_compartment() -> dict[str, tuple[str, ...]]:
    """R4 Patient CompartmentDefinition: resource type → parameters linking it to a Patient."""
    raw = json.loads(
        resources.files("joinedup.fhir").joinpath("patient_compartment.json").read_text("utf-8")
    )
    return {k: tuple(v) for k, v in raw.items() if not k.startswith("_")}
