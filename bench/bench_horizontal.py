"""Horizontal scale on Celery: one fleet under ONE, then under K ``conveyor worker`` processes
per stage, every process of a stage consuming the same Redis queue.

Each run starts from fresh state: a new Distribution registry (tests/fixtures/registries.py)
with bench_scale.py's fleet pushed to it (``P / 10`` image repositories ``fleet/app-NNN``, each
with ``--tags`` walkthrough tags and 12 semver tags), new bare Git repositories and manifests
(``bench_scale.build_fleet``: 10 ImagePolicies and one ImageUpdateAutomation per image
repository, the automations spread over 4 repositories, all pushing to ``main``; intervals
10m, so that none falls due during a run), a new redis-server (tests/fixtures/workers.py),
and, for every stage, K processes ``conveyor worker STAGE --redis URL --data DIR
--concurrency C``, each with its own data directory (as separate hosts have) and its own log
(level INFO). Once every worker logged ``ready.``:

1. converge from scratch: the manifests go into the store as ``--manifests`` loads them
   (``runner.open_source(...).refresh(store)``), which makes every object due at once: the
   workers' tickers queue them. Done when every ImagePolicy has its expected latestRef and
   every marker on ``main`` carries its policy's value;
2. a burst: a new newest walkthrough tag on every image repository (``bench_scale.new_tag``),
   then a scan of each asked for as a webhook asks (``queue_reconcile``, reason ``webhook``).
   Done when every marker carries the values the new tags give.

A phase's wall time runs from its start to the push that completed it (as the remote's
``post-receive`` hook saw it). Its throughput over that time: automation commits per second;
reconciles per second (the runtime logs ``<key> Ready=…`` at INFO as each run ends);
journal entries per second (``conveyor:journal``, one per message a stage took: a scan's
``TagsScanned`` that re-evaluates 10 policies is one; the notices journaled beside them, with
no ``started_at``, are not counted). Worker CPU is utime + stime of every
worker process and of the git processes it reaped, from the phase's start until no message
waits or runs. Each run leaves ``journal.json`` (the entries read) beside its logs.

Checks, in each run (a violation makes the exit status 1):

- the end state, by bench_scale's ``check`` on every object's status (``runner.report``):
  everything Ready, every latestRef, every automation's lastPushCommit in its repository,
  every marker on ``main`` carrying the newest tag's value;
- pushes: each bare repository's ``pre-receive`` and ``post-receive`` hooks log every push
  with its time: no two pushes to a branch overlapped, each one started from the head the one
  before left (no lost update), none was refused; ``main`` is linear, holds every commit the
  journal's ``CommitPushed`` entries announce, and gained one commit per push;
- locks: ``redis-cli monitor`` records every command Redis ran, in order, with its time, and
  each command a script ran (``[0 lua]``) right after the script's ``EVALSHA``. A holding of
  a lock runs from the last ``SET … NX`` of its token (run by the store's take script) to the
  release script of that token; the renew script, one for all the locks of a process that
  are due, is read key by key with each key's token: no two holdings of an object's lock
  (``lock:<Kind/ns/name>``, held around each reconcile) nor of a push lock
  (``lock:GitPush/<remote>/<branch>``) overlapped, every holding was released, no renewal or
  release found the lease gone (another token or none), and no command touched a lock key
  but these scripts' (``read_holdings``). The journal cannot show this: an entry is the
  event with ``service`` and ``started_at`` (when a stage took the message, before any lock),
  with neither the process nor the end, nor the objects of an event that fans out;
- no worker process exited.

The workers get ``CONVEYOR_REGISTRY_RPS=--registry-rps``: the per-registry request budget is
shared by every process through Redis (10 a second by default) and would cap the scans at the
same rate whatever the number of processes. MONITOR costs Redis some CPU in both runs alike.

Here the registry answers at once, from the same machine, and the work is CPU-bound: on 2
cores a second process per stage adds contention, not throughput. A fleet's registry is
remote. ``--registry-latency MS`` puts a forwarder (``tests.fixtures.loopback.TCPForwarder``,
in this script's process) between the workers and the registry, and the fleet's images name
the forwarder: each answer of the registry is held MS milliseconds before it passes on (the
first bytes the registry sends after the worker last sent; the rest of that answer follows at
once), so each request, and each TLS handshake's round trip, takes MS longer, as over a link
of that round-trip time (a new TCP connection's own handshake is not delayed). The scans wait
on it; the policy evaluator reads the registry only for digest reflection, build times or
signatures, which this fleet's policies do not ask for. The tags this script pushes go to the
registry directly. The run reports the answers held and the connections the workers opened.

    python bench/bench_horizontal.py [--policies 300] [--processes 2] [--concurrency 2]
        [--tags 50] [--layout per-app] [--registry-rps 1000] [--registry-latency 0]
        [--timeout 300] [--keep DIR]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from celery import Celery

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench_scale
import scale_long
from bench_scale import BRANCH, POLICY_KINDS, App, Fleet
from conveyor.services import runner
from conveyor.services.demo.oci import push_tags
from conveyor.shared.bus import CeleryDispatcher, broker_url
from conveyor.shared.embedded import die_with_parent
from conveyor.shared.events import ReconcileRequested
from conveyor.shared.kinds import STAGE_SERVICES
from conveyor.shared.models import ImagePolicy, object_key
from conveyor.shared.runtime import Settings, queue_reconcile
from conveyor.shared.status import ImagePolicyStatus
from conveyor.shared.store import _RELEASE_LOCK, _RENEW_LOCKS, _TAKE_LOCK, Store
from tests.fixtures.loopback import TCPForwarder
from tests.fixtures.redis import redis_binary
from tests.fixtures.registries import Registry
from tests.fixtures.workers import RedisServer

INTERVAL = "10m"  # of the image repositories and automations: no tick during a run
LOCK_PREFIX = "conveyor:lock:"
PUSH_LOCK = "GitPush/"  # then <remote>/<branch>: held around a push (git_committer)
QUIET = 1.5  # seconds without a message waiting or running: the phase's work is over
POLL = 0.25  # seconds between two looks at the store and the remotes
READY = re.compile(r"^(\S+ \S+) INFO conveyor \S+ Ready=(\w+)", re.MULTILINE)  # runtime's
FILES = ("deployment.yaml", "release.yaml", "kustomization.yaml")  # bench_scale.app_files
HOOK = """#!/bin/sh
now=$(date +%s.%N)
while read old new ref; do echo "$now {phase} $old $new $ref"; done >> "{log}"
"""


@dataclass(frozen=True)
class TaggedApp(App):
    """An app of the fleet with walkthrough tags pushed after its first ones."""

    extra: tuple[str, ...] = ()

    def ci_tags(self, count: int) -> list[str]:
        return [*super().ci_tags(count), *self.extra]


# --- the processes ------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and of the children it reaped (git), in seconds; 0 once gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(b")") + 2 :].split()  # field N of proc(5) is fields[N - 3]
    return sum(int(f) for f in fields[11:15]) / scale_long.CLK_TCK


@dataclass
class Worker:
    stage: str
    number: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def name(self) -> str:
        return f"{self.stage}#{self.number}"


def start_workers(
    url: str, root: Path, processes: int, concurrency: int, registry_rps: str
) -> list[Worker]:
    """``processes`` × ``conveyor worker STAGE`` for every stage, each with its own data
    directory and log; they get SIGTERM should this script die."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "KUBECONFIG", "KUBERNETES_SERVICE_HOST", "CONVEYOR_DATA")
    }
    env |= {"CONVEYOR_LOG_LEVEL": "INFO", "CONVEYOR_REGISTRY_RPS": registry_rps}
    (root / "logs").mkdir(parents=True, exist_ok=True)
    workers: list[Worker] = []
    for stage in STAGE_SERVICES:
        for number in range(1, processes + 1):
            log = root / "logs" / f"{stage}-{number}.log"
            command = [
                *bench_scale.conveyor_command(), "worker", stage, "--redis", url,
                "--data", str(root / "data" / f"{stage}-{number}"),
                "--concurrency", str(concurrency),
            ]  # fmt: skip
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    command,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    preexec_fn=die_with_parent,
                )
            workers.append(Worker(stage, number, proc, log))
    return workers


