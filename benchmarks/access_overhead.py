"""Access-policy overhead: the median latency of a search with the policy applied, side by
side with the same search by an unrestricted system token, in one run.

    python benchmarks/access_overhead.py --people 2000 --repeats 200

Builds a SQLite record (and a PostgreSQL one when ``--postgres URL`` is given) of ``--people``
people spread over 10 practices, each with an open hospital encounter for one in ten and
``--observations`` Observations apiece; relationships and consent are materialised by the
access write hooks as in production, and planner statistics gathered (ANALYZE). The app
(``create_app``, middleware and audit included) is driven in process over ASGI, so the figures
are the server's alone. Both sides go through
the same middleware and write the same audit entry; the only difference is the token — a
clinician (a GP at practice 1, about a tenth of the people, or a hospital doctor) against
``system/*.rs``.

Searches:
- ``patient``: one of the GP's patients' Observations (``subject=Patient/…``), which the
  GP's practice wrote: both sides return the same resources, so the difference is the policy
  predicate alone;
- ``patient, other org``: the same search by a hospital doctor for a patient in their care
  (an open encounter) whose Observations the practice wrote, so every row passes the
  relationship and consent checks rather than the own-organisation one;
- ``code``: Observations with a code, first page of 50, with an accurate total: the policy
  must narrow the whole table, the hardest case for it.

Runs alternate policy/system requests so machine noise hits both alike; prints a markdown
table of medians and the overhead. Goal (issue 4): overhead <= 20%.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx

from joinedup.access.install import EXTENSIONS
from joinedup.access.principal import Principal, Role
from joinedup.access.scopes import ScopeSet
from joinedup.access.tokens import dev_token
from joinedup.config import Settings
from joinedup.server.app import create_app
from joinedup.store import open_store
from joinedup.store.base import Store

ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
PRACTICES = [f"P{n:05d}" for n in range(1, 11)]
HOSPITAL = "RH100"


def resources(people: int, observations: int) -> Iterator[dict[str, Any]]:
    for code in [*PRACTICES, HOSPITAL]:
        yield {
            "resourceType": "Organization",
            "id": code,
            "identifier": [{"system": ODS, "value": code}],
        }
    for n in range(people):
        pid = f"p{n}"
        yield {
            "resourceType": "Patient",
            "id": pid,
            "meta": {"source": PRACTICES[n % 10]},
            "generalPractitioner": [{"reference": f"Organization/{PRACTICES[n % 10]}"}],
        }
        if n % 10 == 3:
            yield {
                "resourceType": "Encounter",
                "id": f"e{n}",
                "status": "in-progress",
                "class": {"code": "IMP"},
                "subject": {"reference": f"Patient/{pid}"},
                "serviceProvider": {"reference": f"Organization/{HOSPITAL}"},
            }
        for k in range(observations):
            yield {
                "resourceType": "Observation",
                "id": f"o{n}-{k}",
                "status": "final",
                "code": {
                    "coding": [
                        {
                            "system": "http://loinc.org",
                            "code": ["8867-4", "29463-7", "8480-6"][k % 3],
                        }
                    ]
                },
                "subject": {"reference": f"Patient/{pid}"},
                "valueQuantity": {"value": 60 + k, "unit": "/min"},
            }


def build(url: str, people: int, observations: int) -> Store:
    store = open_store(url, extensions=EXTENSIONS)
    # Each practice writes its own people's records, as in production.
    batch: dict[str, list[dict[str, Any]]] = {}
    for resource in resources(people, observations):
        owner = (resource.get("meta") or {}).get("source")
        subject = (resource.get("subject") or {}).get("reference", "")
        if subject:
            owner = PRACTICES[int(subject.removeprefix("Patient/p")) % 10]
        batch.setdefault(owner or "", []).append(resource)
    for owner, items in batch.items():
        store.bulk_load(items, source_org=owner or None)
    # Planner statistics, as PostgreSQL's autovacuum keeps them in production (SQLite has none
    # unless asked); without them both databases plan for tables they believe are tiny.
    with store.transaction() as tx:
        tx.execute("ANALYZE")
    return store


async def measure(
    store: Store, data_dir: Path, repeats: int
) -> dict[str, tuple[float, float, int, int]]:
    app = create_app(store, Settings(data_dir=data_dir))
    clinicians = {
        "gp": Principal(
            "gp-1",
            Role.CLINICIAN,
            ScopeSet.parse("user/*.rs"),
            org=PRACTICES[0],
            practitioner="gp-1",
        ),
        "hospital": Principal(
            "dr-1", Role.CLINICIAN, ScopeSet.parse("user/*.rs"), org=HOSPITAL, practitioner="dr-1"
        ),
    }
    system = Principal("bench", Role.SYSTEM, ScopeSet.parse("system/*.rs"))
    tokens = {
        name: {"Authorization": f"Bearer {dev_token(data_dir, p)}"}
        for name, p in (*clinicians.items(), ("system", system))
    }
    # name -> (the clinician on the policy side, the search); p13 has an open encounter at the
    # hospital (every tenth person from p3 does) and is registered at practice 4.
    searches = {
        "patient": ("gp", {"subject": "Patient/p10"}),
        "patient, other org": ("hospital", {"subject": "Patient/p13"}),
        "code": (
            "gp",
            {"code": "http://loinc.org|8867-4", "_count": "50", "_total": "accurate"},
        ),
    }
    results: dict[str, tuple[float, float, int, int]] = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for name, (clinician, params) in searches.items():
            side_token = {"policy": tokens[clinician], "system": tokens["system"]}
            timings: dict[str, list[float]] = {"policy": [], "system": []}
            totals: dict[str, int] = {}
            for round_ in range(repeats + 5):
                for side in ("policy", "system") if round_ % 2 == 0 else ("system", "policy"):
                    start = time.perf_counter()
                    response = await client.get(
                        "/fhir/Observation", params=params, headers=side_token[side]
                    )
                    elapsed = time.perf_counter() - start
                    response.raise_for_status()
                    totals[side] = len(response.json().get("entry", []))
                    if round_ >= 5:  # the first rounds warm caches
                        timings[side].append(elapsed)
            results[name] = (
                statistics.median(timings["policy"]) * 1000,
                statistics.median(timings["system"]) * 1000,
                totals["policy"],
                totals["system"],
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--observations", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument(
        "--postgres", help="also measure on this PostgreSQL database (a schema is made and dropped)"
    )
    args = parser.parse_args()
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        targets: list[tuple[str, str, str | None]] = [
            ("SQLite", f"sqlite:///{data_dir / 'record.db'}", None)
        ]
        if args.postgres:
            named = f"bench_access_{uuid.uuid4().hex[:8]}"
            sep = "&" if "?" in args.postgres else "?"
            targets.append(
                ("PostgreSQL", f"{args.postgres}{sep}options=-csearch_path%3D{named}", named)
            )
        for label, url, schema in targets:
            if schema:
                import psycopg

                with psycopg.connect(args.postgres, autocommit=True) as conn:
                    conn.execute(f'CREATE SCHEMA "{schema}"')
            try:
                store = build(url, args.people, args.observations)
                try:
                    figures = anyio.run(measure, store, data_dir, args.repeats)
                finally:
                    store.close()
            finally:
                if schema:
                    with psycopg.connect(args.postgres, autocommit=True) as conn:
                        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            for search, (policy, system, n_policy, n_system) in figures.items():
                overhead = (policy / system - 1) * 100
                rows.append(
                    f"| {label} | {search} | {policy:.2f} ms ({n_policy}) "
                    f"| {system:.2f} ms ({n_system}) | {overhead:+.0f}% |"
                )
    print(
        f"\n{args.people:,} people, {args.observations} Observations each; "
        f"median of {args.repeats} requests per side\n"
    )
    print(
        "| store | search | clinician's token, policy applied (entries) "
        "| system token, unrestricted (entries) | overhead |"
    )
    print("|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
