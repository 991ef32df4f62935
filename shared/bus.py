"""The Celery app (one queue per service) and the two ways an event reaches a stage.

``CeleryDispatcher`` sends through Redis to each service's queue; ``InlineDispatcher`` keeps a
local FIFO that ``conveyor run --once`` drains in-process until nothing is left to do.
"""

from __future__ import annotations

import collections
import functools
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Protocol

from celery import Celery, bootsteps, signals
from celery.utils.nodenames import default_nodename, host_format
from kombu.common import ignore_errors
from kombu.messaging import Consumer

from conveyor.shared.events import Event, route
from conveyor.shared.kinds import STAGE_SERVICES

log = logging.getLogger("conveyor.bus")

_NO_TASKS = "conveyor-no-tasks"  # selected and deselected: Celery's task consumer takes no queue


def task_name(service: str) -> str:
    return f"conveyor.{service.replace('-', '_')}.handle"


# Where each service sits in the pipeline, upstream first (the order of the registry of kinds).
_LEVEL = {service: i for i, service in enumerate(STAGE_SERVICES)}

app = Celery("conveyor", set_as_current=False)
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    task_ignore_result=True,
    task_acks_late=True,  # a message is acked after the task ran ...
    task_reject_on_worker_lost=True,  # ... and redelivered when the worker died under it
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    # an unacked message (its worker died) is delivered again after this many seconds; a
    # Redis that stops answering fails a call after 30 s (a connection, after 10 s)
    broker_transport_options={
        "visibility_timeout": 600,
        "socket_timeout": 30,
        "socket_connect_timeout": 10,
        # an idle consumer's BRPOP returns empty after this many seconds and is sent again
        # (kombu's default, 1 s, was most of an idle worker's CPU); a message ends it at once,
        # and a stopping worker waits for it (so not longer)
        "polling_interval": 2,
    },
    task_routes={task_name(s): {"queue": s} for s in STAGE_SERVICES},
    worker_hijack_root_logger=False,
    worker_send_task_events=False,
    enable_utc=True,
)


def configure(redis_url: str) -> Celery:
    """Point the app at the Redis of ``redis_url``."""
    app.conf.broker_url = broker_url(redis_url)
    return app


def broker_url(redis_url: str) -> str:
    """Celery's spelling of a Redis URL (unix sockets are ``redis+socket://``)."""
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url[len("unix://") :]
    return redis_url


class Dispatcher(Protocol):
    def send(self, service: str, message: dict[str, Any], countdown: float = 0.0) -> None: ...


class CeleryDispatcher:
    def __init__(self, celery: Celery = app) -> None:
        self.celery = celery

    def send(self, service: str, message: dict[str, Any], countdown: float = 0.0) -> None:
        self.celery.send_task(
            task_name(service),
            kwargs={"message": message},
            queue=service,
            countdown=countdown or None,
        )


class InlineDispatcher:
    """A FIFO in this process. Delayed messages (retries) are dropped: `--once` tries once."""

    def __init__(self) -> None:
        self.queue: collections.deque[tuple[str, dict[str, Any]]] = collections.deque()
        self.dropped = 0

    def send(self, service: str, message: dict[str, Any], countdown: float = 0.0) -> None:
        if countdown > 0:
            self.dropped += 1
            return
        self.queue.append((service, message))

    def drain(
        self,
        handle: Callable[[str, dict[str, Any]], None],
        limit: int = 100_000,
        workers: int = 1,
    ) -> int:
        """Handle every queued message, and what handling them queues, until none is left.

        With one worker, in order. With more, in rounds: each round takes the messages of the
        stage furthest upstream that has any (pipeline order: sources and scans before
        policies, policies before automations, automations before the applier) and handles
        them on ``workers`` threads at once; what they queue waits for a later round. So
        independent objects run side by side while each still sees its upstream settled."""
        handled = 0
        if workers <= 1:
            while self.queue and handled < limit:
                service, message = self.queue.popleft()
                handle(service, message)
                handled += 1
            return handled
        with ThreadPoolExecutor(workers, thread_name_prefix="once") as pool:
            while self.queue and handled < limit:
                level = min(_LEVEL.get(s, len(_LEVEL)) for s, _ in self.queue)
                batch: list[tuple[str, dict[str, Any]]] = []
                rest: list[tuple[str, dict[str, Any]]] = []
                for item in self.queue:
                    (batch if _LEVEL.get(item[0], len(_LEVEL)) == level else rest).append(item)
                self.queue = collections.deque(rest + batch[limit - handled :])
                batch = batch[: limit - handled]
                list(pool.map(lambda item: handle(*item), batch))
                handled += len(batch)
        return handled


