"""Anonymous scans of the real Distribution registry (Debian ``docker-registry``) over HTTP."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from conveyor.services.demo.oci import push_tags
from conveyor.shared.adapters.oci import client as client_module
from conveyor.shared.adapters.oci.client import RegistryClient, RegistryOptions, list_tags
from conveyor.shared.adapters.oci.reference import ImageRef, parse_image
from conveyor.shared.errors import InvalidSpec, PermanentError
from tests.fixtures.loopback import LoopbackServer, Reply, Seen
from tests.fixtures.registries import Registry

TAGS = ["1.0.0", "1.1.0", "2.0.0-rc.1", "latest"]
MANY = 1200  # with page_size 100: twelve pages on a registry that paginates
INSECURE = RegistryOptions(insecure=True, timeout=10.0)


@dataclass
class Pushed:
    registry: Registry
    digest: str
    many: list[str]


@pytest.fixture(scope="module")
def pushed() -> Iterator[Pushed]:
    with Registry() as registry:
        digest = push_tags(registry.url, "team/app", TAGS)
        many = [f"build-{i:05d}" for i in range(MANY)]
        push_tags(registry.url, "team/many", many, workers=2)
        yield Pushed(registry, digest, many)


def client(pushed: Pushed, repository: str, options: RegistryOptions = INSECURE) -> RegistryClient:
    return RegistryClient(ImageRef(pushed.registry.host, repository), options)


def test_lists_tags_anonymously(pushed: Pushed) -> None:
    with client(pushed, "team/app") as c:
        assert sorted(c.list_tags()) == sorted(TAGS)


def test_convenience_list_tags_parses_the_image(pushed: Pushed) -> None:
    assert sorted(list_tags(f"{pushed.registry.host}/team/app", INSECURE)) == sorted(TAGS)


def test_head_digest_is_the_pushed_manifest_digest(pushed: Pushed) -> None:
    with client(pushed, "team/app") as c:
        assert c.head_digest("1.1.0") == pushed.digest
        assert c.head_digest("latest") == pushed.digest


def test_unknown_tag_is_manifest_not_found(pushed: Pushed) -> None:
    with client(pushed, "team/app") as c, pytest.raises(PermanentError) as info:
        c.head_digest("9.9.9")
    assert info.value.reason == "ManifestNotFound"


def test_invalid_tag_is_rejected_before_any_request(pushed: Pushed) -> None:
    with client(pushed, "team/app") as c:
        with pytest.raises(InvalidSpec):
            c.head_digest("../../etc")
        assert c.requests_made == 0


def test_unknown_repository_is_image_repository_not_found(pushed: Pushed) -> None:
    with client(pushed, "team/nothing-here") as c, pytest.raises(PermanentError) as info:
        c.list_tags()
    assert info.value.reason == "ImageRepositoryNotFound"
    assert f"{pushed.registry.host}/team/nothing-here" in str(info.value)
    assert "NAME_UNKNOWN" in str(info.value)


@pytest.fixture(autouse=True)
def new_process() -> None:
    """Each test starts as a new process would: no registry's scheme known yet."""
    client_module._SCHEMES.clear()


def test_insecure_picks_http_once_and_keeps_it(pushed: Pushed) -> None:
    with client(pushed, "team/app") as c:
        c.list_tags()
        c.list_tags()
        c.head_digest("latest")
        assert c.requests_made == 1 + 3  # one failed https attempt, then http for good
    with client(pushed, "team/app") as again:  # the next client of this process knows
        again.list_tags()
        assert again.requests_made == 1


def test_plain_http_is_refused_without_insecure(pushed: Pushed) -> None:
    options = RegistryOptions(timeout=10.0)
    with client(pushed, "team/app", options) as c, pytest.raises(PermanentError) as info:
        c.list_tags()
    assert info.value.reason == "TLSHandshakeFailed"
    assert "spec.insecure" in str(info.value)
    assert c.requests_made == 1  # not retried: it cannot get better


def test_many_tags_with_small_pages(pushed: Pushed) -> None:
    """Every tag comes back with ``page_size=100``; pages are followed when the registry
    paginates. Debian's Distribution 2.8 ignores ``n`` and returns all tags in one answer
    (Link-following itself is tested against a scripted server in test_retries.py)."""
    probe = httpx.get(f"{pushed.registry.url}/v2/team/many/tags/list?n=1")
    paginates = "link" in probe.headers
    options = RegistryOptions(insecure=True, page_size=100, timeout=10.0)
    with client(pushed, "team/many", options) as c:
        tags = c.list_tags()
        pages = c.requests_made - 1  # minus the failed https attempt
    assert sorted(tags) == pushed.many
    assert pages == (math.ceil(MANY / 100) if paginates else 1)


def test_canonical_name_of_the_fixture(pushed: Pushed) -> None:
    ref = parse_image(f"{pushed.registry.host}/team/app")
    assert ref.canonical == f"127.0.0.1:{pushed.registry.port}/team/app"


def test_registry_sends_push_notifications() -> None:
    """The fixture's ``notifications`` hook: the real registry POSTs a push event envelope."""
    received = threading.Event()

    def handle(seen: Seen) -> Reply:
        received.set()
        return 200, {}, b""

    with LoopbackServer(handle) as sink, Registry(notifications=[f"{sink.url}/events"]) as reg:
        digest = push_tags(reg.url, "team/notify", ["v1"])
        assert received.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            events = [
                e
                for r in sink.requests
                for e in json.loads(r.body)["events"]
                if e["action"] == "push" and e["target"].get("tag") == "v1"
            ]
            if events:
                break
            time.sleep(0.05)
    (event,) = events
    assert event["target"]["repository"] == "team/notify"
    assert event["target"]["digest"] == digest
    # Distribution 2.8 sends events.v1+json, v3 sends events.v2+json (same envelope)
    content_type = sink.requests[0].headers["content-type"]
    assert content_type.startswith("application/vnd.docker.distribution.events.v")


def test_pagination_to_the_end_on_a_registry_that_pages() -> None:
    """Distribution v3 honours ``n=`` and sends ``Link``: 2,500 tags in pages of 100."""
    from tests.fixtures.registries import distribution_v3

    tags = [f"1.0.{i}" for i in range(2500)]
    with Registry(binary=distribution_v3()) as reg:
        push_tags(reg.url, "team/paged", tags, workers=4)
        ref = parse_image(f"{reg.host}/team/paged")
        options = RegistryOptions(insecure=True, page_size=100, timeout=10.0)
        with RegistryClient(ref, options) as c:
            listed = c.list_tags()
            requests = c.requests_made
    assert sorted(listed) == sorted(tags)
    assert len(listed) == len(set(listed))
    assert requests == 25 + 1  # 25 pages, plus the https probe an insecure client makes first
