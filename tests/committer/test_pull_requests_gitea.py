"""Pull-request mode against a real Gitea (built from its Go module: tests/fixtures/gitea.py),
which is both the Git remote and the forge: a tag opens one pull request from the push branch
into main with the commit message as title and body; a newer tag updates that one (its head the
newest); a merged one is not reopened; two automations racing while one is open end with one
holding the newest (their pushes and proposals serialized per branch); labels, a reviewer and
auto-merge (scheduled, then merged: nothing to wait for); a closed one holding the commit is
left alone, a new commit on the branch opens one."""

from __future__ import annotations

import base64
import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conveyor.shared.adapters.forge import Gitea as GiteaForge
from conveyor.shared.adapters.forge import Proposal
from tests.committer.pull_scenario import (
    PUSH_BRANCH,
    Scenario,
    manifests,
    ready,
    repository_files,
    scenario,
    title,
)
from tests.fixtures.git_remotes import init_bare
from tests.fixtures.gitea import Gitea

_names = itertools.count(1)


@pytest.fixture(scope="module")
def gitea(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gitea]:
    with Gitea(tmp_path_factory.mktemp("gitea")) as served:
        yield served


@pytest.fixture
def repo(gitea: Gitea, tmp_path: Path) -> str:
    """A new repository on Gitea holding the app's files on main; its name."""
    name = f"app{next(_names)}"
    bare = tmp_path / "seed.git"
    init_bare(bare, repository_files())
    gitea.create_repo(name)
    gitea.push(bare, name, "main")
    return name


def setup(gitea: Gitea, repo: str, redis_url: str, tmp_path: Path,
          more: dict[str, str] | None = None, names: tuple[str, ...] = ("auto",)) -> Scenario:
    notes = {"conveyor.dev/pull-request": "gitea",
             "conveyor.dev/pull-request-api": gitea.api_url, **(more or {})}
    url = f"{gitea.url}/{gitea.user}/{repo}.git"
    return scenario(redis_url, tmp_path, manifests(url, gitea.token, notes, names))


def pulls(gitea: Gitea, repo: str) -> list[dict[str, Any]]:
    found = gitea.api("GET", f"/repos/{gitea.user}/{repo}/pulls?state=all&limit=50")
    assert isinstance(found, list)
    return sorted(found, key=lambda p: int(p["number"]))


def branch_head(gitea: Gitea, repo: str, branch: str) -> str:
    found = gitea.api("GET", f"/repos/{gitea.user}/{repo}/branches/{branch.replace('/', '%2F')}")
    return str(found["commit"]["id"])


def image_on(gitea: Gitea, repo: str, ref: str) -> str:
    found = gitea.api("GET", f"/repos/{gitea.user}/{repo}/contents/deploy/app.yaml?ref={ref}")
    text = base64.b64decode(found["content"]).decode()
    return text.split("image: ")[1].split()[0]


def test_a_tag_opens_one_pull_request_and_a_newer_tag_updates_it(
    gitea: Gitea, repo: str, redis_url: str, tmp_path: Path
) -> None:
    s = setup(gitea, repo, redis_url, tmp_path)
    main = branch_head(gitea, repo, "main")
    s.choose("1.1.0")
    status = s.run()
    head = branch_head(gitea, repo, PUSH_BRANCH)
    [pull] = pulls(gitea, repo)
    assert (pull["head"]["ref"], pull["base"]["ref"], pull["state"]) == (PUSH_BRANCH, "main",
                                                                        "open")
    assert pull["head"]["sha"] == head and pull["title"] == title("1.1.0")
    commit = gitea.api("GET", f"/repos/{gitea.user}/{repo}/git/commits/{head}")
    assert pull["body"].strip() == commit["commit"]["message"].strip()
    assert "Automation: flux-system/auto" in pull["body"]
    assert branch_head(gitea, repo, "main") == main
    assert ready(status) == (
        "True", "Succeeded",
        f"pushed commit '{head[:7]}' to branch '{PUSH_BRANCH}' and opened pull request "
        f"#{pull['number']}: {pull['html_url']}",
    )
    s.choose("1.2.0")
    status = s.run()
    [pull] = pulls(gitea, repo)
    newer = branch_head(gitea, repo, PUSH_BRANCH)
    assert newer != head and pull["head"]["sha"] == newer and pull["state"] == "open"
    assert pull["title"] == title("1.2.0")
    assert image_on(gitea, repo, PUSH_BRANCH).endswith(":1.2.0")
    assert ready(status)[2].endswith(f"and updated pull request #{pull['number']}: "
                                     f"{pull['html_url']}")
    assert gitea.token not in ready(status)[2]


