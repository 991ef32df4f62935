"""The object locks of the store and what one run costs in round trips, on a real Redis."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import redis

from conveyor.shared import metrics
from conveyor.shared.bus import InlineDispatcher
from conveyor.shared.errors import TransientError
from conveyor.shared.events import ReconcileRequested
from conveyor.shared.kinds import BY_NAME
from conveyor.shared.manifests import parse_manifests
from conveyor.shared.models import ImagePolicy
from conveyor.shared.runtime import Context, Outcome, Stage, handle
from conveyor.shared.status import ImagePolicyStatus
from conveyor.shared.store import Store

POLICY = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: p, namespace: flux-system}
spec:
  imageRepositoryRef: {name: r}
  policy: {semver: {range: '>=1.0.0'}}
"""
KEY = "ImagePolicy/flux-system/p"


def test_one_holder_at_a_time_and_the_next_waits(redis_url: str) -> None:
    stores = [Store.from_url(redis_url) for _ in range(4)]
    inside, most, entered = [0], [0], []
    guard = threading.Lock()

    def hold(store: Store, n: int) -> None:
        with store.lock("K"):
            with guard:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(0.05)
            entered.append(n)
            with guard:
                inside[0] -= 1

    threads = [threading.Thread(target=hold, args=(s, n)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(entered) == [0, 1, 2, 3]
    assert most[0] == 1


def test_a_held_lock_outlives_its_lease_and_is_free_once_released(redis_url: str) -> None:
    holder, other = Store.from_url(redis_url), Store.from_url(redis_url)
    with holder.lock("K", lease=0.3):
        time.sleep(1.0)  # three leases: renewed all along
        with pytest.raises(TransientError, match="reconciled elsewhere"), other.lock("K", wait=0.2):
            pass
    with other.lock("K", wait=0.2):
        assert redis.Redis.from_url(redis_url).exists("conveyor:lock:K") == 1
    assert redis.Redis.from_url(redis_url).exists("conveyor:lock:K") == 0


def test_the_lock_of_a_dead_holder_is_free_after_its_lease(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.set("conveyor:lock:K", "a-worker-that-died", px=300)
    started = time.monotonic()
    with Store.from_url(redis_url).lock("K", wait=5.0):
        waited = time.monotonic() - started
        assert client.get("conveyor:lock:K") != b"a-worker-that-died"
    assert waited > 0.1


def test_a_release_never_frees_a_lock_someone_else_took_since(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    with Store.from_url(redis_url).lock("K"):
        client.set("conveyor:lock:K", "another")  # the lease ran out, another took it
    assert client.get("conveyor:lock:K") == b"another"


def test_an_idle_process_renews_nothing(redis_url: str) -> None:
    store = Store.from_url(redis_url)
    with store.lock("K", lease=0.3):
        pass
    client = redis.Redis.from_url(redis_url)
    before = int(client.info("stats")["total_commands_processed"])
    time.sleep(0.6)  # two would-be renewals of a lease of 0.3 s
    assert int(client.info("stats")["total_commands_processed"]) - before == 1  # INFO itself


def test_run_lock_reads_what_a_run_starts_from_when_it_takes_the_lock(redis_url: str) -> None:
    store = Store.from_url(redis_url)
    store.replace_objects(parse_manifests(POLICY))
    assert store.mark_queued(KEY)
    other = Store.from_url(redis_url)
    with other.lock(KEY):
        with pytest.raises(TransientError), store.run_lock(
            KEY, ImagePolicy, ImagePolicyStatus, wait=0.2
        ):
            pass
        assert not store.mark_queued(KEY)  # a run that did not start took no request away
    with store.run_lock(KEY, ImagePolicy, ImagePolicyStatus) as (obj, status, started):
        assert obj is not None and obj.name == "p"
        assert status.ready is None and started is None
    assert store.mark_queued(KEY)  # the run took the request: a new one needs a new run


class RoundTrips:
    """Counts the commands (a pipeline: one) this process sends to Redis."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = redis.connection.AbstractConnection.send_packed_command

        def counted(conn: Any, command: Any, check_health: bool = True) -> None:
            self.count += 1
            real(conn, command, check_health)  # type: ignore[no-untyped-call]

        monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)


def test_a_run_costs_four_round_trips_of_its_own(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lock and read, start with the message's journal entry, end with the metrics, release:
    a stage that reads nothing runs in four round trips, its journal entry and its metrics
    included."""
    store = Store.from_url(redis_url)
    store.replace_objects(parse_manifests(POLICY))
    metrics.take()  # what other tests of this process recorded

    def reconcile(obj: Any, status: Any, ctx: Context, event: Any) -> Outcome:
        status.mark_ready("Succeeded", "nothing to do", obj.metadata.generation)
        return Outcome(status)

    stage: Stage[Any, Any] = Stage(BY_NAME["ImagePolicy"], reconcile, lambda e, c: [])
    ctx = Context(store, InlineDispatcher())
    request = ReconcileRequested(
        kind="ImagePolicy", namespace="flux-system", name="p", reason="interval"
    )
    handle(stage, request.to_message(), ctx)  # the first: the scripts are loaded
    trips = RoundTrips(monkeypatch)
    request = ReconcileRequested(
        kind="ImagePolicy", namespace="flux-system", name="p", reason="interval"
    )
    handle(stage, request.to_message(), ctx)
    assert trips.count == 4
    client = redis.Redis.from_url(redis_url)
    journal = [e for e in client.lrange("conveyor:journal", 0, -1) if request.trace_id in str(e)]
    assert len(journal) == 1
    runs = client.hget("conveyor:metrics", metrics.field(
        "gotk_reconcile_duration_seconds",
        {"kind": "ImagePolicy", "name": "p", "namespace": "flux-system"},
        "count",
    ))
    assert runs is not None and float(runs) == 2.0  # both runs' durations reached the store
    assert metrics.pending() == {}


def test_a_message_that_runs_nothing_is_journaled_once(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.from_url(redis_url)
    ctx = Context(store, InlineDispatcher())
    stage: Stage[Any, Any] = Stage(
        BY_NAME["ImagePolicy"], lambda *a: pytest.fail("no object, no run"), lambda e, c: []
    )
    request = ReconcileRequested(
        kind="ImagePolicy", namespace="flux-system", name="gone", reason="interval"
    )
    handle(stage, request.to_message(), ctx)
    client = redis.Redis.from_url(redis_url)
    journal = [e for e in client.lrange("conveyor:journal", 0, -1) if request.trace_id in str(e)]
    assert len(journal) == 1


def test_changes_between_two_revisions_are_walked_in_one_round_trip(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thirty pushes after an automation's last look: what changed since is read back along the
    recorded bases, both sides in one round trip, not one per commit."""
    store = Store.from_url(redis_url)
    source = "GitRepository/flux-system/locks-chain"
    store.put_changes(source, "c0", ["base.yaml"], "root")
    for i in range(1, 31):
        store.put_changes(source, f"c{i}", [f"apps/app{i}/deploy.yaml"], f"c{i - 1}")
    store.put_changes(source, "side", ["apps/side.yaml"], "c10")  # another branch off c10
    store.changes_between(source, "c1", "c2")  # the script is loaded into Redis once
    trips = RoundTrips(monkeypatch)
    assert store.changes_between(source, "c0", "c30") == sorted(
        f"apps/app{i}/deploy.yaml" for i in range(1, 31)
    )
    assert trips.count == 1
    assert store.changes_between(source, "side", "c12") == [
        "apps/app11/deploy.yaml", "apps/app12/deploy.yaml", "apps/side.yaml"
    ]
    assert store.changes_between(source, "c5", "unknown") is None  # no common commit known
    assert store.changes_between(source, "c30", "c0", limit=10) is None  # too far back
    assert store.changes_between(source, "c3", "c3") == []
    assert trips.count == 4  # the last asked nothing
