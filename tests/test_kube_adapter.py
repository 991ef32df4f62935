"""The Kubernetes adapter (shared/adapters/kube.py) loads the kubernetes client when a cluster
is connected, not when it is imported; a cluster that does not answer is ``ApiUnavailable``."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.fixtures.registries import free_port

PROBE = """
import json, sys
from conveyor.shared.adapters import kube

imported = "kubernetes" in sys.modules
config = '''
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:%d"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
'''
cluster = kube.connect(kube.Target(kubeconfig_data=config))
connected = "kubernetes" in sys.modules
try:
    cluster.request("GET", "/api/v1")
    answer = "answered"
except kube.ApiUnavailable as exc:
    answer = type(exc.__cause__).__module__.split(".")[0]
print(json.dumps([imported, connected, answer]))
"""


def test_the_client_loads_with_a_cluster_and_no_answer_is_unavailable() -> None:
    port = free_port()  # nothing listens there
    out = subprocess.run(
        [sys.executable, "-c", PROBE % port],
        capture_output=True, text=True, check=True, timeout=120,
    )
    imported, connected, answer = json.loads(out.stdout)
    assert (imported, connected) == (False, True)
    assert answer == "urllib3"  # the client's transport error, translated at the boundary
