"""Fleet benchmark of ``conveyor run --once``: 10, 100 and 1,000 ImagePolicies.

Builds a fleet on loopback and runs ``conveyor run --manifests DIR --once --output json
--data D`` on it as a subprocess, on a fresh embedded Redis each time (a fresh ``--data``
directory, no ``REDIS_URL``):

- a real Distribution registry (tests/fixtures/registries.py) holding ``I`` image
  repositories ``fleet/app-NNN``, each with ``--tags`` tags of the walkthrough's form
  (``master-<sha>-<unix ts>``, ``ci_tags``) and 12 semver tags (``0.9.0`` … ``v2.2.0``,
  ``3.0.0-rc.1``); the repositories are pushed once, for the largest scale, and each smaller
  scale takes the first ``I`` of them;
- ``P = 10 * I`` ImagePolicies, 10 per image repository: numerical on the timestamp (asc,
  as the demo, and desc), alphabetical (asc, desc, and on an extracted sha that starts 0-7), semver
  (``>=0.0.0``, ``>=1.0.0 <2.0.0``, ``~1.2``, with filterTags ``^1\\.[01]\\.``) and
  numerical on an extracted patch number;
- ``A = I`` ImageUpdateAutomations, one per app, over ``G = 4`` bare Git repositories
  (file:// URLs, branch ``main``): app ``n`` lives in ``apps/app-NNN/`` of repository
  ``n % 4`` (a Deployment with 8 full-image markers and a HelmRelease with the ``:name`` and
  ``:tag`` markers of the other 2 policies); each automation's ``update.path`` is its app's
  folder and it pushes to ``main``;
- the 4 GitRepositories (flux-system), no Kustomization (no cluster). Intervals 1m.

Two layouts of the same fleet: ``flux-system`` (every object in flux-system, as
``flux bootstrap`` lays it out; markers ``flux-system:<policy>``) and ``per-app`` (each app's
ImageRepository, policies and automation in namespace ``app-NNN``; the GitRepositories in
flux-system, named by the automations' ``sourceRef.namespace``).

For each layout and scale it measures the wall time, the CPU time (user + sys) and the peak
RSS (``ru_maxrss``) of the conveyor process and the children it reaped (``os.wait4``), and
checks the result: exit status 0, every ImagePolicy's latestRef is the expected tag, every
automation Ready with its pushed commit in its bare repository, and every marker on ``main``
carrying its policy's tag. A run that passes ``--timeout`` is killed (its process group) and
shown as ``> timeout``. Targets (the fleet issue): 1,000 policies in ≤ 60 s; growth per 10x
≤ 11x.

    python bench/bench_scale.py [--scales 1,10,100] [--tags 50]
        [--layouts flux-system,per-app] [--timeout 600] [--keep DIR]

``--keep DIR`` leaves the fleet (Git repositories, manifests, data directories, each run's
output) under ``DIR``; the registry's storage goes with the registry when the script ends.

``--long`` runs one fleet under ``conveyor run`` instead, as it runs for good:

    python bench/bench_scale.py --long [--policies 1000] [--layout per-app] [--interval 1m]
        [--observe 300] [--tags 50] [--timeout 600] [--keep DIR] [--processes]

With ``--processes`` the same fleet runs as the compose stack runs it: a redis-server, the
receiver (``conveyor worker receiver --manifests DIR``) and one ``conveyor worker STAGE`` per
stage with compose's command (no ``--concurrency``: 2 threads a stage), each a process of its
own, in one process group (what the per-process memory of a worker is measured on).

1. The fleet as above (ImageRepositories and automations every ``--interval``), with a
   ``generic`` Receiver (and the Secret with its token) whose resources are every
   ImageRepository: ``name: "*"`` in each namespace that has some (one entry per app in the
   per-app layout; an entry without a namespace means the Receiver's own).
2. ``conveyor run --manifests DIR --data D --listen 127.0.0.1:PORT`` (embedded Redis, no
   ``REDIS_URL``) in a process group of its own; its stdout and stderr go to
   ``conveyor.stdout.log`` and ``conveyor.stderr.log`` beside the fleet. It has converged once
   every automation has pushed and every ImagePolicy has a latestRef (``GET /api/v1/objects``,
   every 5 s); the --once mode's checks then run on that answer.
3. Once no stage's queue has held a message for 3 s (at most 60 s), ``--observe`` seconds
   untouched: the CPU of the process group (``conveyor run``, redis-server: ``utime +
   stime`` of each, plus ``cutime + cstime``, the CPU of the children each reaped, git above
   all) as % of one core; the summed RSS (``statm``) of the group every second, its peak over
   the whole run and while idle; and, from the journal, the gaps between consecutive interval
   requests (``ReconcileRequested``, reason ``interval``) of each object, as multiples of the
   interval, by when the stage started on them (and by when they were emitted). The journal
   is read from the embedded Redis itself (the list ``conveyor:journal`` at
   ``D/redis/redis.sock``), every 5 s from its head down to the newest entry already read:
   the API answers at most 1,000 entries and the list keeps 10,000, so reading it directly
   never loses one between reads and costs the measured processes nothing but a short
   ``LRANGE`` (the receiver would parse and scrub 1,000 entries a time).
4. A new newest tag on one app, no webhook: seconds from the push to the automation's commit
   carrying it on ``main`` (``git log`` every 20 ms); then 5 times, on other apps, a new tag
   and at once a POST to the Receiver's ``webhookPath`` of what the Distribution registry's
   notification for that push carries (its event envelope, naming repository and tag; the
   Receiver wakes every ImageRepository of the fleet): the same. Each with the journal's
   trace of the scan that saw the tag (when each stage was asked and started, from the push).
5. The figures beside the fleet issue's targets: idle CPU ≤ 5 % of a core; intervals within
   10 %; peak memory of all services ≤ 400 MB; new tag → commit ≤ 2 s with a webhook,
   ≤ interval + 5 s without.
6. SIGTERM to the process group (as a terminal's Ctrl-C or systemd would), SIGKILL after
   30 s: exited cleanly is exit status 0, no process left and no error or traceback logged
   after the signal (warnings are shown).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import itertools
import json
import math
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import scale_long
from conveyor.services.demo.oci import push_tags
from conveyor.services.demo.scenario import ci_tags
from conveyor.shared.kinds import STAGE_SERVICES
from conveyor.shared.models import parse_duration
from tests.fixtures.registries import Registry, free_port

LAYOUTS = ("flux-system", "per-app")
GIT_REPOSITORIES = 4
BRANCH = "main"
FLUX_NS = "flux-system"
TS_START = 1_640_370_014
TARGET_WALL_1000 = 60.0  # seconds for 1,000 policies
TARGET_GROWTH = 11.0  # per 10x
MARKER = '# {{"$imagepolicy": "{ref}"}}'
QUEUES = list(STAGE_SERVICES)  # one Celery queue per stage, named after it

SEMVER_TAGS = [
    "0.9.0",
    "1.0.0",
    "1.0.1",
    "1.1.0",
    "1.2.0",
    "1.2.3",
    "1.2.10",
    "1.10.0",
    "2.0.0",
    "2.1.0",
    "v2.2.0",
    "3.0.0-rc.1",
]

# --- the 10 policies of an app ----------------------------------------------------------------


@dataclass(frozen=True)
class PolicyKind:
    suffix: str
    policy: dict[str, Any]
    filter_tags: dict[str, str] | None
    expected: Callable[[list[str]], str]  # the walkthrough tags of the app -> latestRef.tag


def _low_sha(ci: list[str]) -> str:
    """The tag whose sha (starting 0-7) is the lexically last."""
    return max((t for t in ci if t.split("-")[1][0] in "01234567"), key=lambda t: t.split("-")[1])


TS_PATTERN = "^master-[a-f0-9]+-(?P<ts>[0-9]+)"
POLICY_KINDS: list[PolicyKind] = [
    PolicyKind(
        "ts",
        {"numerical": {"order": "asc"}},
        {"pattern": TS_PATTERN, "extract": "$ts"},
        lambda ci: ci[-1],
    ),
    PolicyKind(
        "ts-oldest",
        {"numerical": {"order": "desc"}},
        {"pattern": TS_PATTERN, "extract": "$ts"},
        lambda ci: ci[0],
    ),
    PolicyKind("alpha", {"alphabetical": {"order": "asc"}}, {"pattern": "^master-"}, max),
    PolicyKind("alpha-desc", {"alphabetical": {"order": "desc"}}, {"pattern": "^master-"}, min),
    PolicyKind(
        "sha",
        {"alphabetical": {"order": "asc"}},
        {"pattern": "^master-(?P<sha>[0-7][a-f0-9]*)-", "extract": "$sha"},
        _low_sha,
    ),
    PolicyKind("stable", {"semver": {"range": ">=0.0.0"}}, None, lambda _: "v2.2.0"),
    PolicyKind("v1", {"semver": {"range": ">=1.0.0 <2.0.0"}}, None, lambda _: "1.10.0"),
    PolicyKind("v1-2", {"semver": {"range": "~1.2"}}, None, lambda _: "1.2.10"),
    # the last two are written as HelmRelease values (``:name`` and ``:tag`` markers)
    PolicyKind(
        "v1-early",
        {"semver": {"range": ">=1.0.0"}},
        {"pattern": r"^1\.[01]\."},
        lambda _: "1.1.0",
    ),
    PolicyKind(
        "patch",
        {"numerical": {"order": "asc"}},
        {"pattern": r"^1\.2\.(?P<patch>[0-9]+)$", "extract": "$patch"},
        lambda _: "1.2.10",
    ),
]
FULL_IMAGE_MARKERS = 8  # POLICY_KINDS[:8] in the Deployment, the rest in the HelmRelease

# --- the fleet --------------------------------------------------------------------------------


@dataclass(frozen=True)
class App:
    index: int
    image: str  # registry host + repository

    @property
    def name(self) -> str:
        return f"app-{self.index:03d}"

    @property
    def repository(self) -> str:
        return f"fleet/{self.name}"

    @property
    def git(self) -> int:
        return self.index % GIT_REPOSITORIES

    def ci_tags(self, count: int) -> list[str]:
        return ci_tags(count, start=TS_START + 86_400 * self.index)

    def tags(self, count: int) -> list[str]:
        return self.ci_tags(count) + SEMVER_TAGS

    def namespace(self, layout: str) -> str:
        return FLUX_NS if layout == "flux-system" else self.name

    def policy(self, kind: PolicyKind) -> str:
        return f"{self.name}-{kind.suffix}"


def apps_of(host: str, count: int) -> list[App]:
    return [App(i, f"{host}/fleet/app-{i:03d}") for i in range(count)]


def app_files(app: App, layout: str) -> dict[str, str]:
    """The files of ``apps/<app>/``: markers for each of its 10 policies."""
    ns = app.namespace(layout)
    containers = "".join(
        f"        - name: {kind.suffix}\n"
        f"          image: {app.image}:latest "
        + MARKER.format(ref=f"{ns}:{app.policy(kind)}")
        + "\n"
        for kind in POLICY_KINDS[:FULL_IMAGE_MARKERS]
    )
    deployment = (
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata:\n"
        f"  name: {app.name}\n"
        f"  namespace: {app.name}\n"
        "spec:\n"
        "  replicas: 1\n"
        "  selector:\n"
        "    matchLabels:\n"
        f"      app: {app.name}\n"
        "  template:\n"
        "    metadata:\n"
        "      labels:\n"
        f"        app: {app.name}\n"
        "    spec:\n"
        "      containers:\n" + containers
    )
    values = "".join(
        f"    {kind.suffix}:\n"
        "      image:\n"
        "        repository: placeholder "
        + MARKER.format(ref=f"{ns}:{app.policy(kind)}:name")
        + "\n"
        "        tag: latest " + MARKER.format(ref=f"{ns}:{app.policy(kind)}:tag") + "\n"
        for kind in POLICY_KINDS[FULL_IMAGE_MARKERS:]
    )
    release = (
        "apiVersion: helm.toolkit.fluxcd.io/v2\n"
        "kind: HelmRelease\n"
        "metadata:\n"
        f"  name: {app.name}\n"
        f"  namespace: {app.name}\n"
        "spec:\n"
        "  interval: 10m\n"
        "  chart:\n"
        "    spec:\n"
        "      chart: ./charts/app\n"
        "  values:\n" + values
    )
    kustomization = (
        "apiVersion: kustomize.config.k8s.io/v1beta1\n"
        "kind: Kustomization\n"
        "resources:\n"
        "  - deployment.yaml\n"
        "  - release.yaml\n"
    )
    return {
        "deployment.yaml": deployment,
        "release.yaml": release,
        "kustomization.yaml": kustomization,
    }


def expected_markers(app: App, layout: str, tags: int) -> dict[str, str]:
    """Marker reference -> the value its line must carry once the automation ran."""
    ns = app.namespace(layout)
    ci = app.ci_tags(tags)
    out: dict[str, str] = {}
    for i, kind in enumerate(POLICY_KINDS):
        ref, tag = f"{ns}:{app.policy(kind)}", kind.expected(ci)
        if i < FULL_IMAGE_MARKERS:
            out[ref] = f"{app.image}:{tag}"
        else:
            out[f"{ref}:name"] = app.image
            out[f"{ref}:tag"] = tag
    return out


def manifests(
    app: App, layout: str, git_urls: Sequence[str], interval: str = "1m"
) -> list[dict[str, Any]]:
    """The Flux objects of one app: its ImageRepository, 10 ImagePolicies, its automation (the
    ImageRepository and the automation every ``interval``)."""
    ns = app.namespace(layout)
    out: list[dict[str, Any]] = [
        {
            "apiVersion": "image.toolkit.fluxcd.io/v1beta2",
            "kind": "ImageRepository",
            "metadata": {"name": app.name, "namespace": ns},
            "spec": {"image": app.image, "interval": interval, "insecure": True},
        }
    ]
    for kind in POLICY_KINDS:
        spec: dict[str, Any] = {"imageRepositoryRef": {"name": app.name}, "policy": kind.policy}
        if kind.filter_tags is not None:
            spec["filterTags"] = kind.filter_tags
        out.append(
            {
                "apiVersion": "image.toolkit.fluxcd.io/v1beta2",
                "kind": "ImagePolicy",
                "metadata": {"name": app.policy(kind), "namespace": ns},
                "spec": spec,
            }
        )
    source_ref: dict[str, str] = {"kind": "GitRepository", "name": f"fleet-{app.git}"}
    if ns != FLUX_NS:
        source_ref["namespace"] = FLUX_NS
    out.append(
        {
            "apiVersion": "image.toolkit.fluxcd.io/v1beta1",
            "kind": "ImageUpdateAutomation",
            "metadata": {"name": app.name, "namespace": ns},
            "spec": {
                "interval": interval,
                "sourceRef": source_ref,
                "git": {
                    "checkout": {"ref": {"branch": BRANCH}},
                    "commit": {
                        "author": {
                            "name": "fluxcdbot",
                            "email": "fluxcdbot@users.noreply.github.com",
                        },
                        "messageTemplate": "{{ .AutomationObject }}: automated image update\n"
                        "[ci skip]\n",
                    },
                    "push": {"branch": BRANCH},
                },
                "update": {"path": f"./apps/{app.name}", "strategy": "Setters"},
            },
        }
    )
    return out


def git(*args: str, cwd: Path | None = None, stdin: bytes | None = None) -> bytes:
    return subprocess.run(
        ["git", *args], cwd=cwd, input=stdin, capture_output=True, check=True
    ).stdout


@dataclass
class Fleet:
    root: Path
    layout: str
    apps: list[App]
    tags: int
    manifests: Path
    remotes: list[Path]

    @property
    def policies(self) -> int:
        return len(self.apps) * len(POLICY_KINDS)


def build_fleet(root: Path, layout: str, apps: list[App], tags: int, interval: str = "1m") -> Fleet:
    """The 4 bare repositories (one commit on ``main``) and the manifest directory; the image
    repositories and automations every ``interval`` (the GitRepositories every minute)."""
    root.mkdir(parents=True)
    remotes = [root / "git" / f"fleet-{g}.git" for g in range(GIT_REPOSITORIES)]
    for g, remote in enumerate(remotes):
        git("init", "--bare", "-q", "-b", BRANCH, str(remote))
        work = root / "git" / f"fleet-{g}.work"
        git("init", "-q", "-b", BRANCH, str(work))
        (work / "README.md").write_text(f"fleet repository {g}\n")
        for app in apps:
            if app.git == g:
                folder = work / "apps" / app.name
                folder.mkdir(parents=True)
                for name, text in app_files(app, layout).items():
                    (folder / name).write_text(text)
        git("add", "-A", cwd=work)
        git(
            "-c", "user.name=dev", "-c", "user.email=dev@example.com",
            "commit", "-qm", "Initial commit", cwd=work,
        )  # fmt: skip
        git("push", "-q", str(remote), BRANCH, cwd=work)
        shutil.rmtree(work)
    flux = root / "flux"
    (flux / "apps").mkdir(parents=True)
    sources = [
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": f"fleet-{g}", "namespace": FLUX_NS},
            "spec": {"interval": "1m", "url": remote.as_uri(), "ref": {"branch": BRANCH}},
        }
        for g, remote in enumerate(remotes)
    ]
    (flux / "sources.yaml").write_text(yaml.safe_dump_all(sources, sort_keys=False))
    urls = [r.as_uri() for r in remotes]
    for app in apps:
        (flux / "apps" / f"{app.name}.yaml").write_text(
            yaml.safe_dump_all(manifests(app, layout, urls, interval), sort_keys=False)
        )
    return Fleet(root, layout, apps, tags, flux, remotes)


# --- the registry -----------------------------------------------------------------------------


def push_fleet(registry: Registry, apps: list[App], tags: int) -> float:
    """Push every app's tags, several repositories at once; the seconds it took."""
    start = time.perf_counter()

    def one(app: App) -> None:
        push_tags(registry.url, app.repository, app.tags(tags), content=f"{app.name}\n", workers=4)

    with ThreadPoolExecutor(max_workers=min(8, len(apps))) as pool:
        for _ in pool.map(one, apps):
            pass
    return time.perf_counter() - start


