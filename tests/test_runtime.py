"""The shared reconcile loop and the coordination it keeps in Redis (a real redis-server)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.services.demo.oci import push_tags
from conveyor.shared.adapters.oci.client import RegistryClient, RegistryOptions
from conveyor.shared.adapters.oci.reference import parse_image
from conveyor.shared.bus import InlineDispatcher
from conveyor.shared.errors import InvalidSpec, TransientError
from conveyor.shared.events import Event, ReconcileRequested
from conveyor.shared.kinds import IMAGE_REPOSITORY
from conveyor.shared.manifests import parse_manifests
from conveyor.shared.models import ImageRepository
from conveyor.shared.runtime import Context, Outcome, Settings, Stage, handle
from conveyor.shared.status import ImageRepositoryStatus
from conveyor.shared.store import Store
from tests.fixtures.registries import Registry

REPO = """
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: app, namespace: ns}
spec: {image: example.com/app, interval: 1m}
"""


class Recorder:
    """A stage whose reconcile records its calls and raises what the test asks it to."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.raise_next: Exception | None = None

    def reconcile(
        self, obj: ImageRepository, status: ImageRepositoryStatus, ctx: Context, event: Event
    ) -> Outcome:
        self.calls.append(event.type)
        if self.raise_next is not None:
            exc, self.raise_next = self.raise_next, None
            raise exc
        status.mark_ready("Succeeded", "ok", obj.metadata.generation)
        return Outcome(status)


Scanner = Stage[ImageRepository, ImageRepositoryStatus]


def setup(redis_url: str, tmp_path: Path) -> tuple[Context, Recorder, Scanner, InlineDispatcher]:
    store = Store.from_url(redis_url)
    store.put_object(parse_manifests(REPO)[0])
    recorder = Recorder()
    stage = Stage(IMAGE_REPOSITORY, recorder.reconcile, lambda e, c: [])
    dispatcher = InlineDispatcher()
    ctx = Context(store, dispatcher, Settings(data_dir=tmp_path))
    return ctx, recorder, stage, dispatcher


def request() -> ReconcileRequested:
    return ReconcileRequested(kind="ImageRepository", namespace="ns", name="app")


def test_requests_emitted_before_a_run_started_are_coalesced(
    redis_url: str, tmp_path: Path
) -> None:
    ctx, recorder, stage, _ = setup(redis_url, tmp_path)
    stale = [request() for _ in range(5)]  # five webhooks while nothing ran yet
    handle(stage, stale[0].to_message(), ctx)
    for event in stale[1:]:
        handle(stage, event.to_message(), ctx)
    assert recorder.calls == ["ReconcileRequested"]
    handle(stage, request().to_message(), ctx)  # emitted after the run started: runs
    assert len(recorder.calls) == 2


def test_errors_map_to_conditions_and_transient_ones_retry(redis_url: str, tmp_path: Path) -> None:
    ctx, recorder, stage, dispatcher = setup(redis_url, tmp_path)
    key = "ImageRepository/ns/app"
    recorder.raise_next = TransientError("registry unreachable")
    handle(stage, request().to_message(), ctx)
    status = ctx.store.get_status(key)
    assert status.ready is not None and status.ready.status == "False"
    assert status.condition("Stalled") is None
    assert dispatcher.dropped == 1  # a delayed retry was scheduled (dropped by the inline bus)
    # and the status says so as Flux's controllers do
    retrying = status.condition("Reconciling")
    assert retrying is not None and (retrying.status, retrying.reason) == (
        "True",
        "ProgressingWithRetry",
    )

    recorder.raise_next = InvalidSpec("bad pattern")
    handle(stage, request().to_message(), ctx)
    status = ctx.store.get_status(key)
    stalled = status.condition("Stalled")
    assert stalled is not None and stalled.status == "True" and stalled.message == "bad pattern"
    assert status.condition("Reconciling") is None  # stalled: nothing is in progress
    handle(stage, request().to_message(), ctx)  # stalled: not retried until the spec changes
    assert len(recorder.calls) == 2

    changed = parse_manifests(REPO.replace("interval: 1m", "interval: 2m"))[0]
    assert ctx.store.put_object(changed).metadata.generation == 2
    handle(stage, request().to_message(), ctx)
    assert len(recorder.calls) == 3
    assert ctx.store.get_status(key).ready.status == "True"  # type: ignore[union-attr]
    assert ctx.store.get_status(key).condition("Reconciling") is None


