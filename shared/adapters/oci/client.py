"""The OCI Distribution API adapter: tags, manifest digests, manifests and blobs over httpx.

The only module of the registry scanner that imports httpx. Every httpx exception is
translated here, at the boundary, into the project's error tree::

    PermanentError                         do not retry until the spec or the secret changes
      reason AuthenticationFailed          credentials rejected, missing, or no pull access
      reason ImageRepositoryNotFound       404 on the tag list
      reason ManifestNotFound              404 on a manifest
      reason BlobNotFound                  404 on a blob
      reason AnswerTooLarge                a manifest or blob over the caller's limit
      reason DigestMismatch                a manifest or blob whose bytes are not its digest's
      reason CertificateVerificationFailed the server's certificate is not trusted
      reason TLSHandshakeFailed            TLS failed otherwise (e.g. a plain-HTTP registry)
      reason PlainHTTPNotAllowed           an http:// URL (redirect, token realm) without insecure
      InvalidSpec                          bad options: PEM that does not load, bad tag, …
    TransientError                         network, timeouts, 5xx, invalid answers (retried
      reason RateLimited                   429 whose Retry-After exceeds the retry budget

Messages name the registry and the image, never a password, token or header.

Transport choices:

- https with the system CAs (``ssl.create_default_context``), plus ``ca_pem`` when given, and a
  client certificate when given.
- ``insecure=True`` (and nothing else) allows an unverified certificate and plain HTTP, as
  Docker and go-containerregistry do: the first request tries https without verification and,
  on a connection or TLS failure, falls back to http; the scheme that answered is kept for the
  client's lifetime, and for the host's next clients (``_SCHEMES``). A registry that serves
  https is therefore never downgraded: when the https attempt failed on the way (a reset, a
  timeout) and plain http reaches its TLS port, a Go server (Distribution) answers ``400``
  ``Client sent an HTTP request to an HTTPS server.`` and an nginx in front of a registry ``400``
  ``The plain HTTP request was sent to HTTPS port``; that answer means https, and the https
  error stands (retried as such, nothing kept). "http" is kept only from an answer of plain
  http itself.
- Auth: anonymous first; a 401 is answered from its challenge: ``Basic`` (send the credentials
  from then on) or ``Bearer`` (GET the realm with ``service`` and
  ``scope=repository:<repo>:pull``, Basic-authenticated when there are credentials, anonymous
  otherwise; the token is cached until ``expires_in`` — default 60 s — runs out). The
  Authorization header is only sent to the registry's own origin.
- Retries: 429 (honouring ``Retry-After``, seconds or HTTP date), 5xx, timeouts and connection
  errors, with exponential backoff and jitter, bounded by :class:`RetryPolicy`. Certificate
  and TLS handshake failures, 4xx and auth failures are not retried.
- Time: each request, its answer read whole, takes at most ``RegistryOptions.timeout`` (give
  or take one read: a registry that trickles its answer is cut off); inside a run
  (``conveyor.shared.deadline``: a scan is bounded by its ImageRepository's timeout, as Flux
  bounds it) never past the run's deadline, and no retry waits beyond it either: the last
  error is reported with the timeout that was spent. An answer is at most ``MAX_BODY`` bytes,
  a manifest or blob at most the caller's ``limit`` (refused at once when its Content-Length
  says more); either is checked against its digest before it is returned.
- Tags: ``GET /v2/<repo>/tags/list?n=<page_size>``, then every ``Link: <…>; rel="next"`` to the
  end (relative or absolute, loops detected). ``page_size=None`` sends no ``n`` and lets the
  registry choose, as skopeo does: on Distribution v3, whose every page costs about as much as
  the whole list, that lists 10,000 tags ~9x faster than pages of 1,000 (bench/bench_scan.py).
- TLS contexts are cached per process (loading the system CA store costs tens of ms), and so
  are connection pools, one per TLS setting (a client certificate is a setting of its own):
  every client of a process sends through it, so a scan reuses the connection the previous
  scan of that registry host kept alive (httpx's keep-alive expiry, 5 s) instead of opening a
  new TCP connection and TLS session. Proxies from the environment (``HTTPS_PROXY``, …,
  ``NO_PROXY``) apply as httpx applies them; a proxied host gets a pool per client, as before.
"""

from __future__ import annotations

import email.utils
import functools
import hashlib
import logging
import os
import random
import re
import ssl
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

import httpx
from httpx._utils import get_environment_proxies

from conveyor.shared import metrics
from conveyor.shared.adapters.oci.auth import Challenge, Credentials, parse_www_authenticate
from conveyor.shared.adapters.oci.reference import TAG_RE, ImageRef, parse_image
from conveyor.shared.deadline import current_run, spent, waiting
from conveyor.shared.errors import InvalidSpec, PermanentError, TransientError

