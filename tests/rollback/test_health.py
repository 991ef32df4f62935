"""Automatic rollback end to end: a running ``conveyor run`` (each stage a worker process of its
own, the embedded Redis) on the seed scenario, applying to a real kube-apiserver, with the
automation annotated ``conveyor.dev/rollback: health`` and the Kustomization waiting for health
(``wait: true``, ``timeout: 30s``: Flux never waits less than 30 s, nor does conveyor).

There is no kubelet: a Deployment becomes ready only when the test writes the status the
deployment controller would, and it does so for the images it calls healthy (``Controller``).
Tag A is healthy; tag B never is, so its health checks fail and conveyor commits A back, marks B
failed, says so, and the Deployment runs A again; a later tag C is chosen as usual. Then
``conveyor rollback automation --to A`` by hand (committed, the automation held suspended until
``conveyor resume``), and ``--clear``, after which C is chosen again."""

from __future__ import annotations

import json
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from kubernetes import client

from conveyor.services.demo.scenario import IMAGE_REPOSITORY, Demo, ci_tags, create
from tests.applier.conftest import Kube
from tests.cli.helpers import as_json, cli_env, completions, conveyor_run, ctl, ok, wait_for
from tests.conftest import git_out, push
from tests.fixtures.controlplane import ControlPlane
from tests.fixtures.flux import kubectl
from tests.fixtures.registries import Registry, free_port

NAME = "gitops-demo-app"  # the seed's name of every object, and of its Deployment
KUSTOMIZATION = """apiVersion: kustomize.toolkit.fluxcd.io/v1beta2
kind: Kustomization
metadata:
  name: gitops-demo-app
  namespace: flux-system
spec:
  interval: 1h
  wait: true
  timeout: 30s
"""


class Controller:
    """What the deployment controller and kubelets would report, for healthy images only: all
    replicas available, at the Deployment's generation."""

    def __init__(self, kube: Kube, namespace: str, healthy: set[str]) -> None:
        self.kube, self.namespace, self.healthy = kube, namespace, healthy
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.3):
            try:
                found = self.kube.deployment(self.namespace, NAME)
                if found is None:
                    continue
                tag = self.kube.image(self.namespace, NAME).rsplit(":", 1)[1]
                seen = (found.get("status") or {}).get("observedGeneration")
                if tag in self.healthy and seen != found["metadata"]["generation"]:
                    self.kube.deployment_ready(self.namespace, NAME)
            except client.ApiException:
                continue


@dataclass(frozen=True)
class Running:
    demo: Demo
    env: dict[str, str]
    namespace: str
    port: int
    tags: list[str]  # A, B, C
    registry: Registry
    kube: Kube


def head(demo: Demo) -> str:
    return git_out(demo.remote, "rev-parse", "master").strip()


def subject(demo: Demo) -> str:
    return git_out(demo.remote, "log", "-1", "--format=%s", "master").strip()


def written_tag(demo: Demo, commit: str = "master") -> str:
    text = git_out(demo.remote, "show", f"{commit}:kustomize/deployment.yaml")
    line = next(x for x in text.splitlines() if "$imagepolicy" in x)
    return line.split("image: ", 1)[1].split(" ", 1)[0].rsplit(":", 1)[1]


def applied(port: int) -> str:
    try:
        objects = httpx.get(f"http://127.0.0.1:{port}/api/v1/objects", timeout=5).json()
    except httpx.HTTPError:
        return ""
    return next((o["status"].get("lastAppliedRevision", "") for o in objects
                 if o["kind"] == "Kustomization" and o["name"] == NAME), "")


def running_image(run: Running) -> str:
    return run.kube.image(run.namespace, NAME).rsplit(":", 1)[1]


def settled_on(run: Running, tag: str) -> bool:
    """The remote's head writes ``tag``, it is applied (healthy) and the Deployment runs it."""
    commit = head(run.demo)
    return (written_tag(run.demo) == tag and applied(run.port).endswith(f"sha1:{commit}")
            and running_image(run) == tag)


