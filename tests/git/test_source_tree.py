"""The artifact's tree without a remote: which paths the ignore rules keep (source-controller's
go-git matcher over every path of the walk), what an include's rename does, the determinism of
the archive."""

from __future__ import annotations

import io
import tarfile

import pytest

from conveyor.services.source_fetcher.artifact import DIR, FILE, LINK, IncludeError, Node, Tree


def tree(files: dict[str, str]) -> Tree:
    out = Tree()
    for path, content in files.items():
        if content.startswith("->"):
            out.add(path, Node(LINK, target=content[2:]))
        elif path.endswith("/"):
            out.add(path, Node(DIR))
        else:
            out.add(path, Node(FILE, content.encode()))
    return out


def kept(t: Tree, ignore: str | None = None) -> set[str]:
    with tarfile.open(fileobj=io.BytesIO(t.archive(ignore)), mode="r:gz") as tar:
        return {m.name for m in tar.getmembers() if not m.isdir()}


@pytest.mark.parametrize(
    "ignore, files, expected",
    [
        pytest.param(
            "*.md", ["a.md", "docs/b.md", "c.md.txt", "x.md/y.yaml"], {"c.md.txt"},
            id="a name at any depth, and what is below it",
        ),
        pytest.param(
            "/deploy", ["deploy/a.yaml", "sub/deploy/b.yaml"], {"sub/deploy/b.yaml"},
            id="a leading slash anchors to the root",
        ),
        pytest.param(
            "build/", ["build/a", "x/build/b", "build.yaml"], {"build.yaml"},
            id="a trailing slash: directories only",
        ),
        pytest.param(
            "deploy/\n!deploy/keep.yaml", ["deploy/a.yaml", "deploy/keep.yaml"],
            {"deploy/keep.yaml"},
            id="re-included under an excluded directory: the walk goes in",
        ),
        pytest.param(
            "!keep.yaml\ndeploy/", ["deploy/keep.yaml"], set(),
            id="the last matching pattern wins, a directory's too",
        ),
        pytest.param(
            "/*\n!/deploy\n/deploy/**/*.md", ["deploy/a.yaml", "deploy/x/y/z.md", "top.yaml"],
            {"deploy/a.yaml"},
            id="double star: zero or more directories",
        ),
        pytest.param(
            "\\#notes\n\\!bang\nspace\\ ", ["#notes", "!bang", "space ", "plain"], {"plain"},
            id="escaped hash, bang, trailing space",
        ),
        pytest.param(
            "# only a comment\n/\n!\n", ["a.png", "b.yaml", ".gitignore"], {"b.yaml"},
            id="comments and non-patterns: none, so the defaults apply",
        ),
        pytest.param(
            "", [".github/x.yaml", "a.zip", "b.yaml"], {"b.yaml"},
            id="an empty ignore: the defaults apply",
        ),
        pytest.param(
            "none-such", [".github/x.yaml", "a.zip", ".gitmodules", ".gitattributes"],
            {".github/x.yaml", "a.zip"},
            id="any pattern replaces the defaults, not the VCS files",
        ),
        pytest.param(
            "*.yaml  \n", ["a.yaml", "a.yaml  "], {"a.yaml  "},
            id="trailing spaces are not part of the pattern",
        ),
    ],
)
def test_spec_ignore_patterns(ignore: str, files: list[str], expected: set[str]) -> None:
    assert kept(tree(dict.fromkeys(files, "x")), ignore) == expected


def test_sourceignore_files_are_scoped_to_their_directory_and_come_before_the_spec() -> None:
    t = tree(
        {
            ".sourceignore": "*.txt\n",
            "a.txt": "x",
            "sub/.sourceignore": "local.yaml\n!again.txt\n",
            "sub/local.yaml": "x",
            "sub/again.txt": "x",
            "local.yaml": "x",
            "-sub/.sourceignore": "*.yaml\n",  # sorts before .sourceignore: read after it
            "-sub/x.yaml": "x",
            "other/.git/.sourceignore": "*\n",  # never read inside a .git directory
            "other/y.yaml": "x",
        }
    )
    assert kept(t) == {
        ".sourceignore",
        "sub/.sourceignore",
        "sub/again.txt",
        "local.yaml",
        "-sub/.sourceignore",
        "other/y.yaml",
    }
    assert "a.txt" in kept(t, "!a.txt")  # the spec's patterns come last


