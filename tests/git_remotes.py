"""Real Git remotes on loopback for the Git adapter's tests.

- ``SmartHTTPRemote``: the real ``git http-backend`` (CGI) behind a small threaded stdlib HTTP
  server with HTTP Basic auth, gzip'd and chunked request bodies passed through.
- ``SSHRemote``: the real ``/usr/sbin/sshd`` on a free loopback port with a generated host key
  and a generated client key pair.
- ``init_bare``/``git_out``: make and read bare repositories on disk.

Plain classes and functions (no pytest here): the tests wrap them in fixtures.
"""

from __future__ import annotations

import base64
import contextlib
import getpass
import hmac
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

from services.demo.registry import free_port

AUTHOR = ("Seed", "seed@example.invalid")


def _wait_for_port(port: int, proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _git_env() -> dict[str, str]:
    """An environment for test-side git commands, independent of the user's config."""
    name, email = AUTHOR
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL="/dev/null",
        GIT_AUTHOR_NAME=name,
        GIT_AUTHOR_EMAIL=email,
        GIT_COMMITTER_NAME=name,
        GIT_COMMITTER_EMAIL=email,
        GIT_TERMINAL_PROMPT="0",
    )
    return env


def git(*args: str, cwd: Path | None = None) -> str:
    """Run git (test side) and return its stdout; raise with stderr on failure."""
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=_git_env(), capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc.stdout


def git_out(bare: Path, *args: str) -> str:
    """Run git against the bare repository ``bare`` and return stripped stdout."""
    return git("--git-dir", str(bare), *args).strip()


def init_bare(bare: Path, files: Mapping[str, str | bytes], branch: str = "main") -> str:
    """Create the bare repository ``bare`` with one commit of ``files`` on ``branch``.

    Returns the commit's sha. ``HEAD`` of the bare repository points at ``branch``.
    """
    bare.parent.mkdir(parents=True, exist_ok=True)
    git("init", "-q", "--bare", f"--initial-branch={branch}", str(bare))
    with tempfile.TemporaryDirectory(prefix="seed-") as tmp:
        work = Path(tmp)
        git("init", "-q", f"--initial-branch={branch}", cwd=work)
        for name, content in files.items():
            target = work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", "seed", cwd=work)
        git("push", "-q", str(bare), f"HEAD:refs/heads/{branch}", cwd=work)
    return git_out(bare, "rev-parse", f"refs/heads/{branch}")


