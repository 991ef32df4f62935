"""Kill -9 the git-committer at random points of its run (fetching, committing, pushing),
restart it, and see each tag land exactly once, soon after the restart, with Git intact."""

from __future__ import annotations

import random
import time
from pathlib import Path

from conveyor.services.demo.scenario import Demo, ci_tags
from tests.chaos.conftest import fast_scans, fsck, landed
from tests.conftest import git_out, push
from tests.fixtures.registries import Registry
from tests.fixtures.workers import RedisServer, Workers

RUNS = 20
LANDS_WITHIN = 10.0  # seconds after the restart


def test_a_killed_committer_lands_every_tag_once(
    demo: Demo, registry: Registry, tmp_path: Path
) -> None:
    fast_scans(demo)
    tags = ci_tags(RUNS + 1)
    push(registry, demo, tags[:1])
    rng = random.Random(8)
    after_push = before_push = 0
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
            time.sleep(rng.uniform(0.0, 1.5))  # anywhere from the scan to after the push
            workers.kill("git-committer")
            if landed(demo.remote, tag):
                after_push += 1
            else:
                before_push += 1
            workers.start("git-committer")
            restarted = time.monotonic()
            while not landed(demo.remote, tag):
                waited = time.monotonic() - restarted
                assert waited < LANDS_WITHIN, (
                    f"{tag} not in Git {waited:.1f} s after the restart:\n"
                    + workers.log("git-committer")[-4000:]
                )
                time.sleep(0.05)
            waits.append(time.monotonic() - restarted)
        assert not workers.dead(), workers.dead()
    assert [landed(demo.remote, tag) for tag in tags] == [1] * len(tags)  # once each
    commits = git_out(demo.remote, "rev-list", "--count", "master").strip()
    assert int(commits) == 1 + len(tags)  # the initial commit and one per tag: no duplicate
    assert fsck(demo.remote) == ""
    assert fsck(tmp_path / "data/automations/flux-system/gitops-demo-app/.git") == ""
    print(
        f"\nkills: {RUNS} runs, {before_push} killed before the push, {after_push} after; "
        f"every tag landed once; after the restart: median {sorted(waits)[len(waits) // 2]:.1f} s,"
        f" max {max(waits):.1f} s; git fsck clean"
    )
