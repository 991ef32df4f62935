"""``/metrics`` of a running ``conveyor run`` (one worker process per stage, the embedded Redis,
a real kube-apiserver) on the seed scenario: a tag pushed and applied, then scraped over HTTP
and parsed by prometheus_client's parser."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from conveyor.services.demo.scenario import ci_tags
from conveyor.shared.kinds import STAGE_SERVICES
from tests.cli.helpers import ok, wait_for
from tests.cli.test_embedded import Running, running  # noqa: F401 - the fixture, reused
from tests.conftest import git_out, push
from tests.fixtures.registries import Registry
from tests.test_metrics import FLUX_LE

SEED = {
    "GitRepository": "gitops-demo-app",
    "ImageRepository": "gitops-demo-app",
    "ImagePolicy": "image-repo-policy",
    "ImageUpdateAutomation": "gitops-demo-app",
    "Kustomization": "gitops-demo-app",
}


def scrape(port: int) -> dict[str, list[Sample]]:
    answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return {f.name: f.samples for f in text_string_to_metric_families(answer.text)}


def total(samples: list[Sample], sample: str, **labels: str) -> float:
    """The sum of the samples named ``sample`` whose labels include ``labels``."""
    return sum(
        s.value for s in samples
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_metrics_of_a_push_through_the_pipeline(
    running: Running,  # noqa: F811 - the fixture imported above
    registry: Registry,
) -> None:
    env, demo = running.env, running.demo
    before = scrape(running.port)

    tag = ci_tags(len(running.tags) + 1)[-1]
    push(registry, demo, [tag])
    ok(env, "reconcile", "imagerepository", "gitops-demo-app")

    def applied() -> bool:
        head = git_out(demo.remote, "rev-parse", "master").strip()
        objects = httpx.get(f"http://127.0.0.1:{running.port}/api/v1/objects", timeout=10).json()
        ks = next(o for o in objects if o["kind"] == "Kustomization"
                  and o["name"] == "gitops-demo-app")
        return tag in git_out(demo.remote, "show", "-U0", "--format=", head) and (
            ks["status"].get("lastAppliedRevision", "").endswith(head))

    wait_for(f"{tag} applied", applied, timeout=180)
    after = scrape(running.port)
    objects: list[dict[str, Any]] = httpx.get(
        f"http://127.0.0.1:{running.port}/api/v1/objects", timeout=10
    ).json()

    # Flux's reconcile duration, per seed object, in Flux's buckets
    duration = after["gotk_reconcile_duration_seconds"]
    for kind, name in SEED.items():
        labels = {"kind": kind, "name": name, "namespace": "flux-system"}
        assert total(duration, "gotk_reconcile_duration_seconds_count", **labels) >= 1, kind
        les = [s.labels["le"] for s in duration if s.name.endswith("_bucket")
               and (s.labels["kind"], s.labels["name"]) == (kind, name)]
        assert les == FLUX_LE, kind

    # the Ready condition (Flux's older dashboards) and resource_info (its current ones), as
    # each object's status says
    info = {(s.labels["customresource_kind"], s.labels["name"]): s.labels
            for s in after["gotk_resource_info"]}
    for obj in objects:
        kind, name = obj["kind"], obj["name"]
        ready = next((c["status"] for c in obj["status"].get("conditions", [])
                      if c["type"] == "Ready"), "Unknown")
        for status in ("True", "False", "Unknown"):
            assert total(after["gotk_reconcile_condition"], "gotk_reconcile_condition",
                         kind=kind, name=name, namespace="flux-system", type="Ready",
                         status=status) == (status == ready), (kind, name, status)
        assert info[kind, name]["ready"] == ("" if ready == "Unknown" else ready)
        assert info[kind, name]["exported_namespace"] == "flux-system"
        assert info[kind, name]["suspended"] == "false"
    assert ("Kustomization", "broken") in info and info["Kustomization", "broken"]["ready"] == (
        "False")
    applied_ks = next(o for o in objects if o["name"] == "gitops-demo-app"
                      and o["kind"] == "Kustomization")
    assert info["Kustomization", "gitops-demo-app"]["revision"] == (
        applied_ks["status"]["lastAppliedRevision"])
    assert total(after["gotk_suspend_status"], "gotk_suspend_status", kind="ImagePolicy",
                 name="image-repo-policy") == 0

    # each hop of the push's way had its latency recorded
    hops = after["conveyor_event_hop_latency_seconds"]
    for event, service in (("TagsScanned", "policy-evaluator"),
                           ("PolicyChanged", "git-committer"),
                           ("CommitPushed", "source-fetcher"),
                           ("SourceUpdated", "applier")):
        count = "conveyor_event_hop_latency_seconds_count"
        assert total(hops, count, event=event, service=service) > total(
            before["conveyor_event_hop_latency_seconds"], count, event=event, service=service
        ), (event, service)

    # from the request to the Kustomization applying the commit it led to
    applied_count = "conveyor_push_to_applied_seconds_count"
    ks = {"kind": "Kustomization", "name": "gitops-demo-app", "namespace": "flux-system"}
    assert total(after["conveyor_push_to_applied_seconds"], applied_count, **ks) > total(
        before["conveyor_push_to_applied_seconds"], applied_count, **ks) > 0

    depth = {s.labels["service"]: s.value for s in after["conveyor_queue_depth"]}
    assert set(depth) == set(STAGE_SERVICES) and all(v >= 0 for v in depth.values())

    requests = "conveyor_registry_requests_total"
    assert total(after["conveyor_registry_requests"], requests, host=registry.host,
                 status="200") > total(before["conveyor_registry_requests"], requests,
                                       host=registry.host, status="200") > 0
