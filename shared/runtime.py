"""The one loop every stage runs: event in, targets, reconcile each, status out, events out.

Each service supplies a ``Stage``: which objects an event concerns (``targets``) and how to
reconcile one of them (``reconcile``). Everything around that — locking, loading, the mapping of
errors to Ready/Stalled, retries with backoff, redaction of secrets — lives here, once.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic

from conveyor.shared import deadline, fields, logs, metrics
from conveyor.shared.bus import Dispatcher, publish
from conveyor.shared.errors import (
    ConveyorError,
    InvalidSpec,
    ManifestError,
    NotFound,
    PermanentError,
    TransientError,
)
from conveyor.shared.events import Event, ReconcileRequested, parse_event
from conveyor.shared.kinds import Kind, ObjT, StatusT
from conveyor.shared.memory import release_soon
from conveyor.shared.models import FluxObject, ReconciledSpec, Secret, SecretSpec, object_key
from conveyor.shared.notices import About, Draft, notices_of
from conveyor.shared.status import Status
from conveyor.shared.store import Store
from conveyor.shared.timeouts import run_timeout

log = logging.getLogger("conveyor")

MIN_SECRET_LENGTH = 4


def default_data_dir() -> Path:
    return Path.home() / ".cache" / "conveyor" / "data"


@dataclass(frozen=True)
class Settings:
    """Everything a process is configured with, passed down from the command line: nothing
    below the entry point reads an environment variable."""

    data_dir: Path = field(default_factory=default_data_dir)
    redis_url: str | None = None  # None: the embedded Redis under ``data_dir``
    kubeconfig: str | None = None
    in_cluster: bool = False  # no kubeconfig, but running in a pod: its service account
    retry_base: float = 1.0
    # Requests per second to each registry host, shared by every worker through Redis:
    # "10" or "10,ghcr.io=20,index.docker.io=2" (default first).
    registry_rps: str = "10"
    # The ServiceAccount a Kustomization with no spec.serviceAccountName is applied as, in its
    # own namespace (Flux's --default-service-account, the multi-tenancy lockdown); None: as
    # conveyor itself.
    default_service_account: str | None = None
    # The key Secrets are sealed with in Redis (conveyor.shared.sealed); None: plain, but on
    # the embedded Redis, where ``conveyor run`` keeps one in the data directory
    secret_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_environment(
        cls,
        environ: Mapping[str, str],
        *,
        data_dir: str | Path | None = None,
        redis_url: str | None = None,
        kubeconfig: str | None = None,
    ) -> Settings:
        """The settings an entry point reads from ``environ`` (``CONVEYOR_DATA``,
        ``REDIS_URL``, ``KUBECONFIG``, ``KUBERNETES_SERVICE_HOST``, ``CONVEYOR_REGISTRY_RPS``,
        ``CONVEYOR_DEFAULT_SERVICE_ACCOUNT``, ``CONVEYOR_SECRET_KEY``);
        the arguments, when given, win (the command line's flags)."""
        kubeconfig = kubeconfig or environ.get("KUBECONFIG") or None
        data = data_dir or environ.get("CONVEYOR_DATA")
        return cls(
            data_dir=Path(data) if data else default_data_dir(),
            redis_url=redis_url or environ.get("REDIS_URL") or None,
            kubeconfig=kubeconfig,
            in_cluster=not kubeconfig and bool(environ.get("KUBERNETES_SERVICE_HOST")),
            registry_rps=environ.get("CONVEYOR_REGISTRY_RPS") or "10",
            default_service_account=environ.get("CONVEYOR_DEFAULT_SERVICE_ACCOUNT") or None,
            secret_key=environ.get("CONVEYOR_SECRET_KEY") or None,
        )

    @property
    def scratch(self) -> Path:
        """Where temporary files go (checkout builds, key files): under the data directory."""
        path = self.data_dir / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

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
        obj = self.store.get_object(object_key("Secret", namespace, name), Secret)
        if obj is None:
            raise NotFound(f"{owner}: secret {namespace}/{name} not found")
        return obj.spec

    def redact(self, text: str) -> str:
        """``text`` with every known secret value replaced by ``***`` (the stored Secrets are
        only those the objects reference: few, opened in memory)."""
        for obj in self.store.list_objects(Secret):
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
    notices: list[Draft] = field(default_factory=list)  # what happened, said as Flux's events


Targets = Callable[[Event, Context], list[str]]


@dataclass(frozen=True)
class Stage(Generic[ObjT, StatusT]):
    """A service's part of the pipeline: its kind (from the registry of kinds), how to
    reconcile one object of it, and which objects an event concerns."""

    kind: Kind[ObjT, StatusT]
    reconcile: Callable[[ObjT, StatusT, Context, Event], Outcome]
    targets: Targets
    # A deleted object of a kind with a finalizer (Kind.finalized), with its last status;
    # raising keeps it for another try.
    finalize: Callable[[ObjT, StatusT, Context], None] | None = None

    @property
    def service(self) -> str:
        assert self.kind.service is not None
        return self.kind.service


def handle(stage: Stage[Any, Any], message: dict[str, Any], ctx: Context) -> None:
    """Run one stage on one event message. Never raises: a worker must not die of bad input.

    A run's round trips to the store: the lock with what it starts from, its start with the
    message's journal entry, its end with the metrics, the lock's release."""
    started = time.time()
    journal: list[dict[str, Any]] = []  # the message's entry, until a run's start writes it
    try:
        event = parse_event(message)
        if not (isinstance(event, ReconcileRequested) and event.reason == "retry"):  # a backoff
            hop = max(0.0, started - event.emitted_at)
            metrics.observe("conveyor_event_hop_latency_seconds", hop, event=event.type,
                            service=stage.service)
        journal.append(ctx.store.run_entry(stage.service, message, started))
        if isinstance(event, ReconcileRequested):
            keys = [object_key(event.kind, event.namespace, event.name)]
        else:
            keys = stage.targets(event, ctx)
    except Exception:
        log.exception("%s: cannot handle message %s", stage.service, message.get("type"))
        keys = []
    for key in keys:
        reconcile_one(stage, key, event, ctx, journal)
    release_soon()  # once the burst this run belongs to is over
    left = metrics.take()  # what was recorded since the runs ended
    try:
        ctx.store.settle(journal[0] if journal else None, left)
    except Exception as exc:  # the journal and the metrics never fail a message
        log.debug("journal and metrics not written (%s)", type(exc).__name__)
        metrics.give_back(left)


def reconcile_one(
    stage: Stage[Any, Any],
    key: str,
    event: Event,
    ctx: Context,
    journal: list[dict[str, Any]] | None = None,
) -> None:
    """A run of ``key``; its start writes the entry in ``journal`` (taking it), if one is."""
    kind, namespace, name = key.split("/", 2)
    about = logs.context(
        **({"service": stage.kind.service} if stage.kind.service else {}),  # in `conveyor run`
        controller=kind.lower(),  # as controller-runtime names Flux's controllers
        controllerGroup=stage.kind.group,
        controllerKind=kind,
        name=name,
        namespace=namespace,
        reconcileID=str(uuid.uuid4()),
        trace_id=event.trace_id,
    )
    try:
        with about, ctx.store.run_lock(key, stage.kind.model, stage.kind.status) as found:
            _reconcile_locked(stage, key, event, ctx, found, journal if journal is not None else [])
    except TransientError as exc:  # the store itself is unavailable
        log.warning("%s: %s", key, exc)


def _reconcile_locked(
    stage: Stage[ObjT, StatusT],
    key: str,
    event: Event,
    ctx: Context,
    found: tuple[ObjT | None, StatusT, float | None],
    journal: list[dict[str, Any]],
) -> None:
    # read as the lock was taken: the object, its status, when its last run started
    obj, previous, last_start = found
    if obj is None:
        if stage.finalize is not None:
            _finalize(stage, key, ctx)
        return
    generation = obj.metadata.generation
    request = obj.metadata.reconcile_request  # `flux reconcile`'s token, answered below
    stalled = previous.condition("Stalled")
    if (
        stalled is not None
        and stalled.status == "True"
        and previous.observed_generation == generation
        and request in (None, previous.last_handled_reconcile_at)  # no new `flux reconcile`
    ):
        log.debug("%s: stalled at generation %d; waiting for a spec change", key, generation)
        return
    if isinstance(obj.spec, ReconciledSpec) and obj.spec.suspend and not event.overrides_suspend:
        return
    # Every event is emitted after what it announces was saved: a run that started later saw it.
    if event.coalesces and last_start is not None and last_start > event.emitted_at:
        log.debug("%s: a reconcile started after this %s; coalesced", key, event.type)
        return
    working = previous.model_copy(deep=True)  # a failing reconcile's changes are kept
    _begin(working, generation)
    ctx.store.start_run(key, working, journal.pop() if journal else None)
    status: Status = working
    events: list[Event] = []
    drafts: list[Draft] = []
    succeeded = False
    begun = time.monotonic()
    try:
        fields.check(obj.unsupported)  # a field conveyor refuses: not reconciled, Stalled
        with deadline.within(run_timeout(obj, ctx.store), key):  # the object's timeout
            outcome = stage.reconcile(obj, working, ctx, event)
        status, events, drafts = outcome.status, outcome.events, outcome.notices
        succeeded = True
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
    metrics.observe("gotk_reconcile_duration_seconds", time.monotonic() - begun,
                    kind=obj.kind, name=obj.name, namespace=obj.namespace)
    _end(status, previous, generation)
    if request is not None:
        status.last_handled_reconcile_at = request
    taken = metrics.take()  # this run's, and what the process recorded before it
    try:
        ctx.store.end_run(key, status, succeeded=succeeded, metrics=taken)
    except TransientError:
        metrics.give_back(taken)
        raise
    for next_event in events:  # first: the next stages wait on them, the readers do not
        # stamped now, after the status it announces was saved: a run that starts later than
        # this stamp has read it, so a request merged into that run loses nothing (stamped
        # when made, inside the run, a run starting between then and the save read the old)
        next_event = next_event.model_copy(update={"emitted_at": time.time()})
        if isinstance(next_event, ReconcileRequested):
            queue_reconcile(ctx.store, ctx.dispatcher, next_event)
        else:
            publish(ctx.dispatcher, next_event)
    for notice in notices_of(about(stage, obj), previous, status, drafts, event.trace_id):
        ctx.store.record_notice(notice.journal_entry())
    ready = status.ready
    log.info(
        "%s Ready=%s %s: %s",
        key,
        ready.status if ready else "Unknown",
        ready.reason if ready else "",
        ready.message if ready else "",
    )


def about(stage: Stage[Any, Any], obj: FluxObject) -> About:
    """The object a run's notices are about."""
    return About(
        kind=obj.kind,
        namespace=obj.namespace,
        name=obj.name,
        api_version=obj.api_version,
        uid=obj.metadata.uid,
        group=stage.kind.group,
        controller=stage.kind.controller,
    )


def queue_reconcile(
    store: Store, dispatcher: Dispatcher, event: ReconcileRequested, *, force: bool = False
) -> bool:
    """Queue ``event`` (a reconcile of one object) on its owner's queue, unless a request for
    that object waits there already: that one will run after this was asked, and cover it.
    ``force`` queues it whatever the queue seems to hold (a starting worker: what a dead one
    took along is not coming back). True when it was queued."""
    key = object_key(event.kind, event.namespace, event.name)
    if force:
        store.unmark_queued(key)
    if not store.mark_queued(key):
        log.debug("%s: already queued; %s request merged", key, event.reason)
        return False
    publish(dispatcher, event)
    return True


PROGRESSING = "Progressing"
PROGRESSING_WITH_RETRY = "ProgressingWithRetry"


def _begin(status: Status, generation: int) -> None:
    """Reconciling=True, written as a run starts: what a reader sees while it runs (and, should
    the worker die, until the lock's lease runs out and another run ends). Ready stays the
    last run's verdict meanwhile."""
    status.set_condition(
        "Reconciling", True, PROGRESSING, "reconciliation in progress", generation
    )


def _end(status: Status, previous: Status, generation: int) -> None:
    """A run that succeeded, or stalled, is not Reconciling; one that failed and will be
    retried stays Reconciling=True with reason ProgressingWithRetry, as Flux's controllers
    leave it. A Ready with the status it had before keeps its lastTransitionTime."""
    status.conditions = [c for c in status.conditions if c.type != "Reconciling"]
    ready, stalled = status.ready, status.condition("Stalled")
    if ready is not None and ready.status == "False" and not (stalled and stalled.status == "True"):
        status.set_condition(
            "Reconciling", True, PROGRESSING_WITH_RETRY, "reconciliation in progress", generation
        )
    ready, before = status.ready, previous.ready
    if ready is not None and before is not None and ready.status == before.status:
        ready.last_transition_time = before.last_transition_time


def _finalize(stage: Stage[ObjT, StatusT], key: str, ctx: Context) -> None:
    """The stage's finalizer on a deleted object (as the store kept it); until it succeeds,
    the object stays kept and falls due again with backoff."""
    found = ctx.store.tombstone(key, stage.kind.model, stage.kind.status)
    if found is None or stage.finalize is None:
        return
    obj, status = found
    try:
        with deadline.within(run_timeout(obj, ctx.store), key):
            stage.finalize(obj, status, ctx)
    except Exception as exc:
        if isinstance(exc, ConveyorError):
            log.warning("%s: finalizing failed: %s", key, ctx.redact(str(exc)))
        else:
            log.exception("%s: unexpected error while finalizing", key)
        attempt = ctx.store.next_attempt(key)
        interval = obj.spec.retry_after() if isinstance(obj.spec, ReconciledSpec) else None
        delay = min(interval or 60.0, ctx.settings.retry_base * 2 ** (attempt - 1))
        ctx.store.retry_tombstone(key, delay * random.uniform(0.8, 1.2))
        return
    ctx.store.forget_tombstone(key)


def _schedule_retry(obj: FluxObject, key: str, event: Event, ctx: Context) -> None:
    attempt = ctx.store.next_attempt(key)
    interval = obj.spec.retry_after() if isinstance(obj.spec, ReconciledSpec) else None
    delay = min(interval or 60.0, ctx.settings.retry_base * 2 ** (attempt - 1))
    delay *= random.uniform(0.8, 1.2)
    retry = event.follow(
        ReconcileRequested, kind=obj.kind, namespace=obj.namespace, name=obj.name, reason="retry"
    )
    publish(ctx.dispatcher, retry, countdown=delay)
