"""Instance and type writes and reads: create, read, vread, update, patch, delete,
and their conditional forms."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from joinedup.fhir.bundle import EntryRequest, Target
from joinedup.fhir.outcome import FHIRError
from joinedup.server.dispatch import known_type, respond
from joinedup.server.negotiation import json_wanted
from joinedup.server.openapi import (
    PATCH_BODY,
    RESOURCE_BODY,
    IfMatch,
    IfNoneExist,
    PreferHeader,
    ResourceId,
    TypeName,
    VersionId,
    responses,
)
from joinedup.server.requests import no_nul, patch_body, query_params, resource_body

router = APIRouter(tags=["FHIR instance"], dependencies=[Depends(json_wanted)])


@router.post(
    "/{resource_type}",
    responses=responses(200, 201),
    openapi_extra=RESOURCE_BODY,
    summary="create (conditional with If-None-Exist)",
)
async def create(
    request: Request,
    resource_type: TypeName,
    if_none_exist: IfNoneExist = None,
    prefer_header: PreferHeader = None,
) -> Response:
    target = Target(known_type(resource_type))
    body = await resource_body(request)
    condition = (
        no_nul(parse_qsl(if_none_exist.lstrip("?"), keep_blank_values=True))
        if if_none_exist
        else None
    )
    return await respond(
        request, EntryRequest("POST", target, body, if_none_exist=condition), write=True
    )


@router.get("/{resource_type}/{id}", responses=responses(200), summary="read")
async def read(request: Request, resource_type: TypeName, id: ResourceId) -> Response:
    return await respond(request, EntryRequest("GET", Target(known_type(resource_type), id)))


@router.get("/{resource_type}/{id}/_history/{version}", responses=responses(200), summary="vread")
async def vread(
    request: Request, resource_type: TypeName, id: ResourceId, version: VersionId
) -> Response:
    target = Target(known_type(resource_type), id, version=version)
    return await respond(request, EntryRequest("GET", target))


@router.put(
    "/{resource_type}/{id}",
    responses=responses(200, 201),
    openapi_extra=RESOURCE_BODY,
    summary="update (or create with this id)",
)
async def update(
    request: Request,
    resource_type: TypeName,
    id: ResourceId,
    if_match: IfMatch = None,
    prefer_header: PreferHeader = None,
) -> Response:
    target = Target(known_type(resource_type), id)
    body = await resource_body(request)
    return await respond(request, EntryRequest("PUT", target, body, if_match=if_match), write=True)


@router.put(
    "/{resource_type}",
    responses=responses(200, 201),
    openapi_extra=RESOURCE_BODY,
    summary="conditional update (search parameters in the query)",
)
async def conditional_update(
    request: Request,
    resource_type: TypeName,
    if_match: IfMatch = None,
    prefer_header: PreferHeader = None,
) -> Response:
    target = Target(known_type(resource_type), params=_criteria(request))
    body = await resource_body(request)
    return await respond(request, EntryRequest("PUT", target, body, if_match=if_match), write=True)


@router.patch(
    "/{resource_type}/{id}",
    responses=responses(200),
    openapi_extra=PATCH_BODY,
    summary="patch (JSON Patch)",
)
async def patch(
    request: Request,
    resource_type: TypeName,
    id: ResourceId,
    if_match: IfMatch = None,
    prefer_header: PreferHeader = None,
) -> Response:
    target = Target(known_type(resource_type), id)
    body = await patch_body(request)
    return await respond(
        request, EntryRequest("PATCH", target, body, if_match=if_match), write=True
    )


@router.delete("/{resource_type}/{id}", responses=responses(204), summary="delete")
async def delete(
    request: Request, resource_type: TypeName, id: ResourceId, if_match: IfMatch = None
) -> Response:
    target = Target(known_type(resource_type), id)
    return await respond(request, EntryRequest("DELETE", target, if_match=if_match))


@router.delete(
    "/{resource_type}",
    responses=responses(204),
    summary="conditional delete (search parameters in the query)",
)
async def conditional_delete(request: Request, resource_type: TypeName) -> Response:
    target = Target(known_type(resource_type), params=_criteria(request))
    return await respond(request, EntryRequest("DELETE", target))


def _criteria(request: Request) -> list[tuple[str, str]]:
    criteria = query_params(request)
    if not criteria:
        raise FHIRError(
            "A conditional update or delete needs search parameters, e.g. "
            "?identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018",
            status=400,
        )
    return criteria