def wait_ready(workers: Sequence[Worker], timeout: float) -> None:
    """Until every worker logged Celery's ``ready.``."""
    deadline = time.monotonic() + timeout
    pending = list(workers)
    while pending:
        for worker in list(pending):
            text = worker.log.read_text(errors="replace")
            if " ready." in text:
                pending.remove(worker)
            elif worker.proc.poll() is not None:
                raise RuntimeError(f"{worker.name} exited at start:\n{text[-2000:]}")
        if pending and time.monotonic() > deadline:
            raise RuntimeError(f"not ready in {timeout:.0f} s: {[w.name for w in pending]}")
        time.sleep(0.2)


def stop_workers(workers: Sequence[Worker]) -> None:
    for worker in workers:
        if worker.proc.poll() is None:
            worker.proc.terminate()
    for worker in workers:
        try:
            worker.proc.wait(30)
        except subprocess.TimeoutExpired:
            worker.proc.kill()
            worker.proc.wait(10)


class Monitor:
    """``redis-cli monitor`` into a file: every command the Redis ran, in its order, with the
    time (µs) it ran at."""

    def __init__(self, url: str, path: Path) -> None:
        cli = Path(redis_binary()).with_name("redis-cli")
        self.path = path
        self._out = path.open("wb")
        self.proc = subprocess.Popen(
            [str(cli) if cli.exists() else shutil.which("redis-cli") or "redis-cli",
             "-u", url, "monitor"],
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )  # fmt: skip
        self._wait_for(b"OK")

    def _wait_for(self, text: bytes, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with self.path.open("rb") as f:
                f.seek(max(0, self.path.stat().st_size - 4096))
                if text in f.read():
                    return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-cli monitor: {text.decode()!r} not seen")
            time.sleep(0.05)

    def stop(self, client: redis.Redis) -> None:
        """Stop once everything Redis ran until now is in the file."""
        marker = f"bench-horizontal-end-{time.time()}"
        client.echo(marker)
        try:
            self._wait_for(marker.encode())
        finally:
            self.proc.terminate()
            self.proc.wait(10)
            self._out.close()


class Journal(scale_long.Journal):
    """scale_long's reader of ``conveyor:journal`` (each poll reads from the head down to the
    newest entry the last one saw), on the Redis at ``url``."""

    def __init__(self, url: str) -> None:
        super().__init__(Path(os.devnull))
        self.client = redis.Redis.from_url(url)


# --- what the remotes saw -----------------------------------------------------------------


def install_hooks(remote: Path) -> None:
    """``pre-receive`` and ``post-receive`` hooks that log each ref update with its time to
    ``pushes.log`` in the bare repository."""
    for phase in ("pre-receive", "post-receive"):
        hook = remote / "hooks" / phase
        hook.write_text(HOOK.format(phase=phase, log=remote / "pushes.log"))
        hook.chmod(0o755)


@dataclass
class Push:
    remote: int
    ref: str
    old: str
    new: str
    began: float  # pre-receive: the objects are in, the ref not updated yet
    ended: float | None = None  # post-receive: the ref was updated


def read_pushes(fleet: Fleet) -> list[Push]:
    """Every push to the fleet's remotes, by the time it reached ``pre-receive``."""
    out: list[Push] = []
    for g, remote in enumerate(fleet.remotes):
        log = remote / "pushes.log"
        if not log.exists():
            continue
        started: dict[tuple[str, str], Push] = {}
        for line in log.read_text().splitlines():
            at, phase, old, new, ref = line.split()
            if phase == "pre-receive":
                started[(ref, new)] = Push(g, ref, old, new, float(at))
                out.append(started[(ref, new)])
            elif (ref, new) in started:
                started[(ref, new)].ended = float(at)
    return sorted(out, key=lambda p: p.began)


def rev_list(remote: Path, *args: str) -> list[str]:
    return bench_scale.git("--git-dir", str(remote), "rev-list", *args, BRANCH).decode().split()


def check_pushes(
    fleet: Fleet, pushes: Sequence[Push], initial: Sequence[str], announced: set[tuple[int, str]]
) -> list[str]:
    """Pushes one at a time per branch, each on top of the last, none lost: the problems."""
    problems: list[str] = []
    for g, remote in enumerate(fleet.remotes):
        mine = [p for p in pushes if p.remote == g]
        refused = [p for p in mine if p.ended is None]
        if refused:
            problems.append(f"fleet-{g}.git: {len(refused)} pushes refused at the ref update")
        last_end, last = float("-inf"), ""
        for push in mine:  # by the time each reached the remote
            if push.began < last_end:
                problems.append(
                    f"fleet-{g}.git: pushes {last[:7]} and {push.new[:7]} overlapped "
                    f"({push.began - last_end:+.3f} s)"
                )
            if (push.ended or push.began) > last_end:
                last_end, last = push.ended or push.began, push.new
        landed = sorted((p for p in mine if p.ended is not None), key=lambda p: p.ended or 0.0)
        head = initial[g]
        for push in landed:  # in the order the ref was updated
            if push.old != head:
                problems.append(
                    f"fleet-{g}.git: push {push.new[:7]} replaced {push.old[:7]}, the head "
                    f"was {head[:7]} (an update lost)"
                )
            head = push.new
        history = rev_list(remote)
        if history[0] != head:
            problems.append(f"fleet-{g}.git: {BRANCH} is {history[0][:7]}, pushed {head[:7]}")
        if merges := rev_list(remote, "--min-parents=2"):
            problems.append(f"fleet-{g}.git: {len(merges)} merge commits on {BRANCH}")
        if len(history) - 1 != len(landed):
            problems.append(
                f"fleet-{g}.git: {len(history) - 1} commits on {BRANCH} after {len(landed)} pushes"
            )
        present = set(history)
        mine_announced = {c for r, c in announced if r == g}
        if lost := mine_announced - present:
            problems.append(
                f"fleet-{g}.git: {len(lost)} commits announced by CommitPushed are not on "
                f"{BRANCH} (lost updates), e.g. {sorted(lost)[0][:7]}"
            )
        if len(mine_announced) != len(landed):
            problems.append(
                f"fleet-{g}.git: {len(landed)} pushes, {len(mine_announced)} commits announced"
            )
    return problems


# --- what the Redis saw: lock holdings ----------------------------------------------------

QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
# The store's lock scripts, told apart by the SHA1 that each EVALSHA names (redis-py's Script
# sends its text's): taking a lock, renewing every due lock of a process, releasing one.
LOCK_SCRIPTS = {
    hashlib.sha1(text.encode()).hexdigest(): kind
    for kind, text in (("take", _TAKE_LOCK), ("renew", _RENEW_LOCKS), ("release", _RELEASE_LOCK))
}
# The command by which a renewal or a release that found its token acts on the key
FOUND = {"renew": "PEXPIRE", "release": "DEL"}


@dataclass
class Holding:
    key: str  # without the prefix: Kind/ns/name or GitPush/<remote>/<branch>
    token: str
    acquired: float  # the take script's SET NX of this token (its last: it won then)
    attempts: int = 0  # the SET NX of this token: 1 + those that found the lock held
    renewed: int = 0  # renewals that found this token (and set the lease anew)
    released: float | None = None  # the release script that ran for this token
    lost: int = 0  # renewals or the release that found another token (or none)


@dataclass
class LockLog:
    """What a MONITOR log shows of the locks."""

    holdings: list[Holding]
    strays: list[str] = field(default_factory=list)  # lines on lock keys no lock script sent


@dataclass
class _Call:
    """One run of a lock script: the token it names for each lock key; the keys whose GET ran,
    and of those, the ones it found holding the token (its PEXPIRE or DEL followed)."""

    kind: str
    at: float
    tokens: dict[str, str]
    checked: set[str] = field(default_factory=set)
    found: set[str] = field(default_factory=set)


def read_holdings(path: Path) -> LockLog:
    """Every holding of a ``conveyor:lock:*`` key in a MONITOR log (Redis 7 logs a script's
    ``EVALSHA`` and then, at once, each command the script ran, as ``[0 lua]``):

    - the take script (``EVALSHA``: the lock key, for a run's lock 4 keys more; the token, the
      lease) runs ``SET <key> <token> NX PX <ms>``: each is an attempt of that token, the last
      one took the lock (the script that failed has no command on the lock key after it);
    - the renew script (the keys of every lock of a process that is due, then token and lease
      per key) runs ``GET <key>`` per key, then ``PEXPIRE <key>`` when the key held its token:
      a GET without a PEXPIRE is a renewal that found the lease lost;
    - the release script (one key, the token) runs ``GET`` then ``DEL`` when the key held the
      token: without the ``DEL``, the release found the lease lost.

    An ``EVALSHA`` that Redis refused (``NOSCRIPT``, before redis-py loads the script) ran no
    command and counts for nothing. Any other line that names a lock key is a stray: the locks
    are then taken otherwise than this reader knows."""
    holdings: dict[str, Holding] = {}  # by token
    strays: list[str] = []
    call: _Call | None = None

    def settle(call: _Call) -> None:
        for key in sorted(call.checked):
            holding = holdings.get(call.tokens[key])
            if holding is None or holding.key != key:
                strays.append(f"a {call.kind} of {key} for a token never seen taking it")
                continue
            if key not in call.found:
                holding.lost += 1
            elif call.kind == "renew":
                holding.renewed += 1
            if call.kind == "release":
                holding.released = call.at

    with path.open("rb") as f:
        for raw in f:
            if b'"' + LOCK_PREFIX.encode() not in raw:
                continue
            line = raw.decode(errors="replace").rstrip("\r\n")
            stamp, _, rest = line.partition(" ")
            client, _, command = rest.partition("] ")
            args = QUOTED.findall(command)
            name, key = (args[0].upper(), args[1]) if len(args) > 1 else ("", "")
            if client.endswith(" lua"):  # a command of the script ``call`` ran
                if call is None or key not in call.tokens:
                    strays.append(line)
                elif (
                    call.kind == "take"
                    and name == "SET"
                    and args[2:3] == [call.tokens[key]]
                    and "NX" in (a.upper() for a in args[3:])
                ):
                    holding = holdings.setdefault(args[2], Holding(key, args[2], float(stamp)))
                    holding.acquired = float(stamp)
                    holding.attempts += 1
                elif call.kind != "take" and name == "GET" and key not in call.checked:
                    call.checked.add(key)
                elif FOUND.get(call.kind) == name and key in call.checked:
                    call.found.add(key)
                else:
                    strays.append(line)
                continue
            if call is not None:
                settle(call)
            call = None
            kind = LOCK_SCRIPTS.get(args[1]) if name == "EVALSHA" and len(args) > 3 else None
            if kind is None:
                strays.append(line)
                continue
            count = int(args[2])
            keys, argv = args[3 : 3 + count], args[3 + count :]
            # renew: token, lease per key; take: token, lease for its first key; release: token
            tokens = argv[0::2] if kind == "renew" else argv[:1]
            call = _Call(kind, float(stamp), dict(zip(keys, tokens, strict=False)))
        if call is not None:
            settle(call)
    for holding in holdings.values():
        holding.key = holding.key.removeprefix(LOCK_PREFIX)
    return LockLog(list(holdings.values()), strays)


def check_holdings(locks: LockLog) -> list[str]:
    """No two holdings of one lock overlapping, none never released, no lease lost, and no
    command on a lock key that the lock scripts did not send."""
    holdings = locks.holdings
    problems: list[str] = []
    by_key: dict[str, list[Holding]] = collections.defaultdict(list)
    for holding in holdings:
        by_key[holding.key].append(holding)
    overlaps: list[str] = []
    for key, mine in by_key.items():
        mine.sort(key=lambda h: h.acquired)
        last_end = float("-inf")
        for holding in mine:
            if holding.acquired < last_end:
                overlaps.append(f"{key} ({holding.acquired - last_end:+.3f} s)")
            end = holding.released if holding.released is not None else float("inf")
            last_end = max(last_end, end)
    if overlaps:
        problems.append(f"{len(overlaps)} overlapping lock holdings, e.g. {overlaps[0]}")
    if open_ := [h.key for h in holdings if h.released is None]:
        problems.append(f"{len(open_)} locks taken and never released, e.g. {open_[0]}")
    if lost := [h.key for h in holdings if h.lost]:
        problems.append(f"{len(lost)} holdings lost their lease while running, e.g. {lost[0]}")
    if locks.strays:
        problems.append(
            f"{len(locks.strays)} commands on lock keys that are not the lock scripts' "
            f"(taken otherwise than this benchmark reads?), e.g. {locks.strays[0][:300]}"
        )
    return problems


# --- one run ------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    started: float  # time.time()
    seen: float | None = None  # the poll that found it done
    done: float | None = None  # the push that completed it (post-receive), else ``seen``
    settled: float | None = None  # no message waiting or running since QUIET seconds
    commits: int = 0
    entries: int = 0  # journal entries started in [started, done]
    reconciles: int = 0  # reconciles ended (the logs' Ready= lines) in [started, done]
    cpu: dict[str, float] = field(default_factory=dict)  # worker -> CPU s, started..settled

    @property
    def wall(self) -> float | None:
        return None if self.done is None else self.done - self.started

    def rate(self, count: int) -> float:
        return count / self.wall if self.wall else 0.0


@dataclass
class Run:
    processes: int
    concurrency: int
    phases: list[Phase] = field(default_factory=list)
    setup: float = 0.0  # registry, pushes, fleet, workers ready
    reconciles: dict[str, int] = field(default_factory=dict)  # worker -> "Ready=" lines
    infra_cpu: dict[str, float] = field(default_factory=dict)  # redis-server, monitor
    holdings: int = 0
    push_holdings: int = 0
    push_waits: int = 0  # SET NX attempts on push locks that found them held
    renewals: int = 0  # leases renewed (per lock: a renew script renews every due lock)
    registry_latency: float = 0.0  # ms: --registry-latency
    registry_answers: int = 0  # held registry_latency ms by the forwarder
    registry_connections: int = 0  # the workers opened to the forwarder
    pushes: int = 0
    retries: int = 0  # ReconcileRequested of reason retry in the journal
    failed: int = 0  # runs that ended other than Ready=True
    log_levels: collections.Counter[str] = field(default_factory=collections.Counter)
    log_lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def expected_policies(fleet: Fleet) -> tuple[list[str], list[str]]:
    """The key of every ImagePolicy of the fleet and the tag its latestRef must name."""
    keys, tags = [], []
    for app in fleet.apps:
        ci = app.ci_tags(fleet.tags)
        for kind in POLICY_KINDS:
            keys.append(object_key("ImagePolicy", app.namespace(fleet.layout), app.policy(kind)))
            tags.append(kind.expected(ci))
    return keys, tags


def markers_on_main(fleet: Fleet) -> bool:
    """Whether every marker on ``main`` carries its policy's value."""
    for g, remote in enumerate(fleet.remotes):
        mine = [a for a in fleet.apps if a.git == g]
        specs = {a.name: [f"{BRANCH}:apps/{a.name}/{f}" for f in FILES] for a in mine}
        blobs = bench_scale.cat_batch(remote, [s for group in specs.values() for s in group])
        for app in mine:
            found: dict[str, str] = {}
            for spec in specs[app.name]:
                blob = blobs.get(spec)
                found.update(bench_scale.read_markers(blob.decode() if blob else ""))
            wanted = bench_scale.expected_markers(app, fleet.layout, fleet.tags)
            if any(found.get(ref) != value for ref, value in wanted.items()):
                return False
    return True


def wait_done(
    fleet: Fleet, store: Store, workers: Sequence[Worker], deadline: float
) -> float | None:
    """Poll until every latestRef is as expected (the store, cheap) and every marker on
    ``main`` too (git); the time.time() it was seen, None past ``deadline`` or once a worker
    exited."""
    keys, tags = expected_policies(fleet)
    while time.time() < deadline and all(w.proc.poll() is None for w in workers):
        found = store.objects_with_status(keys, ImagePolicy, ImagePolicyStatus)
        if all(
            status.latest_ref is not None and status.latest_ref.tag == tag
            for (_, status), tag in zip(found, tags, strict=True)
        ) and markers_on_main(fleet):
            return time.time()
        time.sleep(POLL)
    return None


def wait_quiet(poller: scale_long.JournalPoller, limit: float) -> float | None:
    """Until no stage's queue has held a message (waiting or running) for QUIET seconds; the
    time.time() the last one went, None after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    since: float | None = None
    while time.monotonic() < deadline:
        if any(poller.depth().values()):
            since = None
        elif since is None:
            since = time.time()
        elif time.time() - since >= QUIET:
            return since
        time.sleep(0.1)
    return None


def cpu_of(workers: Sequence[Worker]) -> dict[str, float]:
    return {w.name: cpu_seconds(w.proc.pid) for w in workers}


def finish(
    phase: Phase,
    fleet: Fleet,
    store: Store,
    poller: scale_long.JournalPoller,
    workers: Sequence[Worker],
    timeout: float,
    before: dict[str, float],
) -> bool:
    """Wait for ``phase`` to be done and settled; its CPU. False when it timed out."""
    phase.seen = wait_done(fleet, store, workers, phase.started + timeout)
    phase.settled = wait_quiet(poller, timeout) if phase.seen is not None else None
    after = cpu_of(workers)
    phase.cpu = {name: after[name] - before[name] for name in after}
    return phase.seen is not None


def queue_scans(url: str, fleet: Fleet, store: Store) -> None:
    """A scan of every image repository, queued as the receiver queues one for a webhook
    (a Celery app of this run's broker: the module's own is configured once per process)."""
    celery = Celery("bench-horizontal", broker=broker_url(url), set_as_current=False)
    try:
        dispatcher = CeleryDispatcher(celery)
        for app in fleet.apps:
            event = ReconcileRequested(
                kind="ImageRepository",
                namespace=app.namespace(fleet.layout),
                name=app.name,
                reason="webhook",
            )
            queue_reconcile(store, dispatcher, event)
    finally:
        celery.close()


def execute(args: argparse.Namespace, processes: int, root: Path) -> Run:
    """One run on fresh state (see the module's docstring)."""
    run = Run(processes, args.concurrency)
    t_setup = time.monotonic()
    root.mkdir(parents=True)
    with contextlib.ExitStack() as stack:
        registry = stack.enter_context(Registry())
        host = registry.host  # where the workers reach it: the fleet's images name it
        forwarder: TCPForwarder | None = None
        if args.registry_latency:
            forwarder = TCPForwarder(registry.host, delay=args.registry_latency / 1000)
            host = stack.enter_context(forwarder).host
        apps = bench_scale.apps_of(host, args.policies // len(POLICY_KINDS))
        bench_scale.push_fleet(registry, apps, args.tags)
        fleet = bench_scale.build_fleet(root / "fleet", args.layout, apps, args.tags, INTERVAL)
        for remote in fleet.remotes:
            install_hooks(remote)
        initial = [rev_list(r, "-1")[0] for r in fleet.remotes]
        final = fleet
        with RedisServer(root) as server:
            client = redis.Redis.from_url(server.url)
            store = Store.from_url(server.url)
            monitor = Monitor(server.url, root / "monitor.log")
            journal = Journal(server.url)
            poller = scale_long.JournalPoller(journal, bench_scale.QUEUES, period=2.0)
            workers: list[Worker] = []
            infra = {"redis-server": server.proc, "redis-cli monitor": monitor.proc}
            infra_before = {n: cpu_seconds(p.pid) for n, p in infra.items() if p is not None}
            try:
                workers = start_workers(
                    server.url, root, processes, args.concurrency, args.registry_rps
                )
                wait_ready(workers, 120.0)
                run.setup = time.monotonic() - t_setup
                journal.poll()
                poller.start()
                source = runner.open_source(
                    Settings(data_dir=root / "loader", redis_url=server.url), fleet.manifests, False
                )
                assert source is not None
                before = cpu_of(workers)
                converge = Phase("converge from scratch", time.time())
                run.phases.append(converge)
                run.problems += [f"manifest error: {e}" for e in source.refresh(store, force=True)]
                if finish(converge, fleet, store, poller, workers, args.timeout, before):
                    new = {a.name: bench_scale.new_tag(a, args.tags, 1) for a in apps}

                    def push_new(app: App) -> None:
                        push_tags(registry.url, app.repository, [new[app.name]],
                                  content=f"{app.name}\n")  # fmt: skip

                    with ThreadPoolExecutor(max_workers=min(8, len(apps))) as pool:
                        list(pool.map(push_new, apps))
                    final = dataclasses.replace(
                        fleet, apps=[TaggedApp(a.index, a.image, (new[a.name],)) for a in apps]
                    )
                    before = cpu_of(workers)
                    burst = Phase(f"burst: a new tag on {len(apps)} repositories", time.time())
                    run.phases.append(burst)
                    queue_scans(server.url, final, store)
                    finish(burst, final, store, poller, workers, args.timeout, before)
                if dead := {w.name: w.proc.poll() for w in workers if w.proc.poll() is not None}:
                    run.problems.append(f"worker processes exited: {dead}")
                out_path = root / "objects.json"
                out_path.write_text(json.dumps(runner.report(store, []).rows))
                measure = bench_scale.Measure(fleet.layout, fleet.policies, 0, 0, 0, False, 0)
                bench_scale.check(final, measure, out_path, workers[0].log)
                run.problems += [f"end state: {p}" for p in measure.problems]
            finally:
                if poller.is_alive():
                    poller.stop()
                journal.poll()
                run.infra_cpu = {
                    n: cpu_seconds(p.pid) - infra_before[n]
                    for n, p in infra.items()
                    if p is not None and n in infra_before
                }
                stop_workers(workers)
                monitor.stop(client)
                journal.close()
                client.close()
                store.redis.close()
        if forwarder is not None:
            run.registry_latency = args.registry_latency
            run.registry_answers, run.registry_connections = forwarder.delayed, forwarder.accepted
            if not forwarder.delayed:
                run.problems.append("no answer of the registry went through the forwarder")
    (root / "journal.json").write_text(json.dumps(journal.entries))
    account(run, fleet, journal.entries, initial, workers, root / "monitor.log")
    if journal.gaps:
        run.problems.append(f"the journal was trimmed {journal.gaps} times between reads")
    return run


def account(
    run: Run,
    fleet: Fleet,
    entries: Sequence[dict[str, Any]],
    initial: Sequence[str],
    workers: Sequence[Worker],
    monitor_log: Path,
) -> None:
    """The figures of each phase and the checks of pushes, locks and logs."""
    finished: list[float] = []  # when each reconcile ended, from the logs' Ready= lines
    for worker in workers:
        text = worker.log.read_text(errors="replace")
        found = READY.findall(text)
        run.reconciles[worker.name] = len(found)
        run.failed += sum(1 for _, ready in found if ready != "True")
        finished += [
            datetime.datetime.strptime(t, "%Y-%m-%d %H:%M:%S,%f").timestamp() for t, _ in found
        ]
        lines, levels = bench_scale.log_summary(worker.log)
        run.log_levels.update(levels)
        if levels:
            run.log_lines += [f"{worker.name}: {line}" for line in lines]
        if levels["Traceback"] or levels["CRITICAL"]:
            run.problems.append(f"{worker.name} logged {levels['Traceback']} tracebacks")
    pushes = read_pushes(fleet)
    run.pushes = len(pushes)
    for phase in run.phases:
        end = phase.settled or phase.seen or float("inf")
        mine = [p for p in pushes if p.ended is not None and phase.started <= p.ended <= end]
        phase.commits = len(mine)
        if phase.seen is not None:
            phase.done = max((p.ended or 0.0 for p in mine if (p.ended or 0.0) <= phase.seen),
                             default=phase.seen)  # fmt: skip
            phase.entries = sum(  # the messages taken; notices have no started_at
                1 for e in entries if phase.started <= float(e.get("started_at", -1)) <= phase.done
            )
            phase.reconciles = sum(1 for t in finished if phase.started <= t <= phase.done)
        else:
            run.problems.append(f"{phase.name}: not done (timed out, or a worker exited)")
    names = {f"fleet-{g}": g for g in range(len(fleet.remotes))}
    announced = {
        (names[str(e["source_name"])], str(e["commit"]))
        for e in entries
        if e.get("type") == "CommitPushed" and str(e.get("source_name")) in names
    }
    run.retries = sum(
        1 for e in entries if e.get("type") == "ReconcileRequested" and e.get("reason") == "retry"
    )
    run.problems += check_pushes(fleet, pushes, initial, announced)
    locks = read_holdings(monitor_log)
    run.holdings = sum(1 for h in locks.holdings if not h.key.startswith(PUSH_LOCK))
    push_holdings = [h for h in locks.holdings if h.key.startswith(PUSH_LOCK)]
    run.push_holdings = len(push_holdings)
    run.push_waits = sum(h.attempts - 1 for h in push_holdings)
    run.renewals = sum(h.renewed for h in locks.holdings)
    run.problems += check_holdings(locks)
    if run.holdings < sum(run.reconciles.values()) or run.push_holdings < len(pushes):
        run.problems.append(  # each reconcile runs under its object's lock, each push under one
            f"{run.holdings} object-lock holdings for {sum(run.reconciles.values())} "
            f"reconciles, {run.push_holdings} push-lock holdings for {len(pushes)} pushes: "
            f"the locks are not where this benchmark looks ({LOCK_PREFIX}*)"
        )


# --- the report ---------------------------------------------------------------------------


def label(processes: int) -> str:
    return f"{processes} process{'es' if processes > 1 else ''} per stage"


def by_stage(cpu: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = dict.fromkeys(STAGE_SERVICES, 0.0)
    for name, seconds in cpu.items():
        out[name.partition("#")[0]] += seconds
    return out


def print_run(run: Run, workers: int) -> None:
    print(
        f"== {label(run.processes)}: {workers} worker processes × {run.concurrency} threads, "
        f"set up in {run.setup:.1f} s (registry, fleet, workers ready)",
        flush=True,
    )
    if run.registry_connections:
        waited = run.registry_answers * run.registry_latency / 1000
        print(
            f"   the registry through the forwarder: {run.registry_answers} answers held "
            f"{run.registry_latency:g} ms each ({waited:.1f} s of waiting in all, spread over "
            f"the scanners' threads), on {run.registry_connections} connections"
        )
    for phase in run.phases:
        if phase.wall is None:
            print(f"   {phase.name}: NOT done", flush=True)
            continue
        print(
            f"   {phase.name}: {phase.wall:.2f} s, {phase.commits} commits "
            f"({phase.rate(phase.commits):.2f}/s), {phase.reconciles} reconciles "
            f"({phase.rate(phase.reconciles):.1f}/s), {phase.entries} journal entries "
            f"({phase.rate(phase.entries):.1f}/s); worker CPU {sum(phase.cpu.values()):.1f} s",
            flush=True,
        )
    total = dict.fromkeys(STAGE_SERVICES, 0.0)
    for phase in run.phases:
        for stage, seconds in by_stage(phase.cpu).items():
            total[stage] += seconds
    print(
        "   worker CPU s by stage: "
        + ", ".join(f"{stage} {seconds:.1f}" for stage, seconds in total.items())
        + "; the whole run: "
        + ", ".join(f"{name} {seconds:.1f}" for name, seconds in run.infra_cpu.items())
    )
    split: dict[str, list[str]] = collections.defaultdict(list)
    for name, count in run.reconciles.items():
        split[name.partition("#")[0]].append(str(count))
    print(
        "   reconciles per process (the logs' Ready= lines): "
        + ", ".join(f"{stage} {'+'.join(counts)}" for stage, counts in split.items())
    )
    levels = ", ".join(f"{n} {lv}" for lv, n in run.log_levels.most_common()) or "none"
    print(
        f"   checks: {run.pushes} pushes, {run.push_holdings} push-lock holdings "
        f"({run.push_waits} tries that found one held), {run.holdings} object-lock holdings, "
        f"{run.renewals} lease renewals, "
        f"{run.failed} runs not Ready, {run.retries} retries; worker log warnings/errors: "
        f"{levels}"
    )
    for line in run.log_lines[:12]:
        print(f"      {line}")
    for problem in run.problems:
        print(f"   PROBLEM: {problem}")
    print(f"   check {'ok' if not run.problems else 'FAILED'}", flush=True)


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a is not None and b else "-"


def print_ratios(one: Run, many: Run) -> None:
    print(f"== {label(many.processes)} / {label(one.processes)}")
    for a, b in zip(one.phases, many.phases, strict=False):
        commits = ratio(b.rate(b.commits), a.rate(a.commits))
        reconciles = ratio(b.rate(b.reconciles), a.rate(a.reconciles))
        entries = ratio(b.rate(b.entries), a.rate(a.entries))
        cpu = ratio(sum(b.cpu.values()), sum(a.cpu.values()))
        print(
            f"   {a.name.split(':')[0]}: throughput {commits} commits/s, {reconciles} "
            f"reconciles/s, {entries} journal entries/s; wall {ratio(b.wall, a.wall)} "
            f"({a.wall or 0:.2f} s → {b.wall or 0:.2f} s); worker CPU {cpu}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--policies", type=int, default=300, help="ImagePolicies (10 per app)")
    parser.add_argument("--processes", type=int, default=2, help="per stage, against 1")
    parser.add_argument("--concurrency", type=int, default=2, help="threads per worker")
    parser.add_argument("--tags", type=int, default=50, help="walkthrough tags per repository")
    parser.add_argument("--layout", default="per-app", choices=bench_scale.LAYOUTS)
    parser.add_argument("--registry-rps", default="1000", help="CONVEYOR_REGISTRY_RPS")
    parser.add_argument(
        "--registry-latency",
        type=float,
        default=0.0,
        metavar="MS",
        help="hold each answer of the registry MS milliseconds (a forwarder in front of it)",
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per phase")
    parser.add_argument("--keep", metavar="DIR", help="build everything under DIR and leave it")
    args = parser.parse_args()
    if args.policies < len(POLICY_KINDS) or args.policies % len(POLICY_KINDS):
        parser.error("--policies: a positive multiple of 10")
    if args.registry_latency < 0:
        parser.error("--registry-latency: 0 or more milliseconds")
    if args.processes < 2:
        parser.error("--processes: at least 2 (the run it is compared with has 1)")
    apps = args.policies // len(POLICY_KINDS)
    latency = args.registry_latency
    repo = Path(__file__).resolve().parent.parent
    tree = bench_scale.git("rev-parse", "--short", "HEAD", cwd=repo).decode().strip()
    dirty = len(bench_scale.git("status", "--porcelain", cwd=repo).decode().splitlines())
    print(
        f"== setup: {args.policies} policies ({apps} image repositories × "
        f"{args.tags + len(bench_scale.SEMVER_TAGS)} tags, {apps} automations over "
        f"{bench_scale.GIT_REPOSITORIES} Git repositories), {args.layout} layout; stages "
        f"{', '.join(STAGE_SERVICES)}; CONVEYOR_REGISTRY_RPS={args.registry_rps}; "
        f"{f'registry answers held {args.registry_latency:g} ms' if latency else 'registry direct'}"
        "; conveyor at "
        f"{tree} with {dirty} paths changed; {os.cpu_count()} CPUs, load "
        f"{os.getloadavg()[0]:.2f}",
        flush=True,
    )
    runs: list[Run] = []
    with bench_scale.work_root(args.keep) as root:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for processes in (1, args.processes):
            run = execute(args, processes, root / f"horizontal-{processes}-{stamp}")
            print_run(run, processes * len(STAGE_SERVICES))
            runs.append(run)
        print_ratios(runs[0], runs[1])
        print(f"   load average at the end {os.getloadavg()[0]:.2f}")
        if args.keep:
            print(f"the runs (fleets, worker logs, MONITOR logs) are under {root}")
    return 0 if all(not r.problems for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