def publish(dispatcher: Dispatcher, event: Event, countdown: float = 0.0) -> None:
    """Send an event to every stage it wakes (see ``shared.events.WAKES``)."""
    for service in route(event):
        log.debug("publish %s -> %s trace=%s", event.type, service, event.trace_id)
        dispatcher.send(service, event.to_message(), countdown)


class _Hosted:
    """A stage this process runs: its handler, and the threads its queue's messages run on."""

    def __init__(self, service: str, handle: Callable[[dict[str, Any]], None], threads: int):
        self.service, self.handle, self.threads = service, handle, max(1, threads)
        self.pool = ThreadPoolExecutor(self.threads, thread_name_prefix=f"conveyor-{service}")


_HOSTED: dict[str, _Hosted] = {}


def host(service: str, handle: Callable[[dict[str, Any]], None], threads: int) -> None:
    """Have this process's worker consume ``service``'s queue, running ``handle`` (the runtime's
    loop over the stage) on ``threads`` threads of that stage's own."""
    _HOSTED[service] = _Hosted(service, handle, threads)


class StageConsumers(bootsteps.StartStopStep):  # type: ignore[misc]
    """The worker's consumer of every hosted stage's queue: each on a channel of its own whose
    prefetch is that stage's threads, and run on those threads. A stage with a backlog holds
    only its own messages, so it never delays another stage of the process (Celery's task
    consumer shares one prefetch among all its queues, which is why it consumes none here).

    A message is acknowledged after its run (acks late: a process that dies under it leaves it
    to be delivered again), in the consumer's thread, which the ack wakes (as Celery acks its
    tasks): a channel whose prefetch was full takes its next message at once, not when some
    other socket wakes the loop. One that waits for its ETA (a retry's countdown) holds no thread,
    and widens its channel's prefetch until it is due. When the consumer stops, what waits (for
    its ETA or a thread) is not started, and goes back to its queue as its channel closes; a
    stopping worker lets the runs under way end first, and acknowledges them."""

    requires = ("celery.worker.consumer:Connection",)

    def __init__(self, c: Any, **kwargs: Any) -> None:
        super().__init__(c, **kwargs)
        self._generation = 0
        self._consumers: list[Any] = []
        self._waiting: set[Any] = set()  # timer entries of messages waiting for their ETA
        self._running = 0
        self._idle = threading.Condition()
        self._acks: collections.deque[tuple[str, Any]] = collections.deque()  # runs that ended

    def start(self, c: Any) -> None:
        self._generation += 1
        self._call_soon = c.call_soon_ack
        for hosted in _HOSTED.values():
            channel = c.connection.channel()
            channel.basic_qos(0, hosted.threads, False)
            consumer = Consumer(
                channel,
                queues=[c.app.amqp.queues[hosted.service]],
                callbacks=[functools.partial(self._received, c, hosted, self._generation)],
                accept=["json"],
                on_decode_error=self._undecodable,
            )
            consumer.consume()
            self._consumers.append(consumer)

    def stop(self, c: Any) -> None:
        """Stop consuming: on a connection's loss (the consumer starts again on a new one) or
        for good (then after the runs under way)."""
        self._generation += 1  # a run not started yet will not be
        for entry in self._waiting:
            entry.cancel()
        self._waiting.clear()
        for consumer in self._consumers:
            ignore_errors(c.connection, consumer.cancel)
        if c.blueprint.state in (bootsteps.CLOSE, bootsteps.TERMINATE):  # the worker stops
            with self._idle:
                self._idle.wait_for(lambda: self._running == 0)
        self._acknowledge()  # before the channels close, which would give them back
        for consumer in self._consumers:
            ignore_errors(c.connection, consumer.channel.close)
        self._consumers = []

    shutdown = stop

    def _undecodable(self, message: Any, exc: Exception) -> None:
        log.error("a message that is not JSON on %s: dropped (%s)",
                  message.delivery_info.get("routing_key"), exc)
        message.ack()

    def _received(
        self, c: Any, hosted: _Hosted, generation: int, body: Any, message: Any
    ) -> None:
        try:
            payload = body[1]["message"]
            if not isinstance(payload, dict):
                raise TypeError(type(payload).__name__)
            eta = (message.headers or {}).get("eta")
            due = datetime.fromisoformat(eta).timestamp() if isinstance(eta, str) else 0.0
        except (TypeError, KeyError, IndexError, ValueError, OverflowError) as exc:
            log.error("a message for %s that is no event: dropped (%r)", hosted.service, exc)
            message.ack()
            return
        if due > time.time():
            channel = message.channel
            channel.basic_qos(0, channel.qos.prefetch_count + 1, False)

            def ready() -> None:
                self._waiting.discard(entry)
                channel.basic_qos(0, max(hosted.threads, channel.qos.prefetch_count - 1), False)
                self._start(hosted, generation, payload, message)

            entry = c.timer.call_after(due - time.time(), ready)  # the timer's clock: monotonic
            self._waiting.add(entry)
            return
        self._start(hosted, generation, payload, message)

    def _start(self, hosted: _Hosted, generation: int, payload: dict[str, Any], message: Any
               ) -> None:
        def run() -> None:
            with self._idle:
                if generation != self._generation:
                    return  # its channel closed: the message went back to its queue
                self._running += 1
            try:
                hosted.handle(payload)
            except Exception:
                log.exception("%s: a run failed", hosted.service)
            finally:
                self._acks.append((hosted.service, message))
                with self._idle:
                    self._running -= 1
                    self._idle.notify_all()
                self._call_soon(self._acknowledge)

        hosted.pool.submit(run)

    def _acknowledge(self) -> None:
        """Acknowledge the messages of the runs that ended (in the consumer's thread)."""
        while self._acks:
            service, message = self._acks.popleft()
            try:
                message.ack()
            except Exception as exc:  # its connection is gone: it is delivered again
                log.warning("%s: a run's message was not acknowledged: %s", service, exc)


