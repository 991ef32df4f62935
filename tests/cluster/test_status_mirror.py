"""Statuses written to Flux's own CRDs on a real kube-apiserver (``StatusMirror``, the part of
``--from-cluster`` that writes): every status conveyor makes is accepted by the schema of every
version each release serves, with what that version defines (``latestImage`` before v1); a
write is sent only when something changed, removes what conveyor no longer sets, and one that
the API server refuses is not sent again in a loop."""

from __future__ import annotations

import json
import logging
import zlib
from typing import Any

import pytest
import yaml

from conveyor.shared.adapters import kube
from conveyor.shared.cluster_source import StatusMirror, load_from_cluster
from conveyor.shared.kinds import BY_NAME
from conveyor.shared.manifests import parse_manifests
from conveyor.shared.status import (
    Artifact,
    GitRepositoryStatus,
    ImagePolicyStatus,
    ImageRef,
    ImageRepositoryStatus,
    ImageUpdateAutomationStatus,
    Inventory,
    KustomizationStatus,
    ReceiverStatus,
    ResourceRef,
    ScanResult,
    Snapshot,
    Status,
)
from conveyor.shared.store import Store
from tests.fixtures.controlplane import ControlPlane
from tests.fixtures.flux import CURRENT, RELEASES, Served, install_flux_crds, kubectl, served

SHA = "0123456789abcdef0123456789abcdef01234567"
DIGEST = "sha256:" + "ab" * 32

# A spec each version of each kind accepts (the fields every version has, with their names).
SPECS: dict[str, dict[str, Any]] = {
    "GitRepository": {"url": "https://example.com/app.git", "interval": "1m",
                      "ref": {"branch": "main"}},
    "ImageRepository": {"image": "example.com/app", "interval": "1m"},
    "ImagePolicy": {"imageRepositoryRef": {"name": "app"},
                    "policy": {"semver": {"range": ">=1.0.0"}}},
    "ImageUpdateAutomation": {
        "interval": "1m",
        "sourceRef": {"kind": "GitRepository", "name": "app"},
        "git": {"commit": {"author": {"email": "bot@example.com", "name": "bot"}}},
        "update": {"path": "./", "strategy": "Setters"},
    },
    "Kustomization": {"interval": "1m", "prune": True, "path": "./",
                      "sourceRef": {"kind": "GitRepository", "name": "app"}},
    "Receiver": {"type": "generic", "secretRef": {"name": "token"},
                 "resources": [{"kind": "GitRepository", "name": "app"}]},
    # read, their deliveries reported; a status written back only where the version has one
    "Alert": {"providerRef": {"name": "app"},
              "eventSources": [{"kind": "GitRepository", "name": "app"}]},
    "Provider": {"type": "generic", "address": "https://example.com/hook"},
}


def ready(status: Status, generation: int = 1) -> Status:
    status.mark_ready("Succeeded", "reconciled", generation)
    status.last_handled_reconcile_at = "2026-01-01T00:00:00.000000001Z"
    return status


def full_statuses() -> dict[str, Status]:
    """For each kind, a status with every field conveyor sets."""
    return {
        "GitRepository": ready(GitRepositoryStatus(artifact=Artifact(
            revision=f"main@sha1:{SHA}", digest=DIGEST, size=1234,
            path=f"gitrepository/ns/app/{SHA}.tar.gz",
            url=f"http://conveyor.invalid/gitrepository/ns/app/{SHA}.tar.gz",
        ))),
        "ImageRepository": ready(ImageRepositoryStatus(
            canonical_image_name="example.com/app",
            last_scan_result=ScanResult(revision="sha256:" + "cd" * 32, tag_count=3,
                                        latest_tags=["1.2.0", "1.1.0", "1.0.0"]),
            observed_exclusion_list=["^.*\\.sig$"],
        )),
        "ImagePolicy": ready(ImagePolicyStatus(
            latest_ref=ImageRef(name="example.com/app", tag="1.2.0", digest=DIGEST),
            observed_previous_ref=ImageRef(name="example.com/app", tag="1.1.0"),
        )),
        "ImageUpdateAutomation": ready(ImageUpdateAutomationStatus(
            last_automation_run_time="2026-01-01T00:00:00Z",
            last_push_commit=SHA,
            last_push_time="2026-01-01T00:00:00Z",
            observed_source_revision=f"main@sha1:{SHA}",
            observed_policies={"app": ImageRef(name="example.com/app", tag="1.2.0")},
        )),
        "Kustomization": ready(KustomizationStatus(
            last_applied_revision=f"main@sha1:{SHA}",
            last_attempted_revision=f"main@sha1:{SHA}",
            inventory=Inventory(entries=[ResourceRef(id="ns_app_apps_Deployment", v="v1")]),
            history=[Snapshot(digest=DIGEST, last_reconciled_status="ReconciliationSucceeded",
                              metadata={"revision": f"main@sha1:{SHA}"})],
        )),
        "Receiver": ready(ReceiverStatus(webhook_path="/hook/" + "ef" * 32)),
    }


