"""Health of an object from its status: kstatus (sigs.k8s.io/cli-utils), as Flux uses it.

``compute(obj)`` gives ``Current`` (healthy), ``InProgress``, ``Failed`` or ``Terminating``, with
a message. The rules are kstatus's: the generic checks first (being deleted; ``generation`` not
yet observed; a ``Reconciling`` or ``Stalled`` condition), then the built-in kinds
(Deployment, StatefulSet, DaemonSet, ReplicaSet, Pod, PVC, Service, CRD), with Flux's own rule
for Jobs (healthy only once ``Complete``; kstatus would accept a running Job).

One addition for custom resources, which kstatus would call Current whenever they carry neither
``Reconciling`` nor ``Stalled``: an object whose status has a ``Ready`` condition is Current only
when ``Ready`` is True (InProgress when False or Unknown). Flux's own kinds follow that
convention, and so do most operators' resources.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CURRENT = "Current"
IN_PROGRESS = "InProgress"
FAILED = "Failed"
TERMINATING = "Terminating"
NOT_FOUND = "NotFound"


@dataclass(frozen=True)
class Health:
    status: str
    message: str

    @property
    def ok(self) -> bool:
        return self.status == CURRENT


def _int(obj: Mapping[str, Any], path: str, default: int) -> int:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return default
        cur = cur[part]
    try:
        return int(cur)
    except (TypeError, ValueError):
        return default


def _str(obj: Mapping[str, Any], path: str, default: str = "") -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return default
        cur = cur[part]
    return str(cur) if cur is not None else default


def _conditions(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    conds = (obj.get("status") or {}).get("conditions") or []
    return [c for c in conds if isinstance(c, Mapping)]


def _condition(obj: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    return next((c for c in _conditions(obj) if c.get("type") == type_), None)


def _generic(obj: Mapping[str, Any]) -> Health | None:
    meta = obj.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return Health(TERMINATING, "Resource scheduled for deletion")
    status = obj.get("status") or {}
    if "generation" in meta and "observedGeneration" in status:
        gen = _int(obj, "metadata.generation", 0)
        observed = _int(obj, "status.observedGeneration", 0)
        if gen != observed:
            return Health(
                IN_PROGRESS,
                f"{obj.get('kind')} generation is {gen}, but latest observed generation is "
                f"{observed}",
            )
    for cond in _conditions(obj):
        if cond.get("type") == "Reconciling" and cond.get("status") == "True":
            return Health(IN_PROGRESS, str(cond.get("message") or "Reconciling"))
        if cond.get("type") == "Stalled" and cond.get("status") == "True":
            return Health(FAILED, str(cond.get("message") or "Stalled"))
    return None


def _deployment(obj: Mapping[str, Any]) -> Health:
    progressing = "progressDeadlineSeconds" not in (obj.get("spec") or {})
    available = False
    for c in _conditions(obj):
        if c.get("type") == "Progressing":
            if c.get("reason") == "ProgressDeadlineExceeded":
                return Health(FAILED, "Progress deadline exceeded")
            if c.get("status") == "True" and c.get("reason") == "NewReplicaSetAvailable":
                progressing = True
        elif c.get("type") == "Available" and c.get("status") == "True":
            available = True
    spec = _int(obj, "spec.replicas", 1)
    replicas = _int(obj, "status.replicas", 0)
    updated = _int(obj, "status.updatedReplicas", 0)
    ready = _int(obj, "status.readyReplicas", 0)
    avail = _int(obj, "status.availableReplicas", 0)
    if spec > replicas:
        return Health(IN_PROGRESS, f"Replicas: {replicas}/{spec}")
    if spec > updated:
        return Health(IN_PROGRESS, f"Updated: {updated}/{spec}")
    if replicas > spec:
        return Health(IN_PROGRESS, f"Pending termination: {replicas - spec}")
    if updated > avail:
        return Health(IN_PROGRESS, f"Available: {avail}/{updated}")
    if spec > ready:
        return Health(IN_PROGRESS, f"Ready: {ready}/{spec}")
    if not progressing:
        return Health(IN_PROGRESS, "ReplicaSet not Available")
    if not available:
        return Health(IN_PROGRESS, "Deployment not Available")
    return Health(CURRENT, f"Deployment is available. Replicas: {replicas}")


def _statefulset(obj: Mapping[str, Any]) -> Health:
    if _str(obj, "spec.updateStrategy.type") == "OnDelete":
        return Health(CURRENT, "StatefulSet is using the ondelete update strategy")
    spec = _int(obj, "spec.replicas", 1)
    ready = _int(obj, "status.readyReplicas", 0)
    current = _int(obj, "status.currentReplicas", 0)
    updated = _int(obj, "status.updatedReplicas", 0)
    replicas = _int(obj, "status.replicas", 0)
    partition = _int(obj, "spec.updateStrategy.rollingUpdate.partition", -1)
    if spec > replicas:
        return Health(IN_PROGRESS, f"Replicas: {replicas}/{spec}")
    if spec > ready:
        return Health(IN_PROGRESS, f"Ready: {ready}/{spec}")
    if replicas > spec:
        return Health(IN_PROGRESS, f"Pending termination: {replicas - spec}")
    if partition != -1:
        if updated < spec - partition:
            return Health(IN_PROGRESS, f"updated: {updated}/{spec - partition}")
        return Health(CURRENT, f"Partition rollout complete. updated: {updated}")
    if spec > current:
        return Health(IN_PROGRESS, f"current: {current}/{spec}")
    if _str(obj, "status.currentRevision") != _str(obj, "status.updateRevision"):
        return Health(IN_PROGRESS, "Waiting for updated revision to match current")
    return Health(CURRENT, f"All replicas scheduled as expected. Replicas: {replicas}")


def _daemonset(obj: Mapping[str, Any]) -> Health:
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    if "generation" not in meta:
        return Health(IN_PROGRESS, "DaemonSet metadata.generation not found")
    if "observedGeneration" not in status:
        return Health(IN_PROGRESS, "DaemonSet status.observedGeneration not found")
    desired = _int(obj, "status.desiredNumberScheduled", -1)
    current = _int(obj, "status.currentNumberScheduled", 0)
    updated = _int(obj, "status.updatedNumberScheduled", 0)
    available = _int(obj, "status.numberAvailable", 0)
    ready = _int(obj, "status.numberReady", 0)
    if desired == -1:
        return Health(IN_PROGRESS, "Missing .status.desiredNumberScheduled")
    if desired > current:
        return Health(IN_PROGRESS, f"Current: {current}/{desired}")
    if desired > updated:
        return Health(IN_PROGRESS, f"Updated: {updated}/{desired}")
    if desired > available:
        return Health(IN_PROGRESS, f"Available: {available}/{desired}")
    if desired > ready:
        return Health(IN_PROGRESS, f"Ready: {ready}/{desired}")
    return Health(CURRENT, f"All replicas scheduled as expected. Replicas: {desired}")


def _replicaset(obj: Mapping[str, Any]) -> Health:
    for c in _conditions(obj):
        if c.get("type") == "ReplicaFailure" and c.get("status") == "True":
            return Health(IN_PROGRESS, "Replica Failure condition. Check Pods")
    spec = _int(obj, "spec.replicas", 1)
    replicas = _int(obj, "status.replicas", 0)
    ready = _int(obj, "status.readyReplicas", 0)
    available = _int(obj, "status.availableReplicas", 0)
    labelled = _int(obj, "status.fullyLabeledReplicas", 0)
    if spec > labelled:
        return Health(IN_PROGRESS, f"Labelled: {labelled}/{spec}")
    if spec > available:
        return Health(IN_PROGRESS, f"Available: {available}/{spec}")
    if spec > ready:
        return Health(IN_PROGRESS, f"Ready: {ready}/{spec}")
    if replicas > spec:
        return Health(IN_PROGRESS, f"Pending termination: {replicas - spec}")
    return Health(CURRENT, f"ReplicaSet is available. Replicas: {replicas}")


def _job(obj: Mapping[str, Any]) -> Health:
    parallelism = _int(obj, "spec.parallelism", 1)
    completions = _int(obj, "spec.completions", parallelism)
    for c in _conditions(obj):
        if c.get("status") != "True":
            continue
        if c.get("type") == "Complete":
            succeeded = _int(obj, "status.succeeded", 0)
            return Health(CURRENT, f"Job Completed. succeeded: {succeeded}/{completions}")
        if c.get("type") == "Failed":
            failed = _int(obj, "status.failed", 0)
            return Health(FAILED, f"Job Failed. failed: {failed}/{completions}")
    return Health(IN_PROGRESS, "Job in progress")


def _pod(obj: Mapping[str, Any]) -> Health:
    phase = _str(obj, "status.phase")
    if phase in ("Succeeded", "Failed"):
        return Health(CURRENT, f"Pod has completed ({phase})")
    if phase == "Running":
        ready = _condition(obj, "Ready")
        if ready is not None and ready.get("status") == "True":
            return Health(CURRENT, "Pod is Ready")
        return Health(IN_PROGRESS, "Pod is running but is not Ready")
    if phase == "Pending":
        return Health(IN_PROGRESS, "Pod is in the Pending phase")
    return Health(IN_PROGRESS, "Pod phase not available")


def _pvc(obj: Mapping[str, Any]) -> Health:
    phase = _str(obj, "status.phase", "unknown")
    if phase != "Bound":
        return Health(IN_PROGRESS, f"PVC is not Bound. phase: {phase}")
    return Health(CURRENT, "PVC is Bound")


def _service(obj: Mapping[str, Any]) -> Health:
    if _str(obj, "spec.type", "ClusterIP") == "LoadBalancer" and not _str(obj, "spec.clusterIP"):
        return Health(IN_PROGRESS, "ClusterIP not set. Service type: LoadBalancer")
    return Health(CURRENT, "Service is ready")


def _crd(obj: Mapping[str, Any]) -> Health:
    for c in _conditions(obj):
        if c.get("type") == "NamesAccepted" and c.get("status") == "False":
            return Health(FAILED, str(c.get("message") or c.get("reason")))
        if c.get("type") == "Established":
            if c.get("status") == "False" and c.get("reason") != "Installing":
                return Health(FAILED, str(c.get("message") or c.get("reason")))
            if c.get("status") == "True":
                return Health(CURRENT, "CRD is established")
    return Health(IN_PROGRESS, "Install in progress")


def _always(obj: Mapping[str, Any]) -> Health:
    return Health(CURRENT, "Resource is always ready")


_RULES = {
    "Service": _service,
    "Pod": _pod,
    "Secret": _always,
    "ConfigMap": _always,
    "PersistentVolumeClaim": _pvc,
    "apps/StatefulSet": _statefulset,
    "apps/DaemonSet": _daemonset,
    "extensions/DaemonSet": _daemonset,
    "apps/Deployment": _deployment,
    "extensions/Deployment": _deployment,
    "apps/ReplicaSet": _replicaset,
    "extensions/ReplicaSet": _replicaset,
    "policy/PodDisruptionBudget": _always,
    "batch/CronJob": _always,
    "batch/Job": _job,
    "apiextensions.k8s.io/CustomResourceDefinition": _crd,
}


def compute(obj: Mapping[str, Any] | None) -> Health:
    """The health of a live object (``None``: it does not exist)."""
    if obj is None:
        return Health(NOT_FOUND, "Resource not found")
    generic = _generic(obj)
    if generic is not None:
        return generic
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    kind = str(obj.get("kind", ""))
    rule = _RULES.get(f"{group}/{kind}" if group else kind)
    if rule is not None:
        return rule(obj)
    ready = _condition(obj, "Ready")
    if ready is not None:
        if ready.get("status") == "True":
            return Health(CURRENT, str(ready.get("message") or "Ready"))
        return Health(IN_PROGRESS, str(ready.get("message") or f"Ready={ready.get('status')}"))
    return Health(CURRENT, "Resource is current")
