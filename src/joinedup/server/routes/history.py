"""History: of one resource, of a type, and of the whole system (``_since``, ``_count``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.requests import Request
from starlette.responses import Response

from joinedup.fhir.bundle import EntryRequest, Target
from joinedup.server.dispatch import known_type, respond
from joinedup.server.negotiation import json_wanted
from joinedup.server.openapi import ResourceId, TypeName, responses
from joinedup.server.requests import query_params

router = APIRouter(tags=["FHIR history"], dependencies=[Depends(json_wanted)])

Since = Annotated[str | None, Query(alias="_since", description="FHIR instant")]
Count = Annotated[str | None, Query(alias="_count", pattern=r"^[0-9]{1,6}$")]


@router.get("/_history", responses=responses(200), summary="system history")
async def system_history(request: Request, since: Since = None, count: Count = None) -> Response:
    return await respond(request, EntryRequest("GET", _target(request, None, None)))


@router.get("/{resource_type}/_history", responses=responses(200), summary="type history")
async def type_history(
    request: Request, resource_type: TypeName, since: Since = None, count: Count = None
) -> Response:
    target = _target(request, known_type(resource_type), None)
    return await respond(request, EntryRequest("GET", target))


@router.get("/{resource_type}/{id}/_history", responses=responses(200), summary="instance history")
async def instance_history(
    request: Request,
    resource_type: TypeName,
    id: ResourceId,
    since: Since = None,
    count: Count = None,
) -> Response:
    target = _target(request, known_type(resource_type), id)
    return await respond(request, EntryRequest("GET", target))


def _target(request: Request, resource_type: str | None, id: str | None) -> Target:
    return Target(resource_type, id, history=True, params=query_params(request))
