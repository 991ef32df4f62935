"""GitRepository spec.ref as Flux reads it: commit, name, semver, tag, branch (in that order)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conveyor.services.source_fetcher.reconcile import STAGE
from conveyor.shared.bus import InlineDispatcher
from conveyor.shared.events import ReconcileRequested
from conveyor.shared.manifests import parse_manifests
from conveyor.shared.runtime import Context, Settings, handle
from conveyor.shared.status import GitRepositoryStatus
from conveyor.shared.store import Store


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("refs")
    bare = root / "app.git"
    git("init", "-q", "--bare", "-b", "master", str(bare), cwd=root)
    work = root / "work"
    git("clone", "-q", str(bare), str(work), cwd=root)
    shas: dict[str, str] = {}
    for i, tag in enumerate(["v1.0.0", "v1.2.0", "v2.0.0-rc.1", "v2.0.0", "not-a-version"]):
        (work / "file.txt").write_text(f"{i}\n")
        git("add", "-A", cwd=work)
        git("-c", "user.name=d", "-c", "user.email=d@e", "commit", "-qm", tag, cwd=work)
        if tag == "v1.2.0":  # an annotated tag: its commit is what counts
            git("-c", "user.name=d", "-c", "user.email=d@e", "tag", "-a", tag, "-m", tag, cwd=work)
        else:
            git("tag", tag, cwd=work)
        shas[tag] = git("rev-parse", "HEAD", cwd=work)
    (work / "file.txt").write_text("head\n")
    git("-c", "user.name=d", "-c", "user.email=d@e", "commit", "-qam", "head", cwd=work)
    shas["master"] = git("rev-parse", "HEAD", cwd=work)
    git("push", "-q", "--tags", "origin", "master", cwd=work)
    return bare, shas


def reconcile(ref: str, bare: Path, redis_url: str, tmp_path: Path) -> GitRepositoryStatus:
    store = Store.from_url(redis_url)
    store.put_object(
        parse_manifests(
            f"apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
            f"metadata: {{name: app, namespace: ns}}\n"
            f"spec: {{url: {bare.as_uri()}, interval: 1m, ref: {ref}}}\n"
        )[0]
    )
    ctx = Context(store, InlineDispatcher(), Settings(data_dir=tmp_path, kubeconfig=None))
    event = ReconcileRequested(kind="GitRepository", namespace="ns", name="app")
    handle(STAGE, event.to_message(), ctx)
    return store.get_status("GitRepository/ns/app", GitRepositoryStatus)


@pytest.mark.parametrize(
    "ref, revision",
    [
        pytest.param("{branch: master}", "master@sha1:{master}", id="branch"),
        pytest.param("{tag: v1.0.0}", "v1.0.0@sha1:{v1.0.0}", id="tag"),
        pytest.param("{semver: '>=1.0.0 <2.0.0'}", "v1.2.0@sha1:{v1.2.0}", id="semver-annotated"),
        pytest.param("{semver: '>=1.0.0'}", "v2.0.0@sha1:{v2.0.0}", id="semver-no-prerelease"),
        pytest.param("{semver: '>=2.0.0-0'}", "v2.0.0@sha1:{v2.0.0}", id="semver-prerelease-ok"),
        pytest.param(
            "{name: refs/tags/v2.0.0-rc.1}", "refs/tags/v2.0.0-rc.1@sha1:{v2.0.0-rc.1}", id="name"
        ),
        pytest.param("{commit: '{v1.0.0}'}", "sha1:{v1.0.0}", id="commit"),
        pytest.param(
            "{branch: master, commit: '{v1.0.0}'}", "master@sha1:{v1.0.0}", id="commit-on-branch"
        ),
        pytest.param(
            "{tag: v1.0.0, semver: '<1.1'}", "v1.0.0@sha1:{v1.0.0}", id="semver-before-tag"
        ),
    ],
)
def test_revision_of_each_ref(
    ref: str, revision: str, remote: tuple[Path, dict[str, str]], redis_url: str, tmp_path: Path
) -> None:
    bare, shas = remote
    for name, sha in shas.items():
        ref, revision = ref.replace(f"{{{name}}}", sha), revision.replace(f"{{{name}}}", sha)
    status = reconcile(ref, bare, redis_url, tmp_path)
    assert status.ready is not None and status.ready.status == "True", status.ready
    assert status.artifact is not None and status.artifact.revision == revision


def test_semver_without_a_match_says_so(
    remote: tuple[Path, dict[str, str]], redis_url: str, tmp_path: Path
) -> None:
    status = reconcile("{semver: '>=3.0.0'}", remote[0], redis_url, tmp_path)
    assert status.ready is not None and status.ready.status == "False"
    assert "no tag matches spec.ref.semver '>=3.0.0'" in status.ready.message
    bad = reconcile("{semver: '>>1'}", remote[0], redis_url, tmp_path)
    assert bad.condition("Stalled") is not None
    assert "spec.ref.semver" in bad.ready.message  # type: ignore[union-attr]
