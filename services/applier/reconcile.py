"""Kustomization: build the fetched revision, apply it, prune, check health.

The steps and their Ready reasons follow Flux's kustomize-controller:

1. the source and its artifact (``DependencyNotFound`` / ``no artifact yet``), then
   ``dependsOn``: each named Kustomization must be Ready at its current generation, and at this
   revision when it reads the same source (``DependencyNotReady``, retried);
2. build: ``kubectl kustomize`` with the spec laid over, ``postBuild`` substitution, the owner
   labels and ``commonMetadata`` (``BuildFailed``); with no cluster configured, stop here
   (``ClusterNotConfigured``);
3. validate and apply with server-side apply, as ``serviceAccountName`` when set, on the cluster
   of ``kubeConfig.secretRef`` when set (``ReconciliationFailed``: names each failing object and
   quotes the API server; nothing of the revision is applied);
4. ``status.inventory`` becomes the applied set; with ``prune``, what the old inventory had and
   the new one has not is deleted (``PruneFailed``);
5. with ``wait`` (every applied object) or ``healthChecks``, wait up to ``timeout`` (Flux's
   ``GetTimeout``: else the interval less 30 s; at least 30 s) for them to be healthy
   (``HealthCheckFailed``), by ``healthCheckExprs`` for the kinds they cover (invalid
   expressions: Stalled ``InvalidCELExpression``, before anything else, as Flux);
6. ``lastAppliedRevision``, Ready ``ReconciliationSucceeded``: "Applied revision: <rev>".

When a Kustomization is deleted (gone from its manifests or its cluster), ``finalize`` runs on
the object and status it had (the store keeps them until it succeeds), as Flux's finalizer:
with ``deletionPolicy`` ``MirrorPrune`` (the default) and ``prune``, or ``Delete``, or
``WaitForTermination``, the objects of its inventory are deleted (those it owns and that are not
``prune: disabled``); ``WaitForTermination`` then waits up to ``timeout`` for them to be gone;
``Orphan``, ``MirrorPrune`` without ``prune``, a suspended Kustomization or an empty inventory
leave them. A failed deletion is retried; what happened goes to the journal (``Finalized``).

Every reconcile applies again, also when the revision did not change (the interval tick):
that is drift correction. Objects that differ from the cluster although the built objects are
the same as at the last successful reconcile (same digest in ``status.history``) were changed
by someone else: the message says "drift corrected: <objects>", and a ``DriftCorrected`` entry
goes to the journal.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from conveyor.services.applier import build, objects
from conveyor.services.applier.errors import PruneFailed
from conveyor.services.applier.healthchecks import compile_checks
from conveyor.services.applier.manager import (
    CONFIGURED,
    CREATED,
    DELETED,
    SKIPPED,
    Change,
    Manager,
)
from conveyor.services.applier.objects import Obj
from conveyor.services.applier.rollback import on_health_failure
from conveyor.services.applier.substitute import (
    SubstituteRef,
    SubstitutionError,
    substitute_objects,
)
from conveyor.services.applier.substitute import variables as substitution_variables
from conveyor.shared import metrics
from conveyor.shared.adapters.kube import (
    ApiRejected,
    ApiUnavailable,
    Target,
    configured_target,
    connect,
)
from conveyor.shared.errors import (
    ConveyorError,
    DependencyNotReady,
    InvalidSpec,
    NotFound,
    PermanentError,
)
from conveyor.shared.events import Event, ReconcileRequested, SourceUpdated
from conveyor.shared.gostrconv import go_duration
from conveyor.shared.kinds import KUSTOMIZATION
from conveyor.shared.models import ConfigMap, Kustomization, KustomizationSpec, Secret, object_key
from conveyor.shared.notices import COMMIT_STATUS, REVISION, Draft
from conveyor.shared.runtime import Context, Outcome, Stage
from conveyor.shared.status import (
    Condition,
    GitRepositoryStatus,
    Inventory,
    KustomizationStatus,
    ObjRef,
    ResourceRef,
    Snapshot,
    now_iso,
)
from conveyor.shared.timeouts import kustomization_timeout

log = logging.getLogger("conveyor.applier")

HISTORY_SIZE = 5
SUCCEEDED = "ReconciliationSucceeded"
# reconciles that got past the apply: the cluster matched the build afterwards
_APPLIED = (SUCCEEDED, "HealthCheckFailed", "PruneFailed")


def source_key(obj: Kustomization) -> str:
    ref = obj.spec.source_ref
    return object_key(ref.kind, ref.namespace or obj.namespace, ref.name)


def owner_of(obj: Kustomization) -> str:
    return f"Kustomization {obj.namespace}/{obj.name}"


def timeout_of(spec: KustomizationSpec) -> float:
    return kustomization_timeout(spec)


# --- dependencies --------------------------------------------------------------------------


def check_dependencies(obj: Kustomization, revision: str, ctx: Context) -> None:
    """Flux's checkDependencies: Ready, at their generation, and at ``revision`` when they
    read the same source."""
    for ref in obj.spec.depends_on:
        ns = ref.namespace or obj.namespace
        key = object_key("Kustomization", ns, ref.name)
        dep = ctx.store.get_object(key, Kustomization)
        if dep is None:
            raise DependencyNotReady(f"dependency '{ns}/{ref.name}' not found")
        status = ctx.store.get_status(key, KustomizationStatus)
        ready = status.ready
        if (
            ready is None
            or ready.status != "True"
            or status.observed_generation != dep.metadata.generation
        ):
            raise DependencyNotReady(f"dependency '{ns}/{ref.name}' is not ready")
        if source_key(dep) == source_key(obj) and status.last_applied_revision != revision:
            raise DependencyNotReady(f"dependency '{ns}/{ref.name}' revision is not up to date")


def dependents(obj: Kustomization, ctx: Context, event: Event) -> list[Event]:
    """Reconcile requests for the Kustomizations that wait on ``obj`` (it just became Ready)."""
    out: list[Event] = []
    keys = ctx.store.referrers(obj.key, "Kustomization")  # those whose dependsOn names it
    found = ctx.store.objects_with_status(keys, Kustomization, KustomizationStatus)
    for other, status in found:
        ready = status.ready
        if other is not None and ready is not None and ready.reason == "DependencyNotReady":
            out.append(
                event.follow(
                    ReconcileRequested,
                    kind="Kustomization",
                    namespace=other.namespace,
                    name=other.name,
                    reason="dependency ready",
                )
            )
    return out


# --- build ---------------------------------------------------------------------------------


Resolver = Callable[[SubstituteRef], Mapping[str, str] | None]


def _resolver(obj: Kustomization, ctx: Context) -> Resolver:
    def resolve(ref: SubstituteRef) -> Mapping[str, str] | None:
        found = ctx.store.get_object(object_key(ref.kind, obj.namespace, ref.name))
        if isinstance(found, Secret):
            return {k: v.decode("utf-8", "replace") for k, v in found.spec.data.items()}
        if isinstance(found, ConfigMap):
            return dict(found.spec.data)
        return None

    return resolve


def build_objects(obj: Kustomization, artifact: bytes, ctx: Context) -> list[Obj]:
    """The objects to apply: kustomize build, substitution, owner labels, commonMetadata."""
    spec = obj.spec
    owner = owner_of(obj)
    with tempfile.TemporaryDirectory(prefix="conveyor-build-", dir=ctx.settings.scratch) as tmp:
        root = Path(tmp)
        build.extract(artifact, root, owner=owner)
        built = build.build(root, spec, owner)
    if spec.post_build:
        try:
            values = substitution_variables(spec.post_build, _resolver(obj, ctx))
            built = substitute_objects(built, values)
        except SubstitutionError as exc:
            raise PermanentError(f"{owner}: {exc}", reason="BuildFailed") from exc
    built = objects.with_metadata(built, objects.owner_labels(obj.name, obj.namespace), {})
    common = spec.common_metadata or {}
    if common.get("labels") or common.get("annotations"):
        built = objects.with_metadata(
            built,
            {str(k): str(v) for k, v in (common.get("labels") or {}).items()},
            {str(k): str(v) for k, v in (common.get("annotations") or {}).items()},
        )
    return built


# --- the cluster ---------------------------------------------------------------------------


def cluster_target(obj: Kustomization, ctx: Context) -> Target | None:
    """Where and as whom to apply; None when no cluster is configured."""
    spec = obj.spec
    account = spec.service_account_name or (
        None if spec.kube_config else ctx.settings.default_service_account
    )
    user = f"system:serviceaccount:{obj.namespace}:{account}" if account else None
    if spec.kube_config:
        ref = spec.kube_config.get("secretRef") or {}
        if not ref.get("name"):
            raise InvalidSpec(f"{owner_of(obj)}: spec.kubeConfig.secretRef.name is required")
        secret = ctx.secret(obj.namespace, str(ref["name"]), owner=owner_of(obj))
        keys = [str(ref["key"])] if ref.get("key") else ["value", "value.yaml"]
        text = next((secret.text(k) for k in keys if secret.text(k)), None)
        if text is None:
            raise PermanentError(
                f"{owner_of(obj)}: secret {obj.namespace}/{ref['name']} has no "
                f"{' or '.join(repr(k) for k in keys)} key with a kubeconfig",
                reason="ReconciliationFailed",
            )
        return Target(kubeconfig_data=text, impersonate=user)
    return configured_target(ctx.settings.kubeconfig, ctx.settings.in_cluster, user)


def inventory_of(changes: list[Change]) -> Inventory:
    return Inventory(entries=[ResourceRef(id=c.ref.id, v=c.version) for c in changes])


def stale_entries(old: Inventory | None, new: Inventory) -> list[tuple[ObjRef, str]]:
    """What the old inventory has and the new has not (the version does not matter)."""
    keep = {e.id for e in new.entries}
    out = []
    for entry in old.entries if old else []:
        if entry.id not in keep:
            try:
                out.append((ObjRef.parse(entry.id), entry.v))
            except ValueError:
                log.warning("ignoring invalid inventory entry %r", entry.id)
    return out


def health_refs(spec: KustomizationSpec, changes: list[Change]) -> list[tuple[ObjRef, str]]:
    if spec.wait:
        return [(c.ref, c.version) for c in changes if c.action != SKIPPED]
    refs = []
    for check in spec.health_checks:
        api_version = str(check.get("apiVersion", ""))
        group, version = objects.split_api_version(api_version)
        refs.append(
            (
                ObjRef(
                    group=group,
                    kind=str(check.get("kind", "")),
                    namespace=str(check.get("namespace") or ""),
                    name=str(check.get("name", "")),
                ),
                version,
            )
        )
    return refs


def upsert_history(
    status: KustomizationStatus, digest: str, started: float, result: str, revision: str
) -> None:
    """Flux's History.Upsert: the snapshot of ``digest`` updated and moved to the front."""
    history = list(status.history or [])
    seconds = time.monotonic() - started
    found = next((s for s in history if s.digest == digest), None)
    if found is None:
        found = Snapshot(digest=digest, total_reconciliations=0)
    else:
        history.remove(found)
    found.last_reconciled = now_iso()
    found.last_reconciled_duration = f"{seconds:.3f}s"
    found.last_reconciled_status = result
    found.total_reconciliations += 1
    found.metadata = {"revision": revision}
    status.history = [found, *history][:HISTORY_SIZE]


