"""The git-committer's part of a rollback (``conveyor.shared.rollback``).

- Every push is recorded with what its setters changed, per policy (``record``).
- A ``RollbackRequested`` run writes older values back (``plan_of``): those from before the
  commits the applier names (the oldest of them, for a policy several changed), or, asked by
  hand (``conveyor rollback``), those from before the automation's last commit, or a tag for
  each image that commit changed. The run is the automation's own (checkout, setters, commit,
  push branch and refspec, pull request), with a message saying why instead of its template.
- Once pushed (``finish``): the tags it replaced are marked failed, a Warning says what was
  rolled back and why (``RollbackCommitted``), and the policies are asked to choose again.
- An ordinary run never writes a tag marked failed (``unfailed``): it leaves that marker as it
  is, as it leaves the marker of a policy with no result.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from conveyor.services.git_committer.message import Update
from conveyor.services.git_committer.setters import Latest
from conveyor.shared.errors import PermanentError
from conveyor.shared.events import CommitPushed, Event, ReconcileRequested, RollbackRequested
from conveyor.shared.models import ImageUpdateAutomation, object_key
from conveyor.shared.notices import ERROR, REVISION, Draft
from conveyor.shared.rollback import (
    TAG,
    Changed,
    Push,
    failed_among,
    mark_failed,
    pushes_of,
    record_push,
)
from conveyor.shared.runtime import Context, Outcome
from conveyor.shared.status import ImagePolicyStatus, ImageRef

REASON = "RollbackFailed"
COMMITTED = "RollbackCommitted"
NOT_NEEDED = "RollbackNotNeeded"


def _policy_key(ref: str) -> str:
    namespace, name = ref.split(":", 1)
    return object_key("ImagePolicy", namespace, name)


def split_image(ref: str) -> tuple[str, str, str | None]:
    """An image reference as a marker's line holds it (``name[:tag][@digest]``): its name, its
    tag (``latest`` when it has none, as Docker reads it) and its digest."""
    rest, _, digest = ref.partition("@")
    slash, colon = rest.rfind("/"), rest.rfind(":")
    if colon > slash:
        return rest[:colon], rest[colon + 1 :], digest or None
    return rest, "latest", digest or None


def changed_of(described: list[Update]) -> tuple[Changed, ...]:
    """Per policy, the image its markers held before a commit and the one written: from the
    setters' changes (an ``image`` marker gives the whole reference, ``:tag``, ``:name`` and
    ``:digest`` markers their part; a part no marker held is taken as unchanged)."""
    before: dict[str, dict[str, str | None]] = {}
    after: dict[str, Latest] = {}
    for update in described:
        change, latest = update.change, update.latest
        after[change.policy] = latest
        old = before.setdefault(
            change.policy, {"name": latest.name, "tag": latest.tag, "digest": None}
        )
        if change.setter == "image":
            old["name"], old["tag"], old["digest"] = split_image(change.old)
        else:
            old[change.setter] = change.old
    return tuple(
        Changed(
            policy=policy,
            before=ImageRef(
                name=str(old["name"]), tag=str(old["tag"]), digest=old["digest"] or None
            ),
            after=ImageRef(name=after[policy].name, tag=after[policy].tag,
                           digest=after[policy].digest),
        )
        for policy, old in before.items()
    )


def record_pushed(
    ctx: Context,
    obj: ImageUpdateAutomation,
    source: str,
    branch: str,
    base: str,
    commit: str,
    described: list[Update],
    event: Event,
) -> None:
    """Keep what ``commit``, pushed on ``base`` to ``branch`` of GitRepository ``source``
    (store key), changed."""
    record_push(
        ctx.store,
        obj.key,
        Push(
            commit=commit,
            base=base,
            branch=branch,
            source=source,
            at=time.time(),
            trace_id=event.trace_id,
            changed=changed_of(described),
            rollback=isinstance(event, RollbackRequested),
        ),
    )


def unfailed(policies: Mapping[str, Latest | None], ctx: Context) -> dict[str, Latest | None]:
    """``policies`` (``"ns:name"`` -> latest image) with None for each whose tag is marked
    failed: an ordinary run leaves its markers as they are."""
    chosen = {_policy_key(ref): latest.tag for ref, latest in policies.items() if latest}
    failed = failed_among(ctx.store, chosen)
    return {
        ref: None if latest is not None and _policy_key(ref) in failed else latest
        for ref, latest in policies.items()
    }


# --- a rollback run --------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """The values a rollback writes (``"ns:name"`` -> image), and what its message says."""

    targets: dict[str, Latest]
    why: str  # after "Roll back <image> to <tag>: "
    detail: str  # the message's body

    def resolve(self, refs: set[str]) -> dict[str, Latest | None]:
        """The setters' policies: the targets; every other marker is left as it is."""
        return {ref: self.targets.get(ref) for ref in refs}

    def message(self, described: list[Update]) -> str:
        images = dict.fromkeys(f"{u.latest.name} to {u.latest.tag}" for u in described)
        return f"Roll back {', '.join(images)}: {self.why}\n\n{self.detail.strip()}\n"


