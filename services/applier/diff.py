"""``conveyor diff kustomization NAME``: what applying the source's revision would change.

The Kustomization's GitRepository is fetched, its revision built exactly as the applier builds
it, and every object checked with a server-side dry-run apply (nothing is written to the
cluster, nor to the Kustomization's status). Printed, as ``flux diff kustomization`` does:

    ► Deployment/default/app drifted
    --- Deployment/default/app (cluster)
    +++ Deployment/default/app (master@sha1:…)
    @@ …
    ► ConfigMap/default/new created
    ► Service/default/old deleted          (with prune: what the inventory has and Git not)

Secret values are masked. Exit status: 0 no changes, 1 changes, 2 errors (an object the API
server rejects is listed with its message).
"""

from __future__ import annotations

import difflib
from typing import Any, TextIO

import yaml

from conveyor.services.applier import objects
from conveyor.services.applier.manager import CONFIGURED, CREATED, DELETED, Manager
from conveyor.services.applier.reconcile import (
    build_objects,
    cluster_target,
    source_key,
    stale_entries,
)
from conveyor.shared.adapters.kube import connect
from conveyor.shared.models import Kustomization
from conveyor.shared.runtime import Context
from conveyor.shared.status import GitRepositoryStatus, Inventory, KustomizationStatus, ResourceRef


def _yaml(obj: dict[str, Any]) -> list[str]:
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False).splitlines(keepends=True)


def unified(live: dict[str, Any], after: dict[str, Any], name: str, revision: str) -> str:
    left, right = objects.masked_pair(live, after)
    return "".join(
        difflib.unified_diff(
            _yaml(left), _yaml(right), f"{name} (cluster)", f"{name} ({revision})", n=3
        )
    )


def diff_kustomization(obj: Kustomization, ctx: Context, out: TextIO) -> int:
    """Print what applying would change; the exit status (0 none, 1 changes, 2 errors).
    The source's artifact must be fetched already (the runner's ``diff`` does that)."""
    spec = obj.spec
    key = source_key(obj)
    source = ctx.store.get_status(key, GitRepositoryStatus)
    artifact = ctx.store.get_artifact(key)
    if source.artifact is None or artifact is None:
        ready = source.ready
        why = f": {ready.message}" if ready is not None and ready.message else ""
        print(f"✗ {key.replace('/', ' ', 1)} has no artifact{why}", file=out)
        return 2
    revision = source.artifact.revision
    built = build_objects(obj, artifact, ctx)
    target = cluster_target(obj, ctx)
    if target is None:
        print("✗ no cluster is configured (set KUBECONFIG)", file=out)
        return 2
    manager = Manager(connect(target), obj.name, obj.namespace)
    plan = manager.plan(built, force=spec.force)
    changed = errors = 0
    for item in plan.items:
        if item.error:
            errors += 1
            print(f"✗ {item.error}", file=out)
        elif item.deferred:
            changed += 1
            print(f"► {item.ref} created (validated once {item.deferred})", file=out)
        elif item.action == CREATED:
            changed += 1
            note = " (recreated: an immutable field changed)" if item.recreate else ""
            print(f"► {item.ref} created{note}", file=out)
        elif item.action == CONFIGURED and item.live is not None and item.dry is not None:
            changed += 1
            print(f"► {item.ref} drifted", file=out)
            out.write(unified(item.live, item.dry, str(item.ref), revision))
    if spec.prune:
        current = ctx.store.get_status(obj.key, KustomizationStatus)
        new = Inventory(entries=[ResourceRef(id=i.ref.id, v=i.version) for i in plan.items])
        stale = stale_entries(current.inventory, new)
        if stale:
            pruned, _ = manager.prune(stale, dry_run=True)
            for change in pruned:
                if change.action == DELETED and change.live is not None:
                    changed += 1
                    print(f"► {change.ref} deleted", file=out)
    if errors:
        return 2
    if not changed:
        print(f"✔ no changes: the cluster matches revision {revision}", file=out)
    return 1 if changed else 0
