"""Counters and histograms of every conveyor process, summed where the receiver serves them.

The stages run as separate processes, often on other machines, and only the receiver serves
HTTP. So a process records here, in memory (thread-safe, no I/O), and the runtime hands what
was recorded to the store at the end of each handled message (``flush``): one round trip into
one Redis hash that every process adds to. The receiver's ``/metrics``
(``conveyor.services.receiver.metrics``) reads that hash at each scrape.

This module imports nothing of conveyor, so the adapters record here too (the registry client,
its requests by host and status). ``METRICS`` is the catalogue: a name not in it, or labels
other than its own, is a programming error (``ValueError``). Label values come from manifests
and registries: never put a secret or a URL with credentials in one.

A field of the hash is one part of one series, as JSON: ``[name, {label: value}, part]``,
``part`` being "" for a counter and, for a histogram, "sum", "count" or the upper bound of the
one bucket an observation fell in (the receiver cumulates the buckets).
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

log = logging.getLogger("conveyor.metrics")

COUNTER = "counter"
HISTOGRAM = "histogram"

# Flux's reconcile duration buckets (fluxcd/pkg runtime/metrics: client_golang's
# ExponentialBucketsRange(10e-3, 1800, 10)), as Go computes them: Flux's `le` labels exactly.
FLUX_DURATION_BUCKETS = (
    0.01,
    0.038363583488692544,
    0.1471764538093883,
    0.5646216173286169,
    2.166090855590701,
    8.309900738254731,
    31.879757075478317,
    122.30217221643493,
    469.19495946736544,
    1799.9999999999986,
)
HOP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
PUSH_TO_APPLIED_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)

MAX_PENDING = 10_000  # fields kept while the store cannot take them; past that, new ones drop


@dataclass(frozen=True)
class Metric:
    type: str  # COUNTER or HISTOGRAM
    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = ()


OBJECT_LABELS = ("kind", "name", "namespace")  # Flux's: a series of one object

METRICS: dict[str, Metric] = {
    "gotk_reconcile_duration_seconds": Metric(
        HISTOGRAM,
        "The duration in seconds of a GitOps Toolkit resource reconciliation.",
        OBJECT_LABELS,
        FLUX_DURATION_BUCKETS,
    ),
    "conveyor_event_hop_latency_seconds": Metric(
        HISTOGRAM,
        "Seconds from an event's emission to a stage starting on it (retries' backoff left out).",
        ("event", "service"),
        HOP_BUCKETS,
    ),
    "conveyor_push_to_applied_seconds": Metric(
        HISTOGRAM,
        "Seconds from the first event of a trace (a push announced, a tag or commit found) to "
        "the Kustomization applying the revision it led to.",
        OBJECT_LABELS,
        PUSH_TO_APPLIED_BUCKETS,
    ),
    "conveyor_registry_requests_total": Metric(
        COUNTER,
        "HTTP requests to image registries and their token services, by host and status "
        "code ('error': no answer).",
        ("host", "status"),
    ),
    "conveyor_rate_budget_waits_total": Metric(
        COUNTER,
        "Waits for a registry host's shared request budget (CONVEYOR_REGISTRY_RPS).",
        ("host",),
    ),
    "conveyor_rate_budget_wait_seconds_total": Metric(
        COUNTER,
        "Seconds spent waiting for a registry host's shared request budget.",
        ("host",),
    ),
    "conveyor_git_push_retries_total": Metric(
        COUNTER,
        "Pushes of an image update made again because the branch moved since its fetch.",
        (),
    ),
}

_lock = threading.Lock()
_pending: dict[str, float] = {}


def field(name: str, labels: Mapping[str, str], part: str = "") -> str:
    """The hash field of one part of one series."""
    return json.dumps([name, dict(labels), part], sort_keys=True, separators=(",", ":"))


def parse_field(text: str) -> tuple[str, dict[str, str], str] | None:
    """``(name, labels, part)`` of a hash field; None for one this version does not know."""
    try:
        name, labels, part = json.loads(text)
    except (ValueError, TypeError):
        return None
    metric = METRICS.get(name) if isinstance(name, str) else None
    if (
        metric is None
        or not isinstance(labels, dict)
        or set(labels) != set(metric.labels)
        or not all(isinstance(v, str) for v in labels.values())
        or not isinstance(part, str)
    ):
        return None
    return name, labels, part


def bucket_part(bound: float) -> str:
    """The part naming the bucket of upper bound ``bound``."""
    return "+Inf" if math.isinf(bound) else repr(bound)


def _checked(name: str, kind: str, labels: Mapping[str, str]) -> Metric:
    metric = METRICS.get(name)
    if metric is None or metric.type != kind:
        raise ValueError(f"{name} is not a {kind} of conveyor.shared.metrics.METRICS")
    if set(labels) != set(metric.labels):
        raise ValueError(f"{name} takes the labels {metric.labels}, not {tuple(labels)}")
    return metric


def _add(increments: Mapping[str, float]) -> None:
    with _lock:
        for key, amount in increments.items():
            if key in _pending or len(_pending) < MAX_PENDING:
                _pending[key] = _pending.get(key, 0.0) + amount


def count(name: str, amount: float = 1.0, /, **labels: str) -> None:
    """Add ``amount`` to the counter ``name`` of ``labels``."""
    _checked(name, COUNTER, labels)
    _add({field(name, labels): amount})


def observe(name: str, value: float, /, **labels: str) -> None:
    """Record ``value`` in the histogram ``name`` of ``labels``."""
    metric = _checked(name, HISTOGRAM, labels)
    bound = next((b for b in metric.buckets if value <= b), math.inf)
    _add(
        {
            field(name, labels, bucket_part(bound)): 1.0,
            field(name, labels, "count"): 1.0,
            field(name, labels, "sum"): value,
        }
    )


def pending() -> dict[str, float]:
    """What was recorded and not flushed yet (a copy)."""
    with _lock:
        return dict(_pending)


def take() -> dict[str, float]:
    """What was recorded since the last ``take`` or ``flush``, taken away, for a write that
    carries it to the store with its own (``give_back`` it when that write failed)."""
    global _pending
    with _lock:
        taken, _pending = _pending, {}
    return taken


def give_back(taken: Mapping[str, float]) -> None:
    """Keep what ``take`` gave for the next write: the write that carried it failed."""
    if taken:
        _add(dict(taken))


def flush(sink: Callable[[Mapping[str, float]], None]) -> None:
    """Hand what was recorded since the last flush to ``sink`` (the store's ``add_metrics``:
    one round trip), if anything was. A sink that fails breaks nothing: what it was given is
    kept for the next flush."""
    taken = take()
    if not taken:
        return
    try:
        sink(taken)
    except Exception as exc:  # metrics never fail a run
        log.debug("metrics not flushed (%s): kept for the next flush", type(exc).__name__)
        give_back(taken)
