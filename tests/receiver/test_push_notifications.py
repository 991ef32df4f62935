"""A registry's push notification names the repository and the tag: the receiver wakes only the
ImageRepositories it names, with that tag, and the scanner takes the tag in after one check on
the registry, without listing every tag; the next scan confirms.

The Distribution envelope is the one the real registry sends (tests/e2e checks that path end to
end); Harbor's, Docker Hub's and Quay's are built as those services document them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conveyor.services.receiver.app import create_app
from conveyor.services.receiver.webhooks import MAX_PUSHED, pushed_tags, pushed_to, webhook_path
from conveyor.services.registry_scanner.reconcile import STAGE
from conveyor.services.registry_scanner.tags import tag_set_revision
from conveyor.shared.bus import InlineDispatcher
from conveyor.shared.events import ReconcileRequested
from conveyor.shared.manifests import load_directory, parse_manifests
from conveyor.shared.runtime import Context, handle
from conveyor.shared.status import ImageRepositoryStatus
from conveyor.shared.store import Store
from tests.conftest import push
from tests.fixtures.registries import Registry


def envelope(*events: dict[str, object]) -> bytes:
    return json.dumps({"events": list(events)}).encode()


def pushed(repository: str, tag: str | None = None, action: str = "push") -> dict[str, object]:
    target: dict[str, object] = {"repository": repository, "mediaType": "application/x"}
    if tag is not None:
        target["tag"] = tag
    return {"action": action, "target": target, "request": {"host": "registry:5000"}}


def test_each_providers_notification_names_repositories_and_tags() -> None:
    body = envelope(
        pushed("team/app", "v2"), pushed("team/app", "v3"), pushed("team/app"),  # a blob push
        pushed("other", "v1", action="pull"), pushed("gone", "old", action="delete"),
    )
    assert pushed_tags("generic", body) == {"team/app": {"v2", "v3"}, "gone": set()}
    assert pushed_tags("generic-hmac", envelope()) == {}  # a notification of nothing new
    harbor = {
        "type": "PUSH_ARTIFACT",
        "event_data": {
            "resources": [{"tag": "1.2", "resource_url": "harbor.example/lib/app:1.2"}],
            "repository": {"name": "app", "namespace": "lib", "repo_full_name": "lib/app"},
        },
    }
    assert pushed_tags("harbor", json.dumps(harbor).encode()) == {"lib/app": {"1.2"}}
    deleted = {**harbor, "type": "DELETE_ARTIFACT"}
    assert pushed_tags("harbor", json.dumps(deleted).encode()) == {"lib/app": set()}
    hub = {"push_data": {"tag": "latest", "pusher": "u"}, "repository": {"repo_name": "u/app"}}
    assert pushed_tags("dockerhub", json.dumps(hub).encode()) == {"u/app": {"latest"}}
    quay = {"repository": "ns/app", "docker_url": "quay.io/ns/app", "updated_tags": ["a", "b"]}
    assert pushed_tags("quay", json.dumps(quay).encode()) == {"ns/app": {"a", "b"}}


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"ref": "refs/heads/main"}',  # some other JSON: not a notification
        envelope(pushed("team/app", "bad tag")),
        envelope(pushed("team/app", "-leading-dash")),
        envelope(pushed("Team/App", "v1")),  # upper case: no repository path
        envelope(pushed("../etc", "v1")),
        envelope({"action": "push", "target": "team/app"}),
        envelope(*[pushed("team/app", f"t{i}") for i in range(MAX_PUSHED + 1)]),
        b"[" * 100_000,  # deeper than any parser should go
    ],
)
def test_anything_else_is_no_notification(body: bytes) -> None:
    """Then every target is woken, as Flux does: nothing is read from the body."""
    assert pushed_tags("generic", body) is None
    assert pushed_tags("github", envelope(pushed("team/app", "v1"))) is None


def test_docker_hubs_official_images_are_found_by_either_name() -> None:
    assert pushed_to("library/nginx", {"nginx": {"1.27"}}) == ("1.27",)
    assert pushed_to("team/app", {"team/app": set()}) == ()
    assert pushed_to("team/other", {"team/app": {"v1"}}) is None


TOKEN = "registry-hook-token"
MANIFESTS = f"""
apiVersion: v1
kind: Secret
metadata: {{name: hook, namespace: flux-system}}
stringData: {{token: {TOKEN}}}
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {{name: registry, namespace: flux-system}}
spec:
  type: generic
  secretRef: {{name: hook}}
  resources:
    - {{kind: ImageRepository, name: "*", matchLabels: {{}}}}
    - {{kind: GitRepository, name: app}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: app, namespace: flux-system}}
