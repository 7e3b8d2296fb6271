"""Settings from the environment (prefix ``JOINEDUP_``) or a ``.env`` file.

Secrets (the pseudonymisation key, signing keys) are only ever read from here, never
written in code.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOINEDUP_", env_file=".env", extra="ignore")

    data_dir: Path = Path("joinedup-data")
    """Where `joinedup demo` keeps the synthetic ICS, the record and snapshots."""

    db_url: str | None = None
    """`sqlite:///path.db` or `postgresql://…`; default: ``record.db`` in ``data_dir``."""

    pseudonym_key: SecretStr | None = None
    """HMAC key for pseudonyms in de-identified snapshots."""

    allow_identifiable: bool = False
    """Must be set explicitly before `joinedup snapshot --identifiable` will run."""

    suppress_below: int = 8
    """Counts 1..suppress_below-1 are suppressed in published outputs (NHS Digital: 1–7)."""

    round_to: int = 5
    """Other published counts are rounded to the nearest ``round_to``."""

    export_file_resources: int = Field(default=100_000, ge=1)
    """Bulk Data $export starts a new file for a type once one holds this many resources."""

    def record_url(self) -> str:
        return self.db_url or f"sqlite:///{(self.data_dir / 'record.db').as_posix()}"

    def snapshot_dir(self) -> Path:
        """Where the de-identified analytics snapshot of the record is kept."""
        return self.data_dir / "snapshot"

    def outcomes_dir(self) -> Path:
        """Where `joinedup measures run` writes the tables the dashboard serves."""
        return self.data_dir / "outcomes"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
