"""The Day-2 verbs where the objects live in the cluster: the seed as Flux 2.9's custom
resources on the real kube-apiserver, reconciled by a ``conveyor run --from-cluster`` that
writes their status back. The verbs go through the API server as flux does (get, the
``reconcile.fluxcd.io/requestedAt`` annotation, ``spec.suspend``, Events), with
``--from-cluster`` or found with no flags from the run's record in its data directory."""

from __future__ import annotations

import json
import os
import subprocess
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from conveyor.services.demo.scenario import IMAGE_REPOSITORY, Demo, ci_tags, create
from tests.cli.helpers import as_json, ctl, ok, wait_for
from tests.conftest import git_out, push
from tests.e2e.test_from_cluster import PASSWORD, USER, seed_manifests, use_namespace
from tests.fixtures.controlplane import ControlPlane
from tests.fixtures.flux import CURRENT, install_flux_crds, kubectl
from tests.fixtures.git_remotes import SmartHTTPRemote
from tests.fixtures.registries import Registry

KINDS = ("GitRepository", "ImageRepository", "ImagePolicy", "ImageUpdateAutomation",
         "Kustomization", "Receiver")


@dataclass(frozen=True)
class InCluster:
    cp: ControlPlane
    demo: Demo
    ns: str
    flag: dict[str, str]  # the CLI's environment with --from-cluster: KUBECONFIG
    found: dict[str, str]  # the CLI's environment with no flags: the run's CONVEYOR_DATA
    tags: list[str]


