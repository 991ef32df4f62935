"""Git's housekeeping on an event's path: the source-fetcher's fetch and the committer's commit
start no ``git maintenance`` process of git's own; the same test git makes (gc's loose objects
and packs) is made on the files, and when it passes git's maintenance runs, as git would."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conveyor.shared.adapters import git as git_adapter
from conveyor.shared.adapters.git import GitAuth, Workspace, fetch_mirror
from tests.fixtures.git_remotes import init_bare

SEED = {"deploy.yaml": "image: app:1\n"}


def git_out(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def test_fetch_and_commit_start_no_maintenance_process_when_none_is_due(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = tmp_path / "repo.git"
    init_bare(bare, SEED)
    trace = tmp_path / "trace.log"
    monkeypatch.setenv("GIT_TRACE", str(trace))
    fetch_mirror(bare.as_uri(), tmp_path / "mirror", "refs/heads/main", None, 30)
    tree = Workspace(tmp_path / "tree", bare.as_uri(), GitAuth(), 30)
    tree.checkout("main")
    trace.write_text("")  # the checkout's fetch (off an event's path) may check as git does
    (tree.path / "deploy.yaml").write_text("image: app:2\n")
    assert tree.commit(["deploy.yaml"], "update", "bot", "bot@example.com") is not None
    committed = trace.read_text()
    tree.push("main", "main")  # (the remote's receive-pack has its own gc --auto)
    trace.write_text("")
    fetch_mirror(bare.as_uri(), tmp_path / "mirror", "refs/heads/main", None, 30)
    fetched = trace.read_text()
    assert "built-in: git commit" in committed and "built-in: git fetch" in fetched
    for traced in (committed, fetched):
        assert "maintenance run" not in traced and "gc --auto" not in traced


def test_maintenance_runs_when_git_s_own_test_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = tmp_path / "repo.git"
    init_bare(bare, SEED)
    tree = Workspace(tmp_path / "tree", bare.as_uri(), GitAuth(), 30)
    tree.checkout("main")
    calls: list[list[str]] = []
    real = git_adapter._git_bytes

    def spy(command: list[str], **kwargs: object) -> bytes:
        calls.append(list(command))
        return real(command, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(git_adapter, "_git_bytes", spy)
    (tree.path / "deploy.yaml").write_text("image: app:2\n")
    assert tree.commit(["deploy.yaml"], "update", "bot", "bot@example.com") is not None
    fetch_mirror(bare.as_uri(), tmp_path / "mirror", "refs/heads/main", None, 30)
    assert [c for c in calls if c[0] == "maintenance"] == []  # not due: none

    # the test on the files passes (as with more than 6,700 loose objects): git's runs
    monkeypatch.setattr(git_adapter, "_LOOSE_IN_17", -1)
    (tree.path / "deploy.yaml").write_text("image: app:3\n")
    assert tree.commit(["deploy.yaml"], "update", "bot", "bot@example.com") is not None
    fetch_mirror(bare.as_uri(), tmp_path / "mirror", "refs/heads/main", None, 30)
    maintenance = [c for c in calls if c[0] == "maintenance"]
    assert maintenance == [["maintenance", "run", "--auto", "--quiet"]] * 2
    assert git_out("log", "-1", "--format=%s", cwd=tree.path).strip() == "update"


def test_many_packs_are_due_and_a_missing_directory_is_not(tmp_path: Path) -> None:
    git_dir = tmp_path / "g"
    assert not git_adapter._needs_maintenance(git_dir)
    (git_dir / "objects" / "pack").mkdir(parents=True)
    for i in range(51):
        (git_dir / "objects" / "pack" / f"pack-{i:040x}.pack").write_bytes(b"")
    assert git_adapter._needs_maintenance(git_dir)
    (git_dir / "objects" / "pack" / "pack-0000000000000000000000000000000000000000.pack").unlink()
    assert not git_adapter._needs_maintenance(git_dir)
