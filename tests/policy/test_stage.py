"""The policy stage end to end: tags pushed to the real Distribution registry, scanned by the
registry-scanner stage into a real Redis, picked by the policy-evaluator stage; and the
conditions Flux's ``ImagePolicyReconciler`` (image-reflector-controller v1.2) sets, case by
case, through the same runtime a worker runs.

Flux's conditions, read off ``internal/controller/imagepolicy_controller.go``:
an invalid policy or filter pattern -- Ready=False and Stalled=True, reason
``InvalidPolicy``, not retried; no tag picked -- Ready=False, reason ``Failure``, retried;
no tags, or no ImageRepository -- Ready=False, reason ``DependencyNotReady``, retried;
success -- Ready=True ``Succeeded``, ``Latest image tag for <image> resolved to <tag>``
with `` (previously <image>:<tag>)`` once it moved.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from conveyor.services.demo.oci import push_tags
from conveyor.services.policy_evaluator.reconcile import STAGE as POLICY_STAGE
from conveyor.services.registry_scanner.reconcile import STAGE as SCANNER_STAGE
from conveyor.shared.bus import InlineDispatcher
from conveyor.shared.events import ReconcileRequested
from conveyor.shared.manifests import parse_manifests
from conveyor.shared.models import object_key
from conveyor.shared.runtime import Context, Settings, handle
from conveyor.shared.status import Condition, ImagePolicyStatus
from conveyor.shared.store import Store
from tests.fixtures.registries import Registry

SEED_POLICY = """
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: builds, namespace: flux-system}
spec:
  imageRepositoryRef: {name: app}
  filterTags:
    pattern: '^master-[a-f0-9]+-(?P<ts>[0-9]+)'
    extract: '$ts'
  policy: {numerical: {order: asc}}
"""

CALVER_POLICY = """
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: calver, namespace: flux-system}
spec:
  imageRepositoryRef: {name: app}
  policy: {semver: {range: '>=2025.1.0'}}
"""


def repository(image: str) -> str:
    return f"""
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: app, namespace: flux-system}}
spec: {{image: {image}, interval: 1m, insecure: true}}
"""


def policy(name: str, spec: str) -> str:
    return f"""
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {{name: {name}, namespace: flux-system}}
spec:
  imageRepositoryRef: {{name: app}}
  {spec}
"""


class Pipeline:
    """A store with the given objects, and the scanner and policy stages run inline."""

    def __init__(self, redis_url: str, tmp_path: Path, manifests: str) -> None:
        self.store = Store.from_url(redis_url)
        self.store.put_objects(parse_manifests(manifests))
        self.dispatcher = InlineDispatcher()
        self.ctx = Context(self.store, self.dispatcher, Settings(data_dir=tmp_path))

    def scan(self) -> None:
        """The scanner stage on ImageRepository app; the TagsScanned it emits wakes the
        policies through the policy stage's own ``targets``."""
        request = ReconcileRequested(kind="ImageRepository", namespace="flux-system", name="app")
        handle(SCANNER_STAGE, request.to_message(), self.ctx)
        while self.dispatcher.queue:
            service, message = self.dispatcher.queue.popleft()
            if service == POLICY_STAGE.service:
                handle(POLICY_STAGE, message, self.ctx)

    def evaluate(self, name: str) -> ImagePolicyStatus:
        """The policy stage on one ImagePolicy, as a reconcile request (or a retry) runs it."""
        self.dispatcher.queue.clear()
        self.store.unmark_queued(object_key("ImagePolicy", "flux-system", name))
        request = ReconcileRequested(kind="ImagePolicy", namespace="flux-system", name=name)
        handle(POLICY_STAGE, request.to_message(), self.ctx)
        return self.status(name)

    def status(self, name: str) -> ImagePolicyStatus:
        key = object_key("ImagePolicy", "flux-system", name)
        return self.store.get_status(key, ImagePolicyStatus)


def condition(status: ImagePolicyStatus, type_: str) -> Condition:
    found = status.condition(type_)
    assert found is not None, f"no {type_} condition in {status.conditions}"
    return found


