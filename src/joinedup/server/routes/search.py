"""Search on GET and on POST ``_search`` (form body), answered with a searchset Bundle; and
the search across types, ``GET /fhir?_type=…`` and ``POST /fhir/_search``."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from joinedup.fhir.bundle import EntryRequest, Target
from joinedup.server.dispatch import known_type, respond
from joinedup.server.negotiation import json_wanted
from joinedup.server.openapi import FORM_BODY, PreferHeader, TypeName, responses
from joinedup.server.requests import search_params

router = APIRouter(tags=["FHIR search"], dependencies=[Depends(json_wanted)])


@router.get("", responses=responses(200), summary="search across types (_type)")
async def search_system(request: Request, prefer_header: PreferHeader = None) -> Response:
    target = Target(None, params=await search_params(request))
    return await respond(request, EntryRequest("GET", target))


@router.post(
    "/_search",
    responses=responses(200),
    openapi_extra=FORM_BODY,
    summary="search across types with parameters in a form body",
)
async def search_system_post(request: Request, prefer_header: PreferHeader = None) -> Response:
    target = Target(None, params=await search_params(request))
    return await respond(request, EntryRequest("GET", target))


@router.get("/{resource_type}", responses=responses(200), summary="search")
async def search(
    request: Request, resource_type: TypeName, prefer_header: PreferHeader = None
) -> Response:
    target = Target(known_type(resource_type), params=await search_params(request))
    return await respond(request, EntryRequest("GET", target))


@router.post(
    "/{resource_type}/_search",
    responses=responses(200),
    openapi_extra=FORM_BODY,
    summary="search with parameters in a form body",
)
async def search_post(
    request: Request, resource_type: TypeName, prefer_header: PreferHeader = None
) -> Response:
    target = Target(known_type(resource_type), params=await search_params(request))
    return await respond(request, EntryRequest("GET", target))
