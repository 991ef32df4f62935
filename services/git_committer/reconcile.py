"""ImageUpdateAutomation: rewrite the markers under update.path, commit, push, announce."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from conveyor.services.git_committer.message import (
    ObjectIdentifier,
    Update,
    commit_message,
    object_identifier,
)
from conveyor.services.git_committer.setters import Latest, marker_refs, update_text
from conveyor.shared.adapters.git import SigningKey, Workspace
from conveyor.shared.credentials import source_auth
from conveyor.shared.errors import InvalidSpec, NotFound, PermanentError, TransientError, scrub
from conveyor.shared.events import CommitPushed, Event, PolicyChanged, SourceUpdated
from conveyor.shared.kinds import IMAGE_UPDATE_AUTOMATION
from conveyor.shared.models import (
    GitRepository,
    ImagePolicy,
    ImageUpdateAutomation,
    LabelSelector,
    object_key,
)
from conveyor.shared.runtime import Context, Outcome, Stage
from conveyor.shared.status import (
    GitRepositoryStatus,
    ImagePolicyStatus,
    ImageRef,
    ImageUpdateAutomationStatus,
    now_iso,
)
from conveyor.shared.yamlsrc import MAX_TEXT_BYTES

log = logging.getLogger("conveyor.git_committer")

YAML_SUFFIXES = (".yaml", ".yml")


def source_key(obj: ImageUpdateAutomation) -> str:
    ref = obj.spec.source_ref
    return object_key("GitRepository", ref.namespace or obj.namespace, ref.name)


def policy_key(ref: str) -> str:
    """The store key of a marker's ``"ns:name"``."""
    namespace, name = ref.split(":", 1)
    return object_key("ImagePolicy", namespace, name)


def policies_of(
    refs: set[str], selector: LabelSelector | None, ctx: Context
) -> dict[str, Latest | None]:
    """The ImagePolicies the markers name (``refs``, ``"ns:name"``) that exist, with their latest
    image, read in one round trip; None for one without a result yet or not selected by
    ``spec.policySelector`` (its markers stay as they are, as Flux leaves them)."""
    names = sorted(refs)
    found = ctx.store.objects_with_status(
        [policy_key(r) for r in names], ImagePolicy, ImagePolicyStatus
    )
    out: dict[str, Latest | None] = {}
    for ref, (policy, status) in zip(names, found, strict=True):
        if policy is None:
            continue  # a marker naming a policy that does not exist: update_text says so
        if selector is not None and not selector.matches(policy.metadata.labels):
            out[ref] = None
            continue
        latest = status.latest_ref
        out[ref] = Latest(latest.name, latest.tag, latest.digest) if latest else None
    return out


def update_root(workdir: Path, path: str, owner: str) -> Path:
    root = (workdir / path).resolve()
    if root != workdir.resolve() and workdir.resolve() not in root.parents:
        raise InvalidSpec(f"{owner}: spec.update.path {path!r} leaves the repository")
    if not root.exists():
        raise InvalidSpec(f"{owner}: spec.update.path {path!r} does not exist in the repository")
    return root


_DOCUMENT_START = re.compile(r"^---(?=[ \t\r\n]|$)", re.MULTILINE)


def object_at(text: str, line: int) -> ObjectIdentifier:
    """The Kubernetes object whose document holds ``line`` (1-based) of ``text``: only that
    document is read (from the ``---`` before the line to the next), with PyYAML's C parser."""
    offset = sum(len(t) for t in text.splitlines(keepends=True)[: line - 1])
    begin, end = 0, len(text)
    for match in _DOCUMENT_START.finditer(text):
        if match.start() <= offset:
            begin = match.start()
        else:
            end = match.start()
            break
    if end - begin > MAX_TEXT_BYTES:
        return ObjectIdentifier.of("", "", "", "")
    return object_identifier(text[begin:end])  # the setters work on lines: best effort


