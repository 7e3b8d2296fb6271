"""How strings are compared in search: case- and accent-insensitive (R4 string search)."""

from __future__ import annotations

import unicodedata
from functools import lru_cache


# Displays and names repeat a great deal across resources (every "Body Height" observation).
@lru_cache(maxsize=65_536)
def normalize(text: str) -> str:
    """Case-folded, accents removed, whitespace collapsed: ``"  Zoë  O'Brien"`` →
    ``"zoe o'brien"``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.split())


def like_escape(text: str) -> str:
    """Escape ``%``, ``_`` and the escape character itself for ``LIKE … ESCAPE '\\'``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