def scan(run: Running, tags: list[str]) -> None:
    push(run.registry, run.demo, tags)
    ok(run.env, "reconcile", "imagerepository", NAME)


@pytest.fixture(scope="module")
def running(
    tmp_path_factory: pytest.TempPathFactory, registry: Registry, control_plane: ControlPlane
) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("rollback")
    demo = create(root / "demo", registry.host,
                  repository=f"{IMAGE_REPOSITORY}-{zlib.crc32(str(root).encode()):08x}")
    namespace = f"rollback-{zlib.crc32(str(root).encode()):08x}"
    kubectl(control_plane, "create", "namespace", namespace)
    manifest = demo.manifests / "gitops-demo-app.yaml"
    text = manifest.read_text().replace("targetNamespace: default",
                                        f"targetNamespace: {namespace}")
    text = text.replace("interval: 30s", "interval: 1h").replace("interval: 1m", "interval: 1h")
    text = text.replace(KUSTOMIZATION.replace("  wait: true\n  timeout: 30s\n", ""),
                        KUSTOMIZATION)
    automation = f"kind: ImageUpdateAutomation\nmetadata:\n  name: {NAME}\n"
    text = text.replace(automation, automation + "  annotations:\n"
                        "    conveyor.dev/rollback: health\n")
    assert "wait: true" in text and "conveyor.dev/rollback" in text
    manifest.write_text(text)
    tags = ci_tags(3)
    kube = Kube(control_plane.kubeconfig)
    controller = Controller(kube, namespace, {"latest", tags[0], tags[2]})
    controller.thread.start()
    push(registry, demo, tags[:1])
    env = cli_env(root / "data")
    port = free_port()
    try:
        with conveyor_run(demo.manifests, env, port, root / "run.log", control_plane.kubeconfig):
            run = Running(demo, env, namespace, port, tags, registry, kube)
            wait_for("tag A applied and healthy", lambda: settled_on(run, tags[0]), timeout=180)
            yield run
    finally:
        controller.stop.set()


def test_an_unhealthy_tag_is_rolled_back_marked_failed_and_a_later_one_still_lands(
    running: Running,
) -> None:
    demo, env = running.demo, running.env
    a, b, c = running.tags
    before = head(demo)
    scan(running, [b])
    wait_for("tag B committed", lambda: written_tag(demo) == b, timeout=120)
    pushed = head(demo)
    assert git_out(demo.remote, "rev-parse", f"{pushed}~1").strip() == before
    # B never becomes healthy: after the Kustomization's timeout, its value goes back
    wait_for("the rollback commit", lambda: subject(demo).startswith("Roll back"), timeout=240)
    rollback = head(demo)
    assert git_out(demo.remote, "rev-parse", f"{rollback}~1").strip() == pushed
    message = git_out(demo.remote, "log", "-1", "--format=%B", rollback)
    assert message.startswith(
        f"Roll back {demo.image} to {a}: health checks of Kustomization "
        f"flux-system/{NAME} failed on master@sha1:{pushed}\n\n"
        "health check failed after "
    ), message
    assert f"Deployment/{running.namespace}/{NAME} status: 'InProgress'" in message
    assert f"Reverts the image updates of commit {pushed[:7]}" in message
    assert f"conveyor rollback automation {NAME} -n flux-system --clear" in message
    assert written_tag(demo, rollback) == a
    wait_for("tag A running again", lambda: settled_on(running, a), timeout=120)

    # the policy names B as skipped, and chooses A
    def skipped() -> bool:
        policy = as_json(env, "get", "imagepolicy", "image-repo-policy")
        ready = next(x for x in policy["status"]["conditions"] if x["type"] == "Ready")
        return bool(policy["status"]["latestRef"]["tag"] == a and str(ready["message"]).endswith(
            f"; skipped failed tags: {b}"))

    wait_for("the policy skipping B", skipped, timeout=60)

    # Warnings said it: the applier's and the git-committer's
    said = ok(env, "events", "--for", f"Kustomization/{NAME}")
    line = next(x for x in said.splitlines() if "RollbackRequested" in x)
    assert "Warning" in line and f"rolling back commit {pushed[:7]}" in line and b in line
    said = ok(env, "events", "--for", f"ImageUpdateAutomation/{NAME}")
    line = next(x for x in said.splitlines() if "RollbackCommitted" in x)
    assert "Warning" in line and f"to {a}" in line

    # and B's trace ends with it: committed, fetched, never applied, rolled back
    traced = ctl(env, "trace", f"{demo.image}:{b}", "-o", "json")
    assert traced.returncode == 1  # not applied
    hops = [h["hop"] for h in json.loads(traced.stdout)["hops"]]
    assert hops[-1] == "rolled back" and "applied" not in hops, hops
    assert {"chosen", "committed", "fetched"} <= set(hops)

    # a later tag is chosen and lands as usual
    scan(running, [c])
    wait_for("tag C applied", lambda: settled_on(running, c), timeout=120)
    assert subject(demo).startswith("Automated image updated by Flux")


