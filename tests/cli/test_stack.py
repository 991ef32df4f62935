"""The Day-2 verbs against conveyor as separate services on one Redis (the compose stack's
shape): with REDIS_URL, as `docker compose exec receiver conveyor ...` runs them, every verb
works; from outside, through the receiver's status API (``--server``), what reads works and
what would change an object says where to run it instead."""

from __future__ import annotations

from pathlib import Path

from conveyor.services.demo.scenario import Demo, ci_tags
from tests.cli.helpers import as_json, ctl, ok, wait_for
from tests.conftest import git_out, push
from tests.fixtures.redis import loopback_redis
from tests.fixtures.registries import Registry
from tests.fixtures.workers import Workers


def rows(text: str) -> list[list[str]]:
    return [[c.strip() for c in line.split("\t")] for line in text.splitlines() if line]


def test_verbs_with_redis_url_and_through_the_status_api(
    demo: Demo, registry: Registry, tmp_path: Path
) -> None:
    tags = ci_tags(2)
    push(registry, demo, tags)
    (tmp_path / "redis").mkdir()
    with loopback_redis(tmp_path / "redis") as url, Workers(
        url, demo.manifests, tmp_path
    ) as workers:
        workers.wait_ready()
        inside = workers.env()  # REDIS_URL, as in the stack's containers
        server = f"http://127.0.0.1:{workers.port}"
        outside = {k: v for k, v in inside.items() if k != "REDIS_URL"}

        def committed() -> bool:
            return git_out(demo.remote, "log", "-1", "--format=%s").startswith("Automated")

        wait_for("the automation's commit", committed)
        wait_for("the policy Ready", lambda: rows(ok(inside, "get", "imagepolicy"))[1][3]
                 == "True")
        policy = rows(ok(inside, "get", "imagepolicy"))[1]
        assert policy[:3] == ["image-repo-policy", demo.image, tags[-1]]

        done = ctl(inside, "reconcile", "imagerepository", "gitops-demo-app")
        assert done.returncode == 0, done.stderr
        assert done.stderr.splitlines()[-1] == "✔ scan fetched 2 tags"
        assert ok(inside, "suspend", "gitrepository", "gitops-demo-app") == ""

        # the status API: what the stack publishes on :9292, read-only
        listed = rows(ok(outside, "get", "gitrepository", "--server", server))
        assert listed[1][0] == "gitops-demo-app" and listed[1][2] == "True"  # SUSPENDED
        same = as_json(outside, "get", "gitrepository", "gitops-demo-app", "--server", server)
        assert same["spec"]["suspend"] is True and same["metadata"]["generation"] == 2
        refused = ctl(outside, "resume", "gitrepository", "gitops-demo-app", "--server", server)
        assert refused.returncode == 2
        assert "is read-only: run this where conveyor's Redis is reachable " in refused.stderr
        assert "docker compose exec receiver conveyor" in refused.stderr
        events = rows(ok(outside, "events", "--server", server))
        assert any(r[2] == "PolicyChanged" and r[3] == "ImagePolicy/image-repo-policy"
                   for r in events)

        resumed = ctl(inside, "resume", "gitrepository", "gitops-demo-app")
        assert resumed.returncode == 0, resumed.stderr
        head = git_out(demo.remote, "rev-parse", "master").strip()
        assert resumed.stderr.splitlines()[-1] == f"✔ fetched revision master@sha1:{head}"
        assert not workers.dead()
