"""ImageRepository: list the tags, drop excluded ones, store them, announce a changed set."""

from __future__ import annotations

import hashlib

from conveyor.shared.adapters.oci.client import RegistryClient, RegistryOptions
from conveyor.shared.adapters.oci.reference import ImageRef, parse_image
from conveyor.shared.credentials import registry_options, request_budget
from conveyor.shared.errors import InvalidSpec
from conveyor.shared.events import Event, TagsScanned
from conveyor.shared.goregexp import GoRegexp, GoRegexpError
from conveyor.shared.kinds import IMAGE_REPOSITORY
from conveyor.shared.models import ImageRepository
from conveyor.shared.runtime import Context, Outcome, Stage
from conveyor.shared.status import ImageRepositoryStatus, ScanResult

LATEST_TAGS = 10


def exclude(tags: list[str], patterns: list[str], owner: str) -> list[str]:
    """Tags that match none of ``patterns`` (Go regexp syntax, like Flux's exclusionList)."""
    compiled = []
    for i, pattern in enumerate(patterns):
        try:
            compiled.append(GoRegexp(pattern))
        except GoRegexpError as exc:
            raise InvalidSpec(f"{owner}: spec.exclusionList[{i}]: invalid pattern: {exc}") from exc
    return [t for t in tags if not any(c.find_submatch_index(t) is not None for c in compiled)]


def tag_set_revision(tags: list[str]) -> str:
    """A stable hash of the tag set: the same tags in any order give the same revision."""
    return hashlib.sha256("\n".join(sorted(set(tags))).encode()).hexdigest()[:16]


def scan(
    ref: ImageRef, options: RegistryOptions, patterns: list[str], owner: str
) -> tuple[list[str], int]:
    """The tags of ``ref`` that no exclusion pattern matches, and the requests it took (what
    ``conveyor scan`` prints)."""
    with RegistryClient(ref, options) as client:
        return exclude(client.list_tags(), patterns, owner), client.requests_made


def reconcile(
    obj: ImageRepository, status: ImageRepositoryStatus, ctx: Context, event: Event
) -> Outcome:
    spec = obj.spec
    owner = f"ImageRepository {obj.namespace}/{obj.name}"
    try:
        ref = parse_image(spec.image)
    except InvalidSpec as exc:
        raise InvalidSpec(f"{owner}: spec.image: {exc}") from exc
    options = registry_options(obj, ref, ctx)
    with RegistryClient(ref, options, throttle=request_budget(ctx)) as client:
        tags = client.list_tags()
    tags = exclude(tags, spec.exclusion_list, owner)
    revision = tag_set_revision(tags)
    previous = status.last_scan_result.revision if status.last_scan_result else None
    stored = ctx.store.get_tags(obj.key) is not None
    ctx.store.put_tags(obj.key, tags)
    status.canonical_image_name = ref.canonical
    status.observed_exclusion_list = list(spec.exclusion_list)
    status.last_scan_result = ScanResult(
        revision=revision,
        tag_count=len(tags),
        latest_tags=sorted(tags, reverse=True)[:LATEST_TAGS],
    )
    status.mark_ready(
        "Succeeded", f"successful scan: found {len(tags)} tags", obj.metadata.generation
    )
    events: list[Event] = []
    if revision != previous or not stored:
        events.append(
            event.follow(
                TagsScanned,
                namespace=obj.namespace,
                name=obj.name,
                revision=revision,
                tag_count=len(tags),
            )
        )
    return Outcome(status, events)


def targets(event: Event, ctx: Context) -> list[str]:
    return []


STAGE = Stage(IMAGE_REPOSITORY, reconcile, targets)
