"""The seed scenario end to end: real registry, real bare Git repo, real Redis.

CI pushes `master-<sha>-<ts>` tags; conveyor scans, picks the newest by the seed's numerical
policy, rewrites the marker line, commits with the template and author, pushes, and fetches the
new revision.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from conveyor.services.demo.scenario import AUTHOR, MESSAGE, Demo, ci_tags
from tests.conftest import conveyor, git_out, push, run_once_json
from tests.fixtures.registries import Registry


def by_kind(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["kind"]: r for r in rows if "status" in r}


def ready(row: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in row["status"]["conditions"] if c["type"] == "Ready")


def head(demo: Demo) -> str:
    return git_out(demo.remote, "rev-parse", "master").strip()


def assert_tag_commit(demo: Demo, commit: str, tag: str) -> None:
    """The commit changes exactly the marker line, to ``tag``, with the template and author."""
    diff = git_out(demo.remote, "show", "--format=", "-U0", commit)
    removed = [
        line for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")
    ]
    added = [
        line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")
    ]
    assert len(removed) == 1 and len(added) == 1, diff
    marker = '# {"$imagepolicy": "flux-system:image-repo-policy"}'
    assert added[0] == f"+          image: {demo.image}:{tag} {marker}"
    assert removed[0].split("image: ")[1].endswith(marker)
    assert "kustomize/deployment.yaml" in git_out(
        demo.remote, "show", "--name-only", "--format=", commit
    )
    message = git_out(demo.remote, "log", "-1", "--format=%B", commit)
    assert message.rstrip("\n") == MESSAGE.rstrip("\n")
    author = git_out(demo.remote, "log", "-1", "--format=%an|%ae|%cn|%ce", commit).strip()
    assert author == f"{AUTHOR[0]}|{AUTHOR[1]}|{AUTHOR[0]}|{AUTHOR[1]}"


def test_once_commits_the_newest_tag_and_nothing_more(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    tags = ci_tags(5)
    # a newer tag of another branch and a non-matching tag must not win
    push(registry, demo, [*tags, "develop-0badc0de-1999999999", "latest"])
    before = head(demo)

    code, printed = run_once_json(demo, tmp_path / "data", redis_url)
    rows = by_kind(printed)
    after = head(demo)
    assert after != before, printed
    assert_tag_commit(demo, after, tags[-1])
    assert git_out(demo.remote, "rev-parse", "master~1").strip() == before

    assert rows["ImagePolicy"]["status"]["latestRef"] == {"name": demo.image, "tag": tags[-1]}
    assert rows["ImageRepository"]["status"]["lastScanResult"]["tagCount"] == 7
    assert rows["ImageUpdateAutomation"]["status"]["lastPushCommit"] == after
    # CommitPushed woke the source-fetcher: the artifact is already at the pushed commit
    assert rows["GitRepository"]["status"]["artifact"]["revision"] == f"master@sha1:{after}"
    assert rows["Kustomization"]["status"]["lastAttemptedRevision"] == f"master@sha1:{after}"
    # no cluster in this test: the applier says so, and --once exits 1
    assert ready(rows["Kustomization"])["reason"] == "ClusterNotConfigured"
    assert all(ready(r)["status"] == "True" for k, r in rows.items() if k != "Kustomization")
    assert code == 1

    # a second run with no new tag makes no commit
    again = conveyor(
        "run",
        "--manifests",
        str(demo.manifests),
        "--once",
        data=tmp_path / "data",
        redis_url=redis_url,
    )
    assert head(demo) == after, again.stdout

    # a newer tag makes exactly one more commit
    newer = ci_tags(7)[-1]
    push(registry, demo, [newer])
    conveyor(
        "run",
        "--manifests",
        str(demo.manifests),
        "--once",
        data=tmp_path / "data",
        redis_url=redis_url,
    )
    assert git_out(demo.remote, "rev-parse", "master~1").strip() == after
    assert_tag_commit(demo, head(demo), newer)


def test_once_on_the_embedded_redis(demo: Demo, registry: Registry, tmp_path: Path) -> None:
    """With no REDIS_URL, conveyor starts its own Redis and runs every service in-process."""
    tags = ci_tags(3)
    push(registry, demo, tags)
    run = conveyor("run", "--manifests", str(demo.manifests), "--once", data=tmp_path / "data")
    assert "ImagePolicy\tflux-system/image-repo-policy\tReady=True" in run.stdout, run.stderr
    assert_tag_commit(demo, head(demo), tags[-1])
    assert (tmp_path / "data" / "redis" / "conveyor.rdb").exists() or any(
        (tmp_path / "data" / "redis").iterdir()
    )


RECEIVER = """
---
apiVersion: v1
kind: Secret
metadata:
  name: webhook-token
  namespace: flux-system
