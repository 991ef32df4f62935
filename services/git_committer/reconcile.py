"""ImageUpdateAutomation: rewrite the markers under update.path, commit, push, announce."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from conveyor.services.git_committer import approvals, pullrequest
from conveyor.services.git_committer.message import (
    ObjectIdentifier,
    Update,
    commit_message,
    object_identifier,
)
from conveyor.services.git_committer.rollback import (
    Plan,
    finish,
    plan_of,
    record_pushed,
    unfailed,
)
from conveyor.services.git_committer.setters import Latest, marker_refs, update_text
from conveyor.shared import metrics
from conveyor.shared.adapters.git import SigningKey, Workspace, remote_tags
from conveyor.shared.credentials import source_auth
from conveyor.shared.errors import InvalidSpec, NotFound, PermanentError, TransientError, scrub
from conveyor.shared.events import (
    CommitPushed,
    Event,
    PolicyChanged,
    RollbackRequested,
    SourceUpdated,
)
from conveyor.shared.kinds import IMAGE_UPDATE_AUTOMATION
from conveyor.shared.models import (
    GitRef,
    GitRepository,
    ImagePolicy,
    ImageUpdateAutomation,
    LabelSelector,
    object_key,
)
from conveyor.shared.notices import Draft
from conveyor.shared.rollback import mode as rollback_mode
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
    ``spec.policySelector`` (its markers stay as they are, as Flux leaves them), or whose tag
    a rollback marked failed (``rollback.unfailed``)."""
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
    return unfailed(out, ctx)


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


# A conveyor-only setting of an ImageUpdateAutomation (never a field of Flux's spec): what a push
# branch (``spec.git.push.branch`` other than the checkout branch) that exists already starts from.
PUSH_BRANCH_BASE = "conveyor.dev/push-branch-base"
PUSH_BRANCH_BASES = (
    "push-branch",  # default, as Flux (GitAllBranchReferences on): the branch's own head
    "checkout",  # as Flux with GitAllBranchReferences off: the checkout ref, force-pushed
)


@dataclass(frozen=True)
class Target:
    """Where a run starts and where it pushes, as Flux's source manager configures it."""

    ref: GitRef  # the checkout ref: spec.git.checkout.ref, else the GitRepository's spec.ref
    push_branch: str  # spec.git.push.branch, else the checkout ref's branch
    refspec: str | None  # pushed to as well, after the branch
    options: dict[str, str]  # Git push options, sent with every push
    overwrite: bool  # the push branch starts from the checkout ref every run (force-pushed)

    @property
    def branch(self) -> str | None:
        """The checkout branch when the ref is a plain branch (no commit, name, tag, semver)."""
        ref = self.ref
        return None if ref.commit or ref.name or ref.tag or ref.semver else ref.branch or "master"

    @property
    def switch(self) -> bool:
        """Flux's switchBranch: the push branch is not the checkout ref's branch (a tag,
        semver or name has none)."""
        return self.push_branch != self.ref.branch


def push_target(obj: ImageUpdateAutomation, source: GitRepository, owner: str) -> Target:
    git = obj.spec.git
    assert git is not None
    ref = git.checkout.ref if git.checkout else source.spec.ref
    push = git.push
    base = obj.metadata.annotations.get(PUSH_BRANCH_BASE, PUSH_BRANCH_BASES[0])
    if base not in PUSH_BRANCH_BASES:
        raise InvalidSpec(
            f"{owner}: annotation {PUSH_BRANCH_BASE}: {base[:100]!r} is not one of "
            + ", ".join(PUSH_BRANCH_BASES)
        )
    branch = push.branch if push and push.branch else None
    if branch is None:  # Flux: the checkout ref's branch, which must be given
        pinned = ref.commit or ref.name or ref.tag or ref.semver
        if not ref.branch or pinned:
            raise PermanentError(
                f"{owner}: push spec not provided, and cannot be inferred from "
                ".spec.git.checkout.ref or GitRepository .spec.ref"
                + (" (a pinned commit or tag needs spec.git.push.branch)" if pinned else ""),
                reason="SourceManagerFailed",
            )
        branch = ref.branch
    target = Target(
        ref=ref,
        push_branch=branch,
        refspec=push.refspec if push and push.refspec else None,
        options=dict(push.options or {}) if push else {},
        overwrite=False,
    )
    if base == "checkout" and target.switch:
        target = dataclasses.replace(target, overwrite=True)
    if target.branch is None and not target.switch:
        raise InvalidSpec(
            f"{owner}: spec.git.checkout.ref pins a commit or tag on branch {branch!r}, which is "
            "also the push branch: set spec.git.push.branch to another branch",
            reason="InvalidSourceConfiguration",
        )
    return target