def yaml_files(root: Path, workdir: Path) -> list[Path]:
    """The YAML files at or below ``root``, in order. Links are never followed: one that leads
    out of the work tree is refused, naming it; one that stays inside is passed over (what it
    points at is a file of its own)."""
    top = workdir.resolve()

    def check_link(path: Path) -> None:
        target = path.resolve()
        if target != top and top not in target.parents:
            rel = path.relative_to(top)
            raise PermanentError(
                f"{rel} is a link out of the repository ({os.readlink(path)}): refused",
                reason="LinkOutsideRepository",
            )

    if root.is_file():
        return [root] if root.suffix in YAML_SUFFIXES else []
    found: list[Path] = []
    for folder, dirs, names in os.walk(root, followlinks=False):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in [*dirs, *names]:
            if (here / name).is_symlink():
                check_link(here / name)
        found += [
            here / n
            for n in sorted(names)
            if Path(n).suffix in YAML_SUFFIXES and not (here / n).is_symlink()
        ]
    return found


Resolve = Callable[[set[str]], Mapping[str, Latest | None]]


@dataclass
class Updates:
    """What an automation run would write: the new text of each file that changes, the
    changes, and every policy its markers name (the index of which automation to wake)."""

    texts: dict[Path, str]
    described: list[Update]
    refs: set[str]
    policies: Mapping[str, Latest | None]  # what the markers were updated from


def compute_updates(root: Path, workdir: Path, resolve: Resolve, namespace: str) -> Updates:
    """Read the files under ``root`` once, ask ``resolve`` for the policies their markers
    name, and compute the updates: nothing is written here."""
    texts: dict[Path, tuple[str, str]] = {}
    refs: set[str] = set()
    for path in yaml_files(root, workdir):
        rel = str(path.relative_to(workdir.resolve()))
        texts[path] = (rel, path.read_bytes().decode("utf-8", errors="surrogateescape"))
        refs |= marker_refs(texts[path][1], rel, namespace)
    policies = resolve(refs)
    new_texts: dict[Path, str] = {}
    described: list[Update] = []
    base = root if root.is_dir() else root.parent  # Flux names files from the update path
    for path, (rel, text) in texts.items():
        new, changes = update_text(text, rel, policies, namespace)
        if not changes:
            continue
        new_texts[path] = new
        for change in changes:
            latest = policies[change.policy]
            assert latest is not None
            described.append(
                Update(str(path.relative_to(base)), object_at(text, change.line), change, latest)
            )
    return Updates(new_texts, described, refs, policies)


def signing_key(obj: ImageUpdateAutomation, ctx: Context, owner: str) -> SigningKey | None:
    """The OpenPGP key of ``spec.git.commit.signingKey`` (Flux's ``git.asc`` Secret)."""
    ref = obj.spec.git.commit.signing_key
    if ref is None:
        return None
    secret = ctx.secret(obj.namespace, ref.secret_ref.name, owner=owner)
    armored = secret.data.get("git.asc")
    if armored is None:
        raise PermanentError(
            f"{owner}: secret {obj.namespace}/{ref.secret_ref.name} has no 'git.asc' key",
            reason="InvalidSigningKey",
        )
    return SigningKey(armored, secret.text("passphrase"))


def reconcile(
    obj: ImageUpdateAutomation, status: ImageUpdateAutomationStatus, ctx: Context, event: Event
) -> Outcome:
    spec = obj.spec
    owner = f"ImageUpdateAutomation {obj.namespace}/{obj.name}"
    source = ctx.store.get_object(source_key(obj), GitRepository)
    if source is None:
        _, ns, name = source_key(obj).split("/", 2)
        raise NotFound(f"{owner}: GitRepository {ns}/{name} not found")
    gspec = source.spec
    checkout = spec.git.checkout.ref if spec.git.checkout else gspec.ref
    branch = checkout.branch or "master"
    push = spec.git.push
    push_branch = (push.branch if push else None) or (None if push and push.refspec else branch)

    def open_workspace() -> Workspace:  # not needed when nothing changed
        return Workspace(
            ctx.settings.data_dir / "automations" / obj.namespace / obj.name,
            gspec.url,
            source_auth(source, ctx, owner),
            gspec.timeout,
            ctx.settings.scratch,
        )

    # The branch the pushes land on: built upon once it exists (a refspec to refs/heads/X too).
    refspec_target = (push.refspec or "").rpartition(":")[2] if push else ""
    local = push_branch or refspec_target.removeprefix("refs/heads/") or branch
    if local.startswith("refs/"):  # a magic ref (Gerrit's refs/for/...): start from checkout
        local = branch
    # Pushes to one branch go one at a time, across every worker: none loses a race to
    # another automation (a developer's push can still win one: it is retried on top).
    fetched = ctx.store.get_status(source.key, GitRepositoryStatus).artifact
    known = (  # the branch's head as the source-fetcher last saw it
        fetched.revision.rpartition("sha1:")[2]
        if source.spec.ref.branch == local and fetched is not None
        else None
    )
    if unchanged(obj, status, ctx, lambda: open_workspace().remote_head(local), local, known):
        status.last_automation_run_time = now_iso()
        status.mark_ready(
            "Succeeded",
            f"repository up-to-date at {status.observed_source_revision}",
            obj.metadata.generation,
        )
        return Outcome(status)
    workspace = open_workspace()
    remote = hashlib.sha256(scrub(gspec.url).encode()).hexdigest()[:16]
    with ctx.store.lock(f"GitPush/{remote}/{local}"):
        try:
            return _update(
                obj, status, ctx, event, source, workspace, local, branch, push_branch, known
            )
        except TransientError:
            if not workspace.warm:
                raise
            # the remote refused the warm tree's push (the branch moved since the
            # source-fetcher's last fetch): the run again at once, fetched
            log.info("%s: the branch moved since its last fetch: fetching it", obj.key)
            return _update(
                obj, status, ctx, event, source, workspace, local, branch, push_branch, None
            )


