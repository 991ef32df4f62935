"""Hostile input, each kind repeated, end to end: ``conveyor run`` as a process on a real
redis-server, the real Distribution registry (or, where it cannot serve what an attacker would,
the scripted loopback registry, said so) and the demo's bare repository: links out of the
checkout, injected tags, a YAML bomb, a password in a URL, oversized and replayed webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from conveyor.services.demo.scenario import Demo, ci_tags, create
from tests.chaos.conftest import landed
from tests.conftest import commit_files, conveyor, git_out, push
from tests.fixtures.git_remotes import SmartHTTPRemote, processes_mentioning
from tests.fixtures.loopback import LoopbackServer, Reply, Seen
from tests.fixtures.registries import Registry, free_port

Rows = list[dict[str, Any]]


# --- helpers ---------------------------------------------------------------------------------


def run_once(
    demo: Demo, data: Path, redis_url: str
) -> tuple[subprocess.CompletedProcess[str], Rows]:
    """``conveyor run --once --output json`` on the demo: the process and the printed rows."""
    done = conveyor(
        "run",
        "--manifests",
        str(demo.manifests),
        "--once",
        "--output",
        "json",
        data=data,
        redis_url=redis_url,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done, json.loads(done.stdout)


def row(rows: Rows, kind: str, name: str = "gitops-demo-app") -> dict[str, Any]:
    return next(r for r in rows if r["kind"] == kind and r["name"] == name)


def ready(r: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in r["status"]["conditions"] if c["type"] == "Ready")


def head(remote: Path) -> str:
    return git_out(remote, "rev-parse", "master").strip()


def commit_link(remote: Path, rel: str, target: str, message: str) -> str:
    """Commit ``rel`` as a symbolic link to ``target`` on ``remote``'s master, as a developer
    would."""
    commit_files(remote, {}, message, links={rel: target})
    assert git_out(remote, "cat-file", "-p", f"master:{rel}") == target  # a link, as given
    return head(remote)


# --- 1. a link out of the checkout, carrying a marker ------------------------------------------

MARKER_LINE = 'image: foo:v0 # {"$imagepolicy": "flux-system:image-repo-policy"}\n'


def test_a_link_out_of_the_checkout_is_refused_and_nothing_outside_is_written(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(MARKER_LINE)
    before_bytes = outside.read_bytes()
    data = tmp_path / "data"
    checkout = data / "automations/flux-system/gitops-demo-app"
    cases = {
        "absolute": str(outside),
        "relative": os.path.relpath(outside, checkout / "kustomize"),  # ../../../../../outside
    }
    tags = ci_tags(len(cases))
    for (case, target), tag in zip(cases.items(), tags, strict=True):
        push(registry, demo, [tag])
        linked = commit_link(demo.remote, "kustomize/x.yaml", target, f"link ({case})")
        done, rows = run_once(demo, data, redis_url)
        automation = ready(row(rows, "ImageUpdateAutomation"))
        assert done.returncode == 1, (case, done.stdout)
        assert automation["status"] == "False", (case, automation)
        assert automation["reason"] == "LinkOutsideRepository", (case, automation)
        assert "kustomize/x.yaml" in automation["message"], (case, automation)
        assert (checkout / "kustomize/x.yaml").resolve() == outside  # it did aim at the file
        assert outside.read_bytes() == before_bytes, case  # byte for byte
        assert head(demo.remote) == linked, case  # nothing pushed
        assert not landed(demo.remote, tag), case
        for kind in ("GitRepository", "ImageRepository"):
            assert ready(row(rows, kind))["status"] == "True", (case, kind, ready(row(rows, kind)))
        policy = row(rows, "ImagePolicy", "image-repo-policy")
        assert ready(policy)["status"] == "True", (case, ready(policy))
        assert policy["status"]["latestRef"]["tag"] == tag

        commit_files(demo.remote, {"kustomize/x.yaml": None}, f"remove the link ({case})")
        done, rows = run_once(demo, data, redis_url)
        assert ready(row(rows, "ImageUpdateAutomation"))["status"] == "True", (case, done.stdout)
        assert landed(demo.remote, tag) == 1, case
        assert outside.read_bytes() == before_bytes, case
    print(
        f"\nlink out of the checkout: {len(cases)} cases ({', '.join(cases)}), each refused "
        f"(LinkOutsideRepository naming kustomize/x.yaml), outside file unchanged, nothing "
        f"pushed; after the link's removal every tag landed once"
    )


# --- 2. tag injection ----------------------------------------------------------------------------

HOSTILE_TAGS = [
    "master-aaaaaaaa-9999999999\nsecurityContext: {privileged: true}",
    "master-aaaaaaaa-9999999998 # {privileged: true}",
    "master-aaaaaaaa-" + "9" * 120,  # 136 characters: over the 128 of the OCI grammar
    "-master-aaaaaaaa-9999999997",
]


def tag_registry(repository: str, tags: list[str]) -> LoopbackServer:
    """A registry that serves ``tags`` for ``repository``, hostile ones included."""

    def answer(seen: Seen) -> Reply:
        json_type = {"Content-Type": "application/json"}
        if seen.method == "GET" and seen.path == "/v2/":
            return 200, json_type, b"{}"
        if seen.method == "GET" and seen.path == f"/v2/{repository}/tags/list":
            return 200, json_type, json.dumps({"name": repository, "tags": tags}).encode()
        return 404, json_type, b'{"errors": [{"code": "NAME_UNKNOWN", "message": "unknown"}]}'

    return LoopbackServer(answer)


def test_injected_tags_are_ignored_and_the_newest_valid_one_lands_once(
    redis_url: str, tmp_path: Path
) -> None:
    """The registry is the scripted loopback fake (tests.fixtures.loopback): the real
    Distribution registry refuses such tags on push, an attacker's registry serves them."""
    repository = "pythops/hostile"
    valid = ci_tags(4)
    runs = 3
    with tag_registry(repository, [*valid, *HOSTILE_TAGS]) as fake:
        demo = create(tmp_path / "demo", fake.host, repository=repository)
        assert (
            f"image: {fake.host}/{repository}\n"
            in (demo.manifests / "gitops-demo-app.yaml").read_text()
        )
        initial = head(demo.remote)
        for run in range(runs):
            done, rows = run_once(demo, tmp_path / "data", redis_url)
            policy = row(rows, "ImagePolicy", "image-repo-policy")
            assert policy["status"]["latestRef"]["tag"] == valid[-1], (run, policy["status"])
            assert ready(row(rows, "ImageRepository"))["status"] == "True", run
            assert ready(row(rows, "ImageUpdateAutomation"))["status"] == "True", run
            scanned = row(rows, "ImageRepository")["status"]["lastScanResult"]
            assert scanned["tagCount"] == len(valid), (run, scanned)  # the hostile ones dropped
            assert "securityContext" not in done.stdout and "9999999" not in done.stdout, run
        scans = len(fake.paths(f"/v2/{repository}/tags/list"))
    assert int(git_out(demo.remote, "rev-list", "--count", f"{initial}..master")) == 1
    assert landed(demo.remote, valid[-1]) == 1
    deployment = git_out(demo.remote, "show", "master:kustomize/deployment.yaml")
    original = git_out(demo.remote, "show", f"{initial}:kustomize/deployment.yaml")
    assert "securityContext" not in deployment and "privileged" not in deployment
    assert len(deployment.splitlines()) == len(original.splitlines())  # no line injected
    changed = [
        (a, b)
        for a, b in zip(original.splitlines(), deployment.splitlines(), strict=True)
        if a != b
    ]
    assert len(changed) == 1 and changed[0][1].endswith(
        f'image: {fake.host}/{repository}:{valid[-1]} # {{"$imagepolicy": '
        '"flux-system:image-repo-policy"}'
    ), changed
    assert yaml.safe_load(deployment).keys() == yaml.safe_load(original).keys()
    container = yaml.safe_load(deployment)["spec"]["template"]["spec"]["containers"][0]
    assert set(container) == {"name", "image", "ports"}
    assert container["image"] == f"{fake.host}/{repository}:{valid[-1]}"
    print(
        f"\ntag injection: {runs} runs against {len(HOSTILE_TAGS)} hostile tags newer than "
        f"{len(valid)} valid ones ({scans} tag lists served): latestRef the newest valid tag, "
        f"one commit, deployment.yaml the same keys, no securityContext"
    )


