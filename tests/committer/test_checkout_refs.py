"""spec.git.checkout.ref that pins a tag, a semver range, a commit or a ref name: the push branch
starts there (Flux's client checks the ref out, then switches to the push branch), and once the
push branch exists, each update goes on top of it. On a real remote, in this process."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.services.demo.scenario import Demo, ci_tags
from conveyor.services.runner import once
from conveyor.shared.runtime import Settings
from conveyor.shared.sources import ManifestSource
from conveyor.shared.status import ImageUpdateAutomationStatus
from conveyor.shared.store import Store
from tests.conftest import commit_files, git_out, push
from tests.fixtures.registries import Registry

KEY = "ImageUpdateAutomation/flux-system/gitops-demo-app"


def rev(demo: Demo, ref: str) -> str:
    return git_out(demo.remote, "rev-parse", ref).strip()


def tag(demo: Demo, name: str, commit: str) -> None:
    git_out(demo.remote, "tag", "-a", "-m", name, name, commit)  # annotated: peeled to commit


@pytest.mark.parametrize(
    "ref",
    ["{tag: v1.0.0}", "{semver: '>=0.9.0 <2.0.0'}", "{commit: '{A}'}", "{name: refs/tags/v1.0.0}"],
    ids=["tag", "semver", "commit", "name"],
)
def test_a_push_branch_starts_at_the_pinned_ref_then_is_built_upon(
    ref: str, demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    tag(demo, "v0.9.0", rev(demo, "master"))
    pinned = commit_files(demo.remote, {"app.py": "print('A')\n"}, "A")
    tag(demo, "v1.0.0", pinned)
    tag(demo, "v2.0.0", commit_files(demo.remote, {"app.py": "print('B')\n"}, "B"))
    master = rev(demo, "master")
    path = demo.manifests / "gitops-demo-app.yaml"
    text = path.read_text()
    for old, new in [
        ("      ref:\n        branch: master\n    commit:", f"      ref: {ref}\n    commit:"),
        ("    push:\n      branch: master", "    push:\n      branch: auto"),
    ]:
        assert text.count(old) == 1
        text = text.replace(old, new.replace("{A}", pinned))
    path.write_text(text)
    tags = ci_tags(3)
    push(registry, demo, tags[:2])
    store, settings = Store.from_url(redis_url), Settings(data_dir=tmp_path / "data")
    once(store, settings, ManifestSource(demo.manifests))
    status = store.get_status(KEY, ImageUpdateAutomationStatus)
    assert status.ready is not None and status.ready.status == "True", status.ready
    first = rev(demo, "auto")
    assert status.last_push_commit == first
    assert rev(demo, "auto^") == pinned  # from the pinned commit, not master's head
    assert rev(demo, "master") == master
    shown = git_out(demo.remote, "show", "auto:kustomize/deployment.yaml")
    assert f":{tags[1]} #" in shown
    assert git_out(demo.remote, "show", "auto:app.py") == "print('A')\n"

    push(registry, demo, tags[2:])
    once(store, settings, ManifestSource(demo.manifests))
    assert rev(demo, "auto^") == first  # the push branch exists: built upon
    assert f":{tags[2]} #" in git_out(demo.remote, "show", "auto:kustomize/deployment.yaml")


def test_a_pinned_ref_the_remote_lacks_is_reported(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    path = demo.manifests / "gitops-demo-app.yaml"
    text = path.read_text()
    text = text.replace("      ref:\n        branch: master\n", "      ref: {tag: v9.9.9}\n")
    path.write_text(text.replace("    push:\n      branch: master", "    push:\n      branch: x"))
    push(registry, demo, ci_tags(2))
    store, settings = Store.from_url(redis_url), Settings(data_dir=tmp_path / "data")
    once(store, settings, ManifestSource(demo.manifests))
    status = store.get_status(KEY, ImageUpdateAutomationStatus)
    assert status.ready is not None and status.ready.status == "False"
    assert "refs/tags/v9.9.9" in status.ready.message
    assert git_out(demo.remote, "branch", "--list", "x") == ""
