"""Approvals end to end: a running ``conveyor run`` on the seed scenario (the demo's registry and
Git remote, no cluster) whose ImageUpdateAutomation carries ``conveyor.dev/approvals: "1"``.
A new tag commits nothing and is listed by ``conveyor approvals``; ``conveyor approve`` lands it
with an ``Approved-by:`` trailer, in the image's trace; a newer tag supersedes what waits, a
rejected change is never committed and a newer one waits again; the status API refuses a vote
without an approver's token and takes one with it; a Slack interaction signed as Slack signs
approves, a bad signature or an old timestamp is refused; an expired request takes no vote and
the next run asks again."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from conveyor.services.demo.scenario import IMAGE_REPOSITORY, Demo, ci_tags, create
from tests.cli.helpers import as_json, cli_env, conveyor_run, ctl, ok, wait_for
from tests.conftest import git_out, push
from tests.fixtures.registries import Registry, free_port

NAME = "gitops-demo-app"
ALICE_TOKEN = "alice-" + "7" * 32
SIGNING = "slack-signing-secret-of-the-test-app"
HEADER = (
    "kind: ImageUpdateAutomation\nmetadata:\n  name: gitops-demo-app\n  namespace: flux-system\n"
)
SECRETS = f"""\
---
apiVersion: v1
kind: Secret
metadata:
  name: approvers
  namespace: flux-system
stringData:
  alice: {ALICE_TOKEN}
---
apiVersion: v1
kind: Secret
metadata:
  name: slack-app
  namespace: flux-system
stringData:
  signingSecret: {SIGNING}
