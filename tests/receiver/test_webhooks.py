"""The receiver: Flux's webhook path, each provider's signature check, and the status API.

GitHub, GitLab, Harbor, Docker Hub and Nexus cannot call us here; the requests below are
built as those services document them (a stand-in for the providers, not for our server, which
runs for real on a real Redis through FastAPI's test client).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conveyor.services.receiver.app import MAX_BODY_BYTES, create_app
from conveyor.services.receiver.webhooks import Rejected, replay_keys, verify, webhook_path
from conveyor.shared.bus import InlineDispatcher
from conveyor.shared.manifests import parse_manifests
from conveyor.shared.runtime import Context
from conveyor.shared.store import Store

TOKEN = "webhook-token-0123456789"


def sign(body: bytes, algo: str = "sha256") -> str:
    return f"{algo}=" + hmac.new(TOKEN.encode(), body, getattr(hashlib, algo)).hexdigest()


BODY = b'{"ref": "refs/heads/master"}'
JSON = {"Content-Type": "application/json"}
SECRET = {"token": TOKEN}


class NoGoogleKeys:
    """The key set of a test that sends no gcr request: it finds no key."""

    def key(self, url: str, kid: str) -> dict[str, Any] | None:
        return None


def check(kind: str, headers: dict[str, str], events: list[str], body: bytes = BODY) -> bytes:
    return verify(kind, SECRET, headers, body, events, NoGoogleKeys())


@pytest.mark.parametrize(
    "kind, headers, events",
    [
        pytest.param("generic", {}, [], id="generic-needs-only-the-path"),
        pytest.param("generic-hmac", {"X-Signature": sign(BODY)}, [], id="generic-hmac"),
        pytest.param(
            "generic-hmac", {"X-Signature": sign(BODY, "sha1")}, [], id="generic-hmac-sha1"
        ),
        pytest.param(
            "generic-hmac", {"X-Signature": sign(BODY, "sha512")}, [], id="generic-hmac-sha512"
        ),
        pytest.param(
            "github",
            {**JSON, "X-Hub-Signature-256": sign(BODY), "X-GitHub-Event": "push"},
            ["push"],
            id="github-push",
        ),
        pytest.param(
            "github",
            {**JSON, "X-Hub-Signature": sign(BODY, "sha1"), "X-GitHub-Event": "push"},
            [],
            id="github-sha1-header",
        ),
        pytest.param(
            "github",
            {**JSON, "X-Hub-Signature-256": sign(BODY), "X-GitHub-Event": "ping"},
            [],
            id="github-ping-is-an-event-like-any",
        ),
        pytest.param(
            "github",
            {**JSON, "X-Hub-Signature-256": sign(BODY), "X-GitHub-Event": "PUSH"},
            ["push"],
            id="github-events-ignore-case",
        ),
        pytest.param(
            "github",
            {
                "Content-Type": "application/json; charset=utf-8",
                "X-Hub-Signature-256": sign(BODY),
                "X-GitHub-Event": "push",
            },
            [],
            id="github-json-with-charset",
        ),
        pytest.param(
            "gitlab",
            {"X-Gitlab-Token": TOKEN, "X-Gitlab-Event": "Push Hook"},
            ["Push Hook", "Tag Push Hook"],
            id="gitlab",
        ),
        pytest.param("harbor", {"Authorization": TOKEN}, [], id="harbor"),
        pytest.param("dockerhub", {}, [], id="dockerhub-path-is-the-credential"),
        pytest.param(
            "nexus", {"X-Nexus-Webhook-Signature": sign(BODY, "sha1")[5:]}, [], id="nexus"
        ),
    ],
)
def test_authentic_requests(kind: str, headers: dict[str, str], events: list[str]) -> None:
    assert check(kind, headers, events) == BODY


@pytest.mark.parametrize(
    "kind, headers, events",
    [
        pytest.param(
            "github",
            {**JSON, "X-Hub-Signature-256": sign(BODY), "X-GitHub-Event": "ping"},
            ["push"],
            id="github-ping-not-listed",
        ),
        pytest.param(
            "github",
            {**JSON, "X-Hub-Signature-256": sign(BODY), "X-GitHub-Event": "issues"},
            ["push"],
            id="github-unlisted-event",
        ),
        pytest.param(
            "gitlab",
            {"X-Gitlab-Token": TOKEN, "X-Gitlab-Event": "Merge Request Hook"},
            ["Push Hook"],
            id="gitlab-unlisted-event",
        ),
    ],
)
def test_events_not_listed_are_refused(
    kind: str, headers: dict[str, str], events: list[str]
) -> None:
    """Flux answers an authentic request for an event not in ``spec.events`` with 400."""
    with pytest.raises(Rejected, match="not authorised"):
        check(kind, headers, events)


@pytest.mark.parametrize(
    "kind, headers",
    [
        pytest.param("generic-hmac", {"X-Signature": "sha256=00"}, id="generic-hmac-wrong"),
        pytest.param("generic-hmac", {}, id="generic-hmac-missing"),
        pytest.param(
            "generic-hmac",
            {"X-Signature": "SHA256=" + sign(BODY)[7:]},
            id="generic-hmac-prefix-case",
        ),
        pytest.param("generic-hmac", {"X-Signature": "md5=00"}, id="generic-hmac-unknown-hash"),
        pytest.param(
            "github", {**JSON, "X-Hub-Signature-256": sign(b"other body")}, id="github-body"
        ),
        pytest.param("github", {"X-Hub-Signature-256": sign(BODY)}, id="github-no-content-type"),
        pytest.param(
            "github",
            {"Content-Type": "text/plain", "X-Hub-Signature-256": sign(BODY)},
            id="github-other-content-type",
        ),
        pytest.param("gitlab", {"X-Gitlab-Token": "nope"}, id="gitlab-wrong-token"),
        pytest.param("harbor", {}, id="harbor-missing"),
        pytest.param("nexus", {"X-Nexus-Webhook-Signature": "00"}, id="nexus-wrong"),
        pytest.param(
            "nexus",
            {"X-Nexus-Webhook-Signature": sign(BODY, "sha1")[5:].upper()},
            id="nexus-upper-case-hex",
        ),
    ],
)
def test_forged_requests_are_rejected_without_echoing_the_token(
    kind: str, headers: dict[str, str]
) -> None:
    with pytest.raises(Rejected) as err:
        check(kind, headers, [])
    assert TOKEN not in str(err.value)


@pytest.mark.parametrize(
    "kind, body",
    [
        pytest.param("dockerhub", b"", id="dockerhub-empty"),
        pytest.param("dockerhub", b"[]", id="dockerhub-array"),
        pytest.param("dockerhub", b'{"push_data": {"tag": 1}}', id="dockerhub-tag-number"),
        pytest.param("quay", b'{"updated_tags": "latest"}', id="quay-tags-not-a-list"),
        pytest.param("quay", b'{"docker_url": NaN}', id="quay-nan"),
        pytest.param("acr", b'{"target": []}', id="acr-target-array"),
        pytest.param("nexus", b'{"action": "CREATED"} trailing', id="nexus-trailing-data"),
    ],
)
def test_bodies_flux_cannot_decode_are_refused(kind: str, body: bytes) -> None:
    headers = {"X-Nexus-Webhook-Signature": sign(body, "sha1")[5:]}
    with pytest.raises(Rejected, match="cannot decode"):
        check(kind, headers, [], body)


def test_bodies_flux_decodes_are_accepted() -> None:
    """Go's decoder reads the first value only, matches field names ignoring case, takes
    null for any field and skips the fields it does not know."""
    for body in (
        b'{"push_data": {"tag": "v1"}} and then anything',
        b'{"PUSH_DATA": {"Tag": "v1"}, "other": [1, 2]}',
        b'{"push_data": null}',
        b"null",
    ):
        assert check("dockerhub", {}, [], body) == body


def test_the_path_is_fluxs() -> None:
    expected = hashlib.sha256(f"{TOKEN}github-receiverflux-system".encode()).hexdigest()
    assert webhook_path(TOKEN, "github-receiver", "flux-system") == f"/hook/{expected}"


MANIFESTS = f"""
apiVersion: v1
kind: Secret
metadata: {{name: hook-token, namespace: flux-system}}
stringData: {{token: {TOKEN}}}
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {{name: github-receiver, namespace: flux-system}}
spec:
  type: github
  events: [push]
  secretRef: {{name: hook-token}}
  resources:
    - kind: GitRepository
      name: app
    - kind: ImageRepository
      name: "*"
      matchLabels: {{}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: app, namespace: flux-system}}