def checkout_ref(target: Target, source: GitRepository, ctx: Context, owner: str) -> str:
    """What to fetch for a checkout ref that is not a plain branch, in the order of Flux's Git
    client: commit, name, tag, semver (the highest matching tag)."""
    ref, spec = target.ref, source.spec
    if ref.commit:
        return ref.commit
    if ref.name:
        return ref.name
    if ref.tag:
        return f"refs/tags/{ref.tag}"
    assert ref.semver
    from conveyor.shared import semver  # with its RE2 patterns: only a semver ref needs it

    try:
        constraints = semver.cached_constraint(ref.semver)
    except semver.SemverError as exc:
        raise InvalidSpec(f"{owner}: checkout ref semver {ref.semver!r}: {exc}") from exc
    auth = source_auth(source, ctx, owner)
    tags = remote_tags(spec.url, auth, spec.timeout, ctx.settings.scratch)
    tag = semver.latest_version(list(tags), constraints)
    if tag is None:
        raise PermanentError(
            f"{owner}: no tag of the repository matches semver {ref.semver!r}",
            reason="GitOperationFailed",
        )
    return f"refs/tags/{tag}"


_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def selector_problem(selector: LabelSelector) -> str | None:
    """Why Kubernetes would not take ``selector`` as a label selector (None: it would)."""

    def key_problem(key: str) -> str | None:
        prefix, _, name = key.rpartition("/")
        if not _LABEL_NAME.fullmatch(name) or (
            "/" in key and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix))
        ):
            return f"key {key[:100]!r} is not a valid label key"
        return None

    def value_problem(value: str) -> str | None:
        if value and not _LABEL_NAME.fullmatch(value):
            return f"value {value[:100]!r} is not a valid label value"
        return None

    for key, value in selector.match_labels.items():
        if problem := key_problem(key) or value_problem(value):
            return problem
    for req in selector.match_expressions:
        if problem := key_problem(req.key):
            return problem
        if req.operator in ("In", "NotIn") and not req.values:
            return f"key {req.key!r}: for 'in', 'notin' operators, values set can't be empty"
        if req.operator in ("Exists", "DoesNotExist") and req.values:
            return f"key {req.key!r}: values set must be empty for exists and does not exist"
        for value in req.values:
            if problem := value_problem(value):
                return problem
    return None


def check_spec(obj: ImageUpdateAutomation, owner: str) -> None:
    """What Flux refuses before it touches Git, and what conveyor cannot do, by field."""
    if obj.spec.git is None:
        raise InvalidSpec(
            f"{owner}: source kind 'GitRepository' necessitates field .spec.git",
            reason="InvalidSourceConfiguration",
        )
    selector = obj.spec.policy_selector
    if selector is not None and (problem := selector_problem(selector)):
        raise InvalidSpec(
            f"{owner}: failed to parse policy selector: {problem}", reason="InvalidPolicySelector"
        )
    if not obj.spec.git.commit.author.name:
        raise InvalidSpec(
            f"{owner}: spec.git.commit.author.name is empty: git makes no commit without an "
            "author name (Flux's Git library writes an empty one): set a name",
            reason="UnsupportedField",
        )


