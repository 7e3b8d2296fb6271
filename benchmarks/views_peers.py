"""Peer SQL on FHIR engines for ``benchmarks/views.py``: sqlonfhir, fhir4ds and pysof.

The peers are benchmark-only and live outside the project environment
(``pip install --target /tmp/views-peers sqlonfhir fhir4ds pysof``); ``add_peer_path`` puts
that folder at the *end* of ``sys.path`` so the project's own duckdb/numpy still win.
Each peer runs a ViewDefinition two ways: end to end from an NDJSON file (the benchmark) and
over a list of resources (the official conformance suite).
"""

from __future__ import annotations

import copy
import json
import logging
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from joinedup.views.conformance import canonical_row

PEER_NAMES = ("sqlonfhir", "fhir4ds", "pysof")
Rows = list[dict[str, Any]]


class Peer(Protocol):
    name: str

    def run_ndjson(self, view: dict[str, Any], ndjson: Path) -> int:
        """Run ``view`` over one NDJSON file, materialising the rows; return the row count."""
        ...

    def run_resources(self, view: dict[str, Any], resources: Rows) -> Rows:
        """Run ``view`` over in-memory resources; return the rows as dicts."""
        ...


def run_ndjson(peer: Peer, view: dict[str, Any], ndjson: Path) -> int:
    """``peer.run_ndjson`` on a copy of ``view``: some peers normalise the view in place."""
    return peer.run_ndjson(copy.deepcopy(view), ndjson)


def add_peer_path(folder: Path) -> None:
    if not folder.is_dir():
        raise SystemExit(
            f"--peer-path {folder} is not a folder; create it with "
            f"pip install --target {folder} sqlonfhir fhir4ds pysof"
        )
    sys.path.append(str(folder))


class SqlOnFhir:
    """sqlonfhir (pure Python, fhirpathpy): evaluates resources one by one."""

    name = "sqlonfhir"

    def __init__(self) -> None:
        import sqlonfhir

        self._evaluate: Callable[[Rows, dict[str, Any]], Rows] = sqlonfhir.evaluate

    def run_ndjson(self, view: dict[str, Any], ndjson: Path) -> int:
        with ndjson.open(encoding="utf-8") as lines:
            resources = [json.loads(line) for line in lines if line.strip()]
        return len(self._evaluate(resources, view))

    def run_resources(self, view: dict[str, Any], resources: Rows) -> Rows:
        return self._evaluate(resources, view)


class _NoDownloadConnection:
    """A DuckDB connection for fhir4ds whose ``INSTALL json`` is dropped.

    fhir4ds runs ``INSTALL json; LOAD json;`` on connect; DuckDB 2.0 links json statically,
    yet INSTALL still tries to download it (and fails offline). LOAD alone is enough.
    """

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def execute(self, sql: str, *args: Any) -> Any:
        return self._connection.execute(sql.replace("INSTALL json;", ""), *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


class Fhir4ds:
    """fhir4ds (ViewDefinition → DuckDB SQL over a table of JSON resources)."""

    name = "fhir4ds"

    def __init__(self) -> None:
        import duckdb
        import fhir4ds

        # fhir4ds logs every view it rejects (the suite has many such cases) at ERROR level.
        logging.getLogger("fhir4ds").setLevel(logging.CRITICAL)
        self._duckdb = duckdb
        self._fhir4ds = fhir4ds

    def _store(self) -> Any:
        connection = _NoDownloadConnection(self._duckdb.connect())
        dialect = self._fhir4ds.DuckDBDialect(connection=connection)
        return self._fhir4ds.FHIRDataStore(dialect=dialect)

    def _execute(self, store: Any, view: dict[str, Any]) -> Any:
        return self._fhir4ds.ViewRunner(datastore=store).execute_view_definition(view)

    def run_ndjson(self, view: dict[str, Any], ndjson: Path) -> int:
        store = self._store()
        # fhir4ds' own file loaders expect a JSON array or Bundle (json.load of the whole
        # file); NDJSON goes into its table with DuckDB's reader, its fastest path.
        store.dialect.connection.execute(
            f"INSERT INTO {store.table_name} ({store.json_col}) "
            f"SELECT json FROM read_ndjson_objects('{ndjson}')"
        )
        return len(self._execute(store, view).fetchall())

    def run_resources(self, view: dict[str, Any], resources: Rows) -> Rows:
        store = self._store()
        store.load_resources(resources)
        result = self._execute(store, view)
        rows = result.fetchall()
        columns = [column[0] for column in store.dialect.connection.description or []]
        return [dict(zip(columns, row, strict=True)) for row in rows]


class PySof:
    """pysof (Rust, helios-sof): NDJSON streamed by its file processor."""

    name = "pysof"

    def __init__(self) -> None:
        import pysof

        # pysof's __init__ swallows a failed import of its Rust extension (then every call
        # raises NotImplementedError); import it directly so the real error is reported.
        import pysof._pysof

        self._pysof = pysof

    def run_ndjson(self, view: dict[str, Any], ndjson: Path) -> int:
        with tempfile.TemporaryDirectory(prefix="joinedup-pysof-") as scratch:
            out = Path(scratch) / "rows.ndjson"
            self._pysof.process_ndjson_to_file(view, str(ndjson), str(out), "ndjson")
            with out.open("rb") as rows:
                return sum(1 for line in rows if line.strip())

    def run_resources(self, view: dict[str, Any], resources: Rows) -> Rows:
        bundle = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": resource} for resource in resources],
        }
        rows: Rows = json.loads(self._pysof.run_view_definition(view, bundle, "json"))
        return rows


