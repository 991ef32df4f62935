"""Alerts: notification-controller's event server, as a reader of conveyor's notices.

The stages record Flux's events in the store's notices stream (``conveyor.shared.notices``);
the process that serves the Receivers reads it with a Redis consumer group (``GROUP``): each
notice goes to one reader of the group, so several receiver replicas share the work, and stays
pending until every delivery it led to has ended, so a reader that dies loses nothing (it
reads its pending notices again when it starts; another reader claims them after
``CLAIM_IDLE`` seconds). Idle, the reader waits in one blocking read.

For each notice, as Flux's event server does for each event it is posted (``alerts``):

1. the duplicate of an event seen within ``RATE_INTERVAL`` (Flux's ``--rate-limit-interval``,
   5 minutes; one window per event key, shared by the replicas through Redis) is dropped;
2. the Alerts that match it (every namespace's: a source may name another namespace) each
   send it to their Provider, unless the Provider is suspended or its type is not sent such
   an event; the event's metadata combined with the Alert's;
3. each delivery runs on a thread pool (``WORKERS``), bounded by its Provider's timeout with
   its retries and backoff (``conveyor.shared.adapters.webhook``): a slow or dead endpoint
   holds one thread for that long and nothing else; no stage ever waits for it.

A delivery that fails is logged and recorded as a Warning event about the Alert
(``NotificationDispatchFailed``, Flux's reason and wording), with every secret masked.

``refresh_notifications`` keeps each Provider's and Alert's status (what conveyor can use and
why not): Flux's v1beta2 conditions (``Initialized``; ``ValidationFailed``; an Alert whose
Provider is missing or not ready), and the fields conveyor refuses (``UnsupportedField``).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from conveyor.services.receiver import alerts, providers
from conveyor.shared import fields
from conveyor.shared.adapters.webhook import WebClient
from conveyor.shared.errors import ConveyorError, TransientError, UnsupportedField, scrub
from conveyor.shared.models import Alert, Provider, SecretSpec, object_key
from conveyor.shared.notices import ERROR, Notice
from conveyor.shared.runtime import Context
from conveyor.shared.status import AlertStatus, ProviderStatus

log = logging.getLogger("conveyor.notifier")

GROUP = "notifier"  # the consumer group of the notices stream
BLOCK = 5.0  # seconds a read waits for a notice
CLAIM_IDLE = 900.0  # a notice pending this long with another reader is taken over
RATE_INTERVAL = 300.0  # notification-controller's --rate-limit-interval default
WORKERS = 16
BATCH = 100
CONTROLLER = "notification-controller"
NOT_ROUTED = ("Alert", "Provider")  # notification-controller's own events reach no Alert


@dataclass(frozen=True)
class Delivery:
    alert: Alert
    target: providers.Target
    event: alerts.Event
    about: str  # Kind/namespace/name of the event's object


class Notifier:
    """Reads the notices stream and delivers them to the Alerts' Providers (module
    docstring). ``start`` runs it in a thread; ``poll`` reads and dispatches one batch."""

    def __init__(
        self,
        ctx: Context,
        *,
        consumer: str | None = None,
        workers: int = WORKERS,
        rate_interval: float = RATE_INTERVAL,
        claim_idle: float = CLAIM_IDLE,
    ) -> None:
        self.ctx = ctx
        self.instance = socket.gethostname()
        self.consumer = consumer or self.instance
        self.rate_interval = rate_interval
        self.claim_idle = claim_idle
        self.pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="conveyor-notify")
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}  # stream id -> deliveries not ended
        self._stop = threading.Event()
        self._changed: int | None = None  # the store's change count the cache was read at
        self._alerts: list[tuple[Alert, alerts.Lists]] = []
        self._providers: dict[str, Provider] = {}

    # --- the loop ----------------------------------------------------------------------------

    def join(self) -> None:
        """Make the consumer group: the notices recorded from now on are delivered."""
        self.ctx.store.join_notices(GROUP)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._loop, name="conveyor-notifier", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        started = False
        claimed = time.monotonic()
        while not self._stop.is_set():
            try:
                if not started:
                    self.join()
                    self.poll(pending=True)  # what this reader took before a restart
                    started = True
                self.poll(block=BLOCK)
                if time.monotonic() - claimed >= self.claim_idle / 3:
                    claimed = time.monotonic()
                    self.claim()
            except TransientError as exc:
                if self._stop.is_set():  # the store went first, on the way out
                    break
                log.warning("notifications: %s", exc)
                started = False  # what was read and not finished is read again
                self._stop.wait(1.0)
            except Exception:
                log.exception("notifications")
                started = False
                self._stop.wait(1.0)

    def poll(self, *, block: float = 0.0, pending: bool = False) -> int:
        """Read the notices not yet read (waiting up to ``block`` seconds for one), or with
        ``pending`` those this reader read and did not finish, and dispatch them; how many."""
        found = self.ctx.store.read_notices(
            GROUP, self.consumer, pending=pending, count=BATCH, block=block
        )
        if found and not self._objects():  # no Alert anywhere: all acknowledged at once
            self.ctx.store.ack_notices(GROUP, [stream_id for stream_id, _ in found])
            return len(found)
        for stream_id, entry in found:
            if pending and self._busy(stream_id):
                continue  # still being delivered in this process
            self.handle(stream_id, entry)
        return len(found)

    def claim(self) -> int:
        """Take over and dispatch the notices another reader left pending for
        ``claim_idle`` seconds (it died); how many."""
        found = self.ctx.store.claim_notices(GROUP, self.consumer, self.claim_idle, BATCH)
        for stream_id, entry in found:
            if not self._busy(stream_id):
                self.handle(stream_id, entry)
        return len(found)

    def drain(self, timeout: float) -> bool:
        """Dispatch every notice recorded so far and wait up to ``timeout`` seconds for the
        deliveries to end (``conveyor run --once``); whether they did."""
        while self.poll() > 0:
            pass
        deadline = time.monotonic() + timeout
        while not self.idle():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def idle(self) -> bool:
        with self._lock:
            return not self._open

    def _busy(self, stream_id: str) -> bool:
        with self._lock:
            return stream_id in self._open

    # --- one notice --------------------------------------------------------------------------

    def handle(self, stream_id: str, entry: dict[str, Any] | None) -> None:
        """Dispatch one notice (module docstring); acknowledged once its deliveries ended."""
        try:
            notice = Notice.from_entry(entry) if entry is not None else None
        except (KeyError, TypeError, ValueError):
            notice = None
        if notice is None or notice.kind in NOT_ROUTED:
            self._ack(stream_id)
            return
        configured = self._objects()
        if not configured:
            self._ack(stream_id)
            return
        event = alerts.flux_event(notice, self.instance)
        if not self.ctx.store.take_window(alerts.rate_key(event), self.rate_interval, stream_id):
            log.debug("discarding event, rate limiting duplicate events: %s/%s/%s",
                      notice.kind, notice.namespace, notice.name)
            self._ack(stream_id)
            return
        about = f"{notice.kind}/{notice.namespace}/{notice.name}"
        jobs: list[Delivery] = []
        for alert, lists in configured:
            if alert.unsupported or not alerts.matches(alert, lists, event, self._labels):
                continue
            try:
                job = self._prepare(alert, event, about)
            except ConveyorError as exc:
                self._failed(alert, f"failed to dispatch notification for {about}", exc, ())
                continue
            if job is not None:
                jobs.append(job)
        if not jobs:
            self._ack(stream_id)
            return
        with self._lock:
            self._open[stream_id] = len(jobs)
        for job in jobs:
            self.pool.submit(self._deliver, stream_id, job)

    def _prepare(self, alert: Alert, event: alerts.Event, about: str) -> Delivery | None:
        """The delivery of ``event`` by ``alert`` (``getNotificationParams``); None when its
        Provider is suspended or not sent such an event."""
        name = alert.spec.provider_ref.name
        provider = self._providers.get(object_key("Provider", alert.namespace, name))
        if provider is None:
            raise ConveyorError(
                f"failed to read provider: Provider '{alert.namespace}/{name}' not found"
            )
        if provider.spec.suspend:
            return None
        if provider.unsupported:
            raise UnsupportedField(fields.message(provider.unsupported))
        if alerts.skipped(provider.spec.type, event):
            return None
        sent = alerts.for_alert(event, alert)
        conflicts = alerts.metadata_conflicts(event, alert)
        if conflicts:  # Flux's warning about the Alert, the sources of each key annotated
            self._warn(alert, "MetadataAppendFailed", alerts.CONFLICTS, conflicts)
        status_id = ""
        if provider.spec.type in alerts.COMMIT_STATUS_TYPES:
            status_id = alerts.commit_status_id(providers.default_uid(provider), sent)
        target = providers.resolve(
            provider, self._secret_of(provider), commit_status=status_id,
            scratch=self.ctx.settings.scratch,
        )
        return Delivery(alert, target, sent, about)

    def _deliver(self, stream_id: str, job: Delivery) -> None:
        try:
            providers.send(job.target, job.event)
            log.info("%s: sent the event of %s to Provider %s", job.alert.key, job.about,
                     job.target.name)
        except ConveyorError as exc:
            self._failed(job.alert, f"failed to send notification for {job.about}", exc,
                         job.target.secrets)
        except Exception:
            log.exception("%s: delivering the event of %s", job.alert.key, job.about)
        finally:
            self._ended(stream_id)

    def _ended(self, stream_id: str) -> None:
        with self._lock:
            left = self._open.get(stream_id, 1) - 1
            if left > 0:
                self._open[stream_id] = left
                return
        try:
            self._ack(stream_id)
        finally:
            with self._lock:
                self._open.pop(stream_id, None)

    def _ack(self, stream_id: str) -> None:
        try:
            self.ctx.store.ack_notices(GROUP, [stream_id])
        except TransientError as exc:  # read again after a restart: at least once
            log.warning("notifications: acknowledging %s: %s", stream_id, exc)

    def _failed(
        self, alert: Alert, what: str, exc: ConveyorError, secrets: tuple[str, ...]
    ) -> None:
        """Flux's NotificationDispatchFailed, as a Warning event about the Alert."""
        message = mask(f"{what}: {exc}", secrets, self.ctx)
        log.warning("%s: %s", alert.key, message)
        self._warn(alert, "NotificationDispatchFailed", message, {})

    def _warn(self, alert: Alert, reason: str, message: str, annotations: dict[str, str]) -> None:
        notice = Notice(
            kind=alert.kind,
            namespace=alert.namespace,
            name=alert.name,
            api_version=alert.api_version,
            uid=alert.metadata.uid,
            severity=ERROR,
            reason=reason,
            message=message,
            metadata=annotations,
            controller=CONTROLLER,
        )
        try:
            self.ctx.store.record_notice(notice.journal_entry())
        except TransientError as err:
            log.warning("notifications: recording a failure: %s", err)

    # --- what the store holds ----------------------------------------------------------------

    def _objects(self) -> list[tuple[Alert, alerts.Lists]]:
        """The Alerts (with their compiled lists) and the Providers, read again only when a
        stored object changed."""
        changed = self.ctx.store.objects_changed()
        if changed != self._changed:
            found = self.ctx.store.list_objects(Alert)
            self._alerts = [(a, alerts.Lists(a)) for a in found]
            self._providers = {p.key: p for p in self.ctx.store.list_objects(Provider)}
            self._changed = changed
        return self._alerts

    def _labels(self, kind: str, namespace: str, name: str) -> dict[str, str] | None:
        obj = self.ctx.store.get_object(object_key(kind, namespace, name))
        return None if obj is None else dict(obj.metadata.labels)

    def _secret_of(self, provider: Provider) -> providers.SecretOf:
        owner = f"Provider {provider.namespace}/{provider.name}"

        def secret(name: str) -> SecretSpec:
            return self.ctx.secret(provider.namespace, name, owner=owner)

        return secret


