"""De-identifying a resource on its JSON text, without parsing it, when the text shows that
:class:`~joinedup.export.deidentify.Deidentification` would change nothing in it but its
references to Patients.

Most of a record is clinical resources (Encounters, Observations…) with no narrative, no
person's name and no NHS number: the transform only swaps their Patient references for
pseudonyms. Parsing each into dicts, walking them and serialising them again was most of a
snapshot's time; here a few scans of the text decide, and the references are rewritten in the
text. Anything the scans cannot clear is parsed and de-identified in full, so the output is
the same either way (``tests/spec/export/test_verbatim_snapshot.py`` compares both).

A text is cleared when all of these hold (each errs towards the full path):

- it is not a person (Patient, Practitioner…) nor a cohort list (Group, List: the opt-out
  edits their members);
- it has no backslash, so every key and value is spelled literally and a substring search
  sees them as the transform would after parsing;
- it names none of the elements the transform removes or enters below the top level
  (``note``, ``presentedForm``, ``contained``, attachments' ``contentType``), holds no NHS
  number system, holds one ``resourceType`` (no nested resource) and no ``text`` that is
  not a string (no narrative);
- every ``reference`` member is the only member of its object, so there is no ``display``
  or ``identifier`` beside it to remove.

The top-level ``text`` element goes from every de-identified resource. A string-valued one
(invalid FHIR: R4 makes it a Narrative object) can pass the checks, so the columnar writer
leaves the top-level elements in :data:`~joinedup.export.deidentify.RESOURCE_ELEMENTS_REMOVED`
out as columns; only the snapshot's hidden staging file ever holds it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from joinedup.export.deidentify import NARRATIVE_ELEMENTS, PEOPLE
from joinedup.fhir.nhs_number import SYSTEM as NHS_NUMBER

#: Types the full path handles: people lose elements, cohort lists lose opted-out members.
_FULL_PATH_TYPES = PEOPLE | {"Group", "List"}
_MARKERS = (
    "\\",
    *(f'"{name}"' for name in sorted(NARRATIVE_ELEMENTS)),
    '"contained"',
    '"contentType"',
    NHS_NUMBER,
)
#: A narrative: a ``text`` member whose value is not a string.
_NARRATIVE = re.compile(r'"text"\s*:\s*[^"\s]')
#: A relative reference (``Type/id``) alone in its object, spelled as orjson or PostgreSQL's
#: JSONB write it.
_BARE_REFERENCE = re.compile(r'\{"reference": ?"([A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64})"\}')
_PATIENT = "Patient/"
_COMPACT_HEADS: dict[str, str] = {}


@dataclass(frozen=True, slots=True)
class Verbatim:
    """A resource text cleared for the text path, its id and its references (every one a
    relative ``Type/id`` alone in its object)."""

    text: str
    id: str
    references: list[str]

    def with_pseudonyms(self, pseudonym: Callable[[str], str]) -> str:
        """The text with each reference to a Patient replaced by ``Patient/<pseudonym>``, as
        the transform does; ``pseudonym`` takes a Patient id."""
        text = self.text
        spaced = '{"reference": "' in text
        for reference in set(self.references):
            if reference.startswith(_PATIENT):
                replacement = f'{{"reference":"{_PATIENT}{pseudonym(reference[len(_PATIENT) :])}"}}'
                # Without a backslash in the text a quote only delimits, so the bare object's
                # spellings occur nowhere but where it is a reference.
                text = text.replace(f'{{"reference":"{reference}"}}', replacement)
                if spaced:
                    text = text.replace(f'{{"reference": "{reference}"}}', replacement)
        return text


def verbatim(text: str, resource_type: str) -> Verbatim | None:
    """``text`` cleared for the text path as a ``resource_type``, or ``None`` when only the
    full transform can de-identify it."""
    if resource_type in _FULL_PATH_TYPES:
        return None
    for marker in _MARKERS:
        if marker in text:
            return None
    if text.count('"resourceType"') != 1:
        return None
    id = _id(text, resource_type)
    if id is None or _NARRATIVE.search(text):
        return None
    references = _BARE_REFERENCE.findall(text)
    if text.count('"reference"') != len(references):
        return None
    return Verbatim(text, id, references)


def _id(text: str, resource_type: str) -> str | None:
    """The resource's id, where the text starts as orjson (``resourceType`` then ``id``) or
    JSONB (``id`` first, the shortest key) write a resource of ``resource_type``."""
    compact = _COMPACT_HEADS.get(resource_type)
    if compact is None:
        compact = _COMPACT_HEADS[resource_type] = f'{{"resourceType":"{resource_type}","id":"'
    if text.startswith(compact):
        start = len(compact)
    elif text.startswith('{"id": "') and f'"resourceType": "{resource_type}"' in text:
        start = len('{"id": "')
    else:
        return None
    end = text.find('"', start)
    return text[start:end] if end > start else None
