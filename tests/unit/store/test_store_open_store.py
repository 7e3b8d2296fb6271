"""Store URLs and the one paramstyle."""

from __future__ import annotations

import pytest

from joinedup.store import open_store
from joinedup.store.postgres import to_pyformat


@pytest.mark.parametrize("url", ["mysql://db", "sqlite:///:memory:", "record.db"])
def test_unusable_urls_say_what_to_use(url: str) -> None:
    with pytest.raises(ValueError, match="sqlite:///"):
        open_store(url)


def test_qmark_becomes_pyformat_with_literal_percent_kept() -> None:
    assert to_pyformat("SELECT ? WHERE a LIKE '%x'") == "SELECT %s WHERE a LIKE '%%x'"
