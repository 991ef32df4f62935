"""A registry that answers 500, then 429, then hangs, then recovers, again and again, under
workers that keep running: the ImageRepository says what is wrong each time, no worker is lost,
and the next tag lands within seconds of the recovery.

The registry is a scripted fake (``tests.fixtures.loopback``): the real one cannot be told to
fail on cue."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from conveyor.services.demo.scenario import ci_tags, create
from conveyor.shared.status import ImageRepositoryStatus
from conveyor.shared.store import Store
from tests.chaos.conftest import fast_scans, landed
from tests.fixtures.loopback import LoopbackServer, Reply, Seen
from tests.fixtures.workers import RedisServer, Workers

CYCLES = 3
FAULTS = (("500", "HTTP 500"), ("429", "rate limited"), ("hang", "timed out"))  # and what it says
REPOSITORY = "team/app"
KEY = "ImageRepository/flux-system/gitops-demo-app"


class FlakyRegistry:
    """Answers the OCI tag list as ``mode`` says: ok, 500, 429 (Retry-After 3600) or hang."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.tags: list[str] = []
        self.release = threading.Event()

    def __call__(self, seen: Seen) -> Reply:
        if seen.path == "/v2/":
            return 200, {}, b"{}"
        if self.mode == "500":
            return 500, {}, b"internal error"
        if self.mode == "429":
            return 429, {"Retry-After": "3600"}, b"slow down"
        if self.mode == "hang":
            self.release.wait(30)
            return 503, {}, b""
        body = json.dumps({"name": REPOSITORY, "tags": self.tags}).encode()
        return 200, {"Content-Type": "application/json"}, body


def wait_for(what: str, check: object, timeout: float, workers: Workers) -> float:
    started = time.monotonic()
    while not (check() if callable(check) else check):
        assert time.monotonic() - started < timeout, (
            f"{what} not within {timeout} s\n" + workers.log("registry-scanner")[-3000:]
        )
        assert not workers.dead(), workers.dead()
        time.sleep(0.1)
    return time.monotonic() - started


def test_a_failing_registry_is_reported_and_recovered_from(tmp_path: Path) -> None:
    fake = FlakyRegistry()
    tags = ci_tags(CYCLES + 1)
    with LoopbackServer(fake) as registry:
        demo = create(tmp_path / "demo", registry.host, repository=REPOSITORY)
        fast_scans(demo)
        manifests = demo.manifests / "gitops-demo-app.yaml"
        text = manifests.read_text().replace("  insecure: true", "  insecure: true\n  timeout: 2s")
        manifests.write_text(text)
        fake.tags = tags[:1]
        recoveries: list[float] = []
        seen: dict[str, str] = {}
        with (
            RedisServer(tmp_path) as server,
            Workers(server.url, demo.manifests, tmp_path) as workers,
        ):
            store = Store.from_url(server.url)

            def message() -> str:
                ready = store.get_status(KEY, ImageRepositoryStatus).ready
                return f"{ready.status} {ready.reason}: {ready.message}" if ready else ""

            workers.wait_ready()
            wait_for("the first tag", lambda: landed(demo.remote, tags[0]), 30, workers)
            for tag in tags[1:]:
                fake.tags = [*fake.tags, tag]  # pushed while the registry misbehaves
                for mode, says in FAULTS:
                    fake.mode = mode
                    fake.release.clear()
                    wait_for(f"{mode}: {says}", lambda s=says: s in message(), 30, workers)
                    seen[mode] = message()
                    assert message().startswith("False"), message()
                    assert not landed(demo.remote, tag)
                fake.mode = "ok"
                fake.release.set()
                recoveries.append(
                    wait_for(f"{tag} after the recovery", lambda t=tag: landed(demo.remote, t),
                             30, workers)
                )
            assert not workers.dead(), workers.dead()
        fake.release.set()
    assert [landed(demo.remote, t) for t in tags] == [1] * len(tags)
    print(
        f"\nregistry faults: {CYCLES} cycles of 500, 429, hang: each reported "
        f"({'; '.join(f'{m}: …{s[-45:]}' for m, s in seen.items())}), no worker lost; the next "
        f"tag landed a median {sorted(recoveries)[len(recoveries) // 2]:.1f} s after recovery, "
        f"max {max(recoveries):.1f} s"
    )
