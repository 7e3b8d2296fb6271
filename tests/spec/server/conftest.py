"""The server in process (httpx over the ASGI app), on every store: SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from harness import fresh_store, in_process, system_token

from joinedup.config import Settings
from joinedup.server.app import create_app
from joinedup.store import Store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with fresh_store(request, tmp_path) as opened:
        yield opened


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data folder (so one dev signing key, made once) for the whole session."""
    return tmp_path_factory.mktemp("server-data")


@pytest.fixture
def client(store: Store, data_dir: Path) -> Iterator[httpx.Client]:
    """An unrestricted system client (access, issue 4: ``system/*.cruds`` → no restriction)."""
    app = create_app(store, Settings(data_dir=data_dir))
    with in_process(app) as http:
        http.headers["Authorization"] = f"Bearer {system_token(data_dir)}"
        yield http


@pytest.fixture
def org_client(store: Store, data_dir: Path) -> Iterator[httpx.Client]:
    """An unrestricted system client whose writes come from organisation A81001."""
    app = create_app(store, Settings(data_dir=data_dir))
    with in_process(app) as http:
        http.headers["Authorization"] = f"Bearer {system_token(data_dir, 'A81001')}"
        yield http
