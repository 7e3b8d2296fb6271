"""Pseudonyms: keyed, stable under one key, unlinkable across keys, and never keyless."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from joinedup.config import Settings
from joinedup.export.pseudonyms import MissingPseudonymKey, Pseudonymiser

KEY = b"k" * 32


def test_stable_under_one_key_and_different_under_another() -> None:
    one, again, other = Pseudonymiser(KEY), Pseudonymiser(KEY), Pseudonymiser(b"z" * 32)
    ids = [f"patient-{i}" for i in range(1000)]
    assert [one.patient(i) for i in ids] == [again.patient(i) for i in ids]
    assert len({one.patient(i) for i in ids}) == len(ids)
    assert not {one.patient(i) for i in ids} & {other.patient(i) for i in ids}


def test_a_pseudonym_is_a_valid_fhir_id_and_does_not_contain_the_id() -> None:
    pseudonym = Pseudonymiser(KEY).patient("p1")
    assert len(pseudonym) == 32 and all(c in "0123456789abcdef" for c in pseudonym)
    assert "p1" not in pseudonym


def test_refuses_to_run_without_a_configured_key() -> None:
    with pytest.raises(MissingPseudonymKey, match="JOINEDUP_PSEUDONYM_KEY"):
        Pseudonymiser.from_settings(Settings(pseudonym_key=None))
    with pytest.raises(MissingPseudonymKey, match="at least 32 bytes"):
        Pseudonymiser.from_settings(Settings(pseudonym_key=SecretStr("short")))


def test_fingerprint_names_the_key_without_revealing_it() -> None:
    assert Pseudonymiser(KEY).fingerprint() == Pseudonymiser(KEY).fingerprint()
    assert Pseudonymiser(KEY).fingerprint() != Pseudonymiser(b"z" * 32).fingerprint()
    assert KEY.decode() not in Pseudonymiser(KEY).fingerprint()


def test_the_demo_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = Pseudonymiser.for_demo(tmp_path / "data")
    again = Pseudonymiser.for_demo(tmp_path / "data")
    assert first.patient("p1") == again.patient("p1")
    assert (tmp_path / "data" / "pseudonym.key").stat().st_mode & 0o077 == 0
    assert first.patient("p1") != Pseudonymiser.for_demo(tmp_path / "other").patient("p1")
