"""Same seed and arguments give byte-identical output, with one process or two."""

from __future__ import annotations

from pathlib import Path

from joinedup.synth import SynthOptions, generate


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_two_runs_are_byte_identical(tmp_path: Path) -> None:
    # 1,200 people is three chunks, so the two-process run really interleaves.
    one = generate(SynthOptions(people=1_200, seed=42, out=tmp_path / "one", workers=1))
    two = generate(SynthOptions(people=1_200, seed=42, out=tmp_path / "two", workers=2))
    assert one.counts == two.counts
    assert _files(tmp_path / "one") == _files(tmp_path / "two")


def test_another_seed_differs(tmp_path: Path) -> None:
    generate(SynthOptions(people=200, seed=1, out=tmp_path / "a", workers=1))
    generate(SynthOptions(people=200, seed=2, out=tmp_path / "b", workers=1))
    assert (tmp_path / "a" / "Patient.ndjson").read_bytes() != (
        tmp_path / "b" / "Patient.ndjson"
    ).read_bytes()
