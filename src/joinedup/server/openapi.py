"""How the API describes itself in OpenAPI: path parameters with their FHIR patterns,
request bodies, and the OperationOutcome responses every route can give.

FastAPI documents a 422 for parameter errors by default; this server answers those with a
400 OperationOutcome instead, so :func:`fhir_openapi` replaces them to keep the schema true.
It also documents the HEAD that every GET answers (``joinedup.server.head``), which the routes
themselves do not declare.
"""

from __future__ import annotations

import copy
from typing import Annotated, Any

from fastapi import FastAPI, Header, Path
from fastapi.openapi.utils import get_openapi

TypeName = Annotated[
    str,
    Path(
        pattern=r"^[A-Z][A-Za-z]{1,63}$",
        description="An R4 resource type, e.g. Patient",
        examples=["Patient"],
    ),
]
ResourceId = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z0-9\-\.]{1,64}$",
        description="A FHIR logical id",
        examples=["example"],
    ),
]
VersionId = Annotated[
    str, Path(pattern=r"^[0-9]{1,9}$", description="A version id (meta.versionId)")
]
IfMatch = Annotated[
    str | None, Header(description='Optimistic locking: W/"<versionId>" as read', alias="If-Match")
]
IfNoneExist = Annotated[
    str | None,
    Header(
        description="Conditional create: search parameters, e.g. identifier=x|1",
        alias="If-None-Exist",
    ),
]
PreferHeader = Annotated[
    str | None,
    Header(
        description="return=minimal|representation|OperationOutcome; handling=strict|lenient",
        alias="Prefer",
    ),
]

_FHIR_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["resourceType"],
    "properties": {"resourceType": {"type": "string"}},
}
_OUTCOME = {
    "description": "OperationOutcome explaining the problem",
    "content": {"application/fhir+json": {"schema": _FHIR_JSON_SCHEMA}},
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented responses of a route: its success codes, then the errors any FHIR
    route can give."""
    documented: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        if code == 204:
            documented[code] = {"description": "Done; no body"}
        else:
            documented[code] = {
                "description": "FHIR resource",
                "content": {"application/fhir+json": {"schema": _FHIR_JSON_SCHEMA}},
            }
    for code in (400, 404, 405, 406, 409, 410, 412, 413, 415, 422):
        documented[code] = _OUTCOME
    return documented


RESOURCE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/fhir+json": {"schema": _FHIR_JSON_SCHEMA},
            "application/json": {"schema": _FHIR_JSON_SCHEMA},
        },
    }
}
PATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json-patch+json": {
                "schema": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["op", "path"],
                        "properties": {
                            "op": {
                                "type": "string",
                                "enum": ["add", "remove", "replace", "move", "copy", "test"],
                            },
                            "path": {"type": "string"},
                            "from": {"type": "string"},
                            "value": {},
                        },
                    },
                }
            }
        },
    }
}
FORM_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "additionalProperties": {"type": "string"}}
            }
        },
    }
}


def _head_of(get: dict[str, Any]) -> dict[str, Any]:
    """The HEAD operation of a GET: the same parameters and statuses, headers only."""
    head = copy.deepcopy(get)
    head["summary"] = f"{get.get('summary', '')} (HEAD: headers only)".strip()
    if "operationId" in head:
        head["operationId"] = f"{head['operationId']}_head"
    for response in head.get("responses", {}).values():
        response.pop("content", None)
    return head


def fhir_openapi(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI, with FastAPI's 422 validation responses replaced by the 400
    OperationOutcome this server really sends."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            documented = operation.get("responses", {})
            if documented.get("422", {}).get("description") == "Validation Error":
                documented["422"] = _OUTCOME
        if "get" in path and "head" not in path:
            path["head"] = _head_of(path["get"])
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    if "components" in schema and not components:
        schema["components"].pop("schemas", None)
    app.openapi_schema = schema
    return schema