# --------------------------------------------------------------- through the real registry


def test_the_issues_two_examples_through_registry_scanner_and_policy_stage(
    redis_url: str, registry: Registry, tmp_path: Path
) -> None:
    """issue-11: two builds in one second pick ``master-aaaa1111-…`` (Flux's tag database is
    sorted descending, its map keeps the last tag of a value), and zero-padded CalVer is
    semver (``>=2025.1.0`` picks ``v2025.10.01``, not ``v2025.9.30``)."""
    name = f"policy-stage-{zlib.crc32(str(tmp_path).encode()):08x}"  # this test's own
    image = f"{registry.host}/{name}"
    pipeline = Pipeline(
        redis_url, tmp_path, repository(image) + "---" + SEED_POLICY + "---" + CALVER_POLICY
    )
    push_tags(
        registry.url,
        name,
        [
            "master-bbbb2222-1700000000",  # pushed first: last in conveyor's old reading
            "master-aaaa1111-1700000000",
            "master-0123abcd-1699999999",
            "v2025.02.03",
            "v2025.10.01",
            "v2025.9.30",
        ],
    )
    pipeline.scan()
    builds, calver = pipeline.status("builds"), pipeline.status("calver")
    assert builds.latest_ref is not None and calver.latest_ref is not None
    assert builds.latest_ref.tag == "master-aaaa1111-1700000000"
    assert builds.latest_ref.name == image
    assert calver.latest_ref.tag == "v2025.10.01"
    ready = condition(calver, "Ready")
    assert (ready.status, ready.reason) == ("True", "Succeeded")
    assert ready.message == f"Latest image tag for {image} resolved to v2025.10.01"
    assert builds.observed_previous_ref is None

    # A newer build and a newer CalVer: both move, and Ready says from where.
    push_tags(registry.url, name, ["master-ffff0000-1700000001", "v2025.10.2"])
    pipeline.scan()
    builds, calver = pipeline.status("builds"), pipeline.status("calver")
    assert builds.latest_ref is not None and calver.latest_ref is not None
    assert builds.latest_ref.tag == "master-ffff0000-1700000001"
    assert calver.latest_ref.tag == "v2025.10.2"
    assert calver.observed_previous_ref is not None
    assert calver.observed_previous_ref.tag == "v2025.10.01"
    assert condition(calver, "Ready").message == (
        f"Latest image tag for {image} resolved to v2025.10.2 (previously {image}:v2025.10.01)"
    )


# ------------------------------------------------------------------------------ conditions


def stored(redis_url: str, tmp_path: Path, tags: list[str] | None, *specs: str) -> Pipeline:
    """ImageRepository app (scanned into ``tags``, unless None) and the policies."""
    text = repository("registry.example:5000/team/app") + "".join(
        "---" + policy(f"p{i}", spec) for i, spec in enumerate(specs)
    )
    pipeline = Pipeline(redis_url, tmp_path, text)
    if tags is not None:
        pipeline.store.put_tags(object_key("ImageRepository", "flux-system", "app"), tags)
    return pipeline


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param(
            "policy: {semver: {range: '*-*'}}",
            'invalid policy: improper constraint: "*-*"',
            id="flux-policy_test:semver-invalid-range",
        ),
        pytest.param(
            "policy: {semver: {range: '>=1.0.0 <<2'}}",
            'invalid policy: improper constraint: ">=1.0.0 <<2"',
            id="mm:improper-constraint",
        ),
        pytest.param(
            "filterTags: {pattern: '^test-(.*', extract: '$1'}\n"
            "  policy: {semver: {range: '>=0.x'}}",
            "failed to filter tags: invalid regular expression pattern '^test-(.*': ",
            id="flux-policy_test:filterTags-invalid-regex",
        ),
    ],
)
def test_an_invalid_policy_stalls_and_is_not_retried(
    redis_url: str, tmp_path: Path, spec: str, message: str
) -> None:
    pipeline = stored(redis_url, tmp_path, ["1.0.0", "test-0.1.0"], spec)
    status = pipeline.evaluate("p0")
    ready, stalled = condition(status, "Ready"), condition(status, "Stalled")
    assert (ready.status, ready.reason) == ("False", "InvalidPolicy")
    assert (stalled.status, stalled.reason) == ("True", "InvalidPolicy")
    assert ready.message.startswith(message)
    assert pipeline.dispatcher.dropped == 0  # no retry scheduled
    assert status.latest_ref is None


