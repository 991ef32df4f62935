"""The status API's approvals on a real Redis: each call needs an approver's bearer token (from
the Secret the automation's ``conveyor.dev/approvers-secret`` names; another automation's
approver is refused), a vote is the token holder's and wakes the automation in the request's
trace; Slack's interactions are taken only signed as Slack signs them, fresh and once."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse

import pytest
from fastapi.testclient import TestClient

from conveyor.services.receiver.app import create_app
from conveyor.shared import approvals
from conveyor.shared.approvals import Change, Config
from conveyor.shared.bus import InlineDispatcher
from conveyor.shared.manifests import parse_manifests
from conveyor.shared.runtime import Context
from conveyor.shared.store import Store

ALICE, BOB, EVE = "a" * 24 + "-alice", "b" * 24 + "-bob", "e" * 24 + "-eve"
SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"  # Slack's documented example's secret
KEY = "ImageUpdateAutomation/apps/podinfo"
CHANGE = [Change("apps:podinfo", "image", "ghcr.io/org/podinfo:1.0.0",
                 "ghcr.io/org/podinfo:1.0.1")]

MANIFESTS = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata:
  name: {name}
  namespace: apps
  annotations:
    conveyor.dev/approvals: "2"
    conveyor.dev/approvers-secret: {name}-approvers
    conveyor.dev/slack-signing-secret: {name}-slack
spec:
  interval: 1m
  sourceRef: {{kind: GitRepository, name: podinfo}}
  git:
    commit:
      author: {{name: bot, email: bot@example.com}}
  update: {{path: ./, strategy: Setters}}
---
apiVersion: v1
kind: Secret
metadata:
  name: {name}-approvers
  namespace: apps
stringData:
{tokens}
  short: "too-short"
---
apiVersion: v1
kind: Secret
metadata:
  name: {name}-slack
  namespace: apps
stringData:
  signingSecret: {signing}
{users}
"""


def load(store: Store, name: str, tokens: dict[str, str], signing: str, users: str = "") -> None:
    text = MANIFESTS.format(
        name=name, signing=signing,
        tokens="\n".join(f"  {who}: {token}" for who, token in tokens.items()),
        users=f"  users: {users}" if users else "",
    )
    for obj in parse_manifests(text):
        store.put_object(obj)


@pytest.fixture
def setup(redis_url: str) -> tuple[TestClient, Store, InlineDispatcher, approvals.Request]:
    store = Store.from_url(redis_url)
    load(store, "podinfo", {"alice": ALICE, "bob": BOB}, SIGNING, users="U0ALICE,carol")
    load(store, "other", {"eve": EVE}, "another-signing-secret")
    decision = approvals.settle(store, KEY, CHANGE, Config(2, 3600.0), time.time(),
                                "0123456789abcdef", time.time() - 5)
    assert decision.request is not None
    dispatcher = InlineDispatcher()
    client = TestClient(create_app(Context(store=store, dispatcher=dispatcher)))
    return client, store, dispatcher, decision.request


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_api_answers_approvers_only(
    setup: tuple[TestClient, Store, InlineDispatcher, approvals.Request],
) -> None:
    client, store, dispatcher, request = setup
    path = f"/api/v1/approvals/{request.id}/approve"
    for headers in ({}, auth("nope" * 8), auth("too-short"), {"Authorization": f"Basic {ALICE}"}):
        for answer in (client.get("/api/v1/approvals", headers=headers),
                       client.post(path, headers=headers)):
            assert answer.status_code == 401
            assert answer.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/v1/approvals", headers=auth(EVE)).json() == []  # not hers to see
    denied = client.post(path, headers=auth(EVE))
    assert denied.status_code == 403 and denied.json() == {"detail": f"not an approver of {KEY}"}
    assert client.post("/api/v1/approvals/0123456789ab/approve",
                       headers=auth(ALICE)).status_code == 404
    assert client.post(f"/api/v1/approvals/{request.id}/merge",
                       headers=auth(ALICE)).status_code == 404
    assert not dispatcher.queue and approvals.open_requests(store)[0].approvals == ()

    (listed,) = client.get("/api/v1/approvals", headers=auth(ALICE)).json()
    assert listed["id"] == request.id and listed["state"] == "pending"
    assert listed["changes"] == [{"policy": "apps:podinfo", "setter": "image",
                                  "oldValue": "ghcr.io/org/podinfo:1.0.0",
                                  "newValue": "ghcr.io/org/podinfo:1.0.1"}]
    once = client.post(path, headers=auth(ALICE))
    assert once.status_code == 200
    assert [v["by"] for v in once.json()["approvals"]] == ["alice"]
    assert once.json()["state"] == "pending" and ALICE not in once.text
    again = client.post(path, headers=auth(ALICE))
    assert again.status_code == 409
    assert again.json()["detail"] == (f"ImageUpdateAutomation apps/podinfo: change {request.id} "
                                      "is approved by alice already")
    twice = client.post(path, headers=auth(BOB))
    assert twice.status_code == 200 and twice.json()["state"] == "approved"
    woken = [m for _, m in dispatcher.queue]
    assert woken and all(m["type"] == "ReconcileRequested" and m["name"] == "podinfo"
                         and m["trace_id"] == "0123456789abcdef" for m in woken)
    assert [v.via for v in approvals.open_requests(store)[0].approvals] == ["api", "api"]


