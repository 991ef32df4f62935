"""A real Distribution registry (Debian ``docker-registry``) on a free loopback port.

Plain Python, used by `conveyor demo`, the tests and the benchmarks::

    with Registry(htpasswd=("alice", "s3cret")) as reg:
        reg.host      # "127.0.0.1:PORT"
        reg.url       # "http://127.0.0.1:PORT"

Serving TLS needs certificates: ``tests.fixtures.registries.TestRegistry`` issues them from a
generated CA (``tls=True``, ``client_certs=True``); this module has no test-only dependency.

The configuration is generated as JSON (a YAML subset the registry reads as YAML), storage is
the filesystem in a private temp dir, and the registry's own log goes to ``registry.log`` in
that dir instead of the terminal.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

REGISTRY_BINARY = os.environ.get("CONVEYOR_REGISTRY_BINARY", "docker-registry")
DISTRIBUTION_V3 = Path.home() / ".cache" / "conveyor" / "registry" / "v3.0.0" / "registry"


def distribution_v3() -> str:
    """The Distribution v3 binary (it paginates tag lists), built by tools/registry/build.sh."""
    if not DISTRIBUTION_V3.exists():
        raise RuntimeError(f"{DISTRIBUTION_V3} not found: run tools/registry/build.sh")
    return str(DISTRIBUTION_V3)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make_htpasswd(username: str, password: str) -> str:
    """One bcrypt htpasswd line, made by ``htpasswd -B`` (password on stdin, not argv)."""
    if shutil.which("htpasswd") is None:
        raise RuntimeError("htpasswd not found: apt-get install -y apache2-utils")
    out = subprocess.run(
        ["htpasswd", "-niB", username],
        input=password + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip() + "\n"


class Registry:
    """Start ``docker-registry serve CONFIG`` on a free loopback port; stop it on exit.

    htpasswd:      ``(user, password)``: Basic auth from a bcrypt htpasswd file.
    tls:           serve HTTPS with the certificates ``issue_certificates`` writes (a subclass's:
                   see ``tests.fixtures.registries.TestRegistry``).
    auth_token:    the ``auth: token:`` section (realm, service, issuer, rootcertbundle), for
                   a registry that checks signed tokens itself (see tests/fixtures/token_server.py).
    notifications: endpoint URLs the registry POSTs its push/pull event envelopes to.
    tmp_root:      where the temp dir goes (default /dev/shm when writable, else $TMPDIR).

    ``CONVEYOR_REGISTRY_BINARY`` picks another registry binary (e.g. Distribution v3, which
    paginates tag lists; Debian's 2.8 ignores ``n=``).
    """

    def __init__(
        self,
        *,
        htpasswd: tuple[str, str] | None = None,
        tls: bool = False,
        client_certs: bool = False,
        auth_token: Mapping[str, Any] | None = None,
        notifications: Sequence[str] = (),
        startup_timeout: float = 15.0,
        tmp_root: str | None = None,
        binary: str = REGISTRY_BINARY,
    ) -> None:
        if htpasswd and auth_token:
            raise ValueError("choose one of htpasswd and auth_token")
        self.binary = binary
        self._htpasswd = htpasswd
        self._tls = tls or client_certs
        self._client_certs = client_certs  # require client certificates issued by ``ca``
        self.client_cert_pem: bytes | None = None
        self.client_key_pem: bytes | None = None
        self._auth_token = dict(auth_token) if auth_token else None
        self._notifications = list(notifications)
        self._startup_timeout = startup_timeout
        # Storage on tmpfs when there is one: manifest PUTs are ~4x faster than on disk.
        if tmp_root is None and os.access("/dev/shm", os.W_OK):
            tmp_root = "/dev/shm"
        self._tmp_root = tmp_root
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None
        self.ca_pem: bytes | None = None
        self.port = 0
        self.host = ""
        self.dir = Path()

    # -- addresses -------------------------------------------------------------------------
    @property
    def scheme(self) -> str:
        return "https" if self._tls else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def log_path(self) -> Path:
        return self.dir / "registry.log"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        if shutil.which(self.binary) is None:
            raise RuntimeError(f"{self.binary} not found: apt-get install -y docker-registry")
        self._tmp = tempfile.TemporaryDirectory(prefix="conveyor-registry-", dir=self._tmp_root)
        self.dir = Path(self._tmp.name)
        if self._tls:
            self.issue_certificates()
        if self._htpasswd:
            (self.dir / "htpasswd").write_text(make_htpasswd(*self._htpasswd))
        last_error = ""
        for _ in range(3):  # the free port may be taken between probing and binding
            self.port = free_port()
            self.host = f"127.0.0.1:{self.port}"
            config = self.dir / "config.yml"
            config.write_text(json.dumps(self._config(), indent=2))
            self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
            env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
            self._proc = subprocess.Popen(
                [self.binary, "serve", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                env=env,
            )
            if self._wait_ready():
                return
            last_error = self.log_text()[-2000:]
            self._terminate()
        self.stop()
        raise RuntimeError(f"docker-registry did not start; its log ends with:\n{last_error}")

    def issue_certificates(self) -> None:
        """Write ``server.crt``/``server.key`` and ``ca.crt`` (and, with client certificates,
        ``client.crt``/``client.key``) to ``self.dir``; set ``ca_pem`` and the client pair."""
        raise RuntimeError("serving TLS needs certificates: use tests.fixtures.registries")

    def stop(self) -> None:
        self._terminate()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _terminate(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            self._proc = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self._startup_timeout
        verify: Any = False
        if self._client_certs:
            verify = ssl.create_default_context(cadata=(self.ca_pem or b"").decode())
            verify.load_cert_chain(self.dir / "client.crt", self.dir / "client.key")
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                return False
            try:
                r = httpx.get(f"{self.url}/v2/", verify=verify, timeout=1.0)
                if r.status_code in (200, 401):
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        return False

    def _config(self) -> dict[str, Any]:
        http: dict[str, Any] = {
            "addr": self.host,
            "secret": os.urandom(16).hex(),
            "headers": {"X-Content-Type-Options": ["nosniff"]},
        }
        if self._tls:
            http["tls"] = {
                "certificate": str(self.dir / "server.crt"),
                "key": str(self.dir / "server.key"),
            }
            if self._client_certs:
                http["tls"]["clientcas"] = [str(self.dir / "ca.crt")]
        config: dict[str, Any] = {
            "version": "0.1",
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.dir / "data")},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": http,
        }
        if self._htpasswd:
            config["auth"] = {
                "htpasswd": {"realm": "conveyor-test", "path": str(self.dir / "htpasswd")}
            }
        elif self._auth_token:
            config["auth"] = {"token": self._auth_token}
        if self._notifications:
            config["notifications"] = {
                "endpoints": [
                    {
                        "name": f"endpoint-{i}",
                        "url": url,
                        "timeout": "2s",
                        "threshold": 5,
                        "backoff": "1s",
                    }
                    for i, url in enumerate(self._notifications)
                ]
            }
        return config
