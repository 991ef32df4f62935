"""``GET /metrics``: Prometheus' text format, built at each scrape by one collector.

What it serves, read at scrape time on a private registry (nothing of the process's default
one, nothing kept between scrapes):

- from the objects and their statuses (one batched read per kind), Flux's gauges:
  ``gotk_reconcile_condition{kind,name,namespace,type,status}`` (the Ready condition, one
  series per status with 1 on the current one, as fluxcd/pkg's recorder sets it; Unknown when
  there is none), ``gotk_suspend_status{kind,name,namespace}``, and ``gotk_resource_info``
  with the labels kube-state-metrics gives it under flux2-monitoring-example's configuration
  (what Flux's current dashboards read), but the Receiver's ``webhook_path``: the path is all
  a caller needs to trigger a Receiver, so it stays out of the metrics;
- from what every process recorded (``conveyor.shared.metrics``, summed in Redis): the
  histograms (Flux's ``gotk_reconcile_duration_seconds``, conveyor's hop and push-to-applied
  latencies) and counters. The series of an object that is gone are dropped (as Flux deletes
  them with the object) and forgotten;
- ``conveyor_queue_depth{service}``: the messages waiting in each stage's queue.

Label values are escaped by prometheus_client; URLs lose their credentials (``scrub``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from conveyor.shared import metrics
from conveyor.shared.errors import scrub
from conveyor.shared.kinds import REPORTED, STAGE_SERVICES
from conveyor.shared.models import FluxObject
from conveyor.shared.status import Status
from conveyor.shared.store import Store

Path = tuple[str, ...]
READY: Path = ("status", "conditions", "[type=Ready]", "status")

# kube-state-metrics' labelsFromPath of gotk_resource_info, per kind, as
# fluxcd/flux2-monitoring-example configures it (besides customresource_group, _kind and
# _version, which kube-state-metrics adds, and the object's name).
INFO_PATHS: dict[str, dict[str, Path]] = {
    "GitRepository": {"revision": ("status", "artifact", "revision"), "url": ("spec", "url")},
    "ImageRepository": {"image": ("spec", "image")},
    "ImagePolicy": {"source_name": ("spec", "imageRepositoryRef", "name")},
    "ImageUpdateAutomation": {"source_name": ("spec", "sourceRef", "name")},
    "Kustomization": {
        "revision": ("status", "lastAppliedRevision"),
        "source_name": ("spec", "sourceRef", "name"),
    },
    "Receiver": {},
}
COMMON_PATHS: dict[str, Path] = {
    "exported_namespace": ("metadata", "namespace"),
    "ready": READY,
    "suspended": ("spec", "suspend"),
}


def at(document: Any, path: Path) -> str:
    """The value at ``path`` as kube-state-metrics writes it into a label ("" when absent);
    ``[type=Ready]`` picks the list item whose ``type`` is ``Ready``."""
    for step in path:
        if step.startswith("[") and "=" in step and isinstance(document, list):
            name, _, value = step[1:-1].partition("=")
            document = next(
                (i for i in document if isinstance(i, dict) and i.get(name) == value), None
            )
        elif isinstance(document, dict):
            document = document.get(step)
        else:
            return ""
    if isinstance(document, bool):
        return "true" if document else "false"
    if isinstance(document, str | int | float):
        return scrub(str(document))
    return ""


def info_labels(obj: FluxObject, status: Status) -> dict[str, str]:
    """The labels of ``obj``'s ``gotk_resource_info``."""
    group, _, version = obj.api_version.rpartition("/")
    document = {
        "metadata": {"name": obj.name, "namespace": obj.namespace},
        "spec": obj.spec.wire(),
        "status": status.wire(),
    }
    labels = {
        "customresource_group": group,
        "customresource_kind": obj.kind,
        "customresource_version": version,
        "name": obj.name,
    }
    for label, path in {**COMMON_PATHS, **INFO_PATHS.get(obj.kind, {})}.items():
        labels[label] = at(document, path)
    return labels


