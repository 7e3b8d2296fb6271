"""Throughput of the Fingertips statistics: vectorised vs row by row vs PHStatsMethods.

Measures groups per second for Wilson proportions, exact/Byar's rates and DSRs (19 ESP 2013
age bands per group), side by side in one run, and prints a markdown table. Each figure is the
median of ``--repeats`` runs. The row-by-row baseline (a Python loop over groups with the same
formulas, as a spreadsheet macro or naive port would do it) and PHStatsMethods (the UKHSA
Python package, pandas based) run on fewer groups and are reported as groups per second, so
the columns compare like with like. Results are cross-checked between implementations.

PHStatsMethods is a benchmark-only peer, never imported by ``src/``. Install it outside the
project environment and point the benchmark at it:

    pip install --target /tmp/phstatsmethods-peer PHStatsMethods pandas openpyxl
    python benchmarks/stats.py --peer-path /tmp/phstatsmethods-peer

Without ``--peer-path`` (or if the import fails) the PHStatsMethods column says so.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import chi2

from joinedup.measures.stats import ESP2013, Groups, dsr_ci, proportion_ci, rate_ci
from joinedup.measures.stats.confidence import two_sided_z

BANDS = len(ESP2013)
Z95 = two_sided_z(0.95)


@dataclass(frozen=True)
class Workload:
    numerator: np.ndarray  # per group
    denominator: np.ndarray  # per group
    band_count: np.ndarray  # per group x band, flattened
    band_pop: np.ndarray
    band_std: np.ndarray
    band_group: np.ndarray


def make_workload(groups: int, seed: int = 2026) -> Workload:
    rng = np.random.default_rng(seed)
    denominator = rng.integers(50, 50_000, groups).astype(float)
    numerator = np.floor(denominator * rng.beta(2, 20, groups))
    band_pop = rng.integers(100, 5_000, groups * BANDS).astype(float)
    band_count = rng.poisson(band_pop * 0.01).astype(float)
    return Workload(
        numerator=numerator,
        denominator=denominator,
        band_count=band_count,
        band_pop=band_pop,
        band_std=np.tile(np.asarray(ESP2013, dtype=float), groups),
        band_group=np.repeat(np.arange(groups), BANDS),
    )


def subset(work: Workload, groups: int) -> Workload:
    rows = groups * BANDS
    return Workload(
        work.numerator[:groups],
        work.denominator[:groups],
        work.band_count[:rows],
        work.band_pop[:rows],
        work.band_std[:rows],
        work.band_group[:rows],
    )


# --- row-by-row baseline: the same formulas, one group at a time ----------------------------


def wilson_row(x: float, n: float) -> tuple[float, float, float]:
    spread = Z95 * math.sqrt(Z95 * Z95 + 4 * x * (1 - x / n))
    scale = 2 * (n + Z95 * Z95)
    return x / n, (2 * x + Z95 * Z95 - spread) / scale, (2 * x + Z95 * Z95 + spread) / scale


def count_limits_row(x: float) -> tuple[float, float]:
    if x < 10:
        lower = 0.0 if x == 0 else chi2.ppf(0.025, 2 * x) / 2
        return lower, chi2.ppf(0.975, 2 * x + 2) / 2
    y = x + 1
    return (
        x * (1 - 1 / (9 * x) - Z95 / (3 * math.sqrt(x))) ** 3,
        y * (1 - 1 / (9 * y) + Z95 / (3 * math.sqrt(y))) ** 3,
    )


def rate_row(x: float, n: float) -> tuple[float, float, float]:
    lower, upper = count_limits_row(x)
    return x / n * 1e5, lower / n * 1e5, upper / n * 1e5


def dsr_row(counts: list[float], pops: list[float], stds: list[float]) -> tuple[float, ...]:
    total_std = sum(stds)
    total = sum(counts)
    dsr = sum(w * c / p for c, p, w in zip(counts, pops, stds, strict=True)) / total_std
    var = sum(w * w * c / (p * p) for c, p, w in zip(counts, pops, stds, strict=True))
    var /= total_std * total_std
    if total < 10:
        return (math.nan, math.nan, math.nan)
    lower, upper = count_limits_row(total)
    spread = math.sqrt(var / total)
    return (
        dsr * 1e5,
        (dsr + spread * (lower - total)) * 1e5,
        (dsr + spread * (upper - total)) * 1e5,
    )


def row_by_row(method: str, work: Workload) -> np.ndarray:
    if method == "wilson":
        rows = [wilson_row(x, n) for x, n in zip(work.numerator, work.denominator, strict=True)]
    elif method == "rate":
        rows = [rate_row(x, n) for x, n in zip(work.numerator, work.denominator, strict=True)]
    else:
        counts, pops, stds = (a.reshape(-1, BANDS).tolist() for a in
                              (work.band_count, work.band_pop, work.band_std))  # fmt: skip
        rows = [dsr_row(c, p, w) for c, p, w in zip(counts, pops, stds, strict=True)]
    return np.asarray(rows)[:, 1]  # the lower limits, for the cross-check


# --- vectorised (this project) --------------------------------------------------------------


def vectorised(method: str, work: Workload) -> np.ndarray:
    if method == "wilson":
        return np.asarray(proportion_ci(work.numerator, work.denominator).lower)
    if method == "rate":
        return np.asarray(rate_ci(work.numerator, work.denominator).lower)
    groups = Groups.of(work.band_group, len(work.band_group))
    return np.asarray(dsr_ci(work.band_count, work.band_pop, work.band_std, group=groups).lower)


# --- PHStatsMethods (peer) ------------------------------------------------------------------


def load_peer(path: str | None) -> tuple[Any, Any, str]:
    if path:
        sys.path.append(path)  # appended: the project's own numpy/scipy stay first
    try:
        import pandas
        import PHStatsMethods
    except ImportError as exc:
        return None, None, f"not installed ({exc.name})"
    return pandas, PHStatsMethods, "ok"


def peer_runner(pandas: Any, peer: Any) -> Callable[[str, Workload], np.ndarray]:
    def run(method: str, work: Workload) -> np.ndarray:
        if method in ("wilson", "rate"):
            frame = pandas.DataFrame(
                {"area": np.arange(len(work.numerator)), "x": work.numerator,
                 "n": work.denominator}
            )  # fmt: skip
            if method == "wilson":
                out = peer.ph_proportion(frame, "x", "n", group_cols="area", metadata=False)
            else:
                out = peer.ph_rate(frame, "x", "n", group_cols="area", metadata=False)
        else:
            frame = pandas.DataFrame(
                {"area": work.band_group, "x": work.band_count, "n": work.band_pop,
                 "std": work.band_std}
            )  # fmt: skip
            out = peer.ph_dsr(
                frame, "x", "n", "std", group_cols="area", metadata=False, euro_standard_pops=False
            )
        lower = [c for c in out.columns if str(c).startswith("lower") and "95" in str(c)]
        return out.sort_values("area")[lower[0]].to_numpy(dtype=float)

    return run


# --- timing ---------------------------------------------------------------------------------


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def max_relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    both = ~(np.isnan(a) | np.isnan(b))
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return math.inf
    return float(np.max(np.abs(a[both] - b[both]) / np.maximum(np.abs(b[both]), 1e-300)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=1_000_000, help="groups (vectorised)")
    parser.add_argument("--baseline-groups", type=int, default=20_000, help="row-by-row groups")
    parser.add_argument("--peer-groups", type=int, default=20_000, help="PHStatsMethods groups")
    parser.add_argument("--repeats", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--peer-path", help="folder PHStatsMethods was pip-installed into")
    args = parser.parse_args()

    work = make_workload(args.groups)
    baseline_work = subset(work, args.baseline_groups)
    peer_work = subset(work, args.peer_groups)
    pandas, peer, peer_status = load_peer(args.peer_path)
    run_peer = peer_runner(pandas, peer) if peer is not None else None

    print(f"groups: {args.groups:,} vectorised, {args.baseline_groups:,} row by row, "
          f"{args.peer_groups:,} PHStatsMethods ({peer_status}); median of {args.repeats} runs; "
          f"DSR groups have {BANDS} age bands\n")  # fmt: skip
    print(
        "| method | vectorised (groups/s) | row by row (groups/s) | PHStatsMethods (groups/s) "
        "| vectorised vs row by row | vectorised vs PHStatsMethods | max rel. difference |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    labels = {"wilson": "Wilson proportion 95%", "rate": "Crude rate, exact/Byar's 95%",
              "dsr": "DSR, Dobson 95% (19 bands)"}  # fmt: skip
    for method, label in labels.items():
        fast = median_seconds(lambda m=method: vectorised(m, work), args.repeats)
        slow = median_seconds(lambda m=method: row_by_row(m, baseline_work), args.repeats)
        ours = vectorised(method, baseline_work)
        difference = max_relative_difference(ours, row_by_row(method, baseline_work))
        fast_rate, slow_rate = args.groups / fast, args.baseline_groups / slow
        peer_cell, peer_ratio = peer_status, "-"
        if run_peer is not None:
            peer_seconds = median_seconds(lambda m=method: run_peer(m, peer_work), args.repeats)
            peer_rate = args.peer_groups / peer_seconds
            peer_cell, peer_ratio = f"{peer_rate:,.0f}", f"{fast_rate / peer_rate:,.0f}x"
            peer_lower = run_peer(method, peer_work)
            ours_peer = vectorised(method, peer_work)
            difference = max(difference, max_relative_difference(ours_peer, peer_lower))
        print(f"| {label} | {fast_rate:,.0f} | {slow_rate:,.0f} | {peer_cell} | "
              f"{fast_rate / slow_rate:,.0f}x | {peer_ratio} | {difference:.1e} |")  # fmt: skip


if __name__ == "__main__":
    main()
