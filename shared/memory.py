"""Give a process's free heap back to the system once a burst of work is over.

glibc's allocator keeps the pages a burst freed (a run's parsed YAML, Git output, HTTP bodies,
in one arena per thread that ran it) and reuses them, so an idle process stays at the size of its
busiest moment. ``release_soon`` is called when work ends; the first call arms a timer, calls
until it fires merge into it, and when it fires the heap's free pages go back
(``malloc_trim``): one call per burst, none while idle. Elsewhere than glibc it does nothing.

``one_arena`` keeps every thread's allocations in one arena. glibc gives each new thread that
allocates an arena of its own (up to 8 per core), and each keeps what its thread left, live or
not; Python's lock already makes the threads take turns, so the extra arenas save no waiting and
only hold memory.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from typing import Any, Final

DELAY: Final = 2.0  # seconds after the work that armed it

_lock = threading.Lock()
_armed = False


def _glibc(name: str, argtypes: list[Any]) -> Callable[..., int] | None:
    """glibc's allocator function ``name`` (returning a C int), or None elsewhere."""
    try:
        function = getattr(ctypes.CDLL(None), name)
    except (AttributeError, OSError):  # not glibc
        return None
    function.argtypes, function.restype = argtypes, ctypes.c_int
    return function  # type: ignore[no-any-return]


_trim: Final = _glibc("malloc_trim", [ctypes.c_size_t])
_mallopt: Final = _glibc("mallopt", [ctypes.c_int, ctypes.c_int])
_M_ARENA_MAX: Final = -8  # mallopt's parameter, glibc's malloc.h


def one_arena() -> bool:
    """Make the threads started from now on allocate from the arena the process has (glibc's
    ``mallopt(M_ARENA_MAX, 1)``, as ``MALLOC_ARENA_MAX=1``); whether it took effect."""
    return _mallopt is not None and bool(_mallopt(_M_ARENA_MAX, 1))


def release_now() -> None:
    """Return the free pages of every arena of the C heap to the system."""
    global _armed
    with _lock:
        _armed = False
    if _trim is not None:
        _trim(0)


def release_soon(delay: float = DELAY) -> None:
    """Release the free heap ``delay`` seconds from now, unless a release is already due."""
    global _armed
    if _trim is None:
        return
    with _lock:
        if _armed:
            return
        _armed = True
    timer = threading.Timer(delay, release_now)
    timer.name, timer.daemon = "conveyor-heap-release", True
    timer.start()
