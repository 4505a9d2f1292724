"""CDS Hooks client authentication: the EHR's signed JWT, checked as the spec asks.

The EHR signs a JWT with its private key (asymmetric only: RS256, RS384, ES256, ES384) and
sends it as `Authorization: Bearer <jwt>`. We check the signature against the JWKS
configured for its `iss` (an allow-list; no key is ever fetched from the network), that
`aud` is the URL of the endpoint being called, that `exp`, `iat` and `jti` are present and
`exp` is in the future, and that the `jti` was not used before (kept in the store until
the token expires). `alg: none` and HMAC algorithms are refused before anything else:
an HMAC "signature" made with our public key as the secret is the classic confusion attack.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import jwt
from fastapi import HTTPException, Request

from dermcoder.errors import DermCoderError
from dermcoder.service.store import FeedbackStore
from dermcoder.settings import Settings

ALGORITHMS = ("RS256", "RS384", "ES256", "ES384")
# Tokens are meant to live minutes; a longer life would also let the jti table grow.
MAX_LIFETIME_S = 3600
LEEWAY_S = 30


class ConfigError(DermCoderError):
    """A service setting is unusable; the message names the setting and what is allowed."""


class AuthError(Exception):
    """A CDS Hooks request failed authentication; the message is the short 401 reason."""


@dataclass(frozen=True)
class Client:
    """The authenticated CDS client."""

    issuer: str
    subject: str | None
    jti: str
    tenant: str | None = None


def _load_jwks(issuer: str, value: object) -> list[jwt.PyJWK]:
    if isinstance(value, str):
        path = Path(value).expanduser()
        if not path.is_file():
            raise ConfigError(f"DERMCODER_CDS_ISSUERS: JWKS file for {issuer!r} not found: {path}")
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ConfigError(f"DERMCODER_CDS_ISSUERS: JWKS file {path} is not JSON ({exc})") from None
    if not isinstance(value, dict) or not isinstance(value.get("keys"), list) or not value["keys"]:
        raise ConfigError(f"DERMCODER_CDS_ISSUERS: the JWKS of {issuer!r} must be an object with a non-empty 'keys' list")
    keys = []
    for i, jwk in enumerate(value["keys"]):
        if not isinstance(jwk, dict) or jwk.get("kty") not in ("RSA", "EC"):
            raise ConfigError(f"DERMCODER_CDS_ISSUERS: key {i} of {issuer!r} is not an RSA or EC public key (kty)")
        if "d" in jwk:
            raise ConfigError(f"DERMCODER_CDS_ISSUERS: key {i} of {issuer!r} contains a private part ('d'); "
                              "configure the public key only")  # fmt: skip
        try:
            keys.append(jwt.PyJWK(jwk))
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError) as exc:
            raise ConfigError(f"DERMCODER_CDS_ISSUERS: key {i} of {issuer!r} is unusable: {exc}") from None
    return keys


def load_issuers(raw: str | None) -> dict[str, list[jwt.PyJWK]]:
    """Parse DERMCODER_CDS_ISSUERS: a JSON object iss -> JWKS (inline object or file path),
    or a path to a file holding that object."""
    if not raw:
        return {}
    text = raw.strip()
    if not text.startswith("{"):
        path = Path(text).expanduser()
        if not path.is_file():
            raise ConfigError(f"DERMCODER_CDS_ISSUERS: {path} is neither a JSON object nor an existing file")
        text = path.read_text(encoding="utf-8")
    try:
        mapping = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"DERMCODER_CDS_ISSUERS is not valid JSON ({exc})") from None
    if not isinstance(mapping, dict):
        raise ConfigError("DERMCODER_CDS_ISSUERS must be a JSON object mapping each trusted iss to its JWKS")
    return {str(iss): _load_jwks(str(iss), jwks) for iss, jwks in mapping.items()}


def check_jwt_setting(settings: Settings) -> None:
    """Refuse to run with CDS Hooks JWT checks off anywhere but local development."""
    if not settings.cds_jwt and not settings.development:
        raise ConfigError("DERMCODER_CDS_JWT=off is allowed only with DERMCODER_ENV=development; "
                          f"DERMCODER_ENV is {settings.env!r}. Configure DERMCODER_CDS_ISSUERS instead.")  # fmt: skip


class CdsJwtVerifier:
    """Checks the Bearer JWT of every CDS Hooks service call."""

    def __init__(self, settings: Settings, store: FeedbackStore):
        check_jwt_setting(settings)
        self.enabled = settings.cds_jwt
        self.audience_base = settings.cds_audience.rstrip("/") if settings.cds_audience else None
        self.issuers = load_issuers(settings.cds_issuers)
        self.store = store

    def expected_audience(self, request: Request) -> str:
        """The URL of the endpoint being called, as the EHR addresses it."""
        if self.audience_base:
            path = request.url.path
            root = request.scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root):]
            return self.audience_base + path
        return str(request.url.replace(query="", fragment="")).rstrip("?")

    def _key(self, issuer: str, header: dict) -> jwt.PyJWK:
        keys = self.issuers[issuer]
        kid = header.get("kid")
        if kid is not None:
            for key in keys:
                if key.key_id == kid:
                    return key
            raise AuthError(f"no key with kid {kid!r} for issuer {issuer!r}")
        if len(keys) == 1:
            return keys[0]
        raise AuthError("token has no kid and the issuer has several keys")

    def verify(self, request: Request) -> Client | None:
        """The authenticated client, None when checks are off; raises AuthError otherwise."""
        if not self.enabled:
            return None
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("missing Authorization: Bearer token")
        token = token.strip()
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise AuthError("malformed JWT") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise AuthError(f"algorithm {alg!r} refused; allowed: {', '.join(ALGORITHMS)}")
        issuer = unverified.get("iss")
        if not isinstance(issuer, str) or issuer not in self.issuers:
            raise AuthError("issuer not trusted" if self.issuers else "no trusted issuers configured (DERMCODER_CDS_ISSUERS)")
        key = self._key(issuer, header)
        if key.algorithm_name and key.algorithm_name != alg and not _same_family(key.algorithm_name, alg):
            raise AuthError(f"algorithm {alg!r} does not match the issuer's key")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=self.expected_audience(request),
                issuer=issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "iss", "aud", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.InvalidAudienceError:
            raise AuthError("aud is not this endpoint's URL") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"claim {exc.claim!r} is required") from None
        except jwt.InvalidSignatureError:
            raise AuthError("bad signature") from None
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token ({type(exc).__name__})") from None
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti:
            raise AuthError("claim 'jti' must be a non-empty string")
        now = datetime.now(timezone.utc).timestamp()
        if claims["exp"] - now > MAX_LIFETIME_S:
            raise AuthError(f"token lives too long (exp more than {MAX_LIFETIME_S} s ahead)")
        expires = datetime.fromtimestamp(claims["exp"] + LEEWAY_S, tz=timezone.utc)
        if not self.store.remember_jti(issuer, jti, expires):
            raise AuthError("jti already used (replay)")
        return Client(issuer=issuer, subject=claims.get("sub"), jti=jti, tenant=claims.get("tenant"))


def _same_family(key_alg: str, alg: str) -> bool:
    # A JWK may name one RSA or EC algorithm; the same key signs its siblings equally well.
    return key_alg[:2] == alg[:2]


def require_cds_client(request: Request) -> Client | None:
    """FastAPI dependency: 401 with a short reason unless the CDS client authenticated."""
    verifier: CdsJwtVerifier = request.app.state.cds_auth
    try:
        return verifier.verify(request)
    except AuthError as exc:
        raise HTTPException(status_code=401, detail=str(exc), headers={"WWW-Authenticate": "Bearer"}) from None