# --- 3. a YAML bomb beside the manifests --------------------------------------------------------


def laughs(levels: int = 9, width: int = 9, prefix: str = "l") -> list[str]:
    """The billion laughs: each level a list of ``width`` aliases of the level before."""
    lines = [f"{prefix}0: &{prefix}0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels):
        aliases = ", ".join([f"*{prefix}{level - 1}"] * width)
        lines.append(f"{prefix}{level}: &{prefix}{level} [{aliases}]")
    return lines


BOMBS = {
    # nine levels of nine aliases: 9**9 nodes once expanded
    "bomb.yaml": "\n".join(laughs()) + "\n",
    # the same inside what looks like a Kubernetes object, the bomb under data:
    "configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol, namespace: "
    "flux-system}\n" + "\n".join(laughs()) + "\ndata: *l8\n",
    # small bombs in many documents: each under the per-document bound, together far over it
    "spread.yaml": "\n---\n".join("\n".join(laughs(6, 9, f"d{i}x")) for i in range(9)) + "\n",
}
FAST = 30.0  # seconds for a whole `run --once`: an unbounded parse takes minutes and gigabytes


def test_a_yaml_bomb_beside_the_manifests_fails_alone_and_fast(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    tags = ci_tags(len(BOMBS))
    took: list[float] = []
    for (name, text), tag in zip(BOMBS.items(), tags, strict=True):
        push(registry, demo, [tag])
        (demo.manifests / name).write_text(text)
        started = time.monotonic()
        done, rows = run_once(demo, tmp_path / "data", redis_url)
        took.append(time.monotonic() - started)
        assert took[-1] < FAST, (name, took[-1])
        errors = [r["error"] for r in rows if r["kind"] == "ManifestError"]
        assert done.returncode == 1, (name, done.stdout)
        assert len(errors) == 1 and errors[0].startswith(f"flux/{name}:"), (name, errors)
        assert "too many aliases" in errors[0], (name, errors)
        for kind in ("GitRepository", "ImageRepository", "ImageUpdateAutomation"):
            assert ready(row(rows, kind))["status"] == "True", (name, kind, ready(row(rows, kind)))
        policy = row(rows, "ImagePolicy", "image-repo-policy")
        assert policy["status"]["latestRef"]["tag"] == tag, name
        assert landed(demo.remote, tag) == 1, name  # every demo object reconciled: it landed
        (demo.manifests / name).unlink()
    print(
        f"\nyaml bomb: {len(BOMBS)} bombs ({', '.join(BOMBS)}), each a ManifestError naming its "
        f"file, the demo reconciled and its tag landed; run --once took at most "
        f"{max(took):.1f} s"
    )


# --- 4. an absolute link in the source ----------------------------------------------------------

EVIL_LINKS = {
    "absolute file": "/etc/hostname",
    "absolute directory": "/etc",
    "relative, out of the source": "../../../../../../../../etc/hostname",
}


def test_a_link_out_of_the_source_fails_the_kustomization_cleanly(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    push(registry, demo, ci_tags(1))
    for case, target in EVIL_LINKS.items():
        revision = commit_link(demo.remote, "kustomize/evil.yaml", target, f"evil ({case})")
        done, rows = run_once(demo, tmp_path / "data", redis_url)
        for stream in (done.stdout, done.stderr):
            assert "Traceback" not in stream and "InternalError" not in stream, (case, stream)
        kustomization = row(rows, "Kustomization")
        condition = ready(kustomization)
        assert condition["status"] == "False", (case, condition)
        assert condition["reason"] == "ArtifactFailed", (case, condition)
        assert "kustomize/evil.yaml" in condition["message"], (case, condition)
        assert kustomization["status"]["lastAttemptedRevision"] == f"master@sha1:{revision}"
        assert ready(row(rows, "GitRepository"))["status"] == "True", case
        commit_files(demo.remote, {"kustomize/evil.yaml": None}, f"remove the link ({case})")
    done, rows = run_once(demo, tmp_path / "data", redis_url)
    recovered = ready(row(rows, "Kustomization"))
    assert recovered["reason"] == "ClusterNotConfigured", recovered  # built again: no cluster here
    assert "built 2 objects" in recovered["message"], recovered
    print(
        f"\nlink out of the source: {len(EVIL_LINKS)} links ({', '.join(EVIL_LINKS)}), each "
        f"ArtifactFailed naming kustomize/evil.yaml, no traceback; built again once removed"
    )


# --- conveyor run, long-running --------------------------------------------------------------


@contextmanager
def running(demo: Demo, data: Path, redis_url: str) -> Iterator[str]:
    """``conveyor run --listen`` on the demo's manifests (every service in one process) until
    the block ends; yields the receiver's base URL once it answers."""
    port = free_port()
    env = {**os.environ, "CONVEYOR_DATA": str(data), "REDIS_URL": redis_url}
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST"):
        env.pop(name, None)
    data.mkdir(parents=True, exist_ok=True)
    log = data.parent / "conveyor-run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                "conveyor",
                "run",
                "--manifests",
                str(demo.manifests),
                "--listen",
                f"127.0.0.1:{port}",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, log.read_text(errors="replace")[-3000:]


# --- 5. a password in the GitRepository's URL --------------------------------------------------

USER, PASSWORD = "flux", "Pa55-in-the-URL-7f3c9e"


def test_a_password_in_the_git_url_never_reaches_an_argument_list(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    tag = ci_tags(2)[-1]
    push(registry, demo, ci_tags(2))
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    with SmartHTTPRemote(demo.root, USER, PASSWORD) as remote:
        url = remote.url_for(demo.remote.name)
        manifest = demo.manifests / "gitops-demo-app.yaml"
        text = manifest.read_text()
        assert f"url: {demo.remote.as_uri()}\n" in text
        manifest.write_text(
            text.replace(demo.remote.as_uri(), url.replace("://", f"://{USER}:{PASSWORD}@"))
        )
        scans = 0
        git_args: set[str] = set()  # the git processes seen naming the remote
        with running(demo, tmp_path / "data", redis_url) as base:
            deadline = time.monotonic() + 60
            while not landed(demo.remote, tag):
                assert time.monotonic() < deadline, f"{tag} not in Git within 60 s"
                every = processes_mentioning("")  # every live process's command line
                assert [a for a in every if PASSWORD in a or token in a] == []
                git_args.update(a for a in every if f"127.0.0.1:{remote.port}/" in a)
                scans += 1
            shown = httpx.get(
                f"{base}/api/v1/objects/GitRepository/flux-system/gitops-demo-app", timeout=10
            )
            listed = httpx.get(f"{base}/api/v1/objects", timeout=10)
            journal = httpx.get(f"{base}/api/v1/events", params={"limit": 1000}, timeout=10)
        authorized = [r for r in remote.requests if r.authorized]
    assert shown.status_code == 200
    assert shown.json()["spec"]["url"] == url  # without the user and the password
    for answer in (shown, listed, journal):
        assert PASSWORD not in answer.text and token not in answer.text
    assert PASSWORD not in (tmp_path / "conveyor-run.log").read_text(errors="replace")
    assert landed(demo.remote, tag) == 1  # the credentials worked: fetched and pushed over HTTP
    assert {r.path for r in authorized} >= {
        f"/{demo.remote.name}/git-upload-pack",
        f"/{demo.remote.name}/git-receive-pack",
    }
    assert all(r.user == USER for r in authorized)
    assert git_args, "no git process seen: the scans could not have caught the password"
    print(
        f"\npassword in the URL: {scans} scans of every process's arguments while the tag "
        f"landed over HTTP ({len(git_args)} git commands seen naming the remote, "
        f"{len(authorized)} authorized requests): the password in none; the API shows the URL "
        f"without it"
    )


# --- 6. the receiver: oversized and replayed webhooks ------------------------------------------

TOKEN = "hostile-hook-token-5b1d"
RECEIVER = f"""
---
apiVersion: v1
kind: Secret
metadata: {{name: hook-token, namespace: flux-system}}
stringData: {{token: {TOKEN}}}
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {{name: hostile-hook, namespace: flux-system}}
spec:
  type: generic-hmac
  secretRef: {{name: hook-token}}
  resources: [{{kind: GitRepository, name: gitops-demo-app}}]
"""
HUGE = 10 * 1024 * 1024
DELIVERIES, SENDS = 4, 3  # distinct signed deliveries, each sent this many times


def signature(body: bytes) -> str:
    return "sha256=" + hmac.new(TOKEN.encode(), body, hashlib.sha256).hexdigest()


def webhook_reconciles(base: str) -> int:
    events = httpx.get(f"{base}/api/v1/events", params={"limit": 1000}, timeout=10).json()
    return sum(
        1
        for e in events
        if e.get("type") == "ReconcileRequested"
        and e.get("reason") == "webhook"
        and e.get("kind") == "GitRepository"
    )


def test_the_receiver_refuses_huge_bodies_and_replays(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    manifest = demo.manifests / "gitops-demo-app.yaml"
    manifest.write_text(manifest.read_text() + RECEIVER)
    with running(demo, tmp_path / "data", redis_url) as base:
        deadline = time.monotonic() + 30
        path = None
        while path is None:
            assert time.monotonic() < deadline, "the Receiver has no webhookPath"
            objects = httpx.get(f"{base}/api/v1/objects", timeout=10).json()
            receiver = [o for o in objects if o["kind"] == "Receiver"]
            path = receiver[0]["status"].get("webhookPath") if receiver else None
            time.sleep(0.1)
        hook = f"{base}{path}"

        huge = b"{" + b" " * (HUGE - 2) + b"}"
        declared = httpx.post(
            hook, content=huge, headers={"X-Signature": signature(huge)}, timeout=30
        )
        assert declared.status_code == 413, declared.text

        def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
            for _ in range(HUGE // 65536):
                yield b" " * 65536

        signed = signature(b"".join(chunks()))  # authentic, and still too big
        streamed = httpx.post(hook, content=chunks(), headers={"X-Signature": signed}, timeout=30)
        assert streamed.status_code == 413, streamed.text
        assert webhook_reconciles(base) == 0

        answers: list[dict[str, Any]] = []
        for n in range(DELIVERIES):
            body = json.dumps({"delivery": n, "ref": "refs/heads/master"}).encode()
            for _ in range(SENDS):
                sent = httpx.post(
                    hook, content=body, headers={"X-Signature": signature(body)}, timeout=10
                )
                assert sent.status_code == 200, sent.text
                answers.append(sent.json())
            # one delivery at a time: a second one while the first's request still waits in
            # the queue would be merged with it (the queue never holds an object twice)
            deadline = time.monotonic() + 20
            while webhook_reconciles(base) < n + 1:
                assert time.monotonic() < deadline, webhook_reconciles(base)
                time.sleep(0.1)
        first = answers[::SENDS]
        replays = [a for i, a in enumerate(answers) if i % SENDS]
        assert all(a == {"accepted": ["GitRepository/flux-system/gitops-demo-app"]} for a in first)
        assert all(a == {"accepted": [], "duplicate": True} for a in replays), replays
        time.sleep(2.0)  # a second reconcile from a replay would have been journaled by now
        journaled = webhook_reconciles(base)
    assert journaled == DELIVERIES
    print(
        f"\nreceiver: 2 bodies of 10 MB (declared, streamed) answered 413; {DELIVERIES} signed "
        f"deliveries sent {SENDS} times each: {len(first)} accepted, {len(replays)} answered "
        f"duplicate; the journal shows {journaled} webhook reconciles, one per delivery"
    )