def _latest(image: ImageRef) -> Latest:
    return Latest(image.name, image.tag, image.digest)


def _owner(obj: ImageUpdateAutomation) -> str:
    return f"ImageUpdateAutomation {obj.namespace}/{obj.name}"


def _clear_hint(obj: ImageUpdateAutomation) -> str:
    return f"conveyor rollback automation {obj.name} -n {obj.namespace} --clear"


def _short(commits: list[str]) -> str:
    return ", ".join(c[:7] for c in commits)


def plan_of(obj: ImageUpdateAutomation, event: Event, ctx: Context) -> Plan | None:
    """What a rollback run of ``obj`` writes back (None: ``event`` asks for no rollback)."""
    if not isinstance(event, RollbackRequested):
        return None
    recorded = pushes_of(ctx.store, [obj.key])[obj.key]
    if event.manual:
        return _by_hand(obj, event, recorded, ctx)
    chosen = [p for p in recorded if p.commit in event.commits and not p.rollback]
    if not chosen:
        raise PermanentError(
            f"{_owner(obj)}: no record of commit {_short(list(event.commits))} (pushes are "
            f"kept {len(recorded)} deep): nothing rolled back; to roll back by hand: "
            f"conveyor rollback automation {obj.name} -n {obj.namespace} --to TAG",
            reason=REASON,
        )
    targets: dict[str, Latest] = {}
    for push in chosen:  # newest first: the oldest one's "before" is what stays
        for changed in push.changed:
            targets[changed.policy] = _latest(changed.before)
    failed = sorted({c.after.tag for p in chosen for c in p.changed})
    detail = (
        f"{ctx.redact(event.why)}\n\nReverts the image updates of commit "
        f"{_short([p.commit for p in chosen])}. Marked failed, never chosen again until "
        f"`{_clear_hint(obj)}`: {', '.join(failed)}."
    )
    why = f"health checks of Kustomization {event.kustomization} failed on {event.revision}"
    return Plan(targets, why, detail)


def _by_hand(
    obj: ImageUpdateAutomation, event: RollbackRequested, recorded: list[Push], ctx: Context
) -> Plan:
    last = next((p for p in recorded if not p.rollback), None)
    hint = (
        f"The tags it replaces are marked failed, never chosen again until `{_clear_hint(obj)}`;"
        f" the automation is suspended until `conveyor resume imageupdateautomation "
        f"{obj.name} -n {obj.namespace}`."
    )
    if event.to is None:
        if last is None:
            raise PermanentError(
                f"{_owner(obj)}: no commit of it is recorded, so its previous values are not "
                f"known: name the tag to roll back to (conveyor rollback automation {obj.name} "
                f"-n {obj.namespace} --to TAG)",
                reason=REASON,
            )
        targets = {c.policy: _latest(c.before) for c in last.changed}
        return Plan(targets, "by hand (conveyor rollback)",
                    f"Reverts the image updates of commit {last.commit[:7]}. {hint}")
    tag = event.to
    if not TAG.fullmatch(tag):
        raise PermanentError(f"{_owner(obj)}: {tag[:130]!r} is not an image tag", reason=REASON)
    if last is not None:
        policies = [c.policy for c in last.changed]
    else:  # no commit recorded: every policy its markers name
        policies = sorted(
            k.split("/", 2)[1] + ":" + k.split("/", 2)[2] for k in ctx.store.markers_of(obj.key)
        )
    if not policies:
        raise PermanentError(
            f"{_owner(obj)}: its files name no ImagePolicy (yet): nothing to roll back",
            reason=REASON,
        )
    targets = {p: _image_at(p, tag, recorded, ctx, obj) for p in policies}
    return Plan(targets, f"by hand (conveyor rollback --to {tag})", hint)


