"""An automation whose branch head and policies are what its last good run wrote from does no
Git work (Flux's ``observedSourceRevision`` and ``observedPolicies``), and a policy that
changed while a run was writing is not taken for seen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conveyor.services.demo.scenario import Demo, ci_tags
from conveyor.services.git_committer import reconcile as committer
from conveyor.services.runner import load_stage, once
from conveyor.shared.adapters.git import Workspace
from conveyor.shared.bus import InlineDispatcher
from conveyor.shared.events import ReconcileRequested
from conveyor.shared.runtime import Context, Settings, reconcile_one
from conveyor.shared.sources import ManifestSource
from conveyor.shared.status import ImagePolicyStatus, ImageRef, ImageUpdateAutomationStatus
from conveyor.shared.store import Store
from tests.conftest import git_out, push
from tests.fixtures.git_remotes import advance
from tests.fixtures.registries import Registry

KEY = "ImageUpdateAutomation/flux-system/gitops-demo-app"
POLICY = "ImagePolicy/flux-system/image-repo-policy"


def tick(ctx: Context) -> ImageUpdateAutomationStatus:
    request = ReconcileRequested(
        kind="ImageUpdateAutomation", namespace="flux-system", name="gitops-demo-app"
    )
    reconcile_one(load_stage("git-committer"), KEY, request, ctx)
    return ctx.store.get_status(KEY, ImageUpdateAutomationStatus)


def test_an_unchanged_automation_does_no_git_work(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    push(registry, demo, ci_tags(2))
    store, settings = Store.from_url(redis_url), Settings(data_dir=tmp_path / "data")
    once(store, settings, ManifestSource(demo.manifests))
    ctx = Context(store, InlineDispatcher(), settings)
    tick(ctx)  # the run after the push: it sees its own commit as the head
    checkouts: list[Any] = []
    original = Workspace.checkout

    def counted(self: Workspace, *args: Any, **kwargs: Any) -> str:
        checkouts.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Workspace, "checkout", counted)
    status = tick(ctx)
    assert checkouts == [] and status.ready is not None
    assert status.ready.message.startswith("repository up-to-date at master@sha1:")
    head = git_out(demo.remote, "rev-parse", "master").strip()
    assert status.observed_source_revision == f"master@sha1:{head}"
    # a policy that moves on is a reason to look again
    moved = store.get_status(POLICY, ImagePolicyStatus)
    assert moved.latest_ref is not None
    moved.latest_ref = ImageRef(name=moved.latest_ref.name, tag=ci_tags(3)[-1])
    store.put_status(POLICY, moved)
    tick(ctx)
    assert len(checkouts) == 1


def test_a_policy_that_moves_during_a_run_is_not_taken_for_seen(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tags = ci_tags(3)
    push(registry, demo, tags[:2])
    store, settings = Store.from_url(redis_url), Settings(data_dir=tmp_path / "data")
    once(store, settings, ManifestSource(demo.manifests))
    ctx = Context(store, InlineDispatcher(), settings)
    written = store.get_status(POLICY, ImagePolicyStatus).latest_ref
    assert written is not None and written.tag == tags[1]
    newer = ImageRef(name=written.name, tag=tags[2])
    resolve = committer.policies_of

    def moves_meanwhile(*args: Any) -> Any:  # the policy moves on as the run writes
        found = resolve(*args)
        status = store.get_status(POLICY, ImagePolicyStatus)
        status.latest_ref = newer
        store.put_status(POLICY, status)
        return found

    monkeypatch.setattr(committer, "policies_of", moves_meanwhile)
    status = tick(ctx)
    assert status.observed_policies == {"image-repo-policy": written}  # what it wrote from
    monkeypatch.setattr(committer, "policies_of", resolve)
    tick(ctx)  # so the next run does not skip: the newer tag lands
    assert f":{tags[2]} " in git_out(demo.remote, "show", "master:kustomize/deployment.yaml")


def test_a_head_moved_by_commits_elsewhere_is_as_good_as_unchanged(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Other automations' pushes (files outside ``spec.update.path``), as the source-fetcher
    saw them, do not make a run look again; a commit inside the path does."""
    push(registry, demo, ci_tags(2))
    store, settings = Store.from_url(redis_url), Settings(data_dir=tmp_path / "data")
    once(store, settings, ManifestSource(demo.manifests))
    ctx = Context(store, InlineDispatcher(), settings)
    source = "GitRepository/flux-system/gitops-demo-app"
    checkouts: list[Any] = []
    original = Workspace.checkout

    def counted(self: Workspace, *args: Any, **kwargs: Any) -> str:
        checkouts.append(args)
        return original(self, *args, **kwargs)

    def fetch() -> None:
        request = ReconcileRequested(
            kind="GitRepository", namespace="flux-system", name="gitops-demo-app"
        )
        reconcile_one(load_stage("source-fetcher"), source, request, ctx)

    monkeypatch.setattr(Workspace, "checkout", counted)
    assert tick(ctx).ready is not None and checkouts == []  # its own push: seen already
    for n in range(2):  # two commits elsewhere, each fetched
        advance(demo.remote, "master", {f"other/app{n}.yaml": "kind: ConfigMap\n"})
        fetch()
    head = git_out(demo.remote, "rev-parse", "master").strip()
    status = tick(ctx)
    assert checkouts == []
    assert status.observed_source_revision == f"master@sha1:{head}"
    advance(demo.remote, "master", {"kustomize/extra.yaml": "kind: ConfigMap\n"})
    fetch()
    tick(ctx)
    assert len(checkouts) == 1
