"""The pieces of a rollback (``conveyor.shared.rollback``), each on a real Redis, the real
registry and a real bare Git remote (the seed scenario, no cluster: its Kustomization says
``ClusterNotConfigured``): the previous value read off the setters' changes, the record of each
push, the applier's choice of what to roll back (and never a rollback's own commit), the
git-committer's rollback commit, failed tags skipped by the policy and never written by an
ordinary run, and the marks cleared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conveyor.services.applier.rollback import on_health_failure
from conveyor.services.demo.scenario import Demo, ci_tags
from conveyor.services.git_committer.message import ObjectIdentifier, Update
from conveyor.services.git_committer.rollback import changed_of, split_image
from conveyor.services.git_committer.setters import Change, Latest
from conveyor.services.runner import load_stage, once
from conveyor.shared.bus import InlineDispatcher
from conveyor.shared.events import ReconcileRequested, RollbackRequested, parse_event
from conveyor.shared.manifests import parse_manifests
from conveyor.shared.models import ImageUpdateAutomation, Kustomization
from conveyor.shared.rollback import (
    PUSHES_KEPT,
    Changed,
    Push,
    clear_failed,
    failed_tags,
    mark_failed,
    pushes_of,
    record_push,
)
from conveyor.shared.runtime import Context, Settings, handle, reconcile_one
from conveyor.shared.sources import ManifestSource
from conveyor.shared.status import (
    ImagePolicyStatus,
    ImageRef,
    ImageUpdateAutomationStatus,
    KustomizationStatus,
)
from conveyor.shared.store import Store
from tests.conftest import git_out, push
from tests.fixtures.registries import Registry

AUTOMATION = "ImageUpdateAutomation/flux-system/gitops-demo-app"
POLICY = "ImagePolicy/flux-system/image-repo-policy"
SOURCE = "GitRepository/flux-system/gitops-demo-app"
OPT_IN = """kind: ImageUpdateAutomation
metadata:
  name: gitops-demo-app
  namespace: flux-system
  annotations:
    conveyor.dev/rollback: health
