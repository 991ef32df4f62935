"""`conveyor demo`, the README's first command: both tags land in Git; with --kubeconfig the
Deployment runs the newest tag in the cluster."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import conveyor
from tests.fixtures.controlplane import ControlPlane


def test_demo_lands_both_commits(tmp_path: Path) -> None:
    run = conveyor("demo", "--dir", str(tmp_path / "demo"), "--tags", "3", data=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "== demo succeeded: both tags landed in Git" in run.stdout
    assert "+          image: 127.0.0.1:" in run.stdout  # the diff of the first commit
    assert "ClusterNotConfigured" in run.stdout  # no cluster was touched


def test_demo_on_a_cluster(control_plane: ControlPlane, tmp_path: Path) -> None:
    run = conveyor(
        "demo",
        "--dir",
        str(tmp_path / "demo"),
        "--tags",
        "2",
        "--kubeconfig",
        str(control_plane.kubeconfig),
        data=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Kustomization\tflux-system/gitops-demo-app\tReady=True" in run.stdout
    deployment = json.loads(
        subprocess.run(
            [
                "kubectl",
                "--kubeconfig",
                str(control_plane.kubeconfig),
                "-n",
                "default",
                "get",
                "deployment",
                "gitops-demo-app",
                "-o",
                "json",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    newest = run.stdout.split("== pushed ")[1].split(";")[0]
    assert image.endswith(f"/pythops/gitops:{newest}")