"""


@dataclass(frozen=True)
class Running:
    demo: Demo
    env: dict[str, str]  # the CLI's: CONVEYOR_DATA only, no flags
    port: int
    manifest: Path

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def approval_settings(ttl: str) -> str:
    return ("  annotations:\n    conveyor.dev/approvals: \"1\"\n"
            f"    conveyor.dev/approval-ttl: {ttl}\n"
            "    conveyor.dev/approvers-secret: approvers\n"
            "    conveyor.dev/slack-signing-secret: slack-app\n")


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, registry: Registry) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("cli-approvals")
    demo = create(root / "demo", registry.host, repository=f"{IMAGE_REPOSITORY}-cli-approvals")
    manifest = demo.manifests / "gitops-demo-app.yaml"  # runs by events and requests only
    text = manifest.read_text().replace("interval: 30s", "interval: 1h").replace(
        "interval: 1m", "interval: 1h")
    assert text.count(HEADER) == 1
    manifest.write_text(text.replace(HEADER, HEADER + approval_settings("24h")) + SECRETS)
    push(registry, demo, ci_tags(2))
    env = cli_env(root / "data", "CONVEYOR_APPROVALS_TOKEN")
    port = free_port()
    with conveyor_run(demo.manifests, env, port, root / "run.log"):
        def answers() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).is_success
            except httpx.HTTPError:
                return False

        wait_for("conveyor to answer", answers)
        yield Running(demo, env, port, manifest)


def head(demo: Demo) -> str:
    return git_out(demo.remote, "rev-parse", "master").strip()


def pending(env: dict[str, str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = as_json(env, "approvals")
    return rows


def waits_for(running: Running, tag: str) -> dict[str, Any]:
    """The request that waits for ``tag`` (once the automation asked)."""
    new = f"{running.demo.image}:{tag}"

    def asked() -> bool:
        return any(c["newValue"] == new for r in pending(running.env) for c in r["changes"])

    wait_for(f"a request for {tag}", asked)
    (request,) = pending(running.env)
    return request


def new_tag(running: Running, registry: Registry, index: int) -> str:
    tag = ci_tags(index + 1)[index]
    push(registry, running.demo, [tag])
    ok(running.env, "reconcile", "imagerepository", NAME)  # the scan, the policy, the automation
    return tag


def ready(env: dict[str, str]) -> dict[str, Any]:
    status = as_json(env, "get", "iua", NAME)["status"]
    (condition,) = [c for c in status["conditions"] if c["type"] == "Ready"]
    return dict(condition)


def test_a_change_waits_is_listed_and_lands_approved(running: Running) -> None:
    env, demo = running.env, running.demo
    tag = ci_tags(2)[-1]
    request = waits_for(running, tag)
    first = head(demo)
    assert git_out(demo.remote, "rev-list", "--count", "master").strip() == "1"  # nothing pushed
    assert request["state"] == "pending" and request["required"] == 1
    assert request["changes"] == [{"policy": "flux-system:image-repo-policy", "setter": "image",
                                   "oldValue": f"{demo.image}:latest",
                                   "newValue": f"{demo.image}:{tag}"}]
    condition = ready(env)
    assert (condition["status"], condition["reason"]) == ("True", "AwaitingApproval")
    assert (f"conveyor approve automation {NAME} -n flux-system --id {request['id']}"
            in condition["message"])
    listed = ok(env, "approvals").splitlines()
    assert listed[0].split() == ["NAME", "ID", "STATE", "APPROVALS", "EXPIRES", "CHANGE"]
    assert listed[1].split()[:4] == [NAME, request["id"], "pending", "0/1"]
    assert listed[1].endswith(f"flux-system:image-repo-policy {demo.image}:latest → "
                              f"{demo.image}:{tag}")
    assert ok(env, "approvals", "-A").splitlines()[1].split()[:2] == ["flux-system", NAME]
    assert "no change awaits approval" in ctl(env, "approvals", "-n", "apps").stderr
    events = ok(env, "events", "--for", f"imageupdateautomation/{NAME}")
    assert "AwaitingApproval" in events

    done = ctl(env, "approve", "automation", NAME, "--id", request["id"], "--as", "alice")
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == (
        f"✔ ImageUpdateAutomation flux-system/{NAME}: change {request['id']} approved by alice "
        f"(1/1): flux-system:image-repo-policy {demo.image}:latest → {demo.image}:{tag}; the "
        "automation commits it now"
    )
    wait_for("the approved commit", lambda: head(demo) != first)
    body = git_out(demo.remote, "log", "-1", "--format=%B", "master")
    assert body.endswith(f"\n\nApproved-by: alice\nApproval-Id: {request['id']}\n\n")
    assert f"image: {demo.image}:{tag} #" in git_out(
        demo.remote, "show", "master:kustomize/deployment.yaml")
    wait_for("nothing waiting", lambda: pending(env) == [])
    closed = as_json(env, "approvals", "--all")
    assert [(r["id"], r["state"], r["commit"]) for r in closed] == [
        (request["id"], "landed", head(demo))]
    traced = ctl(env, "trace", f"{demo.image}:{tag}", "-o", "json")  # not applied: no cluster
    (committed,) = [h for h in json.loads(traced.stdout)["hops"] if h["hop"] == "committed"]
    assert committed["traceID"] == request["traceID"]  # the trace of the run that asked
    assert committed["detail"].startswith(f"commit {head(demo)[:7]} pushed")
    again = ctl(env, "approve", "automation", NAME, "--id", request["id"])
    assert again.returncode == 1
    assert f"change {request['id']} is committed already ({head(demo)[:7]})" in again.stderr


def test_a_newer_tag_supersedes_a_rejected_change_never_lands(
    running: Running, registry: Registry
) -> None:
    env, demo = running.env, running.demo
    before = head(demo)
    older = waits_for(running, new_tag(running, registry, 2))
    newer_tag = new_tag(running, registry, 3)
    newer = waits_for(running, newer_tag)
    assert newer["id"] != older["id"]
    closed = {r["id"]: r for r in as_json(env, "approvals", "--all") if r["id"] == older["id"]}
    assert closed[older["id"]]["state"] == "superseded"
    assert closed[older["id"]]["supersededBy"] == newer["id"]
    late = ctl(env, "approve", "automation", NAME, "--id", older["id"], "--as", "alice")
    assert late.returncode == 1
    assert f"change {older['id']} is superseded by change {newer['id']}" in late.stderr

    no = ctl(env, "reject", "automation", NAME, "--id", newer["id"], "--as", "bob")
    assert no.returncode == 0, no.stderr
    assert f"change {newer['id']} rejected by bob" in no.stderr
    wait_for("Ready to say rejected", lambda: ready(env)["reason"] == "ApprovalRejected")
    assert "was rejected by bob" in ready(env)["message"]
    assert head(demo) == before  # never committed
    ok(env, "reconcile", "iua", NAME)
    assert head(demo) == before and ready(env)["reason"] == "ApprovalRejected"

    again = waits_for(running, new_tag(running, registry, 4))  # a newer one waits again
    assert again["state"] == "pending" and again["id"] != newer["id"]
    assert head(demo) == before


def slack_request(api: str, value: str, user: str, secret: str = SIGNING,
                  age: int = 0) -> httpx.Response:
    """A Slack block_actions interaction, form-encoded and signed as Slack documents it."""
    payload = {"type": "block_actions", "user": {"id": "U0" + user.upper(), "username": user},
               "actions": [{"type": "button", "action_id": "conveyor-approve", "value": value}]}
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    stamp = str(int(time.time()) - age)
    mac = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return httpx.post(f"{api}/api/v1/approvals/slack", content=body, timeout=30, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={mac}"})


def test_the_status_api_and_slack_approve_with_credentials_only(
    running: Running, registry: Registry
) -> None:
    env, demo, api = running.env, running.demo, running.api
    request = waits_for(running, new_tag(running, registry, 5))
    before = head(demo)
    url = f"{api}/api/v1/approvals/{request['id']}/approve"
    assert httpx.get(f"{api}/api/v1/approvals", timeout=30).status_code == 401
    assert httpx.post(url, timeout=30).status_code == 401
    wrong = httpx.post(url, timeout=30, headers={"Authorization": "Bearer " + "x" * 38})
    assert wrong.status_code == 401
    assert ALICE_TOKEN not in wrong.text
    server = ["--server", api]
    refused = ctl(env, "approvals", *server)
    assert refused.returncode == 2 and "CONVEYOR_APPROVALS_TOKEN" in refused.stderr
    with_token = {**env, "CONVEYOR_APPROVALS_TOKEN": ALICE_TOKEN}
    listed = json.loads(ok(with_token, "approvals", *server, "-o", "json"))
    assert [r["id"] for r in listed] == [request["id"]]
    done = ctl(with_token, "approve", "automation", NAME, *server)
    assert done.returncode == 0, done.stderr
    assert f"change {request['id']} approved by alice (1/1)" in done.stderr
    wait_for("the commit approved through the API", lambda: head(demo) != before)
    assert "\nApproved-by: alice\n" in git_out(demo.remote, "log", "-1", "--format=%B", "master")

    request = waits_for(running, new_tag(running, registry, 6))
    before = head(demo)
    value = f"approve:{request['id']}"
    assert slack_request(api, value, "carol", secret="not-the-secret").status_code == 401
    assert slack_request(api, value, "carol", age=10 * 60).status_code == 401
    assert pending(env)[0]["approvals"] == [] and head(demo) == before
    answer = slack_request(api, value, "carol")
    assert answer.status_code == 200, answer.text
    assert answer.json()["text"].startswith(f"change {request['id']} approved by carol (1/1)")
    wait_for("the commit approved in Slack", lambda: head(demo) != before)
    assert "\nApproved-by: carol\n" in git_out(demo.remote, "log", "-1", "--format=%B", "master")
    run_log = (running.manifest.parents[2] / "run.log").read_text()
    assert ALICE_TOKEN not in run_log and SIGNING not in run_log


def test_an_expired_request_takes_no_vote_and_is_asked_again(
    running: Running, registry: Registry
) -> None:
    env, demo = running.env, running.demo
    running.manifest.write_text(running.manifest.read_text().replace(
        "conveyor.dev/approval-ttl: 24h", "conveyor.dev/approval-ttl: 1s"))
    wait_for("the shorter ttl to be read", lambda: as_json(env, "get", "iua", NAME)["metadata"]
             ["annotations"].get("conveyor.dev/approval-ttl") == "1s")
    before = head(demo)
    request = waits_for(running, new_tag(running, registry, 7))
    wait_for("it to expire", lambda: pending(env)[0]["state"] == "expired")
    late = ctl(env, "approve", "automation", NAME, "--id", request["id"], "--as", "alice")
    assert late.returncode == 1 and f"change {request['id']} expired at" in late.stderr
    assert head(demo) == before
    ok(env, "reconcile", "iua", NAME)  # the next run asks again
    (asked,) = pending(env)
    assert asked["id"] != request["id"] and asked["changes"] == request["changes"]
    closed = [r for r in as_json(env, "approvals", "--all") if r["id"] == request["id"]]
    assert closed[0]["state"] == "expired"
    assert head(demo) == before
