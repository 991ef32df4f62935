"""ImagePolicy: pick the latest tag from the scanned tags; announce a changed latestRef."""

from __future__ import annotations

from services.policy_evaluator.policy import select_latest
from shared.errors import DependencyNotReady, NotFound
from shared.events import Event, PolicyChanged, TagsScanned
from shared.models import FluxObject, ImagePolicySpec, object_key
from shared.runtime import Context, Outcome, Stage
from shared.status import ImagePolicyStatus, ImageRef, Status


def repository_key(obj: FluxObject) -> str:
    spec: ImagePolicySpec = obj.spec
    ref = spec.image_repository_ref
    return object_key("ImageRepository", ref.namespace or obj.namespace, ref.name)


def reconcile(obj: FluxObject, status: Status, ctx: Context, event: Event) -> Outcome:
    assert isinstance(status, ImagePolicyStatus)
    spec: ImagePolicySpec = obj.spec
    owner = f"ImagePolicy {obj.namespace}/{obj.name}"
    repo_key = repository_key(obj)
    repo = ctx.store.get_object(repo_key)
    _, repo_ns, repo_name = repo_key.split("/", 2)
    if repo is None:
        raise NotFound(f"{owner}: ImageRepository {repo_ns}/{repo_name} not found")
    tags = ctx.store.get_tags(repo_key)
    if tags is None:
        raise DependencyNotReady(f"{owner}: ImageRepository {repo_ns}/{repo_name} not scanned yet")
    filter_tags = spec.filter_tags.model_dump() if spec.filter_tags else None
    tag = select_latest(tags, spec.policy.model_dump(exclude_none=True), filter_tags)
    latest = ImageRef(name=repo.spec.image, tag=tag)
    events: list[Event] = []
    if status.latest_ref is None or (status.latest_ref.name, status.latest_ref.tag) != (
        latest.name,
        latest.tag,
    ):
        status.observed_previous_ref = status.latest_ref
        status.latest_ref = latest
        events.append(
            event.follow(
                PolicyChanged, namespace=obj.namespace, name=obj.name, image=latest.name, tag=tag
            )
        )
    status.mark_ready(
        "Succeeded",
        f"Latest image tag for {latest.name} resolved to {tag}",
        obj.metadata.generation,
    )
    return Outcome(status, events)


def targets(event: Event, ctx: Context) -> list[str]:
    if not isinstance(event, TagsScanned):
        return []
    wanted = object_key("ImageRepository", event.namespace, event.name)
    return [p.key for p in ctx.store.list_objects("ImagePolicy") if repository_key(p) == wanted]


STAGE = Stage(service="policy-evaluator", kind="ImagePolicy", reconcile=reconcile, targets=targets)
