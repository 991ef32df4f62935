"""A Docker token service written for the tests, in front of the real registry's ``auth: token``.

A *stand-in* for Docker Hub's ``auth.docker.io/token`` and Harbor's ``/service/token``: the
Distribution registry (Debian ``docker-registry`` 2.8) is configured with ``auth: token``
(``realm`` = this server's ``/token``, ``service``, ``issuer``, ``rootcertbundle``), answers
unauthenticated requests with ``WWW-Authenticate: Bearer realm=…,service=…,scope=…`` and checks
every token it is shown itself: issuer, audience, ``exp``/``nbf`` (with Distribution's 60 s
leeway), the signature, and that the ``x5c`` leaf certificate chains to a certificate of
``rootcertbundle``. Nothing here talks to the registry.

The protocol (https://distribution.github.io/distribution/spec/auth/token/)::

    GET /token?service=SERVICE&scope=repository:NAME:pull,push[&scope=…][&account=USER]
    Authorization: Basic …            (optional)

    200 {"token": JWT, "access_token": JWT, "expires_in": N, "issued_at": RFC 3339}
    401 wrong or unknown user/password (no token at all)
    400 unknown service or malformed scope

Who gets what: a user of ``users`` with the right password gets every requested action
(``pull``, ``push``, ``delete``, ``*``) on every repository; anonymous callers get ``pull`` on
repositories under ``public_prefix`` and a token with *no* access elsewhere (as Docker Hub does
for a private repository: the registry then answers 401 ``insufficient_scope``).

The JWT is ES256, signed by a key whose certificate the server's :class:`TestCA` issued; the
header carries that certificate (base64 DER) in ``x5c``, which is how Distribution 2.8 finds the
key (its ``VerifySigningKey`` tries ``x5c``, then ``jwk``, then ``kid`` as a libtrust
fingerprint of a key in the bundle). Claims: ``iss``, ``sub`` (empty when anonymous), ``aud``
(the service), ``exp``, ``nbf``, ``iat``, ``jti`` and ``access``.

Knobs for the tests, settable while the server runs: ``lifetime`` (seconds; ``exp - iat`` and
``expires_in``) and ``clock_offset`` (added to the server's clock when stamping ``iat``/``nbf``/
``exp``: -60 makes tokens the registry rejects ``lifetime`` seconds from now, its leeway spent).
``issued`` records every token given out, ``refused`` counts 401s.

:class:`BearerAuth` is the client side of the same flow as an ``httpx.Auth``, for
``services.demo.oci.push_tags`` (which only knows Basic).
"""

from __future__ import annotations

import base64
import datetime
import hmac
import json
import secrets
import ssl
import tempfile
import threading
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from services.demo.tls import TestCA
from services.registry_scanner.auth import parse_www_authenticate

