"""The CapabilityStatement at ``/fhir/metadata``: the types, interactions and search
parameters this server really supports, read from the same tables the code uses."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from joinedup import __version__
from joinedup.fhir.search_parameters import (
    SearchParameter,
    resource_types,
    search_parameters,
)
from joinedup.server.routes.measures import EVALUATE_OPERATION
from joinedup.server.routes.view_definitions import RUN_OPERATION

_TYPE_INTERACTIONS = (
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
)
# Parameters every search takes besides the indexed ones (R4 search.html#all).
_RESULT_PARAMETERS = (
    "_count",
    "_sort",
    "_total",
    "_summary",
    "_elements",
    "_include",
    "_revinclude",
    "_has",
)
_MODIFIERS = (
    "Modifiers: token :text :not :of-type :in :not-in (a ValueSet stored in the record, "
    "expanded from explicit concepts, whole code systems or a stored expansion); string "
    ":exact :contains; uri :above :below (URL paths); reference :[type]; :missing on all. "
    "Token :above/:below are refused (no code system hierarchies are held). Quantities with "
    "a UCUM unit compare in canonical units (mass, length, volume, time, pressure, "
    "concentration by prefix). _text and _content match whole words and phrases, any case. "
    "Location near=latitude|longitude|distance|units (km default, m, [mi_i]; 10 km if no "
    "distance)."
)


def _definition(param: SearchParameter) -> str:
    """The canonical url of an R4 parameter (``Resource-id`` for ``_id``…)."""
    base = "DomainResource" if param.code == "_text" else param.resource_type
    return f"http://hl7.org/fhir/SearchParameter/{base}-{param.code.lstrip('_')}"


def _search_param(param: SearchParameter) -> dict[str, Any]:
    return {"name": param.code, "definition": _definition(param), "type": param.type}


def _resource(resource_type: str) -> dict[str, Any]:
    params = search_parameters(resource_type)
    references = sorted(code for code, param in params.items() if param.type == "reference")
    return {
        "type": resource_type,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
        "interaction": [{"code": code} for code in _TYPE_INTERACTIONS],
        "versioning": "versioned-update",
        "readHistory": True,
        "updateCreate": True,
        "conditionalCreate": True,
        "conditionalRead": "not-supported",
        "conditionalUpdate": True,
        "conditionalDelete": "single",
        "referencePolicy": ["literal", "local", "enforced"],
        "searchInclude": ["*", *(f"{resource_type}:{code}" for code in references)],
        "searchRevInclude": ["*"],
        "searchParam": [_search_param(param) for _, param in sorted(params.items())],
    }


def _measure() -> dict[str, Any]:
    """Measure is not a record type: it is the published outcomes library, read-only."""
    searches = (
        ("_id", "Resource-id", "token"),
        ("name", "Measure-name", "string"),
        ("url", "Measure-url", "uri"),
        ("title", "Measure-title", "string"),
        ("status", "Measure-status", "token"),
    )
    return {
        "type": "Measure",
        "profile": "http://hl7.org/fhir/StructureDefinition/Measure",
        "documentation": "The outcome measures `joinedup measures run` published, read-only; "
        "searches match exactly.",
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "searchParam": [
            {"name": name, "definition": f"http://hl7.org/fhir/SearchParameter/{d}", "type": t}
            for name, d, t in searches
        ],
        "operation": [
            {
                "name": "evaluate-measure",
                "definition": EVALUATE_OPERATION,
                "documentation": "GET Measure/{id}/$evaluate-measure?periodStart=&periodEnd=: "
                "the population (summary) MeasureReport of one published period, "
                "disclosure-controlled. Place leaders, analysts and system tokens.",
            }
        ],
    }


@lru_cache(maxsize=8)
def capability_statement(base: str) -> dict[str, Any]:
    """The statement for a server at ``base`` (built once: it changes only with the code)."""
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": datetime.now(UTC).date().isoformat(),
        "publisher": "joinedup",
        "kind": "instance",
        "software": {"name": "joinedup", "version": __version__},
        "implementation": {"description": "joinedup shared care record", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "patchFormat": ["application/json-patch+json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Search also takes "
                + ", ".join(_RESULT_PARAMETERS)
                + ". "
                + _MODIFIERS
                + " A search across types (GET [base]?_type=A,B) takes the common parameters "
                "below with _include, _revinclude, _sort, _count and _total.",
                "resource": sorted(
                    [*(_resource(t) for t in resource_types()), _measure()],
                    key=lambda entry: str(entry["type"]),
                ),
                "interaction": [
                    {"code": "transaction"},
                    {"code": "batch"},
                    {"code": "search-system"},
                    {"code": "history-system"},
                ],
                "searchParam": [
                    _search_param(param)
                    for _, param in sorted(search_parameters("Resource").items())
                ],
                "operation": [
                    {
                        "name": "everything",
                        "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                    },
                    {
                        "name": "run",
                        "definition": RUN_OPERATION,
                        "documentation": "SQL on FHIR v2: POST ViewDefinition/$run (viewResource "
                        "or viewReference), GET|POST ViewDefinition/{id}/$run for the stored "
                        "views (GET ViewDefinition lists them); _format ndjson|json|csv|parquet, "
                        "header, _limit. Runs on the de-identified snapshot only. Analysts and "
                        "system tokens.",
                    },
                ],
            }
        ],
    }
