"""Runs the official SQL on FHIR v2 test suite and writes ``test_report.json``.

Each suite file's resources are written once as a source folder (``<Type>.ndjson``), then
every test's view runs on the chosen engine. Rows are compared as multisets (the suite's
expected rows have no defined order); ``expectColumns`` also checks column order.
The report follows ``test-report.schema.json`` from the suite.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from joinedup.fhir.outcome import FHIRError
from joinedup.views.engines import Engine, run_many
from joinedup.views.model import ViewDefinition, parse_view
from joinedup.views.sources import Source, write_ndjson


@dataclass(frozen=True)
class CaseResult:
    suite: str
    name: str
    passed: bool
    error: str | None = None


def load_suite(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    return data


def suite_files(folder: Path) -> list[Path]:
    files = sorted(folder.glob("*.json"))
    if not files:
        raise FHIRError(
            f"no test files (*.json) in {folder}; pass the suite's tests/ folder",
            code="not-found",
            status=404,
        )
    return files


def run_suite_file(path: Path, engine: Engine, scratch: Path) -> list[CaseResult]:
    suite = load_suite(path)
    folder = scratch / path.stem
    write_ndjson(folder, suite.get("resources", []))
    source = Source(folder)
    cases = suite["tests"]
    views: list[ViewDefinition | Exception] = []
    for case in cases:
        try:
            views.append(parse_view(case["view"]))
        except FHIRError as exc:
            views.append(exc)
    runnable = [view for view in views if isinstance(view, ViewDefinition)]
    outcomes = iter(run_many(engine, runnable, source))
    return [
        _judge(path.name, case, view, view if isinstance(view, Exception) else next(outcomes))
        for case, view in zip(cases, views, strict=True)
    ]


def run_conformance(
    folder: Path, engine: Engine, progress: Callable[[str], None] | None = None
) -> list[CaseResult]:
    results: list[CaseResult] = []
    with tempfile.TemporaryDirectory(prefix="joinedup-sof-") as scratch:
        for path in suite_files(folder):
            if progress is not None:
                progress(path.name)
            results.extend(run_suite_file(path, engine, Path(scratch)))
    return results


def _judge(
    suite: str,
    case: dict[str, Any],
    view: ViewDefinition | Exception,
    outcome: list[dict[str, Any]] | Exception,
) -> CaseResult:
    name = case["title"]
    expect_error = bool(case.get("expectError"))
    if isinstance(outcome, Exception):
        # SQL engines surface data errors (error()/raise_error()) as their own exception types.
        if expect_error:
            return CaseResult(suite, name, True)
        return CaseResult(
            suite, name, False, f"unexpected error: {type(outcome).__name__}: {outcome}"
        )
    assert isinstance(view, ViewDefinition)
    rows = outcome
    if expect_error:
        return CaseResult(suite, name, False, "expected an error, the view ran")
    columns = case.get("expectColumns")
    if columns is not None and list(view.column_names) != list(columns):
        return CaseResult(
            suite, name, False, f"columns {list(view.column_names)}, expected {columns}"
        )
    if "expectCount" in case:
        if len(rows) != case["expectCount"]:
            return CaseResult(
                suite, name, False, f"{len(rows)} rows, expected {case['expectCount']}"
            )
        return CaseResult(suite, name, True)
    got = Counter(canonical_row(row) for row in rows)
    want = Counter(canonical_row(row) for row in case["expect"])
    if got != want:
        missing = list((want - got).elements())[:3]
        extra = list((got - want).elements())[:3]
        return CaseResult(suite, name, False, f"rows differ; missing {missing}, unexpected {extra}")
    return CaseResult(suite, name, True)


def canonical_row(row: dict[str, Any]) -> str:
    """A row as comparable text: numbers by value (1 == 1.0), booleans apart from numbers."""
    return json.dumps({key: _canonical(value) for key, value in row.items()}, sort_keys=True)


def _canonical(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        number = float(value)
        return ["number", round(number, 9) if math.isfinite(number) else str(number)]
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    return str(value)


def report(results: list[CaseResult]) -> dict[str, Any]:
    """The results in the official ``test_report.json`` shape."""
    out: dict[str, Any] = {}
    for result in results:
        entry: dict[str, Any] = {"passed": result.passed}
        if result.error:
            entry["error"] = result.error
        out.setdefault(result.suite, {"tests": []})["tests"].append(
            {"name": result.name, "result": entry}
        )
    return out
