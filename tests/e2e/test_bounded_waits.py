"""Bounded waiting: a registry, a Git remote and a Redis that accept connections and never
answer, and a registry that trickles its answer. ``conveyor run --once`` ends within the
objects' timeouts (plus a margin) with the condition on each object, and on a terminal shows
what it is waiting for. (Before: a silent registry held ``--once`` for 8 minutes, printing
nothing.)

No timing assertions beyond "ends before a generous bound": the timeouts here are 3 to 5 s,
the bound is a minute.
"""

from __future__ import annotations

import json
import os
import pty
import select
import socket
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from conveyor.services.runner import stopped_waiting, watch_runs
from conveyor.shared import deadline
from conveyor.shared.models import (
    GitRepositorySpec,
    ImageRepository,
    ImageRepositorySpec,
    KustomizationSpec,
)
from conveyor.shared.sources import ManifestSource
from conveyor.shared.store import Store
from conveyor.shared.timeouts import git_timeout, kustomization_timeout, scan_timeout
from tests.conftest import conveyor
from tests.fixtures.git_remotes import SilentRemote

BOUND = 60.0  # seconds any --once here may take: the objects' timeouts are 3 to 5 s


def image_repository(name: str, port: int, interval: str, timeout: str | None = None) -> str:
    return (
        "apiVersion: image.toolkit.fluxcd.io/v1beta2\n"
        "kind: ImageRepository\n"
        f"metadata:\n  name: {name}\n  namespace: flux-system\n"
        "spec:\n"
        f"  image: 127.0.0.1:{port}/team/app\n"
        "  insecure: true\n"
        f"  interval: {interval}\n" + (f"  timeout: {timeout}\n" if timeout else "")
    )


def manifests(tmp_path: Path, *docs: str) -> Path:
    folder = tmp_path / "flux"
    folder.mkdir()
    (folder / "flux.yaml").write_text("---\n".join(docs))
    return folder


Conditions = dict[tuple[str, str], dict[str, Any]]


def once_json(folder: Path, data: Path) -> tuple[subprocess.CompletedProcess[str], Conditions]:
    """``conveyor run --once --output json``, which must end within ``BOUND``: the process and
    each object's Ready condition by kind and name."""
    run = conveyor(
        "run", "--once", "--output", "json", "--manifests", str(folder), data=data,
        timeout=BOUND,
    )
    assert "Traceback" not in run.stderr, run.stderr
    ready = {
        (row["kind"], row["name"]): next(
            c for c in row["status"]["conditions"] if c["type"] == "Ready"
        )
        for row in json.loads(run.stdout)
        if "status" in row
    }
    return run, ready


# --- a registry -------------------------------------------------------------------------------


def test_a_registry_that_never_answers_ends_once_with_the_condition(tmp_path: Path) -> None:
    with SilentRemote() as silent:
        folder = manifests(
            tmp_path,
            image_repository("timed", silent.port, "1m", timeout="3s"),
            image_repository("by-interval", silent.port, "4s"),  # no timeout: the interval
        )
        run, ready = once_json(folder, tmp_path / "data")
    assert run.returncode == 1
    for name, timeout in (("timed", "3s"), ("by-interval", "4s")):
        condition = ready[("ImageRepository", name)]
        assert (condition["status"], condition["reason"]) == ("False", "ReadOperationFailed")
        assert condition["message"].startswith("scan failed: list tags: ")
        assert f"timeout of {timeout} is spent" in condition["message"]
        assert f"127.0.0.1:{silent.port}" in condition["message"]
    assert "waiting" not in run.stderr  # not a terminal: quiet