# --- one run ----------------------------------------------------------------------------------


@dataclass
class Measure:
    layout: str
    policies: int
    wall: float
    cpu: float
    peak_mb: float
    timed_out: bool
    exit_code: int | None
    commits: int | None = None  # pushed over the 4 repositories
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.timed_out and not self.problems


def conveyor_command() -> list[str]:
    script = Path(sys.executable).parent / "conveyor"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "conveyor.services.cli"]


# The launcher that runs conveyor and reports its rusage. A small process of its own, because
# a child's ru_maxrss starts from the RSS of the process that forked it (Linux records the
# pre-exec image's high-water mark): forked from this script it would report this script's
# RSS (~100 MB after the pushes) whenever conveyor's own peak is lower.
LAUNCHER = """
import json, os, signal, subprocess, sys, threading, time
timeout, out_path, err_path, command = float(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
reaped = []
with open(out_path, "wb") as out, open(err_path, "wb") as err:
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                            start_new_session=True)  # redis-server and git die with it
    def reap():
        _, status, usage = os.wait4(proc.pid, 0)
        reaped.append((status, usage, time.perf_counter()))
    waiter = threading.Thread(target=reap, daemon=True)
    waiter.start()
    try:
        waiter.join(timeout)
    finally:
        timed_out = waiter.is_alive()
        if timed_out:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            waiter.join()
status, usage, ended = reaped[0]
proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
print(json.dumps({"wall": ended - start, "cpu": usage.ru_utime + usage.ru_stime,
                  "maxrss_kb": usage.ru_maxrss, "timed_out": timed_out,
                  "code": proc.returncode}))
"""


