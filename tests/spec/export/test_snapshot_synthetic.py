"""A de-identified snapshot of the synthetic ICS (the generator's own conventions, not a
hand-made record): nothing identifying left, opted-out people gone, references intact."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from joinedup.cli import app
from joinedup.export.deidentify import Deidentification
from joinedup.export.optouts import opted_out_patients, references_in
from joinedup.export.pseudonyms import Pseudonymiser
from joinedup.export.snapshot import write_snapshot
from joinedup.export.sources import FolderSource

KEY = b"s" * 32


@pytest.fixture(scope="module")
def synthetic_ics(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synthetic") / "ics"
    args = ["synth", "--people", "400", "--seed", "11", "--out", str(out), "--workers", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return out


def resources(folder: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(folder.glob("*.ndjson")):
        for line in path.read_bytes().splitlines():
            yield orjson.loads(line)


def identifying(folder: Path) -> set[str]:
    found: set[str] = set()
    for resource in resources(folder):
        if resource["resourceType"] not in {"Patient", "Practitioner", "RelatedPerson"}:
            continue
        for name in resource.get("name", []):
            found.update([name.get("family", ""), *name.get("given", [])])
        found.update(i["value"] for i in resource.get("identifier", []))
        found.update(t["value"] for t in resource.get("telecom", []))
        for address in resource.get("address", []):
            found.update([address.get("postalCode", ""), *address.get("line", [])])
    return {s for s in found if s}


def public(folder: Path) -> set[str]:
    """Organisations' and sites' published details (a practice's postcode is no secret, even
    when a patient shares it)."""
    found: set[str] = set()
    for resource in resources(folder):
        if resource["resourceType"] in {"Organization", "Location"}:
            found.update(strings(resource))
    return found


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value


def leaks(secret: str, published: set[str], text: str) -> bool:
    # A short name ("White", "Lee") is only a leak as a whole value: it also occurs inside
    # code displays ("White - British"); longer strings are searched for anywhere.
    return secret in published or (len(secret) >= 6 and secret in text)


def test_synthetic_ics_snapshot_is_deidentified_and_opt_out_clean(
    synthetic_ics: Path, tmp_path: Path
) -> None:
    out = tmp_path / "snapshot"
    deid = Deidentification(Pseudonymiser(KEY))
    result = write_snapshot(
        FolderSource(synthetic_ics), out, format="ndjson", deidentification=deid
    )
    opted_out = opted_out_patients(
        r for r in resources(synthetic_ics) if r["resourceType"] == "Consent"
    )
    assert opted_out, "the generator writes national data opt-outs for about 5% of people"
    assert result.manifest["optOut"]["peopleRemoved"] == len(opted_out)

    secrets = identifying(synthetic_ics) - public(synthetic_ics)
    assert len(secrets) > 400
    snapshot = list(resources(out))
    published = {text for resource in snapshot for text in strings(resource)}
    text = "\n".join(published)
    leaked = sorted(s for s in secrets if leaks(s, published, text))
    assert not leaked, f"{len(leaked)} identifying strings leaked, e.g. {leaked[:3]}"

    gone = {Pseudonymiser(KEY).patient(p) for p in opted_out} | opted_out
    present = {f"{r['resourceType']}/{r['id']}" for r in snapshot}
    for resource in snapshot:
        for reference in references_in(resource):
            assert reference in present, f"{reference} does not resolve in the snapshot"
            assert reference.removeprefix("Patient/") not in gone
    assert not {r["id"] for r in snapshot if r["resourceType"] == "Patient"} & gone