# --- reconcile -----------------------------------------------------------------------------


def reconcile(
    obj: Kustomization, status: KustomizationStatus, ctx: Context, event: Event
) -> Outcome:
    spec = obj.spec
    owner = owner_of(obj)
    checks = compile_checks(spec.health_check_exprs, owner)
    key = source_key(obj)
    kind, ns, name = key.split("/", 2)
    if ctx.store.get_object(key) is None:
        raise NotFound(f"{owner}: {kind} {ns}/{name} not found")
    source_status = ctx.store.get_status(key, GitRepositoryStatus)
    artifact = ctx.store.get_artifact(key)
    if source_status.artifact is None or artifact is None:
        raise DependencyNotReady(f"{owner}: {kind} {ns}/{name} has no artifact yet")
    revision = source_status.artifact.revision
    ready = status.ready
    if (
        isinstance(event, SourceUpdated)
        and event.revision == status.last_applied_revision == revision
        and ready is not None
        and ready.status == "True"
        and status.observed_generation == obj.metadata.generation
    ):
        return Outcome(status)  # this revision is applied already (drift: the interval's job)
    check_dependencies(obj, revision, ctx)
    status.last_attempted_revision = revision
    built = build_objects(obj, artifact, ctx)
    target = cluster_target(obj, ctx)
    if target is None:
        status.mark_failed(
            "ClusterNotConfigured",
            f"built {len(built)} objects from revision '{revision}'; no cluster is configured "
            "(set KUBECONFIG to apply them)",
            obj.metadata.generation,
            stalled=False,
        )
        return Outcome(status)

    generation = obj.metadata.generation
    started = time.monotonic()
    before = status.ready.model_copy() if status.ready is not None else None
    deleted: list[str] = []
    digest = objects.digest(built)
    previous = status.history[0] if status.history else None
    same_build = (
        previous is not None
        and previous.digest == digest
        and previous.last_reconciled_status in _APPLIED
    )
    status.set_condition(
        "Reconciling",
        True,
        "Progressing",
        f"Applying revision {revision} with a timeout of {timeout_of(spec):g}s",
        generation,
    )
    ctx.store.put_status(obj.key, status)
    try:
        manager = Manager(connect(target), obj.name, obj.namespace)
        changes = manager.apply(built, force=spec.force, timeout=timeout_of(spec))
        new_inventory = inventory_of(changes)
        stale = stale_entries(status.inventory, new_inventory)
        status.inventory = new_inventory
        if spec.prune and stale:
            try:
                pruned, _ = manager.prune(stale)
            except PruneFailed as exc:
                status.inventory = Inventory(
                    entries=[
                        *new_inventory.entries,
                        *(ResourceRef(id=stale[n][0].id, v=stale[n][1]) for n in exc.failed),
                    ]
                )
                raise
            deleted = [str(c.ref) for c in pruned if c.action == "deleted"]
            if deleted:
                log.info("%s: garbage collection: %s deleted", owner, ", ".join(deleted))
        changed = [c for c in changes if c.action in (CREATED, CONFIGURED)]
        change_set = [f"{c.ref} {c.action}" for c in changed] + [f"{d} deleted" for d in deleted]
        drifted = [f"{c.ref} {c.action}" for c in changed] if same_build else []
        if drifted:
            record_drift(obj, revision, drifted, ctx, event)
        manager.wait(health_refs(spec, changes), timeout_of(spec), checks=checks)
    except ConveyorError as exc:
        upsert_history(status, digest, started, exc.reason, revision)
        if exc.reason == "HealthCheckFailed":  # conveyor.dev/rollback: rollback.py
            on_health_failure(obj, status, key, revision, str(exc), ctx, event)
        raise
    upsert_history(status, digest, started, SUCCEEDED, revision)
    if revision != status.last_applied_revision and event.origin_at is not None:  # a new one,
        took = time.time() - event.trace_started_at  # come down the pipeline from its trace's start
        metrics.observe("conveyor_push_to_applied_seconds", took, kind=obj.kind, name=obj.name,
                        namespace=obj.namespace)
    status.last_applied_revision = revision
    message = f"Applied revision: {revision}"
    if drifted:
        message += f"; drift corrected: {', '.join(drifted)}"
    status.mark_ready(SUCCEEDED, message, generation)
    return Outcome(
        status,
        dependents(obj, ctx, event),
        applied_notices(change_set, revision, before, time.monotonic() - started, spec),
    )


