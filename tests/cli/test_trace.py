"""``conveyor trace``: one image followed from the registry's push notification to the
Deployment on a real kube-apiserver, through a running ``conveyor run`` (each stage a worker
process of its own) on the embedded Redis; found with no flags, and through the status API."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from conveyor.services.demo.oci import push_tags
from conveyor.services.demo.scenario import Demo, ci_tags, create
from tests.cli.helpers import cli_env, conveyor_run, ctl, ok, wait_for
from tests.conftest import git_out
from tests.fixtures.controlplane import ControlPlane
from tests.fixtures.flux import kubectl
from tests.fixtures.registries import (
    Registry,
    free_port,
    notification_hook,
    notification_receiver,
)

TOKEN = "trace-notification-token"
HOPS = ["pushed", "scanned", "chosen", "committed", "fetched", "applied"]


@dataclass(frozen=True)
class Pushed:
    demo: Demo
    env: dict[str, str]
    port: int
    namespace: str
    tag: str  # pushed while conveyor ran: its notification started the trace
    commit: str  # the automation's commit of it


def applied(port: int, commit: str) -> bool:
    try:
        objects = httpx.get(f"http://127.0.0.1:{port}/api/v1/objects", timeout=5).json()
    except httpx.HTTPError:
        return False
    return any(
        o["kind"] == "Kustomization"
        and o["status"].get("lastAppliedRevision", "").endswith(f"sha1:{commit}")
        for o in objects
    )


@pytest.fixture(scope="module")
def pushed(
    tmp_path_factory: pytest.TempPathFactory, control_plane: ControlPlane
) -> Iterator[Pushed]:
    root = tmp_path_factory.mktemp("trace")
    port = free_port()
    namespace = f"trace-{zlib.crc32(str(root).encode()):08x}"
    kubectl(control_plane, "create", "namespace", namespace)
    tags = ci_tags(2)
    with Registry(notifications=[notification_hook(port, TOKEN)]) as registry:
        demo = create(root / "demo", registry.host)
        manifest = demo.manifests / "gitops-demo-app.yaml"
        manifest.write_text(manifest.read_text().replace(
            "targetNamespace: default", f"targetNamespace: {namespace}"
        ).replace("interval: 1m", "interval: 1h"))
        (demo.manifests / "receiver.yaml").write_text(notification_receiver(TOKEN))
        repository = demo.image.split("/", 1)[1]
        push_tags(registry.url, repository, tags[:1])
        env = cli_env(root / "data")
        with conveyor_run(demo.manifests, env, port, root / "run.log", control_plane.kubeconfig):
            def head() -> str:
                return git_out(demo.remote, "rev-parse", "master").strip()

            def first_applied() -> bool:
                return git_out(demo.remote, "log", "-1", "--format=%s").startswith(
                    "Automated") and applied(port, head())

            wait_for("the first tag applied", first_applied, timeout=180)
            before = head()
            push_tags(registry.url, repository, tags[1:])  # the registry notifies
            wait_for("the pushed tag committed", lambda: head() != before, timeout=120)
            commit = head()
            wait_for("the pushed tag applied", lambda: applied(port, commit), timeout=120)
            yield Pushed(demo, env, port, namespace, tags[1], commit)


def test_trace_follows_a_push_through_every_hop(pushed: Pushed) -> None:
    image = f"{pushed.demo.image}:{pushed.tag}"
    data = json.loads(ok(pushed.env, "trace", image, "-o", "json"))
    hops = data["hops"]
    assert [h["hop"] for h in hops] == HOPS, hops
    times = [h["time"] for h in hops]
    assert times == sorted(times) and hops[0]["sinceStart"] == 0.0  # monotonic, from the push
    assert data["pushToApplied"] == pytest.approx(times[-1] - times[0])
    assert data["pushToApplied"] > 0
    assert data["image"] == image and len(data["traceID"]) == 16
    by_hop = {h["hop"]: h for h in hops}
    assert "webhook" in by_hop["pushed"]["detail"] and pushed.tag in by_hop["pushed"]["detail"]
    assert by_hop["pushed"]["object"]["kind"] == "ImageRepository"
    assert by_hop["chosen"]["object"] == {
        "kind": "ImagePolicy", "namespace": "flux-system", "name": "image-repo-policy"
    }
    assert by_hop["chosen"]["detail"] == image
    assert by_hop["committed"]["detail"].startswith(f"commit {pushed.commit[:7]} pushed")
    assert by_hop["fetched"]["detail"] == f"revision master@sha1:{pushed.commit}"
    assert by_hop["applied"]["object"]["kind"] == "Kustomization"
    assert "Deployment/" in by_hop["applied"]["detail"], by_hop["applied"]
    # each hop's event was taken by its next stage: how long it waited is known
    assert all(h["queued"] is not None and h["queued"] >= 0 for h in hops[:-1]), hops

    # the same journey as text, by the trace id too, and from the status API
    text = ok(pushed.env, "trace", data["traceID"])
    lines = text.splitlines()
    assert lines[0] == f"trace {data['traceID']} of {image}"
    assert [line.split()[0] for line in lines[2:8]] == HOPS
    assert lines[-1].startswith("push to applied: ") and lines[-1].endswith("s")
    served = json.loads(ok(pushed.env, "trace", image, "-o", "json", "--server",
                           f"http://127.0.0.1:{pushed.port}"))
    assert [h["hop"] for h in served["hops"]] == HOPS


def test_trace_names_what_it_cannot_find(pushed: Pushed) -> None:
    missing = ctl(pushed.env, "trace", f"{pushed.demo.image}:no-such-tag")
    assert missing.returncode == 1
    assert f"no policy chose {pushed.demo.image}:no-such-tag" in missing.stderr
    assert "conveyor get imagepolicy" in missing.stderr
    wrong = ctl(pushed.env, "trace", "not an image")
    assert wrong.returncode == 2 and "IMAGE:TAG" in wrong.stderr


def test_events_show_the_notices_of_the_push(pushed: Pushed) -> None:
    text = ok(pushed.env, "events", "--for", "GitRepository/gitops-demo-app")
    assert "NewArtifact" in text and "stored artifact for commit" in text
    text = ok(pushed.env, "events", "--for", "Kustomization/gitops-demo-app")
    assert "Reconciliation finished in" in text and "ReconciliationSucceeded" in text