def test_rollback_by_hand_holds_the_automation_until_resumed(running: Running) -> None:
    demo, env = running.demo, running.env
    a, b, c = running.tags
    wait_for("tag C applied", lambda: settled_on(running, c), timeout=300)

    wrong = ctl(env, "rollback", "kustomization", NAME)
    assert wrong.returncode == 2 and "use conveyor rollback automation NAME" in wrong.stderr
    missing = ctl(env, "rollback", "automation", "nope")
    assert missing.returncode == 1
    assert "ImageUpdateAutomation object 'nope' not found" in missing.stderr

    done = ctl(env, "rollback", "automation", NAME, "--to", a)
    assert done.returncode == 0, done.stderr
    commit = head(demo)
    assert done.stdout.strip() == f"master@sha1:{commit}"
    assert git_out(demo.remote, "log", "-1", "--format=%B", commit).startswith(
        f"Roll back {demo.image} to {a}: by hand (conveyor rollback --to {a})\n")
    assert written_tag(demo) == a
    assert "suspended" in done.stderr and f"conveyor resume imageupdateautomation {NAME}" in (
        done.stderr)
    assert as_json(env, "get", "imageupdateautomation", NAME)["spec"]["suspend"] is True
    wait_for("tag A running again", lambda: settled_on(running, a), timeout=120)
    policy = as_json(env, "get", "imagepolicy", "image-repo-policy")
    assert policy["status"]["latestRef"]["tag"] == a  # B and C are marked failed

    # resumed: it runs again, and keeps A (its policy chooses A)
    ok(env, "resume", "imageupdateautomation", NAME)
    resumed = as_json(env, "get", "imageupdateautomation", NAME)
    assert not resumed["spec"].get("suspend")
    assert head(demo) == commit

    # the marks cleared, the policy chooses C again, and the automation commits it
    cleared = ctl(env, "rollback", "automation", NAME, "--clear")
    assert cleared.returncode == 0, cleared.stderr
    assert "no longer marked failed" in cleared.stderr
    assert b in cleared.stderr and c in cleared.stderr
    wait_for("tag C applied again", lambda: settled_on(running, c), timeout=120)


def test_rollback_needs_conveyor_s_redis(running: Running, tmp_path: Path) -> None:
    env = {**running.env, "CONVEYOR_DATA": str(tmp_path / "none")}
    refused = ctl(env, "rollback", "automation", NAME, "--server",
                  f"http://127.0.0.1:{running.port}")
    assert refused.returncode == 2
    assert "conveyor rollback needs conveyor's Redis" in refused.stderr


def test_rollback_completes_automations_and_their_names(running: Running, tmp_path: Path) -> None:
    def complete(line: str) -> list[str]:
        return completions(running.env, tmp_path / "completions", line)

    assert complete("conveyor rollback aut") == ["automation", "automations"]
    assert complete("conveyor rollback automation ") == [NAME]
    assert "--clear" in complete("conveyor rollback automation x --")
