"""Pure functions over Kubernetes objects as plain dicts: identity, inventory ids, ordering,
Flux's labels and annotations, drift comparison, and display.

Names follow Flux's kustomize-controller and its ``fluxcd/pkg/ssa`` library:

- an object's identity is its group, kind, namespace and name (``ObjRef``); its inventory id is
  cli-utils' ``<namespace>_<name>_<group>_<kind>`` (a ``:`` in the name is written ``__``) and
  the inventory keeps the version beside it (``v``);
- applied objects carry the owner labels ``kustomize.toolkit.fluxcd.io/name`` and
  ``.../namespace``: prune deletes only what carries this Kustomization's labels;
- ``kustomize.toolkit.fluxcd.io/prune: disabled`` keeps an object from being pruned,
  ``.../ssa: Ignore`` keeps it from being applied, ``.../ssa: IfNotPresent`` applies it only
  when it does not exist, ``.../force: enabled`` recreates it on an immutable-field change,
  ``.../reconcile: disabled`` leaves it alone entirely.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from conveyor.shared.status import ObjRef

Obj = dict[str, Any]

GROUP = "kustomize.toolkit.fluxcd.io"
NAME_LABEL = f"{GROUP}/name"
NAMESPACE_LABEL = f"{GROUP}/namespace"
PRUNE_KEY = f"{GROUP}/prune"
SSA_KEY = f"{GROUP}/ssa"
FORCE_KEY = f"{GROUP}/force"
RECONCILE_KEY = f"{GROUP}/reconcile"
SUBSTITUTE_KEY = f"{GROUP}/substitute"
DISABLED = "disabled"
ENABLED = "enabled"

# Flux's selectors (kustomize-controller's apply options), as {key: value} matched against
# labels *or* annotations of the desired or the in-cluster object.
SKIP_APPLY = {RECONCILE_KEY: DISABLED, SSA_KEY: "Ignore"}
IF_NOT_PRESENT = {SSA_KEY: "IfNotPresent"}
FORCE_SELECTOR = {FORCE_KEY: ENABLED}
SKIP_PRUNE = {PRUNE_KEY: DISABLED, RECONCILE_KEY: DISABLED, SSA_KEY: "Ignore"}

# fluxcd/pkg/ssa sort.go: the order objects are applied in (and the reverse for deletion).
_ORDER_FIRST = (
    "CustomResourceDefinition",
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Service",
    "LimitRange",
    "PriorityClass",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
)
_ORDER_LAST = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
_KIND_INDEX = {k: i - len(_ORDER_FIRST) for i, k in enumerate(_ORDER_FIRST)} | {
    k: 1 + i for i, k in enumerate(_ORDER_LAST)
}


def apply_order(ref: ObjRef) -> tuple[int, str, str, str, str]:
    """Where ``ref`` stands in kustomize's apply order (its kind's rank, then its identity)."""
    return (_KIND_INDEX.get(ref.kind, 0), ref.group, ref.kind, ref.namespace, ref.name)


def split_api_version(api_version: str) -> tuple[str, str]:
    """(group, version) of an apiVersion: ``apps/v1`` → (apps, v1), ``v1`` → ("", v1)."""
    group, _, version = api_version.rpartition("/")
    return group, version


def ref_of(obj: Mapping[str, Any]) -> ObjRef:
    meta = obj.get("metadata") or {}
    group, _ = split_api_version(str(obj.get("apiVersion", "")))
    return ObjRef(
        group=group,
        kind=str(obj.get("kind", "")),
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name", "")),
    )


def describe(obj: Mapping[str, Any]) -> str:
    return str(ref_of(obj))


def sort_objects(objects: Iterable[Obj]) -> list[Obj]:
    return sorted(objects, key=lambda o: apply_order(ref_of(o)))


def is_crd(obj: Mapping[str, Any]) -> bool:
    return obj.get("kind") == "CustomResourceDefinition" and str(
        obj.get("apiVersion", "")
    ).startswith("apiextensions.k8s.io/")


def is_namespace(obj: Mapping[str, Any]) -> bool:
    return obj.get("kind") == "Namespace" and obj.get("apiVersion") == "v1"


def is_cluster_definition(obj: Mapping[str, Any]) -> bool:
    """What Flux applies in the first stage: CRDs, Namespaces and ClusterRoles."""
    return (
        is_crd(obj)
        or is_namespace(obj)
        or (
            obj.get("kind") == "ClusterRole"
            and str(obj.get("apiVersion", "")).startswith("rbac.authorization.k8s.io/")
        )
    )


def crd_defines(crd: Mapping[str, Any]) -> tuple[str, str]:
    """(group, kind) of the custom resources a CRD defines."""
    spec = crd.get("spec") or {}
    return str(spec.get("group", "")), str((spec.get("names") or {}).get("kind", ""))


def metadata_map(obj: Mapping[str, Any] | None, field: str) -> dict[str, str]:
    if not obj:
        return {}
    value = (obj.get("metadata") or {}).get(field) or {}
    return {str(k): str(v) for k, v in value.items()}


def any_in_metadata(obj: Mapping[str, Any] | None, selector: Mapping[str, str]) -> bool:
    """True when one of the ``selector`` pairs is among the object's labels or annotations."""
    if not obj or not selector:
        return False
    labels, annotations = metadata_map(obj, "labels"), metadata_map(obj, "annotations")
    return any(labels.get(k) == v or annotations.get(k) == v for k, v in selector.items())


