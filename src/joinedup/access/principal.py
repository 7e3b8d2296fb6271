"""Who is asking: role, organisation (ODS code), Practitioner/PractitionerRole, or Patient.

A principal is built only from a verified token's claims (:mod:`joinedup.access.tokens`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from joinedup.access.scopes import ScopeSet


class Role(StrEnum):
    CLINICIAN = "clinician"
    SOCIAL_CARE = "social_care"
    CARE_COORDINATOR = "care_coordinator"
    PLACE_LEADER = "place_leader"
    ANALYST = "analyst"
    CITIZEN = "citizen"
    ADMIN = "admin"
    SYSTEM = "system"


#: Roles that see a person's record when they have a legitimate relationship with them.
DIRECT_CARE = frozenset({Role.CLINICIAN, Role.SOCIAL_CARE, Role.CARE_COORDINATOR})

#: Roles that act for an organisation and so must name one.
NEEDS_ORG = DIRECT_CARE | {Role.PLACE_LEADER, Role.ANALYST, Role.ADMIN}


class ClaimsError(ValueError):
    """A verified token whose claims do not describe a usable principal."""


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    scopes: ScopeSet
    org: str | None = None
    practitioner: str | None = None
    practitioner_role: str | None = None
    patient: str | None = None
    name: str | None = None

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Principal:
        try:
            role = Role(str(claims.get("role", "")))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise ClaimsError(f"the token's role claim must be one of: {known}") from None
        principal = cls(
            subject=str(claims["sub"]),
            role=role,
            scopes=ScopeSet.parse(str(claims.get("scope", ""))),
            org=_optional(claims, "org"),
            practitioner=_optional(claims, "practitioner"),
            practitioner_role=_optional(claims, "practitioner_role"),
            patient=_optional(claims, "patient"),
            name=_optional(claims, "name"),
        )
        if role in NEEDS_ORG and principal.org is None:
            raise ClaimsError(
                f"a token for the {role} role must carry the organisation's ODS code (org)"
            )
        if role is Role.CITIZEN and principal.patient is None:
            raise ClaimsError("a citizen token must carry the person's Patient id (patient)")
        return principal

    def claims(self) -> dict[str, Any]:
        """The identity claims a token for this principal carries (no timing claims)."""
        claims: dict[str, Any] = {"sub": self.subject, "role": self.role.value}
        claims["scope"] = str(self.scopes)
        for key in ("org", "practitioner", "practitioner_role", "patient", "name"):
            value = getattr(self, key)
            if value is not None:
                claims[key] = value
        return claims


def _optional(claims: dict[str, Any], key: str) -> str | None:
    value = claims.get(key)
    return None if value in (None, "") else str(value)
