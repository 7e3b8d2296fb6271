"""HEAD is GET without the body (RFC 9110 §9.3.2; FHIR R4 http.html#read allows it).

Two ASGI layers make every GET route answer HEAD with GET's status and headers (``ETag``,
``Last-Modified``, ``Content-Type``, ``Content-Length``…): :class:`HeadAsGet`, innermost, hands
the routes a GET; :class:`HeadWithoutBody`, outermost, drops the body on the way out. Between
them the access middleware sees the request as HEAD and the response whole, so a HEAD passes
the same policy and is audited (as a read, with what it would have shown) exactly like a GET.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _is_head(scope: Scope) -> bool:
    return scope["type"] == "http" and scope["method"] == "HEAD"


class HeadAsGet:
    """Innermost: route a HEAD to the GET handler of its URL."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _is_head(scope):
            # A copy, so the outer layers keep seeing HEAD; "state" is shared with them.
            scope = {**scope, "method": "GET"}
        await self.app(scope, receive, send)


class HeadWithoutBody:
    """Outermost: send a HEAD's status and headers, never its body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_head(scope):
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b""})
                return
            await send(message)

        await self.app(scope, receive, headers_only)
