"""Bad input: each mistake is a clear error on the object that has it; the rest reconcile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conveyor.services.demo.scenario import Demo, ci_tags
from tests.conftest import commit_files, git_out, push, run_once_json
from tests.fixtures.registries import Registry, free_port


def run_json(demo: Demo, tmp_path: Path, redis_url: str) -> tuple[int, list[dict[str, Any]]]:
    return run_once_json(demo, tmp_path / "data", redis_url)


def row(rows: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    return next(r for r in rows if r["kind"] == kind and (name is None or r["name"] == name))


def ready(r: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in r["status"]["conditions"] if c["type"] == "Ready")


def manifest(demo: Demo) -> Path:
    return demo.manifests / "gitops-demo-app.yaml"


def edit(demo: Demo, old: str, new: str) -> None:
    text = manifest(demo).read_text()
    assert old in text
    manifest(demo).write_text(text.replace(old, new))


def test_malformed_yaml_names_file_and_line_and_the_other_files_still_run(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    push(registry, demo, ci_tags(2))
    (demo.manifests / "broken.yaml").write_text("kind: GitRepository\nspec: [unclosed\n")
    (demo.manifests / "unknown.yaml").write_text(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: x\n"
        "spec: {}\n"
    )
    (demo.manifests / "missing.yaml").write_text(
        "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata:\n"
        "  name: no-image\n  namespace: flux-system\nspec:\n  interval: 1m\n"
    )
    code, rows = run_json(demo, tmp_path, redis_url)
    errors = [r["error"] for r in rows if r["kind"] == "ManifestError"]
    assert code == 1
    assert any(e.startswith("flux/broken.yaml:3:") and "invalid YAML" in e for e in errors), errors
    assert any(
        e.startswith("flux/unknown.yaml:2: kind:") and "HelmRepository" in e for e in errors
    ), errors
    assert any(
        e.startswith("flux/missing.yaml:6: spec.image: is required")
        and "ImageRepository flux-system/no-image" in e
        for e in errors
    ), errors
    assert ready(row(rows, "ImagePolicy"))["status"] == "True"
    assert git_out(demo.remote, "rev-list", "--count", "master").strip() == "2"


def test_invalid_regex_stalls_the_policy_only(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    push(registry, demo, ci_tags(2))
    edit(demo, 'pattern: "^master-[a-f0-9]+-(?P<ts>[0-9]+)"', 'pattern: "^master-[a-f0-9+-(?P<ts>"')
    code, rows = run_json(demo, tmp_path, redis_url)
    policy = row(rows, "ImagePolicy")
    assert code == 1
    assert ready(policy)["status"] == "False"
    assert ready(policy)["reason"] == "InvalidPolicy"  # Flux's reason and message
    assert ready(policy)["message"].startswith(
        "failed to filter tags: invalid regular expression pattern '^master-[a-f0-9+-(?P<ts>'"
    )
    assert any(
        c["type"] == "Stalled" and c["status"] == "True" for c in policy["status"]["conditions"]
    )
    assert ready(row(rows, "ImageRepository"))["status"] == "True"
    assert ready(row(rows, "GitRepository"))["status"] == "True"
    assert git_out(demo.remote, "rev-list", "--count", "master").strip() == "1"


def test_policy_naming_a_missing_image_repository(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    edit(
        demo,
        "  imageRepositoryRef:\n    name: gitops-demo-app",
        "  imageRepositoryRef:\n    name: nowhere",
    )
    code, rows = run_json(demo, tmp_path, redis_url)
    policy = ready(row(rows, "ImagePolicy"))
    assert code == 1
    assert policy["reason"] == "DependencyNotReady"  # Flux's reason and message
    assert policy["message"] == (
        "failed to get the referred ImageRepository: referenced ImageRepository does not exist: "
        'ImageRepository.image.toolkit.fluxcd.io "nowhere" not found'
    )


def test_marker_naming_an_unknown_policy_commits_nothing(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    """One bad marker fails the whole automation: no half-applied commit."""
    commit_files(
        demo.remote,
        {
            "kustomize/other.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: other\n"
            "spec:\n  containers:\n"
            '    - image: nginx:1 # {"$imagepolicy": "flux-system:no-such-policy"}\n'
        },
        "add other",
    )
    before = git_out(demo.remote, "rev-parse", "master").strip()
    push(registry, demo, ci_tags(2))
    code, rows = run_json(demo, tmp_path, redis_url)
    automation = ready(row(rows, "ImageUpdateAutomation"))
    assert code == 1
    assert automation["status"] == "False"
    assert "kustomize/other.yaml:7" in automation["message"]
    assert "flux-system/no-such-policy" in automation["message"]
    assert git_out(demo.remote, "rev-parse", "master").strip() == before
    assert ready(row(rows, "ImagePolicy"))["status"] == "True"


def test_registry_down_and_git_url_missing(demo: Demo, redis_url: str, tmp_path: Path) -> None:
    dead = f"127.0.0.1:{free_port()}"
    text = manifest(demo).read_text()
    registry_host = demo.image.split("/", 1)[0]
    text = text.replace(f"image: {registry_host}/", f"image: {dead}/")
    text = text.replace(demo.remote.as_uri(), (tmp_path / "no-such-repo.git").as_uri())
    manifest(demo).write_text(text)
    code, rows = run_json(demo, tmp_path, redis_url)
    scan = ready(row(rows, "ImageRepository"))
    source = ready(row(rows, "GitRepository"))
    assert code == 1
    assert scan["status"] == "False" and dead in scan["message"]
    assert source["status"] == "False" and "no-such-repo.git" in source["message"]
    # downstream objects say why they wait, naming what they wait for
    assert "not scanned yet" in ready(row(rows, "ImagePolicy"))["message"]
    assert "no artifact yet" in ready(row(rows, "Kustomization"))["message"]


HOSTILE = """
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: bad-range, namespace: flux-system}
spec:
  imageRepositoryRef: {name: gitops-demo-app}
  policy: {semver: {range: ">=1.0.0 <<2"}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: hostile, namespace: flux-system}