def cluster_of(cp: ControlPlane) -> kube.Cluster:
    """A Cluster of its own (discovery is cached per Cluster, and releases come and go)."""
    return kube.Cluster(kube._new_client(kube.Target(kubeconfig=str(cp.kubeconfig))), "test")


class CountingCluster(kube.Cluster):
    """The real Cluster, counting the status writes it sends."""

    patches: list[str]

    def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any] | None:
        if method == "PATCH" and path.endswith("/status"):
            self.patches.append(path)
        return super().request(method, path, **kwargs)


def counting_cluster(cp: ControlPlane) -> CountingCluster:
    cluster = CountingCluster(kube._new_client(kube.Target(kubeconfig=str(cp.kubeconfig))), "t")
    cluster.patches = []
    return cluster


def namespace(cp: ControlPlane, request: pytest.FixtureRequest) -> str:
    ns = f"sm-{zlib.crc32(request.node.nodeid.encode()):08x}"
    kubectl(cp, "create", "namespace", ns)
    return ns


def create(cp: ControlPlane, entry: Served, ns: str, name: str) -> None:
    doc = {"apiVersion": entry.api_version, "kind": entry.kind,
           "metadata": {"name": name, "namespace": ns}, "spec": SPECS[entry.kind]}
    kubectl(cp, "apply", "-f", "-", stdin=yaml.safe_dump(doc))


def prune(value: Any, schema: dict[str, Any]) -> Any:
    """``value`` with what ``schema`` does not define taken out (the API server's pruning)."""
    if isinstance(value, dict) and not schema.get("x-kubernetes-preserve-unknown-fields"):
        if "properties" in schema:
            return {k: prune(v, schema["properties"][k]) for k, v in value.items()
                    if k in schema["properties"]}
        if isinstance(schema.get("additionalProperties"), dict):
            return {k: prune(v, schema["additionalProperties"]) for k, v in value.items()}
    if isinstance(value, list) and "items" in schema:
        return [prune(v, schema["items"]) for v in value]
    return value


def store_with(redis_url: str, ns: str, status: Status) -> tuple[Store, str]:
    """A store holding GitRepository ``ns/app`` (as a listing of the cluster stores it) with
    ``status``; and its key."""
    store = Store.from_url(redis_url)
    doc = {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
           "metadata": {"name": "app", "namespace": ns}, "spec": SPECS["GitRepository"]}
    (obj,) = store.put_objects(parse_manifests(yaml.safe_dump(doc)))
    store.put_status(obj.key, status)
    return store, obj.key


def status_in_cluster(cp: ControlPlane, ns: str, name: str) -> dict[str, Any]:
    got: dict[str, Any] = json.loads(
        kubectl(cp, "-n", ns, "get", "gitrepositories.source.toolkit.fluxcd.io", name, "-o",
                "json")
    )
    return got.get("status") or {}


def test_a_status_is_written_when_it_changed_and_only_then(
    control_plane: ControlPlane, redis_url: str, request: pytest.FixtureRequest
) -> None:
    install_flux_crds(control_plane, CURRENT)
    cp, ns = control_plane, namespace(control_plane, request)
    entry = next(e for e in served(CURRENT) if e.kind == "GitRepository")
    create(cp, entry, ns, "app")
    status = full_statuses()["GitRepository"]
    assert isinstance(status, GitRepositoryStatus)
    store, key = store_with(redis_url, ns, status)
    cluster = counting_cluster(cp)
    mirror = StatusMirror(cluster)
    assert mirror.sync(store) == 1
    assert mirror.sync(store) == 0 and len(cluster.patches) == 1  # unchanged: nothing sent
    assert status_in_cluster(cp, ns, "app")["artifact"]["revision"] == f"main@sha1:{SHA}"

    # what conveyor no longer sets is removed, not left behind by the merge patch
    status.last_handled_reconcile_at = None
    status.mark_failed("GitOperationFailed", "unreachable", 1, stalled=False)
    store.put_status(key, status)
    assert mirror.sync(store) == 1
    written = status_in_cluster(cp, ns, "app")
    assert "lastHandledReconcileAt" not in written
    assert [c["reason"] for c in written["conditions"]] == ["GitOperationFailed"]

    # another writer changes the status: written again once a listing shows it
    kubectl(cp, "-n", ns, "patch", "gitrepositories.source.toolkit.fluxcd.io", "app",
            "--subresource=status", "--type=merge", "-p",
            json.dumps({"status": {"observedGeneration": 7, "observedIgnore": "*.txt"}}))
    assert mirror.sync(store) == 0  # not listed yet: not known
    _, listed = load_from_cluster(cluster)
    assert mirror.sync(store, listed) == 1
    written = status_in_cluster(cp, ns, "app")
    assert written["observedGeneration"] == 1 and "observedIgnore" not in written

    # a new process (nothing remembered) finds the cluster as it would write it: no write
    _, listed = load_from_cluster(cluster)
    fresh = counting_cluster(cp)
    assert StatusMirror(fresh).sync(store, listed) == 0 and fresh.patches == []


