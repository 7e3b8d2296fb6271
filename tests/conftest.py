"""Fixtures shared by every test folder.

Reference data lives in ``../shared/reference`` (or ``$JOINEDUP_REFERENCE``) and is never
copied into the repository. Optional services (PostgreSQL, Spark) skip with a reason on a
user's machine and fail loudly in CI (``CI=true``), where they must be present.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
POSTGRES_URL = os.environ.get("JOINEDUP_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def missing(reason: str) -> None:
    """Skip on a user's machine, fail in CI: CI must never skip what it is meant to run."""
    if IN_CI:
        pytest.fail(f"{reason} (CI must have it)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    path = Path(os.environ.get("JOINEDUP_REFERENCE", REPO.parent / "shared" / "reference"))
    if not path.is_dir():
        missing(f"reference data not found at {path}; set JOINEDUP_REFERENCE")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> str:
    try:
        import psycopg
    except ImportError:
        missing("psycopg is not installed (pip install -e '.[postgres]')")
        raise
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            conn.execute("select 1")
    except psycopg.OperationalError as exc:
        missing(f"no PostgreSQL at {POSTGRES_URL}: {exc}".splitlines()[0])
    return POSTGRES_URL


@pytest.fixture(scope="session")
def spark() -> Any:
    """The one local Spark session of a test run (Spark starts slowly: never make two)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        missing("PySpark is not installed (pip install -e '.[spark]')")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        missing("Java is not installed (Spark needs Java 17)")
    from joinedup.views.engines.spark import local_session

    return local_session()