def observed(policies: Mapping[str, Latest | None]) -> dict[str, ImageRef]:
    """Flux's ``status.observedPolicies``: each policy the markers name that is selected and
    has a result, by name, with that result."""
    return {
        ref.split(":", 1)[1]: ImageRef(name=latest.name, tag=latest.tag, digest=latest.digest)
        for ref, latest in policies.items()
        if latest is not None
    }


def unchanged(
    obj: ImageUpdateAutomation,
    status: ImageUpdateAutomationStatus,
    ctx: Context,
    remote_head: Callable[[], str | None],
    local: str,
    known: str | None,
) -> bool:
    """Whether a run would change nothing, as Flux tells it: the branch's head is the one the
    last good run saw and so are the policies its markers name (``observedSourceRevision``,
    ``observedPolicies``). The head is ``known``, the GitRepository's own revision when it
    follows the same branch (the source-fetcher keeps it; a new one wakes this automation),
    else ``remote_head()``, one ``ls-remote``; the policies, one round trip to the store.
    Instead of a fetch, a checkout and a read of every file. A head that moved by commits
    none of which touch ``spec.update.path`` (other automations' pushes, say), as the fetches
    and the pushes recorded them, is as good: it becomes the observed revision."""
    ready = status.ready
    seen = status.observed_source_revision
    if (
        ready is None
        or ready.status != "True"
        or status.observed_generation != obj.metadata.generation
        or seen is None
        or status.observed_policies is None
    ):
        return False
    head = known if known is not None else remote_head()
    if head is None:
        return False
    branch, _, before = seen.partition("@sha1:")
    if branch != local:
        return False
    if before != head:
        if known is None:  # no fetches to tell what changed in between
            return False
        changed = ctx.store.changes_between(source_key(obj), before, head)
        if changed is None or touches(changed, obj.spec.update.path):
            return False
    refs = {k.split("/", 2)[1] + ":" + k.split("/", 2)[2] for k in ctx.store.markers_of(obj.key)}
    if observed(policies_of(refs, obj.spec.policy_selector, ctx)) != status.observed_policies:
        return False
    status.observed_source_revision = f"{local}@sha1:{head}"
    return True


