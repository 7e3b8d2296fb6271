"""Run one interaction for an HTTP request and turn its result into the HTTP response."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from joinedup.access.middleware import SHOWN_AUDIT
from joinedup.fhir.bundle import EntryRequest
from joinedup.fhir.outcome import FHIRError
from joinedup.fhir.search_parameters import resource_types
from joinedup.record.shown import ShownResponse
from joinedup.server.requests import base_url, prefer, record_for
from joinedup.server.responses import interaction_response


def known_type(resource_type: str) -> str:
    if resource_type not in resource_types():
        raise FHIRError(
            f"'{resource_type}' is not a resource type this server holds; see /fhir/metadata",
            status=404,
            code="not-supported",
            expression="type",
        )
    return resource_type


async def respond(request: Request, entry: EntryRequest, *, write: bool = False) -> Response:
    # The store is synchronous (sqlite3 / psycopg): run it off the event loop, in one hand-off
    # with the audit of what a read showed when the access layer offers to write it there.
    audit_shown = getattr(request.state, SHOWN_AUDIT, None)

    def run() -> Response:
        result = record_for(request).perform(None, entry)
        response = interaction_response(result, prefer(request), base_url(request), write=write)
        if isinstance(result, ShownResponse):
            # The audit records what a read showed from this summary instead of parsing the body.
            request.state.shown = result.shown
            if audit_shown is not None:
                audit_shown(response.status_code, result.shown)
        return response

    return await run_in_threadpool(run)
