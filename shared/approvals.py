"""Approvals (beyond Flux): an ImageUpdateAutomation may require N approvals of a change before
it commits it.

Its settings are annotations on the automation (Flux's CRD schemas prune a field they do not
have), each refused by name when it cannot be used (Stalled, ``InvalidApprovalConfig``):

- ``conveyor.dev/approvals``: ``"N"``, 1 to 20 distinct approvers; absent or ``"0"``: none;
- ``conveyor.dev/approval-ttl``: a Go duration, 1s to 720h (default 24h): how long a request
  may be approved;
- ``conveyor.dev/approvers-secret``: a Secret of the namespace whose every key is an approver's
  name and its value that approver's token for the status API (16 characters or more);
- ``conveyor.dev/slack-signing-secret``: a Secret with the Slack app's ``signingSecret`` (and,
  optionally, ``users``: the Slack user ids or names that may approve, comma-separated).

A request is for one exact change: the automation and each value its setters would change
(policy, setter, old → new). The git-committer records it while it waits (``settle``), and
commits it only once approved by N distinct approvers, with ``Approved-by:`` trailers. A run
that computes another change (a newer tag) closes the request as ``superseded`` and opens one
for the new change; one that finds nothing to change closes it as ``withdrawn``; a request not
approved before it expires is closed as ``expired`` by the next run, which opens a new one for
the same change. A rejected change is never committed: it stays rejected until the automation
computes another one. Each vote, and each request opened, is a notice in the image's trace.

The records live in the store (``approvals``: one open request per automation, the closed ones
in a list), changed atomically across processes (``Store.change_approval_record``).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from conveyor.shared.errors import ConveyorError, InvalidSpec
from conveyor.shared.kinds import IMAGE_UPDATE_AUTOMATION
from conveyor.shared.models import ImageUpdateAutomation, object_key, parse_duration
from conveyor.shared.notices import INFO, MAX_MESSAGE, Notice
from conveyor.shared.secretrefs import APPROVERS_SECRET, SLACK_SIGNING_SECRET
from conveyor.shared.store import Store

APPROVALS = "conveyor.dev/approvals"
APPROVAL_TTL = "conveyor.dev/approval-ttl"
SETTINGS = (APPROVALS, APPROVAL_TTL, APPROVERS_SECRET, SLACK_SIGNING_SECRET)
REASON = "InvalidApprovalConfig"
MAX_APPROVALS = 20
DEFAULT_TTL = 24 * 3600.0
MIN_TTL, MAX_TTL = 1.0, 720 * 3600.0
MIN_TOKEN = 16  # an approver's token shorter than this is no token
SIGNING_SECRET_KEY = "signingSecret"
SLACK_USERS_KEY = "users"

# States: open ones, then those a request is closed with.
PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
SUPERSEDED, EXPIRED, LANDED, WITHDRAWN = "superseded", "expired", "landed", "withdrawn"
OPEN = (PENDING, APPROVED, REJECTED)

# What an approver is called (a CLI user, a Secret's key, a Slack user): one Git trailer word.
APPROVER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}")
REQUEST_ID = re.compile(r"[0-9a-f]{12}")
SHOWN_CHANGES = 10  # a message lists this many changes, then says how many more


@dataclass(frozen=True)
class Config:
    required: int  # approvals a change needs, from distinct approvers
    ttl: float  # seconds a request may be approved


def config_of(obj: ImageUpdateAutomation) -> Config | None:
    """The automation's approval settings; None when it requires none. InvalidSpec names an
    annotation that cannot be used."""
    owner = f"ImageUpdateAutomation {obj.namespace}/{obj.name}"
    notes = obj.metadata.annotations
    raw = notes.get(APPROVALS, "0").strip()
    if not re.fullmatch(r"[0-9]{1,3}", raw) or int(raw) > MAX_APPROVALS:
        raise InvalidSpec(
            f"{owner}: annotation {APPROVALS}: {raw[:100]!r} is not a number of approvals "
            f"from 0 to {MAX_APPROVALS}",
            reason=REASON,
        )
    if int(raw) == 0:
        return None
    ttl_text = notes.get(APPROVAL_TTL, "24h")
    try:
        ttl = parse_duration(ttl_text)
    except ValueError:
        ttl = -1.0
    if not MIN_TTL <= ttl <= MAX_TTL:
        raise InvalidSpec(
            f"{owner}: annotation {APPROVAL_TTL}: {ttl_text[:100]!r} is not a Go duration "
            "from 1s to 720h",
            reason=REASON,
        )
    return Config(int(raw), ttl)


class Refused(ConveyorError):
    """A vote that cannot be counted, saying why; ``code``: ``missing`` (no open request),
    ``stale`` (another request is open), else ``conflict``."""

    def __init__(self, message: str, *, code: str = "conflict") -> None:
        super().__init__(message, reason="ApprovalRefused")
        self.code = code


@dataclass(frozen=True, order=True)
class Change:
    """One value the automation's setters would change."""

    policy: str  # "namespace:name"
    setter: str  # image | tag | name | digest
    old: str
    new: str

    def text(self) -> str:
        marker = self.policy if self.setter == "image" else f"{self.policy}:{self.setter}"
        return f"{marker} {self.old} → {self.new}"