def test_a_bug_in_a_stage_is_reported_and_the_worker_lives(redis_url: str, tmp_path: Path) -> None:
    ctx, recorder, stage, _ = setup(redis_url, tmp_path)
    recorder.raise_next = KeyError("boom")
    handle(stage, request().to_message(), ctx)  # must not raise
    ready = ctx.store.get_status("ImageRepository/ns/app").ready
    assert ready is not None and ready.reason == "InternalError" and "KeyError" in ready.message
    handle(stage, {"type": "NoSuchEvent"}, ctx)  # a malformed message is logged, not raised


def test_secret_values_are_redacted_from_status(redis_url: str, tmp_path: Path) -> None:
    ctx, recorder, stage, _ = setup(redis_url, tmp_path)
    ctx.store.put_object(
        parse_manifests(
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: ns}\n"
            "stringData: {password: hunter2-very-secret}\n"
        )[0]
    )
    recorder.raise_next = TransientError("login as bob:hunter2-very-secret failed")
    handle(stage, request().to_message(), ctx)
    ready = ctx.store.get_status("ImageRepository/ns/app").ready
    assert ready is not None
    assert "hunter2" not in ready.message and "bob:***" in ready.message


def test_the_request_budget_is_shared_by_every_worker(redis_url: str) -> None:
    workers = [Store.from_url(redis_url) for _ in range(3)]
    # align to the start of a second so the window does not roll over mid-test
    time.sleep(1 - (time.time() % 1) + 0.01)
    waits = [workers[i % 3].take_budget("registry:example.com", 5) for i in range(12)]
    assert waits[:5] == [0.0] * 5
    assert all(0 < w <= 1 for w in waits[5:])


@pytest.mark.parametrize(
    "spec, host, expected",
    [
        pytest.param("10", "ghcr.io", 10.0, id="default-only"),
        pytest.param("3,ghcr.io=20", "ghcr.io", 20.0, id="per-host"),
        pytest.param("3,ghcr.io=20", "quay.io", 3.0, id="falls-back-to-default"),
    ],
)
def test_rps_settings(spec: str, host: str, expected: float) -> None:
    assert Settings(registry_rps=spec).rps_for(host) == expected


def test_the_scanner_asks_the_budget_before_every_request(registry: Registry) -> None:
    push_tags(registry.url, "budget/app", ["1", "2", "3"])
    hosts: list[str] = []
    ref = parse_image(f"{registry.host}/budget/app")
    with RegistryClient(ref, RegistryOptions(insecure=True), throttle=hosts.append) as client:
        assert sorted(client.list_tags()) == ["1", "2", "3"]
        client.head_digest("1")
        assert len(hosts) == client.requests_made >= 2
    assert set(hosts) == {"127.0.0.1"}


def test_conveyor_scan_prints_what_a_scan_sees(registry: Registry, tmp_path: Path) -> None:
    from tests.conftest import conveyor

    push_tags(registry.url, "scan/app", ["v1", "v2", "v2.sig"])
    run = conveyor("scan", f"{registry.host}/scan/app", "--insecure", data=tmp_path)
    assert run.returncode == 0, run.stderr
    assert sorted(run.stdout.split()) == ["v1", "v2"]  # the .sig tag is excluded as in Flux
    assert "2 tags of" in run.stderr
    refused = conveyor("scan", f"{registry.host}/scan/app", data=tmp_path)  # no --insecure
    assert refused.returncode == 1 and "error:" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_exclusion_list_uses_go_regexp_and_names_the_bad_pattern() -> None:
    from conveyor.services.registry_scanner.tags import exclude

    tags = ["v1", "v1.sig", "sha256-abc.att", "v2"]
    assert exclude(tags, [r"^.*\.sig$", r"\.att$"], "o") == ["v1", "v2"]
    with pytest.raises(InvalidSpec) as err:
        exclude(tags, [r"ok", r"(?<bad"], "ImageRepository ns/app")
    assert "ImageRepository ns/app: spec.exclusionList[1]: invalid pattern" in str(err.value)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(["a", ".", "s", "i", "g", "\n", "-", "é"]), max_size=12))
def test_the_default_exclusion_matches_as_go_s_regexp_does(tag: str) -> None:
    """Flux's default ``^.*\\.sig$``, matched without a regexp engine, excludes exactly what
    Go's regexp (RE2) matches, newlines included."""
    from conveyor.services.registry_scanner.tags import SIGNATURE_TAGS, exclude
    from conveyor.shared.goregexp import compiled

    go = compiled(SIGNATURE_TAGS).find_submatch_index(tag) is not None
    assert exclude([tag], [SIGNATURE_TAGS], "o") == ([] if go else [tag])
    assert exclude([tag, "x.sig"], [SIGNATURE_TAGS, "^x"], "o") == ([] if go else [tag])


