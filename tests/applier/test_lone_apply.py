"""A lone change is applied without its dry run, on a real kube-apiserver.

When every object of a set but one is provably unchanged, and that one was applied before,
``Manager.apply`` applies it at once: the request count drops by one, and the change set, the
resourceVersion and the validation errors are what the dry run would have given.
"""

from __future__ import annotations

import copy
from typing import Any

from conveyor.services.applier.manager import CONFIGURED, CREATED, SKIPPED, UNCHANGED, Manager
from conveyor.shared.adapters import kube as adapter
from tests.applier.conftest import Kube
from tests.fixtures.controlplane import ControlPlane

Obj = dict[str, Any]


class Counting:
    """The real cluster adapter, with its applies written down as (name, dry_run)."""

    def __init__(self, cluster: adapter.Cluster) -> None:
        self.cluster = cluster
        self.applies: list[tuple[str, bool]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cluster, name)

    def apply(self, res: Any, obj: Obj, *, dry_run: bool = False, force: bool = True) -> Obj:
        self.applies.append((obj["metadata"]["name"], dry_run))
        return self.cluster.apply(res, obj, dry_run=dry_run, force=force)


def config_map(ns: str, name: str, value: str, annotations: dict[str, str] | None = None) -> Obj:
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": value}}


def setup(control_plane: ControlPlane, kube: Kube) -> tuple[Counting, Manager, str]:
    ns = kube.namespace("lone")
    kube.create_namespace(ns)
    cluster = adapter.Cluster(
        adapter._new_client(adapter.Target(str(control_plane.kubeconfig))), "t"
    )
    counting = Counting(cluster)
    manager = Manager(counting, "app", "flux-system")
    return counting, manager, ns


def labelled(obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    out["metadata"]["labels"] = {
        "kustomize.toolkit.fluxcd.io/name": "app",
        "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
    }
    return out


def test_a_lone_change_is_applied_once_and_reported_configured(
    control_plane: ControlPlane, kube: Kube
) -> None:
    counting, manager, ns = setup(control_plane, kube)
    first = [labelled(config_map(ns, "a", "1")), labelled(config_map(ns, "b", "1"))]
    changes = manager.apply(first)
    assert sorted(c.action for c in changes) == [CREATED, CREATED]
    assert sorted(counting.applies) == [("a", False), ("a", True), ("b", False), ("b", True)]

    counting.applies.clear()
    before = kube.config_map(ns, "b")
    second = [labelled(config_map(ns, "a", "1")), labelled(config_map(ns, "b", "2"))]
    changes = manager.apply(second)
    assert {str(c.ref.name): c.action for c in changes} == {"a": UNCHANGED, "b": CONFIGURED}
    assert counting.applies == [("b", False)]  # no dry run: the check was the apply
    after = kube.config_map(ns, "b")
    assert after is not None and before is not None and after["data"] == {"k": "2"}
    assert after["metadata"]["resourceVersion"] != before["metadata"]["resourceVersion"]


def deployment(ns: str, name: str, cpu: str) -> Obj:
    container = {"name": "app", "image": "nginx", "resources": {"limits": {"cpu": cpu}}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container]},
            },
        },
    }


def test_a_lone_apply_that_changes_nothing_is_unchanged_and_writes_nothing(
    control_plane: ControlPlane, kube: Kube
) -> None:
    counting, manager, ns = setup(control_plane, kube)
    # the API server keeps "1000m" as "1": not provably a no-op here, so the API server is asked
    manager.apply([labelled(deployment(ns, "web", "1000m"))])
    before = kube.deployment(ns, "web")
    counting.applies.clear()
    changes = manager.apply([labelled(deployment(ns, "web", "1000m"))])
    assert [c.action for c in changes] == [UNCHANGED]
    assert counting.applies == [("web", False)]
    after = kube.deployment(ns, "web")
    assert before is not None and after is not None
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_a_lone_invalid_change_is_refused_as_its_dry_run_would_be(
    control_plane: ControlPlane, kube: Kube
) -> None:
    counting, manager, ns = setup(control_plane, kube)
    manager.apply([labelled(config_map(ns, "a", "1"))])
    counting.applies.clear()
    bad = labelled(config_map(ns, "a", "2"))
    bad["metadata"]["labels"]["bad label"] = "x"  # not a valid label key
    plan = manager.plan([bad], lone=True)
    assert plan.errors and f"ConfigMap/{ns}/a dry-run failed (Invalid)" in plan.errors[0]
    assert kube.config_map(ns, "a")["data"] == {"k": "1"}  # type: ignore[index]


def test_two_changes_are_dry_run_first(control_plane: ControlPlane, kube: Kube) -> None:
    counting, manager, ns = setup(control_plane, kube)
    manager.apply([labelled(config_map(ns, "a", "1")), labelled(config_map(ns, "b", "1"))])
    counting.applies.clear()
    manager.apply([labelled(config_map(ns, "a", "2")), labelled(config_map(ns, "b", "2"))])
    assert sorted(counting.applies) == [("a", False), ("a", True), ("b", False), ("b", True)]


def test_if_not_present_is_never_applied_by_the_lone_path(
    control_plane: ControlPlane, kube: Kube
) -> None:
    counting, manager, ns = setup(control_plane, kube)
    seed = "kustomize.toolkit.fluxcd.io/ssa"
    manager.apply([labelled(config_map(ns, "a", "1", {seed: "IfNotPresent"}))])
    counting.applies.clear()
    changes = manager.apply([labelled(config_map(ns, "a", "2", {seed: "IfNotPresent"}))])
    assert [c.action for c in changes] == [SKIPPED]
    assert ("a", False) not in counting.applies
    assert kube.config_map(ns, "a")["data"] == {"k": "1"}  # type: ignore[index]


def test_a_plan_alone_never_applies(control_plane: ControlPlane, kube: Kube) -> None:
    counting, manager, ns = setup(control_plane, kube)
    manager.apply([labelled(config_map(ns, "a", "1"))])
    counting.applies.clear()
    plan = manager.plan([labelled(config_map(ns, "a", "2"))])  # `conveyor diff`'s call
    assert [c.action for c in plan.changes()] == [CONFIGURED]
    assert counting.applies == [("a", True)]
    assert kube.config_map(ns, "a")["data"] == {"k": "1"}  # type: ignore[index]