def applied_notices(
    change_set: list[str],
    revision: str,
    before: Condition | None,
    took: float,
    spec: KustomizationSpec,
) -> list[Draft]:
    """What kustomize-controller says of a run that applied: the change set, when the apply
    changed something, and ``Reconciliation finished``, which commit statuses are set from.
    Flux says the latter after every run; conveyor when the run changed something, applied a
    new revision or recovered (an unchanged interval run says nothing: idle means idle)."""
    drafts = [Draft("\n".join(change_set), metadata={REVISION: revision})] if change_set else []
    if change_set or before is None or before.status != "True" or revision not in before.message:
        interval = go_duration(int(spec.interval * 1e9))
        drafts.append(
            Draft(
                f"Reconciliation finished in {go_duration(int(took * 1e9))}, next run in "
                f"{interval}",
                metadata={REVISION: revision, COMMIT_STATUS: "update"},
            )
        )
    return drafts


def record_drift(
    obj: Kustomization, revision: str, drifted: list[str], ctx: Context, event: Event
) -> None:
    """A ``DriftCorrected`` journal entry (the status API's ``/api/v1/events``)."""
    log.warning("%s: drift corrected: %s", owner_of(obj), ", ".join(drifted))
    now = time.time()
    ctx.store.record(
        "applier",
        {
            "type": "DriftCorrected",
            "trace_id": event.trace_id,
            "emitted_at": now,
            "kind": "Kustomization",
            "namespace": obj.namespace,
            "name": obj.name,
            "revision": revision,
            "objects": drifted,
        },
        now,
    )