@dataclass(frozen=True)
class Vote:
    by: str
    via: str  # cli | api | slack
    at: float


@dataclass(frozen=True)
class Request:
    id: str
    automation: str  # the automation's key: ImageUpdateAutomation/<ns>/<name>
    changes: tuple[Change, ...]
    required: int
    created: float
    expires: float
    trace_id: str = ""  # the trace of the run that opened it (the image's)
    origin_at: float | None = None  # when that trace began
    state: str = PENDING
    approvals: tuple[Vote, ...] = ()
    rejected: Vote | None = None
    closed_at: float = 0.0
    commit: str = ""  # landed: the commit
    superseded_by: str = ""  # superseded: the request that took its place

    @property
    def namespace(self) -> str:
        return self.automation.split("/", 2)[1]

    @property
    def name(self) -> str:
        return self.automation.split("/", 2)[2]

    def expired(self, now: float) -> bool:
        return self.state in (PENDING, APPROVED) and now >= self.expires

    def shown_state(self, now: float) -> str:
        """The state a reader sees: a pending request past its time is expired already."""
        return EXPIRED if self.expired(now) else self.state

    @property
    def approvers(self) -> list[str]:
        return [v.by for v in self.approvals]

    def summary(self) -> str:
        """The changes, one after another (the first ``SHOWN_CHANGES``)."""
        shown = [c.text() for c in self.changes[:SHOWN_CHANGES]]
        more = len(self.changes) - SHOWN_CHANGES
        return ", ".join(shown) + (f" and {more} more" if more > 0 else "")

    def command(self, verb: str = "approve") -> str:
        return f"conveyor {verb} automation {self.name} -n {self.namespace} --id {self.id}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Request | None:
        """A stored record; None when it is not one (never written by this version)."""
        try:
            data = json.loads(text)
            votes = tuple(Vote(str(v["by"]), str(v["via"]), float(v["at"]))
                          for v in data.get("approvals") or ())
            rejected = data.get("rejected")
            origin = data.get("origin_at")
            return cls(
                id=str(data["id"]),
                automation=str(data["automation"]),
                changes=tuple(
                    Change(str(c["policy"]), str(c["setter"]), str(c["old"]), str(c["new"]))
                    for c in data["changes"]
                ),
                required=int(data["required"]),
                created=float(data["created"]),
                expires=float(data["expires"]),
                trace_id=str(data.get("trace_id") or ""),
                origin_at=float(origin) if origin is not None else None,
                state=str(data.get("state") or PENDING),
                approvals=votes,
                rejected=(
                    Vote(str(rejected["by"]), str(rejected["via"]), float(rejected["at"]))
                    if isinstance(rejected, dict) else None
                ),
                closed_at=float(data.get("closed_at") or 0.0),
                commit=str(data.get("commit") or ""),
                superseded_by=str(data.get("superseded_by") or ""),
            )
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            return None

    def wire(self, now: float) -> dict[str, Any]:
        """The request as the status API and ``conveyor approvals -o json`` show it."""
        return {
            "id": self.id,
            "namespace": self.namespace,
            "name": self.name,
            "state": self.shown_state(now),
            "changes": [
                {"policy": c.policy, "setter": c.setter, "oldValue": c.old, "newValue": c.new}
                for c in self.changes
            ],
            "required": self.required,
            "approvals": [{"by": v.by, "via": v.via, "at": rfc3339(v.at)} for v in self.approvals],
            "rejectedBy": self.rejected.by if self.rejected else None,
            "created": rfc3339(self.created),
            "expires": rfc3339(self.expires),
            "traceID": self.trace_id,
            "commit": self.commit or None,
            "supersededBy": self.superseded_by or None,
        }


