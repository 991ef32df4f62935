"""conveyor as a drop-in for Flux's controllers: the seed's objects live in the cluster as
Flux custom resources; `conveyor run --from-cluster` reconciles them and writes their status
back, as Flux's controllers would.

The CRDs installed here are stand-ins for Flux's own (which cannot be fetched here): the same
groups, kinds and versions, a status subresource, and an open schema.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from conveyor.services.demo.scenario import Demo, ci_tags
from conveyor.shared.kinds import KINDS
from tests.conftest import git_out, push
from tests.fixtures.controlplane import ControlPlane
from tests.fixtures.registries import Registry


def kubectl(cp: ControlPlane, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(cp.kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def plural(kind: str) -> str:
    name = kind.lower()
    return name[:-1] + "ies" if name.endswith("y") else name + "s"


def flux_crds() -> str:
    docs: list[dict[str, Any]] = []
    for info in KINDS:
        if not info.flux:
            continue
        kind, group, versions = info.name, info.group, info.versions
        docs.append(
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": f"{plural(kind)}.{group}"},
                "spec": {
                    "group": group,
                    "scope": "Namespaced",
                    "names": {
                        "kind": kind,
                        "plural": plural(kind),
                        "singular": kind.lower(),
                        "listKind": f"{kind}List",
                    },
                    "versions": [
                        {
                            "name": v,
                            "served": True,
                            "storage": v == versions[-1],
                            "subresources": {"status": {}},
                            "schema": {
                                "openAPIV3Schema": {
                                    "type": "object",
                                    "x-kubernetes-preserve-unknown-fields": True,
                                }
                            },
                        }
                        for v in versions
                    ],
                },
            }
        )
    return yaml.safe_dump_all(docs)


def test_the_seed_as_flux_resources_in_the_cluster(
    control_plane: ControlPlane, demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    kubectl(control_plane, "apply", "-f", "-", stdin=flux_crds())
    kubectl(control_plane, "wait", "--for=condition=established", "--timeout=60s", "crd", "--all")
    kubectl(control_plane, "create", "namespace", "flux-system")
    kubectl(control_plane, "apply", "-f", str(demo.manifests / "gitops-demo-app.yaml"))
    tags = ci_tags(3)
    push(registry, demo, tags)
    env = {
        **os.environ,
        "KUBECONFIG": str(control_plane.kubeconfig),
        "REDIS_URL": redis_url,
        "CONVEYOR_DATA": str(tmp_path / "data"),
    }
    run = subprocess.run(
        ["conveyor", "run", "--from-cluster", "--once", "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    rows = json.loads(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr
    assert {r["kind"] for r in rows} >= {
        "GitRepository",
        "ImageRepository",
        "ImagePolicy",
        "ImageUpdateAutomation",
        "Kustomization",
    }
    assert all(r["status"]["conditions"][0]["status"] == "True" for r in rows), rows
    # the commit landed in Git ...
    assert f"{demo.image}:{tags[-1]} #" in git_out(
        demo.remote, "show", "master:kustomize/deployment.yaml"
    )
    # ... the Deployment runs it ...
    deployment = json.loads(
        kubectl(
            control_plane, "-n", "default", "get", "deployment", "gitops-demo-app", "-o", "json"
        )
    )
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(tags[-1])
    # ... and the Flux resources carry the status, as `flux get` would show it
    policy = json.loads(
        kubectl(
            control_plane,
            "-n",
            "flux-system",
            "get",
            "imagepolicies.image.toolkit.fluxcd.io",
            "image-repo-policy",
            "-o",
            "json",
        )
    )
    assert policy["status"]["latestRef"] == {"name": demo.image, "tag": tags[-1]}
    source = json.loads(
        kubectl(
            control_plane,
            "-n",
            "flux-system",
            "get",
            "gitrepositories.source.toolkit.fluxcd.io",
            "gitops-demo-app",
            "-o",
            "json",
        )
    )
    head = git_out(demo.remote, "rev-parse", "master").strip()
    assert source["status"]["artifact"]["revision"] == f"master@sha1:{head}"