def test_a_rejection_by_api(
    setup: tuple[TestClient, Store, InlineDispatcher, approvals.Request],
) -> None:
    client, store, _, request = setup
    assert approvals.open_requests(store)[0].state == "pending"
    answer = client.post(f"/api/v1/approvals/{request.id}/reject", headers=auth(BOB))
    assert answer.status_code == 200
    assert answer.json()["state"] == "rejected" and answer.json()["rejectedBy"] == "bob"
    late = client.post(f"/api/v1/approvals/{request.id}/approve", headers=auth(ALICE))
    assert late.status_code == 409 and "was rejected by bob" in late.json()["detail"]


def slack_body(value: str, user: dict[str, str]) -> bytes:
    """A block_actions interaction as Slack posts it: form-encoded, its JSON in ``payload``."""
    payload = {"type": "block_actions", "user": user, "team": {"id": "T0TEAM"},
               "actions": [{"type": "button", "action_id": "conveyor-approve",
                            "block_id": "b", "value": value, "action_ts": "1"}],
               "response_url": "https://hooks.slack.com/actions/T0TEAM/1/x"}
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()


def signed(body: bytes, secret: str = SIGNING, when: int | None = None) -> dict[str, str]:
    """Slack's headers for ``body``: v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")."""
    stamp = str(int(time.time()) if when is None else when)
    mac = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={mac.hexdigest()}",
            "Content-Type": "application/x-www-form-urlencoded"}


def test_the_signature_is_slack_documented_one() -> None:
    from conveyor.services.receiver.approvals import slack_signature

    body = (b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id"
            b"=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fweb"
            b"hook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J"
            b"%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0"
            b"bc887a14d10d2c447fce8b6703c")
    assert slack_signature(SIGNING.encode(), "1531420618", body) == (
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503")


def test_a_slack_interaction_signed_fresh_and_once(
    setup: tuple[TestClient, Store, InlineDispatcher, approvals.Request],
) -> None:
    client, store, dispatcher, request = setup
    url = "/api/v1/approvals/slack"
    body = slack_body(f"approve:{request.id}", {"id": "U0ALICE", "username": "alice.s"})
    bad = signed(body, secret="not-the-signing-secret")
    assert client.post(url, content=body, headers=bad).status_code == 401
    old = signed(body, when=int(time.time()) - 6 * 60)
    assert client.post(url, content=body, headers=old).status_code == 401
    tampered = signed(body)
    assert client.post(url, content=body.replace(b"alice.s", b"mallory"),
                       headers=tampered).status_code == 401
    other_app = signed(body, secret="another-signing-secret")  # the other automation's app
    assert client.post(url, content=body, headers=other_app).status_code == 403
    assert approvals.open_requests(store)[0].approvals == () and not dispatcher.queue

    good = signed(body)
    answer = client.post(url, content=body, headers=good)
    assert answer.status_code == 200
    assert answer.json()["text"].startswith(f"change {request.id} approved by alice.s (1/2)")
    assert client.post(url, content=body, headers=good).status_code == 409  # a replay
    (votes,) = [r.approvals for r in approvals.open_requests(store)]
    assert [(v.by, v.via) for v in votes] == [("alice.s", "slack")]
    assert dispatcher.queue[-1][1]["trace_id"] == "0123456789abcdef"

    stranger = slack_body(f"approve:{request.id}", {"id": "U0DAVE", "username": "dave"})
    said = client.post(url, content=stranger, headers=signed(stranger))
    assert said.status_code == 200
    assert said.json()["text"] == f"dave may not approve changes of {KEY}"
    carol = slack_body(f"reject:{request.id}", {"id": "U0CAROL", "username": "carol"})
    rejected = client.post(url, content=carol, headers=signed(carol))
    assert rejected.status_code == 200
    assert rejected.json()["text"].startswith(f"change {request.id} rejected by carol")
    assert approvals.open_requests(store)[0].state == "rejected"
    junk = b"payload=%7B%22actions%22%3A%5B%5D%7D"
    assert client.post(url, content=junk, headers=signed(junk)).status_code == 400
