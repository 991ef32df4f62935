"""docker-compose.yml for real: the image built from this tree by the Dockerfile
(tools/image/build.sh: podman, local wheels and kubectl as build arguments), the stack brought up
by ``podman-compose up`` with every service in a container of its own, finding Redis by name on
the compose network, and the seed scenario beside it: its registry as one more service of the
project, its bare Git repository mounted at the path its manifests name. Tags pushed to the
registry land in Git as commits, each woken by the Receiver's webhook on the published port.

The test's compose file adds to docker-compose.yml only what a user brings: the manifests, the
Git remote, a registry, and a Redis image built from Debian's package (Docker Hub's cannot be
pulled here)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from conveyor.services.demo.oci import push_tags
from conveyor.services.demo.scenario import Demo, ci_tags, create
from conveyor.shared.kinds import SERVICES
from tests.conftest import git_out
from tests.e2e.test_seed_pipeline import RECEIVER, assert_tag_commit
from tests.fixtures.registries import free_port

ROOT = Path(__file__).resolve().parents[2]
PODMAN = ROOT / "tools" / "image" / "podman"
PYTHON_IMAGE = "localhost/conveyor-python:3.11-bookworm"  # the Dockerfile's BASE_IMAGE here
SERVICES_IMAGE = "localhost/conveyor-services:bookworm"  # redis-server, docker-registry
RUNTIME_UID = 65532  # the image's user (Dockerfile)
TOKEN = "s3cr3t-webhook-token"  # the Receiver's Secret in RECEIVER

# A cold build.sh (debootstrap, two Debian images, the wheels, the image) takes minutes; .ci/run
# runs it before the tests, so here it only finds its layers cached.
BUILD_TIMEOUT = 1500.0
pytestmark = pytest.mark.timeout(BUILD_TIMEOUT + 600)


def run(argv: list[str], timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False,
        env={**os.environ, **env},
    )


def podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return run([str(PODMAN), *args], timeout=timeout)


@pytest.fixture(scope="module")
def image() -> str:
    """conveyor's image from this tree, with the compose test's Redis and registry image."""
    built = run(["bash", str(ROOT / "tools" / "image" / "build.sh")], timeout=BUILD_TIMEOUT)
    assert built.returncode == 0, built.stderr[-5000:]
    return built.stdout.strip().splitlines()[-1]


@dataclass
class Stack:
    """A podman-compose project of docker-compose.yml and the test's additions."""

    project: str
    image: str  # conveyor's, as docker-compose.yml names it (conveyor:dev)
    files: list[Path]
    env: dict[str, str]
    receiver: str  # the receiver's published address, host:port
    registry: str  # the registry's published address, host:port

    def compose(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        argv = ["podman-compose", "--podman-path", str(PODMAN), "-p", self.project]
        for file in self.files:
            argv += ["-f", str(file)]
        return run([*argv, *args], timeout=timeout, **self.env)

    def containers(self) -> list[dict[str, Any]]:
        done = podman("ps", "-a", "--format", "json",
                      "--filter", f"label=io.podman.compose.project={self.project}")
        assert done.returncode == 0, done.stderr
        found: list[dict[str, Any]] = json.loads(done.stdout or "[]")
        return found

    def container(self, service: str) -> str:
        return f"{self.project}_{service}_1"

    def logs(self) -> str:
        out = []
        for c in self.containers():
            name = c["Names"][0]
            logs = podman("logs", name)
            out.append(f"=== {name} ({c['State']})\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}")
        return "\n".join(out)


def seed_override(demo: Demo, stack: Stack) -> dict[str, Any]:
    """What the test adds to docker-compose.yml: the seed scenario's registry as a service, its
    manifests for the receiver, its Git remote where its manifests say it is (the same path in
    the two containers that read and push it), Debian's redis-server as the Redis image."""
    remote = str(demo.remote)
    registry_port = stack.registry.rsplit(":", 1)[1]
    return {
        "services": {
            "redis": {"image": SERVICES_IMAGE, "user": "redis"},
            "registry": {
                "image": SERVICES_IMAGE,
                "user": "docker-registry",
                "command": ["docker-registry", "serve", "/etc/docker/registry/seed.yml"],
                "ports": [f"127.0.0.1:{registry_port}:5000"],
            },
            "receiver": {"volumes": [f"{demo.manifests}:/manifests:ro"]},
            "source-fetcher": {"volumes": [f"{remote}:{remote}"]},
            "git-committer": {"volumes": [f"{remote}:{remote}"]},
        }
    }


@pytest.fixture
def stack(image: str, tmp_path: Path) -> Iterator[tuple[Stack, Demo]]:
    project = f"conveyor-test-{uuid.uuid4().hex[:8]}"
    receiver, registry = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    # the services reach the registry by its service name, as the manifests name it
    demo = create(tmp_path / "demo", "registry:5000")
    with (demo.manifests / "gitops-demo-app.yaml").open("a") as f:
        f.write(RECEIVER)
    for path in [demo.remote, *demo.remote.rglob("*")]:  # pushed to as the image's user
        os.chown(path, RUNTIME_UID, RUNTIME_UID, follow_symlinks=False)
    kube = tmp_path / "kube"  # no cluster: the applier says so
    kube.mkdir()
    stack = Stack(
        project=project,
        image=image,
        files=[ROOT / "docker-compose.yml", tmp_path / "compose.seed.yml"],
        env={
            "CONVEYOR_PORT": receiver,
            "KUBECONFIG_DIR": str(kube),
            "REDIS_PASSWORD": os.urandom(12).hex(),
        },
        receiver=receiver,
        registry=registry,
    )
    stack.files[1].write_text(yaml.safe_dump(seed_override(demo, stack)))
    try:
        up = stack.compose("up", "-d")
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        yield stack, demo
    finally:
        stack.compose("down", "-v", "-t", "2")
        podman("network", "rm", "-f", f"{project}_default")


def wait_for(what: str, check: Callable[[], bool], stack: Stack, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{stack.logs()}"
        time.sleep(1)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def head(demo: Demo) -> str:
    return git_out(demo.remote, "rev-parse", "master").strip()


def test_compose_stack_commits_a_new_tag(stack: tuple[Stack, Demo]) -> None:
    compose, demo = stack
    # Redis, the registry, and one container per service, each running `conveyor worker NAME`
    containers = compose.containers()
    by_service = {c["Labels"]["com.docker.compose.service"]: c for c in containers}
    assert len(containers) == len(by_service) == len(SERVICES) + 2, compose.logs()
    assert set(by_service) == {"redis", "registry", *SERVICES}
    for name in SERVICES:
        assert by_service[name]["Image"] == compose.image
        assert by_service[name]["Command"][:2] == ["worker", name], by_service[name]["Command"]
    assert len({c["Id"] for c in containers}) == len(containers)
    wait_for("every container running",
             lambda: all(c["State"] == "running" for c in compose.containers()), compose)

    # the compose file's own health check of Redis passes (with the password it is given)
    health = podman("healthcheck", "run", compose.container("redis"))
    assert health.returncode == 0, health.stdout + health.stderr
    # Redis requires its password, which is in no process's arguments in any container
    bare = podman("exec", compose.container("redis"), "sh", "-c", "REDISCLI_AUTH= redis-cli ping")
    assert "NOAUTH" in bare.stdout + bare.stderr, bare.stdout + bare.stderr
    for container in compose.containers():
        argv = podman("exec", container["Names"][0], "sh", "-c", "cat /proc/[0-9]*/cmdline")
        assert compose.env["REDIS_PASSWORD"] not in argv.stdout, container["Names"][0]
    # the services find Redis and each other by name (the dnsname plugin)
    resolved = podman("exec", compose.container("git-committer"), "getent", "hosts", "redis")
    assert resolved.returncode == 0 and resolved.stdout.strip(), resolved.stderr

    wait_for("the registry", lambda: answers(f"http://{compose.registry}/v2/"), compose)
    wait_for("the receiver", lambda: answers(f"http://{compose.receiver}/healthz"), compose)
    repository = demo.image.split("/", 1)[1]
    hook = hashlib.sha256(f"{TOKEN}registry-pushflux-system".encode()).hexdigest()

    def push_and_wake(tags: list[str]) -> None:
        push_tags(f"http://{compose.registry}", repository, tags)
        woken = httpx.post(f"http://{compose.receiver}/hook/{hook}", json={}, timeout=10)
        assert woken.status_code == 200, woken.text

    tags = ci_tags(4)
    before = head(demo)
    push_and_wake(tags[:3])
    wait_for("the first commit", lambda: head(demo) != before, compose, timeout=180)
    first = head(demo)
    assert_tag_commit(demo, first, tags[2])

    # a new tag lands as one more commit on top of the first
    push_and_wake(tags[3:])
    wait_for("the new tag's commit", lambda: head(demo) != first, compose, timeout=180)
    assert_tag_commit(demo, head(demo), tags[3])
    assert git_out(demo.remote, "rev-parse", "master~1").strip() == first

    # the source-fetcher, in its own container, fetched the pushed commit
    def fetched() -> bool:
        objects = httpx.get(f"http://{compose.receiver}/api/v1/objects", timeout=10).json()
        return any(
            o["kind"] == "GitRepository"
            and o["status"].get("artifact", {}).get("revision") == f"master@sha1:{head(demo)}"
            for o in objects
        )

    wait_for("the source-fetcher to fetch the pushed commit", fetched, compose)
    logs = compose.logs()
    assert TOKEN not in logs


def dockerfile_args() -> dict[str, str]:
    text = (ROOT / "Dockerfile").read_text()
    return dict(re.findall(r"^ARG (\w+)=(.*)$", text, flags=re.MULTILINE))


@pytest.mark.parametrize(
    ("arch", "given", "expected"),
    [
        ("amd64", "0" * 64, "0" * 64),  # a checksum given with the file: that one
        ("amd64", "", "KUBECTL_SHA256_AMD64"),  # none given: the published one of the arch
        ("arm64", "", "KUBECTL_SHA256_ARM64"),
        ("s390x", "", None),  # no published checksum: refused
    ],
)
def test_the_build_checks_kubectl_by_checksum(
    image: str, tmp_path: Path, arch: str, given: str, expected: str | None
) -> None:
    """The Dockerfile installs kubectl only if its sha256 is the one given for that file, or
    else the published one of the target architecture; this machine's kubectl is not the
    published v1.34 binary of any architecture, so each build stops at that step."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    kubectl = shutil.which("kubectl")
    assert kubectl is not None
    shutil.copy(Path(kubectl).resolve(), inputs / "kubectl")
    built = podman(
        "build", "--layers", "-f", str(ROOT / "Dockerfile"), "-v", f"{inputs}:/inputs:ro",
        "--build-arg", f"BASE_IMAGE={PYTHON_IMAGE}", "--build-arg", f"TARGETARCH={arch}",
        "--build-arg", "KUBECTL_URL=file:///inputs/kubectl",
        "--build-arg", f"KUBECTL_SHA256={given}", str(ROOT), timeout=600,
    )
    out = built.stdout + built.stderr
    assert built.returncode != 0, out[-3000:]
    assert 'Error: building at STEP "RUN set -eu;' in out, out[-3000:]  # kubectl's step
    if expected is None:
        assert f"kubectl: no published checksum for architecture {arch}" in out, out[-3000:]
        return
    sha256 = dockerfile_args().get(expected, expected)
    assert re.fullmatch(r"[0-9a-f]{64}", sha256), sha256
    assert f"kubectl for {arch} from file:///inputs/kubectl, sha256 {sha256}" in out, out[-3000:]
    assert "/tmp/kubectl: FAILED" in out, out[-3000:]
