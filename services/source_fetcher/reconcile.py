"""GitRepository: fetch the ref, store the tree as the artifact, announce new revisions."""

from __future__ import annotations

import hashlib

from services.policy_evaluator.policy import select_latest
from shared import git
from shared.errors import InvalidSpec, PermanentError
from shared.events import CommitPushed, Event, SourceUpdated
from shared.models import FluxObject, GitRepositorySpec, object_key
from shared.runtime import Context, Outcome, Stage
from shared.status import Artifact, GitRepositoryStatus, Status


def source_auth(
    spec: GitRepositorySpec, namespace: str, ctx: Context, owner: str
) -> git.GitAuth | None:
    """Credentials for a GitRepository, from the Secret its ``secretRef`` names."""
    if spec.secret_ref is None:
        return None
    secret = ctx.secret(namespace, spec.secret_ref.name, owner=owner)
    return git.GitAuth.from_secret(secret.data)


def ref_name(spec: GitRepositorySpec, owner: str, auth: git.GitAuth | None) -> tuple[str, str]:
    """(what to fetch, revision prefix) for ``spec.ref``, in Flux's order of precedence:
    commit, name, semver, tag, branch."""
    ref = spec.ref
    if ref.commit:
        return ref.commit, f"{ref.branch}@" if ref.branch else ""
    if ref.name:
        return ref.name, f"{ref.name}@"
    if ref.semver:
        tags = git.remote_tags(spec.url, auth, spec.timeout)
        try:
            tag = select_latest(list(tags), {"semver": {"range": ref.semver}})
        except InvalidSpec as exc:
            raise InvalidSpec(f"{owner}: spec.ref.semver: {exc}") from exc
        except PermanentError as exc:
            raise PermanentError(
                f"{owner}: no tag matches spec.ref.semver {ref.semver!r}",
                reason="GitOperationFailed",
            ) from exc
        return f"refs/tags/{tag}", f"{tag}@"
    if ref.tag:
        return f"refs/tags/{ref.tag}", f"{ref.tag}@"
    branch = ref.branch or "master"
    return f"refs/heads/{branch}", f"{branch}@"


def reconcile(obj: FluxObject, status: Status, ctx: Context, event: Event) -> Outcome:
    assert isinstance(status, GitRepositoryStatus)
    spec: GitRepositorySpec = obj.spec
    owner = f"GitRepository {obj.namespace}/{obj.name}"
    auth = source_auth(spec, obj.namespace, ctx, owner=owner)
    ref, prefix = ref_name(spec, owner, auth)
    path = ctx.settings.data_dir / "sources" / obj.namespace / obj.name
    commit = git.fetch_mirror(spec.url, path, ref, auth, spec.timeout)
    revision = f"{prefix}sha1:{commit}"
    events: list[Event] = []
    if (
        status.artifact is None
        or status.artifact.revision != revision
        or (ctx.store.get_artifact(obj.key) is None)
    ):
        data = git.archive(path, commit)
        ctx.store.put_artifact(obj.key, data)
        status.artifact = Artifact(
            revision=revision,
            digest="sha256:" + hashlib.sha256(data).hexdigest(),
            size=len(data),
        )
        events.append(
            event.follow(SourceUpdated, namespace=obj.namespace, name=obj.name, revision=revision)
        )
    status.mark_ready(
        "Succeeded", f"stored artifact for revision '{revision}'", obj.metadata.generation
    )
    return Outcome(status, events)


def targets(event: Event, ctx: Context) -> list[str]:
    if isinstance(event, CommitPushed):
        return [object_key("GitRepository", event.source_namespace, event.source_name)]
    return []


STAGE = Stage(service="source-fetcher", kind="GitRepository", reconcile=reconcile, targets=targets)
