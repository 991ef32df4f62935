"""A push to the registry reaches conveyor by the registry's own notification, not by polling:
the Distribution registry POSTs its event envelope to a `generic` Receiver's hook, and the tag
it names goes with the request to the scanner."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import redis

from conveyor.services.demo.scenario import ci_tags, create
from tests.conftest import git_out
from tests.fixtures.registries import (
    Registry,
    free_port,
    notification_hook,
    notification_receiver,
)

TOKEN = "registry-notification-token"



def test_a_push_notification_triggers_the_scan(tmp_path: Path) -> None:
    from conveyor.services.demo.oci import push_tags

    port = free_port()
    hook = notification_hook(port, TOKEN)
    tags = ci_tags(2)
    with Registry(notifications=[hook]) as registry:
        demo = create(tmp_path / "demo", registry.host)
        (demo.manifests / "receiver.yaml").write_text(notification_receiver(TOKEN))
        repository = demo.image.split("/", 1)[1]
        push_tags(registry.url, repository, tags[:1])
        env = {**os.environ, "CONVEYOR_DATA": str(tmp_path / "data")}
        env.pop("REDIS_URL", None)
        env.pop("KUBECONFIG", None)
        proc = subprocess.Popen(
            [
                "conveyor",
                "run",
                "--manifests",
                str(demo.manifests),
                "--listen",
                f"127.0.0.1:{port}",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def head() -> str:
            return git_out(demo.remote, "rev-parse", "master").strip()

        def wait_for_change(before: str, seconds: float) -> float:
            start = time.monotonic()
            while head() == before:
                assert time.monotonic() - start < seconds, "no commit"
                time.sleep(0.1)
            return time.monotonic() - start

        try:
            first = git_out(demo.remote, "rev-list", "--max-parents=0", "master").strip()
            wait_for_change(first, 60)  # start-up reconcile commits the first tag
            before = head()
            push_tags(registry.url, repository, tags[1:])  # the registry notifies the hook
            took = wait_for_change(before, 30)
            journal = redis.Redis(unix_socket_path=str(tmp_path / "data" / "redis" / "redis.sock"))
            requests = [json.loads(e) for e in journal.lrange("conveyor:journal", 0, -1)]
        finally:
            proc.terminate()
            proc.wait(30)
    # the ImageRepository's interval is 1m: only the notification explains a commit this soon
    assert took < 30
    announced = [e["tags"] for e in requests if e.get("reason") == "webhook"]
    assert [tags[1]] in announced
    assert f"{demo.image}:{tags[1]}" in git_out(
        demo.remote, "show", "master:kustomize/deployment.yaml"
    )