spec: {{url: /nowhere, interval: 1m}}
""" + "".join(
    f"""---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: {name}, namespace: flux-system}}
spec: {{image: {image}, interval: 1m}}
"""
    for name, image in (("one", "registry.example:5000/team/one"),
                        ("two", "registry.example:5000/team/two"),
                        ("nginx", "nginx"))
)


def test_a_notification_wakes_only_the_image_repositories_it_names(redis_url: str) -> None:
    store = Store.from_url(redis_url)
    store.put_objects(parse_manifests(MANIFESTS))
    dispatcher = InlineDispatcher()
    http = TestClient(create_app(Context(store=store, dispatcher=dispatcher)))
    path = webhook_path(TOKEN, "registry", "flux-system")
    answer = http.post(path, content=envelope(pushed("team/one", "v2"), pushed("nginx", "1.27")))
    assert answer.json()["accepted"] == [
        "ImageRepository/flux-system/nginx",
        "ImageRepository/flux-system/one",
        "GitRepository/flux-system/app",  # not an image: woken as in Flux
    ]
    sent = {m["name"]: tuple(m["tags"]) for _, m in dispatcher.queue}
    assert sent == {"nginx": ("1.27",), "one": ("v2",), "app": ()}
    for key in list(sent):
        store.unmark_queued(next(k for k in answer.json()["accepted"] if k.endswith("/" + key)))
    dispatcher.queue.clear()
    answer = http.post(path, content=b'{"something": "else"}')  # no notification: all of them
    assert len(answer.json()["accepted"]) == 4
    assert all(m["tags"] == [] for _, m in dispatcher.queue)


def test_the_scanner_takes_a_pushed_tag_in_without_listing(
    redis_url: str, registry: Registry, tmp_path: Path
) -> None:
    from conveyor.services.demo.scenario import create

    demo = create(tmp_path / "demo", registry.host, repository=f"notified-{tmp_path.name[-12:]}")
    push(registry, demo, ["v1", "v2"])
    store = Store.from_url(redis_url)
    store.put_objects(load_directory(demo.manifests).objects)
    dispatcher = InlineDispatcher()
    ctx = Context(store=store, dispatcher=dispatcher)
    key = store.keys("ImageRepository")[0]
    _, namespace, name = key.split("/")

    def request(*tags: str) -> list[str]:
        dispatcher.queue.clear()
        event = ReconcileRequested(kind="ImageRepository", namespace=namespace, name=name,
                                   tags=tags)
        handle(STAGE, event.to_message(), ctx)
        return sorted(store.get_tags(key) or [])

    assert request("v2") == ["v1", "v2"]  # nothing stored yet: a whole scan
    first = store.get_status(key, ImageRepositoryStatus).last_scan_result
    assert first is not None
    push(registry, demo, ["v3", "v4"])
    # v4 is on the registry too, but only v3 was announced: no listing, one check
    assert request("v3") == ["v1", "v2", "v3"]
    scanned = [m for _, m in dispatcher.queue if m["type"] == "TagsScanned"]
    assert [m["revision"] for m in scanned] == [tag_set_revision(["v1", "v2", "v3"])]
    status = store.get_status(key, ImageRepositoryStatus)
    assert status.last_scan_result is not None
    assert status.last_scan_result.tag_count == 3
    assert status.last_scan_result.scan_time == first.scan_time  # no scan happened
    assert request("v3") == ["v1", "v2", "v3"]  # known already: nothing announced
    assert not [m for _, m in dispatcher.queue if m["type"] == "TagsScanned"]
    # an announced tag the registry does not have is not taken on trust: a whole scan instead
    assert request("forged") == ["v1", "v2", "v3", "v4"]
    push(registry, demo, ["v5"])
    assert request() == ["v1", "v2", "v3", "v4", "v5"]  # the interval's scan lists them all