def test_the_archive_is_the_same_for_the_same_tree() -> None:
    files = {"b/c.yaml": "c", "a.yaml": "a", "run.sh": "#!/bin/sh\n", "link": "->a.yaml"}
    first, second = tree(files), tree(dict(reversed(files.items())))
    second.add("run.sh", Node(FILE, b"#!/bin/sh\n", executable=True))
    first.add("run.sh", Node(FILE, b"#!/bin/sh\n", executable=True))
    assert first.archive(None) == second.archive(None)
    with tarfile.open(fileobj=io.BytesIO(first.archive(None)), mode="r:gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert list(members) == ["a.yaml", "b", "b/c.yaml", "link", "run.sh"]  # Go's walk order
    assert (members["run.sh"].mode, members["a.yaml"].mode, members["b"].mode) == (
        0o700,
        0o600,
        0o750,
    )
    assert members["link"].issym() and members["link"].linkname == "a.yaml"
    assert {m.uid for m in members.values()} == {0} and {m.mtime for m in members.values()} == {0}


INCLUDED = {"manifests/a.yaml": "a", "manifests/sub/b.yaml": "b", "README.md": "r"}


@pytest.mark.parametrize(
    "own, from_path, to_path, expected",
    [
        pytest.param({}, "manifests", "deploy", {"deploy/a.yaml", "deploy/sub/b.yaml"}, id="dir"),
        pytest.param(
            {}, "", "",
            {"shared/manifests/a.yaml", "shared/manifests/sub/b.yaml", "shared/README.md"},
            id="defaults: the whole artifact at the include's name",
        ),
        pytest.param(
            {"deploy/": ""}, "manifests", "deploy", {"deploy/a.yaml", "deploy/sub/b.yaml"},
            id="onto an empty directory",
        ),
        pytest.param(
            {"x/a.yaml": "mine"}, "manifests/a.yaml", "x/a.yaml", {"x/a.yaml"},
            id="a file onto a file",
        ),
        pytest.param(
            {"vendor": "->lib"}, "manifests/sub", "vendor/b", {"lib/b/b.yaml", "vendor"},
            id="through a link, inside the tree",
        ),
        pytest.param(
            {"out": "->/../../etc"}, "manifests/sub", "out/b", {"etc/b/b.yaml", "out"},
            id="a link out of the tree stays in it",
        ),
        pytest.param(
            {}, "../../manifests", "../../../x", {"x/a.yaml", "x/sub/b.yaml"},
            id="dot-dots stop at the root",
        ),
    ],
)
def test_include_puts_the_artifact_in_place(
    own: dict[str, str], from_path: str, to_path: str, expected: set[str]
) -> None:
    t = tree(own)
    t.include(tree(INCLUDED), "shared", from_path, to_path)
    assert {p for p, n in t.nodes.items() if n.kind != DIR} == expected


@pytest.mark.parametrize(
    "own, from_path, to_path, detail",
    [
        pytest.param({"deploy/x.yaml": "x"}, "manifests", "deploy", "directory not empty"),
        pytest.param({"deploy": "x"}, "manifests", "deploy", "not a directory"),
        pytest.param({"deploy/": ""}, "README.md", "deploy", "is a directory"),
        pytest.param({"deploy": "x"}, "manifests", "deploy/y", "not a directory"),
        pytest.param({}, "nothere", "x", "cannot stat nothere: no such file or directory"),
        pytest.param({"a": "x"}, "", "/", "directory not empty"),
    ],
)
def test_include_refuses_what_a_rename_refuses(
    own: dict[str, str], from_path: str, to_path: str, detail: str
) -> None:
    with pytest.raises(IncludeError) as raised:
        tree(own).include(tree(INCLUDED), "shared", from_path, to_path)
    assert raised.value.reason == "CopyFailure"
    assert str(raised.value) == (
        f"failed to copy 'shared' include from {from_path} to {to_path}: {detail}"
    )


def test_sparse_keeps_paths_by_prefix() -> None:
    t = tree({"charts/a": "x", "charts-old/b": "x", "chartsy": "x", "k/c": "x", "d": "x"})
    t.sparse(["charts", "k/"])
    assert {p for p, n in t.nodes.items() if n.kind == FILE} == {
        "charts/a",
        "charts-old/b",
        "chartsy",
        "k/c",
    }
    assert t.exists("charts") and t.exists("./k") and not t.exists("d")
