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
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conveyor.services.demo.oci import push_tags
from conveyor.services.demo.scenario import ci_tags
from tests.fixtures.registries import Registry

LAYOUTS = ("flux-system", "per-app")
GIT_REPOSITORIES = 4
BRANCH = "main"
FLUX_NS = "flux-system"
TS_START = 1_640_370_014
TARGET_WALL_1000 = 60.0  # seconds for 1,000 policies
TARGET_GROWTH = 11.0  # per 10x
MARKER = '# {{"$imagepolicy": "{ref}"}}'

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


def manifests(app: App, layout: str, git_urls: Sequence[str]) -> list[dict[str, Any]]:
    """The Flux objects of one app: its ImageRepository, 10 ImagePolicies, its automation."""
    ns = app.namespace(layout)
    out: list[dict[str, Any]] = [
        {
            "apiVersion": "image.toolkit.fluxcd.io/v1beta2",
            "kind": "ImageRepository",
            "metadata": {"name": app.name, "namespace": ns},
            "spec": {"image": app.image, "interval": "1m", "insecure": True},
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
                "interval": "1m",
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


def build_fleet(root: Path, layout: str, apps: list[App], tags: int) -> Fleet:
    """The 4 bare repositories (one commit on ``main``) and the manifest directory."""
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
            yaml.safe_dump_all(manifests(app, layout, urls), sort_keys=False)
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
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    parser.add_argument("--keep", metavar="DIR", help="build the fleet under DIR and leave it")
    args = parser.parse_args()
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