PEER_CLASSES: dict[str, Callable[[], Peer]] = {
    "sqlonfhir": SqlOnFhir,
    "fhir4ds": Fhir4ds,
    "pysof": PySof,
}


def load_peers() -> tuple[list[Peer], dict[str, str]]:
    """The peers that import, and for the others the exact import error."""
    peers: list[Peer] = []
    failures: dict[str, str] = {}
    for name in PEER_NAMES:
        try:
            peers.append(PEER_CLASSES[name]())
        except Exception as exc:
            failures[name] = f"{type(exc).__name__}: {exc}"
    return peers, failures


@dataclass(frozen=True)
class Conformance:
    passed: int
    total: int
    failed: tuple[str, ...]


def conformance(peer: Peer, suite_folder: Path) -> Conformance:
    """Run every case of the official suite through ``peer`` and judge it as the suite says."""
    files = sorted(suite_folder.glob("*.json"))
    if not files:
        raise SystemExit(f"no test files (*.json) in {suite_folder}; pass the suite's tests/")
    passed, total, failed = 0, 0, []
    for path in files:
        suite = json.loads(path.read_text(encoding="utf-8"))
        for case in suite["tests"]:
            total += 1
            try:
                outcome: Rows | Exception = peer.run_resources(
                    copy.deepcopy(case["view"]), copy.deepcopy(suite["resources"])
                )
            except Exception as exc:  # a peer's own error types are all "raised"
                outcome = exc
            if judge(case, outcome):
                passed += 1
            else:
                failed.append(f"{path.stem}: {case['title']}")
    return Conformance(passed, total, tuple(failed))


def judge(case: dict[str, Any], outcome: Rows | Exception) -> bool:
    """Pass/fail as the suite specifies: ``expectError`` passes when the peer raised; rows
    compare as multisets; ``expectColumns`` checks column order when there are rows."""
    if isinstance(outcome, Exception):
        return bool(case.get("expectError"))
    if case.get("expectError"):
        return False
    columns = case.get("expectColumns")
    if columns is not None and outcome and list(outcome[0]) != list(columns):
        return False
    if "expectCount" in case:
        return len(outcome) == case["expectCount"]
    expected: Rows = case["expect"]
    keys = {key for row in expected for key in row}
    # Some peers leave null columns out of a row; the suite writes them as null.
    got = Counter(canonical_row({key: row.get(key) for key in keys | set(row)}) for row in outcome)
    want = Counter(canonical_row({key: row.get(key) for key in keys}) for row in expected)
    return got == want