def rfc3339(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_request(
    key: str, changes: Iterable[Change], config: Config, now: float, trace_id: str,
    origin_at: float | None,
) -> Request:
    return Request(
        id=secrets.token_hex(6),
        automation=key,
        changes=tuple(sorted(set(changes))),
        required=config.required,
        created=now,
        expires=now + config.ttl,
        trace_id=trace_id,
        origin_at=origin_at,
    )


# --- what a run of the automation decides --------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What a run with a change to commit does: ``land`` (its request is approved: commit it,
    saying who approved), ``wait`` (pending: nothing committed), ``rejected`` (nothing
    committed), or ``go`` (nothing to approve: no change); ``opened`` when the request was made
    by this run (announce it), and the requests this run closed."""

    verdict: str
    request: Request | None
    opened: bool = False
    closed: tuple[Request, ...] = field(default_factory=tuple)


def decide(
    current: Request | None, key: str, changes: Sequence[Change], config: Config, now: float,
    trace_id: str, origin_at: float | None,
) -> tuple[Request | None, Decision]:
    """The open request after a run that computed ``changes`` (none: nothing to commit), and
    what the run does (``Decision``). Pure but for a new request's random id."""
    wanted = tuple(sorted(set(changes)))
    if not wanted:
        if current is None:
            return None, Decision("go", None)
        return None, Decision("go", None, closed=(_closed(current, WITHDRAWN, now),))
    if current is not None and current.changes == wanted:
        if current.state == REJECTED:
            return current, Decision("rejected", current)
        if not current.expired(now):
            return current, Decision("land" if current.state == APPROVED else "wait", current)
        fresh = new_request(key, wanted, config, now, trace_id, origin_at)
        return fresh, Decision("wait", fresh, opened=True,
                               closed=(_closed(current, EXPIRED, now),))
    fresh = new_request(key, wanted, config, now, trace_id, origin_at)
    closed = () if current is None else (
        replace(_closed(current, SUPERSEDED, now), superseded_by=fresh.id),
    )
    return fresh, Decision("wait", fresh, opened=True, closed=closed)


def _closed(request: Request, state: str, now: float) -> Request:
    return replace(request, state=state, closed_at=now)


def settle(
    store: Store, key: str, changes: Sequence[Change], config: Config, now: float,
    trace_id: str, origin_at: float | None,
) -> Decision:
    """``decide`` on the stored request of ``key``, as one step across every process."""

    def change(raw: str | None) -> tuple[str | None, list[str], Decision]:
        current = Request.from_json(raw) if raw is not None else None
        after, decision = decide(current, key, changes, config, now, trace_id, origin_at)
        return (after.to_json() if after else None,
                [r.to_json() for r in decision.closed], decision)

    return store.change_approval_record(key, change)


def landed(store: Store, request: Request, commit: str, now: float) -> None:
    """Close ``request`` as landed in ``commit`` (unless another took its place meanwhile)."""

    def change(raw: str | None) -> tuple[str | None, list[str], None]:
        current = Request.from_json(raw) if raw is not None else None
        if current is None or current.id != request.id:
            return raw, [], None
        done = replace(_closed(current, LANDED, now), commit=commit)
        return None, [done.to_json()], None

    store.change_approval_record(request.automation, change)


def trailers(message: str, request: Request) -> str:
    """``message`` with Git trailers saying who approved ``request``."""
    lines = [f"Approved-by: {v.by}" for v in request.approvals]
    return message.rstrip("\n") + "\n\n" + "\n".join([*lines, f"Approval-Id: {request.id}"]) + "\n"


# --- votes ----------------------------------------------------------------------------------


def cast_vote(
    current: Request | None, *, ident: str | None, by: str, via: str, approve: bool, now: float,
    owner: str,
) -> Request:
    """``current`` with the vote of ``by`` counted; Refused says why it cannot be."""
    if not APPROVER.fullmatch(by):
        raise Refused(f"{by[:100]!r} is not an approver's name (letters, digits, ._@+-)")
    if current is None:
        raise Refused(f"{owner} has no change awaiting approval", code="missing")
    if ident is not None and current.id != ident:
        raise Refused(
            f"{owner}: change {ident} is not the one awaiting approval, {current.id} is "
            f"({current.summary()})",
            code="stale",
        )
    if current.state == REJECTED:
        by_whom = current.rejected.by if current.rejected else "someone"
        raise Refused(f"{owner}: change {current.id} was rejected by {by_whom}")
    if current.expired(now):
        raise Refused(
            f"{owner}: change {current.id} expired at {rfc3339(current.expires)}; the "
            "automation's next run asks again"
        )
    vote = Vote(by, via, now)
    if not approve:
        return replace(current, state=REJECTED, rejected=vote)
    if by in current.approvers:
        raise Refused(f"{owner}: change {current.id} is approved by {by} already")
    if current.state == APPROVED:
        raise Refused(f"{owner}: change {current.id} is approved already")
    votes = (*current.approvals, vote)
    state = APPROVED if len(votes) >= current.required else PENDING
    return replace(current, approvals=votes, state=state)


