"""SMART on FHIR v2 scopes: ``patient/*.rs``, ``user/Observation.cruds``, ``system/*.rs``.

Grammar from the SMART App Launch v2 specification, section "Scopes for requesting clinical
data" (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html): a context
(``patient``, ``user`` or ``system``), a resource type or ``*``, and permissions drawn in order
from ``c r u d s``; the v1 suffixes ``read`` (= ``rs``) and ``write`` (= ``cud``) are accepted.
Granular scopes with a query (``patient/Observation.rs?category=…``) are dropped, which only
ever narrows what a token grants.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum


class Context(StrEnum):
    PATIENT = "patient"
    USER = "user"
    SYSTEM = "system"


class Permission(StrEnum):
    CREATE = "c"
    READ = "r"
    UPDATE = "u"
    DELETE = "d"
    SEARCH = "s"


ALL_TYPES = "*"
_SCOPE = re.compile(r"^(patient|user|system)/([A-Za-z]+|\*)\.([a-z]+)$")
_ORDER = "cruds"
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}


@dataclass(frozen=True)
class Grant:
    context: Context
    resource_type: str
    permissions: frozenset[Permission]


@dataclass(frozen=True)
class ScopeSet:
    """The clinical-data grants of one token (non-clinical scopes such as ``openid`` ignored)."""

    grants: tuple[Grant, ...] = field(default_factory=tuple)

    @classmethod
    def parse(cls, scope: str) -> ScopeSet:
        return cls(tuple(g for g in (parse_scope(s) for s in scope.split()) if g is not None))

    def types(self, context: Context, permission: Permission) -> frozenset[str]:
        """Resource types granted ``permission`` in ``context``; ``{"*"}`` means all."""
        return frozenset(
            g.resource_type
            for g in self.grants
            if g.context is context and permission in g.permissions
        )

    def allows(self, context: Context, resource_type: str, permission: Permission) -> bool:
        granted = self.types(context, permission)
        return ALL_TYPES in granted or resource_type in granted

    def contexts(self) -> frozenset[Context]:
        return frozenset(g.context for g in self.grants)

    def __str__(self) -> str:
        return " ".join(
            f"{g.context}/{g.resource_type}."
            + "".join(p for p in _ORDER if Permission(p) in g.permissions)
            for g in self.grants
        )


def parse_scope(scope: str) -> Grant | None:
    """One scope string as a grant, or None for a scope that grants no clinical data."""
    match = _SCOPE.match(scope)
    if match is None:
        return None
    context, resource_type, letters = match.groups()
    letters = _V1.get(letters, letters)
    if not _is_ordered_subset(letters):
        return None
    return Grant(Context(context), resource_type, frozenset(Permission(c) for c in letters))


def _is_ordered_subset(letters: str) -> bool:
    position = -1
    for letter in letters:
        index = _ORDER.find(letter)
        if index <= position:
            return False
        position = index
    return bool(letters)
