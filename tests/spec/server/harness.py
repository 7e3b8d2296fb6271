"""The server under test: a fresh store of each kind, the ASGI app driven in process with
httpx from plain (synchronous) tests, and tokens for its callers. Used by the server spec
tests and the security tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio.from_thread
import httpx
import pytest
from starlette.types import ASGIApp

from joinedup.access.principal import Principal, Role
from joinedup.access.scopes import ScopeSet
from joinedup.access.tokens import dev_token
from joinedup.store import Store, open_store

FHIR_JSON = "application/fhir+json"


class PortalTransport(httpx.BaseTransport):
    """httpx's ASGI transport driven from synchronous tests through an anyio portal, so the
    app runs in process exactly as under a server, and tests stay plain functions."""

    def __init__(self, app: ASGIApp, portal: anyio.from_thread.BlockingPortal) -> None:
        self.asgi = httpx.ASGITransport(app=app)
        self.portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # a generator body becomes bytes the async transport can send

        async def send() -> httpx.Response:
            response = await self.asgi.handle_async_request(request)
            content = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=content)

        return self.portal.call(send)


@contextmanager
def in_process(app: ASGIApp) -> Iterator[httpx.Client]:
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        httpx.Client(
            transport=PortalTransport(app, portal),
            base_url="http://record.test",
            headers={"Content-Type": FHIR_JSON},
        ) as http,
    ):
        yield http


def system_token(data_dir: Path, org: str | None = None) -> str:
    """A dev token (signed with the key in ``data_dir``) for a system client that may read
    and write everything (access gives it no restriction), writing for ``org`` if given."""
    principal = Principal(
        subject="server-tests",
        role=Role.SYSTEM,
        scopes=ScopeSet.parse("system/*.cruds"),
        org=org,
    )
    return dev_token(data_dir, principal)


@contextmanager
def fresh_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store of the kind ``request.param`` names: ``sqlite`` in ``tmp_path``, or
    ``postgres`` in a schema of its own, dropped afterwards."""
    if request.param == "sqlite":
        opened = open_store(f"sqlite:///{tmp_path / 'record.db'}")
        try:
            yield opened
        finally:
            opened.close()
        return
    import psycopg

    base_url: str = request.getfixturevalue("postgres_url")
    schema = f"server_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in base_url else "?"
    opened = open_store(f"{base_url}{separator}options=-csearch_path%3D{schema}")
    try:
        yield opened
    finally:
        opened.close()
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