spec:
  imageRepositoryRef: {name: gitops-demo-app}
  filterTags: {pattern: "^(a+)+$"}
  policy: {alphabetical: {order: asc}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: not-numbers, namespace: flux-system}
spec:
  imageRepositoryRef: {name: gitops-demo-app}
  policy: {numerical: {order: asc}}
"""


def test_hostile_and_broken_policies_do_not_stop_the_others(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    tags = ci_tags(3)
    push(registry, demo, [*tags, "a" * 60 + "-", "a" * 128])  # the first kills backtracking
    manifest(demo).write_text(manifest(demo).read_text() + HOSTILE)
    code, rows = run_json(demo, tmp_path, redis_url)
    assert code == 1
    bad_range = row(rows, "ImagePolicy", "bad-range")
    assert ready(bad_range)["reason"] == "InvalidPolicy"  # Flux's reason and message
    assert 'improper constraint: ">=1.0.0 <<2"' in ready(bad_range)["message"]
    assert any(c["type"] == "Stalled" for c in bad_range["status"]["conditions"])
    hostile = row(rows, "ImagePolicy", "hostile")  # linear time: answered, not stuck
    assert ready(hostile)["status"] == "True"
    assert hostile["status"]["latestRef"]["tag"] == "a" * 128
    numbers = ready(row(rows, "ImagePolicy", "not-numbers"))
    assert numbers["status"] == "False" and numbers["reason"] == "Failure"
    seed = row(rows, "ImagePolicy", "image-repo-policy")
    assert seed["status"]["latestRef"]["tag"] == tags[-1]
    assert git_out(demo.remote, "rev-list", "--count", "master").strip() == "2"


def test_a_receiver_without_its_secret_shows_in_once(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    push(registry, demo, ci_tags(2))
    manifest(demo).write_text(manifest(demo).read_text() + """
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: hook, namespace: flux-system}
spec:
  type: github
  secretRef: {name: no-such-secret}
  resources: [{kind: GitRepository, name: gitops-demo-app}]
""")
    code, rows = run_json(demo, tmp_path, redis_url)
    receiver = ready(row(rows, "Receiver", "hook"))
    assert code == 1
    assert receiver["status"] == "False"
    assert "secret flux-system/no-such-secret not found" in receiver["message"]