def mask(text: str, secrets: tuple[str, ...], ctx: Context) -> str:
    """``text`` without the given secrets, the stored Secrets' values, nor URL credentials."""
    for value in sorted(secrets, key=len, reverse=True):
        text = text.replace(value, "***")
    return scrub(ctx.redact(text))


# --- statuses ------------------------------------------------------------------------------------


def refresh_notifications(ctx: Context) -> None:
    """Each Provider's and Alert's status (module docstring), with the
    ``reconcile.fluxcd.io/requestedAt`` it answers; written when it changed."""
    ready: dict[str, bool] = {}
    for provider in ctx.store.list_objects(Provider):
        status = ctx.store.get_status(provider.key, ProviderStatus)
        before = status.wire()
        _provider_status(provider, status, ctx)
        ready[provider.key] = status.ready is not None and status.ready.status == "True"
        _save(ctx, provider, status, before)
    for alert in ctx.store.list_objects(Alert):
        of_alert = ctx.store.get_status(alert.key, AlertStatus)
        before = of_alert.wire()
        _alert_status(alert, of_alert, ready)
        _save(ctx, alert, of_alert, before)


def _save(ctx: Context, obj: Provider | Alert, status: ProviderStatus | AlertStatus,
          before: dict[str, Any]) -> None:
    request = obj.metadata.reconcile_request
    if request is not None:
        status.last_handled_reconcile_at = request
    if status.wire() != before:
        ctx.store.put_status(obj.key, status)


