"""From an HTTP request to the inputs of an interaction: the caller's record view, the
body (checked content type, parsed JSON), search parameters and ``Prefer``."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request

from joinedup.access.principal import Principal, Role
from joinedup.fhir.outcome import FHIRError
from joinedup.record.interactions import Record
from joinedup.record.provenance import Author
from joinedup.server.negotiation import JSON_TYPES
from joinedup.server.responses import Prefer
from joinedup.store.base import Store

PATCH_TYPE = "application/json-patch+json"
FORM_TYPE = "application/x-www-form-urlencoded"


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir"


def prefer(request: Request) -> Prefer:
    return Prefer.parse(request.headers.get("prefer"))


def author_of(principal: Principal | None) -> Author:
    """Who the caller's writes are attributed to (``principal`` from access, or None)."""
    if principal is None:
        return Author()
    return Author(
        org=principal.org,
        practitioner=principal.practitioner,
        # Only a citizen writes as the person; in another token the patient is the context.
        patient=principal.patient if principal.role is Role.CITIZEN else None,
        software=principal.subject if principal.role is Role.SYSTEM else None,
    )


def record_for(request: Request) -> Record:
    """The record as this caller may see and write it (``request.state`` is set by access)."""
    store: Store = request.app.state.store
    return Record(
        store,
        base=base_url(request),
        restriction=getattr(request.state, "restriction", None),
        author=author_of(getattr(request.state, "principal", None)),
        strict=prefer(request).handling == "strict",
    )


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _parse_json(body: bytes) -> Any:
    if not body:
        raise FHIRError("The request has no body; send the resource as FHIR JSON")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        # orjson's message gives the position only, never the content.
        raise FHIRError(f"The body is not valid JSON ({error})", code="structure") from None


async def resource_body(request: Request) -> Any:
    """The JSON body of a create/update/transaction (``application/fhir+json``)."""
    media_type = _media_type(request)
    if media_type and media_type not in JSON_TYPES:
        raise FHIRError(
            f"Content-Type {media_type[:64]!r} is not supported: joinedup takes FHIR JSON only; "
            "send the body as application/fhir+json",
            status=415,
            code="not-supported",
        )
    return _parse_json(await request.body())


async def patch_body(request: Request) -> Any:
    """The JSON Patch document of a PATCH (``application/json-patch+json``)."""
    media_type = _media_type(request)
    if media_type != PATCH_TYPE:
        raise FHIRError(
            f"PATCH takes a JSON Patch with Content-Type {PATCH_TYPE}; FHIRPath Patch "
            "(Parameters) is not supported",
            status=415,
            code="not-supported",
        )
    return _parse_json(await request.body())


def no_nul(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    for name, value in params:
        if "\x00" in name or "\x00" in value:
            raise FHIRError("A search parameter contains a NUL character", expression=name[:64])
    return params


def query_params(request: Request) -> list[tuple[str, str]]:
    return no_nul([(k, v) for k, v in request.query_params.multi_items() if k != "_format"])


async def search_params(request: Request) -> list[tuple[str, str]]:
    """GET parameters, plus the form body of ``POST [type]/_search`` and ``POST _search``."""
    params = query_params(request)
    if request.method == "POST":
        media_type = _media_type(request)
        body = await request.body()
        if body and media_type != FORM_TYPE:
            raise FHIRError(
                f"POST _search takes Content-Type {FORM_TYPE}", status=415, code="not-supported"
            )
        try:
            params += no_nul(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise FHIRError("The form body is not UTF-8") from None
    return params
