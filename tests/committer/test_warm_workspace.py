"""One warm work tree per automation: a run that starts where the last one left the branch (its
own push, as the source-fetcher then saw it) fetches nothing; anything else (the remote moved,
a run died half-way) is a full fetch and checkout, and a push on a stale base, refused by the
remote, is made again at once on a fetched one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conveyor.services.demo.scenario import Demo, ci_tags
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

KEY = "ImageUpdateAutomation/flux-system/gitops-demo-app"
POLICY = "ImagePolicy/flux-system/image-repo-policy"
SOURCE = "GitRepository/flux-system/gitops-demo-app"


def run(ctx: Context, service: str, key: str) -> None:
    kind, namespace, name = key.split("/")
    request = ReconcileRequested(kind=kind, namespace=namespace, name=name)
    reconcile_one(load_stage(service), key, request, ctx)


def choose(store: Store, tag: str) -> None:
    status = store.get_status(POLICY, ImagePolicyStatus)
    assert status.latest_ref is not None
    status.latest_ref = ImageRef(name=status.latest_ref.name, tag=tag)
    store.put_status(POLICY, status)


@pytest.fixture
def fetches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The branches the work trees fetched."""
    seen: list[str] = []
    original = Workspace._checkout

    def counted(self: Workspace, branch: str, local: str | None) -> str:
        seen.append(branch)
        return original(self, branch, local)

    monkeypatch.setattr(Workspace, "_checkout", counted)
    return seen


def test_a_run_that_starts_at_its_own_push_fetches_nothing(
    demo: Demo, registry: Any, redis_url: str, tmp_path: Path, fetches: list[str]
) -> None:
    tags = ci_tags(5)
    push(registry, demo, tags[:1])
    store, settings = Store.from_url(redis_url), Settings(data_dir=tmp_path / "data")
    once(store, settings, ManifestSource(demo.manifests))
    ctx = Context(store, InlineDispatcher(), settings)
    fetches.clear()
    for tag in tags[1:3]:
        choose(store, tag)
        run(ctx, "git-committer", KEY)
        run(ctx, "source-fetcher", SOURCE)  # CommitPushed: the fetcher sees the new head
    assert fetches == []  # each run started where the last one left the branch
    assert f":{tags[2]}" in git_out(demo.remote, "show", "master:kustomize/deployment.yaml")
    assert len(git_out(demo.remote, "rev-list", "master").split()) == 4  # init + 3 updates

    # a run that died after editing a file leaves nothing behind: the next one fetches
    tree = settings.data_dir / "automations" / "flux-system" / "gitops-demo-app"
    (tree / "kustomize" / "deployment.yaml").write_text("half-written")
    (tree / ".git" / "conveyor-settled").unlink()
    choose(store, tags[3])
    run(ctx, "git-committer", KEY)
    assert fetches == ["master"]
    shown = git_out(demo.remote, "show", "master:kustomize/deployment.yaml")
    assert f":{tags[3]}" in shown and "half-written" not in shown


def test_a_stale_head_costs_one_refused_push_and_nothing_else(
    demo: Demo,
    registry: Any,
    redis_url: str,
    tmp_path: Path,
    fetches: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tags = ci_tags(3)
    push(registry, demo, tags[:1])
    store, settings = Store.from_url(redis_url), Settings(data_dir=tmp_path / "data", retry_base=0)
    once(store, settings, ManifestSource(demo.manifests))
    ctx = Context(store, InlineDispatcher(), settings)
    # a developer pushes; the source-fetcher has not seen it yet
    theirs = advance(demo.remote, "master", {"README.md": "a developer's change\n"})
    fetches.clear()
    pushes: list[bool] = []
    original = Workspace.push

    def recorded(self: Workspace, local: str, remote: str) -> None:
        pushes.append(self.warm)
        original(self, local, remote)

    monkeypatch.setattr(Workspace, "push", recorded)
    choose(store, tags[1])
    run(ctx, "git-committer", KEY)  # warm: refused; then fetched, on top of the developer's
    assert pushes == [True, False] and fetches == ["master"]
    status = store.get_status(KEY, ImageUpdateAutomationStatus)
    assert status.ready is not None and status.ready.status == "True"
    assert git_out(demo.remote, "rev-parse", "master^").strip() == theirs
    assert f":{tags[1]}" in git_out(demo.remote, "show", "master:kustomize/deployment.yaml")
