"""The NDJSON files of one resource type in an export: ``<Type>.ndjson``, then
``<Type>.2.ndjson``, ``<Type>.3.ndjson``… each holding at most ``per_file`` resources (the
Bulk Data IG lets a server split a type over several files; the manifest lists each with its
``count``). The first keeps the plain name so a small export is a folder of ``<Type>.ndjson``
like a snapshot's.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import count, islice
from pathlib import Path
from typing import Any

#: Lines joined into one write.
WRITE_CHUNK = 1_000


def file_name(resource_type: str, number: int) -> str:
    return f"{resource_type}.ndjson" if number == 1 else f"{resource_type}.{number}.ndjson"


def write_type_files(
    folder: Path, resource_type: str, lines: Iterable[str], per_file: int
) -> list[dict[str, Any]]:
    """Write ``lines`` (one resource's JSON each, no newline) into the type's files; returns
    the manifest entries (``type``, ``file``, ``count``) of the files written, none when
    ``lines`` is empty."""
    remaining = iter(lines)
    written: list[dict[str, Any]] = []
    for number in count(1):
        path = folder / file_name(resource_type, number)
        held = 0
        with path.open("wb") as file:
            while held < per_file:
                chunk = list(islice(remaining, min(WRITE_CHUNK, per_file - held)))
                if not chunk:
                    break
                # One join and one encode per chunk: far cheaper than per line.
                file.write(("\n".join(chunk) + "\n").encode())
                held += len(chunk)
        if held == 0:
            path.unlink()
            break
        written.append({"type": resource_type, "file": path.name, "count": held})
        if held < per_file:
            break
    return written
