"""Registry scanner tests, and the one helper they share: a scripted loopback HTTP server.

Most tests here run against the real Distribution registry (``tests/registry_fixture.py``).
:class:`LoopbackServer` is a *test double* for what that registry cannot be made to do (answer
500 then 200, 429 with Retry-After, paginate with ``Link``, challenge with ``Bearer`` before a
token server written for the test); each test that uses it says so.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit


@dataclass
class Seen:
    """One request the server received."""

    method: str
    path: str  # without the query
    query: dict[str, list[str]]
    headers: dict[str, str] = field(default_factory=dict)  # keys in lower case
    body: bytes = b""


Reply = tuple[int, dict[str, str], bytes]
Handler = Callable[[Seen], Reply]


class LoopbackServer:
    """``ThreadingHTTPServer`` on 127.0.0.1:<free port>; ``handler(seen) -> (status, headers,
    body)`` answers every request, and ``requests`` records them in order. With ``tls`` (a
    server ``SSLContext``) it serves HTTPS."""

    def __init__(self, handler: Handler, tls: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                with outer._lock:
                    outer.requests.append(seen)
                status, headers, body = outer.handler(seen)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.host = f"127.0.0.1:{self._server.server_address[1]}"
        self.url = f"{'https' if tls else 'http'}://{self.host}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def paths(self, prefix: str = "") -> list[str]:
        with self._lock:
            return [r.path for r in self.requests if r.path.startswith(prefix)]

    def __enter__(self) -> LoopbackServer:
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
