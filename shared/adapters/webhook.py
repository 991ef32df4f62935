"""HTTP out for notifications (Alerts' Providers): the one module of the notifier that imports
httpx. Each request is retried as notification-controller's client (hashicorp's
go-retryablehttp) retries it; every httpx exception is translated here::

    TransientError
      DeliveryFailed        the endpoint answered an error status (``status``), or could not
                            be reached, within the retries and the time given
    PermanentError
      InvalidEndpoint       a URL, a proxy or a certificate that cannot be used

Retries: a connection error or timeout, 429, and 5xx but 501, at most ``RETRY_MAX`` times
after the first try, waiting 2 s, 4 s, 8 s, … (at most 30 s; a 429's or 503's
``Retry-After`` in seconds instead), never past the deadline the caller gives (the Provider's
timeout, as Flux bounds a delivery by it). A TLS certificate that is not trusted is not
retried. An answer's body is read up to ``MAX_BODY`` bytes.

Messages name the endpoint by scheme and host only: a webhook's path and query often hold its
secret (Slack's, Discord's, Teams' URLs), and a URL's ``user:password@`` is never shown.

TLS as Flux's ``TLSConfigFromSecret`` builds it: a CA given (``ca.crt``) is the only one
trusted (not the system's); without one, the system's; a client certificate when given.

httpx is imported by the first client made: a process that sends no notification never
carries it.
"""

from __future__ import annotations

import functools
import ssl
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor.shared.errors import PermanentError, TransientError

if TYPE_CHECKING:
    import httpx

RETRY_MAX = 4  # retries after the first try (go-retryablehttp's RetryMax in Flux's client)
WAIT_MIN, WAIT_MAX = 2.0, 30.0  # its RetryWaitMin, RetryWaitMax
MAX_BODY = 1024 * 1024
MAX_SHOWN = 200  # characters of an error answer's body in a message


class DeliveryFailed(TransientError):
    reason = "NotificationDispatchFailed"

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class InvalidEndpoint(PermanentError):
    reason = "InvalidURL"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> object:
        import json

        return json.loads(self.body)


@dataclass(frozen=True)
class Transport:
    """How to reach an endpoint: its CA and client certificate (PEM), a proxy URL."""

    ca_pem: bytes | None = None
    cert_pem: bytes | None = field(default=None, repr=False)
    key_pem: bytes | None = field(default=None, repr=False)
    proxy: str | None = field(default=None, repr=False)
    scratch: Path | None = None  # where a client certificate is written for ssl to load


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, without credentials, path or query: how a message
    names an endpoint."""
    try:
        parsed = urllib.parse.urlsplit(url)
        host, port = parsed.hostname, parsed.port
    except ValueError:
        return "an invalid URL"
    if not host:
        return "an invalid URL"
    if ":" in host:
        host = f"[{host}]"
    return f"{parsed.scheme}://{host}{f':{port}' if port else ''}"


@functools.lru_cache(maxsize=64)
def _tls(
    ca_pem: bytes | None, cert_pem: bytes | None, key_pem: bytes | None, scratch: Path | None
) -> ssl.SSLContext:
    if ca_pem is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # only the given CA, as Flux's pool
        try:
            ctx.load_verify_locations(cadata=ca_pem.decode("ascii"))
        except (ssl.SSLError, UnicodeDecodeError, ValueError):
            raise InvalidEndpoint("ca.crt is not a valid PEM certificate") from None
    else:
        ctx = ssl.create_default_context()
    if (cert_pem is None) != (key_pem is None):
        raise InvalidEndpoint("tls.crt and tls.key must be given together")
    if cert_pem is not None and key_pem is not None:
        with tempfile.TemporaryDirectory(prefix="conveyor-tls-", dir=scratch) as tmp:
            cert, key = Path(tmp, "tls.crt"), Path(tmp, "tls.key")
            cert.write_bytes(cert_pem)
            key.touch(mode=0o600)
            key.write_bytes(key_pem)
            try:
                ctx.load_cert_chain(cert, key)
            except (ssl.SSLError, ValueError):
                raise InvalidEndpoint("tls.crt and tls.key are not a valid key pair") from None
    return ctx


def _wait(attempt: int, answer: Answer | None) -> float:
    """go-retryablehttp's DefaultBackoff: Retry-After (seconds) on 429 and 503, else
    ``WAIT_MIN * 2**attempt`` up to ``WAIT_MAX``."""
    if answer is not None and answer.status in (429, 503):
        after = answer.headers.get("retry-after", "")
        if after.isdigit():
            return float(after)
    return float(min(WAIT_MIN * 2**attempt, WAIT_MAX))


def _untrusted(exc: BaseException) -> str | None:
    """Why a certificate was not trusted, if that is what ``exc`` (or what it wraps) says."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ssl.SSLCertVerificationError):
            return cause.verify_message or cause.reason or "verification failed"
        if "CERTIFICATE_VERIFY_FAILED" in str(cause):
            return "certificate verify failed"
        cause = cause.__cause__ or cause.__context__
    return None


