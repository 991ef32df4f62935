"""``conveyor diff kustomization NAME``: the command, on the real API server."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from tests.applier.conftest import Kube, Pipeline, Source, git_repository, kustomization
from tests.applier.test_apply import config_map, deployment


def diff(pipeline: Pipeline, redis_url: str, name: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REDIS_URL": redis_url, "CONVEYOR_DATA": str(pipeline.settings.data_dir),
           "KUBECONFIG": str(pipeline.settings.kubeconfig)}
    return subprocess.run(
        ["conveyor", "diff", "kustomization", name, "--namespace", "flux-system",
         "--manifests", str(pipeline.directory)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_diff_shows_created_drifted_deleted_and_writes_nothing(
    kube: Kube, source: Source, pipeline: Pipeline, redis_url: str, tmp_path: Path
) -> None:
    ns = kube.namespace()
    kube.create_namespace(ns)
    secret = yaml.safe_dump({"apiVersion": "v1", "kind": "Secret",
                             "metadata": {"name": "token", "namespace": ns},
                             "stringData": {"token": "hunter2-old"}})
    source.commit(
        {
            "d/app.yaml": deployment("web", "nginx:1.25", ns=ns),
            "d/old.yaml": config_map(ns, "old", {"k": "v"}),
            "d/secret.yaml": secret,
        }
    )
    pipeline.write(git_repository(source.url) + kustomization("preview", "./d", prune=True))

    before = diff(pipeline, redis_url, "preview")
    assert before.returncode == 1, before.stdout + before.stderr
    assert f"► Deployment/{ns}/web created" in before.stdout
    assert f"► ConfigMap/{ns}/old created" in before.stdout
    assert kube.deployment(ns, "web") is None  # a dry run: nothing applied

    assert pipeline.run() == 0, pipeline.output[-1]
    same = diff(pipeline, redis_url, "preview")
    assert same.returncode == 0, same.stdout + same.stderr
    assert "✔ no changes" in same.stdout

    # a hand edit, a Git change (new image, a removed file, a new Secret value)
    kube.apps.patch_namespaced_deployment(
        "web", ns, {"spec": {"replicas": 5}}, field_manager="kubectl-scale"
    )
    source.commit(
        {
            "d/app.yaml": deployment("web", "nginx:1.26", ns=ns),
            "d/old.yaml": None,
            "d/secret.yaml": secret.replace("hunter2-old", "hunter2-new"),
        }
    )
    changed = diff(pipeline, redis_url, "preview")
    out = changed.stdout
    assert changed.returncode == 1, out + changed.stderr
    assert f"► Deployment/{ns}/web drifted" in out
    assert "-      - image: nginx:1.25\n+      - image: nginx:1.26" in out
    assert "-  replicas: 5\n+  replicas: 1" in out
    assert f"► ConfigMap/{ns}/old deleted" in out
    assert f"► Secret/{ns}/token drifted" in out
    assert "hunter2" not in out and "aHVudGVyMi" not in out  # values masked, even base64
    assert "*** (before)" in out and "*** (after)" in out
    assert kube.image(ns, "web") == "nginx:1.25"
    assert kube.config_map(ns, "old") is not None

    # an object the API server refuses is named with its message; exit 2
    source.commit({"d/app.yaml": deployment("web", "nginx:1.26", replicas=-1, ns=ns)})
    refused = diff(pipeline, redis_url, "preview")
    assert refused.returncode == 2
    assert f"✗ Deployment/{ns}/web dry-run failed (Invalid)" in refused.stdout
    assert "must be greater than or equal to 0" in refused.stdout


def test_diff_of_an_unknown_kustomization(pipeline: Pipeline, redis_url: str,
                                          source: Source) -> None:
    source.commit({"d/x.yaml": config_map("default", "x", {})})
    pipeline.write(git_repository(source.url))
    result = diff(pipeline, redis_url, "nope")
    assert result.returncode == 2
    assert "Kustomization flux-system/nope not found" in result.stdout
