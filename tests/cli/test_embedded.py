"""The Day-2 verbs against a running ``conveyor run`` on the embedded Redis, found with no
flags (the same CONVEYOR_DATA): the seed scenario (the demo's registry and Git remote) applied
to a real kube-apiserver, and a Kustomization that cannot build, to fail on purpose."""

from __future__ import annotations

import json
import os
import re
import subprocess
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from conveyor.services.demo.scenario import IMAGE_REPOSITORY, Demo, ci_tags, create
from tests.cli.helpers import (
    Follow,
    as_json,
    cli_env,
    completions,
    conveyor_run,
    ctl,
    ok,
    wait_for,
)
from tests.conftest import git_out, push
from tests.fixtures.controlplane import ControlPlane
from tests.fixtures.flux import kubectl
from tests.fixtures.registries import Registry, free_port

BROKEN = """
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: broken
  namespace: flux-system
spec:
  interval: 1h
  sourceRef:
    kind: GitRepository
    name: gitops-demo-app
  path: ./no-such-folder
  prune: true
"""


@dataclass(frozen=True)
class Running:
    demo: Demo
    env: dict[str, str]  # the CLI's: CONVEYOR_DATA only, no flags
    namespace: str  # where the Kustomization applies
    port: int
    tags: list[str]


@pytest.fixture(scope="module")
def running(
    tmp_path_factory: pytest.TempPathFactory,
    registry: Registry,
    control_plane: ControlPlane,
    request: pytest.FixtureRequest,
) -> Iterator[Running]:
    """The seed scenario under a running ``conveyor run``, once per module that uses it (each
    on a registry repository of its own: the tags one module pushes are not another's)."""
    root = tmp_path_factory.mktemp("cli-embedded")
    module = zlib.crc32(request.module.__name__.encode())
    demo = create(root / "demo", registry.host, repository=f"{IMAGE_REPOSITORY}-{module:08x}")
    namespace = f"cli-{zlib.crc32(str(root).encode()):08x}"
    kubectl(control_plane, "create", "namespace", namespace)
    manifest = demo.manifests / "gitops-demo-app.yaml"
    text = manifest.read_text().replace("targetNamespace: default", f"targetNamespace: {namespace}")
    manifest.write_text(text.replace("interval: 30s", "interval: 1h").replace(
        "interval: 1m", "interval: 1h") + BROKEN)
    tags = ci_tags(3)
    push(registry, demo, tags)
    env = cli_env(root / "data")
    port = free_port()
    with conveyor_run(demo.manifests, env, port, root / "run.log", control_plane.kubeconfig):
        head = git_out(demo.remote, "rev-parse", "master").strip()

        def settled() -> bool:
            try:
                objects = httpx.get(f"http://127.0.0.1:{port}/api/v1/objects",
                                    timeout=5).json()
            except httpx.HTTPError:
                return False
            applied = {o["name"]: o["status"].get("lastAppliedRevision", "")
                       for o in objects if o["kind"] == "Kustomization"}
            nonlocal head
            head = git_out(demo.remote, "rev-parse", "master").strip()
            return head != "" and applied.get("gitops-demo-app", "").endswith(head) and (
                git_out(demo.remote, "log", "-1", "--format=%s").startswith("Automated"))

        wait_for("the new tag applied", settled, timeout=180)
        yield Running(demo, env, namespace, port, tags)


def table_rows(text: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.split("\t")] for line in text.splitlines() if line]


