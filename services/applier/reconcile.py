"""Kustomization: build the fetched revision and apply it to the cluster."""

from __future__ import annotations

import tempfile
from pathlib import Path

from services.applier import build
from shared.errors import DependencyNotReady, NotFound
from shared.events import Event, SourceUpdated
from shared.models import FluxObject, KustomizationSpec, object_key
from shared.runtime import Context, Outcome, Stage
from shared.status import GitRepositoryStatus, KustomizationStatus, Status


def source_key(obj: FluxObject) -> str:
    spec: KustomizationSpec = obj.spec
    ref = spec.source_ref
    return object_key(ref.kind, ref.namespace or obj.namespace, ref.name)


def reconcile(obj: FluxObject, status: Status, ctx: Context, event: Event) -> Outcome:
    assert isinstance(status, KustomizationStatus)
    spec: KustomizationSpec = obj.spec
    owner = f"Kustomization {obj.namespace}/{obj.name}"
    key = source_key(obj)
    kind, ns, name = key.split("/", 2)
    if ctx.store.get_object(key) is None:
        raise NotFound(f"{owner}: {kind} {ns}/{name} not found")
    source_status = ctx.store.get_status(key, GitRepositoryStatus)
    artifact = ctx.store.get_artifact(key)
    if source_status.artifact is None or artifact is None:
        raise DependencyNotReady(f"{owner}: {kind} {ns}/{name} has no artifact yet")
    revision = source_status.artifact.revision
    status.last_attempted_revision = revision
    with tempfile.TemporaryDirectory(prefix="conveyor-build-") as tmp:
        root = Path(tmp)
        build.extract(artifact, root)
        objects = build.build(root, spec, owner)
    if not ctx.settings.kubeconfig:
        status.mark_failed(
            "ClusterNotConfigured",
            f"built {len(objects)} objects from revision '{revision}'; no cluster is configured "
            "(set KUBECONFIG to apply them)",
            obj.metadata.generation,
            stalled=False,
        )
        return Outcome(status)
    from services.applier import cluster

    applied = cluster.apply(objects, ctx.settings.kubeconfig, owner)
    status.last_applied_revision = revision
    status.mark_ready(
        "ReconciliationSucceeded",
        f"Applied revision: {revision} ({applied} objects)",
        obj.metadata.generation,
    )
    return Outcome(status)


def targets(event: Event, ctx: Context) -> list[str]:
    if not isinstance(event, SourceUpdated):
        return []
    wanted = object_key("GitRepository", event.namespace, event.name)
    return [k.key for k in ctx.store.list_objects("Kustomization") if source_key(k) == wanted]


STAGE = Stage(service="applier", kind="Kustomization", reconcile=reconcile, targets=targets)
