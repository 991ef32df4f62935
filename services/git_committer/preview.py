"""What an ImageUpdateAutomation would commit now, nothing pushed (``conveyor preview automation``).

The run's own steps up to its commit (:func:`.reconcile.prepare`: check out where the run
starts, the setters over ``spec.update.path`` with the policies as stored now, the commit
message), in a throwaway clone under the data directory's scratch folder. Nothing is committed
or pushed, and nothing is written to the store: no status, no marker index, no event, no lock
(the automation's own work tree and its push lock are left to its runs).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conveyor.services.git_committer.message import Update, setter_name
from conveyor.services.git_committer.reconcile import (
    owner_of,
    policy_key,
    prepare,
    source_and_target,
    workspace_at,
)
from conveyor.shared import deadline, fields
from conveyor.shared.errors import DependencyNotReady
from conveyor.shared.models import ImagePolicy, ImageUpdateAutomation
from conveyor.shared.runtime import Context
from conveyor.shared.status import ImagePolicyStatus
from conveyor.shared.timeouts import run_timeout


@dataclass(frozen=True)
class FileDiff:
    path: str  # from the repository's root
    diff: str  # as ``git diff`` writes it


@dataclass(frozen=True)
class Preview:
    """A run's commit, not made: its message (None: the run would commit nothing), the diff of
    each file, the setters' changes; the push branch and the commit the run starts from."""

    branch: str
    base: str
    message: str | None
    files: list[FileDiff] = field(default_factory=list)
    changes: list[Update] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def data(self) -> dict[str, Any]:
        """``-o json``: the changes as Flux's ``.Changed.Changes`` carries them (``setter`` is
        ``Change.Setter``), each with the file Flux names it in (``.Changed.FileChanges``:
        relative to ``spec.update.path``)."""
        return {
            "message": self.message,
            "files": [{"path": f.path, "diff": f.diff} for f in self.files],
            "changes": [
                {
                    "file": u.file,
                    "oldValue": u.change.old,
                    "newValue": u.change.new,
                    "setter": setter_name(u.change),
                }
                for u in self.changes
            ],
            "branch": self.branch,
            "revision": f"{self.branch}@sha1:{self.base}",
        }


def unready_policies(obj: ImageUpdateAutomation, refs: set[str], ctx: Context) -> list[str]:
    """What to say of the policies the markers name (``"ns:name"``): a selected one with no
    result yet stops the preview (``DependencyNotReady``, naming it); one that is not Ready
    but has a result is used, as a run uses it, with a warning."""
    found = ctx.store.objects_with_status(
        [policy_key(r) for r in sorted(refs)], ImagePolicy, ImagePolicyStatus
    )
    selector = obj.spec.policy_selector
    warnings = []
    for policy, status in found:
        if policy is None:
            continue  # a marker naming a missing one stopped the setters already
        if selector is not None and not selector.matches(policy.metadata.labels):
            continue  # not selected: its markers are left, as a run leaves them
        ready = status.ready
        said = f" ({ready.reason}: {ready.message})" if ready and ready.status != "True" else ""
        where = f"conveyor get imagepolicy {policy.name} -n {policy.namespace}"
        if status.latest_ref is None:
            raise DependencyNotReady(
                f"ImagePolicy {policy.namespace}/{policy.name} has no latest image yet{said}: "
                f"its markers would stay as they are ({where})"
            )
        if said:
            warnings.append(
                f"ImagePolicy {policy.namespace}/{policy.name} is not Ready{said}: its last "
                f"result, {status.latest_ref.name}:{status.latest_ref.tag}, is used, as a run "
                f"would use it"
            )
    return warnings


def preview(obj: ImageUpdateAutomation, ctx: Context) -> Preview:
    """What a run of ``obj`` would commit now, in a clone of its own, removed afterwards."""
    fields.check(obj.unsupported)  # a field conveyor refuses: no run would happen
    source, target, _ = source_and_target(obj, ctx)
    local = target.push_branch
    with (
        tempfile.TemporaryDirectory(prefix="preview-", dir=ctx.settings.scratch) as tmp,
        deadline.within(run_timeout(obj, ctx.store), f"preview of {owner_of(obj)}"),
    ):
        workspace = workspace_at(Path(tmp) / "work", obj, source, target, ctx)
        prepared = prepare(obj, source, workspace, target, ctx, None)
        head, updates = prepared.head, prepared.updates
        warnings = unready_policies(obj, updates.refs, ctx)
        if prepared.message is None:
            return Preview(local, head, None, warnings=warnings)
        for path, text in updates.texts.items():
            path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
        root = workspace.path.resolve()
        diffs = [workspace.diff(str(p.relative_to(root))) for p in sorted(updates.texts)]
        files = [
            FileDiff(str(p.relative_to(root)), d)
            for p, d in zip(sorted(updates.texts), diffs, strict=True)
            if d
        ]
        if not files or (  # the edits are no-ops byte for byte: a run commits nothing
            # a push branch started from the checkout ref that holds this very update already
            target.overwrite
            and (there := workspace.fetch_branch(local)) is not None
            and workspace.holds(there, head)
        ):
            return Preview(local, head, None, warnings=warnings)
        return Preview(local, head, prepared.message, files, updates.described, warnings)