log = logging.getLogger(__name__)

MANIFEST_MEDIA_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
MANIFEST_ACCEPT = ", ".join(MANIFEST_MEDIA_TYPES)
USER_AGENT = "conveyor-registry-scanner/0.1"
DEFAULT_TOKEN_TTL = 60.0
MAX_PAGES = 100_000
MAX_BODY = 64 * 1024 * 1024  # one answer, decoded (a tag list of 10,000 tags is ~300 KB)
# reasons of a manifest or blob the registry sent wrong (that object refused, nothing retried)
TOO_LARGE = "AnswerTooLarge"  # over the caller's limit
DIGEST_MISMATCH = "DigestMismatch"  # its bytes do not hash to the digest it was asked for
_HASHES = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}
# what describes the body as sent, not as kept (decoded, whole)
_BODY_HEADERS = ("content-encoding", "content-length", "transfer-encoding")

# The scheme an insecure registry answered on, per API host, for the life of the process: a
# scan of a plain-HTTP registry costs one request, not a failed https attempt and a retry.
_SCHEMES: dict[str, str] = {}
# What a TLS port answers plain HTTP with, beside its 400: the registry speaks https. A Go
# server's body (Distribution's, Traefik's, Caddy's) is this text alone; nginx's, in front of a
# registry, is its error page for that case (its 497, sent as 400), the text in the title.
_HTTP_TO_HTTPS = (
    b"Client sent an HTTP request to an HTTPS server.",
    b"The plain HTTP request was sent to HTTPS port",
)
_REFUSAL_BYTES = 1024  # where the text is looked for: Go's body is 48 bytes, nginx's about 250

_DIGEST_RE = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
_LINK_RE = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")
_REL_NEXT_RE = re.compile(r";\s*rel\s*=\s*\"?([^\";]*)\"?", re.IGNORECASE)


@dataclass(frozen=True)
class RegistryOptions:
    insecure: bool = False  # allows plain HTTP and unverified TLS; nothing else does
    credentials: Credentials | None = None
    ca_pem: bytes | None = None  # extra CA (certSecretRef ca.crt)
    client_cert_pem: bytes | None = None  # certSecretRef tls.crt
    client_key_pem: bytes | None = None  # certSecretRef tls.key
    timeout: float = 60.0  # per request (connect, each read), seconds; a run's deadline cuts it
    page_size: int | None = 1000  # ``n=`` of the tag list; None: the registry's own page size
    scratch: Path | None = None  # where the client key is written for a moment (None: $TMPDIR)


@dataclass(frozen=True)
class Manifest:
    """A manifest as the registry sent it: its checked digest, ``Content-Type`` and bytes."""

    digest: str
    media_type: str
    content: bytes


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries of one request: ``attempts`` tries in all, first included.

    Backoff before retry k (1-based) is ``min(cap, base * 2**(k-1))`` with equal jitter (half
    fixed, half random). A 429's ``Retry-After`` replaces the backoff. The sum of all sleeps of
    one request never exceeds ``max_total_sleep``: a wait that would exceed it gives up at once.
    """

    attempts: int = 4
    base: float = 0.5
    cap: float = 8.0
    max_total_sleep: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base < 0 or self.cap < 0 or self.max_total_sleep < 0:
            raise InvalidSpec(f"invalid retry policy {self}")

    def backoff(self, retry: int, rand: Callable[[], float] = random.random) -> float:
        full = min(self.cap, self.base * 2.0 ** (retry - 1))
        return full / 2 + rand() * full / 2


class _PlainHTTPRefused(Exception):
    """Raised by the request hook for an http:// URL when ``insecure`` is off."""


class _TooLarge(Exception):
    """An answer over ``MAX_BODY`` bytes."""


class _Retryable(Exception):
    """One attempt failed in a way worth retrying; ``__cause__`` is the httpx error."""


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def parse_next_link(values: Iterable[str]) -> str | None:
    """The target of the ``rel="next"`` link among ``Link`` header values, or None."""
    for value in values:
        for match in _LINK_RE.finditer(value):
            for rel in _REL_NEXT_RE.findall(match.group(2)):
                if "next" in rel.lower().split():
                    return match.group(1).strip()
    return None


def _ssl_chain(exc: BaseException) -> ssl.SSLError | None:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, ssl.SSLError):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    return url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80)


def _tls_context(options: RegistryOptions) -> ssl.SSLContext:
    return _cached_tls_context(
        options.insecure,
        options.ca_pem,
        options.client_cert_pem,
        options.client_key_pem,
        options.scratch,
    )