def vote(
    store: Store, key: str, *, ident: str | None, by: str, via: str, approve: bool, now: float
) -> Request:
    """Count a vote on the open request of the automation ``key`` (of id ``ident``, when
    given) as one step across every process, and announce it; the request as it is now."""
    owner = "ImageUpdateAutomation " + key.split("/", 1)[1]

    def change(raw: str | None) -> tuple[str | None, list[str], Request]:
        current = Request.from_json(raw) if raw is not None else None
        after = cast_vote(current, ident=ident, by=by, via=via, approve=approve, now=now,
                          owner=owner)
        return after.to_json(), [], after

    try:
        after = store.change_approval_record(key, change)
    except Refused as exc:
        if ident is not None and exc.code in ("missing", "stale"):
            better = _closed_refusal(store, ident, owner)
            if better is not None:
                raise better from None
        raise
    announce_vote(store, after, by, approve)
    return after


def _closed_refusal(store: Store, ident: str | None, owner: str) -> Refused | None:
    """Why a request that is closed can take no vote (None: no such request was seen)."""
    for request in closed_requests(store):
        if request.id != ident:
            continue
        why = {
            SUPERSEDED: f"superseded by change {request.superseded_by}",
            EXPIRED: "expired",
            LANDED: f"committed already ({request.commit[:7]})",
            WITHDRAWN: "withdrawn (nothing to change any more)",
        }.get(request.state, request.state)
        return Refused(f"{owner}: change {ident} is {why}")
    return None


def announce_vote(store: Store, request: Request, by: str, approve: bool) -> None:
    count = f"{len(request.approvals)}/{request.required}"
    if not approve:
        announce(store, request, "ApprovalRejected",
                 f"change {request.id} rejected by {by}: {request.summary()}; not committed")
    elif request.state == APPROVED:
        announce(store, request, "Approved",
                 f"change {request.id} approved by {by} ({count}): {request.summary()}; "
                 "committed at the automation's next run")
    else:
        announce(store, request, "Approved",
                 f"change {request.id} approved by {by} ({count}): {request.summary()}")


def announce(store: Store, request: Request, reason: str, message: str) -> None:
    """A notice about the automation of ``request``, in its trace (the journal, Alerts and
    Kubernetes Events read it)."""
    obj = store.get_object(request.automation, ImageUpdateAutomation)
    if obj is None:
        return
    group = IMAGE_UPDATE_AUTOMATION.group
    notice = Notice(
        kind=obj.kind, namespace=obj.namespace, name=obj.name, api_version=obj.api_version,
        uid=obj.metadata.uid, severity=INFO, reason=reason,
        message=message[:MAX_MESSAGE], metadata={f"{group}/approval": request.id},
        controller=IMAGE_UPDATE_AUTOMATION.controller, trace_id=request.trace_id,
    )
    store.record_notice(notice.journal_entry())


# --- reading ---------------------------------------------------------------------------------


def open_requests(store: Store) -> list[Request]:
    """Every open request (pending, approved not landed yet, rejected), oldest first."""
    found = [Request.from_json(raw) for raw in store.approval_records().values()]
    return sorted((r for r in found if r is not None), key=lambda r: r.created)


def closed_requests(store: Store) -> list[Request]:
    """The requests closed last (superseded, expired, landed, withdrawn), newest first."""
    found = [Request.from_json(raw) for raw in store.closed_approval_records()]
    return [r for r in found if r is not None]


def find(store: Store, ident: str) -> Request | None:
    """The open request of id ``ident``."""
    return next((r for r in open_requests(store) if r.id == ident), None)


def automation_key(namespace: str, name: str) -> str:
    return object_key(IMAGE_UPDATE_AUTOMATION.name, namespace, name)