def run_once(fleet: Fleet, timeout: float) -> Measure:
    """``conveyor run --once`` on the fleet, through ``LAUNCHER``: wall time from its start to
    its exit, CPU (user + sys) and peak RSS of the process and the children it reaped (the
    embedded redis-server, git); killed with its whole process group at ``timeout``."""
    data = fleet.root / "data"
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "KUBECONFIG")}
    env.pop("CONVEYOR_DATA", None)
    command = [
        *conveyor_command(),
        "run", "--manifests", str(fleet.manifests), "--once", "--output", "json",
        "--data", str(data),
    ]  # fmt: skip
    out_path, err_path = fleet.root / "stdout.json", fleet.root / "stderr.log"
    launched = subprocess.run(
        [sys.executable, "-c", LAUNCHER, str(timeout), str(out_path), str(err_path), *command],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=True,
    )
    got: dict[str, Any] = json.loads(launched.stdout)
    timed_out = bool(got["timed_out"])
    measure = Measure(
        layout=fleet.layout,
        policies=fleet.policies,
        wall=float(got["wall"]),
        cpu=float(got["cpu"]),
        peak_mb=int(got["maxrss_kb"]) / 1024,
        timed_out=timed_out,
        exit_code=None if timed_out else int(got["code"]),
    )
    if not timed_out:
        check(fleet, measure, out_path, err_path)
    else:
        measure.commits = pushed_commits(fleet)
    return measure


# --- checks -----------------------------------------------------------------------------------


def cat_batch(remote: Path, specs: Sequence[str]) -> dict[str, bytes | None]:
    """``git cat-file --batch`` of ``specs`` (``rev:path`` or a commit): contents, or None."""
    if not specs:
        return {}
    raw = git("--git-dir", str(remote), "cat-file", "--batch", stdin="\n".join(specs).encode())
    out: dict[str, bytes | None] = {}
    pos = 0
    for spec in specs:
        end = raw.index(b"\n", pos)
        header = raw[pos:end].split()
        pos = end + 1
        if header[-1] == b"missing" or len(header) != 3:
            out[spec] = None
            continue
        size = int(header[2])
        out[spec] = raw[pos : pos + size]
        pos += size + 1
    return out


def pushed_commits(fleet: Fleet) -> int:
    return sum(
        int(git("--git-dir", str(r), "rev-list", "--count", BRANCH).strip()) - 1
        for r in fleet.remotes
    )


