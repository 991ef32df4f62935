"""The seed scenario with signature verification on its ImagePolicy (the annotation
``conveyor.dev/verify-secret`` naming a Secret with cosign's public key, beside the manifests):
``conveyor run --once`` commits the newest tag cosign signed, not the newest tag."""

from __future__ import annotations

from pathlib import Path

from conveyor.services.demo.oci import push_tags
from conveyor.services.demo.scenario import Demo
from tests.conftest import git_out, run_once_json
from tests.fixtures.cosign import Cosign
from tests.fixtures.registries import Registry


def verify_with(demo: Demo, public_key: bytes) -> None:
    path = demo.manifests / "gitops-demo-app.yaml"
    text = path.read_text()
    seed = "kind: ImagePolicy\nmetadata:\n  name: image-repo-policy\n  namespace: flux-system\n"
    assert seed in text
    path.write_text(
        text.replace(seed, seed + "  annotations:\n    conveyor.dev/verify-secret: cosign\n")
    )
    key = "".join(f"    {line}\n" for line in public_key.decode().splitlines())
    (demo.manifests / "cosign.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: cosign, namespace: flux-system}\n"
        f"stringData:\n  cosign.pub: |\n{key}"
    )


def test_run_once_commits_the_newest_signed_tag(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    cosign = Cosign(tmp_path / "cosign")
    key, public = cosign.generate_key_pair()
    verify_with(demo, public)
    repo = demo.image.split("/", 1)[1]
    signed = push_tags(registry.url, repo, ["master-aaaa1111-1700000100"], content="signed\n")
    cosign.sign(f"{demo.image}@{signed}", key)
    push_tags(registry.url, repo, ["master-bbbb2222-1700000200"], content="unsigned\n")

    _, rows = run_once_json(demo, tmp_path / "data", redis_url)  # no cluster: exit 1
    policy = next(r for r in rows if r.get("kind") == "ImagePolicy")
    assert policy["status"]["latestRef"]["tag"] == "master-aaaa1111-1700000100"
    message = next(c for c in policy["status"]["conditions"] if c["type"] == "Ready")["message"]
    assert message.endswith(
        "verified (conveyor.dev/verify-secret: cosign): signed by cosign.pub; skipped 1 newer: "
        "master-bbbb2222-1700000200 (no cosign signature)"
    )
    deployment = git_out(demo.remote, "show", "master:kustomize/deployment.yaml")
    assert f"image: {demo.image}:master-aaaa1111-1700000100 #" in deployment
    assert "bbbb2222" not in git_out(demo.remote, "log", "-p", "master")
