"""The seed's own GitRepository shape: `ssh://` with `secretRef: ssh-credentials`, the Secret
holding `identity`, `identity.pub` and `known_hosts` as `kubectl create secret generic
--from-file` makes it — against a real sshd on loopback."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from conveyor.services.demo.scenario import Demo, ci_tags
from tests.conftest import conveyor, git_out, push
from tests.fixtures.git_remotes import SSHRemote
from tests.fixtures.registries import Registry


def secret(remote: SSHRemote) -> str:
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"""
---
apiVersion: v1
kind: Secret
metadata:
  name: ssh-credentials
  namespace: flux-system
type: Opaque
data:
  identity: {b64(remote.identity)}
  identity.pub: {b64(b"ssh-ed25519 AAAA... test")}
  known_hosts: {b64(remote.known_hosts)}
"""


def test_seed_over_ssh_with_the_seed_secret(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    tags = ci_tags(3)
    push(registry, demo, tags)
    with SSHRemote() as remote:
        manifest = demo.manifests / "gitops-demo-app.yaml"
        text = manifest.read_text().replace(
            f"  url: {demo.remote.as_uri()}\n",
            f"  url: {remote.url_for(demo.remote)}\n  secretRef:\n    name: ssh-credentials\n",
        )
        manifest.write_text(text + secret(remote))
        run = conveyor(
            "run",
            "--manifests",
            str(demo.manifests),
            "--once",
            "--output",
            "json",
            data=tmp_path / "data",
            redis_url=redis_url,
        )
    rows = {r["kind"]: r for r in json.loads(run.stdout) if "status" in r}
    head = git_out(demo.remote, "rev-parse", "master").strip()
    assert rows["ImageUpdateAutomation"]["status"]["lastPushCommit"] == head, run.stdout
    assert rows["GitRepository"]["status"]["artifact"]["revision"] == f"master@sha1:{head}"
    assert f"{demo.image}:{tags[-1]}" in git_out(
        demo.remote, "show", "master:kustomize/deployment.yaml"
    )
    identity_line = remote.identity.decode().splitlines()[1]
    assert identity_line not in run.stdout and identity_line not in run.stderr
