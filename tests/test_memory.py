"""An idle process gives back the heap its last burst freed: shared/memory.py."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from conveyor.shared import memory
from tests.fixtures.workers import RedisServer, Workers

# A burst leaves holes: 4,000 blocks of 40 KB (below glibc's mmap threshold, so on the heap),
# every tenth kept, so the heap's top never frees and glibc's own trimming cannot return them.
_BURST = textwrap.dedent(
    """
    import sys
    from conveyor.shared import memory

    def rss_kb():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])

    blocks = [bytearray(40_000) for _ in range(4_000)]
    kept = blocks[::10]
    del blocks
    before = rss_kb()
    memory.release_now()
    print(before, rss_kb(), len(kept))
    """
)


def test_release_returns_the_holes_a_burst_left() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _BURST], capture_output=True, text=True, check=True, timeout=60
    )
    before, after, kept = (int(v) for v in done.stdout.split())
    assert kept == 400
    # about 140 MB of holes: most of it goes back
    assert before - after > 100_000, (before, after)


def test_calls_during_a_burst_merge_into_one_release() -> None:
    def releases() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "conveyor-heap-release"]

    deadline = time.monotonic() + 10
    while releases() and time.monotonic() < deadline:  # one armed by an earlier test
        time.sleep(0.05)
    for _ in range(50):
        memory.release_soon(delay=0.3)
    assert len(releases()) == 1
    deadline = time.monotonic() + 10
    while releases() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not releases()
    memory.release_soon(delay=0.3)  # fired: the next burst arms a new one
    assert len(releases()) == 1


# Four threads alive at once, each allocating from the C heap (a 100 KB bytearray is above
# Python's small-object limit); then glibc's malloc_stats (on stderr, an "Arena N:" line each) and
# the process's memory map (on stdout).
_THREADS = textwrap.dedent(
    """
    import ctypes, sys, threading
    from conveyor.shared import memory

    if sys.argv[1] == "one":
        assert memory.one_arena()
    together = threading.Barrier(4)

    def work():
        block = bytearray(100_000)
        together.wait()
        del block

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open("/proc/self/maps") as maps:
        print(maps.read(), flush=True)
    ctypes.CDLL(None).malloc_stats()
    """
)

_HEAP_MAX = 64 << 20  # a thread arena's reservation (64-bit glibc: twice the top mmap threshold)


def thread_arenas(maps: str) -> int:
    """The arenas glibc made for threads, from a memory map: anonymous reservations of 64 MiB
    at a 64 MiB boundary, the part in use read-write and the rest inaccessible."""
    rows = []
    for line in maps.splitlines():
        parts = line.split()
        if not parts:
            continue
        low, high = (int(x, 16) for x in parts[0].split("-"))
        rows.append((low, high, parts[1], len(parts) > 5))
    found = 0
    for i, (low, high, perm, named) in enumerate(rows):
        if named or perm != "rw-p" or low % _HEAP_MAX:
            continue
        rest = rows[i + 1] if i + 1 < len(rows) else None
        if rest is not None and rest[0] == high and rest[2] == "---p" and not rest[3]:
            high = rest[1]
        found += high - low == _HEAP_MAX
    return found


def _arenas(mode: str) -> tuple[int, int]:
    """Arenas in a process that ran _THREADS: by glibc's count, and those of threads by its map."""
    done = subprocess.run(
        [sys.executable, "-c", _THREADS, mode], capture_output=True, text=True, check=True,
        timeout=60,
    )
    return done.stderr.count("Arena "), thread_arenas(done.stdout)


def test_one_arena_keeps_the_threads_in_the_process_arena() -> None:
    assert _arenas("one") == (1, 0)
    # without it, glibc gives each of the four threads an arena of its own
    assert _arenas("default") == (5, 4)


def test_a_worker_keeps_one_arena_and_no_psutil(tmp_path: Path) -> None:
    """A stage's worker process: its threads allocate from one arena (``one_arena`` before
    they start), and Celery's worker class came without psutil (``bus``)."""
    with (
        RedisServer(tmp_path) as server,
        Workers(server.url, tmp_path / "manifests", tmp_path, ("applier",)) as workers,
    ):
        workers.wait_ready()
        time.sleep(1)  # its threads have run
        maps = Path(f"/proc/{workers.procs['applier'].pid}/maps").read_text()
    assert thread_arenas(maps) == 0
    assert "_psutil" not in maps
