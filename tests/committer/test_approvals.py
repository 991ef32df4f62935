"""The git-committer's approval gate on the seed scenario (real registry, Git remote, Redis):
an automation with ``conveyor.dev/approvals`` commits nothing until its exact change is
approved, says so on Ready (True, ``AwaitingApproval``) and in one notice, then commits exactly
that change with ``Approved-by:`` trailers, in the trace of the run that asked; a newer tag
supersedes what waits; a rejected change is never committed, a newer one waits again."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conveyor.services.demo.scenario import MESSAGE, Demo, ci_tags
from conveyor.services.runner import load_stage, once
from conveyor.shared import approvals
from conveyor.shared.bus import InlineDispatcher
from conveyor.shared.events import ReconcileRequested
from conveyor.shared.runtime import Context, Settings, reconcile_one
from conveyor.shared.sources import ManifestSource
from conveyor.shared.status import ImageUpdateAutomationStatus
from conveyor.shared.store import Store
from tests.conftest import git_out, push
from tests.fixtures.registries import Registry

KEY = "ImageUpdateAutomation/flux-system/gitops-demo-app"
HEADER = (
    "kind: ImageUpdateAutomation\nmetadata:\n  name: gitops-demo-app\n  namespace: flux-system\n"
)


def require_approvals(demo: Demo, count: int) -> None:
    manifest = demo.manifests / "gitops-demo-app.yaml"
    text = manifest.read_text()
    assert text.count(HEADER) == 1
    manifest.write_text(text.replace(
        HEADER, HEADER + f'  annotations:\n    conveyor.dev/approvals: "{count}"\n'))


def tick(ctx: Context, trace: str | None = None) -> ImageUpdateAutomationStatus:
    request = ReconcileRequested(
        kind="ImageUpdateAutomation", namespace="flux-system", name="gitops-demo-app"
    )
    if trace is not None:
        request = request.model_copy(update={"trace_id": trace})
    reconcile_one(load_stage("git-committer"), KEY, request, ctx)
    return ctx.store.get_status(KEY, ImageUpdateAutomationStatus)


def head(demo: Demo) -> str:
    return git_out(demo.remote, "rev-parse", "master").strip()


def waiting(store: Store) -> approvals.Request:
    (request,) = approvals.open_requests(store)
    return request


def ready(status: ImageUpdateAutomationStatus) -> tuple[str, str, str]:
    assert status.ready is not None
    return status.ready.status, status.ready.reason, status.ready.message


@pytest.fixture
def setup(demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
          ) -> tuple[Demo, Store, Settings, Context, InlineDispatcher]:
    require_approvals(demo, 2)
    store, settings = Store.from_url(redis_url), Settings(data_dir=tmp_path / "data")
    dispatcher = InlineDispatcher()
    return demo, store, settings, Context(store, dispatcher, settings), dispatcher


def test_nothing_lands_until_approved_then_exactly_that_change_with_trailers(
    setup: tuple[Demo, Store, Settings, Context, InlineDispatcher], registry: Registry
) -> None:
    demo, store, settings, ctx, dispatcher = setup
    tags = ci_tags(2)
    push(registry, demo, tags)
    first = head(demo)
    once(store, settings, ManifestSource(demo.manifests))
    assert head(demo) == first  # nothing committed
    request = waiting(store)
    old, new = f"{demo.image}:latest", f"{demo.image}:{tags[-1]}"
    assert [(c.policy, c.old, c.new) for c in request.changes] == [
        ("flux-system:image-repo-policy", old, new)]
    status = store.get_status(KEY, ImageUpdateAutomationStatus)
    state, reason, message = ready(status)
    assert (state, reason) == ("True", "AwaitingApproval")
    assert message.startswith(f"awaiting approval 0/2 of change {request.id}: "
                              f"flux-system:image-repo-policy {old} → {new}; approve with "
                              f"`conveyor approve automation gitops-demo-app -n flux-system "
                              f"--id {request.id}` before ")
    assert status.last_push_commit is None and status.observed_policies in (None, {})
    notices = [e for e in store.journal() if e.get("type") == "Notice"
               and e.get("reason") == "AwaitingApproval"]
    assert len(notices) == 1 and notices[0]["trace_id"] == request.trace_id
    assert notices[0]["metadata"] == {"image.toolkit.fluxcd.io/approval": request.id}

    assert ready(tick(ctx))[1] == "AwaitingApproval"  # asked again: the same request, no notice
    assert waiting(store).id == request.id and head(demo) == first
    assert len([e for e in store.journal() if e.get("reason") == "AwaitingApproval"]) == 1

    approvals.vote(store, KEY, ident=request.id, by="alice", via="cli", approve=True,
                   now=request.created + 1)
    status = tick(ctx)
    state, reason, message = ready(status)
    assert (reason, head(demo)) == ("AwaitingApproval", first)  # 1 of 2
    assert message.startswith(f"awaiting approval 1/2 (approved by alice) of change {request.id}")

    approvals.vote(store, KEY, ident=request.id, by="bob", via="api", approve=True,
                   now=request.created + 2)
    status = tick(ctx, trace="feedfacefeedface")  # woken by another trace: the request's goes on
    assert ready(status)[:2] == ("True", "Succeeded")
    pushed = head(demo)
    assert pushed != first and status.last_push_commit == pushed
    assert git_out(demo.remote, "log", "-1", "--format=%B", pushed) == (
        MESSAGE + f"\nApproved-by: alice\nApproved-by: bob\nApproval-Id: {request.id}\n\n"
    )
    trailers = git_out(demo.remote, "log", "-1", "--format=%(trailers:key=Approved-by,valueonly)",
                       pushed)
    assert trailers.split() == ["alice", "bob"]
    assert f"image: {new} #" in git_out(demo.remote, "show", f"{pushed}:kustomize/deployment.yaml")
    assert approvals.open_requests(store) == []
    landed = approvals.closed_requests(store)[0]
    assert (landed.id, landed.state, landed.commit) == (request.id, "landed", pushed)
    (commit_pushed,) = [m for _, m in dispatcher.queue if m["type"] == "CommitPushed"]
    assert commit_pushed["trace_id"] == request.trace_id  # the image's trace goes on
    journal = store.journal()
    assert any(e.get("type") == "Notice" and e.get("reason") == "ApprovedChangeCommitted"
               and e.get("trace_id") == request.trace_id for e in journal)
    assert ready(tick(ctx))[:2] == ("True", "Succeeded")  # nothing more to approve
    assert head(demo) == pushed and approvals.open_requests(store) == []


def test_a_newer_tag_supersedes_and_a_rejected_change_never_lands(
    setup: tuple[Demo, Store, Settings, Context, InlineDispatcher], registry: Registry
) -> None:
    demo, store, settings, ctx, _ = setup
    tags = ci_tags(4)
    push(registry, demo, tags[:2])
    first = head(demo)
    once(store, settings, ManifestSource(demo.manifests))
    request = waiting(store)
    approvals.vote(store, KEY, ident=request.id, by="alice", via="cli", approve=True,
                   now=request.created + 1)

    push(registry, demo, tags[2:3])  # a newer tag while it waits
    once(store, settings, ManifestSource(demo.manifests))
    newer = waiting(store)
    assert newer.id != request.id and newer.approvals == ()  # alice approved another change
    assert [c.new for c in newer.changes] == [f"{demo.image}:{tags[2]}"]
    superseded = approvals.closed_requests(store)[0]
    assert (superseded.id, superseded.state, superseded.superseded_by) == (
        request.id, "superseded", newer.id)
    said = [e["message"] for e in store.journal() if e.get("reason") == "AwaitingApproval"]
    assert said[-1].endswith(f"change {request.id} (flux-system:image-repo-policy "
                             f"{demo.image}:latest → {demo.image}:{tags[1]}) is superseded")
    assert head(demo) == first

    approvals.vote(store, KEY, ident=newer.id, by="carol", via="slack", approve=False,
                   now=newer.created + 1)
    status = tick(ctx)
    state, reason, message = ready(status)
    assert (state, reason) == ("True", "ApprovalRejected")
    assert message.startswith(f"change {newer.id} (") and "was rejected by carol" in message
    assert ready(tick(ctx))[1] == "ApprovalRejected" and head(demo) == first
    assert re.fullmatch(r"[0-9a-f]{12}", newer.id)

    push(registry, demo, tags[3:])  # a newer one may wait again
    once(store, settings, ManifestSource(demo.manifests))
    again = waiting(store)
    assert again.id != newer.id and again.state == "pending"
    assert [c.new for c in again.changes] == [f"{demo.image}:{tags[3]}"]
    assert head(demo) == first
