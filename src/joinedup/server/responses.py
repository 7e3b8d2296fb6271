"""FHIR JSON responses: content type, ETag / Last-Modified / Location, and ``Prefer``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any

import orjson
from starlette.responses import Response

from joinedup.fhir.bundle import EntryResponse
from joinedup.fhir.outcome import FHIRError, information

FHIR_JSON = "application/fhir+json"


class FHIRJSONResponse(Response):
    media_type = FHIR_JSON
    charset = "utf-8"

    def render(self, content: Any) -> bytes:
        return b"" if content is None else orjson.dumps(content)


@dataclass(frozen=True, slots=True)
class Prefer:
    """The ``Prefer`` header (RFC 7240) as FHIR uses it."""

    return_: str = "representation"
    handling: str = "lenient"

    @classmethod
    def parse(cls, header: str | None) -> Prefer:
        values: dict[str, str] = {}
        for part in (header or "").replace(";", ",").split(","):
            key, _, value = part.strip().partition("=")
            values[key.strip().lower()] = value.strip().strip('"')
        return_ = values.get("return", "representation")
        if return_ not in ("minimal", "representation", "OperationOutcome"):
            return_ = "representation"
        handling = "strict" if values.get("handling") == "strict" else "lenient"
        return cls(return_, handling)


def http_date(last_updated: str) -> str:
    """RFC 7231 HTTP-date for an ISO 8601 ``lastUpdated``."""
    return format_datetime(datetime.fromisoformat(last_updated), usegmt=True)


def error_response(error: FHIRError) -> FHIRJSONResponse:
    return FHIRJSONResponse(error.to_resource(), status_code=error.status)


def interaction_response(
    result: EntryResponse, prefer: Prefer, base_url: str, *, write: bool = False
) -> FHIRJSONResponse:
    """The HTTP response for one interaction's result."""
    headers = dict(result.headers)
    if result.etag:
        headers["ETag"] = result.etag
    if result.last_modified:
        headers["Last-Modified"] = http_date(result.last_modified)
    if result.location:
        headers["Location"] = f"{base_url}/{result.location}"
    body: dict[str, Any] | None = result.resource
    if write and body is not None and body.get("resourceType") != "OperationOutcome":
        if prefer.return_ == "minimal":
            body = None
        elif prefer.return_ == "OperationOutcome":
            body = information(f"{result.status}: {body['resourceType']}/{body.get('id')} done")
    return FHIRJSONResponse(body, status_code=result.status, headers=headers)
