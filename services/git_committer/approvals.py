"""The approval gate of an automation run (``conveyor.shared.approvals``): between computing the
change and committing it, a run of an automation that requires approvals records the exact
change as a request and commits it only once the request is approved; meanwhile it ends Ready
(a pending approval is no failure) with reason ``AwaitingApproval`` and a message saying what
waits and how to approve it, announced once per request (an ``AwaitingApproval`` notice, which
Alerts can send to chat). A rollback (``RollbackRequested``) is not held: it puts back what
ran before, and in pull-request mode is reviewed there."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from conveyor.services.git_committer.message import Update
from conveyor.shared import approvals
from conveyor.shared.approvals import Change, Decision, Request
from conveyor.shared.events import Event, RollbackRequested
from conveyor.shared.models import ImageUpdateAutomation
from conveyor.shared.notices import Draft
from conveyor.shared.runtime import Context, Outcome
from conveyor.shared.status import ImageUpdateAutomationStatus

AWAITING = "AwaitingApproval"
REJECTED = "ApprovalRejected"


def changes_of(described: Sequence[Update]) -> list[Change]:
    """The exact change of a run: each value its setters change (policy, setter, old, new)."""
    return [
        Change(u.change.policy, u.change.setter, u.change.old, u.change.new) for u in described
    ]


@dataclass(frozen=True)
class Gate:
    """What the run does with its change: ``held`` (an outcome to end it with: nothing is
    committed), else commit, signed by ``approved``'s approvers when there is one."""

    obj: ImageUpdateAutomation
    ctx: Context
    held: Decision | None = None
    approved: Request | None = None
    trace_id: str = ""  # the run's own trace

    def hold(self, status: ImageUpdateAutomationStatus) -> Outcome:
        """The run's outcome while its change waits, or was rejected: Ready, saying so."""
        assert self.held is not None and self.held.request is not None
        request, obj = self.held.request, self.obj
        if self.held.verdict == "rejected":
            by = request.rejected.by if request.rejected else "someone"
            status.mark_ready(
                REJECTED,
                f"change {request.id} ({request.summary()}) was rejected by {by}: not "
                "committed; a newer image will be proposed for approval",
                obj.metadata.generation,
            )
            return Outcome(status)
        count = f"{len(request.approvals)}/{request.required}"
        who = f" (approved by {', '.join(request.approvers)})" if request.approvals else ""
        message = (
            f"awaiting approval {count}{who} of change {request.id}: {request.summary()}; "
            f"approve with `{request.command()}` before {approvals.rfc3339(request.expires)}"
        )
        status.mark_ready(AWAITING, message, obj.metadata.generation)
        if not self.held.opened:
            return Outcome(status)
        said = [message]
        for old in self.held.closed:
            said.append(f"change {old.id} ({old.summary()}) is {old.state}")
        metadata = {"approval": request.id}
        return Outcome(status, notices=[Draft("\n".join(said), AWAITING, metadata=metadata)])

    def sign(self, message: str) -> str:
        """The commit message, with trailers saying who approved when approvals were needed."""
        return approvals.trailers(message, self.approved) if self.approved else message

    def follow(self, event: Event) -> Event:
        """The event the run's own events follow: an approved change's are in the trace of the
        run that asked for approval (the image's), whatever woke this one."""
        request = self.approved
        if request is None or not request.trace_id or request.trace_id == event.trace_id:
            return event
        return event.model_copy(update={"trace_id": request.trace_id,
                                        "origin_at": request.origin_at})

    def landed(self, commit: str) -> None:
        """The approved change is committed and pushed: its request is closed as landed (said
        in the image's trace too when another run's trace carried it here)."""
        request = self.approved
        if request is None:
            return
        approvals.landed(self.ctx.store, request, commit, time.time())
        if request.trace_id and request.trace_id != self.trace_id:
            approvals.announce(
                self.ctx.store, request, "ApprovedChangeCommitted",
                f"change {request.id} approved by {', '.join(request.approvers)} committed as "
                f"'{commit[:7]}': {request.summary()}",
            )


def gate(
    obj: ImageUpdateAutomation, described: Sequence[Update], ctx: Context, event: Event
) -> Gate:
    """Where the run's change stands (see the module's docstring); no store access for an
    automation that requires no approvals."""
    config = approvals.config_of(obj)
    if config is None or isinstance(event, RollbackRequested):  # a rollback is not held
        return Gate(obj, ctx, trace_id=event.trace_id)
    decision = approvals.settle(
        ctx.store, obj.key, changes_of(described), config, time.time(), event.trace_id,
        event.trace_started_at,
    )
    if decision.verdict in ("wait", "rejected"):
        return Gate(obj, ctx, held=decision, trace_id=event.trace_id)
    approved = decision.request if decision.verdict == "land" else None
    return Gate(obj, ctx, approved=approved, trace_id=event.trace_id)
