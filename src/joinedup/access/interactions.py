"""What a FHIR REST request is: its interaction, resource type, id and SMART permission.

The access middleware classifies each request before the server sees it, so scope checks,
audit entries and the break-glass hint all speak about the same thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from joinedup.access.scopes import Permission

_TYPE = re.compile(r"^[A-Z][A-Za-z]+$")


@dataclass(frozen=True)
class Interaction:
    name: str
    """A http://hl7.org/fhir/restful-interaction code (``read``, ``search-type``…) or an
    operation name such as ``$everything``."""
    permission: Permission
    resource_type: str | None = None
    """None for a system-level interaction (whole-system search/history, a Bundle)."""
    id: str | None = None

    @property
    def action(self) -> str:
        """The AuditEvent action code: C, R, U, D or E (execute)."""
        if self.name.startswith("$") or self.name in ("transaction", "batch"):
            return "E"
        return {
            Permission.CREATE: "C",
            Permission.READ: "R",
            Permission.SEARCH: "R",
            Permission.UPDATE: "U",
            Permission.DELETE: "D",
        }[self.permission]


def classify(method: str, path: str) -> Interaction:
    """Classify ``method`` on ``path`` (relative to the FHIR base, e.g. ``/Patient/1``)."""
    parts = [p for p in path.split("/") if p]
    method = method.upper()
    if not parts:
        if method == "POST":
            return Interaction("transaction", Permission.CREATE)
        return Interaction("search-system", Permission.SEARCH)
    head = parts[0]
    if head == "_search":
        return Interaction("search-system", Permission.SEARCH)
    if head == "_history":
        return Interaction("history-system", Permission.SEARCH)
    if head.startswith("$"):
        return Interaction(head, Permission.SEARCH)
    if not _TYPE.match(head):
        return Interaction("unknown", Permission.READ)
    if len(parts) == 1:
        if method == "POST":
            return Interaction("create", Permission.CREATE, head)
        if method in ("PUT", "PATCH"):
            return Interaction("update", Permission.UPDATE, head)
        if method == "DELETE":
            return Interaction("delete", Permission.DELETE, head)
        return Interaction("search-type", Permission.SEARCH, head)
    second = parts[1]
    if second == "_search":
        return Interaction("search-type", Permission.SEARCH, head)
    if second == "_history":
        return Interaction("history-type", Permission.SEARCH, head)
    if second.startswith("$"):
        return Interaction(second, Permission.SEARCH, head)
    if len(parts) == 2:
        by_method = {
            "PUT": ("update", Permission.UPDATE),
            "PATCH": ("patch", Permission.UPDATE),
            "DELETE": ("delete", Permission.DELETE),
        }
        name, permission = by_method.get(method, ("read", Permission.READ))
        return Interaction(name, permission, head, second)
    third = parts[2]
    if third == "_history":
        name = "vread" if len(parts) > 3 else "history-instance"
        return Interaction(name, Permission.READ, head, second)
    if third.startswith("$"):
        return Interaction(third, Permission.READ, head, second)
    if _TYPE.match(third):
        # Compartment search (Patient/1/Observation) reads the inner type.
        return Interaction("search-compartment", Permission.SEARCH, third, None)
    return Interaction("unknown", Permission.READ, head, second)
