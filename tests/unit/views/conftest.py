from __future__ import annotations

from pathlib import Path

import pytest
from views_sample import PATIENTS

from joinedup.views.sources import write_ndjson


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "source"
    write_ndjson(folder, PATIENTS)
    return folder
