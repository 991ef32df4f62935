"""Pure pieces of the applier: inventory ids, apply order, drift comparison, the no-op proof,
kstatus health rules, in-cluster configuration."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from conveyor.services.applier import health
from conveyor.services.applier.objects import (
    any_in_metadata,
    apply_is_noop,
    has_drifted,
    masked_pair,
    ref_of,
    sort_objects,
    with_metadata,
)
from conveyor.shared.runtime import Settings
from conveyor.shared.status import ObjRef

# --- inventory ids ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "entry"),
    [
        (ObjRef("apps", "Deployment", "default", "web"), "default_web_apps_Deployment"),
        (ObjRef("", "ConfigMap", "ns", "c"), "ns_c__ConfigMap"),
        (ObjRef("", "Namespace", "", "ns"), "_ns__Namespace"),
        (
            ObjRef("rbac.authorization.k8s.io", "ClusterRole", "", "system:viewer"),
            "_system__viewer_rbac.authorization.k8s.io_ClusterRole",
        ),
        (
            ObjRef("apiextensions.k8s.io", "CustomResourceDefinition", "", "a.b.io"),
            "_a.b.io_apiextensions.k8s.io_CustomResourceDefinition",
        ),
    ],
)
def test_inventory_entry_ids_are_cli_utils_obj_metadata(ref: ObjRef, entry: str) -> None:
    assert ref.id == entry
    assert ObjRef.parse(entry) == ref


def test_display_names_are_flux_fmt_obj_metadata() -> None:
    assert str(ObjRef("apps", "Deployment", "default", "web")) == "Deployment/default/web"
    assert str(ObjRef("", "Namespace", "", "apps")) == "Namespace/apps"


@pytest.mark.parametrize("bad", ["", "no-separators", "ns_name"])
def test_invalid_inventory_ids(bad: str) -> None:
    with pytest.raises(ValueError):
        ObjRef.parse(bad)


def test_apply_order_is_flux_kind_order() -> None:
    def obj(kind: str, name: str, api: str = "v1", ns: str | None = "n") -> dict[str, Any]:
        return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": ns}}

    objs = [
        obj("ValidatingWebhookConfiguration", "hook", "admissionregistration.k8s.io/v1", None),
        obj("Deployment", "b", "apps/v1"),
        obj("Widget", "w", "example.com/v1"),
        obj("Service", "s"),
        obj("Deployment", "a", "apps/v1"),
        obj("ConfigMap", "c"),
        obj("Namespace", "n", ns=None),
        obj("CustomResourceDefinition", "w.example.com", "apiextensions.k8s.io/v1", None),
    ]
    assert [str(ref_of(o)) for o in sort_objects(objs)] == [
        "CustomResourceDefinition/w.example.com",
        "Namespace/n",
        "ConfigMap/n/c",
        "Service/n/s",
        "Deployment/n/a",
        "Deployment/n/b",
        "Widget/n/w",
        "ValidatingWebhookConfiguration/hook",
    ]


def test_metadata_selectors_match_labels_or_annotations() -> None:
    obj = {"metadata": {"labels": {"a": "1"}, "annotations": {"b": "2"}}}
    assert any_in_metadata(obj, {"a": "1"}) and any_in_metadata(obj, {"b": "2"})
    assert not any_in_metadata(obj, {"a": "2"}) and not any_in_metadata(None, {"a": "1"})
    out = with_metadata([obj], {"c": "3"}, {})
    assert out[0]["metadata"]["labels"] == {"a": "1", "c": "3"}
    assert obj["metadata"]["labels"] == {"a": "1"}  # a copy


# --- drift -----------------------------------------------------------------------------------

LIVE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {
        "name": "c",
        "namespace": "n",
        "resourceVersion": "10",
        "labels": {"app": "x"},
        "managedFields": [
            {
                "manager": "conveyor",
                "operation": "Apply",
                "apiVersion": "v1",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {"f:k": {}}, "f:metadata": {"f:labels": {"f:app": {}}}},
            }
        ],
    },
    "data": {"k": "v"},
}


def test_has_drifted_compares_labels_annotations_and_body_not_bookkeeping() -> None:
    dry = copy.deepcopy(LIVE)
    dry["metadata"]["managedFields"] = []  # bookkeeping differs: not drift
    assert not has_drifted(LIVE, dry)
    dry["data"]["k"] = "w"
    assert has_drifted(LIVE, dry)
    dry = copy.deepcopy(LIVE)
    dry["metadata"]["labels"]["extra"] = "1"
    assert has_drifted(LIVE, dry)
    dry = copy.deepcopy(LIVE)
    del dry["metadata"]["resourceVersion"]  # the dry run creates it
    assert has_drifted(LIVE, dry)
    assert has_drifted(None, LIVE)


DESIRED = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "c", "namespace": "n", "labels": {"app": "x"}},
    "data": {"k": "v"},
}


@pytest.mark.parametrize(
    ("change", "noop"),
    [
        pytest.param(lambda d, live: None, True, id="same"),
        pytest.param(lambda d, live: d["data"].update(k="w"), False, id="value-changed-in-git"),
        pytest.param(lambda d, live: live["data"].update(k="w"), False, id="value-changed-live"),
        pytest.param(lambda d, live: d["data"].update(x="1"), False, id="field-added-in-git"),
        pytest.param(lambda d, live: d["metadata"].pop("labels"), False, id="field-removed"),
        pytest.param(
            lambda d, live: live["metadata"]["labels"].update(other="1"),
            True,
            id="someone-elses-label",
        ),
        pytest.param(
            lambda d, live: live["metadata"]["managedFields"][0].update(operation="Update"),
            False,
            id="not-an-apply",
        ),
        pytest.param(  # kubectl edit took data.k over: conveyor's set no longer has it
            lambda d, live: live["metadata"]["managedFields"][0]["fieldsV1"].pop("f:data"),
            False,
            id="field-taken-over",
        ),
        pytest.param(
            lambda d, live: live["metadata"].update(managedFields=[]), False, id="never-applied"
        ),
    ],
)
def test_apply_is_noop(change: Any, noop: bool) -> None:
    desired, live = copy.deepcopy(DESIRED), copy.deepcopy(LIVE)
    change(desired, live)
    assert apply_is_noop(desired, live, "conveyor") is noop


def test_apply_is_noop_matches_list_items_by_key_with_server_defaults() -> None:
    desired: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "n"},
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "app", "ports": [{"containerPort": 80}]}]}
            }
        },
    }
    fields: dict[str, Any] = {
        "f:spec": {
            "f:template": {
                "f:spec": {
                    "f:containers": {
                        'k:{"name":"app"}': {
                            ".": {},
                            "f:name": {},
                            "f:ports": {
                                'k:{"containerPort":80,"protocol":"TCP"}': {
                                    ".": {},
                                    "f:containerPort": {},
                                }
                            },
                        }
                    }
                }
            }
        }
    }
    live = copy.deepcopy(desired)
    live["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] = "TCP"
    live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Always"
    live["metadata"]["managedFields"] = [
        {"manager": "conveyor", "operation": "Apply", "apiVersion": "apps/v1",
         "fieldsType": "FieldsV1", "fieldsV1": fields}
    ]
    assert apply_is_noop(desired, live, "conveyor")
    live["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = 81
    assert not apply_is_noop(desired, live, "conveyor")


def test_secrets_are_masked_in_diffs() -> None:
    old = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
           "data": {"a": "MQ==", "b": "Mg=="}}
    new = {**old, "data": {"a": "MQ==", "b": "Mw=="}}
    left, right = masked_pair(old, new)
    assert left["data"] == {"a": "*****", "b": "*** (before)"}
    assert right["data"] == {"a": "*****", "b": "*** (after)"}


# --- health ----------------------------------------------------------------------------------


def deployment_status(**status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "generation": 2},
        "spec": {"replicas": 2},
        "status": status,
    }


AVAILABLE = [
    {"type": "Available", "status": "True"},
    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
]


@pytest.mark.parametrize(
    ("obj", "status", "message"),
    [
        pytest.param(deployment_status(), "InProgress", "Replicas: 0/2", id="deploy-fresh"),
        pytest.param(
            deployment_status(observedGeneration=1, replicas=2),
            "InProgress",
            "Deployment generation is 2, but latest observed generation is 1",
            id="deploy-generation-not-observed",
        ),
        pytest.param(
            deployment_status(observedGeneration=2, replicas=2, updatedReplicas=1),
            "InProgress",
            "Updated: 1/2",
            id="deploy-rolling",
        ),
        pytest.param(
            deployment_status(observedGeneration=2, replicas=2, updatedReplicas=2,
                              readyReplicas=2, availableReplicas=1),
            "InProgress",
            "Available: 1/2",
            id="deploy-not-available",
        ),
        pytest.param(
            deployment_status(observedGeneration=2, replicas=2, updatedReplicas=2,
                              readyReplicas=2, availableReplicas=2, conditions=AVAILABLE),
            "Current",
            "Deployment is available. Replicas: 2",
            id="deploy-ready",
        ),
        pytest.param(
            deployment_status(conditions=[{"type": "Progressing", "status": "False",
                                           "reason": "ProgressDeadlineExceeded"}]),
            "Failed",
            "Progress deadline exceeded",
            id="deploy-deadline",
        ),
        pytest.param(
            {"apiVersion": "apps/v1", "kind": "StatefulSet",
             "metadata": {"name": "s", "generation": 1},
             "spec": {"replicas": 1},
             "status": {"observedGeneration": 1, "replicas": 1, "readyReplicas": 1,
                        "currentReplicas": 1, "currentRevision": "a", "updateRevision": "b"}},
            "InProgress",
            "Waiting for updated revision to match current",
            id="sts-revision",
        ),
        pytest.param(
            {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds",
                                                                         "generation": 1},
             "status": {"observedGeneration": 1, "desiredNumberScheduled": 3,
                        "currentNumberScheduled": 3, "updatedNumberScheduled": 3,
                        "numberAvailable": 3, "numberReady": 2}},
            "InProgress",
            "Ready: 2/3",
            id="ds-not-ready",
        ),
        pytest.param(
            {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds",
                                                                         "generation": 1},
             "status": {}},
            "InProgress",
            "DaemonSet status.observedGeneration not found",
            id="ds-unobserved",
        ),
        pytest.param(
            {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
             "status": {"startTime": "t", "active": 1}},
            "InProgress",
            "Job in progress",
            id="job-running-is-not-healthy-in-flux",
        ),
        pytest.param(
            {"apiVersion": "example.com/v1", "kind": "Db", "metadata": {"name": "db"},
             "status": {"conditions": [{"type": "Ready", "status": "False",
                                        "message": "booting"}]}},
            "InProgress",
            "booting",
            id="cr-ready-false",
        ),
        pytest.param(
            {"apiVersion": "example.com/v1", "kind": "Db", "metadata": {"name": "db"},
             "status": {"conditions": [{"type": "Stalled", "status": "True",
                                        "message": "bad spec"}]}},
            "Failed",
            "bad spec",
            id="cr-stalled",
        ),
        pytest.param(
            {"apiVersion": "example.com/v1", "kind": "Db", "metadata": {"name": "db"}},
            "Current",
            "Resource is current",
            id="cr-without-status",
        ),
        pytest.param(
            {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "c", "deletionTimestamp": "t"}},
            "Terminating",
            "Resource scheduled for deletion",
            id="terminating",
        ),
    ],
)
def test_health_follows_kstatus(obj: dict[str, Any], status: str, message: str) -> None:
    result = health.compute(obj)
    assert (result.status, result.message) == (status, message)


def test_health_of_a_missing_object() -> None:
    assert health.compute(None).status == "NotFound"


# --- settings --------------------------------------------------------------------------------


def test_in_cluster_config_when_kubeconfig_is_unset_inside_a_pod() -> None:
    pod = {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}
    settings = Settings.from_environment(pod)
    assert settings.in_cluster and settings.kubeconfig is None
    settings = Settings.from_environment({**pod, "KUBECONFIG": "/etc/kube/config"})
    assert not settings.in_cluster and settings.kubeconfig == "/etc/kube/config"
    assert not Settings.from_environment({}).in_cluster
    assert Settings.from_environment(pod, kubeconfig="/k").kubeconfig == "/k"


def test_cluster_target_in_cluster_and_impersonation() -> None:
    from typing import cast

    from conveyor.services.applier.reconcile import cluster_target
    from conveyor.shared.adapters.kube import Target
    from conveyor.shared.bus import InlineDispatcher
    from conveyor.shared.manifests import parse_manifests
    from conveyor.shared.models import Kustomization
    from conveyor.shared.runtime import Context
    from conveyor.shared.store import Store

    [obj] = parse_manifests(
        """
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: tenant}
spec:
  interval: 5m
  sourceRef: {kind: GitRepository, name: app}
  serviceAccountName: deployer
"""
    )
    assert isinstance(obj, Kustomization)
    store = cast(Store, None)  # not consulted without spec.kubeConfig

    def ctx(settings: Settings) -> Context:
        return Context(store=store, dispatcher=InlineDispatcher(), settings=settings)

    assert cluster_target(obj, ctx(Settings(in_cluster=True))) == Target(
        in_cluster=True, impersonate="system:serviceaccount:tenant:deployer"
    )
    assert cluster_target(obj, ctx(Settings())) is None
    assert cluster_target(obj, ctx(Settings(kubeconfig="/k"))) == Target(
        kubeconfig="/k", impersonate="system:serviceaccount:tenant:deployer"
    )
