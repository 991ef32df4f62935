"""Metrics recorded in each process, summed in Redis (a real redis-server), served as
Prometheus' text format by the receiver's collector and read back with prometheus_client's
parser."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from conveyor.services.receiver.metrics import exposition
from conveyor.shared import metrics
from conveyor.shared.events import ReconcileRequested
from conveyor.shared.manifests import parse_manifests
from conveyor.shared.runtime import handle
from conveyor.shared.status import GitRepositoryStatus, ImageRepositoryStatus
from conveyor.shared.store import Store
from tests.test_runtime import request, setup

# Flux's `le` labels of gotk_reconcile_duration_seconds, as kustomize-controller serves them
# (client_golang's ExponentialBucketsRange(10e-3, 1800, 10), formatted by Go)
FLUX_LE = [
    "0.01", "0.038363583488692544", "0.1471764538093883", "0.5646216173286169",
    "2.166090855590701", "8.309900738254731", "31.879757075478317", "122.30217221643493",
    "469.19495946736544", "1799.9999999999986", "+Inf",
]

OBJECTS = """
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: app, namespace: ns}
spec: {image: example.com/app, interval: 1m}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: "repo", namespace: ns}
spec:
  url: https://deploy:hunter22@git.example.com/app.git
  interval: 1m
  ref: {branch: main}
  suspend: true
