"""The SQLite store keeps its query planner's statistics in step with its size."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from joinedup.store import open_store
from joinedup.store.sqlite import ANALYSE_FROM_ROWS


def _analysed_rows(path: Path) -> int | None:
    with sqlite3.connect(path) as connection:
        if not connection.execute(
            "SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat1'"
        ).fetchall():
            return None
        rows = connection.execute(
            "SELECT stat FROM sqlite_stat1 WHERE idx = 'resource_type_updated'"
        ).fetchall()
        return int(rows[0][0].split()[0]) if rows else None


def _patients(start: int, count: int) -> list[dict[str, object]]:
    return [{"resourceType": "Patient", "id": f"p{i}"} for i in range(start, start + count)]


def test_statistics_are_gathered_when_the_store_doubles(tmp_path: Path) -> None:
    path = tmp_path / "record.db"
    store = open_store(f"sqlite:///{path}")
    try:
        store.bulk_load(_patients(0, ANALYSE_FROM_ROWS // 2))
        assert _analysed_rows(path) is None  # too small to be worth it
        store.bulk_load(_patients(ANALYSE_FROM_ROWS, ANALYSE_FROM_ROWS))
        first = _analysed_rows(path)
        assert first is not None and first >= ANALYSE_FROM_ROWS
        store.bulk_load(_patients(10 * ANALYSE_FROM_ROWS, 10))
        assert _analysed_rows(path) == first  # grown a little: the statistics still hold
        store.bulk_load(_patients(20 * ANALYSE_FROM_ROWS, 2 * ANALYSE_FROM_ROWS))
        again = _analysed_rows(path)
        assert again is not None and again > first
    finally:
        store.close()
