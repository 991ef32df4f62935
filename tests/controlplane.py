"""A real Kubernetes control plane for tests: etcd + kube-apiserver, no kubelet.

This is the envtest pattern: the two binaries are built from source by
``tools/envtest/build.sh`` (pinned in ``tools/envtest/*/go.mod``) and started
here on free loopback ports with throw-away certificates. There is no
controller-manager and no scheduler, so:

* objects are stored and served (CRUD, server-side apply, RBAC, admission,
  validation, watch) exactly as in a real cluster;
* nothing reconciles them: Deployments never get Pods, Pods never run,
  namespaces being deleted stay ``Terminating`` (no namespace controller),
  ServiceAccount tokens are not created (the ServiceAccount admission plugin
  is disabled for that reason).

Usage::

    with ControlPlane() as cp:
        subprocess.run(["kubectl", "--kubeconfig", str(cp.kubeconfig), ...])

or from a shell: ``python -m tests.controlplane`` prints an ``export
KUBECONFIG=...`` line and keeps the control plane up until Ctrl-C.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Self

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from services.demo.registry import free_port
from services.demo.tls import TestCA

__all__ = [
    "BinariesNotFoundError",
    "ControlPlane",
    "ControlPlaneError",
    "default_binary_dir",
    "kubernetes_version",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
ENVTEST_DIR = REPO_ROOT / "tools" / "envtest"
BUILD_SCRIPT = "tools/envtest/build.sh"
ENV_BINARY_DIR = "CONVEYOR_ENVTEST_DIR"

SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"

_STDERR_TAIL_LINES = 40


class ControlPlaneError(RuntimeError):
    """The control plane could not be started (or died)."""


class BinariesNotFoundError(ControlPlaneError):
    """kube-apiserver / etcd have not been built yet."""


# --------------------------------------------------------------------------- #
# Locating the binaries
# --------------------------------------------------------------------------- #


def _required_version(go_mod: Path, module: str) -> str:
    """The version of ``module`` required by ``go_mod`` (a go.mod file)."""
    for raw in go_mod.read_text().splitlines():
        fields = raw.split("//", 1)[0].split()
        if fields[:1] == ["require"]:
            fields = fields[1:]
        if len(fields) == 2 and fields[0] == module and fields[1].startswith("v"):
            return fields[1]
    raise ControlPlaneError(f"{go_mod}: no requirement on {module}")


def kubernetes_version() -> str:
    """The pinned Kubernetes version, e.g. ``v1.34.12``."""
    return _required_version(ENVTEST_DIR / "kube-apiserver" / "go.mod", "k8s.io/kubernetes")


def default_binary_dir() -> Path:
    """Where ``tools/envtest/build.sh`` puts the binaries (same rule as the script)."""
    override = os.environ.get(ENV_BINARY_DIR)
    if override:
        return Path(override)
    return Path.home() / ".cache" / "conveyor" / "envtest" / kubernetes_version()


def _find_binaries(binary_dir: Path) -> tuple[Path, Path]:
    apiserver = binary_dir / "kube-apiserver"
    etcd = binary_dir / "etcd"
    missing = [p for p in (apiserver, etcd) if not (p.is_file() and os.access(p, os.X_OK))]
    if missing:
        names = ", ".join(str(p) for p in missing)
        raise BinariesNotFoundError(
            f"control plane binaries not found: {names}. "
            f"Build them with `{BUILD_SCRIPT}` (it builds into {binary_dir}; "
            f"set {ENV_BINARY_DIR} to use another directory)."
        )
    return apiserver, etcd


# --------------------------------------------------------------------------- #
# Certificates
# --------------------------------------------------------------------------- #


def _write_private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)


# --------------------------------------------------------------------------- #
# Processes
# --------------------------------------------------------------------------- #


_Starter = Callable[[], None]
_Probe = Callable[[], tuple[bool, str]]  # -> (ready, detail for error messages)


class _PortInUse(Exception):
    """A child failed to bind its (pre-picked) port: retry with new ports."""


def _load_libc() -> Any:
    if sys.platform != "linux":
        return None
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _load_libc()
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """preexec_fn: SIGKILL the child when the Python process dies (Linux only).

    Keeps a crashed or killed test run from leaving an apiserver behind. Only a
    prctl(2) call runs in the forked child (libc is loaded in the parent).
    Note: the signal fires when the *thread* that started the child exits, so
    start the control plane from a long-lived thread (e.g. the main thread).
    """
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def _tail(path: Path, lines: int = _STDERR_TAIL_LINES) -> str:
    try:
        data = path.read_bytes()[-32768:]
    except OSError:
        return "<no output>"
    text = data.decode("utf-8", "replace").splitlines()[-lines:]
    return "\n".join(text) if text else "<no output>"


class _Process:
    def __init__(self, name: str, args: Sequence[str], log: Path) -> None:
        self.name = name
        self.log = log
        with open(log, "wb") as out:
            self.popen = subprocess.Popen(
                list(args),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C goes to us; we stop children in order
                preexec_fn=_die_with_parent,
            )

    def exited(self) -> int | None:
        return self.popen.poll()

    def tail(self) -> str:
        return _tail(self.log)

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


# --------------------------------------------------------------------------- #
# The control plane
# --------------------------------------------------------------------------- #


class ControlPlane:
    """etcd + kube-apiserver on loopback, with an admin kubeconfig.

    Attributes available after :meth:`start` (or inside ``with``):

    * ``kubeconfig`` - admin kubeconfig (user ``admin`` in ``system:masters``),
      self-contained (certificates embedded);
    * ``server`` - the apiserver URL, ``https://127.0.0.1:<port>``;
    * ``ca_file``, ``client_cert_file``, ``client_key_file`` - the same
      credentials as files, for HTTP clients that want them;
    * ``workdir`` - the temporary directory (certificates, etcd data, logs).
    """

    kubeconfig: Path
    server: str
    ca_file: Path
    client_cert_file: Path
    client_key_file: Path
    workdir: Path

    def __init__(
        self,
        *,
        binary_dir: Path | None = None,
        startup_timeout: float = 60.0,
        extra_apiserver_args: Sequence[str] = (),
        attempts: int = 3,
    ) -> None:
        self.binary_dir = binary_dir if binary_dir is not None else default_binary_dir()
        self.startup_timeout = startup_timeout
        self.extra_apiserver_args = list(extra_apiserver_args)
        self.attempts = max(1, attempts)
        self._etcd: _Process | None = None
        self._apiserver: _Process | None = None
        self._tmp: str | None = None

    # -- context manager ---------------------------------------------------- #

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

    # -- lifecycle ---------------------------------------------------------- #

    def start(self) -> None:
        if self._tmp is not None:
            raise ControlPlaneError("control plane already started")
        apiserver_bin, etcd_bin = _find_binaries(self.binary_dir)
        self._tmp = tempfile.mkdtemp(prefix="conveyor-controlplane-")
        self.workdir = Path(self._tmp)
        try:
            self._write_credentials()
            deadline = time.monotonic() + self.startup_timeout
            self._start_with_retries("etcd", lambda: self._start_etcd(etcd_bin, deadline))
            self._start_with_retries(
                "kube-apiserver", lambda: self._start_apiserver(apiserver_bin, deadline)
            )
            self._write_kubeconfig()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for proc in (self._apiserver, self._etcd):
            if proc is not None:
                proc.stop()
        self._apiserver = self._etcd = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def check_alive(self) -> None:
        """Raise :class:`ControlPlaneError` if etcd or the apiserver has exited."""
        for proc in (self._etcd, self._apiserver):
            if proc is not None and (code := proc.exited()) is not None:
                raise ControlPlaneError(
                    f"{proc.name} exited with code {code}; last output:\n{proc.tail()}"
                )

    # -- internals ---------------------------------------------------------- #

    def _start_with_retries(self, name: str, start: _Starter) -> None:
        # Free ports are picked by binding to port 0 and closing; another
        # process can grab one before our child binds it. Retry that case.
        for attempt in range(1, self.attempts + 1):
            try:
                start()
                return
            except _PortInUse:
                if attempt == self.attempts:
                    raise ControlPlaneError(
                        f"{name}: address already in use after {attempt} attempts"
                    ) from None

    def _write_credentials(self) -> None:
        d = self.workdir / "pki"
        d.mkdir()
        ca = TestCA("conveyor-test-ca")
        self.ca_file = d / "ca.crt"
        self.ca_file.write_bytes(ca.cert_pem)

        cert, key = ca.issue(
            "kube-apiserver",
            dns_names=[
                "localhost",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ],
            ips=["127.0.0.1", "::1", "10.0.0.1"],
        )
        self._serving_key, self._serving_cert = d / "apiserver.key", d / "apiserver.crt"
        _write_private(self._serving_key, key)
        self._serving_cert.write_bytes(cert)

        cert, key = ca.issue("admin", (), (), client=True, organization="system:masters")
        self.client_key_file, self.client_cert_file = d / "admin.key", d / "admin.crt"
        _write_private(self.client_key_file, key)
        self.client_cert_file.write_bytes(cert)

        sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._sa_key, self._sa_pub = d / "sa.key", d / "sa.pub"
        _write_private(
            self._sa_key,
            sa_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        self._sa_pub.write_bytes(
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def _start_etcd(self, etcd_bin: Path, deadline: float) -> None:
        client_port, peer_port = free_port(), free_port()
        client_url = f"http://127.0.0.1:{client_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        data_dir = self.workdir / "etcd"
        shutil.rmtree(data_dir, ignore_errors=True)
        proc = _Process(
            "etcd",
            [
                str(etcd_bin),
                "--name=conveyor",
                f"--data-dir={data_dir}",
                f"--listen-client-urls={client_url}",
                f"--advertise-client-urls={client_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=conveyor={peer_url}",
                "--initial-cluster-state=new",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
            self.workdir / "etcd.log",
        )
        self._etcd = proc
        self.etcd_url = client_url
        self._wait(proc, deadline, lambda: _etcd_healthy(client_url))

    def _start_apiserver(self, apiserver_bin: Path, deadline: float) -> None:
        port = free_port()
        proc = _Process(
            "kube-apiserver",
            [
                str(apiserver_bin),
                "--advertise-address=127.0.0.1",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
                f"--cert-dir={self.workdir / 'apiserver-certs'}",
                f"--tls-cert-file={self._serving_cert}",
                f"--tls-private-key-file={self._serving_key}",
                f"--client-ca-file={self.ca_file}",
                "--authorization-mode=RBAC",
                f"--etcd-servers={self.etcd_url}",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-account-key-file={self._sa_pub}",
                f"--service-account-signing-key-file={self._sa_key}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                # No controller-manager mints ServiceAccount tokens, so the
                # ServiceAccount admission plugin would reject every Pod.
                "--disable-admission-plugins=ServiceAccount",
                "--allow-privileged=true",
                "--profiling=false",
                *self.extra_apiserver_args,
            ],
            self.workdir / "kube-apiserver.log",
        )
        self._apiserver = proc
        self.server = f"https://127.0.0.1:{port}"
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        ctx.load_cert_chain(str(self.client_cert_file), str(self.client_key_file))
        self._wait(proc, deadline, lambda: _apiserver_ready(self.server, ctx))

    def _wait(self, proc: _Process, deadline: float, ready: _Probe) -> None:
        last = ""
        while True:
            code = proc.exited()
            if code is not None:
                tail = proc.tail()
                if "address already in use" in tail:
                    raise _PortInUse(proc.name)
                raise ControlPlaneError(
                    f"{proc.name} exited with code {code} during startup; "
                    f"last output ({proc.log}):\n{tail}"
                )
            ok, last = ready()
            if ok:
                return
            if time.monotonic() > deadline:
                raise ControlPlaneError(
                    f"{proc.name} not ready after {self.startup_timeout:.0f}s "
                    f"(last probe: {last}); last output:\n{proc.tail()}"
                )
            time.sleep(0.2)

    def _write_kubeconfig(self) -> None:
        def b64(p: Path) -> str:
            return base64.b64encode(p.read_bytes()).decode("ascii")

        # JSON is valid YAML; keep the config self-contained so it can be
        # copied around and still work.
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "conveyor-test",
                    "cluster": {
                        "server": self.server,
                        "certificate-authority-data": b64(self.ca_file),
                    },
                }
            ],
            "users": [
                {
                    "name": "admin",
                    "user": {
                        "client-certificate-data": b64(self.client_cert_file),
                        "client-key-data": b64(self.client_key_file),
                    },
                }
            ],
            "contexts": [
                {
                    "name": "conveyor-test",
                    "context": {
                        "cluster": "conveyor-test",
                        "user": "admin",
                        "namespace": "default",
                    },
                }
            ],
            "current-context": "conveyor-test",
            "preferences": {},
        }
        self.kubeconfig = self.workdir / "kubeconfig"
        self.kubeconfig.write_text(json.dumps(config, indent=2) + "\n")
        self.kubeconfig.chmod(0o600)


def _etcd_healthy(url: str) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
            body = resp.read().decode("utf-8", "replace")
    except (OSError, urllib.error.URLError) as e:
        return False, str(e)
    try:
        healthy = json.loads(body).get("health") == "true"
    except ValueError:
        healthy = False
    return healthy, body.strip()


def _apiserver_ready(server: str, ctx: ssl.SSLContext) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(f"{server}/readyz", timeout=2, context=ctx) as resp:
            body = resp.read().decode("utf-8", "replace")
            return resp.status == 200, body.strip()
    except urllib.error.HTTPError as e:
        detail = e.read().decode("utf-8", "replace").strip()
        return False, f"HTTP {e.code}: {detail[-2000:]}"
    except (OSError, urllib.error.URLError) as e:
        return False, str(e)


# --------------------------------------------------------------------------- #
# python -m tests.controlplane
# --------------------------------------------------------------------------- #


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m tests.controlplane",
        description="Run a throw-away kube-apiserver + etcd until Ctrl-C.",
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="startup timeout (s)")
    args = parser.parse_args(argv)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # Explicit SIGINT too: a shell's background job inherits SIGINT ignored.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        with ControlPlane(startup_timeout=args.timeout) as cp:
            print(f"kube-apiserver {kubernetes_version()} at {cp.server}")
            print(f"kubeconfig: {cp.kubeconfig}")
            print(f"export KUBECONFIG={cp.kubeconfig}", flush=True)
            try:
                while True:
                    cp.check_alive()
                    time.sleep(1)
            except KeyboardInterrupt:
                print("stopping", file=sys.stderr)
    except ControlPlaneError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
