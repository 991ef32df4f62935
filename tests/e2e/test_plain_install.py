"""A plain install (``pip install .`` into a fresh virtualenv, no extras, not editable) runs every
command: the wheel installs ``conveyor`` alone, each ``conveyor worker SERVICE`` comes up against
a real redis-server (the five Celery stages say ``ready.``, the receiver answers /healthz), and
``conveyor run`` serves. The processes run outside the repository with no PYTHONPATH, so only
what the wheel installed can be imported."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from conveyor.services.demo.scenario import Demo
from conveyor.shared.kinds import SERVICES, STAGE_SERVICES
from tests.fixtures.registries import free_port

ROOT = Path(__file__).resolve().parents[2]

# pip builds the wheel and installs its dependencies (from PyPI, through pip's cache): the
# install alone may take minutes, more than the suite's default timeout.
INSTALL_TIMEOUT = 600.0
pytestmark = pytest.mark.timeout(INSTALL_TIMEOUT + 300)

READY_TIMEOUT = 60.0
STAY_ALIVE = 3.0

# What the build must not see: caches, earlier builds (a stale build/lib would be packed into
# the wheel) and the checkout's own egg-info.
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
    ".venv",
    ".demo",
    "*.rdb",
)


@dataclass(frozen=True)
class Install:
    """A virtualenv holding conveyor as a plain ``pip install`` leaves it."""

    venv: Path
    site_packages: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def conveyor(self) -> Path:
        return self.venv / "bin" / "conveyor"


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without anything that could lend the venv the repository's modules
    or another Python (PYTHONPATH, a virtualenv), Redis or cluster settings."""
    env = dict(os.environ)
    for name in (
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "PYTHONUSERBASE",
        "VIRTUAL_ENV",
        "REDIS_URL",
        "CONVEYOR_DATA",
        "KUBECONFIG",
        "KUBERNETES_SERVICE_HOST",
    ):
        env.pop(name, None)
    env["PYTHONNOUSERSITE"] = "1"
    env["CONVEYOR_LOG_LEVEL"] = "INFO"  # Celery says "ready." at INFO
    env.update(extra)
    return env


