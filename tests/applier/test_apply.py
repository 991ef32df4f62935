"""The applier on a real kube-apiserver: apply, inventory, prune, drift, validation, force, RBAC.

Each test pushes manifests to its own Git repository, runs the pipeline's loop in this process
(``conveyor run --once``: fetch, then apply) and reads the cluster back with the kubernetes
client. Every test uses namespaces of its own.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

import pytest
import yaml

from tests.applier.conftest import Kube, Pipeline, Source, body, git_repository, kustomization

OWNER = "kustomize.toolkit.fluxcd.io"


def config_map(ns: str, name: str, data: dict[str, str], annotations: str = "") -> str:
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns},
        "data": data,
    }
    if annotations:
        body["metadata"]["annotations"] = yaml.safe_load(annotations)  # type: ignore[index]
    return "---\n" + yaml.safe_dump(body)


def deployment(name: str, image: str, *, replicas: int = 1, ns: str | None = None) -> str:
    meta = {"name": name, **({"namespace": ns} if ns else {})}
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }
    return "---\n" + yaml.safe_dump(body)


def revision(commit: str) -> str:
    return f"master@sha1:{commit}"


# --- apply and inventory ---------------------------------------------------------------------


def test_applies_with_owner_labels_and_records_flux_inventory(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    ns = kube.namespace()
    commit = source.commit(
        {
            "deploy/namespace.yaml": f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n",
            "deploy/app.yaml": deployment("web", "nginx:1.25", ns=ns)
            + config_map(ns, "settings", {"mode": "blue"}),
        }
    )
    pipeline.write(git_repository(source.url) + kustomization("apps", "./deploy", prune=True))
    assert pipeline.run() == 0, pipeline.output[-1]

    ready = pipeline.ready("apps")
    assert (ready.status, ready.reason) == ("True", "ReconciliationSucceeded")
    assert ready.message == f"Applied revision: {revision(commit)}"
    status = pipeline.status("apps")
    assert status.last_applied_revision == status.last_attempted_revision == revision(commit)
    # Flux's inventory: <namespace>_<name>_<group>_<kind>, version beside it, in apply order
    assert status.inventory is not None
    assert [(e.id, e.v) for e in status.inventory.entries] == [
        (f"_{ns}__Namespace", "v1"),
        (f"{ns}_settings__ConfigMap", "v1"),
        (f"{ns}_web_apps_Deployment", "v1"),
    ]
    dep = kube.deployment(ns, "web")
    assert dep is not None
    assert dep["metadata"]["labels"] == {
        f"{OWNER}/name": "apps",
        f"{OWNER}/namespace": "flux-system",
    }
    managers = {m["manager"]: m["operation"] for m in dep["metadata"]["managedFields"]}
    assert managers == {"conveyor": "Apply"}
    # the selector and pod template are the user's: owner labels go on metadata only
    assert dep["spec"]["selector"]["matchLabels"] == {"app": "web"}
    assert status.history and status.history[0].last_reconciled_status == "ReconciliationSucceeded"
    assert status.history[0].metadata == {"revision": revision(commit)}

    # an unchanged re-apply writes nothing
    before = dep["metadata"]["resourceVersion"]
    count = status.history[0].total_reconciliations
    assert pipeline.run() == 0
    after = kube.deployment(ns, "web")
    assert after is not None and after["metadata"]["resourceVersion"] == before
    again = pipeline.status("apps").history
    assert again is not None and again[0].total_reconciliations == count + 1


def test_build_overlay_target_namespace_prefix_images_patches_common_metadata(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    ns = kube.namespace()
    kube.create_namespace(ns)
    source.commit(
        {
            "app/kustomization.yaml": "resources: [app.yaml]\n",
            "app/app.yaml": deployment("web", "registry.example/web:1.0", replicas=1)
            + config_map("elsewhere", "conf", {"k": "v"}),
        }
    )
    spec: dict[str, Any] = {
        "targetNamespace": ns,
        "namePrefix": "blue-",
        "images": [{"name": "registry.example/web", "newTag": "2.0"}],
        "patches": [
            {
                "target": {"kind": "Deployment"},
                "patch": "- op: replace\n  path: /spec/replicas\n  value: 3\n",
            }
        ],
        "commonMetadata": {"labels": {"team": "payments"}, "annotations": {"owner": "ops"}},
    }
    pipeline.write(git_repository(source.url) + kustomization("overlay", "./app", **spec))
    assert pipeline.run() == 0, pipeline.output[-1]
    dep = kube.deployment(ns, "blue-web")
    assert dep is not None
    assert dep["spec"]["replicas"] == 3
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/web:2.0"
    assert dep["metadata"]["labels"]["team"] == "payments"
    assert dep["metadata"]["annotations"]["owner"] == "ops"
    # commonMetadata is metadata only, as Flux: not the pod template, not the selector
    assert "team" not in dep["spec"]["template"]["metadata"]["labels"]
    assert kube.config_map(ns, "blue-conf") is not None  # targetNamespace wins over the file's


# --- prune -----------------------------------------------------------------------------------


def test_prune_deletes_what_git_removed_but_keeps_prune_disabled(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    ns = kube.namespace()
    kube.create_namespace(ns)
    source.commit(
        {
            "deploy/a.yaml": config_map(ns, "keep", {"k": "1"}),
            "deploy/b.yaml": config_map(ns, "gone", {"k": "1"}),
            "deploy/c.yaml": config_map(
                ns, "precious", {"k": "1"}, f"{OWNER}/prune: disabled"
            ),
        }
    )
    pipeline.write(git_repository(source.url) + kustomization("prune", "./deploy", prune=True))
    assert pipeline.run() == 0, pipeline.output[-1]
    assert all(kube.config_map(ns, n) for n in ("keep", "gone", "precious"))

    commit = source.commit({"deploy/b.yaml": None, "deploy/c.yaml": None}, "remove two")
    assert pipeline.run() == 0, pipeline.output[-1]
    assert kube.config_map(ns, "keep") is not None
    assert kube.config_map(ns, "gone") is None
    assert kube.config_map(ns, "precious") is not None  # annotated prune: disabled
    status = pipeline.status("prune")
    assert status.last_applied_revision == revision(commit)
    assert status.inventory is not None
    assert [e.id for e in status.inventory.entries] == [f"{ns}_keep__ConfigMap"]


def test_prune_false_leaves_removed_objects(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    ns = kube.namespace()
    kube.create_namespace(ns)
    source.commit({"d/a.yaml": config_map(ns, "a", {}), "d/b.yaml": config_map(ns, "b", {})})
    pipeline.write(git_repository(source.url) + kustomization("noprune", "./d", prune=False))
    assert pipeline.run() == 0
    source.commit({"d/b.yaml": None})
    assert pipeline.run() == 0
    assert kube.config_map(ns, "b") is not None
    inventory = pipeline.status("noprune").inventory
    assert inventory is not None and [e.id for e in inventory.entries] == [f"{ns}_a__ConfigMap"]


def test_prune_never_deletes_what_another_kustomization_owns(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    ns = kube.namespace()
    kube.create_namespace(ns)
    shared = config_map(ns, "shared", {"k": "v"})
    source.commit({"one/shared.yaml": shared, "two/shared.yaml": shared})
    pipeline.write(
        git_repository(source.url)
        + kustomization("one", "./one", prune=True)
        + kustomization("two", "./two", prune=True)
    )
    assert pipeline.run() == 0, pipeline.output[-1]
    # "two" applied last: the object carries its owner labels now
    cm = kube.config_map(ns, "shared")
    assert cm is not None and cm["metadata"]["labels"][f"{OWNER}/name"] == "two"

    source.commit({"one/shared.yaml": None, "one/other.yaml": config_map(ns, "other", {})})
    assert pipeline.run() == 0, pipeline.output[-1]
    assert kube.config_map(ns, "shared") is not None  # "one" pruned it, but "two" owns it
    inventory = pipeline.status("one").inventory
    assert inventory is not None and [e.id for e in inventory.entries] == [f"{ns}_other__ConfigMap"]


# --- drift -----------------------------------------------------------------------------------


def test_a_hand_edit_is_undone_at_the_next_interval_and_recorded(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    ns = kube.namespace()
    kube.create_namespace(ns)
    commit = source.commit({"d/app.yaml": deployment("web", "nginx:1.25", ns=ns)})
    pipeline.write(git_repository(source.url) + kustomization("drift", "./d"))
    assert pipeline.run() == 0, pipeline.output[-1]

    # someone edits the image by hand (kubectl set image: an update by another manager)
    kube.apps.patch_namespaced_deployment(
        "web",
        ns,
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "evil:1"}]}}}},
        field_manager="kubectl-set",
    )
    assert kube.image(ns, "web") == "evil:1"

    pipeline.tick()  # the interval elapsed: same revision, applied again
    assert kube.image(ns, "web") == "nginx:1.25"
    ready = pipeline.ready("drift")
    assert ready.status == "True"
    assert ready.message == (
        f"Applied revision: {revision(commit)}; drift corrected: Deployment/{ns}/web configured"
    )
    journal = [e for e in pipeline.store.journal() if e["type"] == "DriftCorrected"]
    assert [(e["name"], e["objects"], e["revision"]) for e in journal] == [
        ("drift", [f"Deployment/{ns}/web configured"], revision(commit))
    ]
    dep = kube.deployment(ns, "web")
    assert dep is not None
    owner_of_image = [
        m["manager"]
        for m in dep["metadata"]["managedFields"]
        if "f:image" in json.dumps(m.get("fieldsV1", {}))
    ]
    assert owner_of_image == ["conveyor"]

    # a deleted object is drift too: it comes back
    kube.apps.delete_namespaced_deployment("web", ns)
    pipeline.store.make_due("Kustomization/flux-system/drift")
    pipeline.tick()
    assert kube.image(ns, "web") == "nginx:1.25"
    assert "drift corrected: Deployment" in pipeline.ready("drift").message

    # nothing changed by hand: nothing to report
    pipeline.store.make_due("Kustomization/flux-system/drift")
    pipeline.tick()
    assert pipeline.ready("drift").message == f"Applied revision: {revision(commit)}"


def test_a_git_change_is_not_called_drift(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    ns = kube.namespace()
    kube.create_namespace(ns)
    source.commit({"d/app.yaml": deployment("web", "nginx:1.25", ns=ns)})
    pipeline.write(git_repository(source.url) + kustomization("git", "./d"))
    assert pipeline.run() == 0
    commit = source.commit({"d/app.yaml": deployment("web", "nginx:1.26", ns=ns)})
    assert pipeline.run() == 0
    assert kube.image(ns, "web") == "nginx:1.26"
    assert pipeline.ready("git").message == f"Applied revision: {revision(commit)}"
    assert not [e for e in pipeline.store.journal() if e["type"] == "DriftCorrected"]


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "api_message"),
    [
        pytest.param(
            {"spec": {"replicas": -1}},
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
            id="invalid-value",
        ),
        pytest.param(
            {"spec": {"template": {"spec": {"containers": [{"name": "app", "imag": "x"}]}}}},
            'field not declared in schema',
            id="unknown-field",
        ),
    ],
)
def test_an_invalid_object_applies_nothing_of_the_revision(
    kube: Kube, source: Source, pipeline: Pipeline, bad: dict[str, object], api_message: str
) -> None:
    ns = kube.namespace()
    kube.create_namespace(ns)
    first = source.commit(
        {
            "d/cm.yaml": config_map(ns, "settings", {"mode": "blue"}),
            "d/app.yaml": deployment("web", "nginx:1.25", ns=ns),
        }
    )
    pipeline.write(git_repository(source.url) + kustomization("invalid", "./d"))
    assert pipeline.run() == 0

    broken = yaml.safe_load(deployment("web", "nginx:1.26", ns=ns))

    def merge(into: dict[str, object], patch: dict[str, object]) -> None:
        for key, value in patch.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value)  # type: ignore[arg-type]
            else:
                into[key] = value

    merge(broken, bad)
    second = source.commit(
        {
            "d/cm.yaml": config_map(ns, "settings", {"mode": "green"}),
            "d/app.yaml": yaml.safe_dump(broken),
        }
    )
    assert pipeline.run() == 1
    ready = pipeline.ready("invalid")
    assert (ready.status, ready.reason) == ("False", "ReconciliationFailed")
    assert f"Deployment/{ns}/web dry-run failed" in ready.message
    assert api_message in ready.message
    assert "nothing of this revision was applied" in ready.message
    # nothing of the second revision reached the cluster, not even the valid ConfigMap
    cm = kube.config_map(ns, "settings")
    assert cm is not None and cm["data"] == {"mode": "blue"}
    assert kube.image(ns, "web") == "nginx:1.25"
    status = pipeline.status("invalid")
    assert status.last_applied_revision == revision(first)
    assert status.last_attempted_revision == revision(second)
    assert pipeline.status("invalid").condition("Stalled") is None  # a new commit is retried


def test_a_namespaced_object_without_namespace_is_refused(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    ns = kube.namespace()
    kube.create_namespace(ns)
    source.commit(
        {"d/cm.yaml": config_map(ns, "fine", {}), "d/app.yaml": deployment("web", "nginx")}
    )
    pipeline.write(git_repository(source.url) + kustomization("nons", "./d"))
    assert pipeline.run() == 1
    assert "Deployment/web namespace not specified" in pipeline.ready("nons").message
    assert kube.config_map(ns, "fine") is None


def test_force_recreates_an_object_whose_immutable_field_changed(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    ns = kube.namespace()
    kube.create_namespace(ns)
    source.commit({"d/app.yaml": deployment("web", "nginx", ns=ns)})
    flux = git_repository(source.url)
    pipeline.write(flux + kustomization("force", "./d"))
    assert pipeline.run() == 0
    uid = kube.deployment(ns, "web")["metadata"]["uid"]  # type: ignore[index]

    moved = yaml.safe_load(deployment("web", "nginx", ns=ns))
    moved["spec"]["selector"]["matchLabels"] = {"app": "web2"}
    moved["spec"]["template"]["metadata"]["labels"] = {"app": "web2"}
    source.commit({"d/app.yaml": yaml.safe_dump(moved)})
    assert pipeline.run() == 1
    message = pipeline.ready("force").message
    assert "field is immutable" in message and "spec.force" in message

    pipeline.write(flux + kustomization("force", "./d", force=True))
    assert pipeline.run() == 0, pipeline.output[-1]
    dep = kube.deployment(ns, "web")
    assert dep is not None and dep["spec"]["selector"]["matchLabels"] == {"app": "web2"}
    assert dep["metadata"]["uid"] != uid


def test_ssa_annotations_if_not_present_and_ignore(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    ns = kube.namespace()
    kube.create_namespace(ns)
    source.commit(
        {
            "d/seed.yaml": config_map(ns, "seed", {"k": "git"}, f"{OWNER}/ssa: IfNotPresent"),
            "d/ignored.yaml": config_map(ns, "ignored", {"k": "git"}, f"{OWNER}/ssa: Ignore"),
        }
    )
    pipeline.write(git_repository(source.url) + kustomization("ssa", "./d"))
    assert pipeline.run() == 0
    assert kube.config_map(ns, "seed")["data"] == {"k": "git"}  # type: ignore[index]
    assert kube.config_map(ns, "ignored") is None
    kube.core.patch_namespaced_config_map("seed", ns, {"data": {"k": "mine"}})
    pipeline.store.make_due("Kustomization/flux-system/ssa")
    pipeline.tick()
    assert kube.config_map(ns, "seed")["data"] == {"k": "mine"}  # type: ignore[index]


def test_crds_first_then_their_custom_resources(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    ns = kube.namespace()
    group = f"{ns}.example.com"
    crd = f"""
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.{group}
spec:
  group: {group}
  scope: Namespaced
  names: {{plural: widgets, singular: widget, kind: Widget}}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {{type: object, properties: {{size: {{type: integer}}}}}}
