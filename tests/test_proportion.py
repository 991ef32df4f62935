"""Work in proportion to what changed: the store's indexes (what refers to what, which files
mark which policy, the schedule, the queue marks) and the wakes that read them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from conveyor.services.git_committer.reconcile import targets as automation_targets
from conveyor.services.git_committer.reconcile import touches
from conveyor.services.policy_evaluator.reconcile import targets as policy_targets
from conveyor.services.runner import tick
from conveyor.shared.bus import InlineDispatcher
from conveyor.shared.events import PolicyChanged, SourceUpdated, TagsScanned
from conveyor.shared.manifests import parse_manifests
from conveyor.shared.runtime import Context
from conveyor.shared.status import ImageUpdateAutomationStatus
from conveyor.shared.store import Store
from tests.fixtures.workers import Workers
from tests.test_locks import RoundTrips

FLEET = """
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: repo, namespace: flux-system}
spec: {url: /srv/repo.git, interval: 1m}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: a, namespace: flux-system}
spec: {image: example.com/a, interval: 1m}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: b, namespace: flux-system}
spec: {image: example.com/b, interval: 5m}
""" + "".join(
    f"""---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {{name: p{i}, namespace: flux-system}}
spec: {{imageRepositoryRef: {{name: {'a' if i < 3 else 'b'}}}, policy: {{numerical: {{}}}}}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {{name: app{i}, namespace: flux-system}}
spec:
  interval: 1m
  sourceRef: {{kind: GitRepository, name: repo}}
  update: {{path: ./apps/app{i}}}
"""
    for i in range(5)
)


def fleet(redis_url: str) -> Store:
    store = Store.from_url(redis_url)
    store.replace_objects(parse_manifests(FLEET))
    return store


def commands(redis_url: str, action: object) -> int:
    """How many commands Redis ran for ``action``."""
    client = redis.Redis.from_url(redis_url)
    before = int(client.info("stats")["total_commands_processed"])
    assert callable(action)
    action()
    return int(client.info("stats")["total_commands_processed"]) - before - 1


def test_a_reload_writes_only_what_changed_in_few_round_trips(redis_url: str) -> None:
    store = fleet(redis_url)
    objects = parse_manifests(FLEET)
    unchanged = commands(redis_url, lambda: store.replace_objects(objects))
    assert unchanged < 2 * len(objects) + 20  # reads, and no write
    assert int(redis.Redis.from_url(redis_url).hget(
        "conveyor:obj:ImagePolicy/flux-system/p0", "generation") or 0) == 1
    changed = parse_manifests(FLEET.replace("name: p4, namespace: flux-system}\nspec: {"
                                            "imageRepositoryRef: {name: b}",
                                            "name: p4, namespace: flux-system}\nspec: {"
                                            "imageRepositoryRef: {name: a}"))
    store.replace_objects(changed)
    assert store.referrers("ImageRepository/flux-system/a", "ImagePolicy") == [
        "ImagePolicy/flux-system/p0", "ImagePolicy/flux-system/p1",
        "ImagePolicy/flux-system/p2", "ImagePolicy/flux-system/p4",
    ]
    assert store.referrers("ImageRepository/flux-system/b") == ["ImagePolicy/flux-system/p3"]
    store.replace_objects([o for o in changed if o.name != "p3"])
    assert store.referrers("ImageRepository/flux-system/b") == []
    assert store.get_object("ImagePolicy/flux-system/p3") is None


def test_a_scan_wakes_the_policies_of_that_repository_only(redis_url: str) -> None:
    ctx = Context(fleet(redis_url), InlineDispatcher())
    event = TagsScanned(namespace="flux-system", name="b", revision="r", tag_count=1)
    assert policy_targets(event, ctx) == [
        "ImagePolicy/flux-system/p3",
        "ImagePolicy/flux-system/p4",
    ]


def test_a_policy_change_wakes_the_automations_that_mark_it(redis_url: str) -> None:
    store = fleet(redis_url)
    ctx = Context(store, InlineDispatcher())
    changed = PolicyChanged(namespace="flux-system", name="p1", image="a", tag="v2")
    everyone = [f"ImageUpdateAutomation/flux-system/app{i}" for i in range(5)]
    assert automation_targets(changed, ctx) == everyone  # no automation ran yet: all may mark it
    for i in range(5):
        store.set_markers(everyone[i], {f"ImagePolicy/flux-system/p{i}"})
    assert automation_targets(changed, ctx) == [everyone[1]]
    store.set_markers(everyone[3], {"ImagePolicy/flux-system/p1", "ImagePolicy/flux-system/p3"})
    assert automation_targets(changed, ctx) == [everyone[1], everyone[3]]


def test_a_new_revision_wakes_automations_whose_path_it_touched_but_not_the_pusher(
    redis_url: str,
) -> None:
    store = fleet(redis_url)
    ctx = Context(store, InlineDispatcher())
    source = "GitRepository/flux-system/repo"
    pushed = ImageUpdateAutomationStatus(last_push_commit="c1")
    store.put_status("ImageUpdateAutomation/flux-system/app1", pushed)
    store.put_changes(source, "c1", ["apps/app1/deploy.yaml", "apps/app2/deploy.yaml"])
    event = SourceUpdated(namespace="flux-system", name="repo", revision="main@sha1:c1")
    assert automation_targets(event, ctx) == ["ImageUpdateAutomation/flux-system/app2"]
    unknown = SourceUpdated(namespace="flux-system", name="repo", revision="main@sha1:c9")
    assert len(automation_targets(unknown, ctx)) == 5  # changes not known: everyone


def test_touches() -> None:
    assert touches(["apps/a/x.yaml"], "./apps/a")
    assert touches(["apps/a/x.yaml"], "apps/a/")
    assert touches(["apps/a/x.yaml"], ".")
    assert not touches(["apps/ab/x.yaml"], "./apps/a")
    assert touches(["apps/a"], "apps/a")


def test_the_schedule_takes_what_is_due_once_across_workers(redis_url: str) -> None:
    store = fleet(redis_url)
    first = store.take_due("registry-scanner")
    assert first == ["ImageRepository/flux-system/a", "ImageRepository/flux-system/b"]
    assert store.take_due("registry-scanner") == []  # rescheduled an interval on
    store.make_due("ImageRepository/flux-system/b")
    assert store.take_due("registry-scanner") == ["ImageRepository/flux-system/b"]
    assert len(store.take_due("registry-scanner", everything=True)) == 2
    due = redis.Redis.from_url(redis_url).zscore(
        "conveyor:schedule:registry-scanner", "ImageRepository/flux-system/b"
    )
    assert due is not None and 0.95 * 300 - 1 < float(due) - time.time() <= 1.05 * 300  # 5m ± 5 %
    idle = commands(redis_url, lambda: store.take_due("registry-scanner"))
    assert idle <= 2  # idle means one call: the script, and the one lookup it makes


def test_one_tick_takes_what_is_due_of_every_stage_in_one_call(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``conveyor run`` ticks for every stage at once: one script for all their schedules,
    each stage's limit its own (its free threads)."""
    from conveyor.shared.kinds import KINDS

    store = fleet(redis_url)
    store.take_due_of({"applier": 1})  # the script is loaded into Redis once
    limits = {"source-fetcher": 1000, "registry-scanner": 1, "git-committer": 3}
    trips = RoundTrips(monkeypatch)
    taken = store.take_due_of(limits)
    assert trips.count == 1
    assert taken["source-fetcher"] == ["GitRepository/flux-system/repo"]
    assert len(taken["registry-scanner"]) == 1 and len(taken["git-committer"]) == 3
    dispatcher = InlineDispatcher()
    queued = [k for k in KINDS if k.service in limits and k.queued]
    tick(store, dispatcher, queued)  # what the limits left due: one scan, two automations
    assert len(dispatcher.queue) == 3 and trips.count == 1 + 1 + 3  # + each one's queued mark
    tick(store, dispatcher, queued)
    assert len(dispatcher.queue) == 3 and trips.count == 6  # nothing due: one call
    tick(store, dispatcher, queued, start=True)
    assert len(dispatcher.queue) == 3 + 1 + 2 + 5  # the start: every object of the three


def test_the_queue_never_holds_an_object_twice(redis_url: str) -> None:
    store = fleet(redis_url)
    assert store.mark_queued("ImagePolicy/flux-system/p0")
    assert not store.mark_queued("ImagePolicy/flux-system/p0")
    store.unmark_queued("ImagePolicy/flux-system/p0")  # its run started
    assert store.mark_queued("ImagePolicy/flux-system/p0")


def test_interval_ticks_run_in_the_workers_own_threads_as_many_as_are_free(
    redis_url: str,
) -> None:
    """No message per tick: a worker runs what is due itself, taking no more than it has free
    threads for; the rest stays due for another process. A start tick still goes through the
    queue (whoever is up takes it)."""
    import threading

    from conveyor.services.runner import LocalRuns, tick
    from conveyor.shared.kinds import IMAGE_UPDATE_AUTOMATION
    from conveyor.shared.runtime import Outcome, Stage

    store = fleet(redis_url)
    dispatcher = InlineDispatcher()
    ctx = Context(store=store, dispatcher=dispatcher)
    release = threading.Event()
    ran: list[str] = []

    def slow(
        obj: object, status: ImageUpdateAutomationStatus, ctx: Context, event: object
    ) -> Outcome:
        ran.append(getattr(obj, "name", ""))
        release.wait(10)
        return Outcome(status)

    local = LocalRuns(Stage(IMAGE_UPDATE_AUTOMATION, slow, lambda e, c: []), ctx, threads=2)
    runs = {"git-committer": local}
    tick(store, dispatcher, [IMAGE_UPDATE_AUTOMATION], local=runs)
    deadline = time.monotonic() + 10
    while len(ran) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(ran) == 2 and local.room() == 0 and not dispatcher.queue
    tick(store, dispatcher, [IMAGE_UPDATE_AUTOMATION], local=runs)  # no free thread: none taken
    assert len(store.take_due("git-committer")) == 3  # the other three were left due
    release.set()
    local.pool.shutdown(wait=True)
    assert local.room() == 2
    journal = [e for e in store.journal() if e["type"] == "ReconcileRequested"]
    assert len(journal) == 2 and {e["reason"] for e in journal} == {"interval"}
    tick(store, dispatcher, [IMAGE_UPDATE_AUTOMATION], start=True, local=runs)
    assert len(dispatcher.queue) == 5  # the start tick: every automation, queued


def test_the_receivers_are_looked_at_again_only_when_an_object_changed(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process that serves the Receivers refreshes their statuses after a tick's source
    refresh; while no object (a Receiver, its Secret, a reconcile request) changed, that costs
    one counter read, not a read of every Receiver."""
    from conveyor.services import runner

    store = fleet(redis_url)
    looked: list[int] = []
    monkeypatch.setattr(
        "conveyor.services.receiver.reconcile.refresh_receivers",
        lambda ctx: looked.append(store.objects_changed()),
    )
    refresh = runner._receivers(Context(store=store, dispatcher=InlineDispatcher()))
    for _ in range(3):
        refresh()
    assert len(looked) == 1  # the first tick looks
    store.replace_objects(parse_manifests(FLEET))  # the same objects: nothing written
    refresh()
    assert len(looked) == 1
    store.replace_objects(parse_manifests(FLEET.replace("interval: 5m", "interval: 6m")))
    refresh()
    refresh()
    assert len(looked) == 2  # a changed object: looked at once
    store.replace_objects([o for o in parse_manifests(FLEET) if o.name != "b"])
    refresh()
    assert len(looked) == 3  # a deleted one too
    monkeypatch.setattr(runner, "RECEIVERS_RECHECK_SECONDS", 0.0)
    refresh()
    assert len(looked) == 4  # and now and then regardless (a Redis that came back empty)


def test_an_idle_worker_asks_redis_little(redis_url: str, tmp_path: Path) -> None:
    """A stage's worker with nothing to do: its ticker's one script a second, its consumer's
    BRPOP sent again every 2 s (not every second), and kombu's look for messages to give back."""
    with Workers(redis_url, tmp_path, tmp_path, services=("policy-evaluator",)) as workers:
        workers.wait_ready()
        client = redis.Redis.from_url(redis_url)
        time.sleep(2.0)  # the start's own calls are over
        before = client.info("commandstats")
        time.sleep(10.0)
        after = client.info("commandstats")
    calls = {
        name.removeprefix("cmdstat_"): after[name]["calls"] - before.get(name, {}).get("calls", 0)
        for name in after
    }
    calls = {name: n for name, n in calls.items() if n and name != "info"}
    assert calls.get("brpop", 0) <= 6, calls  # at 1 s, 10
    assert calls.get("evalsha", 0) <= 11, calls  # the ticker
    # kombu's look for unacknowledged messages to give back: 10 s after the start, then every
    # 100 s (a lock around one read)
    restore = {"set", "get", "del", "zrange"}
    assert all(calls.get(name, 0) <= 1 for name in restore), calls
    assert set(calls) <= {"brpop", "evalsha", "zrangebyscore"} | restore, calls


def test_the_status_api_reads_the_statuses_in_one_round_trip(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``GET /api/v1/objects`` reads each kind's objects and then every status at once: its
    round trips do not grow with the objects, and each status is served as it was stored."""
    from fastapi.testclient import TestClient

    from conveyor.services.receiver.app import create_app

    store = fleet(redis_url)
    status = ImageUpdateAutomationStatus(last_push_commit="abc")
    status.mark_ready("Succeeded", "pushed", 1)
    store.put_status("ImageUpdateAutomation/flux-system/app0", status)
    http = TestClient(create_app(Context(store=store, dispatcher=InlineDispatcher())))
    http.get("/api/v1/objects")  # the first: the client's connection and scripts
    trips = RoundTrips(monkeypatch)
    http.get("/api/v1/objects")
    small, trips.count = trips.count, 0
    more = "".join(
        f"""---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {{name: q{i}, namespace: flux-system}}
spec: {{imageRepositoryRef: {{name: a}}, policy: {{numerical: {{}}}}}}
"""
        for i in range(20)
    )
    store.replace_objects(parse_manifests(FLEET + more))
    trips.count = 0
    served = http.get("/api/v1/objects").json()
    assert len(served) == 33  # 1 + 2 + 5 + 5 objects, and 20 more policies
    assert trips.count == small
    by_key = {f"{o['kind']}/{o['namespace']}/{o['name']}": o["status"] for o in served}
    assert by_key["ImageUpdateAutomation/flux-system/app0"] == status.wire()
    assert by_key["ImageUpdateAutomation/flux-system/app0"]["lastPushCommit"] == "abc"
    assert by_key["ImagePolicy/flux-system/q1"] == {"conditions": []}  # none stored yet
