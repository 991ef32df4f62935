"""How long the reconcile in progress may still take, and what it waits on.

A run of a stage is bounded as a whole by its object's timeout (``shared.timeouts`` says how
long for each kind, as Flux's controllers read ``spec.timeout``). The runtime opens the run
with :func:`within`; every network call made inside it, in the same thread, first calls
:func:`waiting`, which says what it is about to wait on and gives the seconds it may wait: its
own timeout, or what is left of the run's when that is less. So a registry request and its
retries and backoff, a Git process, a Kubernetes request all end by the run's deadline, and
once it has passed the next call raises ``TransientError`` naming the timeout, instead of
starting.

``conveyor run --once`` reads the runs in flight (:func:`in_flight`): it shows them on a
terminal, and stops waiting for one that overran its deadline.

Outside a run (``conveyor scan``, an adapter called by a test) there is no deadline:
:func:`waiting` gives back the timeout it is handed. A thread started inside a run does not
inherit it (each thread has its own context).

This module is plain Python on purpose: the adapters import it (and the error tree) and
nothing else of conveyor.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

from conveyor.shared.errors import TransientError


@dataclass
class Run:
    """One reconcile in flight: which object (``label``), how long it may take, since when
    (``time.monotonic()``), and what it waits on now."""

    label: str
    timeout: float
    started: float = field(default_factory=time.monotonic)
    doing: str = ""

    @property
    def deadline(self) -> float:
        return self.started + self.timeout

    def elapsed(self, now: float | None = None) -> float:
        return (time.monotonic() if now is None else now) - self.started

    def remaining(self, now: float | None = None) -> float:
        return self.deadline - (time.monotonic() if now is None else now)


_CURRENT: ContextVar[Run | None] = ContextVar("conveyor_run", default=None)
_RUNS: dict[int, Run] = {}
_LOCK = threading.Lock()


@contextlib.contextmanager
def within(timeout: float | None, label: str) -> Iterator[Run | None]:
    """Run the body as ``label``'s run, bounded by ``timeout`` seconds (None: unbounded, yet
    listed in flight; inside another run, never past that one's deadline)."""
    outer = _CURRENT.get()
    limit = float("inf") if timeout is None else max(0.0, timeout)
    if outer is not None:
        limit = min(limit, max(0.0, outer.remaining()))
    run = Run(label, limit)
    token = _CURRENT.set(run)
    with _LOCK:
        _RUNS[id(run)] = run
    try:
        yield run
    finally:
        with _LOCK:
            _RUNS.pop(id(run), None)
        _CURRENT.reset(token)


def current_run() -> Run | None:
    """The run of this thread, if one is open."""
    return _CURRENT.get()


def waiting(what: str, timeout: float, *, reason: str | None = None) -> float:
    """Say that the run now waits on ``what`` (a request, a Git process); the seconds it may
    wait: ``timeout``, or what is left of the run when that is less. When nothing is left,
    raise ``TransientError`` (with ``reason``) naming the run's timeout."""
    run = _CURRENT.get()
    if run is None:
        return timeout
    run.doing = what
    left = run.remaining()
    if left <= 0:
        raise TransientError(f"{what}: timed out ({spent(run)})", reason=reason)
    return min(timeout, left)


def spent(run: Run) -> str:
    """How a message says that ``run`` spent its timeout."""
    return f"the timeout of {run.timeout:g}s is spent"


def expired() -> bool:
    """Whether this thread's run has passed its deadline (False outside a run)."""
    run = _CURRENT.get()
    return run is not None and run.remaining() <= 0


def in_flight() -> list[Run]:
    """Every run open in this process, the oldest first."""
    with _LOCK:
        runs = list(_RUNS.values())
    return sorted(runs, key=lambda r: r.started)