def run(
    argv: list[str | Path], cwd: Path, timeout: float, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def outcome(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Install:
    """``pip install`` of (a copy of) the repository into a fresh virtualenv: no extras, not
    editable, so what lands is the built wheel and its declared dependencies only. The copy
    keeps the build out of the checkout (pip builds in the source tree)."""
    base = tmp_path_factory.mktemp("plain-install")
    source = base / "source"
    shutil.copytree(ROOT, source, symlinks=True, ignore=NOT_SOURCE)
    venv = base / "venv"
    made = run([sys.executable, "-m", "venv", venv], cwd=base, timeout=120)
    assert made.returncode == 0, outcome(made)
    python = venv / "bin" / "python"
    pip = run(
        [python, "-m", "pip", "install", source],
        cwd=base,
        timeout=INSTALL_TIMEOUT,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    assert pip.returncode == 0, outcome(pip)
    where = run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        cwd=base,
        timeout=60,
    )
    assert where.returncode == 0, outcome(where)
    return Install(venv=venv, site_packages=Path(where.stdout.strip()))


def test_the_wheel_installs_conveyor_alone(installed: Install, tmp_path: Path) -> None:
    """site-packages gets a real ``conveyor`` package (its ``shared`` and ``services`` as
    folders inside it) and no top-level ``shared`` or ``services``; nothing points back at the
    checkout; the installed ``conveyor`` imports from there and ``conveyor --help`` runs."""
    site = installed.site_packages
    package = site / "conveyor"
    assert (package / "__init__.py").is_file(), sorted(p.name for p in site.iterdir())
    for folder in ("shared", "services"):
        assert not (site / folder).exists(), f"the wheel installed a top-level {folder!r}"
        inside = package / folder
        assert inside.is_dir() and not inside.is_symlink(), inside
        assert (inside / "__init__.py").is_file(), inside
    assert (package / "services" / "cli.py").is_file()
    links = [p for p in site.iterdir() if p.suffix == ".pth" and str(ROOT) in p.read_text()]
    assert not links, f"an editable install: {links}"

    imported = run(
        [installed.python, "-c", "import conveyor.services.cli as m; print(m.__file__)"],
        cwd=tmp_path,
        timeout=60,
    )
    assert imported.returncode == 0, outcome(imported)
    assert Path(imported.stdout.strip()).resolve() == (package / "services" / "cli.py").resolve()

    helped = run([installed.conveyor, "--help"], cwd=tmp_path, timeout=60)
    assert helped.returncode == 0, outcome(helped)
    assert "worker" in helped.stdout and "run" in helped.stdout, outcome(helped)


class Started:
    """A ``conveyor`` process from the venv, its stdout and stderr in one log file."""

    def __init__(self, name: str, argv: list[str], cwd: Path) -> None:
        self.name = name
        self.log = cwd / f"{name}.log"
        self._out = self.log.open("wb")
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=clean_env(), stdout=self._out, stderr=subprocess.STDOUT
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def report(self) -> str:
        state = "running" if self.alive() else f"exited {self.proc.returncode}"
        return f"=== {self.name} ({state})\n{self.output()}"

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._out.close()


@contextlib.contextmanager
def started() -> Iterator[dict[str, Started]]:
    """Processes started into the yielded dict are all stopped on exit."""
    procs: dict[str, Started] = {}
    try:
        yield procs
    finally:
        for proc in procs.values():
            proc.stop()


def healthz(port: int) -> int | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code
    except httpx.HTTPError:
        return None


def wait_until_up(
    procs: dict[str, Started], celery: list[str], http: dict[str, int], timeout: float
) -> None:
    """Until every name in ``celery`` logged celery's ``ready.`` and every port in ``http``
    answers /healthz 200; fails at once if one of them exits, with everyone's output."""
    waiting_celery = set(celery)
    waiting_http = dict(http)
    deadline = time.monotonic() + timeout
    while waiting_celery or waiting_http:
        dead = [p for p in procs.values() if not p.alive()]
        assert not dead, "\n".join(p.report() for p in procs.values())
        waiting_celery = {n for n in waiting_celery if " ready." not in procs[n].output()}
        waiting_http = {n: port for n, port in waiting_http.items() if healthz(port) != 200}
        if not (waiting_celery or waiting_http):
            break
        assert time.monotonic() < deadline, (
            f"not up within {timeout:.0f} s: {sorted(waiting_celery | set(waiting_http))}\n"
            + "\n".join(p.report() for p in procs.values())
        )
        time.sleep(0.5)


def stay_alive(procs: dict[str, Started], http: dict[str, int]) -> None:
    time.sleep(STAY_ALIVE)
    report = "\n".join(p.report() for p in procs.values())
    assert all(p.alive() for p in procs.values()), report
    for name, port in http.items():
        assert healthz(port) == 200, f"{name} stopped answering /healthz\n{report}"


def test_every_worker_runs_from_a_plain_install(
    installed: Install, redis_url: str, tmp_path: Path
) -> None:
    """Each of the six ``conveyor worker SERVICE`` commands of the plain install starts against
    a real redis-server and keeps running: the five Celery stages log ``ready.`` (their Redis
    transport imports), the receiver answers /healthz."""
    assert set(SERVICES) == {*STAGE_SERVICES, "receiver"} and len(STAGE_SERVICES) == 5
    ports = {"receiver": free_port()}
    with started() as procs:
        for service in SERVICES:
            argv = [str(installed.conveyor), "worker", service, "--redis", redis_url]
            argv += ["--data", str(tmp_path / "data" / service)]
            if service in ports:
                argv += ["--listen", f"127.0.0.1:{ports[service]}"]
            procs[service] = Started(service, argv, tmp_path)
        wait_until_up(procs, list(STAGE_SERVICES), ports, READY_TIMEOUT)
        stay_alive(procs, ports)


def test_run_serves_from_a_plain_install(
    installed: Install, demo: Demo, redis_url: str, tmp_path: Path
) -> None:
    """``conveyor run`` (no --once) of the plain install, on the demo's manifests and a real
    redis-server, starts its Celery worker, answers /healthz and keeps running."""
    port = free_port()
    argv = [str(installed.conveyor), "run", "--manifests", str(demo.manifests)]
    argv += ["--redis", redis_url, "--data", str(tmp_path / "data")]
    argv += ["--listen", f"127.0.0.1:{port}"]
    http = {"run": port}
    with started() as procs:
        procs["run"] = Started("run", argv, tmp_path)
        wait_until_up(procs, ["run"], http, READY_TIMEOUT)
        stay_alive(procs, http)
