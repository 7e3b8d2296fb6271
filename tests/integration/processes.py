"""Running ``joinedup`` as a user does: the console script in a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# The console script `pip install` made, next to this interpreter: what a user runs.
JOINEDUP = [str(Path(sys.executable).with_name("joinedup"))]


def run_joinedup(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [*JOINEDUP, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Served:
    base: str
    """The FHIR base URL."""
    token: str
    """A system token that may read and write everything, writing for organisation A81001."""