@pytest.fixture(scope="module")
def in_cluster(
    tmp_path_factory: pytest.TempPathFactory, registry: Registry, control_plane: ControlPlane
) -> Iterator[InCluster]:
    install_flux_crds(control_plane, CURRENT)
    root = tmp_path_factory.mktemp("cli-cluster")
    demo = create(root / "demo", registry.host, repository=f"{IMAGE_REPOSITORY}-cli-cluster")
    ns = f"clic-{zlib.crc32(str(root).encode()):08x}"
    kubectl(control_plane, "create", "namespace", ns)
    use_namespace(demo, ns)
    tags = ci_tags(2)
    push(registry, demo, tags)
    base = {k: v for k, v in os.environ.items()
            if k not in ("REDIS_URL", "KUBECONFIG", "KUBERNETES_SERVICE_HOST", "CONVEYOR_DATA")}
    data = root / "data"
    with SmartHTTPRemote(demo.root, USER, PASSWORD) as remote, (root / "run.log").open("w") as log:
        manifests = seed_manifests(demo, remote, CURRENT, ns)
        manifests = manifests.replace("interval: 30s", "interval: 1h").replace(
            "interval: 1m", "interval: 1h")
        kubectl(control_plane, "apply", "-f", "-", stdin=manifests)
        proc = subprocess.Popen(
            ["conveyor", "run", "--from-cluster", "--listen", ""],
            env={**base, "KUBECONFIG": str(control_plane.kubeconfig), "CONVEYOR_DATA": str(data)},
            stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            flag = {**base, "KUBECONFIG": str(control_plane.kubeconfig),
                    "CONVEYOR_DATA": str(root / "elsewhere")}
            found = {**base, "CONVEYOR_DATA": str(data)}
            running = InCluster(control_plane, demo, ns, flag, found, tags)

            def applied() -> bool:
                ks = as_json(flag, "get", "ks", "gitops-demo-app", "-n", ns, "--from-cluster")
                head = git_out(demo.remote, "rev-parse", "master").strip()
                return str(ks.get("status", {}).get("lastAppliedRevision", "")).endswith(head) and (
                    git_out(demo.remote, "log", "-1", "--format=%s").startswith("Automated"))

            wait_for("the new tag applied in the cluster", applied, timeout=240)
            yield running
        finally:
            proc.terminate()
            proc.wait(60)


def rows(text: str) -> list[list[str]]:
    return [[c.strip() for c in line.split("\t")] for line in text.splitlines() if line]


def cluster_object(c: InCluster, resource: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(kubectl(c.cp, "-n", c.ns, "get", resource, name,
                                               "-o", "json"))
    return found


def test_get_reads_what_conveyor_wrote_back_to_the_cluster(in_cluster: InCluster) -> None:
    c = in_cluster
    shown = ok(c.flag, "get", "all", "-n", c.ns, "--from-cluster")
    names = {row[0]: row for row in rows(shown) if row[0] != "NAME"}
    assert set(names) == {f"{k.lower()}/{'hook' if k == 'Receiver' else n}"
                          for k in KINDS
                          for n in ["image-repo-policy" if k == "ImagePolicy"
                                    else "gitops-demo-app"]}
    assert all(row[-2] == "True" for row in names.values()), shown  # READY
    # found with no flags: the run recorded where its objects live
    assert ok(c.found, "get", "all", "-n", c.ns) == shown

    policy = as_json(c.flag, "get", "imagepolicy", "image-repo-policy", "-n", c.ns,
                     "--from-cluster")
    assert policy["apiVersion"] == "image.toolkit.fluxcd.io/v1"
    assert "managedFields" not in policy["metadata"]
    assert policy["status"]["latestRef"] == {"name": c.demo.image, "tag": c.tags[-1]}
    everywhere = rows(ok(c.flag, "get", "ks", "-A", "--from-cluster"))
    assert everywhere[0][:2] == ["NAMESPACE", "NAME"]
    assert [c.ns, "gitops-demo-app"] in [r[:2] for r in everywhere]


def test_reconcile_suspend_and_resume_go_through_the_api_server(in_cluster: InCluster) -> None:
    c = in_cluster
    head = git_out(c.demo.remote, "rev-parse", "master").strip()
    done = ctl(c.found, "reconcile", "source", "gitops-demo-app", "-n", c.ns)
    assert done.returncode == 2  # "source" is no kind: flux's two-word forms are not kinds
    done = ctl(c.found, "reconcile", "gitrepository", "gitops-demo-app", "-n", c.ns)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[-1] == f"✔ fetched revision master@sha1:{head}"
    repo = cluster_object(c, "gitrepositories.source.toolkit.fluxcd.io", "gitops-demo-app")
    token = repo["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"]
    assert repo["status"]["lastHandledReconcileAt"] == token

    hook = ctl(c.found, "reconcile", "receiver", "hook", "-n", c.ns)
    assert hook.returncode == 0, hook.stderr
    assert hook.stderr.splitlines()[-1] == "✔ Receiver reconciliation completed"

    resource = "imagerepositories.image.toolkit.fluxcd.io"
    paused = ctl(c.flag, "suspend", "imgrepo", "gitops-demo-app", "-n", c.ns, "--from-cluster")
    assert paused.returncode == 0, paused.stderr
    assert cluster_object(c, resource, "gitops-demo-app")["spec"]["suspend"] is True
    refused = ctl(c.found, "reconcile", "imagerepository", "gitops-demo-app", "-n", c.ns)
    assert refused.returncode == 1 and "is suspended: resume it first" in refused.stderr
    generation = cluster_object(c, resource, "gitops-demo-app")["metadata"]["generation"]
    resumed = ctl(c.found, "resume", "imagerepository", "gitops-demo-app", "-n", c.ns)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stderr.splitlines()[-2:] == [
        "✔ ImageRepository gitops-demo-app reconciliation completed",
        "✔ scan fetched 2 tags",
    ]
    after = cluster_object(c, resource, "gitops-demo-app")
    assert "suspend" not in after["spec"]  # removed, as flux's merge patch does
    assert after["metadata"]["generation"] == generation + 1
    assert after["status"]["observedGeneration"] == generation + 1

    # a Kustomization that cannot build: the run that answers fails, and so does the command
    ks = "kustomizations.kustomize.toolkit.fluxcd.io"
    kubectl(c.cp, "-n", c.ns, "patch", ks, "gitops-demo-app", "--type=merge",
            "-p", '{"spec": {"path": "./nowhere"}}')
    try:
        failed = ctl(c.found, "reconcile", "ks", "gitops-demo-app", "-n", c.ns)
        assert failed.returncode == 1
        ready = next(x for x in cluster_object(c, ks, "gitops-demo-app")["status"]["conditions"]
                     if x["type"] == "Ready")
        assert "nowhere" in ready["message"]
        assert failed.stderr.splitlines()[-1] == (
            f"✗ Kustomization reconciliation failed: '{ready['message']}'"
        )
    finally:
        kubectl(c.cp, "-n", c.ns, "patch", ks, "gitops-demo-app", "--type=merge",
                "-p", '{"spec": {"path": "./kustomize"}}')
    again = ctl(c.flag, "reconcile", "ks", "gitops-demo-app", "-n", c.ns, "--from-cluster")
    assert again.returncode == 0, again.stderr
    assert again.stderr.splitlines()[-1] == f"✔ applied revision master@sha1:{head}"


EVENT = """
apiVersion: v1
kind: Event
metadata: {{name: image-repo-policy.1, namespace: {ns}}}
involvedObject:
  apiVersion: image.toolkit.fluxcd.io/v1
  kind: ImagePolicy
  name: image-repo-policy
  namespace: {ns}
type: Normal
reason: Succeeded
message: Latest image tag for {image} resolved to {tag}
source: {{component: image-reflector-controller}}
firstTimestamp: "2026-01-01T00:00:00Z"
lastTimestamp: "2026-01-01T00:05:00Z"
count: 2
"""


def test_tree_and_events_from_the_cluster(in_cluster: InCluster) -> None:
    c = in_cluster
    tree = ok(c.found, "tree", "ks", "gitops-demo-app", "-n", c.ns).splitlines()
    assert tree[0] == f"Kustomization/{c.ns}/gitops-demo-app"
    assert sorted(line[4:] for line in tree[1:] if line) == sorted(
        [f"Deployment/{c.ns}/gitops-demo-app", f"Service/{c.ns}/gitops-demo-app"])

    # the cluster's Events about Flux objects, as a controller records them
    kubectl(c.cp, "apply", "-f", "-", stdin=EVENT.format(ns=c.ns, image=c.demo.image,
                                                         tag=c.tags[-1]))
    shown = rows(ok(c.flag, "events", "-n", c.ns, "--from-cluster"))
    assert shown[0] == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    # the one conveyor wrote when the policy chose the tag, and the one applied above
    mine = [r for r in shown if r[3] == "ImagePolicy/image-repo-policy"]
    assert len(mine) == 2, shown
    for row in mine:
        assert row[1:3] == ["Normal", "Succeeded"]
        assert row[4] == f"Latest image tag for {c.demo.image} resolved to {c.tags[-1]}"
    assert len([r for r in mine if " (x2 over " in r[0]]) == 1  # counted, as flux shows it
    focused = rows(ok(c.flag, "events", "--for", "ImagePolicy/image-repo-policy", "-n", c.ns,
                      "--from-cluster"))
    assert {r[3] for r in focused[1:]} <= {"ImagePolicy/image-repo-policy",
                                           "ImageRepository/gitops-demo-app"}
    assert "ImagePolicy/image-repo-policy" in {r[3] for r in focused[1:]}
    assert all(r[3] != "ImagePolicy/image-repo-policy" for r in rows(ok(
        c.flag, "events", "--for", "ks", "-n", c.ns, "--from-cluster"))[1:])

    # found with no flags: the running conveyor's own journal
    journal = rows(ok(c.found, "events", "-n", c.ns))
    assert any(r[2] == "PolicyChanged" and r[3] == "ImagePolicy/image-repo-policy"
               for r in journal)


def test_preview_works_on_the_run_s_redis_and_not_through_the_api_server(
    in_cluster: InCluster,
) -> None:
    c = in_cluster
    head = git_out(c.demo.remote, "rev-parse", "master").strip()
    # found with no flags: the objects in the cluster, the work on the run's Redis (its
    # sealed Secret opened with the data directory's key, the clone made with its password)
    done = ctl(c.found, "preview", "automation", "gitops-demo-app", "-n", c.ns)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines()[-1] == (
        f"✔ no changes: ImageUpdateAutomation {c.ns}/gitops-demo-app would commit nothing on "
        f"master@sha1:{head[:8]}"
    )
    assert PASSWORD not in done.stderr
    # the API server alone has no policies' results to work from: where to run it instead
    refused = ctl(c.flag, "preview", "iua", "gitops-demo-app", "-n", c.ns, "--from-cluster")
    assert refused.returncode == 2
    assert ("kubectl -n conveyor exec deploy/git-committer -- conveyor preview automation "
            f"gitops-demo-app -n {c.ns}") in refused.stderr


def test_trace_reads_the_run_s_journal_and_kubectl_events_show_flux_s_events(
    in_cluster: InCluster,
) -> None:
    c = in_cluster
    image = f"{c.demo.image}:{c.tags[-1]}"
    data = json.loads(ok(c.found, "trace", image, "-o", "json"))
    assert [h["hop"] for h in data["hops"]] == [
        "pushed", "scanned", "chosen", "committed", "fetched", "applied"
    ]
    assert data["hops"][-1]["object"] == {
        "kind": "Kustomization", "namespace": c.ns, "name": "gitops-demo-app"
    }
    refused = ctl(c.flag, "trace", image, "--from-cluster")
    assert refused.returncode == 2 and "conveyor's journal is in its Redis" in refused.stderr
    # what the run did, as Kubernetes Events about the objects it did it to
    shown = kubectl(c.cp, "-n", c.ns, "events", "--for", "kustomization/gitops-demo-app")
    assert "ReconciliationSucceeded" in shown and "Reconciliation finished in" in shown
