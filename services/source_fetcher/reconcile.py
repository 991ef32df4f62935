"""GitRepository: fetch the ref, store the tree as the artifact, announce new revisions."""

from __future__ import annotations

import hashlib

from shared import git
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


def ref_name(spec: GitRepositorySpec) -> tuple[str, str]:
    """(remote ref, revision prefix) of ``spec.ref``: a branch, or a tag."""
    if spec.ref.tag:
        return f"refs/tags/{spec.ref.tag}", spec.ref.tag
    branch = spec.ref.branch or "master"
    return f"refs/heads/{branch}", branch


def reconcile(obj: FluxObject, status: Status, ctx: Context, event: Event) -> Outcome:
    assert isinstance(status, GitRepositoryStatus)
    spec: GitRepositorySpec = obj.spec
    auth = source_auth(spec, obj.namespace, ctx, owner=f"GitRepository {obj.namespace}/{obj.name}")
    ref, prefix = ref_name(spec)
    path = ctx.settings.data_dir / "sources" / obj.namespace / obj.name
    commit = git.fetch_mirror(spec.url, path, ref, auth, spec.timeout)
    revision = f"{prefix}@sha1:{commit}"
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