def advance(bare: Path, branch: str, files: Mapping[str, str]) -> str:
    """Push one more commit of ``files`` onto ``branch`` of ``bare`` (someone else's push)."""
    with tempfile.TemporaryDirectory(prefix="other-") as tmp:
        work = Path(tmp, "w")
        git("clone", "-q", "--branch", branch, str(bare), str(work))
        for name, content in files.items():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_text(content)
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", "someone else", cwd=work)
        git("push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=work)
    return git_out(bare, "rev-parse", f"refs/heads/{branch}")


# --------------------------------------------------------------------------------------------
# Smart HTTP


def http_backend() -> str:
    exec_path = subprocess.run(
        ["git", "--exec-path"], capture_output=True, text=True, check=True
    ).stdout.strip()
    backend = Path(exec_path, "git-http-backend")
    if not backend.exists():
        raise RuntimeError(f"git-http-backend not found in {exec_path}")
    return str(backend)


@dataclass(frozen=True)
class HTTPRequest:
    """What the server saw of one request (for the tests' assertions)."""

    method: str
    path: str
    query: str
    user: str | None
    authorization: str | None
    authorized: bool
    chunked: bool
    content_encoding: str | None
    body_length: int
    status: int


def _read_chunked(rfile: object) -> bytes:
    read = rfile.read  # type: ignore[attr-defined]
    readline = rfile.readline  # type: ignore[attr-defined]
    parts: list[bytes] = []
    while True:
        line = readline(65537)
        if not line:
            raise ValueError("connection closed inside a chunked body")
        size = int(line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while readline(65537) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(parts)
        parts.append(read(size))
        read(2)  # CRLF after the chunk


def _split_cgi(output: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    ends = [(i, len(sep)) for sep in (b"\r\n\r\n", b"\n\n") if (i := output.find(sep)) >= 0]
    if not ends:
        raise ValueError("CGI output without a header block")
    at, size = min(ends)
    head, body = output[:at], output[at + size :]
    status, headers = 200, []
    for raw in head.decode("latin-1").splitlines():
        if not raw.strip():
            continue
        name, _, value = raw.partition(":")
        if name.strip().lower() == "status":
            status = int(value.strip().split()[0])
        else:
            headers.append((name.strip(), value.strip()))
    return status, headers, body


class SmartHTTPRemote:
    """``git http-backend`` behind a threaded HTTP server on 127.0.0.1 with Basic auth.

    ``root`` holds the bare repositories (``GIT_PROJECT_ROOT``); ``url_for(name)`` is the URL of
    ``root / name``. Pushes are allowed (``http.receivepack``) for the authenticated user.
    """

    def __init__(self, root: Path, username: str, password: str) -> None:
        self.root = root
        self.username, self.password = username, password
        self.requests: list[HTTPRequest] = []
        self.port = 0
        self._backend = http_backend()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def url_for(self, repo_name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{repo_name.lstrip('/')}"

    @property
    def basic(self) -> str:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return f"Basic {token}"

    def _check(self, header: str | None) -> str | None:
        """The user name if ``header`` carries the right Basic credentials, else None."""
        if not header or not header.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        ok = hmac.compare_digest(user.encode(), self.username.encode()) & hmac.compare_digest(
            password.encode(), self.password.encode()
        )
        return user if ok else None

    def _cgi_env(self, handler: BaseHTTPRequestHandler, user: str, body: bytes) -> dict[str, str]:
        split = urlsplit(handler.path)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_CONFIG_COUNT": "2",
            "GIT_CONFIG_KEY_0": "http.receivepack",
            "GIT_CONFIG_VALUE_0": "true",
            "GIT_CONFIG_KEY_1": "safe.directory",
            "GIT_CONFIG_VALUE_1": "*",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": str(self.port),
            "REQUEST_METHOD": handler.command,
            "PATH_INFO": unquote(split.path),
            "QUERY_STRING": split.query,
            "CONTENT_TYPE": handler.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": user,
            "REMOTE_ADDR": handler.client_address[0],
            "AUTH_TYPE": "Basic",
        }
        for header, var in (
            ("Content-Encoding", "HTTP_CONTENT_ENCODING"),
            ("Git-Protocol", "HTTP_GIT_PROTOCOL"),
            ("Accept", "HTTP_ACCEPT"),
        ):
            value = handler.headers.get(header)
            if value is not None:
                env[var] = value
        return env

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        chunked = "chunked" in handler.headers.get("Transfer-Encoding", "").lower()
        if chunked:
            body = _read_chunked(handler.rfile)
        else:
            body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        authorization = handler.headers.get("Authorization")
        user = self._check(authorization)
        split = urlsplit(handler.path)

        def record(status: int) -> None:
            with self._lock:
                self.requests.append(
                    HTTPRequest(
                        method=handler.command,
                        path=unquote(split.path),
                        query=split.query,
                        user=user,
                        authorization=authorization,
                        authorized=user is not None,
                        chunked=chunked,
                        content_encoding=handler.headers.get("Content-Encoding"),
                        body_length=len(body),
                        status=status,
                    )
                )

        if user is None:
            record(401)
            handler.send_response(401)
            handler.send_header("WWW-Authenticate", 'Basic realm="conveyor-test"')
            handler.send_header("Content-Type", "text/plain")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        proc = subprocess.run(
            [self._backend],
            input=body,
            env=self._cgi_env(handler, user, body),
            capture_output=True,
            check=False,
            timeout=60,
        )
        try:
            status, headers, payload = _split_cgi(proc.stdout)
        except ValueError:
            status, headers, payload = 500, [("Content-Type", "text/plain")], proc.stderr
        record(status)
        handler.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def __enter__(self) -> SmartHTTPRemote:
        remote = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, and curl may send chunked bodies

            def do_GET(self) -> None:
                remote._handle(self)

            def do_POST(self) -> None:
                remote._handle(self)

            def log_message(self, format: str, *args: object) -> None:
                pass  # the requests are recorded in remote.requests

        self.root.mkdir(parents=True, exist_ok=True)
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        _wait_for_port(self.port, None, 5)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)


# --------------------------------------------------------------------------------------------
# SSH


def keypair(directory: Path, name: str) -> tuple[bytes, bytes]:
    """Generate an ed25519 key pair in ``directory``; return (private key, public key line)."""
    key = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)],
        check=True,
        capture_output=True,
    )
    return key.read_bytes(), Path(f"{key}.pub").read_bytes()


