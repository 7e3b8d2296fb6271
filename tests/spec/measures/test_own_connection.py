"""A run on a connection of its own builds only the standard tables and columns the library
reads, and counts in a thread beside the statistics; it publishes what a run with every
standard table in place does."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from joinedup.export.disclosure import DisclosureRule
from joinedup.measures.compute import compute_measures
from joinedup.measures.compute.run import RESULT_FILES


def _same(mine: Any, theirs: Any) -> bool:
    if isinstance(mine, float) and isinstance(theirs, float):
        both_nan = math.isnan(mine) and math.isnan(theirs)
        return both_nan or math.isclose(mine, theirs, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(mine, dict) and isinstance(theirs, dict):
        return mine.keys() == theirs.keys() and all(_same(mine[k], theirs[k]) for k in mine)
    if isinstance(mine, list) and isinstance(theirs, list):
        return len(mine) == len(theirs) and all(map(_same, mine, theirs))
    return bool(mine == theirs)


def test_a_run_on_its_own_connection_publishes_the_same(
    synthetic_ics: Path, unsuppressed_results: Path, tmp_path: Path
) -> None:
    rule = DisclosureRule(suppress_below=1, round_to=1)  # as ``unsuppressed_results``
    compute_measures(synthetic_ics, tmp_path, rule=rule)
    for name in RESULT_FILES:
        if name.endswith(".parquet"):
            mine = pq.read_table(tmp_path / name).to_pylist()
            theirs = pq.read_table(unsuppressed_results / name).to_pylist()
        else:
            mine = json.loads((tmp_path / name).read_text(encoding="utf-8"))
            theirs = json.loads((unsuppressed_results / name).read_text(encoding="utf-8"))
        assert _same(mine, theirs), name