app.steps["consumer"].add(StageConsumers)


def _import_worker_without_psutil() -> None:
    """Import Celery's worker class with psutil hidden. Its module imports
    ``celery.utils.debug`` for a signal handler, and that module loads psutil at import (0.9 MB
    of every worker) only for ``celery inspect memsample``/``memdump``, which then answer as
    Celery does without psutil (no sample; "psutil not installed"). psutil stays importable for
    whatever imports it later."""
    if "celery.utils.debug" in sys.modules or "psutil" in sys.modules:
        return
    sys.modules["psutil"] = None  # type: ignore[assignment]  # `import psutil` raises
    try:
        import celery.apps.worker  # noqa: F401
    finally:
        del sys.modules["psutil"]


def run_worker(restart_after: float = 1.0) -> int:
    """Run the worker of the hosted stages (``host``) in this thread until a signal stops it;
    its exit status. A worker that Celery gives up on (an "Unrecoverable error", such as the one
    Celery 5.7 hits when the broker restarts while messages are unacknowledged) is started
    again, after a backoff of ``restart_after`` seconds doubling up to 30: only a requested
    shutdown ends this."""
    stopping = threading.Event()

    def requested(**_: Any) -> None:
        stopping.set()

    signals.worker_shutting_down.connect(requested, weak=False)
    _import_worker_without_psutil()
    services = list(_HOSTED)
    # one node per process: several processes of one stage on one host stay apart in `celery
    # inspect` and control replies
    name = f"conveyor-{services[0] if len(services) == 1 else 'all'}-{os.getpid()}@%h"
    delay = restart_after
    try:
        while True:
            worker = app.Worker(
                hostname=host_format(default_nodename(name)),
                pool_cls="solo",  # Celery's task consumer takes no queue: StageConsumers does
                queues=[_NO_TASKS],
                exclude_queues=[_NO_TASKS],
                loglevel=logging.getLevelName(logging.getLogger().getEffectiveLevel()),
                without_gossip=True,
                without_mingle=True,
                without_heartbeat=True,
            )
            log.info("consuming %s", ", ".join(f"{h.service} ({h.threads} threads)"
                                                for h in _HOSTED.values()))
            started = time.monotonic()
            worker.start()
            code = int(worker.exitcode or 0)
            if stopping.is_set() or not code:
                return code
            if time.monotonic() - started > 60:
                delay = restart_after  # it ran a while: not a crash loop
            log.error("the worker stopped (exit %s): starting it again in %.0f s", code, delay)
            if stopping.wait(delay):
                return code
            delay = min(delay * 2, 30.0)
    finally:
        signals.worker_shutting_down.disconnect(requested)
