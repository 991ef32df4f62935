"""`conveyor demo`, the README's first command: both tags land in Git; with --kubeconfig the
Deployment runs the newest tag in the cluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


def test_demo_script_with_no_argument_from_a_fresh_clone(tmp_path: Path) -> None:
    """The README's first command as a new user runs it: ``./scripts/demo.sh`` in a fresh
    clone, no argument. It installs conveyor (here into a virtualenv, so that this test's own
    environment is left alone) and runs the demo in the clone's ``.demo``."""
    root = Path(__file__).resolve().parents[2]
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "VIRTUAL_ENV": str(venv)}
    for name in ("CONVEYOR_DATA", "REDIS_URL", "KUBECONFIG", "PYTHONPATH"):
        env.pop(name, None)
    run = subprocess.run(
        ["./scripts/demo.sh"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "== demo succeeded: both tags landed in Git" in run.stdout
    assert f"== git remote {clone / '.demo'}" in run.stdout
    assert (clone / ".demo" / "data" / "redis" / "conveyor.rdb").is_file()
