"""The record over HTTP: a mixed read/search/create load from a separate load-generator
process, and ``Patient/$everything`` for a person with about 500 resources.

    python benchmarks/record_http.py                       # 100k resources, 3 runs of 20 s
    python benchmarks/record_http.py --resources 1000000   # the issue's 1M-resource store
    python benchmarks/record_http.py --db sqlite:///big.db --keep   # reuse a built store

The store is built once with ``bulk_load`` from the Synthea bundles, copied with fresh ids
until it holds ``--resources`` resources (kept for later runs with ``--keep``). Then
``joinedup serve`` runs on a local port, as a user starts it (uvicorn, one process, the
access middleware and audit included, with an unrestricted system token), and this script
starts a second Python process that drives it with ``--clients`` concurrent clients:
60% reads of a random resource, 30% searches (a patient's Observations by code; patients by
family name), 10% creates (an Observation for a random patient).

Side by side in the same run: ``GET /fhir/metadata`` (a fixed document, no store work) under
the same load generator gives the floor the HTTP stack and access layer set on this machine.
Published figures from other servers are printed as *anchors*: they were not run here.
Each figure is the median of ``--runs`` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

SYNTHEA = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "synthea-r4"

#: Published anchors (not measured here). Issue #3: HAPI on 8 vCPU; Medplum 5.0.10 on a
#: 2-core machine like this one with the same Synthea bundles.
ANCHORS = [
    ("HAPI FHIR (8 vCPU, published)", "3,755 req/s", "p99 67–77 ms", "—"),
    (
        "Medplum 5.0.10 (2 cores, published)",
        "≈ 275 req/s",
        "p99 ≈ 66 ms",
        "p95 ≈ 285 ms (≈ 360 res.)",
    ),
    ("Goal (issue #3)", "≥ 2,000 req/s", "p99 ≤ 50 ms", "p95 ≤ 20 ms (500 res.)"),
]


# --- building the store ---------------------------------------------------------------------


def _rewrite(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _rewrite(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, ids) for v in value]
    if isinstance(value, str) and value in ids:
        return ids[value]
    return value


def synthea_copies(limit: int) -> Iterator[tuple[list[dict[str, Any]], str | None, int]]:
    """Bundles as lists of resources with fresh ids and resolved references, until ``limit``;
    also the patient id of each copy and its entry count."""
    files = sorted(SYNTHEA.glob("*.json"), key=lambda p: not p.name.startswith(("hosp", "prac")))
    bundles = [json.loads(p.read_text())["entry"] for p in files]
    written = 0
    while written < limit:
        for entries in bundles:
            ids = {e["fullUrl"]: f"{e['resource']['resourceType']}/{uuid.uuid4()}" for e in entries}
            resources = []
            patient = None
            for entry in entries:
                resource = _rewrite(entry["resource"], ids)
                resource["id"] = ids[entry["fullUrl"]].split("/", 1)[1]
                if resource["resourceType"] == "Patient":
                    patient = resource["id"]
                resources.append(resource)
            yield resources, patient, len(entries)
            written += len(resources)
            if written >= limit:
                return


def build(url: str, limit: int, meta_file: Path) -> dict[str, Any]:
    from joinedup.access.install import EXTENSIONS
    from joinedup.store import open_store

    if meta_file.exists():
        return dict(json.loads(meta_file.read_text()))
    store = open_store(url, extensions=EXTENSIONS)
    patients: list[str] = []
    everything_patient = None
    best = 10**9
    written = 0
    started = time.perf_counter()
    for number, (resources, patient, size) in enumerate(synthea_copies(limit), start=1):
        written += store.bulk_load(resources)
        if patient:
            patients.append(patient)
            if abs(size - 500) < best:
                best, everything_patient = abs(size - 500), patient
        if number % 100 == 0:
            rate = written / (time.perf_counter() - started)
            print(f"  built {written:,} resources ({rate:,.0f}/s)", file=sys.stderr)
    store.close()
    meta = {"resources": written, "patients": patients, "everything_patient": everything_patient}
    meta_file.write_text(json.dumps(meta))
    return meta


# --- the load generator (runs as its own process) ---------------------------------------------


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Connection:
    """One keep-alive HTTP/1.1 connection, as lean as a load generator can be in Python:
    the requests are written as bytes and only the status line and length are parsed, so
    the generator's own CPU is not what limits the rate (httpx cost ≈ 1 ms a request)."""

    def __init__(self, base: str, token: str) -> None:
        parts = urlsplit(base)
        self.host, self.port, self.prefix = parts.hostname or "", parts.port or 80, parts.path
        self.head = f"Host: {self.host}\r\nAuthorization: Bearer {token}\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, params: dict[str, str] | None = None, body: bytes = b""
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        target = self.prefix + path + ("?" + urlencode(params) if params else "")
        extra = (
            f"Content-Type: application/fhir+json\r\nContent-Length: {len(body)}\r\n"
            if body
            else ""
        )
        self.writer.write(f"{method} {target} HTTP/1.1\r\n{self.head}{extra}\r\n".encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        if "content-length" in headers:
            return status, await self.reader.readexactly(int(headers["content-length"]))
        chunks = []
        while size := int((await self.reader.readuntil(b"\r\n")).strip(), 16):
            chunks.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)
        await self.reader.readuntil(b"\r\n")
        return status, b"".join(chunks)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _generate(
    base: str, token: str, patients: list[str], seconds: float, clients: int, mode: str
) -> dict[str, Any]:
    latencies: dict[str, list[float]] = {"read": [], "search": [], "create": [], "metadata": []}
    errors = 0
    known: list[str] = []
    connections = [Connection(base, token) for _ in range(clients)]
    # Warm up and collect readable ids.
    warm_up = min(50, len(patients)) if mode != "metadata" else 0
    for patient in random.sample(patients, warm_up):
        _, body = await connections[0].request(
            "GET", "/Observation", {"subject": f"Patient/{patient}", "_count": "20"}
        )
        known += [f"Observation/{e['resource']['id']}" for e in json.loads(body).get("entry", [])]
        known.append(f"Patient/{patient}")
    deadline = time.perf_counter() + seconds

    async def client(http: Connection) -> None:
        nonlocal errors
        rng = random.Random()
        while time.perf_counter() < deadline:
            if mode == "metadata":
                kind, call = "metadata", http.request("GET", "/metadata")
            else:
                roll = rng.random()
                patient = rng.choice(patients)
                if roll < 0.6:
                    kind, call = "read", http.request("GET", f"/{rng.choice(known)}")
                elif roll < 0.75:
                    kind, call = (
                        "search",
                        http.request(
                            "GET",
                            "/Observation",
                            {"subject": f"Patient/{patient}", "code": "http://loinc.org|8302-2"},
                        ),
                    )
                elif roll < 0.9:
                    kind, call = (
                        "search",
                        http.request("GET", "/Patient", {"family": rng.choice("ABCDEFGHKLMRSTW")}),
                    )
                else:
                    observation = {
                        "resourceType": "Observation",
                        "status": "final",
                        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                        "subject": {"reference": f"Patient/{patient}"},
                        "valueQuantity": {"value": rng.randint(50, 100), "unit": "/min"},
                    }
                    kind, call = (
                        "create",
                        http.request("POST", "/Observation", body=json.dumps(observation).encode()),
                    )
            started = time.perf_counter()
            status, _ = await call
            elapsed = time.perf_counter() - started
            if status >= 400:
                errors += 1
            latencies[kind].append(elapsed)

    began = time.perf_counter()
    await asyncio.gather(*(client(http) for http in connections))
    wall = time.perf_counter() - began
    for http in connections:
        http.close()
    every = [v for values in latencies.values() for v in values]
    return {
        "requests": len(every),
        "rate": len(every) / wall,
        "p50_ms": 1000 * _percentile(every, 0.5),
        "p99_ms": 1000 * _percentile(every, 0.99),
        "errors": errors,
        "by_kind": {k: len(v) for k, v in latencies.items() if v},
        "sent": len(every) + warm_up,
    }


