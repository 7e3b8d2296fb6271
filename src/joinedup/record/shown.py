"""What a response showed — the ``Type/id`` of each resource and the Patients they are about —
so the audit can record it without parsing the response body again.

Bundles splice stored JSON in unparsed (``orjson.Fragment``), so the summary of a page is made
from the stored text: one scan of the whole page settles it when the page names no Patient but
those it holds (a ``$everything`` page), else a resource is parsed only when it may name a
Patient not already in the summary. Every other response is summarised from the content it
was rendered from, exactly as the audit would read it back from the body.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from joinedup.access.references import reference_id
from joinedup.fhir.bundle import EntryResponse
from joinedup.store.base import StoredResource

#: The elements by which a resource is about a Patient, for the audit.
PATIENT_FIELDS = ("subject", "patient", "beneficiary")
_NOT_SHOWN = (None, "OperationOutcome", "Bundle")
# Every Patient reference in stored JSON text holds ``Patient/<id>`` followed by the end of the
# string or ``/_history``: unless the text escapes characters, this finds a superset of the
# Patients its reference elements name.
_PATIENT_MENTION = re.compile(r'Patient/([^"/]*)')
#: The characters after a backslash that can hide a mention from :data:`_PATIENT_MENTION`.
_ESCAPED = ("/", "u")


@dataclass(frozen=True, slots=True)
class Shown:
    """``locations``: the written resources a Bundle's responses name; ``resources``: the
    resources carried, in order; ``patients``: the Patients those resources are about."""

    locations: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    patients: frozenset[str] = field(default_factory=frozenset)

    @property
    def entities(self) -> list[str]:
        return [*self.locations, *self.resources]


@dataclass(slots=True)
class ShownResponse(EntryResponse):
    """A read's result with the summary of what it shows."""

    shown: Shown = field(default_factory=Shown)


def _about(resource: dict[str, Any], patients: set[str]) -> None:
    if resource.get("resourceType") == "Patient":
        patients.add(str(resource["id"]))
    for name in PATIENT_FIELDS:
        found = reference_id(resource.get(name), "Patient")
        if found is not None:
            patients.add(found)


def shown_in(response: Any) -> Shown:
    """The summary of a response's parsed (or not yet serialised, Fragment-free) content."""
    if not isinstance(response, dict):
        return Shown()
    resources = [response]
    locations: list[str] = []
    if response.get("resourceType") == "Bundle":
        resources = []
        for entry in response.get("entry") or []:
            if isinstance(entry.get("resource"), dict):
                resources.append(entry["resource"])
            location = (entry.get("response") or {}).get("location")
            if isinstance(location, str):
                locations.append(location.split("/_history")[0])
    shown: list[str] = []
    patients: set[str] = set()
    for resource in resources:
        kind, rid = resource.get("resourceType"), resource.get("id")
        if kind in _NOT_SHOWN or rid is None:
            continue
        shown.append(f"{kind}/{rid}")
        _about(resource, patients)
    return Shown(tuple(locations), tuple(shown), frozenset(patients))


def _unescaped(text: str) -> bool:
    """Whether ``text`` (JSON) escapes no ``/`` and no character as ``\\u…``. Backslashes
    are rare and found by memchr; searching for the two-character escapes themselves cost
    more than the rest of a page's summary, as ``/`` and ``u`` are everywhere in JSON."""
    at = text.find("\\")
    while at != -1:
        if text[at + 1 : at + 2] in _ESCAPED:
            return False
        at = text.find("\\", at + 2)  # past the escaped character, itself maybe a backslash
    return True


def _page_patients(entries: list[tuple[StoredResource, Any]]) -> frozenset[str] | None:
    """The Patients a page of unparsed entries is about, when the page's Patients are all
    its text names (so parsing a resource could add no other): a whole ``$everything`` page
    is answered with one scan of its text. None when that cannot be decided without parsing."""
    if any(not isinstance(content, orjson.Fragment) for _, content in entries):
        return None
    # '"' cannot occur inside a mention, so no mention runs from one text into the next.
    joined = '"'.join(stored.text or "" for stored, _ in entries)
    if not _unescaped(joined):
        return None
    patients = frozenset(stored.id for stored, _ in entries if stored.resource_type == "Patient")
    return None if _mention_besides(patients).search(joined) else patients


def _mention_besides(patients: frozenset[str]) -> re.Pattern[str]:
    """A mention of a Patient not in ``patients`` (half the time of finding every mention and
    comparing; ``re`` caches the pattern, so one person's pages compile it once)."""
    known = "|".join(re.escape(patient) for patient in sorted(patients))
    return re.compile(f'Patient/(?!(?:{known})["/])' if known else "Patient/")


def shown_on_page(entries: Iterable[tuple[StoredResource, Any]]) -> Shown:
    """The summary of Bundle entries built from stored resources: ``(stored, content)`` where
    content is what the entry carries (the stored text as a Fragment, or a reshaped dict)."""
    entries = list(entries)
    shown = tuple(f"{stored.resource_type}/{stored.id}" for stored, _ in entries)
    about_page = _page_patients(entries)
    if about_page is not None:
        return Shown(resources=shown, patients=about_page)
    patients: set[str] = set()
    for stored, content in entries:
        if isinstance(content, dict):
            _about(content, patients)
            continue
        if stored.resource_type == "Patient":
            patients.add(stored.id)
        text = stored.text or ""
        if not _unescaped(text) or not patients.issuperset(_PATIENT_MENTION.findall(text)):
            resource = stored.resource
            assert resource is not None  # deletions are never entries
            _about(resource, patients)
    return Shown(resources=shown, patients=frozenset(patients))
