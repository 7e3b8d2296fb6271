"""The real thing: ``joinedup`` commands as subprocesses, the server on a socket."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from processes import JOINEDUP, Served, free_port

from joinedup.access.principal import Principal, Role
from joinedup.access.scopes import ScopeSet
from joinedup.access.tokens import dev_token


@pytest.fixture
def served_record(tmp_path: Path) -> Iterator[Served]:
    """``joinedup serve`` on a free local port with a fresh SQLite record."""
    port = free_port()
    process = subprocess.Popen(
        [*JOINEDUP, "serve", "--db", f"sqlite:///{tmp_path / 'record.db'}", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "JOINEDUP_DATA_DIR": str(tmp_path)},
    )
    base = f"http://127.0.0.1:{port}/fhir"
    try:
        for _ in range(300):
            if process.poll() is not None:
                raise RuntimeError(f"joinedup serve exited: {process.stderr.read()!r}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{base}/metadata", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("joinedup serve did not answer within 30 s")
        principal = Principal(
            subject="integration-tests",
            role=Role.SYSTEM,
            scopes=ScopeSet.parse("system/*.cruds"),
            org="A81001",
        )
        yield Served(base, dev_token(tmp_path, principal))
    finally:
        process.terminate()
        process.wait(timeout=10)
