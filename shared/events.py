"""Events between stages, and the one table that says which event wakes which stage.

Events are small frozen models: ids, revisions, digests — never whole objects. Each carries a
``trace_id`` (one image push can be followed to the apply) and the time it was emitted.
"""

from __future__ import annotations

import builtins
import json
import time
import uuid
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from conveyor.shared.kinds import kind_of


def new_trace_id() -> str:
    return uuid.uuid4().hex[:16]


E = TypeVar("E", bound="Event")


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: ClassVar[str]
    trace_id: str = Field(default_factory=new_trace_id)
    emitted_at: float = Field(default_factory=time.time)
    # when the first event of the trace was emitted; None: this one is the first
    origin_at: float | None = None

    @property
    def trace_started_at(self) -> float:
        """When the trace this event belongs to began: its first event's emission."""
        return self.emitted_at if self.origin_at is None else self.origin_at

    def to_message(self) -> dict[str, Any]:
        return {"type": self.type, **self.model_dump(mode="json")}

    def follow(self, cls: builtins.type[E], **fields: Any) -> E:
        """The next event of the chain: same trace (and its start), emitted now."""
        return cls(trace_id=self.trace_id, origin_at=self.trace_started_at, **fields)

    @property
    def coalesces(self) -> bool:
        """Whether a run that started after this event was emitted covers it (it saw what the
        event announces); False for an event that asks for a run of its own."""
        return True

    @property
    def overrides_suspend(self) -> bool:
        """Whether this event runs a suspended object all the same (an operator's request)."""
        return False


class ReconcileRequested(Event):
    """Reconcile one object now (interval tick, start-up, webhook, CLI). ``tags``: for an
    ImageRepository, the tags a registry's push notification announced (checked, then taken
    into the tag set without listing every tag; the next scan confirms)."""

    type: ClassVar[str] = "ReconcileRequested"
    kind: str
    namespace: str
    name: str
    reason: str = "requested"
    tags: tuple[str, ...] = ()


class SourceUpdated(Event):
    """A GitRepository has a new artifact revision."""

    type: ClassVar[str] = "SourceUpdated"
    namespace: str
    name: str
    revision: str


class TagsScanned(Event):
    """An ImageRepository's tag set changed."""

    type: ClassVar[str] = "TagsScanned"
    namespace: str
    name: str
    revision: str
    tag_count: int


class PolicyChanged(Event):
    """An ImagePolicy's latestRef changed."""

    type: ClassVar[str] = "PolicyChanged"
    namespace: str
    name: str
    image: str
    tag: str
    digest: str | None = None


class CommitPushed(Event):
    """An ImageUpdateAutomation pushed a commit to a GitRepository's remote."""

    type: ClassVar[str] = "CommitPushed"
    namespace: str
    name: str
    source_namespace: str
    source_name: str
    branch: str
    commit: str


class RollbackRequested(Event):
    """Put the values an ImageUpdateAutomation's commits set back (``conveyor.shared.rollback``):
    those of ``commits`` (the applier, when a Kustomization's health checks failed on
    ``revision``: ``why`` says so); with ``manual`` (``conveyor rollback``), those of its last
    commit, or ``to`` (a tag) for each image its last commit changed."""

    type: ClassVar[str] = "RollbackRequested"
    namespace: str
    name: str
    commits: tuple[str, ...] = ()
    revision: str = ""
    kustomization: str = ""  # "ns/name", whose health checks failed
    why: str = ""
    to: str | None = None
    manual: bool = False

    @property
    def coalesces(self) -> bool:
        return False  # an automation's ordinary run does not roll anything back

    @property
    def overrides_suspend(self) -> bool:
        return self.manual


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        ReconcileRequested,
        SourceUpdated,
        TagsScanned,
        PolicyChanged,
        CommitPushed,
        RollbackRequested,
    )
}

# The data flow, readable in one place: which event wakes which stage. A ReconcileRequested
# goes to the service that owns its kind (``conveyor.shared.kinds``).
WAKES: dict[str, tuple[str, ...]] = {
    "TagsScanned": ("policy-evaluator",),  # policies on that ImageRepository re-evaluate
    "PolicyChanged": ("git-committer",),  # automations in that namespace update the markers
    "CommitPushed": ("source-fetcher",),  # the pushed GitRepository is fetched at once
    "RollbackRequested": ("git-committer",),  # the automation commits the old values back
    # Kustomizations apply; automations rebase; the GitRepositories including it rebuild
    "SourceUpdated": ("applier", "git-committer", "source-fetcher"),
}


def route(event: Event) -> tuple[str, ...]:
    """The services an event wakes."""
    if isinstance(event, ReconcileRequested):
        kind = kind_of(event.kind)
        return (kind.service,) if kind is not None and kind.service and kind.queued else ()
    return WAKES.get(event.type, ())


def parse_event(message: dict[str, Any] | str) -> Event:
    data = json.loads(message) if isinstance(message, str) else dict(message)
    cls = EVENT_TYPES[data.pop("type")]
    return cls.model_validate(data)
