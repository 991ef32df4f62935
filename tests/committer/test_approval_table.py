"""The approvals table (``conveyor.shared.approvals``) on a real Redis: a request is for one
exact change, a different change supersedes it, N approvals from distinct approvers, a rejection
sticks to its change, an expired request takes no vote and is asked again, votes from many
clients at once all count, and each vote is a notice in the request's trace."""

from __future__ import annotations

import threading

import pytest

from conveyor.shared import approvals
from conveyor.shared.approvals import Change, Config, Refused
from conveyor.shared.errors import InvalidSpec
from conveyor.shared.manifests import parse_manifests
from conveyor.shared.models import ImageUpdateAutomation
from conveyor.shared.store import Store

KEY = "ImageUpdateAutomation/apps/podinfo"
IMAGE = "ghcr.io/org/podinfo"
OLD, NEW, NEWER = f"{IMAGE}:1.0.0", f"{IMAGE}:1.0.1", f"{IMAGE}:1.0.2"
CHANGE = [Change("apps:podinfo", "image", OLD, NEW)]
NEWER_CHANGE = [Change("apps:podinfo", "image", OLD, NEWER)]
T0 = 1_700_000_000.0

AUTOMATION = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata:
  name: podinfo
  namespace: apps
  annotations: {annotations}
spec:
  interval: 1m
  sourceRef: {{kind: GitRepository, name: podinfo}}
  git:
    commit:
      author: {{name: bot, email: bot@example.com}}
  update: {{path: ./, strategy: Setters}}
