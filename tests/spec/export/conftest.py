"""Fixtures for the export spec tests: the crafted record as a folder of NDJSON and in a store
(SQLite and PostgreSQL, each test in a schema of its own)."""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import ModuleType

import orjson
import pytest

from joinedup.export.sources import FolderSource, ResourceSource, StoreSource
from joinedup.store import Store, open_store


def _load_crafted_record() -> ModuleType:
    # The suite runs with --import-mode=importlib, so a helper beside the tests is loaded
    # by path and handed to the tests as the `crafted` fixture.
    spec = importlib.util.spec_from_file_location(
        "export_crafted_record", Path(__file__).with_name("crafted_record.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CRAFTED = _load_crafted_record()
record = CRAFTED.record


@pytest.fixture
def crafted() -> ModuleType:
    """The crafted record module: ``record()``, ``person(i)``, ``identifying_strings``,
    ``KEY``, ``OTHER_KEY``, ``OPTED_OUT``."""
    return CRAFTED


@pytest.fixture
def ics_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "ics"
    folder.mkdir()
    for resource_type, resources in record().items():
        (folder / f"{resource_type}.ndjson").write_bytes(
            b"".join(orjson.dumps(r) + b"\n" for r in resources)
        )
    return folder


@contextmanager
def store_of_kind(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store: SQLite in ``tmp_path`` or PostgreSQL in a fresh schema (dropped after)."""
    if kind == "sqlite":
        store = open_store(f"sqlite:///{tmp_path / 'record.db'}")
        try:
            yield store
        finally:
            store.close()
        return
    import psycopg

    base = request.getfixturevalue("postgres_url")
    schema = f"export_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in base else "?"
    store = open_store(f"{base}{separator}options=-csearch_path%3D{schema}")
    try:
        yield store
    finally:
        store.close()
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def store_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Callable[[str], AbstractContextManager[Store]]:
    """Opens an empty store of a kind (``sqlite`` or ``postgres``) for the test."""
    return lambda kind: store_of_kind(kind, request, tmp_path)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ics_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The crafted record loaded into each kind of store."""
    with store_of_kind(request.param, request, tmp_path) as store:
        store.bulk_load([r for resources in record().values() for r in resources])
        yield store


@pytest.fixture(params=["folder", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ics_source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ResourceSource]:
    """The crafted record as a snapshot source of each kind."""
    if request.param == "folder":
        yield FolderSource(request.getfixturevalue("ics_folder"))
        return
    with store_of_kind(request.param, request, tmp_path) as store:
        store.bulk_load([r for resources in record().values() for r in resources])
        yield StoreSource(store)
