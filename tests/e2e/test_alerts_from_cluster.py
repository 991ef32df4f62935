"""Alerts and Providers read from a real API server with Flux's CRDs (``--from-cluster``): a
GitRepository that cannot be fetched is an error event, delivered signed to a generic-hmac
Provider whose Secret conveyor read by name from the cluster; the involved object carries the
cluster's uid; v1beta3 Alerts and Providers get no status written (Flux's have none), and
``conveyor get alerts --from-cluster`` prints them as flux does."""

from __future__ import annotations

import json
import os
import subprocess
import zlib
from pathlib import Path

import pytest

from conveyor.services.receiver.webhooks import verify
from tests.fixtures.controlplane import ControlPlane
from tests.fixtures.flux import CURRENT, install_flux_crds, kubectl
from tests.fixtures.notify_servers import Hook
from tests.receiver.test_webhooks import NoGoogleKeys

TOKEN = "cluster-alert-token-0123"

MANIFESTS = """\
apiVersion: v1
kind: Secret
metadata: {{name: alert-hook, namespace: {ns}}}
stringData: {{address: "{url}/events", token: {token}}}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {{name: hook, namespace: {ns}}}
spec: {{type: generic-hmac, secretRef: {{name: alert-hook}}}}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {{name: sources, namespace: {ns}}}
spec:
  providerRef: {{name: hook}}
  eventSeverity: error
  eventSources: [{{kind: GitRepository, name: '*'}}]
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: unreachable, namespace: {ns}}}
spec:
  url: http://127.0.0.1:9/nowhere.git
  interval: 1h
  timeout: 5s
  ref: {{branch: main}}
"""


def test_alerts_and_providers_from_the_cluster(
    control_plane: ControlPlane, redis_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    install_flux_crds(control_plane, CURRENT)
    ns = f"al-{zlib.crc32(request.node.nodeid.encode()):08x}"
    kubectl(control_plane, "create", "namespace", ns)
    env = {**os.environ, "KUBECONFIG": str(control_plane.kubeconfig), "REDIS_URL": redis_url,
           "CONVEYOR_DATA": str(tmp_path / "data")}
    request.addfinalizer(  # a failing GitRepository left in the shared cluster would fail
        lambda: kubectl(control_plane, "delete", "-n", ns,  # others' `run --once` there
                        "gitrepositories,alerts,providers,secrets", "--all", "--wait=false")
    )
    with Hook() as hook:
        kubectl(control_plane, "apply", "-f", "-",
                stdin=MANIFESTS.format(ns=ns, url=hook.url, token=TOKEN))
        done = subprocess.run(
            ["conveyor", "run", "--from-cluster", "--once", "--output", "json"],
            env=env, capture_output=True, text=True, timeout=300, check=False,
        )
        assert "Traceback" not in done.stderr, done.stderr
        [seen] = hook.wait_for(1)
    headers = {"X-Signature": seen.headers["x-signature"]}
    assert verify("generic-hmac", {"token": TOKEN}, headers, seen.body, [], NoGoogleKeys())
    event = json.loads(seen.body)
    uid = kubectl(control_plane, "get", "gitrepository", "unreachable", "-n", ns,
                  "-o", "jsonpath={.metadata.uid}")
    assert event["involvedObject"] == {
        "kind": "GitRepository", "namespace": ns, "name": "unreachable", "uid": uid,
        "apiVersion": "source.toolkit.fluxcd.io/v1",
    }
    assert event["severity"] == "error" and event["reportingController"] == "source-controller"
    rows = {(r["kind"], r["name"]): r for r in json.loads(done.stdout) if r.get("namespace") == ns}
    for key in (("Provider", "hook"), ("Alert", "sources")):
        [ready] = [c for c in rows[key]["status"]["conditions"] if c["type"] == "Ready"]
        assert (ready["status"], ready["message"]) == ("True", "Initialized")
    for kind in ("alert", "provider"):  # v1beta3: no status in the cluster, as with Flux
        obj = json.loads(kubectl(control_plane, "get", kind, "-n", ns, "-o", "json"))
        assert [item.get("status") for item in obj["items"]] == [None]
    shown = subprocess.run(
        ["conveyor", "get", "alerts", "-n", ns, "--from-cluster"],
        env={**env, "CONVEYOR_DATA": str(tmp_path / "elsewhere")},
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert [line.split() for line in shown.stdout.splitlines()] == [
        ["NAME", "SUSPENDED", "READY", "MESSAGE"],
        ["sources", "False", "True", "Alert", "is", "Ready"],
    ]
    assert TOKEN not in done.stdout + done.stderr
