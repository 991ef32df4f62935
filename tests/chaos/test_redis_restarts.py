"""Restart Redis (empty: it kept nothing) in the middle of the pipeline: no worker is lost,
the store is refilled from the manifests at once, and every tag still lands."""

from __future__ import annotations

import random
import time
from pathlib import Path

from conveyor.services.demo.scenario import Demo, ci_tags
from tests.chaos.conftest import fast_scans, fsck, landed
from tests.conftest import git_out, push
from tests.fixtures.registries import Registry
from tests.fixtures.workers import RedisServer, Workers

RUNS = 6
LANDS_WITHIN = 30.0  # seconds after Redis is back


def test_workers_survive_redis_restarts_and_every_tag_lands(
    demo: Demo, registry: Registry, tmp_path: Path
) -> None:
    fast_scans(demo)
    tags = ci_tags(RUNS + 1)
    push(registry, demo, tags[:1])
    rng = random.Random(6)
    waits: list[float] = []
    with (
        RedisServer(tmp_path) as server,
        Workers(server.url, demo.manifests, tmp_path) as workers,
    ):
        workers.wait_ready()
        deadline = time.monotonic() + 30
        while not landed(demo.remote, tags[0]):
            assert time.monotonic() < deadline, workers.log("git-committer")[-3000:]
            time.sleep(0.1)
        for tag in tags[1:]:
            push(registry, demo, [tag])
            time.sleep(rng.uniform(0.0, 1.5))
            server.restart()
            back = time.monotonic()
            while not landed(demo.remote, tag):
                waited = time.monotonic() - back
                assert waited < LANDS_WITHIN, (
                    f"{tag} not in Git {waited:.1f} s after Redis came back; dead: "
                    f"{workers.dead()}\n" + workers.log("git-committer")[-3000:]
                )
                time.sleep(0.1)
            waits.append(time.monotonic() - back)
            assert not workers.dead(), workers.dead()  # no worker lost
        restarts = sum(workers.log(s).count("starting it again") for s in workers.services)
    assert [landed(demo.remote, tag) for tag in tags] == [1] * len(tags)
    assert int(git_out(demo.remote, "rev-list", "--count", "master")) == 1 + len(tags)
    assert fsck(demo.remote) == ""
    print(
        f"\nredis restarts: {RUNS} runs, no worker lost ({restarts} Celery workers restarted "
        f"in-process), every tag landed once; after Redis came back: median "
        f"{sorted(waits)[len(waits) // 2]:.1f} s, max {max(waits):.1f} s"
    )