def _provider_status(provider: Provider, status: ProviderStatus, ctx: Context) -> None:
    generation = provider.metadata.generation
    if provider.unsupported:
        status.mark_failed(
            "UnsupportedField", fields.message(provider.unsupported), generation, stalled=True
        )
        return
    owner = f"Provider {provider.namespace}/{provider.name}"
    try:
        target = providers.resolve(
            provider,
            lambda name: ctx.secret(provider.namespace, name, owner=owner),
            commit_status="status",
            scratch=ctx.settings.scratch,
        )
        WebClient(target.transport).close()  # its certificates and proxy load
    except ConveyorError as exc:
        message = mask(str(exc), (), ctx)
        status.mark_failed("ValidationFailed", message, generation, stalled=False)
        return
    status.mark_ready("Succeeded", "Initialized", generation)


def _alert_status(alert: Alert, status: AlertStatus, ready: dict[str, bool]) -> None:
    generation = alert.metadata.generation
    if alert.unsupported:
        status.mark_failed(
            "UnsupportedField", fields.message(alert.unsupported), generation, stalled=True
        )
        return
    name = alert.spec.provider_ref.name
    key = object_key("Provider", alert.namespace, name)
    if key not in ready:
        status.mark_failed(
            "Failed",
            f"failed to get provider '{alert.namespace}/{name}': Provider '{name}' not found",
            generation,
            stalled=False,
        )
        return
    if not ready[key]:
        status.mark_failed(
            "Failed", f"provider {alert.namespace}/{name} is not ready", generation,
            stalled=False,
        )
        return
    problems = list(alerts.Lists(alert).errors)
    for source in alert.spec.event_sources:
        if source.match_labels:
            error = alerts.label_selector_error(source.match_labels)
            if error is not None:
                where = f"{source.kind}/{source.namespace or alert.namespace}/{source.name}"
                problems.append(f"error using matchLabels from event source {where}: {error}")
    if problems:
        status.mark_failed("InvalidConfig", "; ".join(problems), generation, stalled=False)
        return
    status.mark_ready("Succeeded", "Initialized", generation)