def _host_entry(port: int, public_key: bytes) -> bytes:
    kind, blob = public_key.split()[:2]
    return b"[127.0.0.1]:%d %s %s\n" % (port, kind, blob)


class SSHRemote:
    """The real ``sshd`` on a free 127.0.0.1 port, running as the current user.

    ``identity`` is a private key the server accepts, ``known_hosts`` names the server's host
    key, ``wrong_known_hosts`` names another key for the same host and port.
    """

    SSHD = "/usr/sbin/sshd"

    def __init__(self) -> None:
        self.user = getpass.getuser()
        self.port = 0
        self.identity = b""
        self.known_hosts = b""
        self.wrong_known_hosts = b""
        self.dir: Path | None = None
        self.log: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def url_for(self, repo_path: Path | str) -> str:
        path = Path(repo_path)
        if not path.is_absolute():
            raise ValueError(f"SSH remotes take absolute paths, not {repo_path}")
        return f"ssh://{self.user}@127.0.0.1:{self.port}{path}"

    def __enter__(self) -> SSHRemote:
        if not Path(self.SSHD).exists():
            raise RuntimeError(f"{self.SSHD} not found: apt-get install -y openssh-server")
        Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
        d = self.dir = Path(tempfile.mkdtemp(prefix="sshd-"))
        _, host_public = keypair(d, "host_key")
        self.identity, client_public = keypair(d, "client_key")
        _, other_public = keypair(d, "other_host_key")
        (d / "authorized_keys").write_bytes(client_public)
        self.port = free_port()
        self.known_hosts = _host_entry(self.port, host_public)
        self.wrong_known_hosts = _host_entry(self.port, other_public)
        config = d / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {d / 'host_key'}",
                    f"PidFile {d / 'sshd.pid'}",
                    f"AuthorizedKeysFile {d / 'authorized_keys'}",
                    "PermitRootLogin prohibit-password",
                    "StrictModes no",
                    "UsePAM no",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PubkeyAuthentication yes",
                    f"AllowUsers {self.user}",
                    "PrintMotd no",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )
        self.log = d / "sshd.log"
        with self.log.open("wb") as log:
            self._proc = subprocess.Popen(
                [self.SSHD, "-D", "-e", "-f", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            _wait_for_port(self.port, self._proc, 10)
        except (OSError, RuntimeError) as exc:
            text = self.log.read_text(errors="replace")
            self.__exit__(None, None, None)
            raise RuntimeError(f"sshd did not start: {exc}\n{text}") from exc
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
            self._proc = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


# --------------------------------------------------------------------------------------------
# A remote that never answers


class SilentRemote:
    """A TCP listener on 127.0.0.1 that accepts connections and never says a word."""

    def __init__(self) -> None:
        self.port = 0
        self._sock: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._thread: threading.Thread | None = None

    def _accept(self, sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            self._conns.append(conn)

    def __enter__(self) -> SilentRemote:
        sock = self._sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        self.port = int(sock.getsockname()[1])
        self._thread = threading.Thread(target=self._accept, args=(sock,), daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            self._sock.close()
        for conn in self._conns:
            conn.close()
        if self._thread is not None:
            self._thread.join(5)


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes whose arguments contain ``text``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args:
            found.append(args)
    return found
