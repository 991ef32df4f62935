"""The applier's part of a rollback (``conveyor.shared.rollback``): when the health checks of a
revision fail, the automation commits it holds since the last healthy revision are rolled back.

For each ImageUpdateAutomation of the Kustomization's GitRepository annotated
``conveyor.dev/rollback: health`` whose pushes the failing revision holds (followed back to the
last applied revision, which was healthy: a Kustomization's ``lastAppliedRevision`` moves only
once its health checks passed), the tags those pushes wrote are marked failed for their
policies, a Warning (``RollbackRequested``) says so, and the git-committer is asked to put the
values from before them back (a ``RollbackRequested`` event in the same trace). Each push is
rolled back once (a failing revision is checked again at each retry); a rollback's own commit
is never rolled back; with no healthy revision before, or none that the recorded commits reach,
nothing is (which pushes are new cannot be told).
"""

from __future__ import annotations

import logging

from conveyor.shared.bus import publish
from conveyor.shared.events import Event, RollbackRequested
from conveyor.shared.kinds import KUSTOMIZATION
from conveyor.shared.models import ImageUpdateAutomation, Kustomization, object_key
from conveyor.shared.notices import REVISION
from conveyor.shared.rollback import (
    MAX_WHY,
    Push,
    commit_of,
    mark_failed,
    notice,
    opted_in,
    pushes_of,
    pushes_since,
)
from conveyor.shared.runtime import Context
from conveyor.shared.status import ImageUpdateAutomationStatus, KustomizationStatus

log = logging.getLogger("conveyor.applier")

REASON = "RollbackRequested"
CLAIM_SECONDS = 30 * 24 * 3600.0  # a push is rolled back once


def on_health_failure(
    obj: Kustomization,
    status: KustomizationStatus,
    source: str,
    revision: str,
    why: str,
    ctx: Context,
    event: Event,
) -> None:
    """The health checks of ``revision`` of GitRepository ``source`` (store key) failed with
    ``why``: roll back what the opted-in automations pushed since the last healthy revision."""
    healthy = status.last_applied_revision
    if healthy is None or healthy == revision:
        return  # nothing was healthy before, or this very revision was: no push to blame
    keys = ctx.store.referrers(source, "ImageUpdateAutomation")
    found = ctx.store.objects_with_status(keys, ImageUpdateAutomation, ImageUpdateAutomationStatus)
    automations = [a for a, _ in found if a is not None and opted_in(a)]
    if not automations:
        return
    recorded = pushes_of(ctx.store, [a.key for a in automations])
    owner = {p.commit: a for a in automations for p in recorded[a.key]}
    pushed = {p.commit: p for a in automations for p in recorded[a.key]}
    since = pushes_since(ctx.store, source, commit_of(revision), commit_of(healthy), pushed)
    who = f"Kustomization {obj.namespace}/{obj.name}"
    if since is None:
        log.warning("%s: health checks failed on %s; which commits came since %s is not "
                    "known: nothing rolled back", who, revision, healthy)
        return
    reason = ctx.redact(why)[:MAX_WHY]
    for automation in automations:
        mine = [
            p for p in since
            if owner[p.commit] is automation and not p.rollback
            and ctx.store.claim_once(f"rollback/{automation.key}/{p.commit}", CLAIM_SECONDS)
        ]
        if mine:
            _roll_back(obj, automation, mine, revision, reason, ctx, event)


def _roll_back(
    obj: Kustomization,
    automation: ImageUpdateAutomation,
    pushes: list[Push],
    revision: str,
    why: str,
    ctx: Context,
    event: Event,
) -> None:
    failing = f"health checks of Kustomization {obj.namespace}/{obj.name} failed on {revision}"
    marked: list[str] = []
    for push in pushes:
        for changed in push.changed:
            namespace, name = changed.policy.split(":", 1)
            policy = object_key("ImagePolicy", namespace, name)
            if changed.after.tag != changed.before.tag:
                mark_failed(ctx.store, policy, changed.after.tag, f"{failing}: {why}")
                marked.append(f"{changed.after.tag} (ImagePolicy {namespace}/{name})")
    commits = ", ".join(p.commit[:7] for p in pushes)
    message = (
        f"{failing}: rolling back commit {commits} of ImageUpdateAutomation "
        f"{automation.namespace}/{automation.name}"
        + (f"; tags marked failed: {', '.join(dict.fromkeys(marked))}" if marked else "")
        + f": {why}"
    )
    log.warning("%s", message)
    said = notice(KUSTOMIZATION, obj, REASON, message, event.trace_id, {REVISION: revision})
    ctx.store.record_notice(said.journal_entry())
    publish(
        ctx.dispatcher,
        event.follow(
            RollbackRequested,
            namespace=automation.namespace,
            name=automation.name,
            commits=tuple(p.commit for p in pushes),
            revision=revision,
            kustomization=f"{obj.namespace}/{obj.name}",
            why=why,
        ),
    )
