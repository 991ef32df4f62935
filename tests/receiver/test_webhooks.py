"""The receiver: Flux's webhook path, each provider's signature check, and the status API.

GitHub, GitLab, Harbor, Docker Hub and Nexus cannot call us here; the requests below are
built as those services document them (a stand-in for the providers, not for our server, which
runs for real on a real Redis through FastAPI's test client).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conveyor.services.receiver.app import create_app
from conveyor.services.receiver.webhooks import Rejected, verify, webhook_path
from conveyor.shared.bus import InlineDispatcher
from conveyor.shared.manifests import parse_manifests
from conveyor.shared.runtime import Context
from conveyor.shared.store import Store

TOKEN = "webhook-token-0123456789"


def sign(body: bytes, algo: str = "sha256") -> str:
    return f"{algo}=" + hmac.new(TOKEN.encode(), body, getattr(hashlib, algo)).hexdigest()


BODY = b'{"ref": "refs/heads/master"}'


@pytest.mark.parametrize(
    "kind, headers, events, expected",
    [
        pytest.param("generic", {}, [], True, id="generic-needs-only-the-path"),
        pytest.param("generic-hmac", {"X-Signature": sign(BODY)}, [], True, id="generic-hmac"),
        pytest.param(
            "generic-hmac", {"X-Signature": sign(BODY, "sha1")}, [], True, id="generic-hmac-sha1"
        ),
        pytest.param(
            "github",
            {"X-Hub-Signature-256": sign(BODY), "X-GitHub-Event": "push"},
            ["push"],
            True,
            id="github-push",
        ),
        pytest.param(
            "github",
            {"X-Hub-Signature-256": sign(BODY), "X-GitHub-Event": "ping"},
            [],
            False,
            id="github-ping-is-ignored",
        ),
        pytest.param(
            "github",
            {"X-Hub-Signature-256": sign(BODY), "X-GitHub-Event": "issues"},
            ["push"],
            False,
            id="github-unlisted-event",
        ),
        pytest.param(
            "gitlab",
            {"X-Gitlab-Token": TOKEN, "X-Gitlab-Event": "Push Hook"},
            [],
            True,
            id="gitlab",
        ),
        pytest.param("harbor", {"Authorization": TOKEN}, [], True, id="harbor"),
        pytest.param("dockerhub", {}, [], True, id="dockerhub-path-is-the-credential"),
        pytest.param(
            "nexus", {"X-Nexus-Webhook-Signature": sign(BODY, "sha1")[5:]}, [], True, id="nexus"
        ),
    ],
)
def test_authentic_requests(
    kind: str, headers: dict[str, str], events: list[str], expected: bool
) -> None:
    assert verify(kind, TOKEN, headers, BODY, events) is expected


@pytest.mark.parametrize(
    "kind, headers",
    [
        pytest.param("generic-hmac", {"X-Signature": "sha256=00"}, id="generic-hmac-wrong"),
        pytest.param("generic-hmac", {}, id="generic-hmac-missing"),
        pytest.param("github", {"X-Hub-Signature-256": sign(b"other body")}, id="github-body"),
        pytest.param("gitlab", {"X-Gitlab-Token": "nope"}, id="gitlab-wrong-token"),
        pytest.param("harbor", {}, id="harbor-missing"),
        pytest.param("nexus", {"X-Nexus-Webhook-Signature": "00"}, id="nexus-wrong"),
    ],
)
def test_forged_requests_are_rejected_without_echoing_the_token(
    kind: str, headers: dict[str, str]
) -> None:
    with pytest.raises(Rejected) as err:
        verify(kind, TOKEN, headers, BODY, [])
    assert TOKEN not in str(err.value)


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


@pytest.fixture
def client(redis_url: str) -> tuple[TestClient, InlineDispatcher]:
    store = Store.from_url(redis_url)
    for obj in parse_manifests(MANIFESTS):
        store.put_object(obj)
    dispatcher = InlineDispatcher()
    ctx = Context(store=store, dispatcher=dispatcher)
    return TestClient(create_app(ctx)), dispatcher


def test_a_signed_push_requests_reconciles_of_its_resources(
    client: tuple[TestClient, InlineDispatcher],
) -> None:
    http, dispatcher = client
    path = webhook_path(TOKEN, "github-receiver", "flux-system")
    answer = http.post(
        path, content=BODY, headers={"X-Hub-Signature-256": sign(BODY), "X-GitHub-Event": "push"}
    )
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
        path, content=BODY, headers={"X-Hub-Signature-256": "sha256=00", "X-GitHub-Event": "push"}
    )
    assert forged.status_code == 401 and TOKEN not in forged.text
    assert http.post("/hook/" + "0" * 64, content=BODY).status_code == 404
    ping = http.post(
        path, content=BODY, headers={"X-Hub-Signature-256": sign(BODY), "X-GitHub-Event": "ping"}
    )
    assert ping.status_code == 200 and ping.json()["accepted"] == []
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