def read_markers(text: str) -> dict[str, str]:
    """Marker reference -> the value on its line."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        value, sep, comment = line.partition(" # ")
        if not sep or "$imagepolicy" not in comment:
            continue
        ref = json.loads(comment)["$imagepolicy"]
        found[ref] = value.rsplit(": ", 1)[-1].strip()
    return found


def ready(row: dict[str, Any]) -> dict[str, Any] | None:
    conditions: list[dict[str, Any]] = row.get("status", {}).get("conditions", [])
    return next((c for c in conditions if c["type"] == "Ready"), None)


def check(fleet: Fleet, measure: Measure, out_path: Path, err_path: Path) -> None:
    problems = measure.problems
    if measure.exit_code != 0:
        problems.append(f"exit status {measure.exit_code}")
    try:
        rows: list[dict[str, Any]] = json.loads(out_path.read_text() or "null") or []
    except json.JSONDecodeError as exc:
        tail = err_path.read_text(errors="replace")[-600:]
        problems.append(f"no JSON report ({exc}); stderr ends:\n{tail}")
        measure.commits = pushed_commits(fleet)
        return
    errors = [r["error"] for r in rows if r.get("kind") == "ManifestError"]
    problems += [f"manifest error: {e}" for e in errors[:3]]
    by_key = {(r["kind"], r["namespace"], r["name"]): r for r in rows if "status" in r}
    not_ready: dict[str, list[str]] = {}
    for (kind, ns, name), row in by_key.items():
        cond = ready(row)
        if cond is None or cond["status"] != "True":
            why = f"{cond['reason']}: {cond['message']}" if cond else "not reconciled"
            not_ready.setdefault(kind, []).append(f"{ns}/{name}: {why}")
    for kind, items in not_ready.items():
        problems.append(f"{len(items)} {kind} not Ready, e.g. {items[0][:300]}")
    wrong_policy = 0
    missing_push: list[str] = []
    commits_to_check: dict[int, list[tuple[str, str]]] = {}
    for app in fleet.apps:
        ns = app.namespace(fleet.layout)
        ci = app.ci_tags(fleet.tags)
        for kind in POLICY_KINDS:
            policy_row = by_key.get(("ImagePolicy", ns, app.policy(kind)))
            latest = (policy_row or {}).get("status", {}).get("latestRef")
            if latest is None or latest.get("tag") != kind.expected(ci):
                wrong_policy += 1
                if wrong_policy == 1:
                    problems.append(
                        f"ImagePolicy {ns}/{app.policy(kind)}: latestRef {latest}, "
                        f"expected tag {kind.expected(ci)}"
                    )
        auto = by_key.get(("ImageUpdateAutomation", ns, app.name))
        commit = (auto or {}).get("status", {}).get("lastPushCommit")
        if commit is None:
            missing_push.append(f"{ns}/{app.name}")
        else:
            commits_to_check.setdefault(app.git, []).append((f"{ns}/{app.name}", commit))
    if wrong_policy:
        problems.append(
            f"{wrong_policy} of {fleet.policies} ImagePolicies without the expected latestRef"
        )
    if missing_push:
        problems.append(
            f"{len(missing_push)} automations without lastPushCommit, e.g. {missing_push[0]}"
        )
    wrong_markers = 0
    for g, remote in enumerate(fleet.remotes):
        mine = [a for a in fleet.apps if a.git == g]
        specs = [f"{BRANCH}:apps/{a.name}/{f}" for a in mine for f in app_files(a, fleet.layout)]
        specs += [c for _, c in commits_to_check.get(g, [])]
        blobs = cat_batch(remote, specs)
        for who, c in commits_to_check.get(g, []):
            if blobs.get(c) is None:
                problems.append(f"automation {who}: commit {c[:7]} is not in fleet-{g}.git")
        for app in mine:
            found: dict[str, str] = {}
            for f in app_files(app, fleet.layout):
                blob = blobs.get(f"{BRANCH}:apps/{app.name}/{f}")
                found.update(read_markers(blob.decode() if blob else ""))
            for ref, value in expected_markers(app, fleet.layout, fleet.tags).items():
                if found.get(ref) != value:
                    wrong_markers += 1
                    if wrong_markers == 1:
                        problems.append(
                            f"fleet-{g}.git {BRANCH}: marker {ref} is {found.get(ref)!r}, "
                            f"expected {value!r}"
                        )
    if wrong_markers:
        problems.append(f"{wrong_markers} markers on {BRANCH} without the expected value")
    measure.commits = pushed_commits(fleet)
    pushes_needed = len(fleet.apps)
    if measure.commits < pushes_needed:
        problems.append(f"{measure.commits} commits pushed, at least {pushes_needed} expected")


# --- the report -------------------------------------------------------------------------------


def growth(prev: Measure | None, cur: Measure, attr: str) -> str:
    """Growth per 10x policies from ``prev`` to ``cur`` (normalised when not 10x apart)."""
    if prev is None or prev.timed_out or prev.policies >= cur.policies:
        return "-"
    before, after = getattr(prev, attr), getattr(cur, attr)
    if before <= 0:
        return "-"
    factor = (after / before) ** (1 / math.log10(cur.policies / prev.policies))
    return f"> {factor:.1f}x" if cur.timed_out else f"{factor:.1f}x"


def table(measures: list[Measure], timeout: float) -> list[str]:
    header = (
        f"{'layout':12s} {'policies':>8s} {'wall s':>9s} {'CPU s':>9s} {'peak MB':>8s} "
        f"{'wall/10x':>9s} {'CPU/10x':>9s} {'commits':>7s}  check"
    )
    lines = [header, "-" * len(header)]
    previous: dict[str, Measure] = {}
    for m in measures:
        prev = previous.get(m.layout)
        wall = f"> {timeout:.0f}" if m.timed_out else f"{m.wall:.2f}"
        cpu = f">= {m.cpu:.1f}" if m.timed_out else f"{m.cpu:.2f}"
        check_text = "timeout" if m.timed_out else ("ok" if m.ok else "FAILED")
        lines.append(
            f"{m.layout:12s} {m.policies:>8,d} {wall:>9s} {cpu:>9s} {m.peak_mb:>8.0f} "
            f"{growth(prev, m, 'wall'):>9s} {growth(prev, m, 'cpu'):>9s} "
            f"{m.commits if m.commits is not None else '-':>7}  {check_text}"
        )
        previous[m.layout] = m
    return lines


def targets(measures: list[Measure], timeout: float) -> list[str]:
    lines = [
        f"targets (fleet issue): 1,000 policies ≤ {TARGET_WALL_1000:.0f} s; "
        f"growth per 10x ≤ {TARGET_GROWTH:.0f}x"
    ]
    for layout in dict.fromkeys(m.layout for m in measures):
        mine = [m for m in measures if m.layout == layout]
        at_1000 = next((m for m in mine if m.policies == 1000), None)
        if at_1000 is None:
            wall = "1,000 policies not run"
        elif at_1000.timed_out:
            wall = f"1,000 policies > {timeout:.0f} s (missed)"
        else:
            met = "met" if at_1000.wall <= TARGET_WALL_1000 and at_1000.ok else "missed"
            wall = f"1,000 policies {at_1000.wall:.1f} s ({met})"
        steps = [
            f"{a.policies:,}→{b.policies:,}: {growth(a, b, 'wall')}"
            for a, b in itertools.pairwise(mine)
        ]
        lines.append(f"  {layout:12s} {wall}; wall growth per 10x {', '.join(steps) or '-'}")
    return lines


# --- the long run (--long) --------------------------------------------------------------------

RECEIVER = "fleet-scan"
RECEIVER_SECRET = "fleet-scan-token"
SOURCE_INTERVAL = 60.0  # the GitRepositories' (build_fleet)
TARGET_IDLE_CPU = 5.0  # % of one core, once converged
TARGET_INTERVAL_TOLERANCE = 0.10  # every interval within 10 %
TARGET_PEAK_MB = 400.0  # every service together
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
TARGET_WEBHOOK = 2.0  # seconds from a new tag to its commit, with a webhook
TARGET_SLACK = 5.0  # seconds over one interval, without
WEBHOOK_REPEATS = 5
STOP_GRACE = 30.0  # SIGTERM, then SIGKILL after this many seconds


def receiver_manifests(fleet: Fleet, token: str) -> list[dict[str, Any]]:
    """A ``generic`` Receiver in flux-system waking every ImageRepository of the fleet (``*``
    in each namespace that has some: the Receiver reads a resource without a namespace in its
    own), and the Secret with its token."""
    namespaces = dict.fromkeys(app.namespace(fleet.layout) for app in fleet.apps)
    resources: list[dict[str, Any]] = []
    for ns in namespaces:
        ref: dict[str, Any] = {"apiVersion": "image.toolkit.fluxcd.io/v1beta2"}
        ref.update(kind="ImageRepository", name="*", matchLabels={})  # Flux: "*" needs them
        if ns != FLUX_NS:
            ref["namespace"] = ns
        resources.append(ref)
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": RECEIVER_SECRET, "namespace": FLUX_NS},
            "type": "Opaque",
            "stringData": {"token": token},
        },
        {
            "apiVersion": "notification.toolkit.fluxcd.io/v1",
            "kind": "Receiver",
            "metadata": {"name": RECEIVER, "namespace": FLUX_NS},
            "spec": {
                "type": "generic",
                "secretRef": {"name": RECEIVER_SECRET},
                "resources": resources,
            },
        },
    ]


def api(base: str, path: str, body: bytes | None = None, timeout: float = 120.0) -> Any:
    """GET (or, with ``body``, POST) ``path`` of the status API; its JSON answer."""
    request = urllib.request.Request(
        base + path, data=body, headers={"Content-Type": "application/json"} if body else {}
    )
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return json.loads(answer.read())


def new_tag(app: App, tags: int, n: int) -> str:
    """A walkthrough tag newer than every tag of ``app`` (its ``n``-th new one)."""
    sha = hashlib.sha1(f"long-{app.name}-{n}".encode()).hexdigest()[:8]
    return f"master-{sha}-{TS_START + 86_400 * app.index + 60 * (tags + n)}"


def head(remote: Path) -> str:
    return git("--git-dir", str(remote), "log", "-1", "--format=%H", BRANCH).decode().strip()


def seconds(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f} s"


def log_summary(path: Path, since: int = 0) -> tuple[list[str], collections.Counter[str]]:
    """The levels and the most frequent messages (digits and hex masked) of a log, from byte
    ``since``, as lines to print; and how many lines of each level (and tracebacks)."""
    with path.open("rb") as f:
        f.seek(since)
        lines = f.read().decode(errors="replace").splitlines()
    levels: collections.Counter[str] = collections.Counter()
    messages: collections.Counter[str] = collections.Counter()
    for line in lines:
        level = next(
            (lv for lv in ("CRITICAL", "ERROR", "WARNING") if f" {lv} " in f" {line} "), None
        )
        if line.startswith("Traceback"):
            level = "Traceback"
        if level is None:
            continue
        levels[level] += 1
        text = re.sub(r"^\S+ \S+ ", "", line)  # the asctime
        text = re.sub(r"[0-9a-f]{7,}|\d+(\.\d+)?", "#", text)
        messages[text[:150]] += 1
    if not levels:
        return [f"{len(lines)} lines, no warning or error"], levels
    out = [f"{len(lines)} lines; " + ", ".join(f"{n} {lv}" for lv, n in levels.most_common())]
    out += [f"  {n:>6d} × {text}" for text, n in messages.most_common(6)]
    return out, levels


@dataclass
class TagRun:
    """One new tag's way to Git."""

    app: str
    tag: str
    webhook: bool
    push: float  # seconds the push took
    latency: float | None = None  # pushed -> commit on main carrying the tag
    post: float | None = None  # the webhook request's answer time
    post_result: str = ""
    chain: list[str] = field(default_factory=list)  # the journal's trace of the scan that saw it