def signing_key(obj: ImageUpdateAutomation, ctx: Context, owner: str) -> SigningKey | None:
    """The key of ``spec.git.commit.signingKey``, from the Secret keys Flux reads: ``git.asc``
    and ``passphrase`` for type ``gpg`` (the default), ``identity`` and ``password`` for ``ssh``."""
    assert obj.spec.git is not None
    ref = obj.spec.git.commit.signing_key
    if ref is None:
        return None
    kind = ref.type or "gpg"
    key, password = ("identity", "password") if kind == "ssh" else ("git.asc", "passphrase")
    secret = ctx.secret(obj.namespace, ref.secret_ref.name, owner=owner)
    data = secret.data.get(key)
    if data is None:
        raise PermanentError(
            f"{owner}: signing key secret '{ref.secret_ref.name}' does not contain "
            f"{'an' if kind == 'ssh' else 'a'} '{key}' key",
            reason="InvalidSigningKey",
        )
    return SigningKey(data, secret.text(password), kind)


def owner_of(obj: ImageUpdateAutomation) -> str:
    return f"ImageUpdateAutomation {obj.namespace}/{obj.name}"


def source_and_target(
    obj: ImageUpdateAutomation, ctx: Context
) -> tuple[GitRepository, Target, GitRepositoryStatus]:
    """What Flux checks before it touches Git: the spec, the GitRepository, where a run checks
    out and pushes; and the GitRepository's status (read with it, in one round trip)."""
    owner = owner_of(obj)
    check_spec(obj, owner)
    [(source, fetched)] = ctx.store.objects_with_status(
        [source_key(obj)], GitRepository, GitRepositoryStatus
    )
    if source is None:
        _, ns, name = source_key(obj).split("/", 2)
        raise NotFound(f"{owner}: GitRepository {ns}/{name} not found")
    return source, push_target(obj, source, owner), fetched


def workspace_at(
    path: Path, obj: ImageUpdateAutomation, source: GitRepository, target: Target, ctx: Context
) -> Workspace:
    """A working clone of ``source`` at ``path``, with its credentials and push options."""
    spec = source.spec
    auth = source_auth(source, ctx, owner_of(obj))
    return Workspace(path, spec.url, auth, spec.timeout, ctx.settings.scratch, target.options)