"""


def opt_in(demo: Demo, value: str = "health") -> None:
    path = demo.manifests / "gitops-demo-app.yaml"
    text = path.read_text()
    marker = OPT_IN.split("  annotations:")[0]
    assert marker in text
    path.write_text(text.replace(marker, OPT_IN.replace("health", value)))


# --- the previous value --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("ghcr.io/org/app:1.2.3", ("ghcr.io/org/app", "1.2.3", None)),
        ("localhost:5000/app:v1@sha256:abc", ("localhost:5000/app", "v1", "sha256:abc")),
        ("localhost:5000/app", ("localhost:5000/app", "latest", None)),
        ("nginx@sha256:abc", ("nginx", "latest", "sha256:abc")),
    ],
    ids=["tag", "port-and-digest", "no-tag", "digest-only"],
)
def test_an_image_reference_splits_into_name_tag_and_digest(
    ref: str, expected: tuple[str, str, str | None]
) -> None:
    assert split_image(ref) == expected


def _update(policy: str, setter: str, old: str, new: str, latest: Latest) -> Update:
    change = Change(file="app.yaml", line=1, policy=policy, setter=setter, old=old, new=new)
    return Update("app.yaml", ObjectIdentifier.of("apps/v1", "Deployment", "app", ""), change,
                  latest)


def test_the_value_before_a_commit_is_read_off_its_setters_changes() -> None:
    new = Latest("reg/app", "2.0.0", "sha256:new")
    other = Latest("reg/db", "15")
    changed = changed_of([
        _update("ns:app", "tag", "1.0.0", "2.0.0", new),
        _update("ns:app", "digest", "sha256:old", "sha256:new", new),
        _update("ns:db", "image", "reg/db:14", "reg/db:15", other),
    ])
    assert changed == (
        Changed("ns:app", ImageRef(name="reg/app", tag="1.0.0", digest="sha256:old"),
                ImageRef(name="reg/app", tag="2.0.0", digest="sha256:new")),
        Changed("ns:db", ImageRef(name="reg/db", tag="14"), ImageRef(name="reg/db", tag="15")),
    )


# --- the records ---------------------------------------------------------------------------


def _push(commit: str, base: str, before: str, after: str, *, rollback: bool = False) -> Push:
    return Push(
        commit=commit, base=base, branch="master", source=SOURCE, at=0.0, trace_id="t" * 16,
        changed=(Changed("flux-system:image-repo-policy", ImageRef(name="reg/app", tag=before),
                         ImageRef(name="reg/app", tag=after)),),
        rollback=rollback,
    )


def test_pushes_are_kept_newest_first_bounded_and_a_bad_record_is_passed_over(
    redis_url: str,
) -> None:
    store = Store.from_url(redis_url)
    for n in range(PUSHES_KEPT + 5):
        record_push(store, AUTOMATION, _push(f"{n:040x}", f"{n + 1:040x}", "a", "b"))
    store.redis.lpush(f"conveyor:pushes:{AUTOMATION}", b"not json", b'{"commit": "x"}')
    kept = pushes_of(store, [AUTOMATION])[AUTOMATION]
    assert len(kept) == PUSHES_KEPT - 2  # the two bad ones took their places and are skipped
    assert kept[0].commit == f"{PUSHES_KEPT + 4:040x}"
    assert kept[0] == _push(f"{PUSHES_KEPT + 4:040x}", f"{PUSHES_KEPT + 5:040x}", "a", "b")


def test_failed_marks_keep_their_first_reason_and_are_cleared(redis_url: str) -> None:
    store = Store.from_url(redis_url)
    assert mark_failed(store, POLICY, "b", "health checks failed")
    assert not mark_failed(store, POLICY, "b", "again")
    assert not mark_failed(store, POLICY, "not a tag!", "hostile")
    assert failed_tags(store, POLICY)["b"].why == "health checks failed"
    assert clear_failed(store, [POLICY, "ImagePolicy/flux-system/other"]) == {POLICY: ["b"]}
    assert failed_tags(store, POLICY) == {}


# --- the applier's choice ------------------------------------------------------------------


class Scene:
    """The seed's objects in a store (no Git work): an automation, a Kustomization of the same
    GitRepository, and the commits the test records."""

    def __init__(self, redis_url: str, demo: Demo, tmp_path: Path, annotate: bool = True) -> None:
        if annotate:
            opt_in(demo)
        self.store = Store.from_url(redis_url)
        self.store.put_objects(parse_manifests((demo.manifests / "gitops-demo-app.yaml")
                                               .read_text()))
        self.dispatcher = InlineDispatcher()
        self.ctx = Context(self.store, self.dispatcher, Settings(data_dir=tmp_path / "data"))
        kustomization = self.store.get_object("Kustomization/flux-system/gitops-demo-app",
                                              Kustomization)
        assert kustomization is not None
        self.kustomization = kustomization

    def fetched(self, commit: str, base: str) -> None:
        self.store.put_changes(SOURCE, commit, ["kustomize/deployment.yaml"], base)

    def fail(self, commit: str, healthy: str | None) -> list[RollbackRequested]:
        """The health checks of ``commit`` failed, the last healthy revision ``healthy``."""
        status = KustomizationStatus(
            last_applied_revision=f"master@sha1:{healthy}" if healthy else None
        )
        on_health_failure(self.kustomization, status, SOURCE, f"master@sha1:{commit}",
                          "health check failed after 30.0s: timeout waiting for: [Deployment]",
                          self.ctx, ReconcileRequested(kind="Kustomization",
                                                       namespace="flux-system", name="x"))
        sent = [parse_event(m) for _, m in self.dispatcher.queue]
        self.dispatcher.queue.clear()
        return [e for e in sent if isinstance(e, RollbackRequested)]


H, P1, DEV, P2, R = (c * 40 for c in "01234")


def test_the_pushes_since_the_healthy_revision_are_rolled_back_once(
    redis_url: str, demo: Demo, tmp_path: Path
) -> None:
    scene = Scene(redis_url, demo, tmp_path)
    # healthy H; the automation pushed P1 on it, a developer DEV, the automation P2 on that
    record_push(scene.store, AUTOMATION, _push(P1, H, "a", "b"))
    scene.fetched(DEV, P1)
    record_push(scene.store, AUTOMATION, _push(P2, DEV, "b", "c"))
    scene.fetched(P2, H)  # the fetch saw P2 come after H (it skipped P1 and DEV)
    [event] = scene.fail(P2, H)
    assert (event.namespace, event.name, event.commits) == ("flux-system", "gitops-demo-app",
                                                            (P2, P1))
    assert event.kustomization == "flux-system/gitops-demo-app"
    assert event.revision == f"master@sha1:{P2}" and "timeout waiting for" in event.why
    assert sorted(failed_tags(scene.store, POLICY)) == ["b", "c"]
    said = [e for e in scene.store.journal() if e.get("reason") == "RollbackRequested"]
    assert said and said[-1]["severity"] == "error" and said[-1]["kind"] == "Kustomization"
    assert "tags marked failed: c (ImagePolicy flux-system/image-repo-policy), b" in (
        said[-1]["message"])
    # the retry of the same failing revision rolls nothing back a second time
    assert scene.fail(P2, H) == []


def test_a_rollback_s_own_commit_failing_too_rolls_nothing_further_back(
    redis_url: str, demo: Demo, tmp_path: Path
) -> None:
    scene = Scene(redis_url, demo, tmp_path)
    record_push(scene.store, AUTOMATION, _push(P1, H, "a", "b"))
    assert len(scene.fail(P1, H)) == 1
    record_push(scene.store, AUTOMATION, _push(R, P1, "b", "a", rollback=True))
    assert scene.fail(R, H) == []  # R is a rollback, P1 is rolled back already: no loop
    assert sorted(failed_tags(scene.store, POLICY)) == ["b"]  # "a", the healthy one, is not


@pytest.mark.parametrize("case", ["never-healthy", "same-revision", "unreachable",
                                  "not-opted-in"])
def test_nothing_is_rolled_back_when_what_came_since_the_healthy_revision_is_unknown(
    case: str, redis_url: str, demo: Demo, tmp_path: Path
) -> None:
    scene = Scene(redis_url, demo, tmp_path, annotate=case != "not-opted-in")
    record_push(scene.store, AUTOMATION, _push(P2, DEV, "a", "b"))  # DEV's base unknown
    healthy = {"never-healthy": None, "same-revision": P2}.get(case, H)
    if case == "not-opted-in":
        scene.fetched(DEV, H)
    assert scene.fail(P2, healthy) == []
    assert failed_tags(scene.store, POLICY) == {}


# --- the git-committer's rollback, the policy's skip, the ordinary run's guard -------------


def run_committer(ctx: Context, event: Any) -> ImageUpdateAutomationStatus:
    reconcile_one(load_stage("git-committer"), AUTOMATION, event, ctx)
    return ctx.store.get_status(AUTOMATION, ImageUpdateAutomationStatus)


def head_message(demo: Demo) -> str:
    return git_out(demo.remote, "log", "-1", "--format=%B", "master")


def deployed_tag(demo: Demo) -> str:
    text = git_out(demo.remote, "show", "master:kustomize/deployment.yaml")
    line = next(x for x in text.splitlines() if "$imagepolicy" in x)
    return line.split("image: ", 1)[1].split(" ", 1)[0].rsplit(":", 1)[1]


def test_a_rollback_commits_the_previous_value_back_and_the_failed_tag_is_skipped(
    redis_url: str, demo: Demo, registry: Registry, tmp_path: Path
) -> None:
    opt_in(demo)
    a, b, c = ci_tags(3)
    store, settings = Store.from_url(redis_url), Settings(data_dir=tmp_path / "data")
    push(registry, demo, [a])
    once(store, settings, ManifestSource(demo.manifests))
    push(registry, demo, [b])
    once(store, settings, ManifestSource(demo.manifests))
    assert deployed_tag(demo) == b
    pushed_b = git_out(demo.remote, "rev-parse", "master").strip()
    [record, first] = pushes_of(store, [AUTOMATION])[AUTOMATION]
    assert record.commit == pushed_b and not record.rollback
    assert [(x.before.tag, x.after.tag) for x in record.changed] == [(a, b)]
    assert [(x.before.tag, x.after.tag) for x in first.changed] == [("latest", a)]

    dispatcher = InlineDispatcher()
    ctx = Context(store, dispatcher, settings)
    mark_failed(store, POLICY, b, "health checks failed")  # as the applier marks it
    request = RollbackRequested(
        namespace="flux-system", name="gitops-demo-app", commits=(pushed_b,),
        revision=f"master@sha1:{pushed_b}", kustomization="flux-system/gitops-demo-app",
        why="health check failed after 30.0s: timeout waiting for: [Deployment/x/y]",
    )
    status = run_committer(ctx, request)
    assert status.ready is not None and status.ready.status == "True", status.ready
    assert deployed_tag(demo) == a
    message = head_message(demo)
    assert message.startswith(
        f"Roll back {demo.image} to {a}: health checks of Kustomization "
        f"flux-system/gitops-demo-app failed on master@sha1:{pushed_b}\n\n"
        "health check failed after 30.0s: timeout waiting for: [Deployment/x/y]\n"
    ), message
    assert f"Reverts the image updates of commit {pushed_b[:7]}" in message
    rolled = pushes_of(store, [AUTOMATION])[AUTOMATION][0]
    assert rolled.rollback and rolled.base == pushed_b
    notices = [e for e in store.journal() if e.get("reason") == "RollbackCommitted"]
    assert notices and notices[-1]["severity"] == "error"
    assert notices[-1]["trace_id"] == request.trace_id
    sent = [parse_event(m) for _, m in dispatcher.queue]
    assert {e.type for e in sent} == {"CommitPushed", "ReconcileRequested"}
    assert all(e.trace_id == request.trace_id for e in sent)

    # the policy, asked to choose again, skips the failed tag and says so
    dispatcher.drain(lambda service, m: handle(load_stage(service), m, ctx))
    policy = store.get_status(POLICY, ImagePolicyStatus)
    assert policy.latest_ref is not None and policy.latest_ref.tag == a
    assert policy.ready is not None and policy.ready.message.endswith(
        f"; skipped failed tags: {b}")

    # an ordinary run writes nothing; the same rollback again has nothing to do
    run_committer(ctx, ReconcileRequested(kind="ImageUpdateAutomation",
                                          namespace="flux-system", name="gitops-demo-app"))
    assert deployed_tag(demo) == a
    before = git_out(demo.remote, "rev-parse", "master")
    run_committer(ctx, request.model_copy(update={"emitted_at": request.emitted_at + 1}))
    assert git_out(demo.remote, "rev-parse", "master") == before
    assert any(e.get("reason") == "RollbackNotNeeded" for e in store.journal())

    # a later tag is chosen as usual
    push(registry, demo, [c])
    once(store, settings, ManifestSource(demo.manifests))
    assert deployed_tag(demo) == c


def test_an_ordinary_run_never_writes_a_tag_marked_failed(
    redis_url: str, demo: Demo, registry: Registry, tmp_path: Path
) -> None:
    a, b = ci_tags(2)
    store, settings = Store.from_url(redis_url), Settings(data_dir=tmp_path / "data")
    push(registry, demo, [a])
    once(store, settings, ManifestSource(demo.manifests))
    policy = store.get_status(POLICY, ImagePolicyStatus)
    assert policy.latest_ref is not None
    policy.latest_ref = ImageRef(name=policy.latest_ref.name, tag=b)  # chosen before the mark
    store.put_status(POLICY, policy)
    mark_failed(store, POLICY, b, "health checks failed")
    status = run_committer(Context(store, InlineDispatcher(), settings), ReconcileRequested(
        kind="ImageUpdateAutomation", namespace="flux-system", name="gitops-demo-app"))
    assert status.ready is not None and status.ready.message.startswith("repository up-to-date")
    assert deployed_tag(demo) == a


def test_a_policy_whose_every_tag_failed_says_so_and_chooses_again_once_cleared(
    redis_url: str, demo: Demo, registry: Registry, tmp_path: Path
) -> None:
    a, b = ci_tags(2)
    store, settings = Store.from_url(redis_url), Settings(data_dir=tmp_path / "data")
    push(registry, demo, [a, b])
    once(store, settings, ManifestSource(demo.manifests))
    for tag in (a, b):
        mark_failed(store, POLICY, tag, "health checks failed")
    ctx = Context(store, InlineDispatcher(), settings)
    request = ReconcileRequested(kind="ImagePolicy", namespace="flux-system",
                                 name="image-repo-policy")
    reconcile_one(load_stage("policy-evaluator"), POLICY, request, ctx)
    ready = store.get_status(POLICY, ImagePolicyStatus).ready
    assert ready is not None and (ready.status, ready.reason) == ("False", "Failure")
    assert ready.message == (
        f"every tag is marked failed; skipped failed tags: {', '.join(sorted((a, b)))}")
    clear_failed(store, [POLICY])
    reconcile_one(load_stage("policy-evaluator"), POLICY, request.model_copy(
        update={"emitted_at": request.emitted_at + 1}), ctx)
    policy = store.get_status(POLICY, ImagePolicyStatus)
    assert policy.ready is not None and policy.ready.status == "True"
    assert policy.latest_ref is not None and policy.latest_ref.tag == b
    assert "skipped" not in policy.ready.message


def test_by_hand_without_a_recorded_commit_it_asks_for_a_tag_and_with_one_it_sets_it(
    redis_url: str, demo: Demo, registry: Registry, tmp_path: Path
) -> None:
    a, b = ci_tags(2)
    store, settings = Store.from_url(redis_url), Settings(data_dir=tmp_path / "data")
    push(registry, demo, [a, b])
    once(store, settings, ManifestSource(demo.manifests))
    store.redis.delete(f"conveyor:pushes:{AUTOMATION}")  # pushed before records were kept
    ctx = Context(store, InlineDispatcher(), settings)
    status = run_committer(ctx, RollbackRequested(namespace="flux-system",
                                                  name="gitops-demo-app", manual=True))
    assert status.ready is not None and status.ready.reason == "RollbackFailed"
    assert "--to TAG" in status.ready.message
    status = run_committer(ctx, RollbackRequested(namespace="flux-system",
                                                  name="gitops-demo-app", manual=True, to=a))
    assert status.ready is not None and status.ready.status == "True", status.ready
    assert deployed_tag(demo) == a
    assert head_message(demo).startswith(
        f"Roll back {demo.image} to {a}: by hand (conveyor rollback --to {a})\n")
    assert sorted(failed_tags(store, POLICY)) == [b]  # the tag it replaced


def test_an_unknown_rollback_annotation_is_refused_by_name(
    redis_url: str, demo: Demo, tmp_path: Path
) -> None:
    opt_in(demo, "always")
    store, settings = Store.from_url(redis_url), Settings(data_dir=tmp_path / "data")
    once(store, settings, ManifestSource(demo.manifests))
    status = store.get_status(AUTOMATION, ImageUpdateAutomationStatus)
    stalled = status.condition("Stalled")
    assert stalled is not None and stalled.status == "True"
    assert stalled.reason == "InvalidRollbackConfig"
    assert "annotation conveyor.dev/rollback: 'always' is not one of health, off" in (
        stalled.message)
    obj = store.get_object(AUTOMATION, ImageUpdateAutomation)
    assert obj is not None