class TricklingRegistry:
    """A fake registry (the real one cannot be made to do this): it answers the tag list with
    its headers at once, then one byte of body every half second, never the end of it. Each
    read is well within any timeout; only a bound on the whole answer ends the request."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)  # the request (or a TLS hello, answered with nonsense)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 1000000\r\n\r\n{"
                )
                while not self._stop.wait(0.5):
                    conn.sendall(b" ")
            except OSError:
                return

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def __enter__(self) -> TricklingRegistry:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()


def test_a_registry_that_trickles_its_answer_is_cut_off_at_the_timeout(tmp_path: Path) -> None:
    with TricklingRegistry() as trickling:
        folder = manifests(tmp_path, image_repository("slow", trickling.port, "1m", "3s"))
        run, ready = once_json(folder, tmp_path / "data")
    assert run.returncode == 1
    condition = ready[("ImageRepository", "slow")]
    assert (condition["status"], condition["reason"]) == ("False", "ReadOperationFailed")
    assert "the answer took over" in condition["message"]
    assert "timeout of 3s is spent" in condition["message"]


# --- a Git remote -------------------------------------------------------------------------------


def test_a_git_remote_that_never_answers_ends_once_with_the_condition(tmp_path: Path) -> None:
    with SilentRemote() as silent:
        url = f"http://127.0.0.1:{silent.port}/team/app.git"
        folder = manifests(
            tmp_path,
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
            "metadata:\n  name: app\n  namespace: flux-system\n"
            f"spec:\n  url: {url}\n  interval: 1m\n  timeout: 5s\n  ref:\n    branch: main\n",
            "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageUpdateAutomation\n"
            "metadata:\n  name: app\n  namespace: flux-system\n"
            "spec:\n  interval: 1m\n"
            "  sourceRef:\n    kind: GitRepository\n    name: app\n"
            "  git:\n    commit:\n      author:\n        email: bot@example.com\n"
            "        name: bot\n"
            "  update:\n    path: ./\n    strategy: Setters\n",
        )
        run, ready = once_json(folder, tmp_path / "data")
    assert run.returncode == 1
    source = ready[("GitRepository", "app")]
    assert (source["status"], source["reason"]) == ("False", "GitOperationFailed")
    # the GitRepository's run is bounded by its timeout as a whole
    assert f"fetch of {url} failed: timed out (the timeout of 5s is spent)" in source["message"]
    automation = ready[("ImageUpdateAutomation", "app")]
    assert (automation["status"], automation["reason"]) == ("False", "GitOperationFailed")
    # each Git operation of an automation by its source's timeout, as Flux's
    assert f"fetch of {url} failed: timed out after 5s" in automation["message"]


# --- Redis ------------------------------------------------------------------------------------


def test_a_redis_that_never_answers_ends_once_with_an_error(tmp_path: Path) -> None:
    with SilentRemote() as silent:
        folder = manifests(tmp_path, image_repository("any", silent.port, "1m"))
        run = conveyor(
            "run", "--once", "--manifests", str(folder), data=tmp_path / "data",
            redis_url=f"redis://127.0.0.1:{silent.port}/0", timeout=BOUND,
        )
    assert run.returncode == 1
    assert "error: Redis did not answer" in run.stderr
    assert "Traceback" not in run.stderr


# --- on a terminal ------------------------------------------------------------------------------


def run_in_pty(argv: list[str], env: dict[str, str], bound: float) -> tuple[int, str]:
    """``argv`` with a terminal as its stdin, stdout and stderr: its exit status and all it
    wrote there; it must end within ``bound`` seconds."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, env=env, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    out = bytearray()
    end = time.monotonic() + bound
    try:
        while True:
            left = end - time.monotonic()
            assert left > 0, f"not ended within {bound} s: {out.decode(errors='replace')[-2000:]}"
            readable, _, _ = select.select([master], [], [], min(left, 1.0))
            if not readable:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every end of the terminal's other side is closed
                break
            if not chunk:
                break
            out += chunk
        return proc.wait(10), out.decode(errors="replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_terminal_shows_what_once_waits_for(tmp_path: Path) -> None:
    env = {**os.environ, "CONVEYOR_DATA": str(tmp_path / "data"), "COLUMNS": "400"}
    for name in ("REDIS_URL", "KUBECONFIG", "KUBERNETES_SERVICE_HOST"):
        env.pop(name, None)
    with SilentRemote() as silent:
        folder = manifests(tmp_path, image_repository("app", silent.port, "1m", "5s"))
        code, shown = run_in_pty(
            ["conveyor", "run", "--once", "--manifests", str(folder)], env, BOUND
        )
    assert code == 1
    # the object, what it waits on and for how long, rewritten in place on one line
    assert (
        f"s of 5s for ImageRepository flux-system/app: list tags: GET "
        f"https://127.0.0.1:{silent.port}/v2/team/app/tags/list"
    ) in shown
    assert "\r\x1b[2Kwaiting " in shown
    # then the line is cleared and the report printed
    assert "\r\x1b[2KImageRepository\tflux-system/app\tReady=False\tReadOperationFailed" in shown


# --- a run past its timeout ---------------------------------------------------------------------


def test_once_stops_waiting_for_a_run_past_its_timeout(redis_url: str, tmp_path: Path) -> None:
    """The last resort of ``--once``: a run still going past its timeout and the grace (here a
    thread that holds its run open, as a call without a bound would) is left behind, and its
    object says so."""
    store = Store.from_url(redis_url)
    folder = manifests(tmp_path, image_repository("stuck", 1, "1m", "1s"))
    assert ManifestSource(folder).refresh(store, force=True) == []
    release = threading.Event()

    def stuck() -> None:
        with deadline.within(1.0, "ImageRepository/flux-system/stuck"):
            deadline.waiting("list tags: GET https://127.0.0.1:1/v2/team/app/tags/list", 60)
            release.wait(BOUND)

    runs = threading.Thread(target=stuck, daemon=True)
    runs.start()
    try:
        late = watch_runs(runs, None, grace=0.5)
        assert runs.is_alive()  # it was not waited for to the end
        assert [r.label for r in late] == ["ImageRepository/flux-system/stuck"]
        stopped_waiting(store, late[0])
    finally:
        release.set()
        runs.join(BOUND)
    status = store.get_status("ImageRepository/flux-system/stuck")
    ready = status.ready
    assert ready is not None
    assert (ready.status, ready.reason) == ("False", "ReadOperationFailed")
    assert ready.message.startswith("list tags: GET https://127.0.0.1:1/v2/team/app/tags/list: ")
    assert "did not finish within the timeout of 1s" in ready.message
    assert "conveyor run --once stopped waiting for it" in ready.message
    obj = store.get_object("ImageRepository/flux-system/stuck", ImageRepository)
    assert obj is not None and status.observed_generation == obj.metadata.generation


# --- Flux's timeouts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("interval", "timeout", "expected"),
    [(60, None, 60), (60, 5, 5), (3600, None, 3600), (0.5, None, 1), (60, 0.2, 1)],
    ids=["interval", "timeout", "hour", "at-least-1s", "timeout-at-least-1s"],
)
def test_an_image_repository_times_out_as_flux(
    interval: float, timeout: float | None, expected: float
) -> None:
    """image-reflector-controller's GetTimeout: spec.timeout, else the interval, at least 1s."""
    spec = ImageRepositorySpec(image="x/y", interval=interval, timeout=timeout)
    assert scan_timeout(spec) == expected


@pytest.mark.parametrize(
    ("interval", "timeout", "expected"),
    [(600, None, 570), (60, None, 30), (10, None, 30), (600, 120, 120), (600, 5, 30)],
    ids=["interval-less-30s", "at-least-30s", "short-interval", "timeout", "timeout-at-least-30s"],
)
def test_a_kustomization_times_out_as_flux(
    interval: float, timeout: float | None, expected: float
) -> None:
    """kustomize-controller's GetTimeout: spec.timeout, else the interval less 30s; at least
    30s either way (its CRD's "defaults to the interval" is not what the code does)."""
    spec = KustomizationSpec.model_validate(
        {"sourceRef": {"kind": "GitRepository", "name": "s"}, "interval": interval,
         "timeout": timeout}
    )
    assert kustomization_timeout(spec) == expected


def test_a_git_repository_times_out_after_60s_unless_told() -> None:
    assert git_timeout(GitRepositorySpec(url="https://h/r.git", interval=60)) == 60
    assert git_timeout(GitRepositorySpec(url="https://h/r.git", interval=60, timeout=5)) == 5
