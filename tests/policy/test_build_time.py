"""Newest build (``conveyor.dev/order-by: build-time``): an ImagePolicy's candidates ordered by
their images' ``created``, read from the real Distribution registry through the scanner and
policy stages, a multi-arch index read for the platform, cached by digest so that a rescan
reads only what is new; hostile registry answers fail one candidate (or, when they are
transient, the policy) and never the others; unknown annotation values are Stalled by name.
The pure parts (RFC 3339, indexes, manifests) are tables at the end."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.services.demo.oci import push_index, push_tags, sha256_digest, tiny_image
from conveyor.services.policy_evaluator import builds
from conveyor.services.policy_evaluator.builds import (
    Platform,
    Unusable,
    parse_created,
    platform_manifest,
    read_config,
    read_manifest,
)
from conveyor.shared import metrics
from conveyor.shared import store as store_mod
from conveyor.shared.models import object_key
from conveyor.shared.store import Store
from conveyor.shared.timeouts import run_timeout
from tests.fixtures.loopback import LoopbackServer, Reply, Seen
from tests.fixtures.registries import Registry
from tests.policy.test_stage import Pipeline, condition

APP = object_key("ImageRepository", "flux-system", "app")


def manifests(image: str, *policies: str) -> str:
    text = f"""
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: app, namespace: flux-system}}
spec: {{image: {image}, interval: 1m, insecure: true}}
"""
    return text + "".join("---" + p for p in policies)


def policy(name: str, spec: str, annotations: str = "conveyor.dev/order-by: build-time") -> str:
    return f"""
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: {name}
  namespace: flux-system
  annotations: {{{annotations}}}
spec:
  imageRepositoryRef: {{name: app}}
  {spec}