def owner_labels(name: str, namespace: str) -> dict[str, str]:
    return {NAME_LABEL: name, NAMESPACE_LABEL: namespace}


def with_metadata(
    objects: Iterable[Obj], labels: Mapping[str, str], annotations: Mapping[str, str]
) -> list[Obj]:
    """Copies of ``objects`` with ``labels``/``annotations`` set on their own metadata (not on
    pod templates or selectors): Flux's SetOwnerLabels and SetCommonMetadata."""
    out = []
    for obj in objects:
        new = copy.deepcopy(obj)
        meta = new.setdefault("metadata", {})
        if labels:
            meta["labels"] = {**(meta.get("labels") or {}), **labels}
        if annotations:
            meta["annotations"] = {**(meta.get("annotations") or {}), **annotations}
        out.append(new)
    return out


def digest(objects: Iterable[Mapping[str, Any]]) -> str:
    """A stable digest of a set of desired objects (for the reconciliation history)."""
    h = hashlib.sha256()
    for obj in sorted(json.dumps(o, sort_keys=True, separators=(",", ":")) for o in objects):
        h.update(obj.encode())
        h.update(b"\n")
    return "sha256:" + h.hexdigest()


# --- drift ------------------------------------------------------------------------------------


def _body(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def has_drifted(existing: Mapping[str, Any] | None, dry_run: Mapping[str, Any]) -> bool:
    """Whether applying would change the object: fluxcd/pkg/ssa hasDrifted.

    ``dry_run`` is the server-side dry-run result of applying the desired object; it differs
    from ``existing`` (the live object) in labels, annotations or anything outside metadata and
    status exactly when the apply would change something.
    """
    if existing is None or not (dry_run.get("metadata") or {}).get("resourceVersion"):
        return True
    if metadata_map(dry_run, "labels") != metadata_map(existing, "labels"):
        return True
    if metadata_map(dry_run, "annotations") != metadata_map(existing, "annotations"):
        return True
    return _body(dry_run) != _body(existing)


_MISSING = object()


def _same(desired: Any, live: Any, fields: Mapping[str, Any]) -> bool:
    """Whether ``live`` holds ``desired`` and the manager owns exactly ``desired``'s fields
    below this node (``fields``: the manager's managedFields ``fieldsV1`` for this node)."""
    children = {k: v for k, v in fields.items() if k != "."}
    if isinstance(desired, dict):
        if not children:  # an atomic map, or an empty one
            return bool(desired == live)
        if not isinstance(live, dict) or {f"f:{k}" for k in desired} != set(children):
            return False
        return all(_same(v, live.get(k, _MISSING), children[f"f:{k}"]) for k, v in desired.items())
    if isinstance(desired, list):
        if not children:  # an atomic list
            return bool(desired == live)
        if not isinstance(live, list):
            return False
        if all(k.startswith("v:") for k in children):  # a set
            try:
                owned = [json.loads(k[2:]) for k in children]
            except ValueError:
                return False
            return sorted(map(json.dumps, owned)) == sorted(map(json.dumps, desired)) and all(
                v in live for v in desired
            )
        if not all(k.startswith("k:") for k in children) or len(children) != len(desired):
            return False
        try:
            keys = [(json.loads(k[2:]), sub) for k, sub in children.items()]
        except ValueError:
            return False
        for item in desired:
            if not isinstance(item, dict):
                return False
            # the key as the server saw it may hold defaulted fields (a port's protocol)
            match = [
                (key, sub)
                for key, sub in keys
                if isinstance(key, dict) and all(item.get(n, key[n]) == key[n] for n in key)
            ]
            if len(match) != 1:
                return False
            key, sub = match[0]
            found = [
                o for o in live if isinstance(o, dict) and all(o.get(n) == key[n] for n in key)
            ]
            if len(found) != 1 or not _same(item, found[0], sub):
                return False
        return True
    return bool(desired == live)


def apply_is_noop(desired: Mapping[str, Any], live: Mapping[str, Any] | None, manager: str) -> bool:
    """True when server-side applying ``desired`` as ``manager`` provably changes nothing:
    ``manager``'s managed fields in ``live`` are exactly ``desired``'s fields and ``live`` holds
    ``desired``'s values there. Anything else (a value someone changed, a field taken over by
    another manager, a field added to or removed from ``desired``, a value the server
    normalises) answers False, and the caller asks the API server (dry run)."""
    if live is None:
        return False
    entries = [
        m
        for m in (live.get("metadata") or {}).get("managedFields") or []
        if m.get("manager") == manager
    ]
    if len(entries) != 1:
        return False
    entry = entries[0]
    if (
        entry.get("operation") != "Apply"
        or entry.get("subresource")
        or entry.get("apiVersion") != desired.get("apiVersion")
        or entry.get("fieldsType") != "FieldsV1"
    ):
        return False
    fields = entry.get("fieldsV1") or {}
    body = {k: v for k, v in desired.items() if k not in ("apiVersion", "kind")}
    meta = {k: v for k, v in (body.get("metadata") or {}).items() if k not in ("name", "namespace")}
    if meta:
        body["metadata"] = meta
    else:
        body.pop("metadata", None)
    return _same(body, dict(live), fields)


_NOISE = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp")


def for_display(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object as a person compares it: no managedFields, no server bookkeeping, no status,
    Secret values masked."""
    out = copy.deepcopy(dict(obj))
    meta = out.get("metadata") or {}
    for key in _NOISE:
        meta.pop(key, None)
    out.pop("status", None)
    if out.get("kind") == "Secret" and out.get("apiVersion") == "v1":
        for field in ("data", "stringData"):
            if isinstance(out.get(field), dict):
                out[field] = {k: "*****" for k in out[field]}
    return out


def masked_pair(
    existing: Mapping[str, Any], dry_run: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``for_display`` of both sides; for Secrets, values that differ show as different masks
    (Flux's SanitizeUnstructuredData) so the diff says *that* they changed, not to what."""
    left, right = for_display(existing), for_display(dry_run)
    if existing.get("kind") == "Secret":
        for field in ("data", "stringData"):
            old = existing.get(field) or {}
            new = dry_run.get(field) or {}
            for key in set(old) & set(new):
                if old[key] != new[key]:
                    left[field][key] = "*** (before)"
                    right[field][key] = "*** (after)"
    return left, right