@dataclass
class LongReport:
    fleet: Fleet
    interval: float
    observe: float
    converge: float | None = None
    settle: float | None = None
    cpu: scale_long.CpuUse | None = None
    peak: scale_long.MemorySample | None = None
    idle_peak: scale_long.MemorySample | None = None
    intervals: dict[str, scale_long.IntervalStats] = field(default_factory=dict)
    depths: dict[str, int] = field(default_factory=dict)
    no_webhook: TagRun | None = None
    webhooks: list[TagRun] = field(default_factory=list)
    stop: str = "not stopped"
    stopped_cleanly: bool = False
    problems: list[str] = field(default_factory=list)


# ``--processes``: the compose stack's layout in one process group. A redis-server on a unix
# socket where the embedded one would be, the receiver (with the manifests and the API) and one
# ``conveyor worker`` per stage against it; this leader waits for them all (a SIGTERM to the
# group reaches each) and exits with the worst status.
PROCESSES = """
import os, signal, subprocess, sys, time
redis_server, sock, data, manifests, listen, *command = sys.argv[1:]
for signum in (signal.SIGTERM, signal.SIGINT):
    signal.signal(signum, signal.SIG_IGN)  # the group's signal is for the children
os.makedirs(os.path.dirname(sock), exist_ok=True)
redis = subprocess.Popen([redis_server, "--port", "0", "--unixsocket", sock, "--save", "",
                          "--appendonly", "no", "--dir", os.path.dirname(sock)],
                         stdout=subprocess.DEVNULL, preexec_fn=lambda: signal.signal(
                             signal.SIGTERM, signal.SIG_DFL))
while not os.path.exists(sock):
    time.sleep(0.05)
env = {**os.environ, "REDIS_URL": "unix://" + sock}
default = lambda: [signal.signal(s, signal.SIG_DFL) for s in (signal.SIGTERM, signal.SIGINT)]
procs = [subprocess.Popen([*command, "worker", "receiver", "--manifests", manifests, "--data",
                           data, "--listen", listen], env=env, preexec_fn=default)]
for stage in os.environ["STAGES"].split(","):
    procs.append(subprocess.Popen([*command, "worker", stage, "--data", data], env=env,
                                  preexec_fn=default))  # compose's command: 2 threads a stage
# uvicorn (the receiver) shuts down gracefully on SIGTERM, then raises the signal again so that
# its parent sees it: that death by the signal sent is a clean stop
codes = [0 if code == -signal.SIGTERM else code for code in (p.wait() for p in procs)]
redis.wait()
sys.exit(max(codes, key=abs))
"""


