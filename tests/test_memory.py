"""An idle process gives back the heap its last burst freed: shared/memory.py."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

from conveyor.shared import memory

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
