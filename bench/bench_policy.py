"""Benchmark: ImagePolicy evaluation over large tag lists (issue 4).

Two workloads, each at 10k / 100k / 1M tags:

* ``seed``   -- ``<branch>-<sha8>-<unix ts>`` tags (3/4 ``master``, the rest other branches)
  under the seed's policy: filterTags ``^master-[a-f0-9]+-(?P<ts>[0-9]+)``, extract ``$ts``,
  numerical asc;
* ``semver`` -- ``[v]MAJOR.MINOR.PATCH`` tags (one in ten a pre-release, one in twenty with
  build metadata) under ``semver.range: ">=1.0.0 <2.0.0"``.

Each measurement is a full ``select_latest`` call on a fresh list object (compiled policies
are cached across calls, as in the service; the first, compiling, call is timed apart). It
prints best and median wall time and CPU time of ``--runs`` runs, the growth from one size
to the next (10.0x is linear), and whether 100k tags stay under the 150 ms target. The
machine's load average and a fixed CPU-bound calibration loop are printed too, since a busy
machine slows everything down alike.

    python bench/bench_policy.py [--sizes 10000,100000,1000000] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conveyor.services.policy_evaluator.policy import select_latest
from conveyor.shared.semver import latest_version_reference, parse_constraint

TARGET_MS = 150.0
SEED_POLICY = {"numerical": {"order": "asc"}}
SEED_FILTER = {"pattern": "^master-[a-f0-9]+-(?P<ts>[0-9]+)", "extract": "$ts"}
SEMVER_POLICY = {"semver": {"range": ">=1.0.0 <2.0.0"}}


def seed_tags(n: int, rnd: random.Random) -> list[str]:
    branches = ("master", "master", "master", "dev")
    start = 1_600_000_000
    return [
        f"{rnd.choice(branches)}-{rnd.getrandbits(32):08x}-{start + rnd.randrange(100_000_000)}"
        for _ in range(n)
    ]


def semver_tags(n: int, rnd: random.Random) -> list[str]:
    tags = []
    for _ in range(n):
        tag = f"{rnd.randrange(5)}.{rnd.randrange(60)}.{rnd.randrange(300)}"
        if rnd.random() < 0.1:
            tag += f"-rc.{rnd.randrange(10)}"
        if rnd.random() < 0.05:
            tag += f"+build.{rnd.randrange(1000)}"
        if rnd.random() < 0.3:
            tag = "v" + tag
        tags.append(tag)
    return tags


def reference(name: str, tags: list[str]) -> str:
    """The answer computed the obvious way, to check the fast paths on the same input."""
    if name == "seed":
        best: tuple[int, str] | None = None
        for tag in tags:
            branch, _, ts = tag.rsplit("-", 2)
            if branch == "master" and (best is None or int(ts) >= best[0]):
                best = (int(ts), tag)
        assert best is not None
        return best[1]
    found = latest_version_reference(tags, parse_constraint(SEMVER_POLICY["semver"]["range"]))
    assert found is not None
    return found


def calibration_ms() -> float:
    start = time.perf_counter()
    sum(range(1_000_000))
    return (time.perf_counter() - start) * 1000


def measure(
    tags: list[str], policy: dict[str, Any], filter_tags: dict[str, Any] | None, runs: int
) -> tuple[float, float, float, str]:
    """Best wall, median wall and best CPU time (ms) of ``runs`` calls, and the result."""
    walls, cpus = [], []
    result = ""
    for _ in range(runs):
        fresh = list(tags)  # a new list object each time: nothing to reuse between calls
        w0, c0 = time.perf_counter(), time.process_time()
        result = select_latest(fresh, policy, filter_tags)
        cpus.append((time.process_time() - c0) * 1000)
        walls.append((time.perf_counter() - w0) * 1000)
    return min(walls), statistics.median(walls), min(cpus), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load[0]:.2f}")
    print(f"calibration: sum(range(10**6)) = {min(calibration_ms() for _ in range(5)):.1f} ms")

    Workload = tuple[str, Callable[[int, random.Random], list[str]], dict[str, Any], Any]
    workloads: list[Workload] = [
        ("seed", seed_tags, SEED_POLICY, SEED_FILTER),
        ("semver", semver_tags, SEMVER_POLICY, None),
    ]
    verdicts = []
    for name, make, policy, filter_tags in workloads:
        start = time.perf_counter()
        select_latest(make(10, random.Random(0)), policy, filter_tags)
        first_ms = 1000 * (time.perf_counter() - start)
        print(f"\n{name}: first call (compiles the spec) {first_ms:.1f} ms")
        print(f"{'tags':>9} {'best ms':>9} {'median ms':>10} {'cpu ms':>8} {'growth':>7}  result")
        previous: tuple[int, float] | None = None
        for n in sizes:
            tags = make(n, random.Random(args.seed))
            best, median, cpu, result = measure(tags, policy, filter_tags, args.runs)
            growth = ""
            if previous is not None:
                growth = f"{best / previous[1]:.1f}x"
            print(f"{n:>9} {best:>9.1f} {median:>10.1f} {cpu:>8.1f} {growth:>7}  {result}")
            if n <= 100_000 and result != reference(name, tags):
                print(f"  MISMATCH: the straightforward evaluation gives {reference(name, tags)}")
                return 1
            previous = (n, best)
            if n == 100_000:
                verdicts.append((name, best, cpu))
    print()
    for name, best, cpu in verdicts:
        ok = "meets" if best < TARGET_MS else "misses"
        print(
            f"{name}: 100k tags in {best:.1f} ms wall ({cpu:.1f} ms CPU): {ok} {TARGET_MS:.0f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