"""


@pytest.fixture
def store(redis_url: str) -> Store:
    metrics.flush(lambda _: None)  # what other tests in this process left recorded
    return Store.from_url(redis_url)


def families(store: Store) -> dict[str, list[Sample]]:
    body, content_type = exposition(store)
    assert content_type.startswith("text/plain; version=")
    return {f.name: f.samples for f in text_string_to_metric_families(body.decode())}


def value(samples: list[Sample], sample: str, /, **labels: str) -> float:
    found = [s.value for s in samples if s.name == sample and s.labels == labels]
    assert len(found) == 1, (sample, labels, samples)
    return found[0]


def test_one_flush_sends_what_was_recorded_and_an_idle_one_sends_nothing(
    store: Store, redis_url: str
) -> None:
    metrics.count("conveyor_registry_requests_total", host="reg:5000", status="200")
    metrics.count("conveyor_registry_requests_total", host="reg:5000", status="200")
    metrics.count("conveyor_registry_requests_total", host="reg:5000", status="404")
    metrics.observe("conveyor_event_hop_latency_seconds", 0.003, event="E", service="s")
    metrics.observe("conveyor_event_hop_latency_seconds", 7.0, event="E", service="s")
    calls: list[dict[str, float]] = []

    def sink(increments: Mapping[str, float]) -> None:
        calls.append(dict(increments))
        store.add_metrics(increments)

    metrics.flush(sink)
    assert len(calls) == 1 and metrics.pending() == {}
    raw = redis.Redis.from_url(redis_url).hgetall("conveyor:metrics")
    assert len(raw) == 2 + 4  # two counter series; one histogram: two buckets, sum, count
    stored = store.metrics()
    ok = metrics.field("conveyor_registry_requests_total", {"host": "reg:5000", "status": "200"})
    assert stored[ok] == 2.0
    hop = {"event": "E", "service": "s"}
    assert stored[metrics.field("conveyor_event_hop_latency_seconds", hop, "0.005")] == 1.0
    assert stored[metrics.field("conveyor_event_hop_latency_seconds", hop, "10.0")] == 1.0
    assert stored[metrics.field("conveyor_event_hop_latency_seconds", hop, "count")] == 2.0
    assert stored[metrics.field("conveyor_event_hop_latency_seconds", hop, "sum")] == 7.003

    metrics.flush(sink)  # nothing recorded since: no call, no write
    assert len(calls) == 1
    assert redis.Redis.from_url(redis_url).hgetall("conveyor:metrics") == raw


def test_a_store_that_fails_breaks_nothing_and_loses_nothing(store: Store) -> None:
    metrics.count("conveyor_git_push_retries_total")
    down = Store.from_url("redis://127.0.0.1:1/0")  # nothing listens there
    metrics.flush(down.add_metrics)  # no exception
    assert sum(metrics.pending().values()) == 1.0
    metrics.count("conveyor_git_push_retries_total")
    metrics.flush(store.add_metrics)
    assert store.metrics() == {metrics.field("conveyor_git_push_retries_total", {}): 2.0}


def test_threads_and_processes_add_up(store: Store, redis_url: str) -> None:
    def record() -> None:
        for _ in range(500):
            metrics.count("conveyor_rate_budget_waits_total", host="h")

    threads = [threading.Thread(target=record) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    metrics.flush(store.add_metrics)
    script = (
        "from conveyor.shared import metrics\n"
        "from conveyor.shared.store import Store\n"
        "metrics.count('conveyor_rate_budget_waits_total', 250, host='h')\n"
        f"metrics.flush(Store.from_url({redis_url!r}).add_metrics)\n"
    )
    for _ in range(2):  # another worker process, as on another machine
        subprocess.run([sys.executable, "-c", script], check=True, env=dict(os.environ))
    key = metrics.field("conveyor_rate_budget_waits_total", {"host": "h"})
    assert store.metrics()[key] == 8 * 500 + 2 * 250


def test_a_name_or_labels_not_in_the_catalogue_are_refused() -> None:
    with pytest.raises(ValueError, match="not a counter"):
        metrics.count("conveyor_no_such_total")
    with pytest.raises(ValueError, match="not a counter"):
        metrics.count("gotk_reconcile_duration_seconds", kind="k", name="n", namespace="ns")
    with pytest.raises(ValueError, match="takes the labels"):
        metrics.count("conveyor_registry_requests_total", host="h")
    assert metrics.parse_field('["conveyor_no_such_total",{},""]') is None
    assert metrics.parse_field("not json") is None


def test_handling_a_message_records_the_hop_and_the_reconcile_and_flushes_once(
    store: Store, redis_url: str, tmp_path: Path
) -> None:
    ctx, recorder, stage, _ = setup(redis_url, tmp_path)
    handle(stage, request().to_message(), ctx)
    retry = ReconcileRequested(kind="ImageRepository", namespace="ns", name="app", reason="retry")
    handle(stage, retry.to_message(), ctx)  # a retry's backoff is no hop
    assert recorder.calls == ["ReconcileRequested", "ReconcileRequested"]
    assert metrics.pending() == {}  # flushed at the end of each message
    found = families(ctx.store)
    duration = found["gotk_reconcile_duration_seconds"]
    obj = {"kind": "ImageRepository", "name": "app", "namespace": "ns"}
    assert value(duration, "gotk_reconcile_duration_seconds_count", **obj) == 2
    assert [s.labels["le"] for s in duration if s.name.endswith("_bucket")] == FLUX_LE
    hops = found["conveyor_event_hop_latency_seconds"]
    at = {"event": "ReconcileRequested", "service": "registry-scanner"}
    assert value(hops, "conveyor_event_hop_latency_seconds_count", **at) == 1


def test_the_exposition_reads_objects_records_and_queues(store: Store) -> None:
    store.replace_objects(parse_manifests(OBJECTS))  # loaded: series of gone objects forgotten
    ready = ImageRepositoryStatus()
    ready.mark_ready("Succeeded", "ok", 1)
    store.put_status("ImageRepository/ns/app", ready)
    failed = GitRepositoryStatus()
    failed.mark_failed("GitOperationFailed", "no", 1, stalled=False)
    store.put_status("GitRepository/ns/repo", failed)
    for seconds in (0.005, 0.02, 5000.0):
        metrics.observe(
            "gotk_reconcile_duration_seconds", seconds, kind="ImageRepository", name="app",
            namespace="ns",
        )
    metrics.observe("gotk_reconcile_duration_seconds", 1.0, kind="ImagePolicy", name="gone",
                    namespace="ns")
    hostile = 'a"b\\c\nd}'
    metrics.count("conveyor_registry_requests_total", 3, host=hostile, status="200")
    metrics.flush(store.add_metrics)
    store.redis.lpush("registry-scanner", "m1", "m2")  # two messages wait in its Celery queue

    found = families(store)
    app = {"kind": "ImageRepository", "name": "app", "namespace": "ns"}
    duration = found["gotk_reconcile_duration_seconds"]
    buckets = [s for s in duration if s.name.endswith("_bucket") and s.labels["name"] == "app"]
    assert [(s.labels["le"], s.value) for s in buckets] == list(
        zip(FLUX_LE, [1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3], strict=True)
    )
    assert value(duration, "gotk_reconcile_duration_seconds_sum", **app) == 5000.025
    assert {s.labels["name"] for s in duration} == {"app"}  # the gone policy's are not served
    assert not any('"gone"' in k for k in store.metrics())  # and forgotten

    condition = found["gotk_reconcile_condition"]
    for obj, current in (("ImageRepository/app", "True"), ("GitRepository/repo", "False")):
        kind, name = obj.split("/")
        for status in ("True", "False", "Unknown"):
            labels = {"kind": kind, "name": name, "namespace": "ns", "type": "Ready",
                      "status": status}
            assert value(condition, "gotk_reconcile_condition", **labels) == (status == current)
    suspend = found["gotk_suspend_status"]
    assert value(suspend, "gotk_suspend_status", kind="GitRepository", name="repo",
                 namespace="ns") == 1
    assert value(suspend, "gotk_suspend_status", **app) == 0
    info = {s.labels["customresource_kind"]: s.labels for s in found["gotk_resource_info"]}
    assert info["GitRepository"] == {
        "customresource_group": "source.toolkit.fluxcd.io",
        "customresource_kind": "GitRepository",
        "customresource_version": "v1",
        "exported_namespace": "ns",
        "name": "repo",
        "ready": "False",
        "suspended": "true",
        "revision": "",
        "url": "https://git.example.com/app.git",  # no credentials in a label
    }
    assert info["ImageRepository"]["ready"] == "True"
    assert info["ImageRepository"]["image"] == "example.com/app"

    requests = found["conveyor_registry_requests"]
    assert value(requests, "conveyor_registry_requests_total", host=hostile, status="200") == 3
    depth = found["conveyor_queue_depth"]
    assert {s.labels["service"]: s.value for s in depth} == {
        "source-fetcher": 0, "registry-scanner": 2, "policy-evaluator": 0, "git-committer": 0,
        "applier": 0,
    }