class StoreCollector(Collector):
    """Every family of ``/metrics``, read from ``store`` when collected."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        found = [
            (obj, status)
            for kind in REPORTED
            for obj, status in self.store.objects_with_status(
                self.store.keys(kind.name), kind.model, kind.status
            )
            if obj is not None
        ]
        yield from object_families(found)
        present = {(o.kind, o.name, o.namespace) for o, _ in found}
        yield from recorded_families(self.store, present)
        depth = GaugeMetricFamily(
            "conveyor_queue_depth", "Messages waiting in each stage's queue.", labels=["service"]
        )
        for service, length in self.store.queue_lengths(list(STAGE_SERVICES)).items():
            depth.add_metric([service], length)
        yield depth


def object_families(found: list[tuple[FluxObject, Status]]) -> Iterator[Metric]:
    condition = GaugeMetricFamily(
        "gotk_reconcile_condition",
        "The current condition status of a GitOps Toolkit resource reconciliation.",
        labels=["kind", "name", "namespace", "type", "status"],
    )
    suspend = GaugeMetricFamily(
        "gotk_suspend_status",
        "The current suspend status of a GitOps Toolkit resource.",
        labels=["kind", "name", "namespace"],
    )
    info = GaugeMetricFamily("gotk_resource_info", "The current state of a Flux resource.")
    for obj, status in found:
        ready = status.ready
        current = ready.status if ready is not None else "Unknown"
        for value in ("True", "False", "Unknown"):
            condition.add_metric(
                [obj.kind, obj.name, obj.namespace, "Ready", value], 1 if value == current else 0
            )
        suspended = bool(getattr(obj.spec, "suspend", False))
        suspend.add_metric([obj.kind, obj.name, obj.namespace], 1 if suspended else 0)
        info.add_sample("gotk_resource_info", info_labels(obj, status), 1)
    yield from (condition, suspend, info)


def recorded_families(store: Store, present: set[tuple[str, str, str]]) -> Iterator[Metric]:
    """The counters and histograms every process recorded; an object's series only while it
    exists (the others are forgotten, once the store holds the objects)."""
    series: dict[str, dict[tuple[tuple[str, str], ...], dict[str, float]]] = {}
    gone: list[str] = []
    for text, value in store.metrics().items():
        parsed = metrics.parse_field(text)
        if parsed is None:
            continue
        name, labels, part = parsed
        if set(metrics.OBJECT_LABELS) <= set(labels) and (
            (labels["kind"], labels["name"], labels["namespace"]) not in present
        ):
            gone.append(text)
            continue
        ordered = tuple((k, labels[k]) for k in metrics.METRICS[name].labels)
        series.setdefault(name, {}).setdefault(ordered, {})[part] = value
    if gone and store.loaded():
        store.forget_metrics(gone)
    for name, spec in metrics.METRICS.items():
        names = list(spec.labels)
        rows = sorted(series.get(name, {}).items())
        if spec.type == metrics.COUNTER:
            counter = CounterMetricFamily(name, spec.help, labels=names)
            for pairs, parts in rows:
                counter.add_metric([v for _, v in pairs], parts.get("", 0.0))
            yield counter
            continue
        histogram = HistogramMetricFamily(name, spec.help, labels=names)
        for pairs, parts in rows:
            histogram.add_metric(
                [v for _, v in pairs], cumulative(spec.buckets, parts), parts.get("sum", 0.0)
            )
        yield histogram


def cumulative(bounds: tuple[float, ...], parts: dict[str, float]) -> list[tuple[str, float]]:
    """The buckets of a histogram as Prometheus has them (each counts what is at or under its
    bound; ``+Inf`` all) from the count recorded in each bucket alone."""
    out: list[tuple[str, float]] = []
    total = 0.0
    for bound in bounds:
        total += parts.get(metrics.bucket_part(bound), 0.0)
        out.append((metrics.bucket_part(bound), total))
    out.append(("+Inf", parts.get("count", total)))
    return out


def exposition(store: Store) -> tuple[bytes, str]:
    """The body of ``GET /metrics`` and its content type."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    return generate_latest(registry), CONTENT_TYPE_LATEST