"""
    widget = f"""
apiVersion: {group}/v1
kind: Widget
metadata: {{name: w1, namespace: {ns}}}
spec: {{size: 3}}
"""
    namespace = f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n"
    source.commit({"d/crd.yaml": crd, "d/widget.yaml": widget, "d/ns.yaml": namespace})
    pipeline.write(git_repository(source.url) + kustomization("crds", "./d", prune=True))
    assert pipeline.run() == 0, pipeline.output[-1]
    got: Any = kube.custom.get_namespaced_custom_object(group, "v1", ns, "widgets", "w1")
    assert got["spec"] == {"size": 3}
    inventory = pipeline.status("crds").inventory
    assert inventory is not None
    assert [e.id for e in inventory.entries][:2] == [
        f"_widgets.{group}_apiextensions.k8s.io_CustomResourceDefinition",
        f"_{ns}__Namespace",
    ]
    # a custom resource with an invalid field: refused, though its CRD exists now
    source.commit({"d/widget.yaml": widget.replace("size: 3", "size: many")})
    assert pipeline.run() == 1
    message = pipeline.ready("crds").message
    assert f"Widget/{ns}/w1 dry-run failed" in message
    assert ".spec.size: expected numeric (int or float), got string" in message


# --- RBAC ------------------------------------------------------------------------------------


def test_a_service_account_without_rights_is_forbidden(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    ns = kube.namespace()
    kube.create_namespace(ns)
    kube.core.create_namespaced_service_account(ns, body({"metadata": {"name": "deployer"}}))
    source.commit({"d/cm.yaml": config_map(ns, "x", {"k": "v"})})
    flux = git_repository(source.url, namespace=ns)
    pipeline.write(
        flux + kustomization("tenant", "./d", namespace=ns, serviceAccountName="deployer")
    )
    assert pipeline.run() == 1
    ready = pipeline.ready("tenant", ns)
    assert (ready.status, ready.reason) == ("False", "ReconciliationFailed")
    assert f"ConfigMap/{ns}/x dry-run failed (Forbidden)" in ready.message
    assert f'User "system:serviceaccount:{ns}:deployer" cannot patch resource "configmaps"' in (
        ready.message
    )
    assert kube.config_map(ns, "x") is None

    # granted rights on ConfigMaps in its namespace (a Role: no controller-manager here
    # aggregates the built-in "edit"), the same account applies
    kube.rbac.create_namespaced_role(
        ns,
        body(
            {
                "metadata": {"name": "configmaps"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}],
            }
        ),
    )
    kube.rbac.create_namespaced_role_binding(
        ns,
        body(
            {
                "metadata": {"name": "deployer-configmaps"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "configmaps",
                },
                "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": ns}],
            }
        ),
    )
    assert pipeline.run() == 0, pipeline.output[-1]
    cm = kube.config_map(ns, "x")
    assert cm is not None and cm["metadata"]["labels"][f"{OWNER}/namespace"] == ns


# --- a remote cluster ------------------------------------------------------------------------


def test_kubeconfig_secret_ref_applies_to_that_cluster(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    ns = kube.namespace()
    kube.create_namespace(ns)
    source.commit({"d/cm.yaml": config_map(ns, "remote", {"k": "v"})})
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "prod-kubeconfig", "namespace": "flux-system"},
        "data": {"value": base64.b64encode(kube.kubeconfig.read_bytes()).decode()},
    }
    pipeline.write(
        git_repository(source.url)
        + "---\n"
        + yaml.safe_dump(secret)
        + kustomization("remote", "./d", kubeConfig={"secretRef": {"name": "prod-kubeconfig"}})
    )
    # no local cluster at all: only the Secret's
    pipeline.settings = dataclasses.replace(pipeline.settings, kubeconfig=None)
    assert pipeline.run() == 0, pipeline.output[-1]
    assert kube.config_map(ns, "remote") is not None