def reconcile(
    obj: ImageUpdateAutomation, status: ImageUpdateAutomationStatus, ctx: Context, event: Event
) -> Outcome:
    source, target, source_status = source_and_target(obj, ctx)
    gspec = source.spec
    proposer = pullrequest.proposer(  # pull-request mode: checked before any Git work
        obj, source, target.push_branch, target.branch, ctx, owner_of(obj)
    )

    def open_workspace() -> Workspace:  # not needed when nothing changed
        path = ctx.settings.data_dir / "automations" / obj.namespace / obj.name
        return workspace_at(path, obj, source, target, ctx)

    local = target.push_branch  # the branch the commits are made on, as Flux's client makes them
    # Pushes to one branch go one at a time, across every worker: none loses a race to
    # another automation (a developer's push can still win one: it is retried on top).
    fetched = source_status.artifact
    known = (  # the branch's head as the source-fetcher last saw it
        fetched.revision.rpartition("sha1:")[2]
        if source.spec.ref.branch == local and fetched is not None and not target.overwrite
        else None
    )
    # A run starting from the push branch's head can be skipped when nothing changed; one that
    # starts from a pinned ref or from the checkout branch every time is made, as Flux makes it.
    if (
        not target.overwrite
        and target.branch is not None
        and not isinstance(event, RollbackRequested)
        and unchanged(obj, status, ctx, lambda: open_workspace().remote_head(local), local, known)
    ):
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
            return _update(obj, status, ctx, event, source, workspace, target, known, proposer)
        except TransientError:
            if not workspace.warm:
                raise
            # the remote refused the warm tree's push (the branch moved since the
            # source-fetcher's last fetch): the run again at once, fetched
            log.info("%s: the branch moved since its last fetch: fetching it", obj.key)
            metrics.count("conveyor_git_push_retries_total")
            return _update(obj, status, ctx, event, source, workspace, target, None, proposer)


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
    target: Target,
    known: str | None,
    proposer: pullrequest.Proposer | None = None,
) -> Outcome:
    """Check out where the run starts (see :func:`start`), update the markers, commit and
    push: the run of an automation once it holds its push branch. It leaves the work tree
    clean: at the commit it pushed, or as checked out. In pull-request mode, a push is then
    proposed (``proposer``), and so is the push branch's head again by a run that pushes
    nothing after one that did not end Ready."""
    spec = obj.spec
    assert spec.git is not None
    owner = owner_of(obj)
    local = target.push_branch
    prepared = prepare(obj, source, workspace, target, ctx, known, plan_of(obj, event, ctx))
    head, at_push_head, updates = prepared.head, prepared.at_push_head, prepared.updates
    ctx.store.set_markers(obj.key, {policy_key(r) for r in updates.refs})
    new_texts = updates.texts
    status.last_automation_run_time = now_iso()
    status.observed_source_revision = f"{local}@sha1:{head}"
    gate = approvals.gate(obj, updates.described, ctx, event)  # conveyor.dev/approvals
    if gate.held is not None:  # nothing committed: observedPolicies stay what was written
        return gate.hold(status)
    event = gate.follow(event)
    # the values the files were written from: a policy that changed since has its own event
    status.observed_policies = observed(updates.policies)
    if not new_texts:
        if at_push_head:
            workspace.settle(local, head)
        note = again(proposer, status, workspace, head if at_push_head else None)
        status.mark_ready(
            "Succeeded",
            f"repository up-to-date at {local}@sha1:{head}" + note,
            obj.metadata.generation,
        )
        return Outcome(status)
    message = prepared.message
    assert message is not None
    message = gate.sign(message)  # who approved it, if approvals are required
    for path, text in new_texts.items():
        path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    author = spec.git.commit.author
    files = [str(p.relative_to(workspace.path.resolve())) for p in new_texts]
    commit = workspace.commit(
        files, message, author.name, author.email, signing_key(obj, ctx, owner)
    )
    # a push branch started from the checkout ref may hold this very update already
    there = workspace.fetch_branch(local) if commit is not None and target.overwrite else None
    if commit is None or (there is not None and workspace.same_change(commit, there)):
        workspace.reset_to(head)  # (commit None: the edits were no-ops byte for byte)
        if at_push_head:
            workspace.settle(local, head)
        held = there if there is not None else head if at_push_head else None
        note = again(proposer, status, workspace, held)
        status.mark_ready("Succeeded", "repository up-to-date" + note, obj.metadata.generation)
        return Outcome(status)
    pushed_to_local = False
    try:  # as Flux: the push branch, then the refspec, each with the push options
        if target.overwrite:
            workspace.push(local, local, force=True)
        else:
            workspace.push(local, local)
        pushed_to_local = True
        if target.refspec:  # forced when the push branch is not the checkout branch, as Flux
            workspace.push_refspec(target.refspec, force=target.switch)
    finally:
        if pushed_to_local:  # the work tree is the branch's new head: the next run starts there
            workspace.settle(local, commit)
            status.observed_source_revision = f"{local}@sha1:{commit}"
            # what this commit changed, so that others on the branch can tell it is not theirs
            ctx.store.put_changes(source_key(obj), commit, files, base=head)
            record_pushed(ctx, obj, source_key(obj), local, head, commit, updates.described, event)
        else:  # never leave a local commit behind: the next run starts clean
            workspace.reset_to(head)
    status.last_push_commit = commit
    gate.landed(commit)
    status.last_push_time = now_iso()
    # pull-request mode: a failure here is Ready=False and retried, the push kept (see again)
    proposed = f" and {proposer.propose(commit, message)}" if proposer is not None else ""
    status.mark_ready(
        "Succeeded",
        f"pushed commit '{commit[:7]}' to branch '{local}'"
        + (f" and refspecs '{target.refspec}'" if target.refspec else "")
        + proposed
        + ("; the remote takes no push options: sent without" if workspace.options_dropped else ""),
        obj.metadata.generation,
    )
    pushed = event.follow(
        CommitPushed,
        namespace=obj.namespace,
        name=obj.name,
        source_namespace=source.namespace,
        source_name=source.name,
        branch=local,
        commit=commit,
    )
    ready = status.ready
    summary = (ready.message if ready else "") + (f"\n{message}" if message else "")
    return Outcome(status, [pushed], [Draft(summary)])  # Flux's PushResult.Summary()