def _update(
    obj: ImageUpdateAutomation,
    status: ImageUpdateAutomationStatus,
    ctx: Context,
    event: Event,
    source: GitRepository,
    workspace: Workspace,
    local: str,
    branch: str,
    push_branch: str | None,
    known: str | None,
) -> Outcome:
    """Check out ``local`` (at ``known``, its head, when known: see ``Workspace.checkout``),
    update the markers, commit and push: the run of an automation once it holds its branch.
    It leaves the work tree clean: at the commit it pushed to ``local``, or as checked out."""
    spec = obj.spec
    push = spec.git.push
    owner = f"ImageUpdateAutomation {obj.namespace}/{obj.name}"
    try:  # a push branch that exists already carries the earlier updates: work on top of it
        head = workspace.checkout(local, known_head=known)
    except NotFound:
        if local == branch:
            raise
        head = workspace.checkout(branch, local=local)
    root = update_root(workspace.path, spec.update.path, owner)
    updates = compute_updates(
        root,
        workspace.path,
        lambda refs: policies_of(refs, spec.policy_selector, ctx),
        obj.namespace,
    )
    ctx.store.set_markers(obj.key, {policy_key(r) for r in updates.refs})
    new_texts, described = updates.texts, updates.described
    status.last_automation_run_time = now_iso()
    status.observed_source_revision = f"{local}@sha1:{head}"
    # the values the files were written from: a policy that changed since has its own event
    status.observed_policies = observed(updates.policies)
    if not new_texts:
        workspace.settle(local, head)
        status.mark_ready(
            "Succeeded", f"repository up-to-date at {local}@sha1:{head}", obj.metadata.generation
        )
        return Outcome(status)
    commit_spec = spec.git.commit
    message = commit_message(
        commit_spec.message_template,
        commit_spec.message_template_values,
        obj.api_version,
        obj.namespace,
        obj.name,
        described,
    )
    for path, text in new_texts.items():
        path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    author = spec.git.commit.author
    files = [str(p.relative_to(workspace.path.resolve())) for p in new_texts]
    commit = workspace.commit(
        files, message, author.name, author.email, signing_key(obj, ctx, owner)
    )
    if commit is None:  # the edits were no-ops byte for byte
        workspace.reset_to(head)
        workspace.settle(local, head)
        status.mark_ready("Succeeded", "repository up-to-date", obj.metadata.generation)
        return Outcome(status)
    pushed_to_local = False
    try:
        if push_branch is not None:
            workspace.push(local, push_branch)
            pushed_to_local = not (push is not None and push.refspec)
        if push is not None and push.refspec:
            workspace.push_refspec(push.refspec)
    finally:
        if pushed_to_local:  # the work tree is the branch's new head: the next run starts there
            workspace.settle(local, commit)
            status.observed_source_revision = f"{local}@sha1:{commit}"
            # what this commit changed, so that others on the branch can tell it is not theirs
            ctx.store.put_changes(source_key(obj), commit, files, base=head)
        else:  # never leave a local commit behind: the next run starts clean
            workspace.reset_to(head)
    status.last_push_commit = commit
    status.last_push_time = now_iso()
    status.mark_ready(
        "Succeeded",
        f"pushed commit '{commit[:7]}' to "
        + (
            f"branch '{push_branch}'"
            if push_branch
            else f"refspec '{push.refspec if push else ''}'"
        ),
        obj.metadata.generation,
    )
    pushed = event.follow(
        CommitPushed,
        namespace=obj.namespace,
        name=obj.name,
        source_namespace=source.namespace,
        source_name=source.name,
        branch=push_branch or branch,
        commit=commit,
    )
    return Outcome(status, [pushed])


def targets(event: Event, ctx: Context) -> list[str]:
    """A changed policy wakes the automations whose files mark it (and those not run yet);
    a new source revision wakes its automations unless it is their own push or leaves their
    update path alone."""
    if isinstance(event, PolicyChanged):
        prefix = f"ImageUpdateAutomation/{event.namespace}/"
        candidates = [k for k in ctx.store.keys("ImageUpdateAutomation") if k.startswith(prefix)]
        return ctx.store.marked_by(
            object_key("ImagePolicy", event.namespace, event.name), candidates
        )
    if isinstance(event, SourceUpdated):
        source = object_key("GitRepository", event.namespace, event.name)
        keys = ctx.store.referrers(source, "ImageUpdateAutomation")
        commit = event.revision.rpartition("sha1:")[2]
        changed = ctx.store.changed_paths(source, commit)
        found = ctx.store.objects_with_status(
            keys, ImageUpdateAutomation, ImageUpdateAutomationStatus
        )
        return [
            key
            for key, (obj, status) in zip(keys, found, strict=True)
            if obj is not None
            and status.last_push_commit != commit
            and (changed is None or touches(changed, obj.spec.update.path))
        ]
    return []


def touches(changed: list[str], update_path: str) -> bool:
    """Whether a change of the files ``changed`` (repository paths) reaches ``update_path``."""
    root = Path(update_path).as_posix().strip("/")
    root = "" if root in ("", ".") else root.removeprefix("./")
    return any(root == "" or p == root or p.startswith(root + "/") for p in changed)


STAGE = Stage(IMAGE_UPDATE_AUTOMATION, reconcile, targets)
