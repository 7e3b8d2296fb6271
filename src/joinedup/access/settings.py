"""Access settings from the environment (prefix ``JOINEDUP_ACCESS_``).

Kept apart from :mod:`joinedup.config` because only this capability reads them; the data
directory (where the local dev signing key lives) still comes from the shared settings.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

#: HL7 v3 sensitivity codes whose data only the authoring organisation sees, whatever the
#: person's other choices (https://terminology.hl7.org/CodeSystem-v3-ActCode.html, the
#: _InformationSensitivityPolicy codes), plus the restricted confidentiality levels.
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
DEFAULT_RESTRICTED_LABELS = (
    f"{ACT_CODE}|SEX",
    f"{ACT_CODE}|STD",
    f"{ACT_CODE}|HIV",
    f"{ACT_CODE}|SDV",
    f"{ACT_CODE}|PSY",
    f"{ACT_CODE}|ETH",
    f"{CONFIDENTIALITY}|R",
    f"{CONFIDENTIALITY}|V",
)


class AccessSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="JOINEDUP_ACCESS_", env_file=".env", extra="ignore"
    )

    jwks: str | None = None
    """A JWKS file path or ``https://`` URL (e.g. an NHS CIS2 or Keycloak issuer's keys).
    Unset: tokens are checked against the local dev key pair in the data directory."""

    audience: str = "joinedup"
    """The ``aud`` every token must carry."""

    issuer: str | None = None
    """When set, the ``iss`` every token must carry (the dev issuer is ``joinedup-dev``)."""

    recent_days: int = 90
    """How long after an episode, encounter or referral ends the relationship still holds."""

    breakglass_minutes: int = 240
    """How long a break-glass grant lasts."""

    restricted_labels: tuple[str, ...] = DEFAULT_RESTRICTED_LABELS
    """``system|code`` security labels visible only to the organisation that wrote the entry."""

    audit_key: SecretStr | None = None
    """HMAC key signing the audit checkpoints. Unset: a random key generated once into
    ``<data-dir>/keys/``; in production give one that the database's users cannot read."""

    audit_witness: Path | None = None
    """A second file every audit checkpoint is appended to: somewhere off the database host
    (a mounted share, a file a log shipper forwards)."""

    checkpoint_every: int = 100
    """Write an audit checkpoint after every this many entries…"""

    checkpoint_seconds: float = 60.0
    """…and at least this often while requests are being audited."""

    def key_dir(self, data_dir: Path) -> Path:
        return data_dir / "keys"