async def _everything(base: str, token: str, patient: str, repeats: int) -> dict[str, Any]:
    http = Connection(base, token)
    times = []
    size = 0
    for _ in range(repeats):
        started = time.perf_counter()
        _, body = await http.request("GET", f"/Patient/{patient}/$everything", {"_count": "1000"})
        times.append(time.perf_counter() - started)
        size = len(json.loads(body).get("entry", []))
    http.close()
    return {
        "p50_ms": 1000 * _percentile(times, 0.5),
        "p95_ms": 1000 * _percentile(times, 0.95),
        "resources": size,
        "sent": repeats,
    }


def generator_main(args: argparse.Namespace) -> None:
    job = json.loads(Path(args.job).read_text())
    if args.generate == "everything":
        result = asyncio.run(_everything(job["base"], job["token"], job["patient"], job["repeats"]))
    else:
        result = asyncio.run(
            _generate(
                job["base"],
                job["token"],
                job["patients"],
                job["seconds"],
                job["clients"],
                args.generate,
            )
        )
    print(json.dumps(result))


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_generator(kind: str, job: dict[str, Any], workdir: Path, server: int) -> dict[str, Any]:
    """The load generator in its own Python process, so it never shares the server's GIL.
    Also the server's CPU time per request, which other work on the machine does not inflate
    the way it inflates latencies."""
    job_file = workdir / f"job-{kind}.json"
    job_file.write_text(json.dumps(job))
    before = cpu_seconds(server)
    done = subprocess.run(
        [sys.executable, __file__, "--generate", kind, "--job", str(job_file)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = dict(json.loads(done.stdout.strip().splitlines()[-1]))
    result["server_cpu_ms"] = 1000 * (cpu_seconds(server) - before) / result["sent"]
    return result


# --- the server -------------------------------------------------------------------------------


def serve(url: str, data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    joinedup = str(Path(sys.executable).with_name("joinedup"))
    process = subprocess.Popen(
        [joinedup, "serve", "--db", url, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "JOINEDUP_DATA_DIR": str(data_dir)},
    )
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/fhir/metadata", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError("joinedup serve did not start")


def system_token(data_dir: Path) -> str:
    from joinedup.access.principal import Principal, Role
    from joinedup.access.scopes import ScopeSet
    from joinedup.access.tokens import dev_token

    principal = Principal("benchmark", Role.SYSTEM, ScopeSet.parse("system/*.cruds"))
    return dev_token(data_dir, principal)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--db", help="store URL (default: a SQLite file in a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the built store for later runs")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--everything-repeats", type=int, default=50)
    parser.add_argument("--generate", help=argparse.SUPPRESS)
    parser.add_argument("--job", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        generator_main(args)
        return

    workdir = Path(tempfile.mkdtemp(prefix="record-http-"))
    url = args.db or f"sqlite:///{workdir / 'record.db'}"
    meta_file = (
        Path(url.removeprefix("sqlite:///") + ".benchmark.json")
        if url.startswith("sqlite:///")
        else workdir / "meta.json"
    )
    print(f"building a store of {args.resources:,} resources at {url} …", file=sys.stderr)
    meta = build(url, args.resources, meta_file)
    server = serve(url, workdir, args.port)
    try:
        token = system_token(workdir)
        base = f"http://127.0.0.1:{args.port}/fhir"
        job = {
            "base": base,
            "token": token,
            "patients": meta["patients"],
            "seconds": args.seconds,
            "clients": args.clients,
        }
        mixed, floor, everything = [], [], []
        for run in range(args.runs):
            print(f"run {run + 1}/{args.runs} …", file=sys.stderr)
            floor.append(run_generator("metadata", job, workdir, server.pid))
            mixed.append(run_generator("mixed", job, workdir, server.pid))
            everything.append(
                run_generator(
                    "everything",
                    {
                        "base": base,
                        "token": token,
                        "patient": meta["everything_patient"],
                        "repeats": args.everything_repeats,
                    },
                    workdir,
                    server.pid,
                )
            )
    finally:
        server.terminate()
        server.wait(timeout=30)

    def median(runs: list[dict[str, Any]], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    print(
        f"\nStore: {meta['resources']:,} resources ({url.split(':', 1)[0]}); {args.clients} "
        f"clients for {args.seconds:.0f} s; median of {args.runs} runs; errors: "
        f"{sum(r['errors'] for r in mixed)}; mix: {mixed[-1]['by_kind']}\n"
    )
    print("| what | requests/s | latency | server CPU per request | `$everything` |")
    print("|---|---|---|---|---|")
    print(
        f"| joinedup, mixed read/search/create (measured) | {median(mixed, 'rate'):,.0f} | "
        f"p50 {median(mixed, 'p50_ms'):.1f} ms, p99 {median(mixed, 'p99_ms'):.1f} ms | "
        f"{median(mixed, 'server_cpu_ms'):.1f} ms (`$everything`: "
        f"{median(everything, 'server_cpu_ms'):.1f} ms) | "
        f"p95 {median(everything, 'p95_ms'):.1f} ms, p50 {median(everything, 'p50_ms'):.1f} ms "
        f"({everything[-1]['resources']} res.) |"
    )
    print(
        f"| joinedup, `GET /fhir/metadata` floor (measured) | {median(floor, 'rate'):,.0f} | "
        f"p50 {median(floor, 'p50_ms'):.1f} ms, p99 {median(floor, 'p99_ms'):.1f} ms | "
        f"{median(floor, 'server_cpu_ms'):.1f} ms | — |"
    )
    for name, rate, latency, everything_anchor in ANCHORS:
        print(f"| {name} | {rate} | {latency} | | {everything_anchor} |")
    if not args.keep and not args.db:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
