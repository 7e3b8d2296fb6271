"""Searchset Bundles over the server's read-only catalogues: the standard views and the
published measures, which live in the package and the outcomes folder, not in the record."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from joinedup.fhir.outcome import FHIRError

#: Parameters every catalogue search takes, and the element each one matches exactly.
_MATCHED = {"_id": "id", "name": "name", "url": "url", "title": "title", "status": "status"}
#: Accepted and ignored: they shape the response, and the whole catalogue fits in one page.
_IGNORED = frozenset({"_format", "_count", "_total"})


def catalogue_entry(base: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {
        "fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
        "search": {"mode": "match"},
    }


def catalogue_bundle(
    base: str,
    self_url: str,
    resource_type: str,
    resources: Iterable[dict[str, Any]],
    params: list[tuple[str, str]],
    *,
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A searchset of ``resources`` whose elements equal every parameter's value (a comma
    means any of). ``extra`` adds parameters for this catalogue (name -> element)."""
    matched = {**_MATCHED, **(extra or {})}
    wanted: list[tuple[str, set[str]]] = []
    for name, value in params:
        if name in _IGNORED:
            continue
        if name not in matched:
            known = ", ".join(sorted(matched))
            raise FHIRError(
                f"{resource_type} search takes {known} (exact match); not {name!r}",
                code="not-supported",
                expression=name,
            )
        wanted.append((matched[name], set(value.split(","))))
    found = [r for r in resources if all(str(r.get(el)) in values for el, values in wanted)]
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(found),
        "link": [{"relation": "self", "url": self_url}],
        "entry": [catalogue_entry(base, r) for r in found],
    }
