"""GitRepository: fetch the ref, store its tree (as ``content`` builds it) as the artifact,
announce new artifacts."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conveyor.services.source_fetcher import content
from conveyor.shared.adapters import git
from conveyor.shared.credentials import source_auth
from conveyor.shared.errors import InvalidSpec, PermanentError
from conveyor.shared.events import CommitPushed, Event, SourceUpdated
from conveyor.shared.kinds import GIT_REPOSITORY
from conveyor.shared.models import GitRepository, object_key
from conveyor.shared.notices import DIGEST, REVISION, Draft
from conveyor.shared.runtime import Context, Outcome, Stage
from conveyor.shared.status import Artifact, GitRepositoryStatus

# The host of the artifact URLs. Flux's source-controller serves each artifact over HTTP at
# ``http://<--storage-adv-addr>/<path>``; conveyor keeps the artifact in its store for its own
# stages and serves none, so the URL has Flux's form on a host that cannot resolve (RFC 2606).
ARTIFACT_HOST = "conveyor.invalid"


def artifact_location(obj: GitRepository, commit: str) -> tuple[str, str]:
    """(path, url) of the artifact of ``commit``, as source-controller's storage names it:
    ``<kind>/<namespace>/<name>/<commit>.tar.gz``."""
    path = f"gitrepository/{obj.namespace}/{obj.name}/{commit}.tar.gz"
    return path, f"http://{ARTIFACT_HOST}/{path}"


def ref_name(
    source: GitRepository, owner: str, auth: git.GitAuth | None, ctx: Context
) -> tuple[str, str]:
    """(what to fetch, revision prefix) for ``spec.ref``, in Flux's order of precedence:
    commit, name, semver, tag, branch."""
    spec = source.spec
    ref = spec.ref
    if ref.commit:
        return ref.commit, f"{ref.branch}@" if ref.branch else ""
    if ref.name:
        return ref.name, f"{ref.name}@"
    if ref.semver:
        from conveyor.shared import semver  # with its RE2 patterns: only a semver ref needs it

        try:
            constraints = semver.cached_constraint(ref.semver)
        except semver.SemverError as exc:
            raise InvalidSpec(
                f"{owner}: spec.ref.semver: invalid semver range {ref.semver!r}: {exc}"
            ) from exc
        tags = git.remote_tags(spec.url, auth, spec.timeout, ctx.settings.scratch)
        tag = semver.latest_version(list(tags), constraints)
        if tag is None:
            raise PermanentError(
                f"{owner}: no tag matches spec.ref.semver {ref.semver!r}",
                reason="GitOperationFailed",
            )
        return f"refs/tags/{tag}", f"{tag}@"
    if ref.tag:
        return f"refs/tags/{ref.tag}", f"{ref.tag}@"
    branch = ref.branch or "master"
    return f"refs/heads/{branch}", f"{branch}@"


def reconcile(
    obj: GitRepository, status: GitRepositoryStatus, ctx: Context, event: Event
) -> Outcome:
    spec = obj.spec
    owner = f"GitRepository {obj.namespace}/{obj.name}"
    content.begin(status)
    auth = source_auth(obj, ctx, owner=owner)
    included = content.includes(obj, status, ctx)
    ref, prefix = ref_name(obj, owner, auth, ctx)
    path = ctx.settings.data_dir / "sources" / obj.namespace / obj.name
    commit = git.fetch_mirror(spec.url, path, ref, auth, spec.timeout, ctx.settings.scratch)
    revision = f"{prefix}sha1:{commit}"
    if spec.verify is None:
        content.forget_verification(status)
    events: list[Event] = []
    notices: list[Draft] = []
    artifact = status.artifact
    if (
        artifact is None
        or artifact.revision != revision
        or content.changed(obj, status, included)
        or (ctx.store.get_artifact(obj.key) is None)
    ):
        before = artifact.revision.rpartition("sha1:")[2] if artifact else None
        # what the commit changed (one git diff) is read while the artifact is built
        with ThreadPoolExecutor(1) as beside:
            diff = (
                beside.submit(git.changed_paths, path, before, commit)
                if before and before != commit
                else None
            )
            data = content.build(obj, status, ctx, path, ref, commit, auth, included)
        ctx.store.put_artifact(obj.key, data)
        if before != commit:
            ctx.store.put_changes(obj.key, commit, diff.result() if diff else None, before)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if artifact is None or artifact.revision != revision or artifact.digest != digest:
            events.append(
                event.follow(
                    SourceUpdated, namespace=obj.namespace, name=obj.name, revision=revision
                )
            )
            notices.append(
                Draft(
                    lambda: f"stored artifact for commit '{short_message(path, commit)}'",
                    reason="NewArtifact",
                    metadata={REVISION: revision, DIGEST: digest},
                )
            )
        artifact = status.artifact = Artifact(revision=revision, digest=digest, size=len(data))
        content.observe(obj, status, included)
    artifact.path, artifact.url = artifact_location(obj, commit)
    status.mark_ready(
        "Succeeded", f"stored artifact for revision '{revision}'", obj.metadata.generation
    )
    return Outcome(status, events, notices)


def short_message(path: Path, commit: str) -> str:
    """A commit's subject as Flux's events quote it: its first line, cut after 50 characters."""
    found = git.read_object(path, commit)
    if found is None or found[0] != "commit":
        return ""
    _, _, message = found[2].decode("utf-8", "replace").partition("\n\n")
    subject = message.split("\n", 1)[0]
    return subject if len(subject) <= 50 else subject[:50] + "..."


def targets(event: Event, ctx: Context) -> list[str]:
    """A push fetches its GitRepository; a new artifact rebuilds those that include it."""
    if isinstance(event, CommitPushed):
        return [object_key("GitRepository", event.source_namespace, event.source_name)]
    if isinstance(event, SourceUpdated):
        source = object_key("GitRepository", event.namespace, event.name)
        return ctx.store.referrers(source, "GitRepository")
    return []


STAGE = Stage(GIT_REPOSITORY, reconcile, targets)
