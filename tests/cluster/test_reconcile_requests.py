"""What `flux reconcile` and a spec change ask of conveyor, in the store and the reconcile loop
(a real redis-server): a new ``reconcile.fluxcd.io/requestedAt`` or a new generation makes an
object due at once, and the run answers the request in ``lastHandledReconcileAt``; a
cluster's ``metadata.generation`` is kept as it is."""

from __future__ import annotations

from pathlib import Path

from conveyor.shared.bus import InlineDispatcher
from conveyor.shared.errors import InvalidSpec
from conveyor.shared.events import Event, ReconcileRequested
from conveyor.shared.kinds import IMAGE_REPOSITORY
from conveyor.shared.manifests import parse_manifests
from conveyor.shared.models import FluxObject, ImageRepository
from conveyor.shared.runtime import Context, Outcome, Settings, Stage, handle
from conveyor.shared.status import ImageRepositoryStatus
from conveyor.shared.store import Store

REPO = "ImageRepository/ns/app"
POLICY = "ImagePolicy/ns/latest"


def repository(generation: int = 1, request: str | None = None, label: str = "a") -> FluxObject:
    annotations = f"{{reconcile.fluxcd.io/requestedAt: '{request}'}}" if request else "{}"
    (obj,) = parse_manifests(f"""
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata:
  name: app
  namespace: ns
  generation: {generation}
  labels: {{team: {label}}}
  annotations: {annotations}
spec: {{image: example.com/app, interval: 1h}}
""")
    return obj


def policy(request: str | None = None) -> FluxObject:
    annotations = f"{{reconcile.fluxcd.io/requestedAt: '{request}'}}" if request else "{}"
    (obj,) = parse_manifests(f"""
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {{name: latest, namespace: ns, annotations: {annotations}}}
spec: {{imageRepositoryRef: {{name: app}}, policy: {{semver: {{range: '>=1.0.0'}}}}}}
""")
    return obj


def test_a_new_request_or_generation_makes_an_object_due_at_once(redis_url: str) -> None:
    store = Store.from_url(redis_url)
    (stored,) = store.put_objects([repository(generation=4)], given_generations=True)
    assert stored.metadata.generation == 4  # the cluster's, not a count of its own
    assert store.take_due("registry-scanner") == [REPO]  # new: due now
    assert store.take_due("registry-scanner") == []  # then an interval on

    store.put_objects([repository(generation=4)], given_generations=True)
    assert store.take_due("registry-scanner") == []  # unchanged
    store.put_objects([repository(generation=4, label="b")], given_generations=True)
    assert store.take_due("registry-scanner") == []  # metadata changed, not the spec

    store.put_objects([repository(generation=4, request="t1")], given_generations=True)
    assert store.take_due("registry-scanner") == [REPO]  # `flux reconcile`
    store.put_objects([repository(generation=4, request="t1", label="c")],
                      given_generations=True)
    assert store.take_due("registry-scanner") == []  # the same request: handled already

    store.put_objects([repository(generation=5, request="t1")], given_generations=True)
    assert store.take_due("registry-scanner") == [REPO]  # the spec changed
    got = store.get_object(REPO)
    assert got is not None and got.metadata.generation == 5

    # without an interval (an ImagePolicy): due once for the request, then out of the schedule
    store.put_objects([policy()])
    assert store.take_due("policy-evaluator") == []
    store.put_objects([policy(request="t2")])
    assert store.take_due("policy-evaluator") == [POLICY]
    assert store.take_due("policy-evaluator", everything=True) == []


class Recorder:
    def __init__(self) -> None:
        self.runs = 0
        self.invalid = False

    def reconcile(
        self, obj: ImageRepository, status: ImageRepositoryStatus, ctx: Context, event: Event
    ) -> Outcome:
        self.runs += 1
        if self.invalid:
            raise InvalidSpec("spec.image: not an image")
        status.mark_ready("Succeeded", "ok", obj.metadata.generation)
        return Outcome(status)


def test_a_run_answers_the_request_and_a_stalled_object_answers_a_new_one(
    redis_url: str, tmp_path: Path
) -> None:
    store = Store.from_url(redis_url)
    recorder = Recorder()
    stage = Stage(IMAGE_REPOSITORY, recorder.reconcile, lambda e, c: [])
    ctx = Context(store, InlineDispatcher(), Settings(data_dir=tmp_path))

    def run() -> ImageRepositoryStatus:
        handle(stage, ReconcileRequested(kind="ImageRepository", namespace="ns",
                                         name="app").to_message(), ctx)
        return store.get_status(REPO, ImageRepositoryStatus)

    store.put_objects([repository(generation=2, request="t1")], given_generations=True)
    status = run()
    assert status.last_handled_reconcile_at == "t1"
    assert status.observed_generation == 2

    recorder.invalid = True
    store.put_objects([repository(generation=3, request="t1")], given_generations=True)
    status = run()
    stalled = status.condition("Stalled")
    assert stalled is not None and stalled.status == "True" and recorder.runs == 2
    run()
    assert recorder.runs == 2  # stalled at this generation: not run again ...
    store.put_objects([repository(generation=3, request="t2")], given_generations=True)
    status = run()
    assert recorder.runs == 3  # ... but `flux reconcile` is answered (Stalled again)
    assert status.last_handled_reconcile_at == "t2"
    assert status.observed_generation == 3
