"""Bad input to ``joinedup synth``: one line on stderr, exit code 2, nothing left behind."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from joinedup.cli import app

runner = CliRunner()


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _left_behind(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--people", "0"], "--people must be a positive"),
        (["--people", "-5"], "--people must be a positive"),
        (["--people", "900001"], "900,000"),
        (["--people", "10", "--bogus"], "No such option: --bogus"),
        (["--people", "10", "--start", "2023-01-01", "--end", "2022-01-01"], "before --start"),
        (["--people", "10", "--start", "April"], "is not a date"),
        (["--people", "10", "--format", "xml"], "--format"),
        (["--people", "10", "--places", "0"], "--places"),
    ],
)
def test_bad_options(tmp_path: Path, extra: list[str], expected: str) -> None:
    code, _out, err = _run("synth", "--seed", "1", "--out", str(tmp_path / "out"), *extra)
    assert code == 2
    assert expected in err
    assert len(err.strip().splitlines()) == 1
    assert _left_behind(tmp_path) == []


def test_non_empty_output_needs_force(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, err = _run("synth", "--people", "20", "--seed", "1", "--out", str(out))
    assert code == 2 and "--force" in err and len(err.strip().splitlines()) == 1
    assert _left_behind(out) == ["keep.txt"]
    code, _, _ = _run("synth", "--people", "20", "--seed", "1", "--out", str(out), "--force")
    assert code == 0
    assert "Patient.ndjson" in _left_behind(out) and "keep.txt" not in _left_behind(out)
    assert _left_behind(tmp_path) == ["out"]


def test_unwritable_output(tmp_path: Path) -> None:
    target = tmp_path / "file-not-folder"
    target.write_text("x")
    code, _, err = _run("synth", "--people", "20", "--seed", "1", "--out", str(target / "out"))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert _left_behind(tmp_path) == ["file-not-folder"]


def test_imd_file_in_the_wrong_shape(tmp_path: Path) -> None:
    bad = tmp_path / "imd.csv"
    with bad.open("w", newline="") as handle:
        csv.writer(handle).writerows([["lsoa_code", "decile"], ["E01000001", "3"]])
    out = tmp_path / "out"
    code, _, err = _run(
        "synth", "--people", "20", "--seed", "1", "--out", str(out), "--imd", str(bad)
    )
    assert code == 2 and "imd_decile" in err and len(err.strip().splitlines()) == 1
    assert _left_behind(tmp_path) == ["imd.csv"]


def test_imd_file_with_a_bad_row(tmp_path: Path) -> None:
    bad = tmp_path / "imd.csv"
    bad.write_text("lsoa11cd,lad19cd,lad19nm,imd_decile\nE01000001,E09000001,City,eleven\n")
    code, _, err = _run(
        "synth", "--people", "20", "--seed", "1", "--out", str(tmp_path / "o"), "--imd", str(bad)
    )
    assert code == 2 and "line 2" in err


def test_real_imd_file_gives_real_lsoas(tmp_path: Path, reference_dir: Path) -> None:
    imd = reference_dir / "imd2019" / "imd2019_lsoa11_england.csv"
    out = tmp_path / "out"
    code, _, err = _run(
        "synth",
        "--people",
        "200",
        "--seed",
        "3",
        "--out",
        str(out),
        "--imd",
        str(imd),
        "--workers",
        "1",
    )
    assert code == 0, err
    with imd.open(newline="") as handle:
        real = {row["lsoa11cd"]: int(row["imd_decile"]) for row in csv.DictReader(handle)}
    import orjson

    for line in (out / "Patient.ndjson").read_bytes().splitlines():
        extensions = {e["url"]: e for e in orjson.loads(line)["address"][0]["extension"]}
        code_ = next(
            e["valueCoding"]["code"] for url, e in extensions.items() if url.endswith("/lsoa")
        )
        decile = next(
            e["valueInteger"] for url, e in extensions.items() if url.endswith("/imd-decile")
        )
        assert real[code_] == decile


def test_success_prints_a_summary(tmp_path: Path) -> None:
    code, out, _ = _run("synth", "--people", "30", "--seed", "1", "--out", str(tmp_path / "o"))
    assert code == 0 and "Patient.ndjson" in out


def test_demo_builds_into_the_data_dir(tmp_path: Path) -> None:
    code, out, err = _run("demo", "--people", "50", "--data-dir", str(tmp_path), "--no-serve")
    assert code == 0, err
    assert (tmp_path / "synthetic" / "Patient.ndjson").exists()
    assert "GP practices" in out
    code, _, _ = _run("demo", "--people", "40", "--data-dir", str(tmp_path), "--no-serve")
    assert code == 0  # a re-run replaces its own synthetic folder
    assert len((tmp_path / "synthetic" / "Patient.ndjson").read_bytes().splitlines()) == 40


def test_demo_bad_input_creates_nothing(tmp_path: Path) -> None:
    code, _, err = _run("demo", "--people", "0", "--data-dir", str(tmp_path / "data"))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert _left_behind(tmp_path) == []


def test_failure_midway_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from joinedup.synth import SynthOptions, generate, runner

    real = runner.generate_person

    def failing(serial: int, ctx: object) -> object:
        if serial == 700:
            raise RuntimeError("disk on fire")
        return real(serial, ctx)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "generate_person", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        generate(SynthOptions(people=1_000, seed=1, out=tmp_path / "out", workers=1))
    assert _left_behind(tmp_path) == []
