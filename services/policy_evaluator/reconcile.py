"""ImagePolicy: pick the latest tag from the scanned tags; announce a changed latestRef."""

from __future__ import annotations

from conveyor.services.policy_evaluator.policy import select_latest
from conveyor.shared.credentials import registry_options, request_budget
from conveyor.shared.errors import DependencyNotReady, NotFound
from conveyor.shared.events import Event, PolicyChanged, TagsScanned
from conveyor.shared.kinds import IMAGE_POLICY
from conveyor.shared.models import ImagePolicy, ImageRepository, object_key
from conveyor.shared.runtime import Context, Outcome, Stage
from conveyor.shared.status import ImagePolicyStatus, ImageRef


def repository_key(obj: ImagePolicy) -> str:
    ref = obj.spec.image_repository_ref
    return object_key("ImageRepository", ref.namespace or obj.namespace, ref.name)


def reflect_digest(
    obj: ImagePolicy, repo: ImageRepository, tag: str, previous: ImageRef | None, ctx: Context
) -> str | None:
    """The digest of ``tag`` as ``spec.digestReflectionPolicy`` asks (Never: none)."""
    mode = obj.spec.digest_reflection_policy
    if mode == "Never":
        return None
    if mode == "IfNotPresent" and previous is not None and previous.tag == tag and previous.digest:
        return previous.digest
    # the registry client (httpx) is loaded by the policies that reflect digests only
    from conveyor.shared.adapters.oci.client import RegistryClient
    from conveyor.shared.adapters.oci.reference import parse_image

    ref = parse_image(repo.spec.image)
    options = registry_options(repo, ref, ctx)
    with RegistryClient(ref, options, throttle=request_budget(ctx)) as client:
        return client.head_digest(tag)


def reconcile(obj: ImagePolicy, status: ImagePolicyStatus, ctx: Context, event: Event) -> Outcome:
    spec = obj.spec
    owner = f"ImagePolicy {obj.namespace}/{obj.name}"
    repo_key = repository_key(obj)
    repo = ctx.store.get_object(repo_key, ImageRepository)
    _, repo_ns, repo_name = repo_key.split("/", 2)
    if repo is None:
        raise NotFound(f"{owner}: ImageRepository {repo_ns}/{repo_name} not found")
    tags = ctx.store.get_tags(repo_key)
    if tags is None:
        raise DependencyNotReady(f"{owner}: ImageRepository {repo_ns}/{repo_name} not scanned yet")
    filter_tags = spec.filter_tags.model_dump() if spec.filter_tags else None
    tag = select_latest(tags, spec.policy.model_dump(exclude_none=True), filter_tags)
    digest = reflect_digest(obj, repo, tag, status.latest_ref, ctx)
    latest = ImageRef(name=repo.spec.image, tag=tag, digest=digest)
    events: list[Event] = []
    if status.latest_ref != latest:
        status.observed_previous_ref = status.latest_ref
        status.latest_ref = latest
        events.append(
            event.follow(
                PolicyChanged,
                namespace=obj.namespace,
                name=obj.name,
                image=latest.name,
                tag=tag,
                digest=digest,
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
    return ctx.store.referrers(
        object_key("ImageRepository", event.namespace, event.name), "ImagePolicy"
    )


STAGE = Stage(IMAGE_POLICY, reconcile, targets)