def test_a_merged_pull_request_is_not_reopened(
    gitea: Gitea, repo: str, redis_url: str, tmp_path: Path
) -> None:
    s = setup(gitea, repo, redis_url, tmp_path)
    s.choose("1.1.0")
    s.run()
    [first] = pulls(gitea, repo)
    gitea.api("POST", f"/repos/{gitea.user}/{repo}/pulls/{first['number']}/merge",
              {"Do": "merge"})
    assert image_on(gitea, repo, "main").endswith(":1.1.0")
    assert ready(s.run())[0] == "True"  # nothing new: nothing opened
    assert [p["merged"] for p in pulls(gitea, repo)] == [True]
    s.choose("1.2.0")
    status = s.run()
    first, second = pulls(gitea, repo)
    assert first["merged"] and first["state"] == "closed" and first["title"] == title("1.1.0")
    assert second["state"] == "open" and second["title"] == title("1.2.0")
    assert second["head"]["sha"] == branch_head(gitea, repo, PUSH_BRANCH)
    assert f"opened pull request #{second['number']}" in ready(status)[2]


def test_two_runs_racing_while_one_is_open_end_with_one_holding_the_newest(
    gitea: Gitea, repo: str, redis_url: str, tmp_path: Path
) -> None:
    s = setup(gitea, repo, redis_url, tmp_path, names=("auto", "other"))
    s.choose("1.1.0")
    s.run("auto")
    assert len(pulls(gitea, repo)) == 1
    s.choose("1.2.0")
    first = threading.Thread(target=s.run, args=("auto",))
    first.start()
    s.choose("1.3.0")
    second = threading.Thread(target=s.run, args=("other",))
    second.start()
    first.join()
    second.join()
    [pull] = pulls(gitea, repo)
    assert pull["state"] == "open" and pull["title"] == title("1.3.0")
    assert pull["head"]["sha"] == branch_head(gitea, repo, PUSH_BRANCH)
    assert image_on(gitea, repo, PUSH_BRANCH).endswith(":1.3.0")


def test_a_closed_one_with_the_commit_is_left_alone_and_a_new_commit_opens_one(
    gitea: Gitea, repo: str, redis_url: str, tmp_path: Path
) -> None:
    """The forge's side of it, through the adapter: Gitea's own answers."""
    s = setup(gitea, repo, redis_url, tmp_path)
    s.choose("1.1.0")
    s.run()
    [pull] = pulls(gitea, repo)
    gitea.api("PATCH", f"/repos/{gitea.user}/{repo}/pulls/{pull['number']}", {"state": "closed"})
    head = branch_head(gitea, repo, PUSH_BRANCH)
    with GiteaForge(gitea.api_url, f"{gitea.user}/{repo}", gitea.token) as forge:
        done = forge.propose(Proposal(PUSH_BRANCH, "main", head, "again", ""))
        assert (done.action, done.pull.number) == ("closed", pull["number"])
        assert [p["state"] for p in pulls(gitea, repo)] == ["closed"]
        # a new commit on the branch (made on Gitea's page, say) is a change to propose
        gitea.api("POST", f"/repos/{gitea.user}/{repo}/contents/NOTES.md", {
            "content": base64.b64encode(b"notes\n").decode(), "branch": PUSH_BRANCH,
            "message": "notes"})
        newer = branch_head(gitea, repo, PUSH_BRANCH)
        opened = forge.propose(Proposal(PUSH_BRANCH, "main", newer, "newer", "body"))
        again = forge.propose(Proposal(PUSH_BRANCH, "main", newer, "newer still", "body"))
    assert opened.action == "opened" and again.action == "updated"
    assert again.pull.number == opened.pull.number != pull["number"]
    closed, open_ = pulls(gitea, repo)
    assert closed["state"] == "closed" and open_["state"] == "open"
    assert open_["title"] == "newer still" and open_["head"]["sha"] == newer


def test_labels_a_reviewer_and_auto_merge(
    gitea: Gitea, repo: str, redis_url: str, tmp_path: Path
) -> None:
    try:
        gitea.create_user("alice")
    except RuntimeError as exc:  # made by an earlier test of this module's server
        assert "already exists" in str(exc)
    gitea.api("PUT", f"/repos/{gitea.user}/{repo}/collaborators/alice", {"permission": "write"},
              ok=(204,))
    gitea.api("POST", f"/repos/{gitea.user}/{repo}/labels", {"name": "images",
                                                            "color": "#00aabb"})
    s = setup(gitea, repo, redis_url, tmp_path, {
        "conveyor.dev/pull-request-labels": "images",
        "conveyor.dev/pull-request-reviewers": "alice",
        "conveyor.dev/pull-request-auto-merge": "true",
    })
    s.choose("1.1.0")
    status = s.run()
    assert ready(status)[0] == "True", ready(status)
    [pull] = pulls(gitea, repo)
    assert [label["name"] for label in pull["labels"]] == ["images"]
    assert [u["login"] for u in pull["requested_reviewers"]] == ["alice"]
    # auto-merge scheduled (201): with no checks to wait for, Gitea merges it in the background
    for _ in range(600):
        [pull] = pulls(gitea, repo)
        if pull["merged"]:
            break
        time.sleep(0.1)
    assert pull["merged"]
    assert image_on(gitea, repo, "main").endswith(":1.1.0")
