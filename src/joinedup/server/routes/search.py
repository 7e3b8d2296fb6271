"""Search on GET and on POST ``_search`` (form body), answered with a searchset Bundle."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from joinedup.fhir.bundle import EntryRequest, Target
from joinedup.server.dispatch import known_type, respond
from joinedup.server.openapi import FORM_BODY, PreferHeader, TypeName, responses
from joinedup.server.requests import search_params

router = APIRouter(tags=["FHIR search"])


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