@pytest.mark.parametrize(
    ("tags", "spec", "message"),
    [
        pytest.param(
            ["1.2.0", "latest"],
            "policy: {semver: {range: '1.0.x'}}",
            "unable to determine latest version from provided list",
            id="flux-semver.go:no-version-in-range",
        ),
        pytest.param(
            ["1", "latest", "build-7"],
            "policy: {numerical: {order: asc}}",
            "failed to parse invalid numeric value 'latest'",
            id="flux-numerical.go:non-number",
        ),
        pytest.param(
            ["dev-1", "dev-2"],
            "filterTags: {pattern: '^master-'}\n  policy: {alphabetical: {order: asc}}",
            "version list argument cannot be empty",
            id="flux-filter.go:nothing-kept",
        ),
    ],
)
def test_no_pick_is_a_retried_failure(
    redis_url: str, tmp_path: Path, tags: list[str], spec: str, message: str
) -> None:
    pipeline = stored(redis_url, tmp_path, tags, spec)
    status = pipeline.evaluate("p0")
    ready = condition(status, "Ready")
    assert (ready.status, ready.reason, ready.message) == ("False", "Failure", message)
    assert status.condition("Stalled") is None
    assert pipeline.dispatcher.dropped == 1  # the retry, scheduled with a delay


def test_a_failure_keeps_the_last_latest_ref(redis_url: str, tmp_path: Path) -> None:
    pipeline = stored(redis_url, tmp_path, ["1", "2"], "policy: {numerical: {order: asc}}")
    assert pipeline.evaluate("p0").latest_ref is not None
    pipeline.store.put_tags(object_key("ImageRepository", "flux-system", "app"), ["3", "x"])
    status = pipeline.evaluate("p0")
    assert condition(status, "Ready").reason == "Failure"
    assert status.latest_ref is not None and status.latest_ref.tag == "2"


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        pytest.param(
            None,
            "no tags in database: ImageRepository flux-system/app not scanned yet",
            id="never-scanned",
        ),
        pytest.param(
            [], "no tags in database: ImageRepository flux-system/app holds no tags", id="empty"
        ),
    ],
)
def test_no_tags_is_dependency_not_ready(
    redis_url: str, tmp_path: Path, tags: list[str] | None, message: str
) -> None:
    pipeline = stored(redis_url, tmp_path, tags, "policy: {alphabetical: {}}")
    status = pipeline.evaluate("p0")
    ready = condition(status, "Ready")
    assert (ready.status, ready.reason, ready.message) == ("False", "DependencyNotReady", message)
    assert pipeline.dispatcher.dropped == 1


def test_an_invalid_policy_is_reported_before_missing_tags(redis_url: str, tmp_path: Path) -> None:
    pipeline = stored(redis_url, tmp_path, None, "policy: {semver: {range: '*-*'}}")
    assert condition(pipeline.evaluate("p0"), "Ready").reason == "InvalidPolicy"


def test_a_missing_image_repository_is_dependency_not_ready(redis_url: str, tmp_path: Path) -> None:
    pipeline = Pipeline(redis_url, tmp_path, policy("p0", "policy: {alphabetical: {}}"))
    status = pipeline.evaluate("p0")
    ready = condition(status, "Ready")
    assert (ready.status, ready.reason) == ("False", "DependencyNotReady")
    assert ready.message == (
        "failed to get the referred ImageRepository: referenced ImageRepository does not exist: "
        'ImageRepository.image.toolkit.fluxcd.io "app" not found'
    )
    assert pipeline.dispatcher.dropped == 1