stringData:
  token: s3cr3t-webhook-token
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata:
  name: registry-push
  namespace: flux-system
spec:
  type: generic
  secretRef:
    name: webhook-token
  resources:
    - kind: ImageRepository
      name: gitops-demo-app
"""


def wait_for(predicate: Any, timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_separate_workers_on_real_redis(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    """Each service as its own `conveyor worker` process, connected only through Redis."""
    import hashlib
    import os

    import httpx

    from tests.fixtures.registries import free_port

    with (demo.manifests / "gitops-demo-app.yaml").open("a") as f:
        f.write(RECEIVER)
    tags = ci_tags(4)
    push(registry, demo, tags[:3])
    before = head(demo)
    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "CONVEYOR_DATA": str(tmp_path / "data")}
    env.pop("KUBECONFIG", None)
    services = [
        "source-fetcher",
        "registry-scanner",
        "policy-evaluator",
        "git-committer",
        "applier",
    ]
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = [
        subprocess.Popen(
            [
                "conveyor",
                "worker",
                "receiver",
                "--manifests",
                str(demo.manifests),
                "--listen",
                f"127.0.0.1:{port}",
            ],
            env=env,
            stdout=(logs / "receiver.log").open("w"),
            stderr=subprocess.STDOUT,
        )
    ] + [
        subprocess.Popen(
            ["conveyor", "worker", s],
            env=env,
            stdout=(logs / f"{s}.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        for s in services
    ]
    try:
        wait_for(lambda: head(demo) != before, 90, "the first commit")
        first = head(demo)
        assert_tag_commit(demo, first, tags[2])

        # a new tag + a webhook: the scan happens now, not at the next 1m interval
        push(registry, demo, [tags[3]])
        path = hashlib.sha256(
            b"s3cr3t-webhook-token" + b"registry-push" + b"flux-system"
        ).hexdigest()
        answer = httpx.post(f"http://127.0.0.1:{port}/hook/{path}", json={}, timeout=10)
        assert answer.status_code == 200, answer.text
        assert answer.json()["accepted"] == ["ImageRepository/flux-system/gitops-demo-app"]
        wait_for(lambda: head(demo) != first, 60, "the webhook-driven commit")
        assert_tag_commit(demo, head(demo), tags[3])
        assert git_out(demo.remote, "rev-parse", "master~1").strip() == first

        status = httpx.get(f"http://127.0.0.1:{port}/api/v1/objects", timeout=10).json()
        wait_for(
            lambda: any(
                o["kind"] == "GitRepository"
                and o["status"].get("artifact", {}).get("revision") == f"master@sha1:{head(demo)}"
                for o in httpx.get(f"http://127.0.0.1:{port}/api/v1/objects", timeout=10).json()
            ),
            30,
            "the source-fetcher to fetch the pushed commit",
        )
        assert "s3cr3t-webhook-token" not in json.dumps(status)
        for log in logs.iterdir():
            assert "s3cr3t-webhook-token" not in log.read_text()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