def test_get_prints_flux_s_columns_for_every_kind(running: Running) -> None:
    env, head = running.env, git_out(running.demo.remote, "rev-parse", "master").strip()
    sections = [table_rows(s) for s in ok(env, "get").split("\n\n") if s.strip()]
    headers = {tuple(s[0]) for s in sections}
    assert headers == {
        ("NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE"),
        ("NAME", "LAST SCAN", "SUSPENDED", "READY", "MESSAGE"),
        ("NAME", "IMAGE", "TAG", "READY", "MESSAGE"),
        ("NAME", "LAST RUN", "SUSPENDED", "READY", "MESSAGE"),
    }
    rows = {row[0]: row for section in sections for row in section[1:]}
    assert rows["gitrepository/gitops-demo-app"][1:4] == [f"master@sha1:{head[:8]}", "False",
                                                          "True"]
    assert rows["imagepolicy/image-repo-policy"][1:4] == [running.demo.image, running.tags[-1],
                                                          "True"]
    assert rows["kustomization/gitops-demo-app"][1:4] == [f"master@sha1:{head[:8]}", "False",
                                                          "True"]
    assert rows["kustomization/broken"][3] == "False"
    assert "no-such-folder" in rows["kustomization/broken"][4]

    # one kind, its plural, any case; a name; every namespace; wide
    assert ok(env, "get", "Kustomizations") == ok(env, "get", "ks")
    one = table_rows(ok(env, "get", "imagepolicy", "image-repo-policy"))
    assert [r[0] for r in one] == ["NAME", "image-repo-policy"]
    everywhere = table_rows(ok(env, "get", "gitrepo", "-A"))
    assert everywhere[0][:2] == ["NAMESPACE", "NAME"]
    assert everywhere[1][:2] == ["flux-system", "gitops-demo-app"]
    wide = table_rows(ok(env, "get", "gitrepository", "-o", "wide"))
    assert wide[0][-1] == "URL" and wide[1][-1] == running.demo.remote.as_uri()

    # -o json: kubectl's shapes, with the status as conveyor wrote it
    policy = as_json(env, "get", "imagepolicy", "image-repo-policy")
    assert policy["kind"] == "ImagePolicy"
    assert policy["apiVersion"] == "image.toolkit.fluxcd.io/v1beta1"
    assert policy["status"]["latestRef"] == {"name": running.demo.image, "tag": running.tags[-1]}
    listed = as_json(env, "get")
    assert listed["kind"] == "List"
    assert sorted(i["kind"] for i in listed["items"]) == sorted(
        ["GitRepository", "ImageRepository", "ImagePolicy", "ImageUpdateAutomation",
         "Kustomization", "Kustomization"])
    assert yaml.safe_load(ok(env, "get", "ks", "broken", "-o", "yaml"))["spec"]["path"] == (
        "./no-such-folder")

    # what is not there is named, with what to do
    missing = ctl(env, "get", "ks", "nope")
    assert missing.returncode == 1
    assert "✗ Kustomization object 'nope' not found in \"flux-system\" namespace" in missing.stderr
    empty = ctl(env, "get", "receivers")
    assert empty.returncode == 1
    assert "no Receiver objects found in \"flux-system\" namespace" in empty.stderr
    unknown = ctl(env, "get", "helmrelease")
    assert unknown.returncode == 2 and "is not a kind conveyor knows" in unknown.stderr


def test_reconcile_waits_for_the_answer_and_fails_with_the_object_s_message(
    running: Running,
) -> None:
    env = running.env
    done = ctl(env, "reconcile", "imagerepository", "gitops-demo-app")
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "► annotating ImageRepository gitops-demo-app in flux-system namespace",
        "✔ ImageRepository annotated",
        "◎ waiting for ImageRepository reconciliation",
        "✔ scan fetched 3 tags",
    ]
    repository = as_json(env, "get", "imagerepository", "gitops-demo-app")
    token = repository["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"]
    assert repository["status"]["lastHandledReconcileAt"] == token

    failed = ctl(env, "reconcile", "kustomization", "broken")
    assert failed.returncode == 1
    message = next(c["message"] for c in as_json(env, "get", "ks", "broken")["status"][
        "conditions"] if c["type"] == "Ready")
    assert "no-such-folder" in message
    assert failed.stderr.splitlines()[-1] == (
        f"✗ Kustomization reconciliation failed: '{message}'"
    )

    head = git_out(running.demo.remote, "rev-parse", "master").strip()
    both = ctl(env, "reconcile", "ks", "gitops-demo-app", "--with-source")
    assert both.returncode == 0, both.stderr
    assert both.stderr.splitlines() == [
        "► annotating GitRepository gitops-demo-app in flux-system namespace",
        "✔ GitRepository annotated",
        "◎ waiting for GitRepository reconciliation",
        f"✔ fetched revision master@sha1:{head}",
        "► annotating Kustomization gitops-demo-app in flux-system namespace",
        "✔ Kustomization annotated",
        "◎ waiting for Kustomization reconciliation",
        f"✔ applied revision master@sha1:{head}",
    ]
    policy = ctl(env, "reconcile", "imgpol", "image-repo-policy")
    assert policy.stderr.splitlines()[-1] == (
        f"✔ selected ref {running.demo.image}:{running.tags[-1]}"
    )
    absent = ctl(env, "reconcile", "ks", "nope")
    assert absent.returncode == 1 and "conveyor get kustomization -A" in absent.stderr


