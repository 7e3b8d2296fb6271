"""Bearer tokens (JWT): verification against configured keys, and dev tokens for the demo.

Production verifies against a JWKS (a file, or the issuer's ``https://`` URL such as an NHS
CIS2 or Keycloak realm). Without one, a local RSA key pair is generated once into
``<data_dir>/keys/`` (owner-only permissions) and used both to sign dev tokens
(``joinedup token``) and to verify them; no key is ever written in code.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from joinedup.access.principal import ClaimsError, Principal
from joinedup.access.settings import AccessSettings

DEV_ISSUER = "joinedup-dev"
DEV_KEY_FILE = "dev-signing-key.pem"
#: Asymmetric algorithms only: accepting HS* or "none" would let a public key forge tokens.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]
LEEWAY_SECONDS = 30
#: Verified tokens are remembered (keyed by the whole token, signature included, so nothing
#: unverified can match) for at most this long: checking an RS256 signature and the claims
#: cost ≈ a quarter of the access layer's time per request, and a client sends one token many
#: times. Short, so a key withdrawn from the JWKS stops being honoured within a minute.
VERIFIED_TTL_SECONDS = 60
VERIFIED_MAX = 4096


class TokenError(Exception):
    """A missing, malformed, forged, expired or wrong-audience token (HTTP 401)."""


@dataclass(frozen=True)
class DevKey:
    private_pem: bytes
    kid: str

    @property
    def private_key(self) -> rsa.RSAPrivateKey:
        return _load(self.private_pem)

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(
            jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key())
        )
        jwk.update(kid=self.kid, use="sig", alg="RS256")
        return jwk


def dev_key(key_dir: Path) -> DevKey:
    """The local dev signing key, generated on first use (mode 0600, never overwritten)."""
    path = key_dir / DEV_KEY_FILE
    if not path.exists():
        key_dir.mkdir(parents=True, exist_ok=True)
        pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process generated it first; use theirs
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
    pem = path.read_bytes()
    return DevKey(pem, _thumbprint(pem))


def _thumbprint(private_pem: bytes) -> str:
    """RFC 7638 JWK thumbprint of the public key, used as the ``kid``."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(_load(private_pem).public_key()))
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@functools.lru_cache(maxsize=8)
def _load(private_pem: bytes) -> rsa.RSAPrivateKey:
    # Parsing checks the RSA key's consistency (~0.1 s); keys are immutable, so parse once.
    private = serialization.load_pem_private_key(private_pem, password=None)
    if not isinstance(private, rsa.RSAPrivateKey):
        raise TokenError("the dev signing key must be an RSA key; delete it to regenerate")
    return private


def mint(
    principal: Principal,
    key: DevKey,
    *,
    audience: str,
    minutes: float = 60,
    now: float | None = None,
) -> str:
    """A dev token for ``principal`` signed with the local key."""
    issued = int(time.time() if now is None else now)
    claims = principal.claims() | {
        "iss": DEV_ISSUER,
        "aud": audience,
        "iat": issued,
        "exp": issued + int(minutes * 60),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})


class TokenVerifier:
    """Checks signature, expiry, audience (and issuer when configured); returns the principal."""

    def __init__(self, settings: AccessSettings, key_dir: Path) -> None:
        self.audience = settings.audience
        self.issuer = settings.issuer
        self._client: jwt.PyJWKClient | None = None
        self._keys: dict[str | None, Any] = {}
        self._verified: dict[str, tuple[Principal, float, float]] = {}
        if settings.jwks is None:
            dev = dev_key(key_dir)
            self._keys = {dev.kid: jwt.PyJWK(dev.public_jwk()).key}
        elif settings.jwks.startswith(("https://", "http://")):
            self._client = jwt.PyJWKClient(settings.jwks, cache_keys=True, lifespan=300)
        else:
            jwks = jwt.PyJWKSet.from_json(Path(settings.jwks).read_text())
            self._keys = {k.key_id: k.key for k in jwks.keys}

    def verify(self, token: str) -> Principal:
        now = time.time()
        remembered = self._verified.get(token)
        if remembered is not None:
            principal, expires, until = remembered
            if now < until:
                if now > expires + LEEWAY_SECONDS:
                    raise TokenError("the token has expired; sign in again")
                return principal
            del self._verified[token]
        principal, expires = self._check(token)
        if len(self._verified) >= VERIFIED_MAX:
            self._verified.clear()
        self._verified[token] = (principal, expires, now + VERIFIED_TTL_SECONDS)
        return principal

    def _check(self, token: str) -> tuple[Principal, float]:
        try:
            key = self._key_for(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "aud", "sub"]},
            )
            return Principal.from_claims(claims), float(claims["exp"])
        except jwt.ExpiredSignatureError:
            raise TokenError("the token has expired; sign in again") from None
        except jwt.InvalidAudienceError:
            raise TokenError(
                f"the token is not for this service (audience {self.audience})"
            ) from None
        except (jwt.PyJWTError, ClaimsError, KeyError) as exc:
            raise TokenError(f"the token is not valid: {exc}") from None

    def _key_for(self, token: str) -> Any:
        if self._client is not None:
            return self._client.get_signing_key_from_jwt(token).key
        kid = jwt.get_unverified_header(token).get("kid")
        if kid in self._keys:
            return self._keys[kid]
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        raise TokenError("the token was not signed by a key this service trusts")


def dev_token(data_dir: Path, principal: Principal, *, minutes: float = 60) -> str:
    """A token for ``principal`` signed with the dev key kept in ``data_dir`` (what
    ``joinedup token`` prints; tests and the demo's sign-in use it too)."""
    settings = AccessSettings()
    return mint(
        principal, dev_key(settings.key_dir(data_dir)), audience=settings.audience, minutes=minutes
    )