spec: {{url: /nowhere, interval: 1m}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: one, namespace: flux-system}}
spec: {{image: example.com/one, interval: 1m}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: two, namespace: flux-system}}
spec: {{image: example.com/two, interval: 1m}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: elsewhere, namespace: other}}
spec: {{image: example.com/x, interval: 1m}}
"""


class Taken(InlineDispatcher):
    """Requests taken off the queue as soon as they are sent, as idle workers would start
    their runs: a later request for the same object is queued anew, not merged."""

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store

    def send(self, service: str, message: dict[str, Any], countdown: float = 0.0) -> None:
        super().send(service, message, countdown)
        if message["type"] == "ReconcileRequested":
            self.store.unmark_queued(f"{message['kind']}/{message['namespace']}/{message['name']}")


@pytest.fixture
def client(redis_url: str) -> tuple[TestClient, InlineDispatcher]:
    store = Store.from_url(redis_url)
    for obj in parse_manifests(MANIFESTS):
        store.put_object(obj)
    dispatcher = Taken(store)
    ctx = Context(store=store, dispatcher=dispatcher)
    return TestClient(create_app(ctx)), dispatcher


def test_webhooks_for_an_object_already_queued_are_merged(redis_url: str) -> None:
    """Flux's work queue never holds an object twice: a second webhook while the first one's
    requests still wait queues nothing more (the waiting runs will see what it announces)."""
    store = Store.from_url(redis_url)
    for obj in parse_manifests(MANIFESTS):
        store.put_object(obj)
    dispatcher = InlineDispatcher()
    http = TestClient(create_app(Context(store=store, dispatcher=dispatcher)))
    for delivery in ("a", "b", "c"):
        body = delivery.encode() + BODY
        answer = http.post(GITHUB_PATH, content=body, headers=github_headers(body, delivery))
        assert len(answer.json()["accepted"]) == 3
    assert len(dispatcher.queue) == 3  # one request per object
    store.unmark_queued("GitRepository/flux-system/app")  # a worker started that one's run
    body = b"d" + BODY
    http.post(GITHUB_PATH, content=body, headers=github_headers(body, "d"))
    assert [m["kind"] for _, m in list(dispatcher.queue)[3:]] == ["GitRepository"]


def test_a_signed_push_requests_reconciles_of_its_resources(
    client: tuple[TestClient, InlineDispatcher],
) -> None:
    http, dispatcher = client
    path = webhook_path(TOKEN, "github-receiver", "flux-system")
    answer = http.post(path, content=BODY, headers=github_headers(BODY))
    assert answer.status_code == 200
    assert answer.json()["accepted"] == [
        "GitRepository/flux-system/app",
        "ImageRepository/flux-system/one",
        "ImageRepository/flux-system/two",
    ]
    sent = [(service, m["kind"], m["name"], m["reason"]) for service, m in dispatcher.queue]
    assert sent == [
        ("source-fetcher", "GitRepository", "app", "webhook"),
        ("registry-scanner", "ImageRepository", "one", "webhook"),
        ("registry-scanner", "ImageRepository", "two", "webhook"),
    ]


def test_bad_signature_unknown_path_and_ping(client: tuple[TestClient, InlineDispatcher]) -> None:
    http, dispatcher = client
    path = webhook_path(TOKEN, "github-receiver", "flux-system")
    forged = http.post(
        path, content=BODY, headers={**github_headers(BODY), "X-Hub-Signature-256": "sha256=00"}
    )
    assert forged.status_code == 400 and TOKEN not in forged.text  # Flux: 400
    assert http.post("/hook/" + "0" * 64, content=BODY).status_code == 404
    # the Receiver lists only push (Flux's example lists ping too, for GitHub's first call)
    ping = http.post(path, content=BODY, headers={**github_headers(BODY), "X-GitHub-Event": "ping"})
    assert ping.status_code == 400 and "not authorised" in ping.json()["detail"]
    assert not dispatcher.queue


def test_status_api_shows_the_webhook_path_and_never_a_secret(
    client: tuple[TestClient, InlineDispatcher],
) -> None:
    http, _ = client
    objects: list[dict[str, Any]] = http.get("/api/v1/objects").json()
    receiver = next(o for o in objects if o["kind"] == "Receiver")
    assert receiver["status"]["webhookPath"] == webhook_path(
        TOKEN, "github-receiver", "flux-system"
    )
    assert receiver["status"]["conditions"][0]["status"] == "True"
    assert all(o["kind"] != "Secret" for o in objects)
    assert http.get("/api/v1/objects/Secret/flux-system/hook-token").status_code == 404
    one = http.get("/api/v1/objects/ImageRepository/flux-system/one").json()
    assert one["spec"]["image"] == "example.com/one"
    assert TOKEN not in json.dumps(objects) + http.get("/metrics").text
    assert http.get("/openapi.json").json()["info"]["title"] == "conveyor receiver"


GITHUB_PATH = webhook_path(TOKEN, "github-receiver", "flux-system")
HMAC_PATH = webhook_path(TOKEN, "hmac-receiver", "flux-system")


def github_headers(body: bytes, delivery: str | None = None) -> dict[str, str]:
    headers = {**JSON, "X-Hub-Signature-256": sign(body), "X-GitHub-Event": "push"}
    if delivery is not None:
        headers["X-GitHub-Delivery"] = delivery
    return headers


def test_a_body_over_the_limit_is_refused_by_its_content_length(
    client: tuple[TestClient, InlineDispatcher],
) -> None:
    http, dispatcher = client
    body = b"x" * (MAX_BODY_BYTES + 1)
    answer = http.post(GITHUB_PATH, content=body, headers=github_headers(body))
    assert answer.status_code == 413
    assert not dispatcher.queue


def test_a_chunked_body_over_the_limit_is_refused(
    client: tuple[TestClient, InlineDispatcher],
) -> None:
    http, dispatcher = client
    chunk = b"x" * (64 * 1024)
    count = MAX_BODY_BYTES // len(chunk) + 1
    body = chunk * count

    def chunks() -> Iterator[bytes]:
        for _ in range(count):
            yield chunk

    answer = http.post(GITHUB_PATH, content=chunks(), headers=github_headers(body))
    assert answer.status_code == 413
    assert not dispatcher.queue


def test_a_body_just_under_the_limit_is_accepted(
    client: tuple[TestClient, InlineDispatcher],
) -> None:
    http, dispatcher = client
    body = b" " * (MAX_BODY_BYTES - 1)
    answer = http.post(GITHUB_PATH, content=body, headers=github_headers(body))
    assert answer.status_code == 200
    assert len(answer.json()["accepted"]) == 3 and len(dispatcher.queue) == 3


@pytest.mark.parametrize(
    "content_length",
    [
        pytest.param(None, id="no-content-length"),
        pytest.param("10", id="a-lying-content-length"),
        pytest.param(str(MAX_BODY_BYTES + 1), id="a-content-length-over-the-limit"),
    ],
)
def test_the_body_is_not_read_past_the_limit(redis_url: str, content_length: str | None) -> None:
    """At the ASGI level, a client that sends forever: the app stops taking its chunks."""
    store = Store.from_url(redis_url)
    for obj in parse_manifests(MANIFESTS):
        store.put_object(obj)
    dispatcher = InlineDispatcher()
    app = create_app(Context(store=store, dispatcher=dispatcher))
    chunk = b"x" * (64 * 1024)
    received = 0
    sent: list[MutableMapping[str, Any]] = []
    headers = [(b"x-github-event", b"push"), (b"x-hub-signature-256", b"sha256=00")]
    if content_length is not None:
        headers.append((b"content-length", content_length.encode()))
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": GITHUB_PATH,
        "raw_path": GITHUB_PATH.encode(),
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert received <= MAX_BODY_BYTES + len(chunk)
    if content_length == str(MAX_BODY_BYTES + 1):
        assert received == 0
    assert not dispatcher.queue


def test_a_replayed_github_delivery_publishes_once(
    client: tuple[TestClient, InlineDispatcher],
) -> None:
    http, dispatcher = client
    first = http.post(GITHUB_PATH, content=BODY, headers=github_headers(BODY, "delivery-1"))
    assert first.status_code == 200 and len(first.json()["accepted"]) == 3
    again = http.post(GITHUB_PATH, content=BODY, headers=github_headers(BODY, "delivery-1"))
    assert again.status_code == 200
    assert again.json() == {"accepted": [], "duplicate": True}
    # the same signed body under a new delivery id is the same delivery
    renamed = http.post(GITHUB_PATH, content=BODY, headers=github_headers(BODY, "delivery-2"))
    assert renamed.json() == {"accepted": [], "duplicate": True}
    assert len(dispatcher.queue) == 3
    other = b'{"ref": "refs/heads/master", "after": "abc"}'
    second = http.post(GITHUB_PATH, content=other, headers=github_headers(other, "delivery-3"))
    assert second.status_code == 200 and len(second.json()["accepted"]) == 3
    assert len(dispatcher.queue) == 6


def test_a_replayed_generic_hmac_body_publishes_once(
    client: tuple[TestClient, InlineDispatcher], redis_url: str
) -> None:
    http, dispatcher = client
    store = Store.from_url(redis_url)
    for obj in parse_manifests(HMAC_RECEIVER):
        store.put_object(obj)
    forged = http.post(HMAC_PATH, content=BODY, headers={"X-Signature": "sha256=00"})
    assert forged.status_code == 400
    first = http.post(HMAC_PATH, content=BODY, headers={"X-Signature": sign(BODY)})
    assert first.json() == {"accepted": ["GitRepository/flux-system/app"]}
    again = http.post(HMAC_PATH, content=BODY, headers={"X-Signature": sign(BODY, "sha1")})
    assert again.json() == {"accepted": [], "duplicate": True}
    other = b'{"ref": "refs/heads/main"}'
    second = http.post(HMAC_PATH, content=other, headers={"X-Signature": sign(other)})
    assert second.json() == {"accepted": ["GitRepository/flux-system/app"]}
    # each Receiver keeps its own record: the GitHub one has not seen this body
    github = http.post(GITHUB_PATH, content=BODY, headers=github_headers(BODY))
    assert len(github.json()["accepted"]) == 3
    assert [m["name"] for _, m in dispatcher.queue] == ["app", "app", "app", "one", "two"]


def test_a_forged_replay_is_refused_and_uses_up_nothing(
    client: tuple[TestClient, InlineDispatcher],
) -> None:
    http, dispatcher = client
    forged = {**JSON, "X-Hub-Signature-256": "sha256=00", "X-GitHub-Event": "push"}
    unsigned = {**JSON, "X-GitHub-Event": "push", "X-GitHub-Delivery": "delivery-1"}
    assert http.post(GITHUB_PATH, content=BODY, headers=unsigned).status_code == 400
    early = http.post(
        GITHUB_PATH, content=BODY, headers={**forged, "X-GitHub-Delivery": "delivery-1"}
    )
    assert early.status_code == 400
    assert not dispatcher.queue
    first = http.post(GITHUB_PATH, content=BODY, headers=github_headers(BODY, "delivery-1"))
    assert len(first.json()["accepted"]) == 3
    late = http.post(
        GITHUB_PATH, content=BODY, headers={**forged, "X-GitHub-Delivery": "delivery-1"}
    )
    assert late.status_code == 400
    assert http.post(GITHUB_PATH, content=BODY, headers=unsigned).status_code == 400
    assert len(dispatcher.queue) == 3


@pytest.mark.parametrize(
    "kind, headers",
    [
        pytest.param("github", {"X-GitHub-Delivery": "d-1"}, id="github"),
        pytest.param("gitlab", {"X-Gitlab-Event-UUID": "d-1"}, id="gitlab-event-uuid"),
        pytest.param("gitlab", {"Idempotency-Key": "d-1"}, id="gitlab-idempotency-key"),
        pytest.param("nexus", {"X-Nexus-Webhook-Delivery": "d-1"}, id="nexus"),
        pytest.param("bitbucket", {"X-Request-UUID": "d-1"}, id="bitbucket-cloud"),
        pytest.param("bitbucket", {"X-Request-Id": "d-1"}, id="bitbucket-server"),
    ],
)
def test_each_providers_delivery_id_names_the_delivery(kind: str, headers: dict[str, str]) -> None:
    ids = [k for k in replay_keys(kind, headers, BODY) if k.startswith("id:")]
    assert len(ids) == 1
    assert ids != [k for k in replay_keys(kind, {"X-Other": "d-1"}, BODY) if k.startswith("id:")]
    assert (kind in ("github", "bitbucket", "nexus")) == any(
        k.startswith("body:") for k in replay_keys(kind, headers, BODY)
    )


def test_the_status_api_never_shows_a_password_in_a_url(
    client: tuple[TestClient, InlineDispatcher], redis_url: str
) -> None:
    http, _ = client
    store = Store.from_url(redis_url)
    (repo,) = parse_manifests(CREDENTIAL_URL_REPO)
    store.put_object(repo)
    status = store.get_status(repo.key)
    status.mark_failed(
        "GitOperationFailed",
        "failed to clone https://user:password@host/repo.git",
        1,
        stalled=False,
    )
    store.put_status(repo.key, status)
    one = http.get("/api/v1/objects/GitRepository/flux-system/private")
    assert one.status_code == 200
    assert one.json()["spec"]["url"] == "https://host/repo.git"
    assert "host/repo.git" in one.json()["status"]["conditions"][0]["message"]
    everything = (
        one.text
        + http.get("/api/v1/objects").text
        + http.get("/api/v1/events").text
        + http.get("/metrics").text
    )
    assert "password" not in everything


HMAC_RECEIVER = """
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: hmac-receiver, namespace: flux-system}
spec:
  type: generic-hmac
  secretRef: {name: hook-token}
  resources:
    - kind: GitRepository
      name: app
"""

CREDENTIAL_URL_REPO = """
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: private, namespace: flux-system}
spec: {url: "https://user:password@host/repo.git", interval: 1m}
"""
