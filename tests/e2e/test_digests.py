"""digestReflectionPolicy: the chosen tag's digest from the registry, and the `:digest` marker."""

from __future__ import annotations

from pathlib import Path

from conveyor.services.demo.oci import push_tags
from conveyor.services.demo.scenario import Demo, ci_tags
from tests.conftest import commit_files, conveyor, git_out, run_once_json
from tests.fixtures.registries import Registry


def add_digest_marker(demo: Demo) -> None:
    commit_files(
        demo.remote,
        {
            "kustomize/digest.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
            "  name: pinned\ndata:\n"
            '  digest: "none" # {"$imagepolicy": "flux-system:image-repo-policy:digest"}\n'
            '  tag: none # {"$imagepolicy": "flux-system:image-repo-policy:tag"}\n'
        },
        "pin by digest",
    )


def policy_mode(demo: Demo, mode: str) -> None:
    path = demo.manifests / "gitops-demo-app.yaml"
    text = path.read_text()
    text = text.replace(
        "  policy:\n    numerical:",
        f"  digestReflectionPolicy: {mode}\n  interval: 1m\n  policy:\n    numerical:",
    )
    path.write_text(
        text.replace(
            "apiVersion: image.toolkit.fluxcd.io/v1beta1\nkind: ImagePolicy",
            "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy",
        )
    )


def show(demo: Demo, path: str) -> str:
    return git_out(demo.remote, "show", f"master:{path}")


def test_always_follows_a_tag_that_moved_to_a_new_digest(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    add_digest_marker(demo)
    policy_mode(demo, "Always")
    repo = demo.image.split("/", 1)[1]
    tags = ci_tags(2)
    first_digest = push_tags(registry.url, repo, tags, content="build 1\n")
    _, rows = run_once_json(demo, tmp_path / "data", redis_url)
    policy = next(r for r in rows if r.get("kind") == "ImagePolicy")
    assert policy["status"]["latestRef"] == {
        "name": demo.image,
        "tag": tags[-1],
        "digest": first_digest,
    }
    pinned = show(demo, "kustomize/digest.yaml")
    assert f'  digest: "{first_digest}" # {{' in pinned  # quotes kept
    assert f"  tag: {tags[-1]} # {{" in pinned
    deployment = show(demo, "kustomize/deployment.yaml")
    assert f"image: {demo.image}:{tags[-1]}@{first_digest} #" in deployment

    # the same tag pushed again with other content: Always notices the new digest
    second_digest = push_tags(registry.url, repo, tags[-1:], content="build 2\n")
    assert second_digest != first_digest
    conveyor(
        "run",
        "--manifests",
        str(demo.manifests),
        "--once",
        data=tmp_path / "data",
        redis_url=redis_url,
    )
    assert f'  digest: "{second_digest}" #' in show(demo, "kustomize/digest.yaml")
    assert f"  tag: {tags[-1]} #" in show(demo, "kustomize/digest.yaml")


def test_if_not_present_keeps_the_digest_it_has_for_the_same_tag(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    add_digest_marker(demo)
    policy_mode(demo, "IfNotPresent")
    repo = demo.image.split("/", 1)[1]
    tags = ci_tags(2)
    first_digest = push_tags(registry.url, repo, tags, content="build 1\n")
    conveyor(
        "run",
        "--manifests",
        str(demo.manifests),
        "--once",
        data=tmp_path / "data",
        redis_url=redis_url,
    )
    push_tags(registry.url, repo, tags[-1:], content="build 2\n")
    before = git_out(demo.remote, "rev-parse", "master")
    conveyor(
        "run",
        "--manifests",
        str(demo.manifests),
        "--once",
        data=tmp_path / "data",
        redis_url=redis_url,
    )
    assert git_out(demo.remote, "rev-parse", "master") == before
    assert f'  digest: "{first_digest}" #' in show(demo, "kustomize/digest.yaml")
