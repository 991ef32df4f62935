"""The seed scenario with ``conveyor.dev/order-by: build-time`` on its ImagePolicy: ``conveyor
run --once`` commits the newest build, not the greatest timestamp in a tag's name."""

from __future__ import annotations

from pathlib import Path

from conveyor.services.demo.oci import push_index, push_tags
from conveyor.services.demo.scenario import Demo
from tests.conftest import git_out, run_once_json
from tests.fixtures.registries import Registry


def order_by_build_time(demo: Demo) -> None:
    path = demo.manifests / "gitops-demo-app.yaml"
    text = path.read_text()
    seed = "kind: ImagePolicy\nmetadata:\n  name: image-repo-policy\n  namespace: flux-system\n"
    assert seed in text
    path.write_text(
        text.replace(seed, seed + "  annotations:\n    conveyor.dev/order-by: build-time\n")
    )


def test_run_once_commits_the_newest_build(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    order_by_build_time(demo)
    repo = demo.image.split("/", 1)[1]
    # the tag with the greatest timestamp was built first (a rebuilt old branch, say)
    push_tags(
        registry.url,
        repo,
        ["master-aaaa1111-1700000300"],
        content="1",
        created="2024-05-01T08:00:00Z",
    )
    push_index(
        registry.url,
        repo,
        ["master-bbbb2222-1700000100"],
        {"linux/amd64": "2024-05-03T08:00:00Z", "linux/arm64": "2024-05-09T08:00:00Z"},
    )
    push_tags(
        registry.url,
        repo,
        ["master-cccc3333-1700000200"],
        content="3",
        created="2024-05-02T08:00:00Z",
    )
    push_tags(registry.url, repo, ["master-dddd4444-1700000400"], content="4")  # no created

    _, rows = run_once_json(demo, tmp_path / "data", redis_url)  # no cluster: exit 1
    policy = next(r for r in rows if r.get("kind") == "ImagePolicy")
    assert policy["status"]["latestRef"]["tag"] == "master-bbbb2222-1700000100"
    message = next(c for c in policy["status"]["conditions"] if c["type"] == "Ready")["message"]
    assert message.endswith(
        "created 2024-05-03T08:00:00Z; skipped 1 without a build time: "
        "master-dddd4444-1700000400 (its config has no created)"
    )
    deployment = git_out(demo.remote, "show", "master:kustomize/deployment.yaml")
    assert f"image: {demo.image}:master-bbbb2222-1700000100 #" in deployment
