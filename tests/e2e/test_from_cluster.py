"""conveyor as a drop-in for Flux's controllers, on Flux's own CRDs: the seed's objects live in
the cluster as Flux custom resources (the CRDs of Flux 2.9, the current release, 2.8, the
previous minor, and 2.6, the last to serve the seed's own v1beta1/v1beta2 versions);
`conveyor run --from-cluster` reconciles them and writes their status back as Flux's
controllers would: accepted by the API server against each CRD's schema, with the generation
it observed, and filling the printer columns `kubectl get` shows.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import time
import urllib.request
import zlib
from pathlib import Path
from typing import Any

import pytest

from conveyor.services.demo.scenario import Demo, ci_tags
from tests.conftest import commit_files, git_out, push
from tests.fixtures.controlplane import ControlPlane
from tests.fixtures.flux import (
    CURRENT,
    OLDER,
    RELEASES,
    Served,
    install_flux_crds,
    kubectl,
    newest,
    served,
)
from tests.fixtures.git_remotes import SmartHTTPRemote
from tests.fixtures.registries import Registry

FLUX_KINDS = (
    "GitRepository",
    "ImageRepository",
    "ImagePolicy",
    "ImageUpdateAutomation",
    "Kustomization",
    "Receiver",
)

USER, PASSWORD = "flux", "a-git-password"

EXTRA = """\
---
apiVersion: v1
kind: Secret
metadata: {{name: git-auth, namespace: {ns}}}
stringData: {{username: {user}, password: {password}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: hook-token, namespace: {ns}}}
stringData: {{token: a-receiver-token}}
---
apiVersion: {api_version}
kind: Receiver
metadata: {{name: hook, namespace: {ns}}}
spec:
  type: generic
  secretRef: {{name: hook-token}}
  resources: [{{kind: GitRepository, name: gitops-demo-app}}]
"""


@pytest.fixture(scope="module", params=RELEASES)
def release(request: pytest.FixtureRequest, control_plane: ControlPlane) -> str:
    """A Flux release whose CRDs the control plane has (tests are grouped by release)."""
    install_flux_crds(control_plane, request.param)
    name: str = request.param
    return name


def namespace_for(request: pytest.FixtureRequest) -> str:
    """A namespace of this test's own (namespaces are never deleted on this control plane)."""
    return f"fc-{zlib.crc32(request.node.nodeid.encode()):08x}"


def use_namespace(demo: Demo, ns: str) -> None:
    """The seed's marker names its policy in ``ns``."""
    deployment = git_out(demo.remote, "show", "master:kustomize/deployment.yaml")
    marked = deployment.replace('"flux-system:image-repo-policy"', f'"{ns}:image-repo-policy"')
    commit_files(demo.remote, {"kustomize/deployment.yaml": marked}, "the policy's namespace")


def seed_manifests(demo: Demo, remote: SmartHTTPRemote, release: str, ns: str) -> str:
    """The seed's Flux manifests (and a Receiver) in ``ns``, the Git repository over HTTP
    (Flux's CRDs take no file:// URL): verbatim where the release serves their versions (2.6),
    else at the newest version it serves."""
    text = (demo.manifests / "gitops-demo-app.yaml").read_text()
    text = text.replace("namespace: flux-system", f"namespace: {ns}")
    text = text.replace("targetNamespace: default", f"targetNamespace: {ns}")
    text = text.replace(
        f"url: {demo.remote.as_uri()}",
        f"url: {remote.url_for(demo.remote.name)}\n  secretRef: {{name: git-auth}}",
    )
    text += EXTRA.format(
        ns=ns,
        user=USER,
        password=PASSWORD,
        api_version=newest(release, "Receiver").api_version,
    )
    if release != OLDER:
        for kind in FLUX_KINDS:
            entry = newest(release, kind)
            text = _set_api_version(text, kind, entry.api_version)
    return text