@functools.lru_cache(maxsize=64)
def _cached_tls_context(
    insecure: bool,
    ca_pem: bytes | None,
    cert_pem: bytes | None,
    key_pem: bytes | None,
    scratch: Path | None,
) -> ssl.SSLContext:
    """One SSLContext per distinct TLS setting, shared by the clients of a process.

    Loading the system CA store takes tens of milliseconds, more than listing thousands of
    tags; a context is safe to share between clients and threads. An insecure context loads no
    CAs at all. (A changed system CA store is picked up when the worker restarts.)
    """
    if insecure:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context()  # system CAs
    if ca_pem is not None:
        try:
            ctx.load_verify_locations(cadata=ca_pem.decode("ascii"))
        except (ssl.SSLError, UnicodeDecodeError, ValueError):
            raise InvalidSpec("certSecretRef: ca.crt is not a valid PEM certificate") from None
    if (cert_pem is None) != (key_pem is None):
        raise InvalidSpec("certSecretRef: tls.crt and tls.key must be given together")
    if cert_pem is not None and key_pem is not None:
        # ssl loads a certificate chain from files only: write both to a private temp dir.
        with tempfile.TemporaryDirectory(prefix="conveyor-tls-", dir=scratch) as tmp:
            cert, key = Path(tmp, "tls.crt"), Path(tmp, "tls.key")
            for path, data in ((cert, cert_pem), (key, key_pem)):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
            try:
                ctx.load_cert_chain(cert, key)
            except (ssl.SSLError, ValueError):
                raise InvalidSpec(
                    "certSecretRef: tls.crt/tls.key are not a matching PEM certificate and key"
                ) from None
    return ctx


