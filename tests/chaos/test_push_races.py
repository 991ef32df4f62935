"""Two automations and a developer push to one branch at the same moment, round after round:
every push that loses the race is retried on top of the winner, and nothing is clobbered."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

from conveyor.services.demo.oci import push_tags
from conveyor.services.demo.scenario import Demo, ci_tags
from tests.chaos.conftest import fast_scans, fsck, landed
from tests.conftest import commit_files, git_out, push
from tests.fixtures.registries import Registry
from tests.fixtures.workers import RedisServer, Workers

ROUNDS = 10

SECOND_APP = """\
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageRepository
metadata: {{name: other, namespace: team-b}}
spec: {{image: {image}, interval: 1s, insecure: true}}
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata: {{name: other, namespace: team-b}}
spec:
  imageRepositoryRef: {{name: other}}
  filterTags: {{pattern: '^master-[a-f0-9]+-(?P<ts>[0-9]+)', extract: '$ts'}}
  policy: {{numerical: {{order: asc}}}}
---
apiVersion: image.toolkit.fluxcd.io/v1beta1
kind: ImageUpdateAutomation
metadata: {{name: other, namespace: team-b}}
spec:
  interval: 1m
  sourceRef: {{kind: GitRepository, name: gitops-demo-app, namespace: flux-system}}
  git:
    checkout: {{ref: {{branch: master}}}}
    commit: {{author: {{name: bot-b, email: b@example.com}}}}
    push: {{branch: master}}
  update: {{path: ./other, strategy: Setters}}
"""


def developer_commit(remote: Path, work: Path, name: str, text: str) -> int:
    """Commit a file as a developer does, pulling (rebase) and pushing again when someone
    pushed first; how many pushes lost the race."""
    if not work.exists():
        # through upload-pack, as over a network: a plain local clone copies objects/ as it is,
        # and trips over the quarantine directory of a push arriving meanwhile
        subprocess.run(["git", "clone", "-q", "--no-local", str(remote), str(work)], check=True)
    git = ["git", "-C", str(work), "-c", "user.name=dev", "-c", "user.email=dev@example.com"]
    subprocess.run([*git, "pull", "-q", "--rebase"], check=True)
    (work / name).parent.mkdir(parents=True, exist_ok=True)
    (work / name).write_text(text)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", f"developer: {name}"], check=True)
    for lost in range(20):
        pushed = subprocess.run([*git, "push", "-q", "origin", "master"], capture_output=True)
        if pushed.returncode == 0:
            return lost
        subprocess.run([*git, "pull", "-q", "--rebase"], check=True)
    raise AssertionError("the developer never got a push in")


def test_automations_and_a_developer_racing_on_one_branch_converge(
    demo: Demo, registry: Registry, tmp_path: Path
) -> None:
    fast_scans(demo)
    other = f"{demo.image}-other"
    (demo.manifests / "other.yaml").write_text(SECOND_APP.format(image=other))
    commit_files(
        demo.remote,
        {"other/app.yaml": f'image: {other}:v0 # {{"$imagepolicy": "team-b:other"}}\n'},
        "the second app",
    )
    tags = ci_tags(ROUNDS)
    lost = rejected = 0
    with (
        RedisServer(tmp_path) as server,
        Workers(server.url, demo.manifests, tmp_path) as workers,
    ):
        workers.wait_ready()
        for n, tag in enumerate(tags):
            pushes = [
                threading.Thread(target=push, args=(registry, demo, [tag])),
                threading.Thread(
                    target=push_tags, args=(registry.url, other.split("/", 1)[1], [tag])
                ),
            ]
            for thread in pushes:
                thread.start()
            time.sleep(0.8)  # about when the scans see the tags
            lost += developer_commit(demo.remote, tmp_path / "dev", f"notes/{n}.txt", f"{n}\n")
            for thread in pushes:
                thread.join()
            deadline = time.monotonic() + 30
            while not (landed(demo.remote, tag) and f":{tag} " in git_out(
                demo.remote, "show", "master:other/app.yaml"
            )):
                assert time.monotonic() < deadline, workers.log("git-committer")[-4000:]
                time.sleep(0.1)
            head = git_out(demo.remote, "ls-tree", "-r", "--name-only", "master")
            assert all(f"notes/{i}.txt" in head for i in range(n + 1)), head  # nothing clobbered
        rejected = workers.log("git-committer").count("push to")
        assert not workers.dead(), workers.dead()
    assert [landed(demo.remote, t) for t in tags] == [1] * len(tags)
    log = git_out(demo.remote, "log", "-p", "master", "--", "other/app.yaml")
    assert [sum(1 for line in log.splitlines() if line.startswith("+") and f":{t} " in line)
            for t in tags] == [1] * len(tags)
    assert fsck(demo.remote) == ""
    print(
        f"\npush races: {ROUNDS} rounds of two automations and a developer pushing to master "
        f"at once: converged every round, nothing clobbered, each tag committed once "
        f"(the automations lost {rejected} pushes, the developer {lost}, each retried on top "
        f"of the winner)"
    )
