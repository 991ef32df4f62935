"""The Celery app (one queue per service) and the two ways an event reaches a stage.

``CeleryDispatcher`` sends through Redis to each service's queue; ``InlineDispatcher`` keeps a
local FIFO that ``conveyor run --once`` drains in-process until nothing is left to do.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from celery import Celery, signals
from celery.utils.nodenames import default_nodename, host_format

from conveyor.shared.events import Event, route
from conveyor.shared.kinds import STAGE_SERVICES

log = logging.getLogger("conveyor.bus")


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


def run_worker(queues: Sequence[str], concurrency: int, restart_after: float = 1.0) -> int:
    """Consume ``queues`` with a thread pool in this thread until a signal stops it; its exit
    status. A worker that Celery gives up on (an "Unrecoverable error", such as the one
    Celery 5.7 hits when the broker restarts while messages are unacknowledged) is started
    again, after a backoff of ``restart_after`` seconds doubling up to 30: only a requested
    shutdown ends this."""
    stopping = threading.Event()

    def requested(**_: Any) -> None:
        stopping.set()

    signals.worker_shutting_down.connect(requested, weak=False)
    # one node per process: several processes of one stage on one host stay apart in `celery
    # inspect` and control replies
    name = f"conveyor-{'-'.join(queues) if len(queues) == 1 else 'all'}-{os.getpid()}@%h"
    delay = restart_after
    try:
        while True:
            worker = app.Worker(
                hostname=host_format(default_nodename(name)),
                pool_cls="threads",
                concurrency=concurrency,
                queues=list(queues),
                loglevel=logging.getLevelName(logging.getLogger().getEffectiveLevel()),
                without_gossip=True,
                without_mingle=True,
                without_heartbeat=True,
            )
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


def register(service: str, handle: Callable[[dict[str, Any]], None]) -> Any:
    """The Celery task of a service: thin, one keyword argument (the event message), nothing
    out; ``handle`` is the runtime's loop over the service's stage."""

    @app.task(name=task_name(service), acks_late=True)  # type: ignore[untyped-decorator]
    def task(message: dict[str, Any]) -> None:
        handle(message)

    return task
