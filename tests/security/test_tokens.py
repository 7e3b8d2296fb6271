"""Token verification: expired, forged, tampered, wrong-audience and malformed tokens fail."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from joinedup.access import tokens
from joinedup.access.principal import Principal, Role
from joinedup.access.scopes import ScopeSet
from joinedup.access.settings import AccessSettings
from joinedup.access.tokens import DevKey, TokenError, TokenVerifier, dev_key, mint

GP = Principal(
    "gp-1", Role.CLINICIAN, ScopeSet.parse("user/*.cruds"), org="A81001", practitioner="gp-1"
)


@pytest.fixture(scope="module")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="module")
def key(key_dir: Path) -> DevKey:
    return dev_key(key_dir)


@pytest.fixture
def verifier(key: DevKey, key_dir: Path) -> TokenVerifier:
    return TokenVerifier(AccessSettings(jwks=None, issuer=None), key_dir)


def test_a_dev_token_round_trips_to_its_principal(key: DevKey, verifier: TokenVerifier) -> None:
    assert verifier.verify(mint(GP, key, audience="joinedup")) == GP


def test_the_dev_key_is_generated_once_and_private(key: DevKey, key_dir: Path) -> None:
    path = next(key_dir.iterdir())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert dev_key(key_dir) == key


def test_expired(key: DevKey, verifier: TokenVerifier) -> None:
    token = mint(GP, key, audience="joinedup", minutes=1, now=time.time() - 3600)
    with pytest.raises(TokenError, match="expired"):
        verifier.verify(token)


def test_wrong_audience(key: DevKey, verifier: TokenVerifier) -> None:
    with pytest.raises(TokenError, match="not for this service"):
        verifier.verify(mint(GP, key, audience="another-service"))


def test_forged_with_another_key_under_the_same_kid(key: DevKey, verifier: TokenVerifier) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(TokenError):
        verifier.verify(mint(GP, DevKey(pem, key.kid), audience="joinedup"))


def test_tampered_claims_break_the_signature(key: DevKey, verifier: TokenVerifier) -> None:
    header, payload, signature = mint(GP, key, audience="joinedup").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "system"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(TokenError):
        verifier.verify(f"{header}.{forged}.{signature}")


def test_unsigned_and_symmetric_algorithms_are_refused(
    key: DevKey, verifier: TokenVerifier
) -> None:
    claims = GP.claims() | {"aud": "joinedup", "exp": int(time.time()) + 600}
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": key.kid})
    with pytest.raises(TokenError):
        verifier.verify(unsigned)
    # Algorithm confusion: HMAC keyed with the public key, which anyone can read.
    public_pem = (
        serialization.load_pem_private_key(key.private_pem, password=None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    signing_input = ".".join(
        _b64(json.dumps(part).encode())
        for part in ({"alg": "HS256", "typ": "JWT", "kid": key.kid}, claims)
    )
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    confused = f"{signing_input}.{_b64(mac)}"
    with pytest.raises(TokenError):
        verifier.verify(confused)


def test_garbage_and_missing_claims(key: DevKey, verifier: TokenVerifier) -> None:
    with pytest.raises(TokenError):
        verifier.verify("not-a-jwt")
    no_exp = jwt.encode(
        GP.claims() | {"aud": "joinedup"},
        key.private_pem,
        algorithm="RS256",
        headers={"kid": key.kid},
    )
    with pytest.raises(TokenError, match="exp"):
        verifier.verify(no_exp)
    citizen_without_patient = Principal("c", Role.CLINICIAN, GP.scopes, org="X").claims() | {
        "role": "citizen"
    }
    token = jwt.encode(
        citizen_without_patient | {"aud": "joinedup", "exp": int(time.time()) + 600},
        key.private_pem,
        algorithm="RS256",
        headers={"kid": key.kid},
    )
    with pytest.raises(TokenError, match="patient"):
        verifier.verify(token)


def test_configured_issuer_is_required(key: DevKey, key_dir: Path) -> None:
    strict = TokenVerifier(AccessSettings(issuer="https://cis2.example/realm"), key_dir)
    with pytest.raises(TokenError):
        strict.verify(mint(GP, key, audience="joinedup"))


def test_a_jwks_file_replaces_the_dev_key(key: DevKey, tmp_path: Path) -> None:
    issuer_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(issuer_key.public_key()))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk | {"kid": "issuer-1", "alg": "RS256", "use": "sig"}]}))
    verifier = TokenVerifier(AccessSettings(jwks=str(jwks)), tmp_path / "unused")
    claims = GP.claims() | {"aud": "joinedup", "exp": int(time.time()) + 600}
    token = jwt.encode(claims, issuer_key, algorithm="RS256", headers={"kid": "issuer-1"})
    assert verifier.verify(token) == GP
    with pytest.raises(TokenError, match="not signed by a key"):
        verifier.verify(mint(GP, key, audience="joinedup"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_remembered_token_still_expires(
    key: DevKey, verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = mint(GP, key, audience="joinedup", minutes=1, now=time.time() - 55)
    assert verifier.verify(token) == GP
    later = time.time() + 5 + tokens.LEEWAY_SECONDS + 1  # still within the remembering time
    assert later < time.time() + tokens.VERIFIED_TTL_SECONDS
    monkeypatch.setattr(tokens.time, "time", lambda: later)
    with pytest.raises(TokenError, match="expired"):
        verifier.verify(token)


def test_a_remembered_token_is_checked_again_after_a_while(
    key: DevKey, verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = mint(GP, key, audience="joinedup", minutes=60)
    assert verifier.verify(token) == GP
    verifier._keys.clear()  # the signing key withdrawn, as from a rotated JWKS
    assert verifier.verify(token) == GP  # still remembered
    later = time.time() + tokens.VERIFIED_TTL_SECONDS + 1
    monkeypatch.setattr(tokens.time, "time", lambda: later)
    with pytest.raises(TokenError, match="not signed by a key this service trusts"):
        verifier.verify(token)


def test_a_tampered_copy_of_a_remembered_token_is_refused(
    key: DevKey, verifier: TokenVerifier
) -> None:
    token = mint(GP, key, audience="joinedup")
    assert verifier.verify(token) == GP
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(TokenError):
        verifier.verify(f"{header}.{forged}.{signature}")
