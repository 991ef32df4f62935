"""What the chaos tests share: the seed scenario with a 1 s scan interval, run by workers."""

from __future__ import annotations

import subprocess
from pathlib import Path

from conveyor.services.demo.scenario import Demo
from tests.conftest import git_out


def fast_scans(demo: Demo) -> None:
    """The ImageRepository scans every second (the automation keeps its 1m interval: what
    lands after a crash lands because the restarted worker picks it up, not by a tick)."""
    path = demo.manifests / "gitops-demo-app.yaml"
    text = path.read_text()
    head, tail = text.split("kind: ImageRepository", 1)
    tail = tail.replace("interval: 1m", "interval: 1s", 1)
    path.write_text(head + "kind: ImageRepository" + tail)


def landed(remote: Path, tag: str) -> int:
    """How many commits of master set the image to ``tag``."""
    log = git_out(remote, "log", "-p", "master", "--", "kustomize/deployment.yaml")
    return sum(1 for line in log.splitlines() if line.startswith("+") and f":{tag} " in line)


def fsck(git_dir: Path) -> str:
    done = subprocess.run(
        ["git", "--git-dir", str(git_dir), "fsck", "--full", "--strict"],
        capture_output=True,
        text=True,
        check=False,
    )
    return "" if done.returncode == 0 else done.stdout + done.stderr
