"""The measures out dir as the dashboard reads it (loaded once per router)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from joinedup.measures.compute import RESULT_FILES


class MissingResults(FileNotFoundError):
    pass


@dataclass(frozen=True)
class DashboardData:
    meta: dict[str, Any]
    results: list[dict[str, Any]]
    spc: list[dict[str, Any]]
    spc_summary: list[dict[str, Any]]
    funnels: list[dict[str, Any]]
    inequality: list[dict[str, Any]]
    places: list[dict[str, Any]]

    @classmethod
    def load(cls, out_dir: Path) -> DashboardData:
        missing = [name for name in RESULT_FILES if not (out_dir / name).is_file()]
        if missing:
            raise MissingResults(
                f"{out_dir} lacks {', '.join(missing)}; run: "
                f"joinedup measures run --source SNAPSHOT --out {out_dir}"
            )

        def read_json(name: str) -> Any:
            return json.loads((out_dir / name).read_text(encoding="utf-8"))

        return cls(
            meta=read_json("measures.json"),
            results=pq.read_table(out_dir / "results.parquet").to_pylist(),
            spc=pq.read_table(out_dir / "spc.parquet").to_pylist(),
            spc_summary=read_json("spc_summary.json"),
            funnels=read_json("funnels.json"),
            inequality=read_json("inequality.json"),
            places=read_json("places.json"),
        )

    @property
    def measures(self) -> list[dict[str, Any]]:
        return list(self.meta["measures"])

    def measure(self, measure_id: str) -> dict[str, Any] | None:
        return next((m for m in self.measures if m["id"] == measure_id), None)

    def place(self, place_id: str) -> dict[str, Any] | None:
        return next((p for p in self.places if p["place_id"] == place_id), None)

    def name(self, group_id: str) -> str:
        return str(self.meta.get("names", {}).get(group_id, group_id))

    def rows(
        self, measure_id: str, breakdown: str | None = None, group_id: str | None = None
    ) -> list[dict[str, Any]]:
        return [
            r
            for r in self.results
            if r["measure_id"] == measure_id
            and (breakdown is None or r["breakdown"] == breakdown)
            and (group_id is None or r["group_id"] == group_id)
        ]

    def latest(self, measure_id: str, breakdown: str, group_id: str) -> dict[str, Any] | None:
        """The latest period's row with a published value (else the latest row)."""
        rows = sorted(self.rows(measure_id, breakdown, group_id), key=lambda r: r["period_start"])
        published = [r for r in rows if r["value"] is not None]
        chosen = published or rows
        return chosen[-1] if chosen else None

    def spc_series(self, measure_id: str, breakdown: str, group_id: str) -> list[dict[str, Any]]:
        return sorted(
            (
                p
                for p in self.spc
                if p["measure_id"] == measure_id
                and p["breakdown"] == breakdown
                and p["group_id"] == group_id
            ),
            key=lambda p: p["period_start"],
        )

    def spc_icons(self, measure_id: str, breakdown: str, group_id: str) -> dict[str, Any] | None:
        return next(
            (
                s
                for s in self.spc_summary
                if s["measure_id"] == measure_id
                and s["breakdown"] == breakdown
                and s["group_id"] == group_id
            ),
            None,
        )
