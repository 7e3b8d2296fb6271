"""Export throughput: Bulk Data $export (NDJSON over HTTP) and the de-identified Parquet
snapshot, side by side with the naive baseline (every resource read one by one through the
REST API), plus the peak memory (RSS) of each at two store sizes to show it stays flat.

    python benchmarks/export.py --people 1000 5000 --runs 3

For each size it generates a synthetic ICS (``joinedup synth``), loads it into a SQLite
record, serves it with ``joinedup serve`` in a subprocess (the real server, access layer
included, authorised with a dev ``system/*.rs`` token), then measures, taking the median of
``--runs`` runs:

- ``$export``: kick-off to the last byte of the last file downloaded (status polled every
  20 ms);
- snapshot: ``joinedup snapshot --format parquet`` (opt-outs removed, de-identified) in a
  subprocess, start to exit;
- baseline: ``GET /fhir/<type>/<id>`` for a sample of ``--sample`` resources, one after the
  other over one keep-alive connection, scaled to resources/s.

Peak RSS is the server's high-water mark over the export runs (``VmHWM``) and the snapshot
process's ``ru_maxrss``; the snapshot's CPU is the process's user + system time (its DuckDB
threads included) per resource. Prints a markdown table.

    python benchmarks/export.py --store /tmp/snapshot-5m/record.db --runs 3

instead measures only the snapshot, of an existing SQLite record (a large one takes long to
build: `joinedup synth`, then the loading ``--workdir`` does or `joinedup load`).

    python benchmarks/export.py --round-trip ../shared/reference/synthea-r4

instead loads all Synthea bundles, exports them over HTTP, re-loads the NDJSON into an empty
store and checks that every resource comes back the same.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

from joinedup.access.principal import Principal, Role
from joinedup.access.scopes import ScopeSet
from joinedup.access.tokens import dev_token
from joinedup.store import open_store

KEY = "b" * 64
JOINEDUP = shutil.which("joinedup") or sys.exit("install joinedup first: pip install -e .")
LOAD_BATCH = 5_000
POLL_SECONDS = 0.02


@dataclass
class Figures:
    people: int
    resources: int
    export_rate: float
    export_rss_mb: float
    snapshot_rate: float
    snapshot_cpu_us: float
    snapshot_rss_mb: float
    baseline_rate: float


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sample", type=int, default=1000, help="resources read by the baseline")
    parser.add_argument("--workdir", type=Path, default=None, help="keep data here between runs")
    parser.add_argument(
        "--store",
        type=Path,
        metavar="RECORD_DB",
        help="instead: measure only the snapshot of this existing SQLite record",
    )
    parser.add_argument(
        "--round-trip",
        type=Path,
        metavar="SYNTHEA_DIR",
        help="instead: export every Synthea bundle in SYNTHEA_DIR, re-load the NDJSON into an "
        "empty store and compare (e.g. ../shared/reference/synthea-r4)",
    )
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="export-bench-"))
    if args.store:
        snapshot_only(args.store, workdir / "snapshot", args.runs)
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        return
    if args.round_trip:
        round_trip(args.round_trip, workdir / "round-trip")
        return
    rows = [measure(workdir / f"people-{n}", n, args.runs, args.sample) for n in args.people]
    print_table(rows, args.runs)
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)


def measure(folder: Path, people: int, runs: int, sample: int) -> Figures:
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "record.db"
    resources = prepare(folder, people, database)
    env = {**os.environ, "JOINEDUP_DATA_DIR": str(folder / "data"), "JOINEDUP_PSEUDONYM_KEY": KEY}
    port = free_port()
    server = subprocess.Popen(
        [JOINEDUP, "serve", "--db", f"sqlite:///{database}", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}/fhir"
        principal = Principal("benchmark", Role.SYSTEM, ScopeSet.parse("system/*.rs"), org="BENCH")
        token = dev_token(folder / "data", principal)
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=600) as client:
            wait_until_up(client, base)
            baseline = baseline_rate(client, base, database, sample)
            export_times = [
                export_once(client, base, folder / "downloads", resources) for _ in range(runs)
            ]
        export_rss = high_water_mb(server.pid)
    finally:
        server.terminate()
        server.wait()
    snapshot_runs = [snapshot_once(database, folder / "snapshot", env) for _ in range(runs)]
    return Figures(
        people=people,
        resources=resources,
        export_rate=resources / statistics.median(export_times),
        export_rss_mb=export_rss,
        snapshot_rate=resources / statistics.median(run.seconds for run in snapshot_runs),
        snapshot_cpu_us=statistics.median(run.cpu_seconds for run in snapshot_runs)
        / resources
        * 1e6,
        snapshot_rss_mb=max(run.rss_mb for run in snapshot_runs),
        baseline_rate=baseline,
    )


def prepare(folder: Path, people: int, database: Path) -> int:
    """Generate and load the synthetic ICS once; later runs with --workdir reuse it."""
    ics = folder / "ics"
    if not (ics / "Patient.ndjson").exists():
        shutil.rmtree(ics, ignore_errors=True)
        subprocess.run(
            [JOINEDUP, "synth", "--people", str(people), "--seed", "5", "--out", str(ics)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    loaded = count_resources(database)
    store = open_store(f"sqlite:///{database}")
    try:
        if loaded == 0:
            for path in sorted(ics.glob("*.ndjson")):
                with path.open("rb") as lines:
                    batch = []
                    for line in lines:
                        batch.append(orjson.loads(line))
                        if len(batch) == LOAD_BATCH:
                            loaded += store.bulk_load(batch)
                            batch = []
                    loaded += store.bulk_load(batch) if batch else 0
        return loaded
    finally:
        store.close()


def round_trip(synthea: Path, folder: Path) -> None:
    """Load the bundles with `joinedup load`, `$export` everything, load the NDJSON into an
    empty store, and compare every resource (minus the store's versionId/lastUpdated)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    source, again = folder / "source.db", folder / "again.db"
    env = {**os.environ, "JOINEDUP_DATA_DIR": str(folder / "data")}
    subprocess.run(
        [JOINEDUP, "load", str(synthea), "--db", f"sqlite:///{source}"], check=True, env=env
    )
    port = free_port()
    server = subprocess.Popen(
        [JOINEDUP, "serve", "--db", f"sqlite:///{source}", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}/fhir"
        principal = Principal("round-trip", Role.SYSTEM, ScopeSet.parse("system/*.rs"), org="BENCH")
        token = dev_token(folder / "data", principal)
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=600) as client:
            wait_until_up(client, base)
            export_once(client, base, folder / "ndjson", count_resources(source))
    finally:
        server.terminate()
        server.wait()
    subprocess.run(
        [JOINEDUP, "load", str(folder / "ndjson"), "--db", f"sqlite:///{again}"],
        check=True,
        env=env,
    )
    before, after = content(source), content(again)
    differing = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    print(
        f"\nround trip: {len(before):,} resources exported, {len(after):,} re-loaded, "
        f"{len(differing)} differ"
    )
    if differing:
        raise SystemExit(f"first differences: {differing[:5]}")


def count_resources(database: Path) -> int:
    store = open_store(f"sqlite:///{database}")
    try:
        with store.transaction() as tx:
            return int(tx.execute("SELECT COUNT(*) FROM resource WHERE deleted = 0")[0][0])
    finally:
        store.close()


def content(database: Path) -> dict[str, bytes]:
    store = open_store(f"sqlite:///{database}")
    try:
        result = {}
        for stored in store.iter_resources():
            resource = dict(stored.resource or {})
            meta = {
                k: v
                for k, v in resource.pop("meta", {}).items()
                if k not in {"versionId", "lastUpdated"}
            }
            if meta:
                resource["meta"] = meta
            result[f"{stored.resource_type}/{stored.id}"] = orjson.dumps(
                resource, option=orjson.OPT_SORT_KEYS
            )
        return result
    finally:
        store.close()


def wait_until_up(client: httpx.Client, base: str) -> None:
    for _ in range(600):
        try:
            if client.get(f"{base}/metadata").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not start")


def export_once(client: httpx.Client, base: str, downloads: Path, expected: int) -> float:
    shutil.rmtree(downloads, ignore_errors=True)
    downloads.mkdir(parents=True)
    started = time.perf_counter()
    kickoff = client.get(f"{base}/$export", headers={"Prefer": "respond-async"})
    kickoff.raise_for_status()
    status = kickoff.headers["Content-Location"]
    while (response := client.get(status)).status_code == 202:
        # Finer than the server's Retry-After: at 100,000 resources/s a small store exports
        # in a fraction of a second, and a coarse poll would be most of what is measured.
        time.sleep(POLL_SECONDS)
    response.raise_for_status()
    lines = 0
    for output in response.json()["output"]:
        with (
            client.stream("GET", output["url"]) as body,
            (downloads / output["url"].rsplit("/", 1)[1]).open("wb") as file,
        ):
            for chunk in body.iter_bytes():
                file.write(chunk)
                lines += chunk.count(b"\n")
    elapsed = time.perf_counter() - started
    if lines != expected:
        raise SystemExit(f"$export returned {lines} resources, the store holds {expected}")
    client.delete(status)
    return elapsed


def baseline_rate(client: httpx.Client, base: str, database: Path, sample: int) -> float:
    store = open_store(f"sqlite:///{database}")
    try:
        with store.transaction() as tx:
            keys = tx.execute(
                "SELECT resource_type, id FROM resource WHERE deleted = 0 ORDER BY pk LIMIT ?",
                [sample],
            )
    finally:
        store.close()
    started = time.perf_counter()
    for resource_type, id in keys:
        client.get(f"{base}/{resource_type}/{id}").raise_for_status()
    return len(keys) / (time.perf_counter() - started)


@dataclass
class SnapshotRun:
    seconds: float
    cpu_seconds: float
    rss_mb: float


def snapshot_only(database: Path, out: Path, runs: int) -> None:
    """The snapshot of an existing record, ``runs`` times; prints one line per run and the
    medians."""
    if not database.exists():
        raise SystemExit(f"there is no record at {database}")
    resources = count_resources(database)
    env = {
        **os.environ,
        "JOINEDUP_DATA_DIR": str(out.parent / "data"),
        "JOINEDUP_PSEUDONYM_KEY": KEY,
    }
    measured = []
    for _ in range(runs):
        run = snapshot_once(database, out, env)
        measured.append(run)
        print(
            f"{resources:,} resources: {run.seconds:.1f} s, {resources / run.seconds:,.0f}/s, "
            f"CPU {run.cpu_seconds / resources * 1e6:.1f} µs/resource, peak RSS "
            f"{run.rss_mb:,.0f} MB, load average {os.getloadavg()[0]:.1f}"
        )
    seconds = statistics.median(run.seconds for run in measured)
    cpu = statistics.median(run.cpu_seconds for run in measured)
    print(
        f"\nmedian of {runs}: {resources / seconds:,.0f} resources/s, "
        f"CPU {cpu / resources * 1e6:.1f} µs/resource, "
        f"peak RSS {max(run.rss_mb for run in measured):,.0f} MB"
    )
    shutil.rmtree(out, ignore_errors=True)


def snapshot_once(database: Path, out: Path, env: dict[str, str]) -> SnapshotRun:
    started = time.perf_counter()
    process = subprocess.Popen(
        [JOINEDUP, "snapshot", "--db", f"sqlite:///{database}", "--out", str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"joinedup snapshot failed with exit code {process.returncode}")
    return SnapshotRun(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def high_water_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise SystemExit("no VmHWM in /proc (Linux only)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def print_table(rows: list[Figures], runs: int) -> None:
    print(f"\nMedian of {runs} runs; SQLite record; resources/s (higher is better).\n")
    print(
        "| people | resources | `$export` NDJSON | de-identified Parquet snapshot | "
        "snapshot CPU per resource | naive REST reads | `$export` ÷ naive | "
        "peak RSS `$export` server | peak RSS snapshot |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r.people:,} | {r.resources:,} | {r.export_rate:,.0f}/s | "
            f"{r.snapshot_rate:,.0f}/s | {r.snapshot_cpu_us:.1f} µs | "
            f"{r.baseline_rate:,.0f}/s | {r.export_rate / r.baseline_rate:,.1f}× | "
            f"{r.export_rss_mb:,.0f} MB | {r.snapshot_rss_mb:,.0f} MB |"
        )


if __name__ == "__main__":
    main()
