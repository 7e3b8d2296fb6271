"""The Bundles reads return: ``searchset`` (search, ``$everything``) and ``history``.

Entries carry each resource's stored JSON text as an ``orjson.Fragment``: the Bundle is
serialised around it without parsing the resources (so read these Bundles as JSON after
``orjson.dumps``, not as nested dicts).

Also the two result-shaping parameters the server applies to each resource: ``_elements``
and ``_summary`` (R4 search.html#elements, search.html#summary).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson

from joinedup.fhir.outcome import FHIRError
from joinedup.fhir.validation import summary_elements
from joinedup.record.shown import Shown, shown_on_page
from joinedup.store.base import HistoryPage, SearchPage, StoredResource

# R4 search.html#summary: the tag a server puts on a resource it returns only in part.
SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "subsetted",
}
_ALWAYS = ("resourceType", "id", "meta")
SUMMARY_MODES = ("true", "false", "text", "data", "count")


def _subsetted(resource: dict[str, Any], keep: set[str]) -> dict[str, Any]:
    shaped = {key: value for key, value in resource.items() if key in keep or key in _ALWAYS}
    meta = dict(shaped.get("meta", {}))
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    shaped["meta"] = meta
    return shaped


def shape(resource: dict[str, Any], elements: Sequence[str] | None, summary: str | None) -> Any:
    """The resource as ``_elements``/``_summary`` ask for it (unchanged when neither is given)."""
    if elements:
        return _subsetted(resource, set(elements))
    if summary in (None, "false"):
        return resource
    if summary == "true":
        return _subsetted(resource, set(summary_elements(resource["resourceType"])))
    if summary == "text":
        return _subsetted(resource, {"text"})
    if summary == "data":
        return _subsetted(resource, set(resource) - {"text"})
    return resource


def _content(stored: StoredResource, elements: Sequence[str] | None, summary: str | None) -> Any:
    """An entry's resource: the stored JSON text spliced in unparsed (``orjson.Fragment``)
    unless ``_elements``/``_summary`` reshape it."""
    if elements or summary not in (None, "false"):
        assert stored.resource is not None  # deletions never become entries
        return shape(stored.resource, elements, summary)
    assert stored.text is not None
    return orjson.Fragment(stored.text)


def result_shaping(params: Sequence[tuple[str, str]]) -> tuple[list[str] | None, str | None]:
    """``_elements`` and ``_summary`` from the request parameters (checked)."""
    elements: list[str] | None = None
    summary: str | None = None
    for name, value in params:
        if name == "_elements":
            elements = [part.strip() for part in value.split(",") if part.strip()]
            if any(not part.replace("[x]", "").isalnum() for part in elements):
                raise FHIRError(
                    "_elements takes top-level element names separated by commas, "
                    "e.g. _elements=name,birthDate",
                    expression="_elements",
                )
        elif name == "_summary":
            if value not in SUMMARY_MODES:
                raise FHIRError(
                    f"_summary must be one of {', '.join(SUMMARY_MODES)}", expression="_summary"
                )
            summary = value
    return elements, summary


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _link(base: str, path: str, params: Sequence[tuple[str, str]]) -> str:
    query = urlencode(list(params))
    return (f"{base}/{path}" if path else base) + (f"?{query}" if query else "")


def searchset(
    page: SearchPage,
    *,
    base: str,
    path: str,
    params: Sequence[tuple[str, str]],
    elements: Sequence[str] | None = None,
    summary: str | None = None,
    warnings: Sequence[str] = (),
) -> tuple[dict[str, Any], Shown]:
    """A searchset Bundle for one page, with ``self``/``next``/``previous`` links; ``warnings``
    (parameters ignored under lenient handling) travel in an OperationOutcome entry. Returned
    with the summary of what it shows, for the audit.

    ``params`` are the request's parameters without ``_cursor``; the paging links add the
    page's keyset cursor to them.
    """
    links = [{"relation": "self", "url": _link(base, path, params)}]
    for relation, cursor in (("next", page.next_cursor), ("previous", page.prev_cursor)):
        if cursor:
            links.append(
                {"relation": relation, "url": _link(base, path, [*params, ("_cursor", cursor)])}
            )
    entries: list[dict[str, Any]] = []
    carried: list[tuple[StoredResource, Any]] = []
    for mode, stored_list in (("match", page.matches), ("include", page.included)):
        for stored in stored_list:
            if stored.deleted or stored.text is None:
                continue
            content = _content(stored, elements, summary)
            carried.append((stored, content))
            entries.append(
                {
                    "fullUrl": f"{base}/{stored.resource_type}/{stored.id}",
                    "resource": content,
                    "search": {"mode": mode},
                }
            )
    if warnings:
        issues = [
            {"severity": "warning", "code": "not-supported", "diagnostics": warning}
            for warning in warnings
        ]
        entries.append(
            {
                "resource": {"resourceType": "OperationOutcome", "issue": issues},
                "search": {"mode": "outcome"},
            }
        )
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": _now()},
        "type": "searchset",
    }
    if page.total is not None:
        bundle["total"] = page.total
    bundle["link"] = links
    if entries:
        bundle["entry"] = entries
    return bundle, shown_on_page(carried)


def _history_entry(stored: StoredResource, base: str) -> dict[str, Any]:
    url = f"{stored.resource_type}/{stored.id}"
    if stored.deleted or stored.text is None:
        method, status = "DELETE", "204 No Content"
    elif stored.version_id == 1:
        method, status = "POST", "201 Created"
    else:
        method, status = "PUT", "200 OK"
    entry: dict[str, Any] = {"fullUrl": f"{base}/{url}"}
    if stored.text is not None and not stored.deleted:
        entry["resource"] = orjson.Fragment(stored.text)
    entry["request"] = {"method": method, "url": stored.resource_type if method == "POST" else url}
    entry["response"] = {
        "status": status,
        "etag": stored.etag,
        "lastModified": stored.last_updated,
    }
    return entry


def history_bundle(
    page: HistoryPage, *, base: str, path: str, params: Sequence[tuple[str, str]]
) -> tuple[dict[str, Any], Shown]:
    """A history Bundle, newest version first, with ``self`` and ``next`` links, and the
    summary of what it shows."""
    links = [{"relation": "self", "url": _link(base, path, params)}]
    if page.next_cursor:
        links.append(
            {"relation": "next", "url": _link(base, path, [*params, ("_cursor", page.next_cursor)])}
        )
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": _now()},
        "type": "history",
    }
    if page.total is not None:
        bundle["total"] = page.total
    bundle["link"] = links
    entries = [_history_entry(stored, base) for stored in page.entries]
    if entries:
        bundle["entry"] = entries
    carried = [
        (stored, entry["resource"])
        for stored, entry in zip(page.entries, entries, strict=True)
        if "resource" in entry
    ]
    return bundle, shown_on_page(carried)
