"""``conveyor demo``: the seed scenario on this machine, with nothing to set up.

It starts a Distribution registry on loopback, pushes CI-style tags, creates a bare Git
repository holding the app's ``kustomize/`` folder and the walkthrough's Flux manifests pointed
at both, and runs ``conveyor run --once`` on the embedded Redis: the newest tag lands in Git as
a commit. Then it pushes one more tag and runs again, to show the next commit.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conveyor.services import runner
from conveyor.services.demo.oci import push_tags
from conveyor.services.demo.registry import Registry
from conveyor.services.demo.scenario import ci_tags, create
from conveyor.shared.runtime import Settings
from conveyor.shared.sources import ManifestSource


def _git(remote: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(remote), *args], check=True, capture_output=True, text=True
    ).stdout


def run_demo(directory: Path, tag_count: int, kubeconfig: str | None = None) -> int:
    """Run the demo in ``directory`` (made anew); it applies to a cluster only when given
    ``kubeconfig`` explicitly, whatever the environment says."""
    directory = directory.resolve()
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    settings = Settings(data_dir=directory / "data", kubeconfig=kubeconfig)
    tags = ci_tags(tag_count + 1)
    with Registry(tmp_root=str(directory)) as registry:
        demo = create(directory, registry.host)
        repository = demo.image.split("/", 1)[1]
        push_tags(registry.url, repository, tags[:-1])
        print(f"== registry {registry.url}: pushed {tag_count} tags to {repository}")
        print(f"== git remote {demo.remote}; manifests in {demo.manifests}")
        start = _git(demo.remote, "rev-parse", "master").strip()
        print(f"== conveyor run --manifests {demo.manifests} --once --data {settings.data_dir}")
        source = ManifestSource(demo.manifests)
        runner.run_once(settings, source, "text", sys.stdout)
        first = _git(demo.remote, "rev-parse", "master").strip()
        print(_git(demo.remote, "log", "-p", "-1", "--format=commit %H%nAuthor: %an <%ae>%n%n%B"))
        push_tags(registry.url, repository, tags[-1:])
        print(f"== pushed {tags[-1]}; conveyor runs again")
        runner.run_once(settings, source, "text", sys.stdout)
        second = _git(demo.remote, "rev-parse", "master").strip()
        print(_git(demo.remote, "log", "--oneline", "-3"))
    landed = start != first != second
    print("== demo " + ("succeeded: both tags landed in Git" if landed else "FAILED"))
    return 0 if landed else 1
