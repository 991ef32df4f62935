"""`conveyor run` without --once (embedded Redis, every service in one process), and the
idempotency of redelivered events."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path

import httpx

from conveyor.services.demo.scenario import Demo, ci_tags
from conveyor.services.runner import load_stage
from conveyor.shared.bus import InlineDispatcher
from conveyor.shared.events import PolicyChanged
from conveyor.shared.runtime import Context, Settings, handle
from conveyor.shared.store import Store
from tests.conftest import conveyor, git_out, push
from tests.fixtures.redis import loopback_redis
from tests.fixtures.registries import Registry, free_port


def head(demo: Demo) -> str:
    return git_out(demo.remote, "rev-parse", "master").strip()


def embedded_env(data: Path) -> dict[str, str]:
    """The environment of a conveyor on the embedded Redis under ``data``, no cluster."""
    env = {**os.environ, "CONVEYOR_DATA": str(data)}
    env.pop("REDIS_URL", None)
    env.pop("KUBECONFIG", None)
    return env


def start_run(demo: Demo, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """``conveyor run`` on the demo's manifests, its API on ``port``."""
    return subprocess.Popen(
        ["conveyor", "run", "--manifests", str(demo.manifests), "--listen", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_run_keeps_running_on_the_embedded_redis(
    demo: Demo, registry: Registry, tmp_path: Path
) -> None:
    push(registry, demo, ci_tags(3))
    before = head(demo)
    port = free_port()
    env = embedded_env(tmp_path / "data")
    proc = start_run(demo, env, port)
    try:
        deadline = time.monotonic() + 60
        while head(demo) == before:
            assert time.monotonic() < deadline, "no commit within 60 s"
            time.sleep(0.2)
        assert git_out(demo.remote, "log", "-1", "--format=%s").startswith("Automated image")
        objects = httpx.get(f"http://127.0.0.1:{port}/api/v1/objects", timeout=10).json()
        policy = next(o for o in objects if o["kind"] == "ImagePolicy")
        assert policy["status"]["latestRef"]["tag"] == ci_tags(3)[-1]
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        assert 'gotk_reconcile_condition{kind="ImagePolicy"' in metrics
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
    # the state outlives the process: the embedded Redis saved it under the data directory
    assert (tmp_path / "data" / "redis" / "conveyor.rdb").stat().st_size > 0


def test_a_redelivered_event_makes_no_second_commit(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    tags = ci_tags(2)
    push(registry, demo, tags)
    first = conveyor(
        "run",
        "--manifests",
        str(demo.manifests),
        "--once",
        data=tmp_path / "data",
        redis_url=redis_url,
    )
    commits = git_out(demo.remote, "rev-list", "--count", "master").strip()
    assert commits == "2", first.stdout
    message = PolicyChanged(
        namespace="flux-system", name="image-repo-policy", image=demo.image, tag=tags[-1]
    ).to_message()
    dispatcher = InlineDispatcher()
    ctx = Context(
        store=Store.from_url(redis_url),
        dispatcher=dispatcher,
        settings=Settings(data_dir=tmp_path / "data", kubeconfig=None),
    )
    for _ in range(3):  # the same message, delivered three times
        handle(load_stage("git-committer"), message, ctx)
    assert git_out(demo.remote, "rev-list", "--count", "master").strip() == "2"
    assert not dispatcher.queue  # and nothing downstream was woken


def files_below(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())


def test_run_keeps_every_byte_it_writes_under_its_data_directory(
    demo: Demo, registry: Registry, tmp_path: Path
) -> None:
    """``--data D`` reaches every worker of a long-running ``conveyor run``: the embedded
    Redis, the source and automation checkouts, and every temporary file go under D; nothing
    lands in $HOME, $TMPDIR, $CONVEYOR_DATA or the working directory."""
    push(registry, demo, ci_tags(3))
    before = head(demo)
    home, tmp, elsewhere, cwd = (tmp_path / n for n in ("home", "tmp", "elsewhere", "cwd"))
    for folder in (home, tmp, elsewhere, cwd):
        folder.mkdir()
    data = tmp_path / "data"
    env = {
        **os.environ,
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "CONVEYOR_DATA": str(elsewhere),  # --data wins over it, in every worker
    }
    for name in ("REDIS_URL", "KUBECONFIG", "KUBERNETES_SERVICE_HOST", "XDG_CACHE_HOME"):
        env.pop(name, None)
    port = free_port()
    proc = subprocess.Popen(
        ["conveyor", "run", "--manifests", str(demo.manifests), "--data", str(data),
         "--listen", f"127.0.0.1:{port}"],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        fetched = ""
        while not fetched.endswith(head(demo)) or head(demo) == before:
            assert time.monotonic() < deadline, f"the pushed commit was not fetched: {fetched}"
            time.sleep(0.2)
            try:
                objects = httpx.get(f"http://127.0.0.1:{port}/api/v1/objects", timeout=5).json()
            except httpx.HTTPError:
                continue
            source = next(o for o in objects if o["kind"] == "GitRepository")
            fetched = source["status"].get("artifact", {}).get("revision", "")
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
    for folder in (home, tmp, elsewhere, cwd):
        assert files_below(folder) == [], f"{folder.name}: {files_below(folder)}"
    written = files_below(data)
    assert "redis/conveyor.rdb" in written
    assert any(f.startswith("sources/flux-system/") for f in written)
    assert any(f.startswith("automations/flux-system/") for f in written)


def test_a_second_conveyor_on_the_same_data_directory_says_so_and_leaves_the_first_alone(
    demo: Demo, tmp_path: Path
) -> None:
    port = free_port()
    env = embedded_env(tmp_path / "data")
    first = start_run(demo, env, port)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the first conveyor did not serve within 60 s"
            time.sleep(0.2)
        for args in (["run", "--once"], ["run", "--listen", f"127.0.0.1:{free_port()}"]):
            second = subprocess.run(
                ["conveyor", *args, "--manifests", str(demo.manifests)],
                env=env, capture_output=True, text=True, timeout=60, check=False,
            )
            assert second.returncode == 2, second.stderr
            assert f"another conveyor (pid {first.pid}) runs on the data directory" in (
                second.stderr
            )
        # the first one never noticed: its Redis, its socket and its API are as they were
        objects = httpx.get(f"http://127.0.0.1:{port}/api/v1/objects", timeout=10)
        assert objects.status_code == 200 and objects.json()
        assert first.poll() is None
    finally:
        first.terminate()
        assert first.wait(30) == 0
    # and once it is gone the directory is free for the next one
    again = subprocess.run(
        ["conveyor", "run", "--once", "--manifests", str(demo.manifests)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert "another conveyor" not in again.stderr


def _descendants(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    found = [int(c) for c in children.read_text().split()] if children.exists() else []
    return found + [d for c in found for d in _descendants(c)]


def test_a_redis_password_stays_out_of_every_process_argument(
    demo: Demo, registry: Registry, tmp_path: Path
) -> None:
    """``conveyor run`` on a Redis that requires a password (in REDIS_URL): the pipeline works
    and the password is in no argument list of conveyor or of a process it started."""
    password = "pw-" + os.urandom(8).hex()
    push(registry, demo, ci_tags(3))
    before = head(demo)
    with loopback_redis(tmp_path, password=password) as url:
        env = {**embedded_env(tmp_path / "data"), "REDIS_URL": url}
        proc = start_run(demo, env, free_port())
        try:
            deadline = time.monotonic() + 60
            while head(demo) == before:
                assert time.monotonic() < deadline, "no commit within 60 s"
                time.sleep(0.2)
            pids = [proc.pid, *_descendants(proc.pid)]  # conveyor, and what runs under it now
            for pid in pids:
                with contextlib.suppress(FileNotFoundError):
                    argv = Path(f"/proc/{pid}/cmdline").read_bytes()
                    assert password.encode() not in argv, argv.split(b"\0")[:6]
        finally:
            proc.terminate()
            assert proc.wait(30) == 0
