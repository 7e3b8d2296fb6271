"""Request body size limit: anything larger gets 413 before the app reads it into memory."""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from joinedup.fhir.outcome import FHIRError

#: Large enough for the biggest Synthea patient bundle (≈ 3 MB compact) many times over.
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024


class BodyTooLarge(FHIRError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            f"The request body is larger than {limit:,} bytes; split it into smaller Bundles "
            "or use `joinedup load` for bulk data",
            status=413,
            code="too-costly",
        )


class BodySizeLimit:
    """ASGI middleware: 413 on a declared ``Content-Length`` over the limit, and on a
    streamed (chunked) body as soon as it passes the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await _reject(send, self.max_bytes)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _reject(send, self.max_bytes)


async def _reject(send: Send, limit: int) -> None:
    body = orjson.dumps(BodyTooLarge(limit).to_resource())
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/fhir+json; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
