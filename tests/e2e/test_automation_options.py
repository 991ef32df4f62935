"""ImageUpdateAutomation options beyond the seed: a separate push branch, a push refspec,
and spec.policySelector."""

from __future__ import annotations

from pathlib import Path

from conveyor.services.demo.scenario import Demo, ci_tags
from tests.conftest import conveyor, git_out, push, run_once_json
from tests.fixtures.registries import Registry


def edit(demo: Demo, old: str, new: str) -> None:
    path = demo.manifests / "gitops-demo-app.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def count(demo: Demo, ref: str) -> int:
    return int(git_out(demo.remote, "rev-list", "--count", ref))


def deployment(demo: Demo, ref: str) -> str:
    return git_out(demo.remote, "show", f"{ref}:kustomize/deployment.yaml")


def test_push_branch_is_created_then_built_upon(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    edit(demo, "    push:\n      branch: master", "    push:\n      branch: image-updates")
    tags = ci_tags(3)
    push(registry, demo, tags[:2])
    run_once_json(demo, tmp_path / "data", redis_url)
    assert count(demo, "master") == 1  # the checkout branch is untouched
    assert count(demo, "image-updates") == 2
    assert f":{tags[1]} #" in deployment(demo, "image-updates")

    run_once_json(demo, tmp_path / "data", redis_url)  # nothing new: no second commit
    assert count(demo, "image-updates") == 2

    push(registry, demo, tags[2:])
    run_once_json(demo, tmp_path / "data", redis_url)
    assert count(demo, "image-updates") == 3  # on top of the push branch, not master
    assert f":{tags[2]} #" in deployment(demo, "image-updates")
    assert ":latest #" in deployment(demo, "master")


def test_push_refspec(demo: Demo, registry: Registry, redis_url: str, tmp_path: Path) -> None:
    edit(
        demo,
        "    push:\n      branch: master",
        "    push:\n      refspec: HEAD:refs/heads/for-review",
    )
    push(registry, demo, ci_tags(2))
    _, rows = run_once_json(demo, tmp_path / "data", redis_url)
    automation = next(r for r in rows if r.get("kind") == "ImageUpdateAutomation")
    pushed = git_out(demo.remote, "rev-parse", "for-review").strip()
    assert automation["status"]["lastPushCommit"] == pushed
    assert count(demo, "master") == 1
    assert count(demo, "for-review") == 2
    run_once_json(demo, tmp_path / "data", redis_url)  # built upon, not re-made on master
    assert git_out(demo.remote, "rev-parse", "for-review").strip() == pushed


def test_policy_selector_leaves_unselected_markers_alone(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    edit(
        demo,
        "  update:\n    path: ./kustomize",
        "  policySelector:\n    matchLabels:\n      team: payments\n"
        "  update:\n    path: ./kustomize",
    )
    edit(  # a field of v1beta2 and v1 (v1beta1 has none: Flux's API server refuses it)
        demo,
        "apiVersion: image.toolkit.fluxcd.io/v1beta1\nkind: ImageUpdateAutomation",
        "apiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImageUpdateAutomation",
    )
    push(registry, demo, ci_tags(2))
    run_once_json(demo, tmp_path / "data", redis_url)
    assert count(demo, "master") == 1  # the seed policy has no team label: not selected

    edit(
        demo,
        "  name: image-repo-policy\n  namespace: flux-system\n",
        "  name: image-repo-policy\n  namespace: flux-system\n  labels:\n    team: payments\n",
    )
    run = conveyor(
        "run",
        "--manifests",
        str(demo.manifests),
        "--once",
        data=tmp_path / "data",
        redis_url=redis_url,
    )
    assert count(demo, "master") == 2, run.stdout
