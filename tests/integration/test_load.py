"""``joinedup load`` as a user runs it: the Synthea bundles, and files with bad lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from processes import run_joinedup

from joinedup.fhir.validation import references, relative_reference
from joinedup.store import open_store


@pytest.mark.slow
def test_all_synthea_bundles_load_and_every_reference_resolves(
    reference_dir: Path, tmp_path: Path
) -> None:
    synthea = reference_dir / "synthea-r4"
    expected = sum(len(json.loads(p.read_text())["entry"]) for p in synthea.glob("*.json"))
    url = f"sqlite:///{tmp_path / 'record.db'}"
    result = run_joinedup("load", str(synthea), "--db", url)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"{expected:,}" in result.stdout
    store = open_store(url)
    try:
        stored = {(s.resource_type, s.id): s.resource for s in store.iter_resources()}
        # Each file leaves one Provenance of what it wrote; its targets resolve like the rest.
        attested = [key for key in stored if key[0] == "Provenance"]
        assert len(attested) == len(list(synthea.glob("*.json")))
        assert len(stored) - len(attested) == expected == 29_146
        unresolved = []
        checked = 0
        for (resource_type, _), resource in stored.items():
            assert resource is not None
            for _holder, ref in references(resource, resource_type):
                if ref.value.startswith("#"):
                    assert any(c.get("id") == ref.value[1:] for c in resource.get("contained", []))
                    continue
                target = relative_reference(ref.value)
                checked += 1
                if target is None or target not in stored:
                    unresolved.append(ref.path)
        assert checked > 50_000
        assert unresolved == []
    finally:
        store.close()


def test_a_bad_line_is_reported_and_the_rest_load(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    lines = [
        json.dumps({"resourceType": "Patient", "id": "p1", "gender": "female"}),
        '{"resourceType": "Patient", "id": ',
        json.dumps({"resourceType": "Patient", "id": "p3", "birthDate": "1970-13-01"}),
        json.dumps({"resourceType": "Patient", "id": "p4"}),
    ]
    (folder / "Patient.ndjson").write_text("\n".join(lines) + "\n")
    url = f"sqlite:///{tmp_path / 'record.db'}"
    result = run_joinedup("load", str(folder), "--db", url)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "Patient.ndjson:2: not valid JSON" in output
    assert "Patient.ndjson:3: Patient.birthDate is not a valid FHIR date" in output
    assert "1970-13-01" not in output
    store = open_store(url)
    try:
        assert sorted(s.id for s in store.iter_resources(["Patient"])) == ["p1", "p4"]
    finally:
        store.close()

    strict = run_joinedup("load", str(folder), "--db", f"sqlite:///{tmp_path / 'b.db'}", "--strict")
    assert strict.returncode == 1
    assert "Stopped (--strict) at" in strict.stderr


def test_a_failing_bundle_loads_nothing_and_the_next_file_still_loads(tmp_path: Path) -> None:
    bad = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000001",
                "resource": {"resourceType": "Patient"},
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": "x"},
                    "subject": {"reference": "Patient/not-here"},
                },
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    }
    good = {"resourceType": "Bundle", "type": "transaction", "entry": bad["entry"][:1]}
    (tmp_path / "a_bad.json").write_text(json.dumps(bad))
    (tmp_path / "b_good.json").write_text(json.dumps(good))
    url = f"sqlite:///{tmp_path / 'record.db'}"
    result = run_joinedup(
        "load", str(tmp_path / "a_bad.json"), str(tmp_path / "b_good.json"), "--db", url
    )
    assert result.returncode == 1
    assert "a_bad.json: Bundle.entry[1]" in result.stdout + result.stderr
    store = open_store(url)
    try:
        # The good file's Patient and the Provenance of its load; nothing of the bad file.
        kinds = sorted(s.resource_type for s in store.iter_resources())
        assert kinds == ["Patient", "Provenance"]
    finally:
        store.close()


def test_load_help_has_an_example() -> None:
    result = run_joinedup("load", "--help")
    assert result.returncode == 0
    assert "Example:" in result.stdout
