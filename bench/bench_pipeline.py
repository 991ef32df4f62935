"""Benchmarks of the whole pipeline on the seed scenario.

1. `conveyor run --once` with 1,000 tags in the registry (embedded Redis): wall time and the
   peak RSS of the conveyor process. Target: under 5 s and under 250 MB.
2. Per-hop overhead of the event chain on a real Redis with one `conveyor worker` process per
   service: from an event's own `emitted_at` to the moment the next stage starts on it.
   Target: median under 10 ms.

    python bench/bench_pipeline.py [--tags 1000] [--runs 3] [--rounds 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conveyor.services.demo.oci import push_tags
from conveyor.services.demo.scenario import ci_tags, create
from conveyor.shared.events import ReconcileRequested
from tests.fixtures.redis import loopback_redis
from tests.fixtures.registries import Registry


def git_head(remote: Path) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(remote), "rev-parse", "master"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def measure_once(registry: Registry, tags: int, runs: int, work: Path) -> None:
    print(f"== conveyor run --once, {tags} tags, embedded Redis, {runs} fresh runs")
    times, rss = [], []
    for i in range(runs):
        demo = create(work / f"once-{i}", registry.host, repository=f"bench/once{i}")
        push_tags(registry.url, f"bench/once{i}", ci_tags(tags), workers=4)
        env = {**os.environ, "CONVEYOR_DATA": str(work / f"once-{i}" / "data")}
        env.pop("REDIS_URL", None)
        env.pop("KUBECONFIG", None)
        before = git_head(demo.remote)
        script = (
            "import resource, subprocess, sys, time; t = time.perf_counter(); "
            "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
            "print(time.perf_counter() - t, "
            "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        )
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                script,
                "conveyor",
                "run",
                "--manifests",
                str(demo.manifests),
                "--once",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert git_head(demo.remote) != before, "the run did not commit"
        times.append(float(out[0]))
        rss.append(int(out[1]) / 1024)
        print(f"   run {i + 1}: {times[-1]:.2f} s, peak RSS {rss[-1]:.0f} MB")
    print(
        f"   median wall time {statistics.median(times):.2f} s (target < 5 s); "
        f"max peak RSS {max(rss):.0f} MB (target < 250 MB)"
    )


def measure_hops(registry: Registry, url: str, rounds: int, work: Path) -> None:
    print(
        f"== event-hop overhead, one worker process per service on redis-server, "
        f"{rounds} image pushes"
    )
    demo = create(work / "hops", registry.host, repository="bench/hops")
    tags = ci_tags(rounds + 1)
    push_tags(registry.url, "bench/hops", tags[:1])
    env = {**os.environ, "REDIS_URL": url, "CONVEYOR_DATA": str(work / "hops" / "data")}
    env.pop("KUBECONFIG", None)
    services = [
        "source-fetcher",
        "registry-scanner",
        "policy-evaluator",
        "git-committer",
        "applier",
    ]
    procs = [
        subprocess.Popen(
            [
                "conveyor",
                "worker",
                s,
                *(["--manifests", str(demo.manifests)] if s == "source-fetcher" else []),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for s in services
    ]
    try:
        from conveyor.shared.bus import CeleryDispatcher, configure, publish

        configure(url)
        dispatcher = CeleryDispatcher()
        deadline = time.monotonic() + 120
        head = git_head(demo.remote)
        while git_head(demo.remote) == head:  # the first tag lands
            if time.monotonic() > deadline:
                raise SystemExit("the pipeline did not commit the first tag")
            time.sleep(0.1)
        time.sleep(2)
        client = redis.Redis.from_url(url)
        client.delete("conveyor:journal")
        for tag in tags[1:]:
            head = git_head(demo.remote)
            push_tags(registry.url, "bench/hops", [tag])
            publish(
                dispatcher,
                ReconcileRequested(
                    kind="ImageRepository", namespace="flux-system", name="gitops-demo-app"
                ),
            )
            deadline = time.monotonic() + 60
            while git_head(demo.remote) == head:
                if time.monotonic() > deadline:
                    raise SystemExit(f"tag {tag} did not land")
                time.sleep(0.05)
            time.sleep(1.0)  # let the fetch and apply that follow the push finish
        entries = [json.loads(e) for e in client.lrange("conveyor:journal", 0, -1)]
        entries = [e for e in entries if "started_at" in e]  # runs, not the notices beside
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(15)
    hops: dict[str, list[float]] = {}
    for e in entries:
        if e["type"] != "ReconcileRequested":
            key = f"{e['type']} -> {e['service']}"
            hops.setdefault(key, []).append((e["started_at"] - e["emitted_at"]) * 1000)
    every = [h for values in hops.values() for h in values]
    for key, values in sorted(hops.items()):
        print(
            f"   {key:34s} n={len(values):3d} median {statistics.median(values):6.2f} ms "
            f"max {max(values):7.2f} ms"
        )
    print(
        f"   all hops: n={len(every)} median {statistics.median(every):.2f} ms "
        f"(target < 10 ms), p90 {statistics.quantiles(every, n=10)[-1]:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as tmp, Registry() as registry:
        measure_once(registry, args.tags, args.runs, Path(tmp))
        with loopback_redis(Path(tmp)) as url:
            measure_hops(registry, url, args.rounds, Path(tmp))


if __name__ == "__main__":
    main()
