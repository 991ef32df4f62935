"""``Workspace.commit`` on a real Git repository: one ``git commit -- files`` stages and
commits the tracked files it is given, and only those; a file Git does not know yet is added
first; files that did not change commit nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from conveyor.shared.adapters import git
from conveyor.shared.adapters.git import GitAuth, Workspace
from tests.fixtures.git_remotes import init_bare


@pytest.fixture
def tree(tmp_path: Path) -> Workspace:
    bare = tmp_path / "repo.git"
    init_bare(bare, {"deploy.yaml": "image: app:1\n", "other.yaml": "a: 1\n"})
    tree = Workspace(tmp_path / "tree", bare.as_uri(), GitAuth(), 60)
    tree.checkout("main")
    return tree


def git_out(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def changed(tree: Workspace, commit: str) -> list[str]:
    out = git_out("show", "--name-only", "--format=", commit, cwd=tree.path)
    return sorted(out.split())


def test_commits_the_given_files_only(tree: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    (tree.path / "deploy.yaml").write_text("image: app:2\n")
    (tree.path / "other.yaml").write_text("a: 2\n")  # changed, not given: stays uncommitted
    calls: list[list[str]] = []
    real = git._git_bytes

    def spy(command: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append([str(c) for c in command])
        return real(command, *args, **kwargs)

    monkeypatch.setattr(git, "_git_bytes", spy)
    commit = tree.commit(["deploy.yaml"], "update\n", "bot", "bot@example.com")
    monkeypatch.undo()
    assert commit is not None
    assert changed(tree, commit) == ["deploy.yaml"]
    assert git_out("log", "-1", "--format=%an <%ae>%n%B", cwd=tree.path).strip() == (
        "bot <bot@example.com>\nupdate"
    )
    assert [c for c in calls if "add" in c] == []  # one process: no `git add`
    assert sum("commit" in c for c in calls) == 1
    assert "other.yaml" in git_out("status", "--porcelain", cwd=tree.path)


def test_a_file_git_does_not_know_is_added(tree: Workspace) -> None:
    (tree.path / "new.yaml").write_text("image: app:3\n")
    commit = tree.commit(["new.yaml"], "add", "bot", "bot@example.com")
    assert commit is not None
    assert changed(tree, commit) == ["new.yaml"]


def test_unchanged_files_commit_nothing(tree: Workspace) -> None:
    head = git_out("rev-parse", "HEAD", cwd=tree.path).strip()
    (tree.path / "other.yaml").write_text("a: 2\n")  # another file's change is not a reason
    assert tree.commit(["deploy.yaml"], "noop", "bot", "bot@example.com") is None
    assert git_out("rev-parse", "HEAD", cwd=tree.path).strip() == head
