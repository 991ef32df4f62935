"""What a GitRepository's artifact holds, end to end on real remotes, and what a Kustomization
builds from it: Flux's default exclusions, ``spec.ignore`` and ``.sourceignore`` files,
``spec.include``, ``spec.recurseSubmodules`` and ``spec.sparseCheckout``."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.git_remotes import SmartHTTPRemote, advance, git, init_bare
from tests.git.pipeline import (
    NS,
    Pipeline,
    built,
    config_map,
    git_repository,
    kustomization,
    ready,
)


@pytest.fixture
def pipeline(redis_url: str, tmp_path: Path) -> Pipeline:
    return Pipeline(redis_url, tmp_path / "data")


def indented(text: str, by: int = 4) -> str:
    return "".join(" " * by + line + "\n" for line in text.splitlines())


# --- ignore --------------------------------------------------------------------------------

TREE = {
    "deploy/app.yaml": config_map("app"),
    "deploy/logo.png": "not really a png",
    "deploy/notes.md": "notes",
    "deploy/sub/readme.txt": "text",
    "other/extra.yaml": config_map("extra"),
    ".github/workflows/ci.yaml": "on: push\n",
    ".gitignore": "*.tmp\n",
    ".gitattributes": "* text=auto\n",
    "tools/.goreleaser.yml": "builds: []\n",
    "dist.tar.gz": "x",
    "README.md": "readme",
}


def test_default_exclusions_leave_out_vcs_ci_and_images(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    bare = tmp_path / "app.git"
    init_bare(bare, TREE)
    pipeline.load(git_repository("app", bare.as_uri()) + kustomization("app", "app"))
    pipeline.reconcile("app")

    assert ready(pipeline.source("app")).status == "True"
    assert set(pipeline.files("app")) == {
        "deploy/app.yaml",
        "deploy/notes.md",
        "deploy/sub/readme.txt",
        "other/extra.yaml",
        "README.md",
    }
    assert not any(m == ".git" or m.startswith(".git/") for m in pipeline.members("app"))
    assert built(pipeline.kustomization("app")) == 2


# Flux's GitRepository documentation, "Ignore spec", verbatim
FLUX_IGNORE_EXAMPLE = """\
# exclude all
/*
# include deploy dir
!/deploy
# exclude file extensions from deploy dir
/deploy/**/*.md
/deploy/**/*.txt
"""


def test_spec_ignore_as_flux_documents_it_overrides_the_defaults(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    bare = tmp_path / "app.git"
    init_bare(bare, TREE)
    spec = "  ignore: |\n" + indented(FLUX_IGNORE_EXAMPLE)
    pipeline.load(git_repository("app", bare.as_uri(), spec) + kustomization("app", "app"))
    pipeline.reconcile("app")

    source = pipeline.source("app")
    assert ready(source).status == "True"
    # the spec's patterns replace the default list: the image under deploy/ stays
    assert set(pipeline.files("app")) == {"deploy/app.yaml", "deploy/logo.png"}
    assert source.observed_ignore == FLUX_IGNORE_EXAMPLE
    assert built(pipeline.kustomization("app")) == 1


def test_sourceignore_files_apply_below_their_directory(pipeline: Pipeline, tmp_path: Path) -> None:
    bare = tmp_path / "app.git"
    commit = init_bare(
        bare,
        {
            ".sourceignore": "# text files, but one\n*.txt\n!keep.txt\n",
            "notes.txt": "n",
            "keep.txt": "k",
            "local.yaml": config_map("root-local"),
            "deploy/.sourceignore": "local.yaml\n",
            "deploy/local.yaml": config_map("local"),
            "deploy/app.yaml": config_map("app"),
            "deploy/logo.png": "png",
        },
    )
    pipeline.load(git_repository("app", bare.as_uri()) + kustomization("app", "app"))
    pipeline.reconcile("app")
    first = pipeline.source("app")
    assert ready(first).status == "True"
    assert set(pipeline.files("app")) == {
        ".sourceignore",
        "keep.txt",
        "local.yaml",
        "deploy/.sourceignore",
        "deploy/app.yaml",
        "deploy/logo.png",  # .sourceignore patterns replace the default list too
    }
    assert built(pipeline.kustomization("app")) == 2

    # spec.ignore comes after the files: it may re-include what they leave out; a new ignore
    # builds the artifact of the same revision again, and says so
    pipeline.load(git_repository("app", bare.as_uri(), "  ignore: '!notes.txt'\n"))
    pipeline.seen.clear()
    pipeline.reconcile("app")
    second = pipeline.source("app")
    assert "notes.txt" in pipeline.files("app")
    assert first.artifact is not None and second.artifact is not None
    assert second.artifact.revision == first.artifact.revision == f"main@sha1:{commit}"
    assert second.artifact.digest != first.artifact.digest
    assert second.observed_ignore == "!notes.txt"
    assert ("applier", "SourceUpdated") in pipeline.seen

    # nothing changed: nothing built, nothing announced
    pipeline.seen.clear()
    pipeline.reconcile("app")
    assert pipeline.source("app").artifact == second.artifact
    assert not any(kind == "SourceUpdated" for _, kind in pipeline.seen)


# --- include -------------------------------------------------------------------------------


def test_include_copies_another_artifact_and_follows_its_revision(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    shared, app = tmp_path / "shared.git", tmp_path / "app.git"
    init_bare(
        shared,
        {
            "manifests/base.yaml": config_map("base"),
            "manifests/extra/more.yaml": config_map("more"),
            "README.md": "shared",
        },
    )
    app_commit = init_bare(app, {"deploy/app.yaml": config_map("app")})
    includes = (
        "  include:\n"
        "    - repository: {name: shared}\n"
        "      fromPath: manifests\n"
        "      toPath: deploy/shared\n"
    )
    pipeline.load(
        git_repository("shared", shared.as_uri())
        + git_repository("app", app.as_uri(), includes)
        + git_repository("whole", app.as_uri(), "  include: [{repository: {name: shared}}]\n")
        + kustomization("app", "app", "./deploy")
    )

    pipeline.reconcile("app")  # shared has no artifact yet
    waiting = pipeline.source("app")
    assert ready(waiting).reason == "NoArtifact"
    unavailable = waiting.condition("IncludeUnavailable")
    assert unavailable is not None and unavailable.status == "True"
    assert unavailable.message == "no artifact available for include 'shared'"
    assert waiting.artifact is None

    pipeline.reconcile("shared")  # its new artifact wakes the GitRepositories including it
    source = pipeline.source("app")
    assert ready(source).status == "True", source.conditions
    assert source.condition("IncludeUnavailable") is None
    assert set(pipeline.files("app")) == {
        "deploy/app.yaml",
        "deploy/shared/base.yaml",
        "deploy/shared/extra/more.yaml",
    }
    shared_artifact = pipeline.source("shared").artifact
    assert shared_artifact is not None and source.included_artifacts is not None
    assert [a.revision for a in source.included_artifacts] == [shared_artifact.revision]
    assert source.observed_include == [
        {"repository": {"name": "shared"}, "fromPath": "manifests", "toPath": "deploy/shared"}
    ]
    assert built(pipeline.kustomization("app")) == 3
    # toPath defaults to the included GitRepository's name, fromPath to its whole artifact
    assert set(pipeline.files("whole")) == {
        "deploy/app.yaml",
        "shared/manifests/base.yaml",
        "shared/manifests/extra/more.yaml",
        "shared/README.md",
    }

    # a new revision of the included repository: a new artifact of the same app revision
    newer = advance(shared, "main", {"manifests/third.yaml": config_map("third")})
    pipeline.reconcile("shared")
    again = pipeline.source("app")
    assert again.artifact is not None and source.artifact is not None
    assert again.artifact.revision == source.artifact.revision == f"main@sha1:{app_commit}"
    assert again.artifact.digest != source.artifact.digest
    assert again.included_artifacts is not None
    assert again.included_artifacts[0].revision == f"main@sha1:{newer}"
    assert "deploy/shared/third.yaml" in pipeline.files("app")
    assert built(pipeline.kustomization("app")) == 4


def test_include_failures_as_flux_reports_them(pipeline: Pipeline, tmp_path: Path) -> None:
    shared, app = tmp_path / "shared.git", tmp_path / "app.git"
    init_bare(shared, {"manifests/base.yaml": config_map("base")})
    init_bare(app, {"deploy/app.yaml": config_map("app")})
    into_deploy = (
        "  include: [{repository: {name: shared}, fromPath: manifests, toPath: deploy}]\n"
    )
    pipeline.load(
        git_repository("shared", shared.as_uri())
        + git_repository("ghost", app.as_uri(), "  include: [{repository: {name: nobody}}]\n")
        + git_repository("clash", app.as_uri(), into_deploy)
        + git_repository("one", app.as_uri(), "  include: [{repository: {name: two}}]\n")
        + git_repository("two", app.as_uri(), "  include: [{repository: {name: one}}]\n")
    )
    pipeline.reconcile("shared")

    pipeline.reconcile("ghost")
    ghost = pipeline.source("ghost")
    assert ready(ghost).reason == "NotFound"
    assert ready(ghost).message == (
        f"could not get resource for include 'nobody': GitRepository {NS}/nobody not found"
    )
    assert ghost.condition("IncludeUnavailable") is not None

    # Flux moves the included directory into place: onto a directory that holds files, no
    pipeline.reconcile("clash")
    clash = pipeline.source("clash")
    failed = clash.condition("StorageOperationFailed")
    assert failed is not None and failed.reason == "CopyFailure", clash.conditions
    assert failed.message.startswith(
        "failed to copy 'shared' include from manifests to deploy: "
    ), failed.message
    assert ready(clash).status == "False" and clash.artifact is None

    pipeline.reconcile("one")
    one = pipeline.source("one")
    assert ready(one).reason == "IncludeCycle"
    assert one.condition("Stalled") is None  # the cycle may end by a change of "two"
    assert "one -> two -> one" in ready(one).message


# --- recurseSubmodules ---------------------------------------------------------------------

USER, PASSWORD = "flux", "subm0dule-Pa55"


@pytest.fixture
def http_remote(tmp_path: Path) -> Iterator[SmartHTTPRemote]:
    with SmartHTTPRemote(tmp_path / "http", USER, PASSWORD) as remote:
        yield remote


def superproject(root: Path) -> str:
    """``root/super.git`` with ``vendor/sub`` a submodule at ``../sub.git`` (relative to the
    superproject's URL); returns the submodule's commit."""
    sub = init_bare(root / "sub.git", {"app.yaml": config_map("from-submodule")})
    git("init", "-q", "--bare", "--initial-branch=main", str(root / "super.git"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        git("init", "-q", "--initial-branch=main", cwd=work)
        (work / "deploy").mkdir()
        (work / "deploy/app.yaml").write_text(config_map("app"))
        (work / ".gitmodules").write_text(
            '[submodule "vendor/sub"]\n\tpath = vendor/sub\n\turl = ../sub.git\n'
        )
        git("add", "-A", cwd=work)
        git("update-index", "--add", "--cacheinfo", f"160000,{sub},vendor/sub", cwd=work)
        git("commit", "-q", "-m", "with a submodule", cwd=work)
        git("push", "-q", str(root / "super.git"), "HEAD:refs/heads/main", cwd=work)
    return sub


def test_recurse_submodules_with_the_same_credentials(
    pipeline: Pipeline, http_remote: SmartHTTPRemote
) -> None:
    superproject(http_remote.root)
    url = http_remote.url_for("super.git")
    secret = (
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: http, namespace: {NS}}}\n"
        f"stringData: {{username: {USER}, password: {PASSWORD}}}\n---\n"
    )
    pipeline.load(
        secret
        + git_repository("deep", url, "  recurseSubmodules: true\n", secret="http")
        + git_repository("flat", url, secret="http")
        + kustomization("deep", "deep")
    )
    pipeline.reconcile("deep")
    pipeline.reconcile("flat")

    deep = pipeline.source("deep")
    assert ready(deep).status == "True", deep.conditions
    assert {"deploy/app.yaml", "vendor/sub/app.yaml"} <= set(pipeline.files("deep"))
    assert ".gitmodules" not in pipeline.files("deep")
    assert deep.observed_recurse_submodules is True
    assert built(pipeline.kustomization("deep")) == 2
    fetched = [r for r in http_remote.requests if r.path.startswith("/sub.git/")]
    assert fetched and all(r.user == USER for r in fetched if r.status == 200)

    # without it, the submodule is an empty directory
    assert set(pipeline.files("flat")) == {"deploy/app.yaml"}
    assert "vendor/sub" in pipeline.members("flat")


# --- sparseCheckout ------------------------------------------------------------------------


def test_sparse_checkout_keeps_only_the_listed_directories(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    bare = tmp_path / "app.git"
    init_bare(
        bare,
        {
            "charts/a.yaml": config_map("a"),
            "charts-old/b.yaml": config_map("b"),
            "kustomize/c.yaml": config_map("c"),
            "other/d.yaml": config_map("d"),
            "README.md": "readme",
        },
    )
    pipeline.load(
        git_repository("app", bare.as_uri(), "  sparseCheckout: [charts, ./kustomize]\n")
        + git_repository("missing", bare.as_uri(), "  sparseCheckout: [charts, nothere]\n")
        + kustomization("app", "app")
    )
    pipeline.reconcile("app")
    source = pipeline.source("app")
    assert ready(source).status == "True", source.conditions
    # go-git's sparse checkout keeps the paths that start with a listed directory's name
    assert set(pipeline.files("app")) == {"charts/a.yaml", "charts-old/b.yaml", "kustomize/c.yaml"}
    assert source.observed_sparse_checkout == ["charts", "./kustomize"]
    assert built(pipeline.kustomization("app")) == 3

    pipeline.reconcile("missing")
    missing = pipeline.source("missing")
    failed = missing.condition("FetchFailed")
    assert failed is not None and failed.reason == "GitOperationFailed"
    assert "sparse checkout dir 'nothere' does not exist in repository" in failed.message
    assert ready(missing).status == "False" and missing.artifact is None
