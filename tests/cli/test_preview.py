"""``conveyor preview automation``: against a running ``conveyor run`` on the seed scenario (the
demo's registry and Git remote, no cluster), found with no flags: nothing to commit, then a new
tag chosen by the policy while the automation is suspended — previewed (message and diff), the
remote untouched, nothing announced — and, resumed, pushed as previewed. On a bare Redis with
the manifests loaded and nothing running: a policy with no result yet, a missing
GitRepository, a Git URL's password never shown."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from conveyor.services.demo.scenario import IMAGE_REPOSITORY, MESSAGE, Demo, ci_tags, create
from conveyor.shared.sources import ManifestSource
from conveyor.shared.store import Store
from tests.cli.helpers import as_json, cli_env, completions, conveyor_run, ctl, ok, wait_for
from tests.conftest import git_out, push
from tests.fixtures.registries import Registry, free_port

NAME = "gitops-demo-app"


@dataclass(frozen=True)
class Running:
    demo: Demo
    env: dict[str, str]  # the CLI's: CONVEYOR_DATA only, no flags
    data: Path
    port: int
    tags: list[str]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, registry: Registry) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("cli-preview")
    demo = create(root / "demo", registry.host, repository=f"{IMAGE_REPOSITORY}-cli-preview")
    manifest = demo.manifests / "gitops-demo-app.yaml"  # runs by events and requests only
    manifest.write_text(manifest.read_text().replace("interval: 30s", "interval: 1h").replace(
        "interval: 1m", "interval: 1h"))
    tags = ci_tags(3)
    push(registry, demo, tags)
    data = root / "data"
    env = cli_env(data)
    port = free_port()
    with conveyor_run(demo.manifests, env, port, root / "run.log"):
        def pushed() -> bool:
            try:
                objects = httpx.get(f"http://127.0.0.1:{port}/api/v1/objects",
                                    timeout=5).json()
            except httpx.HTTPError:
                return False
            head = git_out(demo.remote, "rev-parse", "master").strip()
            return any(o["kind"] == "ImageUpdateAutomation"
                       and o["status"].get("lastPushCommit") == head for o in objects)

        wait_for("the automation's first push", pushed, timeout=180)
        yield Running(demo, env, data, port, tags)


def remote_head(remote: Path) -> str:
    """The branch head as a client sees it over the wire."""
    out = subprocess.run(["git", "ls-remote", remote.as_uri(), "refs/heads/master"],
                         capture_output=True, text=True, check=True).stdout
    return out.split("\t")[0]


def pushes(env: dict[str, str]) -> list[str]:
    """The CommitPushed events of conveyor's journal (without their age)."""
    rows = [[c.strip() for c in line.split("\t")] for line in ok(env, "events").splitlines()]
    return [" ".join(row[1:]) for row in rows if row[2:3] == ["CommitPushed"]]


def test_nothing_to_commit_says_no_changes(running: Running) -> None:
    done = ctl(running.env, "preview", "automation", NAME)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    head = remote_head(running.demo.remote)
    assert done.stderr.splitlines()[-1] == (
        f"✔ no changes: ImageUpdateAutomation flux-system/{NAME} would commit nothing on "
        f"master@sha1:{head[:8]}"
    )
    data = json.loads(ok(running.env, "preview", "ImageUpdateAutomation", NAME, "-o", "json"))
    assert data["message"] is None and data["files"] == [] and data["changes"] == []
    assert data["revision"] == f"master@sha1:{head}"


def test_a_new_tag_is_previewed_nothing_pushed_then_pushed_as_previewed(
    running: Running, registry: Registry
) -> None:
    env, demo = running.env, running.demo
    ok(env, "suspend", "imageupdateautomation", NAME)
    new = ci_tags(4)[-1]
    push(registry, demo, [new])
    ok(env, "reconcile", "imagerepository", NAME)  # the scan, then the policy by its event
    wait_for("the policy to choose the new tag", lambda: as_json(
        env, "get", "imagepolicy", "image-repo-policy")["status"]["latestRef"]["tag"] == new)
    head, before = remote_head(demo.remote), pushes(env)
    assert len(before) == 1  # the first run's
    status = as_json(env, "get", "iua", NAME)["status"]

    done = ctl(env, "preview", "automation", NAME)
    assert done.returncode == 0, done.stderr
    old_line = f'          image: {demo.image}:{running.tags[-1]} # {{"$imagepolicy": ' \
        '"flux-system:image-repo-policy"}'
    new_line = old_line.replace(running.tags[-1], new)
    message, _, diff = done.stdout.partition("\ndiff --git ")
    assert message == MESSAGE
    assert diff.startswith("a/kustomize/deployment.yaml b/kustomize/deployment.yaml\n")
    changed = [line for line in diff.splitlines() if line[:1] in "+-"]
    assert changed == ["--- a/kustomize/deployment.yaml", "+++ b/kustomize/deployment.yaml",
                       f"-{old_line}", f"+{new_line}"]
    assert f"ImageUpdateAutomation flux-system/{NAME} is suspended" in done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"✔ ImageUpdateAutomation flux-system/{NAME} would commit 1 file on "
        f"master@sha1:{head[:8]}; nothing committed or pushed"
    )

    data = json.loads(ok(env, "preview", "iua", NAME, "-o", "json"))
    assert data["message"] == MESSAGE
    assert [f["path"] for f in data["files"]] == ["kustomize/deployment.yaml"]
    assert data["files"][0]["diff"] == "diff --git " + diff
    assert data["changes"] == [{
        "file": "deployment.yaml",  # as Flux's .Changed.FileChanges: from spec.update.path
        "oldValue": f"{demo.image}:{running.tags[-1]}",
        "newValue": f"{demo.image}:{new}",
        "setter": "flux-system:image-repo-policy",
    }]

    # nothing pushed, announced or stored; the throwaway clone gone
    assert remote_head(demo.remote) == head
    assert pushes(env) == before
    assert as_json(env, "get", "iua", NAME)["status"] == status
    assert not list((running.data / "tmp").glob("preview-*"))

    # resumed, the automation pushes what the preview showed
    ok(env, "resume", "imageupdateautomation", NAME)
    wait_for("the push", lambda: remote_head(demo.remote) != head)
    pushed = remote_head(demo.remote)
    wait_for("its CommitPushed", lambda: len(pushes(env)) == 2)
    assert git_out(demo.remote, "log", "-1", "--format=%B", pushed) == MESSAGE + "\n"
    real = git_out(demo.remote, "diff", head, pushed)
    assert [line for line in real.splitlines() if line[:1] in "+-"] == changed
    after = ctl(env, "preview", "automation", NAME)
    assert after.returncode == 0 and after.stdout == ""
    assert "no changes" in after.stderr