"""


@pytest.fixture
def repo_name(tmp_path: Path) -> str:
    return f"builds-{zlib.crc32(str(tmp_path).encode()):08x}"  # this test's own repository


def requests_to(store: Store, host: str) -> float:
    """The registry requests conveyor made to ``host`` so far (its own metric)."""
    field = metrics.field("conveyor_registry_requests_total", {"host": host, "status": "200"})
    return store.metrics().get(field, 0.0)


# --------------------------------------------------------------- through the real registry


def test_newest_build_wins_over_names_that_sort_the_other_way(
    redis_url: str, registry: Registry, tmp_path: Path, repo_name: str
) -> None:
    image = f"{registry.host}/{repo_name}"
    pipeline = Pipeline(
        redis_url,
        tmp_path,
        manifests(
            image,
            policy("newest", "policy: {alphabetical: {order: asc}}"),
            policy("flux", "policy: {alphabetical: {order: asc}}", annotations=""),
            policy("ranged", "policy: {semver: {range: '<2.0.0'}}"),
        ),
    )
    url = registry.url
    push_tags(url, repo_name, ["1.0.0"], content="a", created="2024-03-01T10:00:00Z")
    push_tags(url, repo_name, ["2.0.0"], content="b", created="2024-01-01T10:00:00Z")
    push_tags(url, repo_name, ["1.1.0"], content="c", created="2024-02-01T10:00:00+02:00")
    push_tags(url, repo_name, ["3.0.0"], content="d")  # no created
    push_tags(url, repo_name, ["4.0.0"], content="e", created="1970-01-01T00:00:00Z")  # ko's
    pipeline.scan()

    flux = pipeline.status("flux")
    assert flux.latest_ref is not None and flux.latest_ref.tag == "4.0.0"  # by name, as Flux
    newest = pipeline.status("newest")
    assert newest.latest_ref is not None and newest.latest_ref.tag == "1.0.0"
    ready = condition(newest, "Ready")
    assert (ready.status, ready.reason) == ("True", "Succeeded")
    assert ready.message == (
        f"Latest image tag for {image} resolved to 1.0.0; newest build "
        "(conveyor.dev/order-by: build-time, linux/amd64): created 2024-03-01T10:00:00Z; "
        "skipped 2 without a build time: 4.0.0 (its config's created 1970-01-01T00:00:00Z is "
        "a reproducible build's fixed time), 3.0.0 (its config has no created)"
    )
    # semver's range still says which tags are candidates: 2.0.0 and up are not
    ranged = pipeline.status("ranged")
    assert ranged.latest_ref is not None and ranged.latest_ref.tag == "1.0.0"
    assert "skipped" not in condition(ranged, "Ready").message

    # a newer build under a name that sorts first; and one image under two tags: a tie that
    # the spec's policy breaks (alphabetical asc: the greater name)
    push_tags(url, repo_name, ["0.0.1", "0.0.2"], content="f", created="2024-04-01T00:00:00.5Z")
    pipeline.scan()
    newest = pipeline.status("newest")
    assert newest.latest_ref is not None and newest.latest_ref.tag == "0.0.2"
    assert newest.observed_previous_ref is not None
    assert newest.observed_previous_ref.tag == "1.0.0"
    ranged = pipeline.status("ranged")
    assert ranged.latest_ref is not None and ranged.latest_ref.tag == "0.0.2"  # semver: 0.0.2


def test_a_multi_arch_index_is_read_for_the_platform(
    redis_url: str, registry: Registry, tmp_path: Path, repo_name: str
) -> None:
    image = f"{registry.host}/{repo_name}"
    pipeline = Pipeline(
        redis_url,
        tmp_path,
        manifests(
            image,
            policy("amd64", "policy: {alphabetical: {order: asc}}"),
            policy(
                "arm64",
                "policy: {alphabetical: {order: asc}}",
                "conveyor.dev/order-by: build-time, conveyor.dev/build-platform: linux/arm64",
            ),
            policy(
                "armv7",
                "policy: {alphabetical: {order: asc}}",
                "conveyor.dev/order-by: build-time, conveyor.dev/build-platform: linux/arm/v7",
            ),
        ),
    )
    url = registry.url
    # the index: its amd64 image built long ago, its arm64 image (v8) newest of all
    index_digest = push_index(
        url,
        repo_name,
        ["multi"],
        {
            "linux/amd64": "2023-01-01T00:00:00Z",
            "linux/arm64/v8": "2025-01-01T00:00:00Z",
            "linux/arm/v6": "2026-01-01T00:00:00Z",
        },
    )
    push_tags(url, repo_name, ["single"], content="x", created="2024-06-01T00:00:00Z")
    pipeline.scan()

    amd64, arm64, armv7 = (pipeline.status(n) for n in ("amd64", "arm64", "armv7"))
    assert amd64.latest_ref is not None and amd64.latest_ref.tag == "single"
    assert arm64.latest_ref is not None and arm64.latest_ref.tag == "multi"
    assert "linux/arm64): created 2025-01-01T00:00:00Z" in condition(arm64, "Ready").message
    # v6 is not v7: the index has no linux/arm/v7 image; the single one is read whatever its
    assert armv7.latest_ref is not None and armv7.latest_ref.tag == "single"
    assert condition(armv7, "Ready").message.endswith(
        "skipped 1 without a build time: multi (its index has no linux/arm/v7 manifest)"
    )
    # the index's outcome is cached by its digest and the platform
    cached = pipeline.store.get_builds([f"{index_digest} linux/arm64"])
    assert json.loads(cached[f"{index_digest} linux/arm64"])["created"] == "2025-01-01T00:00:00Z"
    assert pipeline.store.tag_digests(APP)["multi"] == index_digest


def test_a_rescan_reads_only_the_new_digest(
    redis_url: str, registry: Registry, tmp_path: Path, repo_name: str
) -> None:
    image = f"{registry.host}/{repo_name}"
    pipeline = Pipeline(
        redis_url, tmp_path, manifests(image, policy("newest", "policy: {numerical: {}}"))
    )
    url = registry.url
    for i in range(6):
        built = f"2024-01-0{i + 1}T00:00:00Z"
        push_tags(url, repo_name, [str(100 - i)], content=str(i), created=built)
    pipeline.scan()
    status = pipeline.status("newest")
    assert status.latest_ref is not None and status.latest_ref.tag == "95"  # built last
    store = pipeline.store

    # one new tag: the tag list, its manifest and its config; nothing of the six others
    before = requests_to(store, registry.host)
    push_tags(url, repo_name, ["1"], content="new", created="2024-02-01T00:00:00Z")
    pipeline.scan()
    assert requests_to(store, registry.host) - before == 3
    status = pipeline.status("newest")
    assert status.latest_ref is not None and status.latest_ref.tag == "1"

    # a new tag of a digest known already: its manifest only (that is how its digest is known)
    before = requests_to(store, registry.host)
    push_tags(url, repo_name, ["0"], content="new", created="2024-02-01T00:00:00Z")
    pipeline.scan()
    assert requests_to(store, registry.host) - before == 2
    status = pipeline.status("newest")  # a tie of 1 and 0: numerical asc picks 1
    assert status.latest_ref is not None and status.latest_ref.tag == "1"

    # a new index: the tag's index, the platform's manifest, its config
    before = requests_to(store, registry.host)
    push_index(url, repo_name, ["2"], {"linux/amd64": "2024-03-01T00:00:00Z"})
    pipeline.scan()
    assert requests_to(store, registry.host) - before == 4
    status = pipeline.status("newest")
    assert status.latest_ref is not None and status.latest_ref.tag == "2"

    # evaluated again with nothing new: no request at all; a deleted tag is forgotten
    before = requests_to(store, registry.host)
    assert pipeline.evaluate("newest").latest_ref is not None
    assert requests_to(store, registry.host) == before
    store.put_tags(APP, [t for t in store.get_tags(APP) or [] if t != "100"])
    pipeline.evaluate("newest")
    assert "100" not in store.tag_digests(APP)
    assert requests_to(store, registry.host) == before


def test_hostile_bytes_in_the_registry_skip_their_candidate_only(
    redis_url: str, registry: Registry, tmp_path: Path, repo_name: str
) -> None:
    image = f"{registry.host}/{repo_name}"
    pipeline = Pipeline(
        redis_url,
        tmp_path,
        manifests(
            image,
            policy("newest", "policy: {alphabetical: {order: desc}}"),
            policy("flux", "policy: {alphabetical: {order: desc}}", annotations=""),
        ),
    )
    url = registry.url
    push_tags(url, repo_name, ["good"], content="g", created="2024-01-01T00:00:00Z")
    hostile = {
        "big": b'{"created": "2030-01-01T00:00:00Z", "pad": "' + b"x" * (1 << 21) + b'"}',
        "notjson": b'{"created": "2030-01-01T00:00:00Z"',
        "deep": b"[" * 100_000 + b"]" * 100_000,
        "yesterday": b'{"created": "yesterday"}',
        "number": b'{"created": 1893456000}',
        "feb30": b'{"created": "2030-02-30T00:00:00Z"}',
        "goodbye": b'{"created": "2030-01-01T00:00:00Z", "os": "linux"}',  # the newest: good
    }
    for i, (tag, config) in enumerate(hostile.items()):
        push_tags(url, repo_name, [tag], content=str(i), config=config)
    pipeline.scan()

    newest = pipeline.status("newest")
    assert newest.latest_ref is not None and newest.latest_ref.tag == "goodbye"
    message = condition(newest, "Ready").message
    size = len(hostile["big"])
    assert message.endswith(
        "skipped 6 without a build time: yesterday (its config's created 'yesterday' is not an "
        "RFC 3339 time), number (its config's created is not a string: 1893456000), notjson "
        "(its config is not valid JSON), feb30 (its config's created '2030-02-30T00:00:00Z' is "
        "not a valid time), deep (its config is not valid JSON) and 1 more"
    )
    # the oversized config was never fetched: its manifest says its size
    assert json.loads(
        pipeline.store.get_builds([pipeline.store.tag_digests(APP)["big"]]).popitem()[1]
    ) == {"skip": f"its config of {size} bytes is over 1048576"}
    flux = pipeline.status("flux")  # the other policy of the repository: untouched
    assert flux.latest_ref is not None and flux.latest_ref.tag == "big"
    assert condition(flux, "Ready").status == "True"

    # when every candidate is skipped the policy fails, naming them, and is retried
    only_bad = Pipeline(
        redis_url,
        tmp_path,
        manifests(
            image,
            policy(
                "bad", "filterTags: {pattern: '^(yesterday|number)$'}\n  policy: {numerical: {}}"
            ),
        ),
    )
    bad = only_bad.evaluate("bad")
    ready = condition(bad, "Ready")
    assert (ready.status, ready.reason) == ("False", "Failure")
    assert ready.message.startswith("no candidate has a build time: yesterday (its config's")
    assert bad.condition("Stalled") is None


# ------------------------------------------------------------- a registry that misbehaves


class Hostile:
    """A test double of a registry (the real one cannot be made to send bytes other than it
    stored, or fail on purpose): repository ``hostile`` with the tags of ``images``, each a
    manifest and config served as given, and a blob route that may be told to fail."""

    def __init__(self) -> None:
        self.images: dict[str, tuple[bytes, bytes]] = {}  # tag -> (manifest, config served)
        self.failing: set[str] = set()  # tags whose config answers 500
        self.server = LoopbackServer(self.answer)

    def add(self, tag: str, manifest: bytes, config: bytes) -> None:
        self.images[tag] = (manifest, config)

    def image(self, tag: str, created: str, *, served: bytes | None = None) -> None:
        config, _, manifest = tiny_image(tag, created=created)
        self.add(tag, manifest, config if served is None else served)

    def answer(self, seen: Seen) -> Reply:
        if seen.path == "/v2/hostile/tags/list":
            return 200, {}, json.dumps({"tags": sorted(self.images)}).encode()
        for tag, (manifest, config) in self.images.items():
            digest = sha256_digest(manifest)
            if seen.path in (f"/v2/hostile/manifests/{tag}", f"/v2/hostile/manifests/{digest}"):
                return (
                    200,
                    {
                        "Content-Type": json.loads(manifest)["mediaType"],
                        "Docker-Content-Digest": digest,
                    },
                    manifest,
                )
            wanted = json.loads(manifest).get("config", {}).get("digest")
            if seen.path == f"/v2/hostile/blobs/{wanted}":
                if tag in self.failing:
                    return 500, {}, b""
                return 200, {}, config
        return 404, {}, b'{"errors": [{"code": "MANIFEST_UNKNOWN"}]}'


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    double = Hostile()
    with double.server:
        yield double


def test_a_registry_that_lies_fails_that_candidate_and_a_5xx_fails_the_policy(
    redis_url: str, tmp_path: Path, hostile: Hostile
) -> None:
    hostile.image("good", "2024-01-01T00:00:00Z")
    hostile.image("liar", "2030-01-01T00:00:00Z", served=b'{"created": "2031-01-01T00:00:00Z"}')
    config, _, manifest = tiny_image("flood", created="2030-01-01T00:00:00Z")
    hostile.add("flood", manifest, config + b" " * 100_000)  # more than its manifest says
    hostile.add("huge", b'{"mediaType": "x", "pad": "' + b"y" * (5 << 20) + b'"}', b"")
    pipeline = Pipeline(
        redis_url,
        tmp_path,
        manifests(f"{hostile.server.host}/hostile", policy("newest", "policy: {numerical: {}}")),
    )
    pipeline.scan()
    newest = pipeline.status("newest")
    assert newest.latest_ref is not None and newest.latest_ref.tag == "good"
    assert condition(newest, "Ready").message.endswith(
        "skipped 3 without a build time: liar (its config does not match its digest), huge "
        "(its manifest over its size bound), flood (its config over its size bound)"
    )
    # what the registry sent wrong is not cached: asked again on the next run
    assert pipeline.store.tag_digests(APP).keys() == {"good", "liar", "flood"}
    hostile.server.requests.clear()
    pipeline.evaluate("newest")
    assert len(hostile.server.paths("/v2/hostile/blobs/")) == 2  # liar's and flood's
    assert len(hostile.server.paths("/v2/hostile/manifests/")) == 3  # by digest; huge by tag

    # a newer build whose config answers 500: the policy fails (retried), choosing no older
    # build for want of reading it; what it read meanwhile stays
    hostile.image("newer", "2025-01-01T00:00:00Z")
    hostile.failing.add("newer")
    pipeline.scan()
    ready = condition(pipeline.status("newest"), "Ready")
    assert (ready.status, ready.reason) == ("False", "TransientFailure")
    assert ready.message.startswith("build time of newer: get blob sha256:")
    assert ready.message.endswith("after 4 attempt(s): HTTP 500")
    assert pipeline.status("newest").condition("Stalled") is None
    assert pipeline.status("newest").latest_ref.tag == "good"  # type: ignore[union-attr]
    assert "newer" in pipeline.store.tag_digests(APP)
    hostile.failing.clear()
    hostile.server.requests.clear()
    status = pipeline.evaluate("newest")
    assert status.latest_ref is not None and status.latest_ref.tag == "newer"
    newer_config = json.loads(hostile.images["newer"][0])["config"]["digest"]
    assert f"/v2/hostile/blobs/{newer_config}" in hostile.server.paths()
    assert "/v2/hostile/manifests/newer" not in hostile.server.paths()  # its digest was kept


# ---------------------------------------------------------------------- the annotations


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        pytest.param(
            "conveyor.dev/order-by: newest",
            "annotation conveyor.dev/order-by: 'newest' is not one of: policy, build-time",
            id="unknown-order",
        ),
        pytest.param(
            "conveyor.dev/order-by: build-time, conveyor.dev/build-platform: 'linux'",
            "annotation conveyor.dev/build-platform: 'linux' is not os/architecture[/variant] "
            "(e.g. linux/arm64)",
            id="bad-platform",
        ),
        pytest.param(
            "conveyor.dev/build-platform: linux/arm64",
            "annotation conveyor.dev/build-platform is set, but only conveyor.dev/order-by: "
            "build-time reads it",
            id="platform-alone",
        ),
    ],
)
def test_an_annotation_conveyor_does_not_know_is_stalled_by_name(
    redis_url: str, tmp_path: Path, annotations: str, message: str
) -> None:
    pipeline = Pipeline(
        redis_url,
        tmp_path,
        manifests("registry.example:5000/app", policy("p", "policy: {numerical: {}}", annotations)),
    )
    pipeline.store.put_tags(APP, ["1", "2"])
    status = pipeline.evaluate("p")
    ready, stalled = condition(status, "Ready"), condition(status, "Stalled")
    assert (ready.status, ready.reason, ready.message) == ("False", "InvalidPolicy", message)
    assert stalled.status == "True"
    assert status.latest_ref is None


def test_order_by_policy_is_fluxs_order_and_bounds_no_run(redis_url: str, tmp_path: Path) -> None:
    pipeline = Pipeline(
        redis_url,
        tmp_path,
        manifests(
            "registry.example:5000/app",
            policy("p", "policy: {numerical: {}}", "conveyor.dev/order-by: policy"),
            policy("b", "policy: {numerical: {}}"),
        ),
    )
    pipeline.store.put_tags(APP, ["1", "2"])
    status = pipeline.evaluate("p")
    assert status.latest_ref is not None and status.latest_ref.tag == "2"
    assert condition(status, "Ready").message == (
        "Latest image tag for registry.example:5000/app resolved to 2"
    )
    # a policy that reads the registry for build times runs within its repository's timeout
    b = pipeline.store.get_object(object_key("ImagePolicy", "flux-system", "b"))
    assert b is not None and run_timeout(b, pipeline.store) == 60.0


# -------------------------------------------------------------------------- the cache


def test_the_build_cache_keeps_the_most_recently_read(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_mod, "MAX_BUILDS", 3)
    store = Store.from_url(redis_url)
    store.put_builds({"a": "1", "b": "2", "c": "3"})
    assert store.get_builds(["a", "x"]) == {"a": "1"}  # a read now: b is the oldest
    store.put_builds({"d": "4"})
    assert store.get_builds(["a", "b", "c", "d"]) == {"a": "1", "c": "3", "d": "4"}
    store.put_builds({"e": "5", "f": "6"})
    assert len(store.get_builds(["a", "b", "c", "d", "e", "f"])) == 3


# ------------------------------------------------------------------------ the pure parts


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2024-03-01T10:00:00Z", 1_709_287_200 * 10**9),
        ("2024-03-01t10:00:00z", 1_709_287_200 * 10**9),
        ("2024-03-01T12:00:00+02:00", 1_709_287_200 * 10**9),
        ("2024-03-01T09:30:00-00:30", 1_709_287_200 * 10**9),
        ("2024-03-01T10:00:00.5Z", 1_709_287_200 * 10**9 + 500_000_000),
        ("2024-03-01T10:00:00.123456789Z", 1_709_287_200 * 10**9 + 123_456_789),
    ],
)
def test_rfc3339_times_to_the_nanosecond(text: str, ns: int) -> None:
    assert parse_created(text) == ns


@pytest.mark.parametrize(
    "text",
    [
        "2024-03-01 10:00:00Z",  # RFC 3339's T (Go's too)
        "2024-03-01T10:00:00",  # no zone
        "2024-03-01T10:00:00.1234567891Z",  # past nanoseconds
        "2024-13-01T10:00:00Z",
        "2024-02-30T10:00:00Z",
        "2024-03-01T24:00:00Z",
        "2024-03-01T10:00:60Z",
        "2024-03-01T10:00:00+24:00",
        "2024-03-01T10:00:00+01:60",
        "0000-01-01T00:00:00Z",
        "２０２４-03-01T10:00:00Z",  # digits of another script
        "2024-03-01T10:00:00Z\n",
    ],
)
def test_what_is_not_rfc3339_is_refused(text: str) -> None:
    with pytest.raises(Unusable):
        parse_created(text)


@pytest.mark.parametrize(
    ("config", "why"),
    [
        (b'{"created": "0001-01-01T00:00:00Z"}', "a reproducible build's fixed time"),
        (b'{"created": "1980-01-01T00:00:01Z"}', "a reproducible build's fixed time"),
        (b'{"created": null}', "its config has no created"),
        (b'"2024-01-01T00:00:00Z"', "its config is not a JSON object"),
        (b"\xff\xfe", "its config is not valid JSON"),
    ],
)
def test_configs_without_a_build_time(config: bytes, why: str) -> None:
    with pytest.raises(Unusable, match=why):
        read_config(config)
    assert read_config(b'{"created": "1980-01-01T00:00:02Z"}').ns == 315_532_802 * 10**9


def entry(platform: dict[str, str], digest: str = "sha256:" + "a" * 64) -> dict[str, object]:
    media = "application/vnd.oci.image.manifest.v1+json"
    return {"mediaType": media, "digest": digest, "size": 1, "platform": platform}


def test_the_platforms_entry_of_an_index() -> None:
    d = ["sha256:" + c * 64 for c in "0123456"]
    index = {
        "manifests": [
            {"mediaType": "x", "digest": d[0], "size": 1},  # no platform: skipped
            entry({"os": "unknown", "architecture": "unknown"}, d[1]),  # an attestation
            entry({"os": "linux", "architecture": "arm", "variant": "v6"}, d[2]),
            entry({"os": "linux", "architecture": "arm", "variant": "v7"}, d[3]),
            entry({"os": "linux", "architecture": "arm64", "variant": "v8"}, d[4]),
            entry({"os": "linux", "architecture": "amd64"}, d[5]),
            entry({"os": "linux", "architecture": "amd64", "variant": "v3"}, d[6]),
        ]
    }
    assert platform_manifest(index, Platform("linux", "arm64")).digest == d[4]  # v8 is none
    assert platform_manifest(index, Platform("linux", "arm64", "v8")).digest == d[4]
    assert platform_manifest(index, Platform("linux", "arm", "v7")).digest == d[3]
    assert platform_manifest(index, Platform("linux", "arm")).digest == d[2]  # the first
    assert platform_manifest(index, Platform("linux", "amd64")).digest == d[5]  # no variant
    assert platform_manifest(index, Platform("linux", "amd64", "v3")).digest == d[6]
    with pytest.raises(Unusable, match="no windows/amd64 manifest"):
        platform_manifest(index, Platform("windows", "amd64"))
    nested = {
        "manifests": [
            {
                **entry({"os": "linux", "architecture": "amd64"}),
                "mediaType": "application/vnd.oci.image.index.v1+json",
            }
        ]
    }
    with pytest.raises(Unusable, match="not an image manifest"):
        platform_manifest(nested, Platform("linux", "amd64"))
    bad_digest = {"manifests": [entry({"os": "linux", "architecture": "amd64"}, "sha256:../x")]}
    with pytest.raises(Unusable, match="has no valid digest"):
        platform_manifest(bad_digest, Platform("linux", "amd64"))


def test_manifests_by_type_or_shape() -> None:
    image = {"config": {"mediaType": "x", "digest": "d", "size": 1}}
    assert read_manifest(json.dumps(image).encode(), "application/json")[0] is False
    assert read_manifest(b'{"manifests": []}', "")[0] is True
    docker_list = b'{"mediaType": "application/vnd.docker.distribution.manifest.list.v2+json"}'
    assert read_manifest(docker_list, "")[0] is True
    with pytest.raises(Unusable, match="not an image"):
        read_manifest(b'{"mediaType": "application/vnd.oci.artifact.manifest.v1+json"}', "")
    helm = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.cncf.helm.config.v1+json",
            "digest": "sha256:" + hashlib.sha256(b"{}").hexdigest(),
            "size": 2,
        },
    }
    with pytest.raises(Unusable, match="not an image's"):
        builds.config_descriptor(read_manifest(json.dumps(helm).encode(), "")[1])