def _image_at(
    policy: str, tag: str, recorded: list[Push], ctx: Context, obj: ImageUpdateAutomation
) -> Latest:
    """``policy``'s image at ``tag``: its name as last written (else as the policy chose it),
    with the digest a recorded push had for that tag (else none)."""
    seen = [i for p in recorded for c in p.changed if c.policy == policy
            for i in (c.after, c.before)]
    name = seen[0].name if seen else None
    if name is None:
        latest = ctx.store.get_status(_policy_key(policy), ImagePolicyStatus).latest_ref
        if latest is None:
            raise PermanentError(
                f"{_owner(obj)}: ImagePolicy {policy.replace(':', '/')} has chosen no image "
                "yet, and no commit of the automation recorded one: nothing to roll back to",
                reason=REASON,
            )
        name = latest.name
    digest = next((i.digest for i in seen if i.tag == tag and i.name == name), None)
    return Latest(name, tag, digest)


def finish(obj: ImageUpdateAutomation, event: Event, outcome: Outcome, ctx: Context) -> Outcome:
    """What a rollback run says and asks for once it ended: with a push, the replaced tags
    marked failed, a Warning (``RollbackCommitted``) and the policies asked to choose again;
    without one (the files hold those values already), a notice saying so."""
    assert isinstance(event, RollbackRequested)
    pushed = next((e for e in outcome.events if isinstance(e, CommitPushed)), None)
    ready = outcome.status.ready
    if ready is None or ready.status != "True":
        return outcome  # the failure speaks for itself
    if pushed is None:
        if not ready.message.startswith("repository up-to-date"):
            return outcome  # held by another gate (approvals): its Ready message says why
        note = Draft(f"nothing to roll back: the files of {_owner(obj)} hold those values "
                     "already", reason=NOT_NEEDED)
        return Outcome(outcome.status, outcome.events, [*outcome.notices, note])
    mine = next(
        (p for p in pushes_of(ctx.store, [obj.key])[obj.key] if p.commit == pushed.commit), None
    )
    changed = mine.changed if mine is not None else ()
    why = (f"health checks of Kustomization {event.kustomization} failed on {event.revision}"
           if not event.manual else "by hand (conveyor rollback)")
    for c in changed:
        if c.before.tag != c.after.tag:
            mark_failed(ctx.store, _policy_key(c.policy), c.before.tag, f"rolled back {why}")
    images = ", ".join(f"{c.before.name}:{c.before.tag} to {c.after.tag}" for c in changed)
    revision = f"{pushed.branch}@sha1:{pushed.commit}"
    said = Draft(
        f"rolled back {images or 'nothing'} in commit '{pushed.commit[:7]}' on branch "
        f"'{pushed.branch}': {why}",
        reason=COMMITTED,
        severity=ERROR,
        metadata={REVISION: revision},
    )
    choose = [
        event.follow(ReconcileRequested, kind="ImagePolicy", namespace=ns, name=name,
                     reason="rollback")
        for ns, name in (c.policy.split(":", 1) for c in changed)
    ]
    return Outcome(outcome.status, [*outcome.events, *choose], [*outcome.notices, said])