# --- deletion ------------------------------------------------------------------------------


def deletes_on_removal(spec: KustomizationSpec, status: KustomizationStatus) -> bool:
    """Flux's finalizerShouldDeleteResources."""
    if spec.suspend or status.inventory is None or not status.inventory.entries:
        return False
    if spec.deletion_policy == "MirrorPrune":
        return spec.prune
    return spec.deletion_policy in ("Delete", "WaitForTermination")


def finalize(obj: Kustomization, status: KustomizationStatus, ctx: Context) -> None:
    """What Flux's finalizer does when ``obj`` is deleted (see the module's docstring).
    Raises (a TransientError) when deleting failed: the store keeps ``obj`` to try again."""
    spec, owner = obj.spec, owner_of(obj)
    if not deletes_on_removal(spec, status):
        kept = len(status.inventory.entries) if status.inventory else 0
        _finalized(obj, status, ctx, f"deleted; {kept} objects left in place "
                   f"(deletionPolicy {spec.deletion_policy}, prune {str(spec.prune).lower()}"
                   f"{', suspended' if spec.suspend else ''})")
        return
    stale = stale_entries(status.inventory, Inventory(entries=[]))
    try:
        target = cluster_target(obj, ctx)
        cluster = connect(target) if target is not None else None
        if cluster is not None and spec.service_account_name:
            _service_account_exists(obj, ctx)
    except PermanentError as exc:  # Flux: the account to impersonate is gone; give up
        listing = ", ".join(str(ref) for ref, _ in stale)
        _finalized(obj, status, ctx, f"unable to prune objects: {listing}: {exc}", error=True)
        return
    if cluster is None:
        _finalized(obj, status, ctx, "deleted; no cluster is configured", error=True)
        return
    manager = Manager(cluster, obj.name, obj.namespace)
    try:
        changes, _ = manager.prune(stale)
    except PruneFailed as exc:
        _finalized(obj, status, ctx, f"pruning for deleted resource failed: {exc}", error=True)
        raise
    deleted = [c for c in changes if c.action == DELETED and c.live is not None]
    message = ", ".join(str(c) for c in changes) or "nothing to delete"
    if spec.deletion_policy == "WaitForTermination" and deleted:
        left = manager.wait_deleted([(c.ref, c.version) for c in deleted], timeout_of(spec))
        if left:
            log.error("%s: failed to wait for resources termination: %s", owner, ", ".join(left))
            _finalized(obj, status, ctx, f"{message}; failed to wait for resources "
                       f"termination: {', '.join(left)}", error=True)
            return
        message += "; terminated"
    _finalized(obj, status, ctx, message)