def test_what_cannot_be_previewed_is_named(running: Running, tmp_path: Path) -> None:
    env = running.env
    missing = ctl(env, "preview", "automation", "nope")
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        "✗ ImageUpdateAutomation object 'nope' not found in \"flux-system\" namespace "
        "(list them with: conveyor get imageupdateautomation -A)"
    )
    other = ctl(env, "preview", "kustomization", NAME)
    assert other.returncode == 2
    assert "a Kustomization makes none: use conveyor preview automation NAME" in other.stderr
    assert "conveyor diff kustomization" in other.stderr
    unknown = ctl(env, "preview", "helmrelease", NAME)
    assert unknown.returncode == 2 and "is not a kind conveyor knows" in unknown.stderr
    api = ctl(env, "preview", "automation", NAME, "--server", f"http://127.0.0.1:{running.port}")
    assert api.returncode == 2
    assert (f"kubectl -n conveyor exec deploy/git-committer -- conveyor preview automation "
            f"{NAME} -n flux-system") in api.stderr
    assert "REDIS_URL" in api.stderr

    def complete(line: str) -> list[str]:
        return completions(running.env, tmp_path / "completions", line)

    assert complete("conveyor pre") == ["preview"]
    assert complete("conveyor preview a") == ["automation", "automations"]
    assert complete("conveyor preview automation ") == [NAME]
    assert complete("conveyor preview iua ") == [NAME]


# --- a bare Redis: the manifests loaded, nothing running -------------------------------------


def loaded(demo: Demo, redis_url: str, tmp_path: Path) -> dict[str, str]:
    assert ManifestSource(demo.manifests).refresh(Store.from_url(redis_url)) == []
    env = {**os.environ, "REDIS_URL": redis_url, "CONVEYOR_DATA": str(tmp_path / "data")}
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "CONVEYOR_SECRET_KEY"):
        env.pop(name, None)
    return env


def test_a_policy_with_no_result_yet_is_named(
    demo: Demo, redis_url: str, tmp_path: Path
) -> None:
    env = loaded(demo, redis_url, tmp_path)
    done = ctl(env, "preview", "automation", NAME)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"✗ ImageUpdateAutomation flux-system/{NAME}: ImagePolicy "
        "flux-system/image-repo-policy has no latest image yet: its markers would stay as "
        "they are (conveyor get imagepolicy image-repo-policy -n flux-system)"
    )
    assert done.stdout == ""


def test_a_missing_source_is_named_and_a_password_never_shown(
    demo: Demo, redis_url: str, tmp_path: Path
) -> None:
    manifest = demo.manifests / "gitops-demo-app.yaml"
    text = manifest.read_text()
    manifest.write_text(text.replace("  name: gitops-demo-app\n  namespace: flux-system\nspec:\n"
                                     "  interval: 30s\n  url:", "  name: elsewhere\n  namespace: "
                                     "flux-system\nspec:\n  interval: 30s\n  url:", 1))
    env = loaded(demo, redis_url, tmp_path)
    gone = ctl(env, "preview", "automation", NAME)
    assert gone.returncode == 1
    assert gone.stderr.strip() == (
        f"✗ ImageUpdateAutomation flux-system/{NAME}: GitRepository flux-system/{NAME} not found"
    )

    port = free_port()  # nothing listens there
    url = f"https://fluxbot:s3cr3t-passw0rd@127.0.0.1:{port}/app.git"
    manifest.write_text(text.replace(demo.remote.as_uri(), url))
    env = loaded(demo, redis_url, tmp_path)
    refused = ctl(env, "preview", "automation", NAME)
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"✗ ImageUpdateAutomation flux-system/{NAME}: ")
    assert f"127.0.0.1:{port}" in refused.stderr
    assert "s3cr3t" not in refused.stderr + refused.stdout
