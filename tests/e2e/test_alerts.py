"""Alerts on a running conveyor: ``conveyor run`` on the seed scenario (the embedded Redis, no
cluster) with a generic-hmac Provider pointed at a recording HTTP server on loopback and an
Alert on every kind of the pipeline. A tag pushed (and announced through the Receiver) ends
in Flux's events arriving signed, each checked as a generic-hmac Receiver checks it; and
``conveyor run --once`` delivers the events of its runs before it exits."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx

from conveyor.services.demo.scenario import Demo, ci_tags
from conveyor.services.receiver.webhooks import verify
from tests.cli.helpers import wait_for
from tests.conftest import conveyor, git_out, push
from tests.e2e.test_seed_pipeline import RECEIVER, head
from tests.fixtures.notify_servers import Hook
from tests.fixtures.registries import Registry, free_port
from tests.receiver.test_webhooks import NoGoogleKeys

TOKEN = "alert-hmac-token-0123456789"

ALERTING = """
---
apiVersion: v1
kind: Secret
metadata:
  name: alert-hook
  namespace: flux-system
stringData:
  address: {url}/flux-events
  token: {token}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata:
  name: hook
  namespace: flux-system
spec:
  type: generic-hmac
  secretRef:
    name: alert-hook
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata:
  name: pipeline
  namespace: flux-system
spec:
  providerRef:
    name: hook
  eventMetadata:
    cluster: test
  eventSources:
    - kind: ImageRepository
      name: '*'
    - kind: ImagePolicy
      name: '*'
    - kind: ImageUpdateAutomation
      name: '*'
    - kind: GitRepository
      name: '*'
    - kind: Kustomization
      name: '*'
"""


def add_alerting(demo: Demo, url: str, extra: str = "") -> None:
    manifest = demo.manifests / "gitops-demo-app.yaml"
    text = manifest.read_text() + ALERTING.format(url=url, token=TOKEN) + extra
    manifest.write_text(text)


def signed(hook: Hook) -> list[dict[str, Any]]:
    """The events received, each one's signature checked as a generic-hmac Receiver checks it."""
    events = []
    with hook._lock:
        requests = list(hook.requests)
    for seen in requests:
        assert seen.path == "/flux-events"
        headers = {"X-Signature": seen.headers["x-signature"]}
        assert verify("generic-hmac", {"token": TOKEN}, headers, seen.body, [], NoGoogleKeys())
        events.append(json.loads(seen.body))
    return events


def about(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["involvedObject"]["kind"] == kind]


def test_a_tag_push_reaches_a_generic_hmac_alert(
    demo: Demo, registry: Registry, tmp_path: Path
) -> None:
    tags = ci_tags(4)
    push(registry, demo, tags[:3])
    env = {**os.environ, "CONVEYOR_DATA": str(tmp_path / "data")}
    for name in ("REDIS_URL", "KUBECONFIG", "KUBERNETES_SERVICE_HOST"):
        env.pop(name, None)  # the embedded Redis, no cluster
    port = free_port()
    with Hook() as hook, (tmp_path / "run.log").open("w") as log:
        add_alerting(demo, hook.url, RECEIVER)
        before = head(demo)
        proc = subprocess.Popen(
            ["conveyor", "run", "--manifests", str(demo.manifests),
             "--listen", f"127.0.0.1:{port}"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            wait_for("the first commit", lambda: head(demo) != before, 180)
            first = head(demo)
            wait_for("the first commit's events",
                     lambda: any(e["reason"] == "NewArtifact" for e in signed(hook)), 120)

            # a new tag, announced through the Receiver: its events follow it to the end
            push(registry, demo, [tags[3]])
            path = hashlib.sha256(
                b"s3cr3t-webhook-token" + b"registry-push" + b"flux-system"
            ).hexdigest()
            answer = httpx.post(f"http://127.0.0.1:{port}/hook/{path}", json={}, timeout=10)
            assert answer.status_code == 200, answer.text
            wait_for("the webhook-driven commit", lambda: head(demo) != first, 120)
            second = head(demo)

            def arrived() -> bool:
                events = signed(hook)
                return any(
                    e["involvedObject"]["kind"] == "GitRepository"
                    and e["metadata"].get("revision") == f"master@sha1:{second}"
                    for e in events
                ) and any(tags[3] in e["message"] for e in about(events, "ImagePolicy"))

            wait_for("the new tag's events", arrived, 120)
            objects = httpx.get(f"http://127.0.0.1:{port}/api/v1/objects", timeout=10).json()
        finally:
            proc.terminate()
            proc.wait(60)
        events = signed(hook)

    policy = about(events, "ImagePolicy")[-1]
    assert policy["involvedObject"]["namespace"] == "flux-system"
    assert policy["reportingController"] == "image-reflector-controller"
    assert policy["severity"] == "info"
    assert policy["metadata"] == {"cluster": "test"}  # the Alert's eventMetadata
    pushed = about(events, "ImageUpdateAutomation")
    assert any(second[:7] in e["message"] or tags[3] in e["message"] for e in pushed), pushed
    artifact = [e for e in about(events, "GitRepository")
                if e["metadata"].get("revision") == f"master@sha1:{second}"]
    assert artifact and artifact[0]["reason"] == "NewArtifact"
    assert artifact[0]["reportingController"] == "source-controller"
    assert git_out(demo.remote, "log", "-1", "--format=%s").startswith("Automated")
    # the Kustomization has no cluster here: its failure is an error event
    assert any(e["severity"] == "error" for e in about(events, "Kustomization"))
    statuses = {(o["kind"], o["name"]): o["status"] for o in objects}
    for key in (("Provider", "hook"), ("Alert", "pipeline")):
        [ready] = [c for c in statuses[key]["conditions"] if c["type"] == "Ready"]
        assert (ready["status"], ready["message"]) == ("True", "Initialized")
    assert TOKEN not in json.dumps(objects) and TOKEN not in (tmp_path / "run.log").read_text()


def test_once_delivers_the_events_of_its_runs_before_it_exits(
    demo: Demo, registry: Registry, tmp_path: Path
) -> None:
    push(registry, demo, ci_tags(3))
    with Hook() as hook:
        add_alerting(demo, hook.url)
        done = conveyor("run", "--manifests", str(demo.manifests), "--once", "--output", "json",
                        data=tmp_path / "data", timeout=300)
        events = signed(hook)
    rows = {(r["kind"], r["name"]): r for r in json.loads(done.stdout)}
    assert ("Provider", "hook") in rows and ("Alert", "pipeline") in rows
    kinds = {e["involvedObject"]["kind"] for e in events}
    assert {"ImagePolicy", "ImageUpdateAutomation", "GitRepository"} <= kinds, kinds
