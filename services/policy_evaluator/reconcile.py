"""ImagePolicy: pick the latest tag from the scanned tags; announce a changed latestRef.

The steps and conditions of image-reflector-controller v1.2's ``ImagePolicyReconciler``: the
ImageRepository (missing: ``DependencyNotReady``, retried), the policy (invalid:
``InvalidPolicy``, stalled), the tags (none: ``DependencyNotReady``), the filter (invalid:
``InvalidPolicy``), the pick (none: ``Failure``, retried), then ``latestRef`` and
``observedPreviousRef`` and Flux's Ready message.

With the annotation ``conveyor.dev/order-by: build-time`` (conveyor's own: ``builds.py``) the
candidates are ordered by their images' creation time, read from the registry (``fetch.py``),
and the Ready message says so. With ``conveyor.dev/verify-secret`` (``verify.py``) only a
candidate whose image's cosign signature verifies is chosen, newest first."""

from __future__ import annotations

from conveyor.services.policy_evaluator.builds import (
    Platform,
    build_order,
    candidates,
    newest,
    ready_note,
)
from conveyor.services.policy_evaluator.failed import say_skipped, without_failed
from conveyor.services.policy_evaluator.policy import (
    NO_TAGS,
    compile_filter,
    compile_policy,
    latest_tag,
    select_latest,
)
from conveyor.services.policy_evaluator.verify import Verified, requested, verified_latest
from conveyor.shared.credentials import registry_options, request_budget
from conveyor.shared.errors import DependencyNotReady, TransientError
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


def newest_build(
    obj: ImagePolicy, repo: ImageRepository, tags: list[str], platform: Platform, ctx: Context
) -> tuple[str, str]:
    """The candidate of the newest build (``builds.py``), and what the Ready message adds."""
    # the registry client (httpx) is loaded by the policies that read the registry only
    from conveyor.services.policy_evaluator.fetch import build_times

    policy = compile_policy(obj.spec.policy.model_dump(exclude_none=True))
    filter_tags = obj.spec.filter_tags
    tag_filter = compile_filter(filter_tags.model_dump()) if filter_tags else None
    pool = candidates(tags, policy, tag_filter)

    def tie_break(tied: list[str]) -> str:
        try:
            return latest_tag(tied, policy, tag_filter)
        except TransientError:  # numerical over tags that are no numbers
            return max(tied)

    tag, built, skipped = newest(pool, build_times(pool, tags, repo, platform, ctx), tie_break)
    return tag, ready_note(built, platform, skipped)


def ready_message(latest: ImageRef, previous: ImageRef | None) -> str:
    """Flux's ``composeImagePolicyReadyMessage``."""
    message = f"Latest image tag for {latest.name} resolved to {latest.tag}"
    if latest.digest:
        message += f" with digest {latest.digest}"
    if previous is not None and previous != latest:
        message += f" (previously {previous.name}:{previous.tag}"
        if previous.digest:
            message += f"@{previous.digest}"
        message += ")"
    return message


def reconcile(obj: ImagePolicy, status: ImagePolicyStatus, ctx: Context, event: Event) -> Outcome:
    spec = obj.spec
    repo_key = repository_key(obj)
    repo = ctx.store.get_object(repo_key, ImageRepository)
    _, repo_ns, repo_name = repo_key.split("/", 2)
    if repo is None:
        raise DependencyNotReady(
            "failed to get the referred ImageRepository: referenced ImageRepository does not "
            f'exist: ImageRepository.image.toolkit.fluxcd.io "{repo_name}" not found'
        )
    policy = spec.policy.model_dump(exclude_none=True)
    compile_policy(policy)  # an invalid policy is reported before the tags are read
    platform = build_order(obj.metadata.annotations)  # and so is an invalid annotation
    verification = requested(obj.metadata.annotations, ordered=platform is not None)
    tags = ctx.store.get_tags(repo_key)
    if not tags:
        why = "not scanned yet" if tags is None else "holds no tags"
        raise DependencyNotReady(f"{NO_TAGS}: ImageRepository {repo_ns}/{repo_name} {why}")
    tags, skipped = without_failed(obj, tags, ctx)  # a rollback's marks (failed.py)
    note = ""
    verified: Verified | None = None
    if verification is not None:  # the newest whose signature verifies (verify.py)
        verified = verified_latest(obj, repo, tags, verification, ctx)
        tag, note = verified.tag, verified.note(verification.secret)
    elif platform is None:
        filter_tags = spec.filter_tags.model_dump() if spec.filter_tags else None
        tag = select_latest(tags, policy, filter_tags)
    else:
        tag, note = newest_build(obj, repo, tags, platform, ctx)
    if verified is not None and spec.digest_reflection_policy != "Never":
        digest: str | None = verified.digest  # the image whose signature verified
    else:
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
        ready_message(latest, status.observed_previous_ref) + note,
        obj.metadata.generation,
    )
    say_skipped(status, skipped)
    return Outcome(status, events)


def targets(event: Event, ctx: Context) -> list[str]:
    if not isinstance(event, TagsScanned):
        return []
    return ctx.store.referrers(
        object_key("ImageRepository", event.namespace, event.name), "ImagePolicy"
    )


STAGE = Stage(IMAGE_POLICY, reconcile, targets)
