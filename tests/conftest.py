"""The fixtures every test may ask for (real parts on loopback, started by tests/fixtures/), and
the helpers tests share: push tags, read a remote, commit as a developer, run the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from conveyor.services.demo.oci import push_tags
from conveyor.services.demo.scenario import IMAGE_REPOSITORY, Demo, create
from tests.fixtures.controlplane import ControlPlane
from tests.fixtures.redis import loopback_redis
from tests.fixtures.registries import Registry


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free loopback port for the whole session."""
    with loopback_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The session's Redis, emptied for this test."""
    redis.Redis.from_url(redis_server).flushall()
    return redis_server


@pytest.fixture(scope="session")
def registry() -> Iterator[Registry]:
    with Registry() as reg:
        yield reg


@pytest.fixture
def demo(tmp_path: Path, registry: Registry, request: pytest.FixtureRequest) -> Demo:
    """The seed scenario: a bare repo and the walkthrough's manifests, on this test's registry
    repository (each test gets its own repository name, so tags never leak between tests)."""
    repo = f"{IMAGE_REPOSITORY}-{zlib.crc32(request.node.nodeid.encode()):08x}"
    d = create(tmp_path / "demo", registry.host, repository=repo)
    return d


def push(registry: Registry, demo: Demo, tags: list[str]) -> None:
    push_tags(registry.url, demo.image.split("/", 1)[1], tags)


def git_out(remote: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(remote), *args], check=True, capture_output=True, text=True
    ).stdout


def conveyor(
    *args: str, data: Path, redis_url: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONVEYOR_DATA": str(data)}
    for name in ("REDIS_URL", "KUBECONFIG", "KUBERNETES_SERVICE_HOST"):
        env.pop(name, None)  # no cluster unless a test asks for one
    if redis_url:
        env["REDIS_URL"] = redis_url
    return subprocess.run(
        ["conveyor", *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    """etcd + kube-apiserver (RBAC on, no kubelet) for the whole session."""
    with ControlPlane() as cp:
        yield cp


def commit_files(
    remote: Path,
    files: dict[str, str | None],
    message: str,
    links: dict[str, str] | None = None,
) -> str:
    """Commit to ``remote``'s master as a developer would: write (or, for None, delete)
    ``files`` and make ``links`` symbolic links to their targets (paths relative to the
    repository), commit, push. Returns the new commit."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run(["git", "clone", "-q", str(remote), str(work)], check=True)
        for rel, target in (links or {}).items():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(target, work / rel)
        for rel, text in files.items():
            if text is None:
                (work / rel).unlink()
            else:
                (work / rel).parent.mkdir(parents=True, exist_ok=True)
                (work / rel).write_text(text)
        subprocess.run(["git", "-C", str(work), "add", "-A"], check=True)
        subprocess.run(
            [
                "git",
                "-C",
                str(work),
                "-c",
                "user.name=dev",
                "-c",
                "user.email=dev@example.com",
                "commit",
                "-qm",
                message,
            ],
            check=True,
        )
        subprocess.run(["git", "-C", str(work), "push", "-q", "origin", "master"], check=True)
    return git_out(remote, "rev-parse", "master").strip()


def run_once_json(
    demo: Demo, data: Path, redis_url: str | None = None
) -> tuple[int, list[dict[str, Any]]]:
    """``conveyor run --once --output json`` on the demo: exit code and the printed objects."""
    run = conveyor(
        "run",
        "--manifests",
        str(demo.manifests),
        "--once",
        "--output",
        "json",
        data=data,
        redis_url=redis_url,
    )
    assert "Traceback" not in run.stderr, run.stderr
    return run.returncode, json.loads(run.stdout)