def test_a_scanner_with_flux_s_default_exclusion_loads_no_regexp_engine() -> None:
    probe = (
        "import sys\n"
        "from conveyor.services.runner import load_stage\n"
        "load_stage('registry-scanner')\n"
        "from conveyor.services.registry_scanner.tags import SIGNATURE_TAGS, exclude\n"
        "print(exclude(['v1', 'v1.sig'], [SIGNATURE_TAGS], 'o'), 're2' in sys.modules)\n"
        "print(exclude(['v1', 'v1.att'], [r'\\.att$'], 'o'), 're2' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["['v1'] False", "['v1'] True"]


def test_a_notice_s_deferred_message_is_read_after_the_run_s_events_went_out(
    redis_url: str, tmp_path: Path
) -> None:
    from conveyor.shared.events import TagsScanned
    from conveyor.shared.notices import Draft

    store = Store.from_url(redis_url)
    store.put_object(parse_manifests(REPO)[0])
    dispatcher = InlineDispatcher()
    queued_when_read: list[int] = []

    def subject() -> str:
        queued_when_read.append(len(dispatcher.queue))
        return "stored artifact for commit 'x'"

    def reconcile(
        obj: ImageRepository, status: ImageRepositoryStatus, ctx: Context, event: Event
    ) -> Outcome:
        status.mark_ready("Succeeded", "ok", obj.metadata.generation)
        scanned = event.follow(TagsScanned, namespace="ns", name="app", revision="r", tag_count=1)
        return Outcome(status, [scanned], [Draft(subject, reason="NewArtifact")])

    stage = Stage(IMAGE_REPOSITORY, reconcile, lambda e, c: [])
    handle(stage, request().to_message(), Context(store, dispatcher, Settings(data_dir=tmp_path)))
    assert queued_when_read == [1]  # the event was sent before the message was read
    said = [e for e in store.journal() if e.get("reason") == "NewArtifact"]
    assert said and said[0]["message"] == "stored artifact for commit 'x'"


def test_an_event_is_stamped_emitted_after_the_status_it_announces_was_saved(
    redis_url: str, tmp_path: Path
) -> None:
    """A run of the next stage that starts after an event's ``emitted_at`` coalesces the
    event: it must have read what the event announces, so the stamp follows the save."""
    from conveyor.shared.events import TagsScanned

    store = Store.from_url(redis_url)
    store.put_object(parse_manifests(REPO)[0])
    dispatcher = InlineDispatcher()
    made: list[float] = []

    def reconcile(
        obj: ImageRepository, status: ImageRepositoryStatus, ctx: Context, event: Event
    ) -> Outcome:
        status.mark_ready("Succeeded", "ok", obj.metadata.generation)
        scanned = event.follow(TagsScanned, namespace="ns", name="app", revision="r", tag_count=1)
        made.append(scanned.emitted_at)
        time.sleep(0.05)  # the rest of the run, then the status's save
        return Outcome(status, [scanned])

    stage = Stage(IMAGE_REPOSITORY, reconcile, lambda e, c: [])
    handle(stage, request().to_message(), Context(store, dispatcher, Settings(data_dir=tmp_path)))
    [(_, message)] = list(dispatcher.queue)
    sent = message["emitted_at"]
    assert sent >= made[0] + 0.05
    [key] = store.keys("ImageRepository")
    assert store.get_status(key, ImageRepositoryStatus).ready is not None  # saved


def test_a_run_s_lines_name_its_stage_s_service_in_a_process_of_several(
    redis_url: str, tmp_path: Path
) -> None:
    """``conveyor run`` runs every stage in one process, whose log handler is configured with
    the service ``run``: a run's context names its stage's service, which a JSON line keeps."""
    from conveyor.shared import logs

    seen: list[dict[str, str]] = []
    store = Store.from_url(redis_url)
    store.put_object(parse_manifests(REPO)[0])

    def reconcile(
        obj: ImageRepository, status: ImageRepositoryStatus, ctx: Context, event: Event
    ) -> Outcome:
        seen.append(logs.current())
        status.mark_ready("Succeeded", "ok", obj.metadata.generation)
        return Outcome(status)

    stage = Stage(IMAGE_REPOSITORY, reconcile, lambda e, c: [])
    ctx = Context(store, InlineDispatcher(), Settings(data_dir=tmp_path))
    handle(stage, request().to_message(), ctx)
    assert [about.get("service") for about in seen] == ["registry-scanner"]
    record = logging.LogRecord("conveyor", logging.INFO, __file__, 1, "ran", None, None)
    with logs.context(**seen[0]):
        line = json.loads(logs.JsonFormatter("run").format(record))
    assert line["service"] == "registry-scanner" and line["name"] == "app"