"""


def automation(annotations: str = '{"conveyor.dev/approvals": "2"}') -> ImageUpdateAutomation:
    (obj,) = parse_manifests(AUTOMATION.format(annotations=annotations))
    assert isinstance(obj, ImageUpdateAutomation)
    return obj


@pytest.fixture
def store(redis_url: str) -> Store:
    found = Store.from_url(redis_url)
    found.put_object(automation())
    return found


def settle(store: Store, changes: list[Change], now: float = T0, required: int = 2,
           ttl: float = 3600.0, trace: str = "trace-1") -> approvals.Decision:
    return approvals.settle(store, KEY, changes, Config(required, ttl), now, trace, T0 - 5)


def vote(store: Store, by: str, *, ident: str | None = None, approve: bool = True,
         now: float = T0 + 1) -> approvals.Request:
    return approvals.vote(store, KEY, ident=ident, by=by, via="cli", approve=approve, now=now)


def test_the_settings_are_annotations_refused_by_name() -> None:
    assert approvals.config_of(automation("{}")) is None
    assert approvals.config_of(automation('{"conveyor.dev/approvals": "0"}')) is None
    assert approvals.config_of(automation()) == Config(2, 24 * 3600.0)
    assert approvals.config_of(automation(
        '{"conveyor.dev/approvals": "1", "conveyor.dev/approval-ttl": "90m"}')) == Config(1, 5400.0)
    for bad, named in (('{"conveyor.dev/approvals": "two"}', "conveyor.dev/approvals"),
                       ('{"conveyor.dev/approvals": "21"}', "conveyor.dev/approvals"),
                       ('{"conveyor.dev/approvals": "1", "conveyor.dev/approval-ttl": "soon"}',
                        "conveyor.dev/approval-ttl"),
                       ('{"conveyor.dev/approvals": "1", "conveyor.dev/approval-ttl": "0s"}',
                        "conveyor.dev/approval-ttl")):
        with pytest.raises(InvalidSpec, match=named) as caught:
            approvals.config_of(automation(bad))
        assert caught.value.reason == "InvalidApprovalConfig"


def test_one_exact_change_waits_once_and_a_different_one_supersedes_it(store: Store) -> None:
    first = settle(store, CHANGE)
    assert first.verdict == "wait" and first.opened and first.request is not None
    request = first.request
    assert approvals.REQUEST_ID.fullmatch(request.id)
    assert request.changes == tuple(CHANGE) and request.expires == T0 + 3600
    again = settle(store, list(reversed(CHANGE * 2)), now=T0 + 10)  # the same change, however said
    assert again.verdict == "wait" and not again.opened and again.request == request

    newer = settle(store, NEWER_CHANGE, now=T0 + 20, trace="trace-2")
    assert newer.verdict == "wait" and newer.opened and newer.request is not None
    assert newer.request.id != request.id and newer.request.trace_id == "trace-2"
    (closed,) = newer.closed
    assert (closed.id, closed.state, closed.superseded_by) == (request.id, "superseded",
                                                               newer.request.id)
    assert [r.id for r in approvals.open_requests(store)] == [newer.request.id]
    assert [r.id for r in approvals.closed_requests(store)] == [request.id]
    with pytest.raises(Refused, match=f"change {request.id} is superseded by change "
                                      f"{newer.request.id}"):
        vote(store, "alice", ident=request.id)


def test_n_approvals_from_distinct_approvers_then_it_lands_signed(store: Store) -> None:
    request = settle(store, CHANGE).request
    assert request is not None
    once = vote(store, "alice", ident=request.id)
    assert once.state == "pending" and once.approvers == ["alice"]
    assert settle(store, CHANGE, now=T0 + 2).verdict == "wait"
    with pytest.raises(Refused, match="approved by alice already"):
        vote(store, "alice", ident=request.id)
    with pytest.raises(Refused, match="is not an approver's name"):
        vote(store, "mallory\nApproved-by: bob")
    twice = vote(store, "bob")  # no id: the one that waits
    assert twice.state == "approved" and twice.approvers == ["alice", "bob"]
    with pytest.raises(Refused, match="approved already"):
        vote(store, "carol")

    landing = settle(store, CHANGE, now=T0 + 3)
    assert landing.verdict == "land" and landing.request == twice
    assert approvals.trailers("Update images\n[ci skip]\n", twice) == (
        f"Update images\n[ci skip]\n\nApproved-by: alice\nApproved-by: bob\n"
        f"Approval-Id: {request.id}\n"
    )
    approvals.landed(store, twice, "c0ffee" * 6 + "abcd", T0 + 4)
    assert approvals.open_requests(store) == []
    (done,) = approvals.closed_requests(store)
    assert (done.id, done.state, done.commit) == (request.id, "landed", "c0ffee" * 6 + "abcd")
    with pytest.raises(Refused, match=r"is committed already \(c0ffeec\)"):
        vote(store, "carol", ident=request.id)


def test_an_approval_of_another_change_counts_for_nothing(store: Store) -> None:
    request = settle(store, CHANGE, required=1).request
    assert request is not None
    vote(store, "alice", ident=request.id)  # approved: 1 of 1
    newer = settle(store, NEWER_CHANGE, now=T0 + 5, required=1)
    assert newer.verdict == "wait" and newer.request is not None
    assert newer.request.approvals == () and newer.closed[0].state == "superseded"


def test_a_rejection_sticks_to_its_change_until_another_one_comes(store: Store) -> None:
    request = settle(store, CHANGE).request
    assert request is not None
    vote(store, "alice", ident=request.id)
    rejected = vote(store, "bob", ident=request.id, approve=False)
    assert rejected.state == "rejected" and rejected.rejected is not None
    assert rejected.rejected.by == "bob"
    for later in (T0 + 10, T0 + 7200):  # never committed, and never asked again: not even expired
        decision = settle(store, CHANGE, now=later)
        assert decision.verdict == "rejected" and not decision.opened
    with pytest.raises(Refused, match="was rejected by bob"):
        vote(store, "carol", ident=request.id)
    newer = settle(store, NEWER_CHANGE, now=T0 + 20)
    assert newer.verdict == "wait" and newer.opened
    assert newer.closed[0].state == "superseded" and newer.closed[0].id == request.id


def test_an_expired_request_takes_no_vote_and_is_asked_again(store: Store) -> None:
    request = settle(store, CHANGE, ttl=60).request
    assert request is not None
    vote(store, "alice", now=T0 + 30)
    with pytest.raises(Refused, match="expired at 2023-11-14T22:14:20Z"):
        vote(store, "bob", now=T0 + 60)
    (shown,) = approvals.open_requests(store)
    assert shown.shown_state(T0 + 60) == "expired" and shown.shown_state(T0 + 59) == "pending"
    again = settle(store, CHANGE, now=T0 + 61, ttl=60)
    assert again.verdict == "wait" and again.opened and again.request is not None
    assert again.request.id != request.id and again.request.approvals == ()  # alice's lapsed
    assert again.closed[0].state == "expired"


def test_nothing_to_change_withdraws_the_request(store: Store) -> None:
    request = settle(store, CHANGE).request
    assert request is not None
    decision = settle(store, [])
    assert decision.verdict == "go" and decision.closed[0].state == "withdrawn"
    assert approvals.open_requests(store) == []
    with pytest.raises(Refused, match="has no change awaiting approval"):
        vote(store, "alice")


def test_votes_from_many_clients_at_once_all_count(redis_url: str) -> None:
    Store.from_url(redis_url).put_object(automation())
    request = settle(Store.from_url(redis_url), CHANGE, required=8).request
    assert request is not None
    names = [f"approver{i}" for i in range(8)]
    errors: list[BaseException] = []

    def approve(name: str) -> None:
        try:
            vote(Store.from_url(redis_url), name, ident=request.id)  # a connection each
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=approve, args=(n,)) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    (after,) = approvals.open_requests(Store.from_url(redis_url))
    assert sorted(after.approvers) == names and after.state == "approved"


def test_each_vote_is_a_notice_in_the_request_trace(store: Store) -> None:
    request = settle(store, CHANGE, trace="0123456789abcdef").request
    assert request is not None
    vote(store, "alice")
    vote(store, "bob", approve=False)
    notices = [e for e in store.journal() if e.get("type") == "Notice"]
    assert [(n["reason"], n["trace_id"]) for n in notices] == [
        ("Approved", "0123456789abcdef"), ("ApprovalRejected", "0123456789abcdef")]
    assert notices[0]["message"] == (
        f"change {request.id} approved by alice (1/2): apps:podinfo {OLD} → {NEW}")
    assert notices[0]["metadata"] == {"image.toolkit.fluxcd.io/approval": request.id}
    assert notices[1]["kind"] == "ImageUpdateAutomation" and notices[1]["name"] == "podinfo"


def test_a_rollback_passes_the_gate_without_a_request(store: Store) -> None:
    from conveyor.services.git_committer.approvals import gate
    from conveyor.services.git_committer.message import ObjectIdentifier, Update
    from conveyor.services.git_committer.setters import Change as SetterChange
    from conveyor.services.git_committer.setters import Latest
    from conveyor.shared.bus import InlineDispatcher
    from conveyor.shared.events import ReconcileRequested, RollbackRequested
    from conveyor.shared.runtime import Context

    ctx = Context(store=store, dispatcher=InlineDispatcher())
    obj = automation('{"conveyor.dev/approvals": "1"}')
    change = Update(
        "deploy.yaml",
        ObjectIdentifier.of("apps/v1", "Deployment", "podinfo", "apps"),
        SetterChange("deploy.yaml", 3, "apps:podinfo", "image", "podinfo:1.1", "podinfo:1.0"),
        Latest("podinfo", "1.0"),
    )
    rollback = RollbackRequested(namespace="apps", name="podinfo", commits=("abc",),
                                 why="health checks failed")
    passed = gate(obj, [change], ctx, rollback)
    assert passed.held is None and passed.approved is None
    assert approvals.open_requests(store) == []  # nothing asked of the approvers
    # the same change by an ordinary run waits for its approver
    asked = ReconcileRequested(kind=obj.kind, namespace="apps", name="podinfo")
    assert gate(obj, [change], ctx, asked).held is not None
    assert len(approvals.open_requests(store)) == 1
