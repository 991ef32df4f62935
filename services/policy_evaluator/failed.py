"""Tags a rollback marked failed (``conveyor.shared.rollback``, conveyor's own): never chosen
until the mark is cleared (``conveyor rollback automation NAME --clear``); the Ready message
names the ones it left out ("skipped failed tags: ...")."""

from __future__ import annotations

from conveyor.services.policy_evaluator.policy import REASON_FAILURE
from conveyor.shared.errors import TransientError
from conveyor.shared.models import ImagePolicy
from conveyor.shared.rollback import failed_tags, skipped
from conveyor.shared.runtime import Context
from conveyor.shared.status import ImagePolicyStatus


def without_failed(obj: ImagePolicy, tags: list[str], ctx: Context) -> tuple[list[str], str]:
    """``tags`` without those marked failed for ``obj``, and what the Ready message adds."""
    failed = failed_tags(ctx.store, obj.key)
    if not failed:
        return tags, ""
    kept = [t for t in tags if t not in failed]
    said = skipped(tags, failed)
    if not kept:
        raise TransientError(f"every tag is marked failed{said}", reason=REASON_FAILURE)
    return kept, said


def say_skipped(status: ImagePolicyStatus, said: str) -> None:
    """Add ``said`` (``without_failed``'s) to the Ready message."""
    ready = status.ready
    if said and ready is not None and ready.status == "True":
        ready.message += said