def suspended(env: dict[str, str], kind: str, name: str) -> bool:
    return bool(as_json(env, "get", kind, name)["spec"].get("suspend"))


def test_suspend_lasts_until_resume_and_resume_waits_for_ready(running: Running) -> None:
    env = running.env
    done = ctl(env, "suspend", "imagerepository", "gitops-demo-app")
    assert done.returncode == 0
    assert done.stderr.splitlines() == [
        "► suspending image repository gitops-demo-app in flux-system namespace",
        "✔ image repository suspended",
    ]
    assert table_rows(ok(env, "get", "imgrepo"))[1][2] == "True"
    refused = ctl(env, "reconcile", "imagerepository", "gitops-demo-app")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "✗ ImageRepository flux-system/gitops-demo-app is suspended: resume it first "
        "(conveyor resume imagerepository gitops-demo-app -n flux-system)"
    )

    # the manifests change and are read again: the suspension stays
    manifest = running.demo.manifests / "gitops-demo-app.yaml"
    manifest.write_text(manifest.read_text().replace(
        "  name: image-repo-policy\n", "  name: image-repo-policy\n  labels: {seen: again}\n"))
    wait_for("the manifests read again", lambda: as_json(
        env, "get", "imagepolicy", "image-repo-policy")["metadata"].get("labels") == {
            "seen": "again"})
    assert suspended(env, "imagerepository", "gitops-demo-app")

    generation = as_json(env, "get", "imgrepo", "gitops-demo-app")["metadata"]["generation"]
    resumed = ctl(env, "resume", "imagerepository", "gitops-demo-app")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stderr.splitlines() == [
        "► resuming image repository gitops-demo-app in flux-system namespace",
        "✔ image repository resumed",
        "◎ waiting for ImageRepository reconciliation",
        "✔ ImageRepository gitops-demo-app reconciliation completed",
        "✔ scan fetched 3 tags",
    ]
    after = as_json(env, "get", "imgrepo", "gitops-demo-app")
    assert not after["spec"].get("suspend")
    assert after["metadata"]["generation"] == generation + 1
    assert after["status"]["observedGeneration"] == generation + 1
    missing = ctl(env, "suspend", "receiver", "nope")
    assert missing.returncode == 1
    assert "✗ Receiver nope not found in flux-system namespace" in missing.stderr


def test_get_watch_prints_each_change(running: Running) -> None:
    env = running.env
    with Follow(env, "get", "imagerepository", "--watch") as watch:
        assert watch.until(lambda line: line.startswith("NAME")).split() == [
            "NAME", "LAST", "SCAN", "SUSPENDED", "READY", "MESSAGE"]
        watch.until(lambda line: line.startswith("gitops-demo-app"))
        ok(env, "suspend", "imagerepository", "gitops-demo-app")
        try:
            row = watch.until(lambda line: line.startswith("gitops-demo-app"))
            assert table_rows(row)[0][2] == "True"
        finally:
            ok(env, "resume", "imagerepository", "gitops-demo-app")
        row = watch.until(lambda line: table_rows(line)[0][2] == "False")
        assert row.startswith("gitops-demo-app")
    refused = ctl(env, "get", "--watch")
    assert refused.returncode == 2 and "expected a single resource type" in refused.stderr


