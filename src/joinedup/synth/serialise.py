"""Resources to bytes: NDJSON lines per resource type, or one transaction Bundle per person."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

#: resource type -> NDJSON bytes (for ``bundles``, the single key ``Bundle``)
Rendered = dict[str, bytes]


def transaction(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A transaction Bundle that PUTs each resource at its own id (so references hold)."""
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": resource,
                "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"},
            }
            for resource in resources
        ],
    }


def render_people(records: Iterable[list[dict[str, Any]]], output_format: str) -> Rendered:
    if output_format == "bundles":
        return {"Bundle": b"".join(orjson.dumps(transaction(r)) + b"\n" for r in records)}
    parts: dict[str, list[bytes]] = {}
    for resources in records:
        for resource in resources:
            parts.setdefault(resource["resourceType"], []).append(orjson.dumps(resource))
    return {kind: b"\n".join(lines) + b"\n" for kind, lines in parts.items()}