def _service_account_exists(obj: Kustomization, ctx: Context) -> None:
    """Flux's CanImpersonate: the ServiceAccount to act as must still exist."""
    admin = configured_target(ctx.settings.kubeconfig, ctx.settings.in_cluster, None)
    if admin is None or obj.spec.kube_config:
        return
    cluster = connect(admin)
    name = obj.spec.service_account_name or ""
    try:
        res = cluster.resource_for("v1", "ServiceAccount")
        found = cluster.get(res, obj.namespace, name) if res is not None else True
    except (ApiRejected, ApiUnavailable):
        return  # cannot tell: try, the deletions say the rest
    if found is None:
        raise PermanentError(f"ServiceAccount {obj.namespace}/{name} not found")


def _finalized(
    obj: Kustomization,
    status: KustomizationStatus,
    ctx: Context,
    message: str,
    *,
    error: bool = False,
) -> None:
    """Log and journal (``Finalized``) what deleting ``obj`` did."""
    text = ctx.redact(message)
    (log.error if error else log.info)("%s: %s", owner_of(obj), text)
    now = time.time()
    ctx.store.record(
        "applier",
        {
            "type": "Finalized",
            "emitted_at": now,
            "kind": "Kustomization",
            "namespace": obj.namespace,
            "name": obj.name,
            "revision": status.last_applied_revision,
            "severity": "error" if error else "info",
            "message": text,
        },
        now,
    )


def targets(event: Event, ctx: Context) -> list[str]:
    if not isinstance(event, SourceUpdated):
        return []
    return ctx.store.referrers(
        object_key("GitRepository", event.namespace, event.name), "Kustomization"
    )


STAGE = Stage(KUSTOMIZATION, reconcile, targets, finalize=finalize)