def test_a_refused_status_is_logged_once_and_not_resent_in_a_loop(
    control_plane: ControlPlane,
    redis_url: str,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_flux_crds(control_plane, CURRENT)
    cp, ns = control_plane, namespace(control_plane, request)
    entry = next(e for e in served(CURRENT) if e.kind == "GitRepository")
    create(cp, entry, ns, "app")
    refused = ready(GitRepositoryStatus(artifact=Artifact(revision="main@sha1:" + SHA,
                                                          digest="not a digest")))
    store, key = store_with(redis_url, ns, refused)
    cluster = counting_cluster(cp)
    mirror = StatusMirror(cluster)  # retries after 30 s
    with caplog.at_level(logging.DEBUG, logger="conveyor.cluster"):
        for _ in range(5):  # the ticker's seconds
            assert mirror.sync(store) == 0
    assert len(cluster.patches) == 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "status.artifact" in warnings[0].getMessage()

    # once the back-off elapsed it is tried again, without a second warning for the same answer
    caplog.clear()
    eager = counting_cluster(cp)
    mirror = StatusMirror(eager, retry_after=0.0)
    with caplog.at_level(logging.DEBUG, logger="conveyor.cluster"):
        for _ in range(3):
            assert mirror.sync(store) == 0
    assert len(eager.patches) == 3
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1

    # a status that changed is sent at once, and accepted
    store.put_status(key, full_statuses()["GitRepository"])
    assert StatusMirror(cluster).sync(store) == 1
    assert status_in_cluster(cp, ns, "app")["artifact"]["digest"] == DIGEST


@pytest.mark.parametrize("release", RELEASES)
def test_every_served_version_accepts_conveyors_statuses(
    release: str, control_plane: ControlPlane, request: pytest.FixtureRequest
) -> None:
    install_flux_crds(control_plane, release)
    cluster, ns = cluster_of(control_plane), namespace(control_plane, request)
    statuses = full_statuses()
    failed = ImagePolicyStatus()
    failed.mark_failed("bad reason: not CamelCase!", "x" * 40_000, 1, stalled=True)
    cases = [
        (entry, f"{entry.kind.lower()}-{entry.version}-{label}", status)
        for entry in served(release)
        if entry.kind in statuses  # not Alert, Provider: conveyor does not reconcile them
        for label, status in (("full", statuses[entry.kind]), ("failed", failed))
        if label == "full" or entry.kind == "ImagePolicy"
    ]
    docs = [{"apiVersion": entry.api_version, "kind": entry.kind,
             "metadata": {"name": name, "namespace": ns}, "spec": SPECS[entry.kind]}
            for entry, name, _ in cases]
    kubectl(control_plane, "apply", "-f", "-", stdin=yaml.safe_dump_all(docs))
    assert {e.kind for e, _, _ in cases} == set(statuses)
    for entry, name, status in cases:
        res = cluster.resource_for(entry.api_version, entry.kind)
        assert res is not None
        desired = status.served_as(entry.version)
        answer = cluster.request("PATCH", res.path(ns, name) + "/status",
                                 body={"status": desired},
                                 content_type="application/merge-patch+json")
        assert answer is not None
        # kept: what the version defines, and (stored as the storage version, without
        # conversion) what the storage version defines
        storage = next(e for e in served(release) if e.kind == entry.kind and e.storage)
        kept = prune(prune(desired, entry.status_schema), storage.status_schema)
        assert answer["status"] == kept, (release, entry)
        defined = entry.status_schema["properties"]
        if status is statuses["ImagePolicy"]:
            if "latestRef" in defined:
                assert answer["status"]["latestRef"]["tag"] == "1.2.0"
            if "latestImage" in defined:  # LATESTIMAGE, image-reflector-controller < 1.0
                assert answer["status"]["latestImage"] == "example.com/app:1.2.0"
            if "observedPreviousImage" in defined:
                assert answer["status"]["observedPreviousImage"] == "example.com/app:1.1.0"
        if status is failed:
            condition = answer["status"]["conditions"][0]
            assert condition["reason"] == "badreason:notCamelCase"
            assert len(condition["message"]) <= 32768


def test_the_kinds_conveyor_writes_are_the_flux_kinds() -> None:
    assert {k for k, v in BY_NAME.items() if v.flux} == set(SPECS)
