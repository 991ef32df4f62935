"""The committer's work tree pushes with Git push options over smart HTTP (the real
``git http-backend``, Basic auth): the remote's hook receives each option as ``key=value``; an
option of more than one line is refused before anything is pushed."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.shared.adapters.git import GitAuth, Workspace
from conveyor.shared.errors import InvalidSpec
from tests.committer.push_hooks import pushes, record_pushes
from tests.fixtures.git_remotes import SmartHTTPRemote, git_out, init_bare

USER, PASSWORD = "bot", "s3cret-password"


def test_push_options_over_smart_http(tmp_path: Path) -> None:
    bare = tmp_path / "http" / "repo.git"
    init_bare(bare, {"deploy.yaml": "image: app:1\n"})
    log = record_pushes(bare)
    with SmartHTTPRemote(tmp_path / "http", USER, PASSWORD) as remote:
        tree = Workspace(
            tmp_path / "tree",
            remote.url_for("repo.git"),
            GitAuth(username=USER, password=PASSWORD),
            60,
            push_options={"merge_request.target": "release", "merge_request.create": ""},
        )
        base = tree.checkout("main", local="auto")
        (tree.path / "deploy.yaml").write_text("image: app:2\n")
        commit = tree.commit(["deploy.yaml"], "update", "bot", "bot@example.com")
        assert commit is not None
        tree.push("auto", "auto")
        tree.push_refspec("HEAD:refs/for/main", force=True)
    assert not tree.options_dropped
    options = ["merge_request.create=", "merge_request.target=release"]
    assert pushes(log) == [
        {"options": options, "refs": {"refs/heads/auto": commit}},
        {"options": options, "refs": {"refs/for/main": commit}},
    ]
    assert git_out(bare, "rev-parse", "auto^") == base


def test_a_push_option_of_two_lines_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidSpec, match="'description': a push option is one line"):
        Workspace(
            tmp_path / "tree",
            "file:///nowhere",
            None,
            60,
            push_options={"description": "first\nsecond"},
        )