def again(
    proposer: pullrequest.Proposer | None,
    status: ImageUpdateAutomationStatus,
    workspace: Workspace,
    commit: str | None,
) -> str:
    """In pull-request mode, a run that pushes nothing proposes the push branch's head
    ``commit`` again when the last run did not end Ready (its proposal failed after its push,
    or it is the first run); what was done, for the Ready message."""
    ready = status.ready  # the last run's: this run has not said yet
    if proposer is None or commit is None or (ready is not None and ready.status == "True"):
        return ""
    done = proposer.again(workspace, commit)
    return f"; {done}" if done else ""


@dataclass(frozen=True)
class Prepared:
    """A run checked out and computed, nothing written yet: the commit it starts from, whether
    that is the push branch's head, the updates, and their commit message (None: no update)."""

    head: str
    at_push_head: bool
    updates: Updates
    message: str | None


def prepare(
    obj: ImageUpdateAutomation,
    source: GitRepository,
    workspace: Workspace,
    target: Target,
    ctx: Context,
    known: str | None,
    plan: Plan | None = None,
) -> Prepared:
    """What a run of ``obj`` would commit: check out where it starts (:func:`start`), run the
    setters over ``spec.update.path`` with the policies as stored now (a rollback's ``plan``:
    with the values it puts back), render the commit message (a rollback's own). Nothing is
    written, committed, pushed or stored: the reconcile goes on from here, ``conveyor preview
    automation`` stops here."""
    spec = obj.spec
    assert spec.git is not None
    owner = owner_of(obj)
    head, at_push_head = start(workspace, target, source, ctx, owner, known)
    root = update_root(workspace.path, spec.update.path, owner)
    updates = compute_updates(
        root,
        workspace.path,
        plan.resolve if plan else lambda refs: policies_of(refs, spec.policy_selector, ctx),
        obj.namespace,
    )
    message = None
    if updates.texts and plan is not None:
        message = plan.message(updates.described)
    elif updates.texts:
        commit_spec = spec.git.commit
        message = commit_message(
            commit_spec.message_template,
            commit_spec.message_template_values,
            obj.api_version,
            obj.namespace,
            obj.name,
            updates.described,
        )
    return Prepared(head, at_push_head, updates, message)


def start(
    workspace: Workspace,
    target: Target,
    source: GitRepository,
    ctx: Context,
    owner: str,
    known: str | None,
) -> tuple[str, bool]:
    """Check out, as the push branch, where this run commits: the push branch's head when the
    remote has that branch (at ``known`` when that is its head: see ``Workspace.checkout``),
    else the checkout ref; the checkout ref every time with the ``checkout`` base. Returns the
    commit, and whether it is the push branch's head."""
    local = target.push_branch
    if not target.overwrite:
        try:  # a push branch that exists already carries the earlier updates: work on top of it
            return workspace.checkout(local, known_head=known), True
        except NotFound:
            if not target.switch:
                raise
    if target.branch is not None:
        return workspace.checkout(target.branch, local=local), False
    return workspace.checkout_ref(checkout_ref(target, source, ctx, owner), local), False


def targets(event: Event, ctx: Context) -> list[str]:
    """A changed policy wakes the automations whose files mark it (and those not run yet);
    a new source revision wakes its automations unless it is their own push or leaves their
    update path alone."""
    if isinstance(event, RollbackRequested):
        return [object_key("ImageUpdateAutomation", event.namespace, event.name)]
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


def run(
    obj: ImageUpdateAutomation, status: ImageUpdateAutomationStatus, ctx: Context, event: Event
) -> Outcome:
    """A run of ``obj``: its update, or a rollback (``RollbackRequested``: ``rollback.py``)."""
    rollback_mode(obj)  # an invalid conveyor.dev/rollback is refused by name
    outcome = reconcile(obj, status, ctx, event)
    return finish(obj, event, outcome, ctx) if isinstance(event, RollbackRequested) else outcome


STAGE = Stage(IMAGE_UPDATE_AUTOMATION, run, targets)
