"""ImageRepository: list the tags, drop excluded ones, store them, announce a changed set.

A request that carries the tags a registry's push notification announced (the receiver reads
them) takes those in after one check each on the registry, without listing every tag; the
next scan of the interval lists them all again (and so confirms, or sees deletions).

The whole scan (every request, retry and backoff) is bounded by the ImageRepository's timeout,
as Flux bounds it (``shared.timeouts``: ``spec.timeout``, else the interval); a scan that fails
for a reason Flux has no finer word for is ``ReadOperationFailed``, ``scan failed: …``, as in
Flux."""

from __future__ import annotations

from conveyor.services.registry_scanner.tags import exclude, tag_set_revision
from conveyor.shared.adapters.oci.client import RegistryClient
from conveyor.shared.adapters.oci.reference import parse_image
from conveyor.shared.credentials import registry_options, request_budget
from conveyor.shared.errors import InvalidSpec, PermanentError, TransientError
from conveyor.shared.events import Event, ReconcileRequested, TagsScanned
from conveyor.shared.kinds import IMAGE_REPOSITORY
from conveyor.shared.models import ImageRepository
from conveyor.shared.runtime import Context, Outcome, Stage
from conveyor.shared.status import ImageRepositoryStatus, ScanResult

LATEST_TAGS = 10
READ_FAILED = "ReadOperationFailed"  # Flux's reason for a scan that failed
MAX_PUSHED_TAGS = 10  # announced tags checked one by one; more: list them all


def settled(obj: ImageRepository, status: ImageRepositoryStatus) -> bool:
    """Whether the last run listed every tag of the current spec, and succeeded."""
    ready = status.ready
    return (
        ready is not None
        and ready.status == "True"
        and status.observed_generation == obj.metadata.generation
        and status.last_scan_result is not None
    )


def take_pushed(
    client: RegistryClient, stored: list[str], pushed: tuple[str, ...], exclusions: list[str],
    owner: str,
) -> list[str] | None:
    """The stored tags with the ``pushed`` ones a notification announced, each checked on the
    registry (one request: a notification is not taken on trust); None when one is not there
    or there are too many to check: then the whole list is read."""
    known = set(stored)
    new = exclude([t for t in dict.fromkeys(pushed) if t not in known], exclusions, owner)
    if len(new) > MAX_PUSHED_TAGS:
        return None
    for tag in new:
        try:
            client.head_digest(tag)
        except PermanentError as exc:
            if exc.reason == "ManifestNotFound":
                return None
            raise
    return stored + new


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
    pushed = event.tags if isinstance(event, ReconcileRequested) else ()
    known = ctx.store.get_tags(obj.key) if pushed and settled(obj, status) else None
    try:
        with RegistryClient(ref, options, throttle=request_budget(ctx)) as client:
            tags = None
            if known is not None:  # a push notification: its tags, no listing until the scan
                tags = take_pushed(client, known, pushed, spec.exclusion_list, owner)
            scanned = tags is None
            if tags is None:
                tags = exclude(client.list_tags(), spec.exclusion_list, owner)
    except TransientError as exc:
        if exc.reason != TransientError.reason:  # RateLimited, DependencyNotReady: as they are
            raise
        raise TransientError(f"scan failed: {exc}", reason=READ_FAILED) from exc
    revision = tag_set_revision(tags)
    last = status.last_scan_result
    previous = last.revision if last else None
    stored = known is not None or ctx.store.has_tags(obj.key)
    if revision != previous or not stored:  # an unchanged set is not written again
        ctx.store.put_tags(obj.key, tags)
    status.canonical_image_name = ref.canonical
    status.observed_exclusion_list = list(spec.exclusion_list)
    status.last_scan_result = ScanResult(
        revision=revision,
        tag_count=len(tags),
        latest_tags=sorted(tags, reverse=True)[:LATEST_TAGS],
        **({} if scanned or last is None else {"scan_time": last.scan_time}),
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
