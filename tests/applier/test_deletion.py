"""A deleted Kustomization, on the real API server: ``spec.deletionPolicy`` and ``prune`` as
Flux's finalizer applies them (MirrorPrune, Delete, WaitForTermination, Orphan); a failed
deletion is kept and retried; a manifest that does not parse finalizes nothing."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.applier.conftest import Kube, Pipeline, Source, body, git_repository, kustomization
from tests.applier.test_apply import config_map

HOLD = "example.com/hold"  # a finalizer no controller removes: the object stays Terminating


def finalized(pipeline: Pipeline, name: str) -> list[dict[str, Any]]:
    return [e for e in pipeline.store.journal()
            if e["type"] == "Finalized" and e["name"] == name]


def setup(kube: Kube, source: Source, pipeline: Pipeline, name: str, **spec: Any) -> str:
    """A namespace, two ConfigMaps applied by Kustomization ``name``; the namespace."""
    ns = kube.namespace()
    kube.create_namespace(ns)
    source.commit({f"{name}/cm.yaml": config_map(ns, "a", {"k": "v"}) + config_map(ns, "b", {})})
    pipeline.write(git_repository(source.url) + kustomization(name, f"./{name}", **spec))
    assert pipeline.run() == 0, pipeline.output[-1]
    assert kube.config_map(ns, "a") is not None and kube.config_map(ns, "b") is not None
    return ns


@pytest.mark.parametrize(
    ("spec", "deleted"),
    [
        ({"prune": True}, True),  # MirrorPrune, the default, mirrors prune
        ({"prune": False}, False),
        ({"prune": True, "deletionPolicy": "MirrorPrune"}, True),
        ({"prune": False, "deletionPolicy": "Delete"}, True),
        ({"prune": True, "deletionPolicy": "Orphan"}, False),
    ],
    ids=["default-prune", "default-no-prune", "mirror", "delete", "orphan"],
)
def test_deletion_policy_decides_what_a_deleted_kustomization_leaves(
    kube: Kube, source: Source, pipeline: Pipeline, spec: dict[str, Any], deleted: bool
) -> None:
    ns = setup(kube, source, pipeline, "app", **spec)
    pipeline.write(git_repository(source.url))  # the Kustomization is gone from Git
    assert pipeline.run() == 0, pipeline.output[-1]
    for name in ("a", "b"):
        assert (kube.config_map(ns, name) is None) is deleted
    [entry] = finalized(pipeline, "app")
    assert entry["severity"] == "info"
    if deleted:
        assert entry["message"] == f"ConfigMap/{ns}/b deleted, ConfigMap/{ns}/a deleted"
    else:
        assert entry["message"].startswith("deleted; 2 objects left in place (deletionPolicy ")
    assert pipeline.store.tombstones() == []  # finalized once, then forgotten
    assert pipeline.run() == 0
    assert len(finalized(pipeline, "app")) == 1


def test_a_suspended_kustomization_deletes_nothing(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    ns = setup(kube, source, pipeline, "sus", prune=True)
    pipeline.write(git_repository(source.url) + kustomization("sus", "./sus", prune=True,
                                                             suspend=True))
    pipeline.run()
    pipeline.write(git_repository(source.url))
    pipeline.run()
    assert kube.config_map(ns, "a") is not None
    [entry] = finalized(pipeline, "sus")
    assert entry["message"] == (
        "deleted; 2 objects left in place (deletionPolicy MirrorPrune, prune true, suspended)"
    )


def test_prune_disabled_and_objects_of_another_owner_survive_the_deletion(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    ns = kube.namespace()
    kube.create_namespace(ns)
    keep = "kustomize.toolkit.fluxcd.io/prune: disabled"
    source.commit({"d/cm.yaml": config_map(ns, "kept", {}, annotations=keep)
                   + config_map(ns, "gone", {})})
    pipeline.write(git_repository(source.url) + kustomization("app", "./d", prune=True))
    assert pipeline.run() == 0, pipeline.output[-1]
    pipeline.write(git_repository(source.url))
    assert pipeline.run() == 0
    assert kube.config_map(ns, "kept") is not None
    assert kube.config_map(ns, "gone") is None


def test_wait_for_termination_waits_until_the_objects_are_gone(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    ns = kube.namespace()
    kube.create_namespace(ns)
    held = config_map(ns, "held", {}).replace(
        "  name: held\n", f"  name: held\n  finalizers: [{HOLD}]\n"
    )
    source.commit({"d/cm.yaml": held})

    # Delete: the objects are deleted, and it does not wait for them to be gone
    pipeline.write(git_repository(source.url)
                   + kustomization("del", "./d", deletionPolicy="Delete", timeout="30s"))
    assert pipeline.run() == 0, pipeline.output[-1]
    pipeline.write(git_repository(source.url))
    assert pipeline.run() == 0
    cm = kube.config_map(ns, "held")
    assert cm is not None and cm["metadata"]["deletionTimestamp"]  # still terminating
    kube.core.patch_namespaced_config_map("held", ns, {"metadata": {"finalizers": None}})

    # WaitForTermination: finalizing returns once the object is gone
    pipeline.write(git_repository(source.url)
                   + kustomization("wft", "./d", deletionPolicy="WaitForTermination",
                                   timeout="60s"))
    assert pipeline.run() == 0, pipeline.output[-1]

    def garbage_collector() -> None:  # what another controller does, a moment later
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            cm = kube.config_map(ns, "held")
            if cm is not None and cm["metadata"].get("deletionTimestamp"):
                time.sleep(1.0)
                kube.core.patch_namespaced_config_map(
                    "held", ns, {"metadata": {"finalizers": None}}
                )
                return
            time.sleep(0.1)

    thread = threading.Thread(target=garbage_collector)
    thread.start()
    pipeline.write(git_repository(source.url))
    assert pipeline.run() == 0
    gone = kube.config_map(ns, "held") is None  # read before the thread is joined
    thread.join()
    assert gone
    [entry] = finalized(pipeline, "wft")
    assert entry["message"] == f"ConfigMap/{ns}/held deleted; terminated"


def test_wait_for_termination_gives_up_at_the_timeout_and_finalizes(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    ns = kube.namespace()
    kube.create_namespace(ns)
    held = config_map(ns, "held", {}).replace(
        "  name: held\n", f"  name: held\n  finalizers: [{HOLD}]\n"
    )
    source.commit({"d/cm.yaml": held})
    pipeline.write(git_repository(source.url)
                   + kustomization("wft", "./d", deletionPolicy="WaitForTermination",
                                   timeout="1s"))
    assert pipeline.run() == 0, pipeline.output[-1]
    pipeline.write(git_repository(source.url))
    assert pipeline.run() == 0
    [entry] = finalized(pipeline, "wft")
    assert entry["severity"] == "error"
    assert entry["message"] == (
        f"ConfigMap/{ns}/held deleted; failed to wait for resources termination: "
        f"ConfigMap/{ns}/held termination timeout"
    )
    assert pipeline.store.tombstones() == []  # as Flux: logged, and the finalizer removed
    kube.core.patch_namespaced_config_map("held", ns, {"metadata": {"finalizers": None}})


def test_a_failed_deletion_is_kept_and_retried(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    ns = kube.namespace()
    kube.create_namespace(ns)
    kube.core.create_namespaced_service_account(ns, body({"metadata": {"name": "deployer"}}))
    verbs = ["get", "list", "watch", "create", "update", "patch"]  # no delete
    kube.rbac.create_namespaced_role(ns, body({
        "metadata": {"name": "cm"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": verbs}],
    }))
    kube.rbac.create_namespaced_role_binding(ns, body({
        "metadata": {"name": "deployer-cm"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm"},
        "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": ns}],
    }))
    source.commit({"d/cm.yaml": config_map(ns, "x", {})})
    flux = git_repository(source.url, namespace=ns)
    pipeline.write(flux + kustomization("tenant", "./d", namespace=ns, prune=True,
                                        serviceAccountName="deployer"))
    assert pipeline.run() == 0, pipeline.output[-1]
    pipeline.write(flux)
    pipeline.run()
    assert kube.config_map(ns, "x") is not None
    [entry] = finalized(pipeline, "tenant")
    assert entry["severity"] == "error"
    assert entry["message"].startswith("pruning for deleted resource failed: ")
    assert f"ConfigMap/{ns}/x delete failed (Forbidden)" in entry["message"]
    key = f"Kustomization/{ns}/tenant"
    assert pipeline.store.tombstones() == [key]  # kept, to try again

    kube.rbac.patch_namespaced_role("cm", ns, {"rules": [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": [*verbs, "delete"]}
    ]})
    pipeline.store.make_due(key)  # its retry falls due (the ticker's next second)
    pipeline.tick()
    assert kube.config_map(ns, "x") is None
    assert pipeline.store.tombstones() == []
    assert finalized(pipeline, "tenant")[-1]["message"] == f"ConfigMap/{ns}/x deleted"


def test_a_kustomization_in_a_manifest_that_does_not_parse_is_not_finalized(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    ns = kube.namespace()
    kube.create_namespace(ns)
    source.commit({"d/cm.yaml": config_map(ns, "x", {})})
    pipeline.write(git_repository(source.url), "source.yaml")
    pipeline.write(kustomization("app", "./d", prune=True), "app.yaml")
    assert pipeline.run() == 0, pipeline.output[-1]
    pipeline.write(kustomization("app", "./d", prune=True) + "  broken: [\n", "app.yaml")
    pipeline.run()
    assert kube.config_map(ns, "x") is not None  # not taken for a deletion
    assert pipeline.store.tombstones() == []
    assert finalized(pipeline, "app") == []
    pipeline.write(kustomization("app", "./d", prune=True), "app.yaml")
    assert pipeline.run() == 0, pipeline.output[-1]


def test_a_kustomization_back_before_its_finalizer_ran_keeps_its_objects(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    """Deleted and back between two runs of the applier: nothing to finalize."""
    from conveyor.shared.sources import ManifestSource

    ns = setup(kube, source, pipeline, "back", prune=True)
    with_it = git_repository(source.url) + kustomization("back", "./back", prune=True)
    pipeline.write(git_repository(source.url))
    ManifestSource(pipeline.directory).refresh(pipeline.store, force=True)
    assert pipeline.store.tombstones() == ["Kustomization/flux-system/back"]
    pipeline.write(with_it)
    assert pipeline.run() == 0, pipeline.output[-1]
    assert pipeline.store.tombstones() == []
    assert kube.config_map(ns, "a") is not None
    assert finalized(pipeline, "back") == []