def test_events_follow_the_image_through_the_stages(running: Running) -> None:
    env = running.env
    rows = table_rows(ok(env, "events"))
    assert rows[0] == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    by_reason = {row[2]: row for row in rows[1:]}
    image = f"{running.demo.image}:{running.tags[-1]}"
    assert by_reason["PolicyChanged"][3] == "ImagePolicy/image-repo-policy"
    assert by_reason["PolicyChanged"][4].startswith(f"latest image {image} → git-committer")
    pushed = git_out(running.demo.remote, "log", "--format=%H %s").splitlines()
    commit = next(line.split()[0] for line in pushed if "Automated" in line)
    assert any(r[2] == "CommitPushed" and f"pushed commit {commit[:8]}" in r[4] for r in rows)
    head = git_out(running.demo.remote, "rev-parse", "master").strip()
    fetched = [r[4] for r in rows if r[2] == "SourceUpdated"
               and r[3] == "GitRepository/gitops-demo-app"
               and r[4].startswith(f"new artifact revision master@sha1:{head[:8]} → ")]
    assert fetched and "applier" in fetched[-1].split(" → ")[1]  # the services it reached
    assert all(re.search(r" \[trace [0-9a-f]{16}\]$", r[4]) for r in rows[1:])

    # --for an object: its events and its source's
    policy = table_rows(ok(env, "events", "--for", "ImagePolicy/image-repo-policy"))
    assert {r[3] for r in policy[1:]} <= {"ImagePolicy/image-repo-policy",
                                          "ImageRepository/gitops-demo-app"}
    assert {r[3] for r in policy[1:]} >= {"ImagePolicy/image-repo-policy"}
    every_ks = table_rows(ok(env, "events", "--for", "ks"))
    assert {r[3].split("/")[0] for r in every_ks[1:]} == {"Kustomization"}
    assert table_rows(ok(env, "events", "-A"))[0][0] == "NAMESPACE"
    none = ctl(env, "events", "-n", "elsewhere")
    assert none.returncode == 0 and "✗ No events found in elsewhere namespace." in none.stderr

    before = ok(env, "events", "--for", "imagepolicy/image-repo-policy")
    with Follow(env, "events", "--for", "imagepolicy/image-repo-policy", "--watch") as watch:
        watch.until(lambda line: line.startswith("LAST SEEN"))
        ok(env, "reconcile", "imagepolicy", "image-repo-policy")
        line = watch.until(lambda line: "ReconcileRequested" in line and (
            line.rsplit("[trace ", 1)[-1] not in before))
        assert "ImagePolicy/image-repo-policy" in line


def test_tree_shows_what_the_kustomization_applied(running: Running) -> None:
    env, ns = running.env, running.namespace
    status = as_json(env, "get", "ks", "gitops-demo-app")["status"]
    ids = [e["id"] for e in status["inventory"]["entries"]]
    assert sorted(ids) == sorted([f"{ns}_gitops-demo-app_apps_Deployment",
                                  f"{ns}_gitops-demo-app__Service"])
    shown = {f"{ns}_gitops-demo-app_apps_Deployment": f"Deployment/{ns}/gitops-demo-app",
             f"{ns}_gitops-demo-app__Service": f"Service/{ns}/gitops-demo-app"}
    expected = "Kustomization/flux-system/gitops-demo-app\n"
    expected += f"├── {shown[ids[0]]}\n└── {shown[ids[1]]}\n\n"
    assert ok(env, "tree", "kustomization", "gitops-demo-app") == expected
    data: dict[str, Any] = json.loads(ok(env, "tree", "ks", "gitops-demo-app", "-o", "json"))
    assert [r["resource"]["GroupKind"]["Kind"] for r in data["resources"]] == [
        shown[i].split("/")[0] for i in ids]
    assert ok(env, "tree", "ks", "gitops-demo-app", "--compact") == (
        "Kustomization/flux-system/gitops-demo-app\n\n")
    assert ok(env, "tree", "ks", "broken") == "Kustomization/flux-system/broken\n\n"
    absent = ctl(env, "tree", "ks", "nope")
    assert absent.returncode == 1 and "Kustomization object 'nope' not found" in absent.stderr


def test_completion_answers_kinds_and_names(running: Running, tmp_path: Path) -> None:
    def complete(line: str) -> list[str]:
        return completions(running.env, tmp_path / "completions", line)

    assert complete("conveyor get imagep") == ["imagepol", "imagepolicies", "imagepolicy"]
    assert complete("conveyor reconcile ks ") == ["broken", "gitops-demo-app"]
    assert complete("conveyor re") == ["reconcile", "reject", "resume"]
    script = ok(running.env, "completion", "bash")
    registered = subprocess.run(["bash", "-c", f"{script}\ncomplete -p conveyor"],
                                capture_output=True, text=True, check=True)
    assert registered.stdout.strip().endswith(" conveyor")
    assert "compdef" in ok(running.env, "completion", "zsh")


def test_no_conveyor_found_says_what_to_do(tmp_path: Path) -> None:
    env = {**os.environ, "CONVEYOR_DATA": str(tmp_path / "data")}
    for name in ("REDIS_URL", "KUBECONFIG", "KUBERNETES_SERVICE_HOST"):
        env.pop(name, None)
    done = ctl(env, "get", "--server", f"http://127.0.0.1:{free_port()}")
    assert done.returncode == 2 and "does not answer" in done.stderr
    lost = ctl(env, "get")
    assert lost.returncode == 2 or answers("http://127.0.0.1:9292")  # (the default address)
    if lost.returncode == 2:
        assert f"no conveyor found: none runs on the data directory {tmp_path / 'data'}" in (
            lost.stderr)


def answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
