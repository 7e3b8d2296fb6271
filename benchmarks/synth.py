"""Benchmark: synthetic ICS generation, people/s, resources/s and peak memory.

Runs ``joinedup synth`` for 10k and 100k people with all cores (the default) and with one
process (the baseline: the same code path without multiprocessing), each in its own
subprocess so CPU time and peak RSS are measured per run (``wait4``: CPU summed over the run
and its workers; RSS of the largest single process). Takes the median of ``--repeats``
runs and prints a markdown table.

    python benchmarks/synth.py                      # 10k and 100k, 3 repeats
    python benchmarks/synth.py --people 10000 --repeats 1
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Run:
    seconds: float
    cpu_seconds: float
    """user + system time of the run and every process it waited for (load-insensitive)"""
    resources: int
    peak_rss_mb: float


def run_once(people: int, workers: int, workdir: Path) -> Run:
    out = workdir / f"out-{people}-{workers}"
    shutil.rmtree(out, ignore_errors=True)
    command = [
        sys.executable, "-c", "from joinedup.cli import app; app()", "synth",
        "--people", str(people), "--seed", "1", "--out", str(out), "--workers", str(workers),
    ]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"synth failed for {people} people with {workers} workers")
    resources = sum(count_lines(path) for path in out.glob("*.ndjson"))
    shutil.rmtree(out)
    return Run(seconds, usage.ru_utime + usage.ru_stime, resources, usage.ru_maxrss / 1024)


def count_lines(path: Path) -> int:
    lines = 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    rows = []
    with tempfile.TemporaryDirectory(prefix="synth-bench-") as tmp:
        for people in args.people:
            for workers, label in ((1, "1 process (baseline)"), (cores, f"{cores} processes")):
                runs = [run_once(people, workers, Path(tmp)) for _ in range(args.repeats)]
                seconds = statistics.median(r.seconds for r in runs)
                cpu = statistics.median(r.cpu_seconds for r in runs)
                resources = runs[0].resources
                rows.append(
                    f"| {people:,} | {label} | {seconds:.1f} | {cpu:.1f} | "
                    f"{people / seconds:,.0f} | {resources / seconds:,.0f} | {resources:,} | "
                    f"{max(r.peak_rss_mb for r in runs):.0f} |"
                )
                print(f"done: {people} people, {label}", file=sys.stderr)
    load = os.getloadavg()[0]
    print(f"Synthetic ICS generation (median of {args.repeats}; load average at end {load:.1f})\n")
    print("| people | run | wall s | CPU s | people/s | resources/s | resources | peak RSS MB |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