def _set_api_version(text: str, kind: str, api_version: str) -> str:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line == f"kind: {kind}" and i and lines[i - 1].startswith("apiVersion: "):
            lines[i - 1] = f"apiVersion: {api_version}"
    return "\n".join(lines) + "\n"


def environment(cp: ControlPlane, redis_url: str, data: Path) -> dict[str, str]:
    return {
        **os.environ,
        "KUBECONFIG": str(cp.kubeconfig),
        "REDIS_URL": redis_url,
        "CONVEYOR_DATA": str(data),
    }


def run_from_cluster(
    cp: ControlPlane, redis_url: str, data: Path, *args: str, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["conveyor", "run", "--from-cluster", *args],
        env=environment(cp, redis_url, data),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def get(cp: ControlPlane, entry: Served, ns: str, name: str) -> dict[str, Any]:
    path = f"/apis/{entry.api_version}/namespaces/{ns}/{entry.plural}/{name}"
    obj: dict[str, Any] = json.loads(kubectl(cp, "get", "--raw", path))
    return obj


def table(cp: ControlPlane, entry: Served, ns: str) -> list[dict[str, Any]]:
    """What `kubectl get` shows for ``entry``'s objects in ``ns``: the API server's Table, each
    row as {column name: cell}."""
    ctx = ssl.create_default_context(cafile=str(cp.ca_file))
    ctx.load_cert_chain(str(cp.client_cert_file), str(cp.client_key_file))
    request = urllib.request.Request(
        f"{cp.server}/apis/{entry.api_version}/namespaces/{ns}/{entry.plural}",
        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
    )
    with urllib.request.urlopen(request, context=ctx, timeout=30) as answer:
        body = json.loads(answer.read())
    names = [c["name"] for c in body["columnDefinitions"]]
    return [dict(zip(names, row["cells"], strict=True)) for row in body["rows"]]


def ready(obj: dict[str, Any]) -> dict[str, Any]:
    conditions = obj.get("status", {}).get("conditions", [])
    return next((c for c in conditions if c["type"] == "Ready"), {})


def test_the_seed_on_flux_crds(
    release: str,
    control_plane: ControlPlane,
    demo: Demo,
    registry: Registry,
    redis_url: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    cp, ns = control_plane, namespace_for(request)
    kubectl(cp, "create", "namespace", ns)
    use_namespace(demo, ns)
    tags = ci_tags(3)
    push(registry, demo, tags)
    with SmartHTTPRemote(demo.root, USER, PASSWORD) as remote:
        kubectl(cp, "apply", "-f", "-", stdin=seed_manifests(demo, remote, release, ns))
        run = run_from_cluster(cp, redis_url, tmp_path / "data", "--once", "--output", "json")
    assert run.returncode == 0, run.stdout + run.stderr
    rows = json.loads(run.stdout)
    assert {r["kind"] for r in rows} == set(FLUX_KINDS)
    assert "writing status" not in run.stderr, run.stderr  # no write was refused
    # the commit landed in Git, and the Deployment runs it
    head = git_out(demo.remote, "rev-parse", "master").strip()
    assert f"{demo.image}:{tags[-1]} #" in git_out(
        demo.remote, "show", "master:kustomize/deployment.yaml"
    )
    deployment = json.loads(kubectl(cp, "-n", ns, "get", "deployment", "gitops-demo-app",
                                    "-o", "json"))
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(tags[-1])

    # every Flux object carries its status, as the newest version serves it, with the
    # generation it observed
    names = {"Receiver": "hook", "ImagePolicy": "image-repo-policy"}
    objects = {
        kind: get(cp, newest(release, kind), ns, names.get(kind, "gitops-demo-app"))
        for kind in FLUX_KINDS
    }
    for kind, obj in objects.items():
        generation = obj["metadata"]["generation"]
        assert obj["status"]["observedGeneration"] == generation, (kind, obj["status"])
        assert ready(obj)["status"] == "True", (kind, obj["status"])
        assert ready(obj)["observedGeneration"] == generation, (kind, obj["status"])

    # what each controller would have said, as Kubernetes Events about the objects
    said = json.loads(kubectl(cp, "-n", ns, "get", "events", "-o", "json"))["items"]
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for event in said:
        by_kind.setdefault(event["involvedObject"]["kind"], []).append(event)
    # the seed's commit fetched, then the automation's
    artifact_events = sorted(by_kind["GitRepository"], key=lambda e: e["metadata"]["name"])
    assert [e["reason"] for e in artifact_events] == ["NewArtifact"] * 2, artifact_events
    assert artifact_events[0]["source"]["component"] == "source-controller"
    assert artifact_events[0]["involvedObject"]["uid"] == objects["GitRepository"]["metadata"][
        "uid"
    ]
    annotations = artifact_events[-1]["metadata"]["annotations"]
    assert annotations["source.toolkit.fluxcd.io/revision"] == f"master@sha1:{head}"
    assert artifact_events[-1]["message"].startswith("stored artifact for commit '")
    pushed = [e for e in by_kind["ImageUpdateAutomation"] if e["reason"] == "Succeeded"]
    assert pushed and pushed[0]["message"].startswith(f"pushed commit '{head[:7]}' to branch")
    applied = by_kind["Kustomization"]
    assert any("Deployment/" in e["message"] and "created" in e["message"] for e in applied)
    finished = [e for e in applied if e["message"].startswith("Reconciliation finished in ")]
    assert finished and finished[0]["metadata"]["annotations"][
        "kustomize.toolkit.fluxcd.io/commit_status"
    ] == "update"
    warnings = [
        (e["involvedObject"]["kind"], e["reason"], e.get("source"), e["message"])
        for e in said
        if e["type"] != "Normal"
    ]
    assert not warnings, warnings  # each one named, should one appear
    # as `kubectl events --for` finds them
    shown = kubectl(cp, "-n", ns, "events", "--for", "imagepolicy/image-repo-policy")
    assert "Succeeded" in shown and tags[-1] in shown, shown

    # the artifact as source-controller's storage names it
    artifact = objects["GitRepository"]["status"]["artifact"]
    path = f"gitrepository/{ns}/gitops-demo-app/{head}.tar.gz"
    assert artifact["revision"] == f"master@sha1:{head}"
    assert artifact["path"] == path
    assert artifact["url"].startswith("http://") and artifact["url"].endswith(f"/{path}")
    assert artifact["digest"].startswith("sha256:") and len(artifact["digest"]) == 71
    assert artifact["lastUpdateTime"].endswith("Z")

    policy = objects["ImagePolicy"]["status"]
    assert policy["latestRef"] == {"name": demo.image, "tag": tags[-1]}
    if release == OLDER:  # image-reflector-controller v0.35's v1beta2: the deprecated field too
        assert policy["latestImage"] == f"{demo.image}:{tags[-1]}"

    # `kubectl get` shows every printer column filled, at every version the release serves
    for entry in served(release):
        if entry.kind not in FLUX_KINDS:
            continue
        rows_shown = table(cp, entry, ns)
        assert rows_shown, entry
        for row in rows_shown:
            for column in entry.columns:
                assert row[column.name] not in ("", None), (
                    release, entry.api_version, entry.kind, column, row
                )


# --- a running conveyor: `flux reconcile`, spec changes ---------------------------------------

NAMES = {"Receiver": "hook", "ImagePolicy": "image-repo-policy"}


def flux_done(obj: dict[str, Any], token: str) -> bool:
    """Whether `flux reconcile` stops waiting, as flux2's cmd/flux/reconcile.go decides: the
    object handled the request (lastHandledReconcileAt is its token), then kstatus says
    Current (observedGeneration is the generation, not Reconciling, not Stalled, Ready True)."""
    status = obj.get("status") or {}
    if status.get("lastHandledReconcileAt") != token:
        return False
    if status.get("observedGeneration", obj["metadata"]["generation"]) != (
        obj["metadata"]["generation"]
    ):
        return False
    conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
    assert conditions.get("Stalled") != "True", status  # flux reconcile fails at once
    return conditions.get("Reconciling") != "True" and conditions.get("Ready") == "True"


def wait_for(what: str, check: Any, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_flux_reconcile_and_spec_changes_with_a_running_conveyor(
    control_plane: ControlPlane,
    demo: Demo,
    registry: Registry,
    redis_url: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    install_flux_crds(control_plane, CURRENT)
    cp, ns = control_plane, namespace_for(request)
    kubectl(cp, "create", "namespace", ns)
    use_namespace(demo, ns)
    tags = ci_tags(2)
    push(registry, demo, tags)
    entries = {kind: newest(CURRENT, kind) for kind in FLUX_KINDS}

    def obj(kind: str) -> dict[str, Any]:
        return get(cp, entries[kind], ns, NAMES.get(kind, "gitops-demo-app"))

    def resource(kind: str) -> str:
        return f"{entries[kind].plural}.{entries[kind].group}"

    log = tmp_path / "conveyor.log"
    with SmartHTTPRemote(demo.root, USER, PASSWORD) as remote, log.open("w") as out:
        manifests = seed_manifests(demo, remote, CURRENT, ns)
        # intervals far away: what runs below is what a request or a change started
        manifests = manifests.replace("interval: 30s", "interval: 1h")
        manifests = manifests.replace("interval: 1m", "interval: 1h")
        kubectl(cp, "apply", "-f", "-", stdin=manifests)
        process = subprocess.Popen(
            ["conveyor", "run", "--from-cluster", "--listen", ""],
            env=environment(cp, redis_url, tmp_path / "data"),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for("every object Ready", lambda: all(
                ready(obj(kind)).get("status") == "True" for kind in FLUX_KINDS
            ))
            wait_for("the new tag deployed", lambda: f"{demo.image}:{tags[-1]} #" in git_out(
                demo.remote, "show", "master:kustomize/deployment.yaml"
            ) and obj("Kustomization")["status"].get("lastAppliedRevision", "").endswith(
                git_out(demo.remote, "rev-parse", "master").strip()
            ))

            # `flux reconcile <kind>` for each kind: annotated, answered, done
            for kind in FLUX_KINDS:
                token = f"2026-01-01T00:00:00.{FLUX_KINDS.index(kind):09d}Z"
                kubectl(cp, "-n", ns, "annotate", "--overwrite", resource(kind),
                        NAMES.get(kind, "gitops-demo-app"),
                        f"reconcile.fluxcd.io/requestedAt={token}")
                wait_for(f"flux reconcile {kind}", lambda k=kind, t=token: flux_done(obj(k), t))

            # a spec change: the new generation is observed (at once, not at the interval)
            kubectl(cp, "-n", ns, "patch", resource("GitRepository"), "gitops-demo-app",
                    "--type=merge", "-p", '{"spec": {"timeout": "90s"}}')
            assert obj("GitRepository")["metadata"]["generation"] == 2
            wait_for("generation 2 observed", lambda: (
                obj("GitRepository")["status"]["observedGeneration"] == 2
                and ready(obj("GitRepository"))["observedGeneration"] == 2
            ))

            # settled: nothing is written while nothing changes
            versions = {k: obj(k)["metadata"]["resourceVersion"] for k in FLUX_KINDS}
            time.sleep(4)  # four ticks of the source and the status writes
            assert {k: obj(k)["metadata"]["resourceVersion"] for k in FLUX_KINDS} == versions
        finally:
            process.terminate()
            process.wait(30)
    output = log.read_text()
    assert "writing status" not in output, output  # no write was refused
    assert "Traceback" not in output, output
