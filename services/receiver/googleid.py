"""A Google-signed OIDC ID token, checked as Flux checks the one a Pub/Sub push subscription
sends to a ``gcr`` Receiver (notification-controller's ``authenticateGCRRequest``, over
``google.golang.org/api/idtoken``).

Every check runs here: three base64url segments; ``aud`` equal to the Secret's ``audience``;
``exp`` not passed; ``alg`` RS256 (a key of Google's service-account certificates) or ES256
(a key of Google's IAP certificates), the key chosen by ``kid``, the signature verified; ``iss``
``accounts.google.com`` or ``https://accounts.google.com``; ``email`` equal to the Secret's
``email`` and ``email_verified`` true. Only the keys come from outside: ``KeySet`` is the seam,
``GoogleCertificates`` fetches Google's published keys.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
import urllib.request
from typing import Any, Protocol

SERVICE_ACCOUNT_CERTS = "https://www.googleapis.com/oauth2/v3/certs"
IAP_CERTS = "https://www.gstatic.com/iap/verify/public_key-jwk"
ISSUERS = ("accounts.google.com", "https://accounts.google.com")
MAX_TOKEN_BYTES = 16 * 1024
MAX_CERTS_BYTES = 256 * 1024


class InvalidToken(ValueError):
    """A token that is not Google's, not for us, or not from the expected account."""


class KeySet(Protocol):
    def key(self, url: str, kid: str) -> dict[str, Any] | None:
        """The JWK with ``kid`` among the keys published at ``url``, None if there is none."""


class GoogleCertificates:
    """Google's published signing keys, fetched over HTTPS and kept for as long as the
    answer's ``Cache-Control: max-age`` says (as idtoken's caching client does)."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, list[dict[str, Any]]]] = {}

    def key(self, url: str, kid: str) -> dict[str, Any] | None:
        with self._lock:
            cached = self._cache.get(url)
            if cached is None or cached[0] < time.monotonic():
                cached = self._fetch(url)
                self._cache[url] = cached
        return next((k for k in cached[1] if k.get("kid") == kid), None)

    def _fetch(self, url: str) -> tuple[float, list[dict[str, Any]]]:
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as answer:
                body = answer.read(MAX_CERTS_BYTES + 1)
                cache_control = answer.headers.get("Cache-Control", "")
        except OSError as exc:
            raise InvalidToken(f"cannot fetch Google's certificates: {exc}") from None
        if len(body) > MAX_CERTS_BYTES:
            raise InvalidToken("Google's certificates: answer too large")
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            raise InvalidToken("Google's certificates: not JSON") from None
        keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(keys, list):
            raise InvalidToken("Google's certificates: no keys")
        max_age = 0.0
        for part in cache_control.split(","):
            name, _, value = part.strip().partition("=")
            if name.lower() == "max-age" and value.isdigit():
                max_age = float(value)
        return time.monotonic() + max_age, [k for k in keys if isinstance(k, dict)]


def _b64(segment: str) -> bytes:
    """Go's ``base64.RawURLEncoding``: no padding allowed."""
    if "=" in segment:
        raise InvalidToken("idtoken: padded base64 segment")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise InvalidToken("idtoken: invalid base64 segment") from None


def _object(segment: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64(segment))
    except (ValueError, RecursionError):
        raise InvalidToken(f"idtoken: unable to unmarshal JWT {what}") from None
    if not isinstance(value, dict):
        raise InvalidToken(f"idtoken: unable to unmarshal JWT {what}")
    return value


def _int(value: Any) -> int:
    """An int64 claim as Go reads it: an integer literal (``1.7e9`` is refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidToken("idtoken: unable to unmarshal JWT payload: exp is no integer")
    return value


def _verify_signature(header: dict[str, Any], signed: bytes, sig: bytes, keys: KeySet) -> None:
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in ("RS256", "ES256"):
        raise InvalidToken(f"idtoken: expected JWT signed with RS256 or ES256 but found {alg!r}")
    url = SERVICE_ACCOUNT_CERTS if alg == "RS256" else IAP_CERTS
    jwk = keys.key(url, kid if isinstance(kid, str) else "")
    if jwk is None:
        raise InvalidToken("idtoken: could not find matching cert keyId for the token provided")
    # loaded here, for a gcr Receiver's request only
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    try:
        if alg == "RS256":
            n = int.from_bytes(_b64(str(jwk.get("n", ""))), "big")
            e = int.from_bytes(_b64(str(jwk.get("e", ""))), "big")
            public = rsa.RSAPublicNumbers(e, n).public_key()
            public.verify(sig, signed, padding.PKCS1v15(), hashes.SHA256())
        else:
            x = int.from_bytes(_b64(str(jwk.get("x", ""))), "big")
            y = int.from_bytes(_b64(str(jwk.get("y", ""))), "big")
            point = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
            if len(sig) != 64:
                raise InvalidToken("idtoken: ES256 signature not valid")
            der = encode_dss_signature(int.from_bytes(sig[:32]), int.from_bytes(sig[32:]))
            point.verify(der, signed, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise InvalidToken(f"idtoken: {alg} signature not valid") from None


def check_token(
    authorization: str, email: str, audience: str, keys: KeySet, now: float | None = None
) -> None:
    """Raise InvalidToken unless ``authorization`` is ``Bearer <a Google ID token>`` for
    ``audience``, issued to the service account ``email``. Its messages hold no token."""
    if not authorization.startswith("Bearer "):
        raise InvalidToken("the Authorization header is missing or malformed")
    token = authorization[len("Bearer ") :]
    if len(token) > MAX_TOKEN_BYTES:
        raise InvalidToken("idtoken: token too large")
    segments = token.split(".")
    if len(segments) != 3:
        raise InvalidToken(
            f"idtoken: invalid token, token must have three segments; found {len(segments)}"
        )
    header = _object(segments[0], "header")
    payload = _object(segments[1], "payload")
    signature = _b64(segments[2])
    aud = payload.get("aud")
    if aud is not None and not isinstance(aud, str):
        raise InvalidToken("idtoken: unable to unmarshal JWT payload: aud is no string")
    if aud != audience:
        got = aud or "<unknown>"
        raise InvalidToken(f"invalid ID token: audience is {got!r}, want {audience!r}")
    expires = _int(payload.get("exp", 0))
    if int(time.time() if now is None else now) > expires:  # whole seconds, as Go's Unix()
        raise InvalidToken("idtoken: token expired")
    signed = f"{segments[0]}.{segments[1]}".encode()
    _verify_signature(header, signed, signature, keys)
    issuer = payload.get("iss")
    if issuer not in ISSUERS:
        raise InvalidToken(
            f"token issuer is {issuer!r}, want 'accounts.google.com' or "
            "'https://accounts.google.com'"
        )
    if payload.get("email") != email:
        raise InvalidToken(f"token email is {payload.get('email')!r}, want {email!r}")
    if payload.get("email_verified") is not True:
        raise InvalidToken(f"token email {email!r} is not verified")
