"""The one loop every stage runs: event in, targets, reconcile each, status out, events out.

Each service supplies a ``Stage``: which objects an event concerns (``targets``) and how to
reconcile one of them (``reconcile``). Everything around that — locking, loading, the mapping of
errors to Ready/Stalled, retries with backoff, redaction of secrets — lives here, once.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.bus import Dispatcher, publish
from shared.errors import (
    ConveyorError,
    InvalidSpec,
    ManifestError,
    NotFound,
    PermanentError,
    TransientError,
)
from shared.events import Event, ReconcileRequested, parse_event
from shared.models import FluxObject, SecretSpec, object_key
from shared.status import Status
from shared.store import Store

log = logging.getLogger("conveyor")

MIN_SECRET_LENGTH = 4


@dataclass
class Settings:
    data_dir: Path = field(
        default_factory=lambda: Path(
            os.environ.get("CONVEYOR_DATA", Path.home() / ".cache" / "conveyor" / "data")
        )
    )
    kubeconfig: str | None = field(default_factory=lambda: os.environ.get("KUBECONFIG"))
    # no KUBECONFIG, but running in a pod: apply with the pod's service account
    in_cluster: bool = field(
        default_factory=lambda: (
            not os.environ.get("KUBECONFIG") and bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
        )
    )
    retry_base: float = 1.0
    # Requests per second to each registry host, shared by every worker through Redis.
    # CONVEYOR_REGISTRY_RPS="10" or "10,ghcr.io=20,index.docker.io=2" (default first).
    registry_rps: str = field(default_factory=lambda: os.environ.get("CONVEYOR_REGISTRY_RPS", "10"))

    def rps_for(self, host: str) -> float:
        default = 10.0
        for part in self.registry_rps.split(","):
            name, sep, value = part.strip().rpartition("=")
            try:
                rate = float(value)
            except ValueError:
                continue
            if not sep:
                default = rate
            elif name == host:
                return rate
        return default


@dataclass
class Context:
    store: Store
    dispatcher: Dispatcher
    settings: Settings = field(default_factory=Settings)

    def secret(self, namespace: str, name: str, *, owner: str) -> SecretSpec:
        obj = self.store.get_object(object_key("Secret", namespace, name))
        if obj is None:
            raise NotFound(f"{owner}: secret {namespace}/{name} not found")
        spec: SecretSpec = obj.spec
        return spec

    def redact(self, text: str) -> str:
        """``text`` with every known secret value replaced by ``***``."""
        for obj in self.store.list_objects("Secret"):
            for value in obj.spec.data.values():
                for form in _forms(value):
                    if len(form) >= MIN_SECRET_LENGTH and form in text:
                        text = text.replace(form, "***")
        return text


def _forms(value: bytes) -> list[str]:
    try:
        decoded = value.decode()
    except UnicodeDecodeError:
        return []
    return [decoded.strip(), *(line.strip() for line in decoded.splitlines())]


@dataclass
class Outcome:
    status: Status
    events: list[Event] = field(default_factory=list)
    requeue_after: float | None = None


Reconcile = Callable[[FluxObject, Status, Context, Event], Outcome]
Targets = Callable[[Event, Context], list[str]]


@dataclass(frozen=True)
class Stage:
    service: str
    kind: str
    reconcile: Reconcile
    targets: Targets


def handle(stage: Stage, message: dict[str, Any], ctx: Context) -> None:
    """Run one stage on one event message. Never raises: a worker must not die of bad input."""
    started = time.time()
    try:
        event = parse_event(message)
        ctx.store.record(stage.service, message, started)
        if isinstance(event, ReconcileRequested):
            keys = [object_key(event.kind, event.namespace, event.name)]
        else:
            keys = stage.targets(event, ctx)
    except Exception:
        log.exception("%s: cannot handle message %s", stage.service, message.get("type"))
        return
    for key in keys:
        reconcile_one(stage, key, event, ctx)


def reconcile_one(stage: Stage, key: str, event: Event, ctx: Context) -> None:
    try:
        with ctx.store.lock(key):
            _reconcile_locked(stage, key, event, ctx)
    except TransientError as exc:  # the store itself is unavailable
        log.warning("%s: %s", key, exc)


def _reconcile_locked(stage: Stage, key: str, event: Event, ctx: Context) -> None:
    obj = ctx.store.get_object(key)
    if obj is None:
        return
    previous = ctx.store.get_status(key)
    generation = obj.metadata.generation
    stalled = previous.condition("Stalled")
    if (
        stalled is not None
        and stalled.status == "True"
        and previous.observed_generation == generation
    ):
        log.debug("%s: stalled at generation %d; waiting for a spec change", key, generation)
        return
    if getattr(obj.spec, "suspend", False):
        return
    asked_at = event.emitted_at if isinstance(event, ReconcileRequested) else float("inf")
    if not ctx.store.claim_run(key, asked_at):
        log.debug("%s: a reconcile started after this request; coalesced", key)
        return
    status = previous.model_copy(deep=True)
    events: list[Event] = []
    try:
        outcome = stage.reconcile(obj, status, ctx, event)
        status, events = outcome.status, outcome.events
        ctx.store.clear_attempts(key)
    except (InvalidSpec, ManifestError) as exc:
        status.mark_failed(exc.reason, ctx.redact(str(exc)), generation, stalled=True)
    except PermanentError as exc:
        status.mark_failed(exc.reason, ctx.redact(str(exc)), generation, stalled=False)
    except (TransientError, ConveyorError) as exc:
        status.mark_failed(exc.reason, ctx.redact(str(exc)), generation, stalled=False)
        _schedule_retry(obj, key, event, ctx)
    except Exception as exc:  # a bug: keep the worker alive, report it on the object
        log.exception("%s: unexpected error", key)
        message = ctx.redact(f"internal error: {type(exc).__name__}: {exc}")
        status.mark_failed("InternalError", message, generation, stalled=False)
    ctx.store.put_status(key, status)
    ready = status.ready
    log.info(
        "%s Ready=%s %s: %s",
        key,
        ready.status if ready else "Unknown",
        ready.reason if ready else "",
        ready.message if ready else "",
    )
    for next_event in events:
        publish(ctx.dispatcher, next_event)


def _schedule_retry(obj: FluxObject, key: str, event: Event, ctx: Context) -> None:
    attempt = ctx.store.next_attempt(key)
    interval = getattr(obj.spec, "retry_interval", None) or getattr(obj.spec, "interval", 60.0)
    delay = min(interval or 60.0, ctx.settings.retry_base * 2 ** (attempt - 1))
    delay *= random.uniform(0.8, 1.2)
    retry = event.follow(
        ReconcileRequested, kind=obj.kind, namespace=obj.namespace, name=obj.name, reason="retry"
    )
    publish(ctx.dispatcher, retry, countdown=delay)
