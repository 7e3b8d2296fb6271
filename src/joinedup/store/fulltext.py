"""The text ``_text`` and ``_content`` search: words gathered at write time, phrases at query time.

Both sides are reduced to the same form — case-folded, accents removed, every run of letters
and digits a word, one space between words and one at each end (``" blood pressure 140 "``) —
so a phrase matches where its words appear together, whole, in that order, by a plain
``LIKE '% blood pressure %'`` that means the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from joinedup.store.text import normalize

_WORD = re.compile(r"\w+")
_TAG = re.compile(r"<[^>]*>")
# Elements whose strings are identifiers or machinery rather than text a person would search
# for (URLs of code systems, ids, references, the resource's own metadata).
_NOT_TEXT = frozenset({"resourceType", "id", "meta", "system", "url", "reference", "fullUrl"})
# Short strings (names, displays, codes) repeat across resources, so their words are cached;
# a long one (a narrative) is split without filling the caches.
_CACHED_LENGTH = 200


@lru_cache(maxsize=65_536)
def _short(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(normalize(text)))


def _found(text: str) -> Sequence[str]:
    if len(text) <= _CACHED_LENGTH:
        return _short(text)
    return _WORD.findall(normalize.__wrapped__(text))


def _joined(found: Sequence[str]) -> str:
    return f" {' '.join(found)} " if found else ""


def words(text: str) -> str:
    """``text`` in the matching form: ``"Blood-pressure: 140!"`` → ``" blood pressure 140 "``;
    ``""`` when it has no words."""
    return _joined(_found(text))


def _xhtml_text(div: str) -> str:
    return html.unescape(_TAG.sub(" ", div))


def narrative(text: Any) -> str:
    """The words of a narrative (``Resource.text``): its XHTML without tags or entities."""
    if not isinstance(text, dict) or not isinstance(text.get("div"), str):
        return ""
    return words(_xhtml_text(text["div"]))


def content(resource: Any) -> str:
    """The words of every string in ``resource`` (the narrative as text), in document order."""
    found: list[str] = []
    extend = found.extend

    # Leaves are handled where they are met, not by a call each: most values are leaves.
    def walk(value: Any) -> None:
        items = value.items() if type(value) is dict else ((None, item) for item in value)
        for key, child in items:
            kind = type(child)
            if kind is str:
                if key not in _NOT_TEXT:
                    extend(_found(_xhtml_text(child) if key == "div" else child))
            elif (kind is dict or kind is list) and key not in _NOT_TEXT:
                walk(child)

    if isinstance(resource, dict):
        walk(resource)
    return _joined(found)
