"""Every failure becomes an OperationOutcome: FHIR errors with their status, framework errors
(unknown route, wrong method, bad parameter) as 4xx, and anything unexpected as a 500 that
logs only the exception's type, never request content (it may identify a person)."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from joinedup.fhir.outcome import FHIRError
from joinedup.server.responses import FHIRJSONResponse, error_response

log = logging.getLogger("joinedup.server")

_HTTP_CODES = {404: "not-found", 405: "not-supported", 406: "not-supported", 415: "not-supported"}


async def _fhir_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, FHIRError)
    return error_response(error)


async def _http_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    message = {
        404: "No FHIR interaction at this URL; see /fhir/metadata for what the server offers",
        405: "This method is not allowed at this URL; see /fhir/metadata",
    }.get(error.status_code, str(error.detail))
    fhir_error = FHIRError(
        message, status=error.status_code, code=_HTTP_CODES.get(error.status_code, "invalid")
    )
    return FHIRJSONResponse(
        fhir_error.to_resource(), status_code=error.status_code, headers=error.headers
    )


async def _validation_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    issues = []
    for problem in error.errors():
        location = ".".join(str(part) for part in problem.get("loc", ()))
        issues.append(
            FHIRError(f"{location}: {problem.get('msg', 'invalid')}", expression=location).issue()
        )
    return FHIRJSONResponse({"resourceType": "OperationOutcome", "issue": issues}, status_code=400)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(FHIRError, _fhir_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)


class CatchAll:
    """Outermost guard: an unexpected exception is a 500 OperationOutcome and one log line
    naming the exception type (no message, no URL, no body)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            log.error("unexpected %s while handling %s", type(error).__name__, scope["method"])
            if not started:
                response = error_response(
                    FHIRError(
                        "The server failed unexpectedly; report it with the time it happened",
                        status=500,
                        code="exception",
                    )
                )
                await response(scope, receive, send)
