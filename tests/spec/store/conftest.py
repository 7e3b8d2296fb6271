"""The store under test: every spec test here runs on SQLite and on PostgreSQL.

PostgreSQL stores live in schemas of their own (created here, dropped afterwards), so parallel
runs by other engineers on the shared server never collide. A schema is made once per test
module and emptied before each test, which keeps the suite fast.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from joinedup.store import Store, open_store

STORE_TABLES = (
    "resource, resource_history, conditional_claim, resource_security, patient_compartment, "
    "idx_token, idx_string, idx_date, idx_reference, idx_quantity, idx_number, idx_uri, "
    "idx_text, idx_position"
)


def postgres_schema_url(base_url: str, schema: str) -> str:
    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}options=-csearch_path%3D{schema}"


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A store URL on a new, empty schema that is dropped on exit."""
    import psycopg

    schema = f"store_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield postgres_schema_url(base_url, schema)
    finally:
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _new_url(request: pytest.FixtureRequest, kind: str) -> Iterator[str]:
    if kind == "sqlite":
        folder = request.getfixturevalue("tmp_path_factory").mktemp("store")
        yield f"sqlite:///{folder / 'record.db'}"
        return
    with postgres_schema(request.getfixturevalue("postgres_url")) as url:
        yield url


@pytest.fixture(scope="module")
def module_store_url(request: pytest.FixtureRequest, store_kind: str) -> Iterator[str]:
    yield from _new_url(request, store_kind)


@pytest.fixture
def store_url(
    request: pytest.FixtureRequest, store_kind: str, module_store_url: str
) -> Iterator[str]:
    """An empty store's URL: a new SQLite file, or the module's PostgreSQL schema emptied."""
    if store_kind == "sqlite":
        yield from _new_url(request, "sqlite")
        return
    import psycopg

    with psycopg.connect(module_store_url, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('resource')").fetchone()
        if exists and exists[0] is not None:
            conn.execute(f"TRUNCATE {STORE_TABLES} RESTART IDENTITY")
    yield module_store_url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(scope="module")
def shared_store(request: pytest.FixtureRequest, store_kind: str) -> Iterator[Store]:
    """A store of its own for a module's read-only tests (filled once by the module)."""
    for url in _new_url(request, store_kind):
        opened = open_store(url)
        try:
            yield opened
        finally:
            opened.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_kind" in metafunc.fixturenames:
        metafunc.parametrize(
            "store_kind",
            [
                pytest.param("sqlite", id="sqlite"),
                pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
            ],
            scope="module",
        )
