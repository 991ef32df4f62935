"""The seed scenario ends in the cluster: CI pushes a tag, and the Deployment runs it.

The demo (a bare Git repository with the app's ``kustomize/`` folder, the walkthrough's Flux
manifests, the Distribution registry) and ``conveyor run --once`` as a process, as in
``tests/e2e``, but with ``KUBECONFIG`` pointing at the real kube-apiserver: scan, policy,
commit, push, fetch, then server-side apply into namespace ``default``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from conveyor.services.demo.scenario import Demo, ci_tags
from tests.applier.conftest import Kube
from tests.conftest import git_out, push
from tests.fixtures.controlplane import ControlPlane
from tests.fixtures.registries import Registry


def run_once(demo: Demo, data: Path, redis_url: str, kubeconfig: Path) -> tuple[int, Any]:
    env = {**os.environ, "CONVEYOR_DATA": str(data), "REDIS_URL": redis_url,
           "KUBECONFIG": str(kubeconfig)}
    done = subprocess.run(
        ["conveyor", "run", "--manifests", str(demo.manifests), "--once", "--output", "json"],
        env=env, capture_output=True, text=True, timeout=180, check=False,
    )
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout)


def ready(row: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in row["status"]["conditions"] if c["type"] == "Ready")


def test_an_image_push_ends_in_the_deployment(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path,
    control_plane: ControlPlane, kube: Kube,
) -> None:
    tags = ci_tags(3)
    push(registry, demo, tags)
    code, rows = run_once(demo, tmp_path / "data", redis_url, control_plane.kubeconfig)
    by_kind = {r["kind"]: r for r in rows}
    assert code == 0, json.dumps(rows, indent=1)
    assert all(ready(r)["status"] == "True" for r in rows)
    head = git_out(demo.remote, "rev-parse", "master").strip()
    kustomization = by_kind["Kustomization"]["status"]
    assert ready(by_kind["Kustomization"])["message"] == f"Applied revision: master@sha1:{head}"
    assert kustomization["lastAppliedRevision"] == f"master@sha1:{head}"
    assert [e["id"] for e in kustomization["inventory"]["entries"]] == [
        "default_gitops-demo-app__Service",
        "default_gitops-demo-app_apps_Deployment",
    ]
    assert kube.image("default", "gitops-demo-app") == f"{demo.image}:{tags[-1]}"
    service: Any = kube.core.read_namespaced_service("gitops-demo-app", "default")
    assert service.spec.ports[0].port == 80

    # CI pushes a newer tag: one more commit, fetched and applied in the same run
    newer = ci_tags(5)[-1]
    push(registry, demo, [newer])
    code, rows = run_once(demo, tmp_path / "data", redis_url, control_plane.kubeconfig)
    assert code == 0, json.dumps(rows, indent=1)
    head = git_out(demo.remote, "rev-parse", "master").strip()
    assert git_out(demo.remote, "log", "-1", "--format=%s").startswith("Automated image update")
    assert kube.image("default", "gitops-demo-app") == f"{demo.image}:{newer}"
    by_kind = {r["kind"]: r for r in rows}
    assert by_kind["Kustomization"]["status"]["lastAppliedRevision"] == f"master@sha1:{head}"