def _retryable(status: int) -> bool:
    return status == 429 or (status >= 500 and status != 501)


class WebClient:
    """Requests to one endpoint's host, over ``transport``. Thread-safe; close it after use."""

    def __init__(self, transport: Transport) -> None:
        import httpx  # here: only a process that sends loads it

        verify = _tls(transport.ca_pem, transport.cert_pem, transport.key_pem, transport.scratch)
        proxy = transport.proxy or None
        if proxy is not None and not proxy.startswith(("http://", "https://", "socks5://")):
            raise InvalidEndpoint("the proxy must be an http://, https:// or socks5:// URL")
        try:
            self._client = httpx.Client(verify=verify, proxy=proxy, follow_redirects=False)
        except (httpx.InvalidURL, ValueError):
            raise InvalidEndpoint("the proxy URL is not valid") from None
        except ImportError:  # httpx's socks5 support is an extra (socksio)
            raise InvalidEndpoint("a socks5 proxy needs the socksio package") from None

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> WebClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        deadline: float,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> Answer:
        """``method url`` with the retries of the module docstring, until ``deadline`` (a
        ``time.monotonic()``); an answer of any status once it is no longer retried (the
        caller judges it)."""
        import httpx

        where = f"{method} {origin(url)}"
        try:
            request = self._client.build_request(method, url, headers=headers, content=body)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError, TypeError):
            raise InvalidEndpoint(f"{where}: not a valid http(s) URL") from None
        if request.url.scheme not in ("http", "https") or not request.url.host:
            raise InvalidEndpoint(f"{where}: not a valid http(s) URL")
        attempt = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DeliveryFailed(f"{where}: timed out")
            answer: Answer | None = None
            try:
                answer = self._send(request, left)
            except httpx.HTTPError as exc:
                failure = f"{where}: {type(exc).__name__}"
                untrusted = _untrusted(exc)
                if untrusted is not None:  # not tried again
                    raise DeliveryFailed(
                        f"{where}: TLS certificate not trusted ({untrusted})"
                    ) from None
            else:
                if not _retryable(answer.status):
                    return answer
                failure = f"{where}: answered {answer.status}"
            status = answer.status if answer is not None else None
            if attempt >= RETRY_MAX:
                raise DeliveryFailed(f"{failure} (after {attempt + 1} tries)", status)
            wait = _wait(attempt, answer)
            if time.monotonic() + wait >= deadline:
                raise DeliveryFailed(f"{failure} (no time left to try again)", status)
            time.sleep(wait)
            attempt += 1

    def _send(self, request: httpx.Request, left: float) -> Answer:
        """One try, its answer read whole (at most MAX_BODY bytes) within ``left`` seconds."""
        import httpx

        request.extensions["timeout"] = httpx.Timeout(left).as_dict()
        response = self._client.send(request, stream=True)
        try:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_BODY:
                    break
                chunks.append(chunk)
        finally:
            response.close()
        headers = {k.lower(): v for k, v in response.headers.items()}
        return Answer(response.status_code, headers, b"".join(chunks))


def shown(body: bytes) -> str:
    """An error answer's body as a message shows it: one line, cut."""
    text = body.decode("utf-8", errors="replace").replace("\n", " ").strip()
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"