ACTIONS = frozenset({"pull", "push", "delete", "*"})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_jwt(claims: Mapping[str, Any], key: ec.EllipticCurvePrivateKey, cert_pem: bytes) -> str:
    """A compact ES256 JWS of ``claims`` with the signing certificate in the ``x5c`` header.

    JWS wants the ECDSA signature as the raw ``r || s`` (32 bytes each for P-256), not DER.
    """
    cert = x509.load_pem_x509_certificate(cert_pem)
    header = {
        "typ": "JWT",
        "alg": "ES256",
        "x5c": [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()],
    }
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(dict(claims), separators=(",", ":")).encode())
    )
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def jwt_claims(token: str) -> dict[str, Any]:
    """The (unverified) claims of a compact JWT, for assertions."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


@dataclass(frozen=True)
class Issued:
    """One token the server gave out."""

    token: str
    subject: str  # "" when anonymous
    account: str | None  # the ``account`` query parameter, if any
    access: tuple[tuple[str, str, tuple[str, ...]], ...]  # (type, name, actions)
    issued_at: int  # iat, on the server's (offset) clock
    expires_at: int  # exp

    def actions(self, name: str) -> tuple[str, ...]:
        return next((a for t, n, a in self.access if t == "repository" and n == name), ())


class TokenServer:
    """The token service on ``127.0.0.1:<free port>`` in a thread (HTTPS with ``tls``).

    ``realm`` is the URL to configure; ``root_pem`` the CA certificate the registry must trust
    (``rootcertbundle``); with ``tls`` the same CA signed the server's own certificate, so a
    client trusts the realm with ``root_pem`` too.
    """

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        public_prefix: str = "public/",
        service: str = "conveyor-test-registry",
        issuer: str = "conveyor-test-token-server",
        lifetime: int = 300,
        tls: bool = False,
        ca: TestCA | None = None,
    ) -> None:
        self.users = dict(users or {})
        self.public_prefix = public_prefix
        self.service = service
        self.issuer = issuer
        self.lifetime = lifetime
        self.clock_offset = 0.0
        self.issued: list[Issued] = []
        self.refused = 0
        self._lock = threading.Lock()
        self.ca = ca or TestCA("conveyor token CA")
        cert_pem, key_pem = self.ca.issue("conveyor token signer", dns_names=(), ips=())
        key = serialization.load_pem_private_key(key_pem, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        self._cert_pem, self._key = cert_pem, key
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                status, headers, body = outer._answer(self.path, self.headers.get("Authorization"))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            with tempfile.TemporaryDirectory(prefix="conveyor-token-") as tmp:
                cert, key_file = Path(tmp, "tls.crt"), Path(tmp, "tls.key")
                tls_cert, tls_key = self.ca.issue()
                cert.write_bytes(tls_cert)
                key_file.write_bytes(tls_key)
                ctx.load_cert_chain(cert, key_file)
            self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self._server.server_address[1]}"
        self.realm = f"{self.url}/token"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def root_pem(self) -> bytes:
        return self.ca.cert_pem

    def registry_auth_config(self, bundle: Path) -> dict[str, str]:
        """Write ``root_pem`` to ``bundle``; the registry's ``auth: token:`` section."""
        bundle.write_bytes(self.root_pem)
        return {
            "realm": self.realm,
            "service": self.service,
            "issuer": self.issuer,
            "rootcertbundle": str(bundle),
        }

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> TokenServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- the protocol --------------------------------------------------------------------------
    def _answer(self, path: str, authorization: str | None) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(path)
        if parts.path != "/token":
            return 404, {}, b'{"details":"not found"}'
        query = parse_qs(parts.query)
        if query.get("service") != [self.service]:
            return 400, {}, b'{"details":"unknown service"}'
        subject = self._authenticate(authorization)
        if subject is None:
            with self._lock:
                self.refused += 1
            challenge = {"WWW-Authenticate": 'Basic realm="conveyor test token server"'}
            return 401, challenge, b'{"details":"incorrect username or password"}'
        access: list[tuple[str, str, tuple[str, ...]]] = []
        for scope in query.get("scope", []):
            parsed = self._parse_scope(scope)
            if parsed is None:
                return 400, {}, b'{"details":"invalid scope"}'
            kind, name, wanted = parsed
            access.append((kind, name, self._grant(subject, kind, name, wanted)))
        account = query["account"][0] if query.get("account") else None
        now = time.time() + self.clock_offset
        issued_at = int(now)
        expires_at = issued_at + self.lifetime
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": expires_at,
            "nbf": issued_at,
            "iat": issued_at,
            "jti": secrets.token_urlsafe(16),
            "access": [{"type": t, "name": n, "actions": list(a)} for t, n, a in access],
        }
        token = sign_jwt(claims, self._key, self._cert_pem)
        with self._lock:
            self.issued.append(
                Issued(token, subject, account, tuple(access), issued_at, expires_at)
            )
        stamp = datetime.datetime.fromtimestamp(issued_at, datetime.UTC)
        body = {
            "token": token,
            "access_token": token,
            "expires_in": self.lifetime,
            "issued_at": stamp.isoformat().replace("+00:00", "Z"),
        }
        return 200, {}, json.dumps(body).encode()

    def _authenticate(self, authorization: str | None) -> str | None:
        """The subject: ``""`` for anonymous, the user name, or None when refused."""
        if not authorization:
            return ""
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, sep, password = base64.b64decode(value.strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        expected = self.users.get(user)
        if not sep or expected is None:
            return None
        if not hmac.compare_digest(expected.encode(), password.encode()):
            return None
        return user

    @staticmethod
    def _parse_scope(scope: str) -> tuple[str, str, tuple[str, ...]] | None:
        rest, sep, actions = scope.rpartition(":")
        kind, sep2, name = rest.partition(":")
        if not sep or not sep2 or not kind or not name:
            return None
        return kind, name, tuple(a for a in actions.split(",") if a)

    def _grant(
        self, subject: str, kind: str, name: str, wanted: tuple[str, ...]
    ) -> tuple[str, ...]:
        if kind != "repository":
            return ()
        if subject:
            return tuple(a for a in wanted if a in ACTIONS)
        if name.startswith(self.public_prefix) and "pull" in wanted:
            return ("pull",)
        return ()


class BearerAuth(httpx.Auth):
    """The client side of the token flow for httpx (Basic-authenticated when given a user).

    Sends the last token it got; on a 401 with a ``Bearer`` challenge it asks the realm for the
    challenge's service and scope and resends once. ``tokens`` counts tokens fetched.
    """

    requires_response_body = True

    def __init__(self, username: str | None = None, password: str | None = None) -> None:
        self._basic: str | None = None
        if username is not None:
            raw = f"{username}:{password or ''}".encode()
            self._basic = "Basic " + base64.b64encode(raw).decode("ascii")
        self._token: str | None = None
        self.tokens = 0

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._token is not None:
            request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code != 401:
            return
        challenges = parse_www_authenticate(response.headers.get("WWW-Authenticate", ""))
        bearer = next((c for c in challenges if c.scheme == "bearer" and c.realm), None)
        if bearer is None:
            return
        params = [(k, v) for k, v in (("service", bearer.service), ("scope", bearer.scope)) if v]
        headers = {"Authorization": self._basic} if self._basic else {}
        token_response = yield httpx.Request(
            "GET", httpx.URL(bearer.realm or "", params=params), headers=headers
        )
        if token_response.status_code != 200:
            raise RuntimeError(f"token service answered HTTP {token_response.status_code}")
        body = token_response.json()
        self._token = body.get("token") or body.get("access_token")
        self.tokens += 1
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request
