"""ImageRepository: list the tags, drop excluded ones, store them, announce a changed set."""

from __future__ import annotations

from conveyor.services.registry_scanner.tags import exclude, tag_set_revision
from conveyor.shared.adapters.oci.client import RegistryClient
from conveyor.shared.adapters.oci.reference import parse_image
from conveyor.shared.credentials import registry_options, request_budget
from conveyor.shared.errors import InvalidSpec
from conveyor.shared.events import Event, TagsScanned
from conveyor.shared.kinds import IMAGE_REPOSITORY
from conveyor.shared.models import ImageRepository
from conveyor.shared.runtime import Context, Outcome, Stage
from conveyor.shared.status import ImageRepositoryStatus, ScanResult

LATEST_TAGS = 10


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