class LongRun:
    """``conveyor run`` on a fleet until stopped, and what the fleet issue asks of it."""

    def __init__(self, fleet: Fleet, registry: Registry, args: argparse.Namespace) -> None:
        self.fleet = fleet
        self.registry = registry
        self.args = args
        self.interval = parse_duration(args.interval)
        self.report = LongReport(fleet, self.interval, float(args.observe))
        self.data = fleet.root / "data"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.stdout_path = fleet.root / "conveyor.stdout.log"
        self.stderr_path = fleet.root / "conveyor.stderr.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.group: scale_long.ProcessGroup | None = None
        self.sampler: scale_long.MemorySampler | None = None
        self.journal: scale_long.Journal | None = None
        self.poller: scale_long.JournalPoller | None = None
        self.webhook_path = ""
        self.new_tags = 0
        self.started = 0.0  # time.time() of the start
        self.window = (0.0, 0.0)  # the idle window, time.time()
        self.stop_log: tuple[str, ...] = ()  # what conveyor logged (summarised) after SIGTERM

    # -- 2. start and converge --------------------------------------------------------------

    def start(self) -> None:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("REDIS_URL", "KUBECONFIG", "CONVEYOR_DATA")
        }
        command = [
            *conveyor_command(), "run", "--manifests", str(self.fleet.manifests),
            "--data", str(self.data), "--listen", f"127.0.0.1:{self.port}",
        ]  # fmt: skip
        if self.args.processes:  # each service a process of its own, as in the compose stack
            server = shutil.which("redis-server")
            if server is None:
                raise RuntimeError("--processes needs redis-server on PATH")
            env["STAGES"] = ",".join(STAGE_SERVICES)
            command = [
                sys.executable, "-c", PROCESSES, server, str(self.data / "redis" / "redis.sock"),
                str(self.data), str(self.fleet.manifests), f"127.0.0.1:{self.port}",
                *conveyor_command(),
            ]  # fmt: skip
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own process group: the whole tree, measured
            )
        self.started = time.time()
        self.group = scale_long.ProcessGroup(self.proc.pid)
        self.sampler = scale_long.MemorySampler(self.group)
        self.sampler.start()
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"conveyor run exited ({self.proc.returncode}) at start")
            try:
                api(self.base, "/healthz", timeout=5)
                break
            except (OSError, ValueError):
                if time.monotonic() > deadline:
                    raise RuntimeError("the receiver API did not answer in 60 s") from None
                time.sleep(0.2)
        self.journal = scale_long.Journal(self.data / "redis" / "redis.sock")
        self.poller = scale_long.JournalPoller(self.journal, QUEUES)

    def wait_converged(self, timeout: float) -> bool:
        """Until every automation has pushed and every ImagePolicy has a latestRef, by the
        status API; then the --once mode's checks on what it answered."""
        wanted_policies, wanted_pushes = self.fleet.policies, len(self.fleet.apps)
        deadline = self.started + timeout
        shown = 0.0
        while True:
            rows: list[dict[str, Any]] = api(self.base, "/api/v1/objects", timeout=300)
            policies = sum(
                1 for r in rows if r["kind"] == "ImagePolicy" and r["status"].get("latestRef")
            )
            pushes = sum(
                1
                for r in rows
                if r["kind"] == "ImageUpdateAutomation" and r["status"].get("lastPushCommit")
            )
            receiver = next((r for r in rows if r["kind"] == "Receiver"), None)
            self.webhook_path = (receiver or {}).get("status", {}).get("webhookPath", "")
            now = time.time()
            if policies >= wanted_policies and pushes >= wanted_pushes:
                break
            if now > deadline:
                self.report.problems.append(
                    f"not converged in {timeout:.0f} s: {policies}/{wanted_policies} policies "
                    f"with a latestRef, {pushes}/{wanted_pushes} automations pushed"
                )
                return False
            if now - shown >= 30:
                shown = now
                print(
                    f"   {now - self.started:5.0f} s: {policies:,}/{wanted_policies:,} policies "
                    f"with a latestRef, {pushes:,}/{wanted_pushes:,} automations pushed",
                    flush=True,
                )
            time.sleep(5)
        self.report.converge = time.time() - self.started
        out_path = self.fleet.root / "objects.json"
        out_path.write_text(json.dumps(rows))
        measure = Measure(self.fleet.layout, self.fleet.policies, 0.0, 0.0, 0.0, False, 0)
        check(self.fleet, measure, out_path, self.stderr_path)
        self.report.problems += [f"after convergence: {p}" for p in measure.problems]
        if not self.webhook_path:
            self.report.problems.append(f"Receiver without webhookPath: {receiver}")
        print(
            f"   converged in {self.report.converge:.1f} s: {policies:,} policies with a "
            f"latestRef, {pushes:,} automations pushed, {measure.commits} commits on the 4 "
            f"repositories; check {'ok' if not measure.problems else 'FAILED'}",
            flush=True,
        )
        return True

    def queues_quiet(self, quiet: float, limit: float) -> float | None:
        """Wait until no stage has a message waiting or running for ``quiet`` seconds; the
        seconds it took, None after ``limit``."""
        assert self.poller is not None
        start = time.monotonic()
        since: float | None = None
        while (now := time.monotonic()) - start < limit:
            if any(self.poller.depth().values()):
                since = None
            elif since is None:
                since = now
            elif now - since >= quiet:
                return now - start
            time.sleep(0.25)
        return None

    # -- 3. idle ------------------------------------------------------------------------------

    def observe(self) -> None:
        assert self.group and self.sampler and self.journal and self.poller
        report = self.report
        report.settle = self.queues_quiet(3.0, 60.0)
        depth = self.poller.depth()
        print(
            "   queues quiet for 3 s after "
            + (f"{report.settle:.1f} s" if report.settle is not None else "60 s: NOT quiet")
            + f" (now {depth}); observing {report.observe:.0f} s …",
            flush=True,
        )
        self.journal.poll()  # the head from which the window's entries are collected
        self.poller.start()
        self.window = (time.time(), 0.0)
        before = self.group.snapshot(rss=False)
        t0 = time.monotonic()
        next_line = t0 + 60
        while (left := t0 + report.observe - time.monotonic()) > 0:
            time.sleep(min(left, max(0.0, next_line - time.monotonic())))
            if time.monotonic() >= next_line and left > 1:
                next_line += 60
                last = self.sampler.peak(since=time.time() - 2)
                print(
                    f"   {time.monotonic() - t0:5.0f} s: RSS "
                    f"{(last.total if last else 0) / scale_long.MB:.0f} MB, "
                    f"{len(self.journal.entries):,} journal entries collected",
                    flush=True,
                )
        after = self.group.snapshot(rss=False)
        elapsed = time.monotonic() - t0
        self.window = (self.window[0], self.window[0] + elapsed)
        report.cpu = scale_long.cpu_between(before, after, elapsed)
        report.idle_peak = self.sampler.peak(*self.window)
        report.depths = self.poller.max_depths(*self.window)
        print(
            f"   idle CPU {report.cpu.percent(report.cpu.total):.1f} % of a core, idle peak "
            f"{(report.idle_peak.total if report.idle_peak else 0) / scale_long.MB:.0f} MB",
            flush=True,
        )

    # -- 4. a new tag's way to Git --------------------------------------------------------------

    def tag_to_git(self, app: App, webhook: bool, timeout: float) -> TagRun:
        assert self.journal is not None
        remote = self.fleet.remotes[app.git]
        self.new_tags += 1
        tag = new_tag(app, self.fleet.tags, self.new_tags)
        seen = head(remote)
        t0 = time.time()
        push_tags(self.registry.url, app.repository, [tag], content=f"{app.name}\n")
        pushed = time.time()
        run = TagRun(app.name, tag, webhook, pushed - t0)
        poster: threading.Thread | None = None
        if webhook:
            target = {"repository": app.repository, "tag": tag, "mediaType": OCI_MANIFEST}
            envelope = json.dumps({"events": [{"action": "push", "target": target}]}).encode()

            def post() -> None:
                try:
                    got = api(self.base, self.webhook_path, body=envelope, timeout=600)
                    run.post_result = f"{len(got.get('accepted', []))} accepted"
                except (OSError, ValueError) as exc:
                    run.post_result = f"{type(exc).__name__}: {exc}"
                run.post = time.time() - pushed

            poster = threading.Thread(target=post, name="webhook", daemon=True)
            poster.start()
        deadline = pushed + timeout
        path = f"apps/{app.name}/deployment.yaml"
        while time.time() < deadline:
            now_head = head(remote)
            if now_head != seen:
                seen = now_head
                blob = cat_batch(remote, [f"{now_head}:{path}"]).get(f"{now_head}:{path}")
                if blob is not None and tag.encode() in blob:
                    run.latency = time.time() - pushed
                    break
            time.sleep(0.02)
        if poster is not None:
            poster.join(600)
        time.sleep(1.5)  # the commit's CommitPushed is journaled as the source-fetcher starts
        self.journal.poll()
        ns = app.namespace(self.fleet.layout)
        scanned = self.journal.find(t0, type="TagsScanned", namespace=ns, name=app.name)
        if scanned is not None:
            trace = sorted(self.journal.trace(scanned["trace_id"]), key=lambda e: e["started_at"])
            for entry in trace:
                reason = f"[{entry['reason']}]" if entry.get("reason") else ""
                emitted, began = entry["emitted_at"] - pushed, entry["started_at"] - pushed
                run.chain.append(
                    f"{entry['type']}{reason}→{entry.get('service', '?')} emitted "
                    f"{emitted:+.2f} started {began:+.2f}"
                )
        return run

    # -- 6. stop ------------------------------------------------------------------------------

    def stop(self) -> None:
        """SIGTERM to the process group; SIGKILL to it after STOP_GRACE seconds."""
        if self.proc is None or self.group is None:
            return
        if self.poller is not None and self.poller.is_alive():
            self.poller.stop()
        if self.journal is not None:
            self.journal.close()
        if self.proc.poll() is not None:
            self.report.stop = f"had exited already ({self.proc.returncode})"
            return
        log_size = self.stderr_path.stat().st_size
        t0 = time.monotonic()
        os.killpg(self.proc.pid, signal.SIGTERM)
        killed = False
        try:
            code = self.proc.wait(STOP_GRACE)
            while self.group.pids() and time.monotonic() - t0 < STOP_GRACE:
                time.sleep(0.1)  # the rest of the group, orphaned
        except subprocess.TimeoutExpired:
            code = None
        left = self.group.pids()
        if code is None or left:
            killed = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            code = self.proc.wait(10)
        took = time.monotonic() - t0
        if self.sampler is not None:
            self.sampler.stop()
        after, levels = log_summary(self.stderr_path, log_size)
        errors = sum(levels[lv] for lv in ("CRITICAL", "ERROR", "Traceback"))
        # clean: it exited by itself, with status 0, leaving no process and logging no error
        # (warnings are shown, not held against it: the group's SIGTERM reaches redis-server
        # as soon as the others, so what still runs may find it gone)
        self.report.stopped_cleanly = not killed and code == 0 and not errors
        if killed:
            self.report.stop = (
                f"SIGKILL after {STOP_GRACE:.0f} s ({len(left)} processes left: "
                f"{sorted({self.group_role(p) for p in left})}), exit {code}"
            )
        else:
            self.report.stop = f"exit {code} in {took:.1f} s after SIGTERM"
        self.report.stop += f"; its stderr after the signal: {after[0]}"
        self.stop_log = tuple(after[1:])

    def group_role(self, pid: int) -> str:
        try:
            return Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            return str(pid)

    # -- all of it ----------------------------------------------------------------------------

    def execute(self) -> LongReport:
        report = self.report
        apps = self.fleet.apps
        try:
            self.start()
            if not self.wait_converged(float(self.args.timeout)):
                return report
            self.observe()
            slow = apps[len(apps) // 2]
            print(f"   new tag on {slow.name}, no webhook …", flush=True)
            report.no_webhook = self.tag_to_git(slow, False, 3 * self.interval + 120)
            print(f"      {seconds(report.no_webhook.latency)}", flush=True)
            others = [a for a in apps if a is not slow]
            picks = [others[round(i * (len(others) - 1) / 4)] for i in range(WEBHOOK_REPEATS)]
            for app in picks:
                quiet = self.queues_quiet(2.0, 120.0)
                print(
                    f"   new tag on {app.name} and its webhook (queues quiet after "
                    f"{seconds(quiet, 1) if quiet is not None else '> 120 s'}) …",
                    flush=True,
                )
                run = self.tag_to_git(app, True, 2 * self.interval + 300)
                report.webhooks.append(run)
                print(
                    f"      {seconds(run.latency)} (webhook answered after "
                    f"{seconds(run.post)}: {run.post_result})",
                    flush=True,
                )
        except Exception as exc:  # report what was measured, and why the rest was not
            traceback.print_exc()
            report.problems.append(f"aborted: {type(exc).__name__}: {exc}")
        finally:
            if self.journal is not None and self.window[1] > 0:
                with contextlib.suppress(Exception):
                    self.journal.poll()
                report.intervals = scale_long.interval_stats(
                    self.journal.entries,
                    *self.window,
                    {
                        "ImageRepository": (self.interval, len(apps)),
                        "ImageUpdateAutomation": (self.interval, len(apps)),
                        "GitRepository": (SOURCE_INTERVAL, GIT_REPOSITORIES),
                    },
                )
            if self.sampler is not None:
                report.peak = self.sampler.peak()
            self.stop()
        return report


def print_long(run: LongRun, report: LongReport) -> bool:
    """The details, then the table of figures beside the issue's targets; True when every
    target is met."""
    fleet, interval = report.fleet, report.interval
    print()
    print("details")
    if report.cpu is not None:
        cpu = report.cpu
        print(
            f"  idle CPU over {cpu.seconds:.0f} s, by process (own utime+stime; + CPU of the "
            f"children each reaped, i.e. git): total {cpu.percent(cpu.total):.2f} % of a core"
        )
        for role in sorted(set(cpu.own) | set(cpu.reaped), key=scale_long.role_order):
            own, reaped = cpu.own.get(role, 0.0), cpu.reaped.get(role, 0.0)
            print(
                f"    {role:28s} {cpu.percent(own):6.2f} %  + reaped {cpu.percent(reaped):6.2f} %"
            )
    for label, sample in (
        ("peak RSS, whole run", report.peak),
        ("peak RSS, idle", report.idle_peak),
    ):
        if sample is None:
            continue
        at = sample.at - run.started
        parts = ", ".join(
            f"{role} {rss / scale_long.MB:.0f}"
            for role, rss in sorted(
                sample.by_role.items(), key=lambda kv: scale_long.role_order(kv[0])
            )
        )
        print(
            f"  {label}: {sample.total / scale_long.MB:.0f} MB at {at:.0f} s (PSS "
            f"{sample.pss / scale_long.MB:.0f} MB), {sample.processes} processes (MB: {parts}); "
            f"besides, the Git remotes' side of the file:// transports (on a real remote's "
            f"server): {sample.remote / scale_long.MB:.0f} MB"
        )
    if run.journal is not None:
        print(
            f"  journal: read from Redis (conveyor:journal on the embedded Redis's socket) every "
            f"{run.poller.period if run.poller else 0:.0f} s: {run.journal.polls} reads, "
            f"{len(run.journal.entries):,} entries, at most {run.journal.longest_read} in one "
            f"read, {run.journal.gaps} gaps (entries trimmed before read)"
        )
    if report.depths:
        print(f"  deepest queues while idle (waiting, 'unacked' = running): {report.depths}")
    for kind, stats in report.intervals.items():
        lags = sorted(stats.lags)
        lag = (
            f"request → start median {statistics.median(lags):.2f} s, max {lags[-1]:.2f} s"
            if lags
            else "no requests"
        )
        print(
            f"  {kind} every {stats.interval:.0f} s: {stats.requests:,} interval requests in "
            f"the window ({stats.expected:,.0f} expected), {stats.without_gap} of "
            f"{stats.objects:,} objects without two; {lag}"
        )
        print(f"      gaps by start:    {stats.summary(stats.started)}")
        print(f"      gaps by emission: {stats.summary(stats.emitted)}")
    tag_runs = ([report.no_webhook] if report.no_webhook else []) + report.webhooks
    for tag_run in tag_runs:
        how = "webhook" if tag_run.webhook else "no webhook"
        extra = (
            f", webhook answered {seconds(tag_run.post)} ({tag_run.post_result})"
            if tag_run.webhook
            else ""
        )
        print(
            f"  {tag_run.app} ({how}): {tag_run.tag} pushed in {tag_run.push:.2f} s, on "
            f"{BRANCH} {seconds(tag_run.latency)} after{extra}"
        )
        for link in tag_run.chain:
            print(f"      {link}")
    print(f"  stop: {report.stop}")
    for line in run.stop_log:
        print(f"    {line}")
    print("  conveyor's stderr over the whole run:")
    for line in log_summary(run.stderr_path)[0]:
        print(f"    {line}")
    for problem in report.problems:
        print(f"  problem: {problem}")

    rows: list[tuple[str, str, str, bool | None]] = []
    if report.cpu is not None:
        cpu = report.cpu
        pct = cpu.percent(cpu.total)
        rows.append(
            (
                "idle CPU, whole tree",
                f"{pct:.1f} % of a core ({cpu.percent(cpu.own_total):.1f} % own + "
                f"{cpu.percent(cpu.total - cpu.own_total):.1f} % reaped git)",
                f"≤ {TARGET_IDLE_CPU:.0f} %",
                pct <= TARGET_IDLE_CPU,
            )
        )
    else:
        rows.append(("idle CPU, whole tree", "not measured", f"≤ {TARGET_IDLE_CPU:.0f} %", None))
    for kind in ("ImageRepository", "ImageUpdateAutomation"):
        got = report.intervals.get(kind)
        target = f"±{100 * TARGET_INTERVAL_TOLERANCE:.0f} %"
        if got is None or not got.started:
            rows.append((f"interval, {kind}", "no gaps", target, None if got is None else False))
            continue
        r = got.started
        share = got.within(r, TARGET_INTERVAL_TOLERANCE)
        rows.append(
            (
                f"interval, {kind}",
                f"median {statistics.median(r):.2f}x, max {max(r):.2f}x, "
                f"{100 * share:.0f} % within",
                target,
                share == 1.0 and got.without_gap == 0,
            )
        )
    peak_mb = report.peak.total / scale_long.MB if report.peak else None
    idle_mb = report.idle_peak.total / scale_long.MB if report.idle_peak else None
    rows.append(
        (
            "peak memory, all services",
            "-"
            if peak_mb is None
            else f"{peak_mb:.0f} MB (idle {idle_mb or 0:.0f} MB), Redis in, remotes apart",
            f"≤ {TARGET_PEAK_MB:.0f} MB",
            None if peak_mb is None else peak_mb <= TARGET_PEAK_MB,
        )
    )
    limit = interval + TARGET_SLACK
    nw = report.no_webhook
    rows.append(
        (
            "new tag → commit, no webhook",
            "not measured"
            if nw is None
            else (seconds(nw.latency, 1) if nw.latency else "timed out"),
            f"≤ {limit:.0f} s",
            None if nw is None else (nw.latency is not None and nw.latency <= limit),
        )
    )
    hooks = [w.latency for w in report.webhooks]
    done = [x for x in hooks if x is not None]
    if not hooks:
        text, met = "not measured", None
    else:
        text = (
            f"median {statistics.median(done):.2f} s, max {max(done):.2f} s" if done else "-"
        ) + f" ({len(done)} of {len(hooks)})"
        met = len(done) == len(hooks) and max(done) <= TARGET_WEBHOOK
    rows.append(("new tag → commit, webhook", text, f"≤ {TARGET_WEBHOOK:.0f} s", met))
    rows.append(
        (
            "clean stop (SIGTERM)",
            report.stop.split(";")[0],
            "exit 0, < 30 s",
            report.stopped_cleanly,
        )
    )

    print()
    print(
        f"== long run: {fleet.layout}, {fleet.policies:,} policies ({len(fleet.apps):,} image "
        f"repositories, {len(fleet.apps):,} automations), intervals {run.args.interval}, "
        f"converged in {seconds(report.converge, 1)}, observed {report.observe:.0f} s"
    )
    first, width = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
    header = f"{'figure':{first}s}  {'measured':{width}s}  {'target':14s} verdict"
    print(header)
    print("-" * len(header))
    for name, measured, target, met in rows:
        verdict = "-" if met is None else ("met" if met else "MISSED")
        print(f"{name:{first}s}  {measured:{width}s}  {target:14s} {verdict}")
    return not report.problems and all(met is not False for *_, met in rows)


def run_long(args: argparse.Namespace) -> int:
    """``--long``: the fleet under ``conveyor run`` (see the module's docstring)."""
    count = args.policies // len(POLICY_KINDS)
    with work_root(args.keep) as root, Registry() as registry:
        apps = apps_of(registry.host, count)
        started = time.perf_counter()
        pushed = push_fleet(registry, apps, args.tags)
        repo = Path(__file__).resolve().parent.parent
        tree = git("rev-parse", "--short", "HEAD", cwd=repo).decode().strip()
        dirty = len(git("status", "--porcelain", cwd=repo).decode().splitlines())
        print(
            f"== setup: registry at {registry.host}, {count} image repositories × "
            f"{args.tags + len(SEMVER_TAGS)} tags pushed in {pushed:.1f} s (with the registry's "
            f"start {time.perf_counter() - started:.1f} s); conveyor at {tree} with {dirty} "
            f"paths changed in the working tree; {os.cpu_count()} CPUs, load "
            f"{os.getloadavg()[0]:.2f}",
            flush=True,
        )
        stamp = time.strftime("%Y%m%d-%H%M%S")
        fleet = build_fleet(
            root / f"long-{args.layout}-{args.policies}-{stamp}",
            args.layout,
            apps,
            args.tags,
            args.interval,
        )
        (fleet.manifests / "receiver.yaml").write_text(
            yaml.safe_dump_all(receiver_manifests(fleet, secrets.token_hex(16)), sort_keys=False)
        )
        print(
            f"== {args.layout}: {fleet.policies:,} policies, {count} automations over "
            f"{GIT_REPOSITORIES} Git repositories, intervals {args.interval}, a generic "
            f"Receiver on every ImageRepository; "
            f"{'a conveyor worker per service' if args.processes else 'conveyor run'} …",
            flush=True,
        )
        run = LongRun(fleet, registry, args)
        report = run.execute()
        ok = print_long(run, report)
        print(f"\nload average at the end {os.getloadavg()[0]:.2f}")
        if args.keep:
            print(f"the fleet, the data and conveyor's logs are under {fleet.root}")
    return 0 if ok else 1


# --- main -------------------------------------------------------------------------------------


@contextmanager
def work_root(keep: str | None) -> Iterator[Path]:
    if keep:
        root = Path(keep).resolve()
        root.mkdir(parents=True, exist_ok=True)
        yield root
        return
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-scale-") as tmp:
        yield Path(tmp)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--scales", default="1,10,100", help="image repositories (I), comma list")
    parser.add_argument("--tags", type=int, default=50, help="walkthrough tags per repository")
    parser.add_argument("--layouts", default=",".join(LAYOUTS))
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds per run (--long: to converge)"
    )
    parser.add_argument("--keep", metavar="DIR", help="build the fleet under DIR and leave it")
    long = parser.add_argument_group("--long: one fleet under `conveyor run`")
    long.add_argument("--long", action="store_true", help="run the long-running mode")
    long.add_argument("--policies", type=int, default=1000, help="ImagePolicies (10 per app)")
    long.add_argument("--layout", default="per-app", choices=LAYOUTS)
    long.add_argument("--interval", default="1m", help="of ImageRepositories and automations")
    long.add_argument("--observe", type=float, default=300.0, help="idle seconds to observe")
    long.add_argument(
        "--processes", action="store_true",
        help="each service a `conveyor worker` process of its own on a redis-server (the compose "
        "stack's layout), instead of `conveyor run`",
    )
    args = parser.parse_args()
    if args.long:
        if args.policies < len(POLICY_KINDS) * (WEBHOOK_REPEATS + 1) or args.policies % 10:
            parser.error(f"--policies: a multiple of 10, ≥ {10 * (WEBHOOK_REPEATS + 1)}")
        try:
            parse_duration(args.interval)
        except ValueError as exc:
            parser.error(f"--interval: {exc}")
        return run_long(args)
    scales = sorted({int(s) for s in args.scales.split(",") if s.strip()})
    layouts = [s.strip() for s in args.layouts.split(",") if s.strip()]
    if not scales or min(scales) < 1:
        parser.error("--scales: positive integers")
    if unknown := [s for s in layouts if s not in LAYOUTS]:
        parser.error(f"--layouts: unknown {unknown} (known: {', '.join(LAYOUTS)})")

    with work_root(args.keep) as root, Registry() as registry:
        apps = apps_of(registry.host, max(scales))
        started = time.perf_counter()
        pushed = push_fleet(registry, apps, args.tags)
        per_repo = args.tags + len(SEMVER_TAGS)
        print(
            f"== setup: registry at {registry.host}, {len(apps)} image repositories × "
            f"{per_repo} tags ({args.tags} walkthrough + {len(SEMVER_TAGS)} semver) = "
            f"{len(apps) * per_repo:,} tags pushed in {pushed:.1f} s "
            f"(registry start and push {time.perf_counter() - started:.1f} s)",
            flush=True,
        )
        measures: list[Measure] = []
        for layout in layouts:
            for scale in scales:
                t0 = time.perf_counter()
                stamp = time.strftime("%Y%m%d-%H%M%S")
                fleet = build_fleet(
                    root / f"{layout}-{scale * 10}-{stamp}", layout, apps[:scale], args.tags
                )
                built = time.perf_counter() - t0
                print(
                    f"== {layout}: {fleet.policies:,} policies, {scale} image repositories, "
                    f"{scale} automations over {GIT_REPOSITORIES} Git repositories "
                    f"(fleet laid out in {built:.1f} s); conveyor run --once …",
                    flush=True,
                )
                m = run_once(fleet, args.timeout)
                measures.append(m)
                state = (
                    f"timed out after {args.timeout:.0f} s"
                    if m.timed_out
                    else f"exit {m.exit_code}, {m.wall:.2f} s"
                )
                print(f"   {state}; {m.commits} commits pushed", flush=True)
                for problem in m.problems:
                    print(f"   problem: {problem}", flush=True)
        print()
        for line in table(measures, args.timeout):
            print(line)
        print()
        for line in targets(measures, args.timeout):
            print(line)
        if args.keep:
            print(f"\nthe fleet is under {root}")
    return 0 if all(m.ok for m in measures) else 1


if __name__ == "__main__":
    sys.exit(main())
