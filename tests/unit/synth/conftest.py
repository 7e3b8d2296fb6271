"""Synthetic ICS outputs shared by the synth tests (generated once per session)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from joinedup.synth import SynthOptions, generate


def read_all(folder: Path) -> dict[str, list[dict[str, Any]]]:
    return {
        path.stem: [orjson.loads(line) for line in path.read_bytes().splitlines()]
        for path in sorted(folder.glob("*.ndjson"))
    }


@pytest.fixture(scope="session")
def small_ics(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "small"
    generate(SynthOptions(people=300, seed=11, out=out, workers=2))
    return out


@pytest.fixture(scope="session")
def plausibility_ics(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """The issue's reference run: --people 3000 --seed 7."""
    out = tmp_path_factory.mktemp("synth") / "seven"
    generate(SynthOptions(people=3000, seed=7, out=out, workers=2))
    return read_all(out)


@pytest.fixture(scope="session")
def small_resources(small_ics: Path) -> dict[str, list[dict[str, Any]]]:
    return read_all(small_ics)