class _SharedPool(httpx.HTTPTransport):
    """The connections of every client of the process that has one TLS setting.

    httpx closes a client's transport with the client; this one outlives its clients (``close``
    and ``__exit__`` leave it open), so the next client, e.g. the next scan of the same registry
    host, reuses the connection the last one kept alive instead of opening a new TCP connection
    and TLS session. httpcore's pool is thread-safe; it drops a connection idle past httpx's
    keep-alive expiry and, before reusing one, a connection the server has closed.
    """

    def close(self) -> None:
        """Nothing: the pool is shared by clients that are still open, and by later ones."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        """Nothing, as :meth:`close`."""


_POOLS_LOCK = threading.Lock()  # one pool per setting, even when two threads start at once


def _shared_pool(tls: ssl.SSLContext) -> _SharedPool:
    with _POOLS_LOCK:
        return _cached_pool(tls)


@functools.lru_cache(maxsize=64)
def _cached_pool(tls: ssl.SSLContext) -> _SharedPool:
    """One connection pool per TLS context, and so per distinct TLS setting
    (:func:`_cached_tls_context` gives one context a setting).

    A connection carries the TLS session it was opened with (its client certificate, the CAs
    it was verified against): it is only ever reused under the same setting.
    """
    return _SharedPool(verify=tls)


def _forget_pools() -> None:
    """In a forked child: a connection of the parent's pool is the parent's to use."""
    global _POOLS_LOCK
    _POOLS_LOCK = threading.Lock()  # another thread of the parent may have held it
    _cached_pool.cache_clear()


os.register_at_fork(after_in_child=_forget_pools)


def _proxy_mounts(tls: ssl.SSLContext) -> dict[str, httpx.BaseTransport | None]:
    """The environment's proxies as httpx reads them for a client it builds the transport of
    (a client given ``transport=`` reads none): a transport through each proxy, closed with the
    client; None (the shared pool) for the hosts ``NO_PROXY`` exempts. Where proxies come
    from the environment alone (not macOS or Windows, whose system settings urllib also reads),
    an environment without a ``*_proxy`` variable has none: no need to ask urllib each scan."""
    if sys.platform not in ("darwin", "win32") and not any(
        name.lower().endswith("_proxy") for name in os.environ
    ):
        return {}
    return {
        pattern: None if proxy is None else httpx.HTTPTransport(verify=tls, proxy=proxy)
        for pattern, proxy in get_environment_proxies().items()
    }


class RegistryClient:
    """A client for one image repository: one httpx.Client per instance, over the connection
    pool its TLS setting shares with every other client of the process.

    Use as a context manager, or call :meth:`close`. ``requests_made`` counts every HTTP
    request sent (token requests, retries and failed attempts included).
    """

    def __init__(
        self,
        ref: ImageRef,
        options: RegistryOptions,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        throttle: Callable[[str], None] | None = None,
    ) -> None:
        """``throttle(host)`` is called before every request: the shared request budget."""
        if options.page_size is not None and options.page_size < 1:
            raise InvalidSpec(f"page size must be at least 1, got {options.page_size}")
        if options.timeout <= 0:
            raise InvalidSpec(f"timeout must be positive, got {options.timeout}")
        self.ref = ref
        self.options = options
        self.retry = retry or RetryPolicy()
        self.requests_made = 0
        self._sleep = sleep
        self._clock = clock
        self._throttle = throttle
        self._scheme: str | None = (
            _SCHEMES.get(ref.api_host) if options.insecure else "https"
        )
        self._basic: str | None = None  # Authorization value once the registry asked for Basic
        self._token: tuple[str, float] | None = None  # bearer token, expiry on self._clock
        self._bearer: Challenge | None = None  # last Bearer challenge, to renew tokens early
        self._secrets: list[str] = []
        creds = options.credentials
        if creds is not None:
            self._secrets += [creds.password, creds.basic_header().split(" ", 1)[1]]
        tls = _tls_context(options)
        self._client = httpx.Client(
            transport=_shared_pool(tls),
            mounts=_proxy_mounts(tls),
            timeout=options.timeout,
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT},
            event_hooks={"request": [self._check_scheme]},
        )

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    # -- public API ----------------------------------------------------------------------------
    def list_tags(self) -> list[str]:
        """Every tag of the repository, following ``Link: <…>; rel="next"`` to the end."""
        what = "list tags"
        first = f"/v2/{self.ref.repository}/tags/list"
        if self.options.page_size is not None:
            first += f"?n={self.options.page_size}"
        target: str | httpx.URL = first
        tags: list[str] = []
        seen_tags: set[str] = set()
        seen_pages: set[str] = set()
        for _ in range(MAX_PAGES):
            resp = self._fetch("GET", target, what, accept="application/json")
            self._check_status(resp, what, not_found="ImageRepositoryNotFound")
            for tag in self._tags_of(resp, what):
                if tag not in seen_tags:
                    seen_tags.add(tag)
                    tags.append(tag)
            link = parse_next_link(resp.headers.get_list("link"))
            if not link:
                return tags
            try:
                target = resp.url.join(link)
            except httpx.InvalidURL as exc:
                self._fail(TransientError, f"{what}: invalid Link header", cause=exc)
            if str(target) in seen_pages:
                self._fail(TransientError, f"{what}: the registry's Link pagination loops")
            seen_pages.add(str(target))
        self._fail(TransientError, f"{what}: more than {MAX_PAGES} pages")

    def head_digest(self, tag: str) -> str:
        """The digest of ``tag``'s manifest (image index or image manifest, OCI or Docker)."""
        if not TAG_RE.fullmatch(tag):
            raise InvalidSpec(f"{self.ref.canonical}: {tag!r} is not a valid tag")
        what = f"get digest of tag {tag!r}"
        path = f"/v2/{self.ref.repository}/manifests/{tag}"
        resp = self._fetch("HEAD", path, what, accept=MANIFEST_ACCEPT)
        self._check_status(resp, what, not_found="ManifestNotFound")
        digest: str | None = resp.headers.get("Docker-Content-Digest")
        if digest is None:  # some registries only send it on GET: hash the manifest ourselves
            resp = self._fetch("GET", path, what, accept=MANIFEST_ACCEPT)
            self._check_status(resp, what, not_found="ManifestNotFound")
            digest = resp.headers.get("Docker-Content-Digest") or (
                "sha256:" + hashlib.sha256(resp.content).hexdigest()
            )
        digest = digest.strip()
        if not _DIGEST_RE.fullmatch(digest):
            self._fail(TransientError, f"{what}: invalid Docker-Content-Digest {digest[:80]!r}")
        return digest

    def get_manifest(self, reference: str, *, limit: int) -> Manifest:
        """The manifest of a tag or a digest (an image index or an image manifest, OCI or
        Docker), at most ``limit`` bytes, its bytes checked against its digest: the one asked
        for, else the registry's ``Docker-Content-Digest`` (sha256 of the bytes when none)."""
        by_digest = _DIGEST_RE.fullmatch(reference) is not None
        if not by_digest and not TAG_RE.fullmatch(reference):
            raise InvalidSpec(f"{self.ref.canonical}: {reference!r} is not a tag or a digest")
        what = f"get manifest {reference[:80]!r}"
        path = f"/v2/{self.ref.repository}/manifests/{reference}"
        resp = self._fetch("GET", path, what, accept=MANIFEST_ACCEPT, limit=limit)
        self._check_status(resp, what, not_found="ManifestNotFound")
        digest = reference if by_digest else resp.headers.get("Docker-Content-Digest", "").strip()
        if not digest:
            digest = "sha256:" + hashlib.sha256(resp.content).hexdigest()
        self._verify(resp.content, digest, what)
        media_type = resp.headers.get("Content-Type", "").split(";", 1)[0].strip()
        return Manifest(digest, media_type[:200], resp.content)

    def get_blob(self, digest: str, *, limit: int) -> bytes:
        """The blob ``digest`` (an image's config), at most ``limit`` bytes, checked against
        its digest."""
        if not _DIGEST_RE.fullmatch(digest):
            raise InvalidSpec(f"{self.ref.canonical}: {digest[:80]!r} is not a digest")
        what = f"get blob {digest[:80]}"
        path = f"/v2/{self.ref.repository}/blobs/{digest}"
        resp = self._fetch("GET", path, what, accept="*/*", limit=limit)
        self._check_status(resp, what, not_found="BlobNotFound")
        self._verify(resp.content, digest, what)
        return resp.content

    def get_referrers(self, digest: str, *, artifact_type: str, limit: int) -> bytes | None:
        """The OCI 1.1 referrers index of the manifest ``digest`` (``GET /v2/<name>/referrers/
        <digest>?artifactType=…``; a registry may ignore the filter), at most ``limit`` bytes;
        None when the registry has no referrers API (404: read the referrers tag instead)."""
        if not _DIGEST_RE.fullmatch(digest):
            raise InvalidSpec(f"{self.ref.canonical}: {digest[:80]!r} is not a digest")
        what = f"list referrers of {digest[:80]}"
        query = urllib.parse.urlencode({"artifactType": artifact_type})
        path = f"/v2/{self.ref.repository}/referrers/{digest}?{query}"
        accept = "application/vnd.oci.image.index.v1+json"
        resp = self._fetch("GET", path, what, accept=accept, limit=limit)
        if resp.status_code == 404:
            return None
        self._check_status(resp, what, not_found="ManifestNotFound")
        return resp.content

    def _verify(self, content: bytes, digest: str, what: str) -> None:
        algorithm, _, hexa = digest.partition(":")
        hasher = _HASHES.get(algorithm)
        if hasher is None:
            self._fail(
                PermanentError,
                f"{what}: unsupported digest algorithm {algorithm[:20]!r}",
                reason=DIGEST_MISMATCH,
            )
        if hasher(content).hexdigest() != hexa:
            self._fail(
                PermanentError,
                f"{what}: registry {self.ref.registry} sent bytes that do not match "
                f"{digest[:80]} for {self.ref.canonical}",
                reason=DIGEST_MISMATCH,
            )

    # -- auth ------------------------------------------------------------------------------------
    def _fetch(
        self, method: str, target: str | httpx.URL, what: str, *, accept: str, limit: int = MAX_BODY
    ) -> httpx.Response:
        """Send with auth and retries; answer 401 challenges; return the final response (its
        body at most ``limit`` bytes)."""
        fresh_token = False
        for _ in range(3):
            headers = {"Accept": accept}
            authorization = self._authorization(target, what)
            if authorization:
                headers["Authorization"] = authorization
            resp = self._send_retrying(method, target, headers, what, limit)
            if resp.status_code != 401:
                return resp
            challenges = parse_www_authenticate(resp.headers.get("WWW-Authenticate", ""))
            bearer = next((c for c in challenges if c.scheme == "bearer" and c.realm), None)
            basic = next((c for c in challenges if c.scheme == "basic"), None)
            if bearer is not None:
                if fresh_token:
                    self._denied(what)
                self._bearer = bearer
                self._token = None
                self._get_token(bearer, what)
                fresh_token = True
            elif basic is not None:
                creds = self.options.credentials
                if creds is None:
                    self._auth_failed(
                        f"{what}: registry {self.ref.registry} requires credentials for "
                        f"{self.ref.canonical} and none are configured (spec.secretRef)"
                    )
                if self._basic is not None:
                    self._auth_failed(
                        f"{what}: registry {self.ref.registry} rejected the credentials of "
                        f"user {creds.username!r} for {self.ref.canonical}"
                    )
                self._basic = creds.basic_header()
            else:
                self._auth_failed(
                    f"{what}: registry {self.ref.registry} answered 401 for "
                    f"{self.ref.canonical} without a Basic or Bearer challenge"
                )
        self._denied(what)

    def _authorization(self, target: str | httpx.URL, what: str) -> str | None:
        if isinstance(target, httpx.URL) and _origin(target) != _origin(
            self._api_url(self._scheme or target.scheme, "/")
        ):
            return None  # never send credentials or tokens to another origin
        if self._basic is not None:
            return self._basic
        if self._token is not None and self._clock() < self._token[1]:
            return "Bearer " + self._token[0]
        if self._bearer is not None:  # expired: renew before asking, saves a 401 round trip
            self._token = None
            return "Bearer " + self._get_token(self._bearer, what)
        return None

    def _get_token(self, challenge: Challenge, what: str) -> str:
        realm = challenge.realm or ""
        scopes = [f"repository:{self.ref.repository}:pull"]
        for scope in (challenge.scope or "").split():
            if scope not in scopes:
                scopes.append(scope)
        params: list[tuple[str, str]] = []
        if challenge.service:
            params.append(("service", challenge.service))
        params += [("scope", s) for s in scopes]
        try:
            url = httpx.URL(realm, params=params)
        except httpx.InvalidURL as exc:
            self._fail(
                PermanentError,
                f"{what}: invalid token realm {realm[:200]!r}",
                reason="AuthenticationFailed",
                cause=exc,
            )
        if url.scheme not in ("http", "https"):
            self._fail(
                PermanentError,
                f"{what}: invalid token realm {realm[:200]!r}",
                reason="AuthenticationFailed",
            )
        creds = self.options.credentials
        headers = {"Accept": "application/json"}
        if creds is not None:
            headers["Authorization"] = creds.basic_header()
        resp = self._send_retrying("GET", url, headers, f"{what} (token from {url.host})")
        if resp.status_code in (401, 403):
            if creds is None:
                self._auth_failed(
                    f"{what}: token service {url.host} of registry {self.ref.registry} refused "
                    f"anonymous access to {self.ref.canonical}; credentials are required "
                    "(spec.secretRef)"
                )
            self._auth_failed(
                f"{what}: token service {url.host} of registry {self.ref.registry} rejected "
                f"the credentials of user {creds.username!r} for {self.ref.canonical}"
            )
        if resp.status_code != 200:
            self._fail(
                TransientError if resp.status_code >= 500 else PermanentError,
                f"{what}: token service {url.host} answered HTTP {resp.status_code}"
                f"{self._detail(resp)}",
                reason=None if resp.status_code >= 500 else "AuthenticationFailed",
            )
        try:
            body: Any = resp.json()
        except ValueError:
            body = None
        token = None
        if isinstance(body, dict):
            token = body.get("token") or body.get("access_token")
        if not isinstance(token, str) or not token:
            self._fail(TransientError, f"{what}: token service {url.host} sent no token")
        self._secrets.append(token)
        ttl = body.get("expires_in")
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0:
            ttl = DEFAULT_TOKEN_TTL
        margin = min(10.0, ttl * 0.1)  # renew a little before the server drops it
        self._token = (token, self._clock() + float(ttl) - margin)
        return token

    def _denied(self, what: str) -> NoReturn:
        creds = self.options.credentials
        who = f"user {creds.username!r}" if creds is not None else "anonymous access"
        self._auth_failed(
            f"{what}: registry {self.ref.registry} denied {who} to {self.ref.canonical}: "
            "the repository is private or does not exist, or the credentials lack pull access"
        )

    def _auth_failed(self, message: str) -> NoReturn:
        self._fail(PermanentError, message, reason="AuthenticationFailed")

    # -- transport -------------------------------------------------------------------------------
    def _check_scheme(self, request: httpx.Request) -> None:
        if request.url.scheme != "https" and not self.options.insecure:
            raise _PlainHTTPRefused(str(request.url.copy_with(query=None)))

    def _send_retrying(
        self,
        method: str,
        target: str | httpx.URL,
        headers: dict[str, str],
        what: str,
        limit: int = MAX_BODY,
    ) -> httpx.Response:
        policy = self.retry
        slept = 0.0
        last = ""
        cause: BaseException | None = None
        run = current_run()
        cut = False  # the run's deadline came before the next attempt could
        for attempt in range(1, policy.attempts + 1):
            try:
                resp = self._send(method, target, headers, what, limit)
            except _Retryable as exc:
                cause = exc.__cause__
                last = str(exc)
                delay = policy.backoff(attempt)
            else:
                if resp.status_code == 429:
                    after = parse_retry_after(resp.headers.get("Retry-After"))
                    last = "HTTP 429 Too Many Requests"
                    if after is not None and slept + after > policy.max_total_sleep:
                        self._fail(
                            TransientError,
                            f"{what}: rate limited by registry {self.ref.registry} for "
                            f"{self.ref.canonical}; it asks to retry after {after:.0f}s",
                            reason="RateLimited",
                        )
                    delay = policy.backoff(attempt) if after is None else after
                elif resp.status_code >= 500:
                    last = f"HTTP {resp.status_code}{self._detail(resp)}"
                    delay = policy.backoff(attempt)
                else:
                    return resp
            if attempt == policy.attempts or slept + delay > policy.max_total_sleep:
                break
            if run is not None and delay >= run.remaining():
                cut = True
                break
            log.info(
                "registry %s: %s for %s failed (%s); retry %d/%d in %.2fs",
                self.ref.registry,
                what,
                self.ref.canonical,
                self._redact(last),
                attempt,
                policy.attempts - 1,
                delay,
            )
            self._sleep(delay)
            slept += delay
        cut = cut or (run is not None and run.remaining() <= 0)
        why = f" ({spent(run)})" if cut and run is not None else ""
        self._fail(
            TransientError,
            f"{what}: registry {self.ref.registry} failed for {self.ref.canonical} after "
            f"{attempt} attempt(s){why}: {last}",
            reason="RateLimited" if last.startswith("HTTP 429") else None,
            cause=cause,
        )

    def _send(
        self,
        method: str,
        target: str | httpx.URL,
        headers: dict[str, str],
        what: str,
        limit: int = MAX_BODY,
    ) -> httpx.Response:
        """One attempt; on an insecure registry the first one picks https or http."""
        if isinstance(target, httpx.URL):
            return self._send_url(method, target, headers, what, limit)
        if self._scheme is not None:
            try:
                url = self._api_url(self._scheme, target)
                return self._send_url(method, url, headers, what, limit)
            except _Retryable:
                _SCHEMES.pop(self.ref.api_host, None)  # the next client finds out again
                raise
        try:
            resp = self._send_url(method, self._api_url("https", target), headers, what, limit)
        except _Retryable as https_error:
            log.info(
                "registry %s: https failed (%s); insecure: trying plain http",
                self.ref.registry,
                https_error,
            )
            resp = self._send_url(method, self._api_url("http", target), headers, what, limit)
            if self._tls_port(resp, method, target, headers, what, limit):
                raise https_error  # the registry speaks https: retry that, keep no scheme
            self._scheme = "http"
        else:
            self._scheme = "https"
        if self.options.insecure:
            _SCHEMES[self.ref.api_host] = self._scheme
        return resp

    def _tls_port(
        self,
        resp: httpx.Response,
        method: str,
        target: str,
        headers: dict[str, str],
        what: str,
        limit: int,
    ) -> bool:
        """Whether ``resp``, the answer of plain http, is a server refusing it on its TLS port:
        400, and one of ``_HTTP_TO_HTTPS`` in the first bytes of the body (read whole, at most
        ``limit`` bytes). A HEAD's answer has no body: its 400 is asked again with GET."""
        if resp.status_code != 400:
            return False
        if method == "HEAD":
            url = self._api_url("http", target)
            resp = self._send_url("GET", url, headers, what, limit)
        head = resp.content[:_REFUSAL_BYTES]
        return resp.status_code == 400 and any(text in head for text in _HTTP_TO_HTTPS)

    def _api_url(self, scheme: str, path: str) -> httpx.URL:
        return httpx.URL(f"{scheme}://{self.ref.api_host}{path}")

    def _send_url(
        self,
        method: str,
        url: httpx.URL,
        headers: dict[str, str],
        what: str,
        limit: int = MAX_BODY,
    ) -> httpx.Response:
        if self._throttle is not None:
            self._throttle(url.host)
        timeout = waiting(f"{what}: {method} {url.copy_with(query=None)}", self.options.timeout)
        self.requests_made += 1
        answered = "error"  # no answer
        try:
            resp = self._request(method, url, headers, timeout, limit)
            answered = str(resp.status_code)
            return resp
        except _TooLarge:
            bounded = limit < MAX_BODY  # a manifest or a blob: that object is refused
            self._fail(
                PermanentError if bounded else TransientError,
                f"{what}: registry {self.ref.registry} sent an answer over {limit} bytes "
                f"for {self.ref.canonical}",
                reason=TOO_LARGE if bounded else None,
            )
        except _PlainHTTPRefused as exc:
            self._fail(
                PermanentError,
                f"{what}: refusing plain HTTP to {exc} for {self.ref.canonical}; "
                "set spec.insecure to allow it",
                reason="PlainHTTPNotAllowed",
            )
        except httpx.UnsupportedProtocol as exc:
            self._fail(
                PermanentError, f"{what}: unsupported URL {url.scheme}://{url.host}", cause=exc
            )
        except httpx.TransportError as exc:
            ssl_error = _ssl_chain(exc)
            if ssl_error is not None and self._scheme is not None:
                self._tls_failed(ssl_error, url, what, exc)
            raise _Retryable(f"{type(exc).__name__}: {exc or 'no detail'}") from exc
        except httpx.HTTPError as exc:  # e.g. TooManyRedirects, DecodingError
            raise _Retryable(f"{type(exc).__name__}: {exc or 'no detail'}") from exc
        finally:
            host = f"{url.host}:{url.port}" if url.port else url.host  # never the userinfo
            metrics.count("conveyor_registry_requests_total", host=host, status=answered)

    def _request(
        self,
        method: str,
        url: httpx.URL,
        headers: dict[str, str],
        timeout: float,
        limit: int = MAX_BODY,
    ) -> httpx.Response:
        """One request, its answer read whole (decoded, at most ``limit`` bytes) within
        ``timeout`` seconds, give or take one read: a server that trickles it is cut off."""
        started = time.monotonic()
        with self._client.stream(method, url, headers=headers, timeout=timeout) as resp:
            declared = resp.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit and resp.status_code < 300:
                raise _TooLarge  # said so before sending it
            body = bytearray()
            for chunk in resp.iter_bytes():
                body += chunk
                if len(body) > limit:
                    raise _TooLarge
                if time.monotonic() - started > timeout:
                    raise httpx.ReadTimeout(
                        f"the answer took over {timeout:g}s", request=resp.request
                    )
        kept = [(k, v) for k, v in resp.headers.multi_items() if k.lower() not in _BODY_HEADERS]
        return httpx.Response(
            resp.status_code, headers=kept, content=bytes(body), request=resp.request
        )

    def _tls_failed(
        self, error: ssl.SSLError, url: httpx.URL, what: str, exc: BaseException
    ) -> None:
        host = f"{url.host}:{url.port}" if url.port else url.host
        if isinstance(error, ssl.SSLCertVerificationError):
            detail = error.verify_message or error.reason or "verification failed"
            self._fail(
                PermanentError,
                f"{what}: TLS certificate of {host} is not trusted ({detail}) for "
                f"{self.ref.canonical}: give its CA in certSecretRef (ca.crt), or set "
                "spec.insecure to skip verification",
                reason="CertificateVerificationFailed",
                cause=exc,
            )
        if isinstance(error, ssl.SSLEOFError | ssl.SSLZeroReturnError):
            return  # the connection dropped mid-handshake: transient
        self._fail(
            PermanentError,
            f"{what}: TLS handshake with {host} failed ({error.reason or error}) for "
            f"{self.ref.canonical}; a plain-HTTP registry needs spec.insecure",
            reason="TLSHandshakeFailed",
            cause=exc,
        )

    # -- responses -------------------------------------------------------------------------------
    def _check_status(self, resp: httpx.Response, what: str, *, not_found: str) -> None:
        status = resp.status_code
        if 200 <= status < 300:
            return
        detail = self._detail(resp)
        if status == 404:
            self._fail(
                PermanentError,
                f"{what}: {self.ref.canonical} not found on registry {self.ref.registry}{detail}",
                reason=not_found,
            )
        if status == 403:
            self._denied(what)
        if 400 <= status < 500:
            self._fail(
                PermanentError,
                f"{what}: registry {self.ref.registry} answered HTTP "
                f"{status} for {self.ref.canonical}{detail}",
            )
        self._fail(
            TransientError,
            f"{what}: registry {self.ref.registry} answered HTTP "
            f"{status} for {self.ref.canonical}{detail}",
        )

    def _tags_of(self, resp: httpx.Response, what: str) -> list[str]:
        try:
            body: Any = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("tags") or [], list):
            self._fail(
                TransientError,
                f"{what}: registry {self.ref.registry} sent an invalid "
                f"tag list for {self.ref.canonical}",
            )
        tags = body.get("tags") or []
        valid = [t for t in tags if isinstance(t, str) and TAG_RE.fullmatch(t)]
        if len(valid) != len(tags):
            log.warning(
                "%s: %d tags of %s are outside the OCI tag grammar: ignored",
                what,
                len(tags) - len(valid),
                self.ref.canonical,
            )
        return valid

    @staticmethod
    def _detail(resp: httpx.Response) -> str:
        """``: CODE message`` from a Distribution error body, if there is one."""
        try:
            errors = resp.json().get("errors")
            first = errors[0]
            text = f"{first.get('code', '')} {first.get('message', '')}".strip()
        except (ValueError, AttributeError, TypeError, IndexError, KeyError, httpx.HTTPError):
            return ""
        return f": {text[:200]}" if text else ""

    # -- errors ----------------------------------------------------------------------------------
    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    def _fail(
        self,
        cls: type[PermanentError] | type[TransientError],
        message: str,
        *,
        reason: str | None = None,
        cause: BaseException | None = None,
    ) -> NoReturn:
        raise cls(self._redact(message), reason=reason) from cause


def list_tags(image: str, options: RegistryOptions) -> list[str]:
    """Every tag of ``image`` (a Flux ``spec.image``), with one short-lived client."""
    with RegistryClient(parse_image(image), options) as client:
        return client.list_tags()


__all__ = [
    "DIGEST_MISMATCH",
    "MANIFEST_ACCEPT",
    "TOO_LARGE",
    "Manifest",
    "RegistryClient",
    "RegistryOptions",
    "RetryPolicy",
    "list_tags",
    "parse_next_link",
    "parse_retry_after",
]
