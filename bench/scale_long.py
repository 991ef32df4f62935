"""What ``bench_scale.py --long`` measures a running ``conveyor run`` with, apart from the fleet.

- ``ProcessGroup``: the processes of the tree (the process group ``conveyor run`` leads, since
  it is started with ``start_new_session``: ``conveyor run`` with every stage in it, its
  redis-server, and whatever they start, e.g. git), read from ``/proc``: CPU ticks
  (``utime + stime`` of each, ``cutime + cstime`` of the children each reaped) and the
  resident set (``statm``; and the proportional one, ``smaps_rollup``'s ``Pss``);
- ``MemorySampler``: the summed RSS (and PSS) of the group once a second, in a thread;
- ``Journal``: the event journal read straight from the embedded Redis (the list
  ``conveyor:journal``, newest first, trimmed to 10,000 entries), incrementally: each poll
  reads from the head down to the newest entry the previous poll saw, and counts a gap when
  that entry is gone (more than the list's length arrived in between);
- ``interval_stats``: the gaps between consecutive interval requests of each object;

It imports nothing of conveyor: ``bench_scale.py`` hands it what it needs.
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import redis

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024
REMOTE_SIDE = frozenset({"git-upload-pack", "git-receive-pack"})

# --- durations --------------------------------------------------------------------------------



# --- the process group ------------------------------------------------------------------------


@dataclass(frozen=True)
class Proc:
    pid: int
    started: int  # starttime in ticks since boot: tells a reused pid apart
    role: str
    own_ticks: int  # utime + stime
    reaped_ticks: int  # cutime + cstime: the children it waited for
    rss: int  # bytes
    pss: int  # bytes

    @property
    def ident(self) -> tuple[int, int]:
        return self.pid, self.started


def _read_stat(pid: int) -> tuple[int, int, int, int, int] | None:
    """pgrp, utime + stime, cutime + cstime, starttime, ppid of ``pid``; None once it is
    gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2 :].split()  # after "pid (comm) "; comm may hold spaces
    # fields[0] is the state (field 3 of proc(5)): field N is fields[N - 3]
    return (
        int(fields[2]),
        int(fields[11]) + int(fields[12]),
        int(fields[13]) + int(fields[14]),
        int(fields[19]),
        int(fields[1]),
    )


def _read_rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


def _read_pss(pid: int) -> int:
    """The proportional set size (shared pages divided among their users), in bytes."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


class ProcessGroup:
    """The processes of the group ``pgid`` (led by ``conveyor run``), with the embedded
    redis-server (a child of the leader in a session of its own, so that a signal to the group
    does not stop it) and its save fork; each with its role: ``conveyor run``,
    ``redis-server``, ``worker <stage>``, the program's name (git …), or ``remote <name>``
    for the Git remote's side of a file:// transport (upload-pack, receive-pack and what they
    run), which a real remote runs on its own server."""

    def __init__(self, pgid: int) -> None:
        self.pgid = pgid
        self._roles: dict[tuple[int, int], str] = {}

    def _role(self, pid: int, started: int, parents: dict[int, int]) -> str:
        key = (pid, started)
        role = self._roles.get(key)
        if role is not None:
            return role
        role = self._own_role(pid)
        ancestor = pid
        while ancestor in parents and ancestor != self.pgid:
            try:
                comm = Path(f"/proc/{ancestor}/comm").read_text().strip()
            except OSError:
                break
            if comm in REMOTE_SIDE:
                role = f"remote {role}"
                break
            ancestor = parents[ancestor]
        if len(self._roles) > 100_000:
            self._roles.clear()
        self._roles[key] = role
        return role

    def _own_role(self, pid: int) -> str:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            argv, comm = [], "?"
        args = [a.decode(errors="replace") for a in argv if a]
        if pid == self.pgid:
            role = "conveyor run"
        elif comm.startswith("redis-server"):  # it rewrites its argv into a title
            role = "redis-server"
        elif "worker" in args and args.index("worker") + 1 < len(args):
            role = f"worker {args[args.index('worker') + 1]}"
        else:
            role = comm
        return role

    def snapshot(self, *, rss: bool = True, pss: bool = False) -> dict[tuple[int, int], Proc]:
        out: dict[tuple[int, int], Proc] = {}
        stats = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit() and (stat := _read_stat(int(entry))) is not None:
                stats[int(entry)] = stat
        # the leader's children in groups of their own (the embedded Redis), with their group
        groups = {self.pgid} | {s[0] for s in stats.values() if s[4] == self.pgid}
        parents = {pid: s[4] for pid, s in stats.items() if s[0] in groups}
        for pid, (_, own, reaped, started, _) in stats.items():
            if pid not in parents:
                continue
            proc = Proc(
                pid=pid,
                started=started,
                role=self._role(pid, started, parents),
                own_ticks=own,
                reaped_ticks=reaped,
                rss=_read_rss(pid) if rss else 0,
                pss=_read_pss(pid) if pss else 0,
            )
            out[proc.ident] = proc
        return out

    def pids(self) -> list[int]:
        return sorted(p.pid for p in self.snapshot(rss=False).values())


@dataclass
class CpuUse:
    """CPU seconds of each role between two snapshots: its own, and its reaped children's."""

    seconds: float  # the window
    own: dict[str, float] = field(default_factory=dict)
    reaped: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.own.values()) + sum(self.reaped.values())

    @property
    def own_total(self) -> float:
        return sum(self.own.values())

    def percent(self, cpu_seconds: float) -> float:
        return 100.0 * cpu_seconds / self.seconds if self.seconds > 0 else 0.0


def cpu_between(
    before: Mapping[tuple[int, int], Proc], after: Mapping[tuple[int, int], Proc], seconds: float
) -> CpuUse:
    """The CPU the group used from ``before`` to ``after``. A process present in both counts
    its growth; one that started in between counts all it used (a restarted worker, a git
    running at the end); one that ended in between counts through the process that reaped
    it (its ``cutime``/``cstime``), as every short-lived git does."""
    use = CpuUse(seconds)
    for ident, proc in after.items():
        old = before.get(ident)
        own = proc.own_ticks - (old.own_ticks if old else 0)
        reaped = proc.reaped_ticks - (old.reaped_ticks if old else 0)
        use.own[proc.role] = use.own.get(proc.role, 0.0) + own / CLK_TCK
        use.reaped[proc.role] = use.reaped.get(proc.role, 0.0) + reaped / CLK_TCK
    return use


@dataclass(frozen=True)
class MemorySample:
    at: float  # time.time()
    total: int  # RSS bytes, summed over the group but for the Git remotes' side
    by_role: dict[str, int]
    processes: int
    pss: int  # PSS bytes, summed likewise (what the RSS counts twice, once)
    remote: int = 0  # RSS bytes of the Git remotes' side (roles "remote …")


class MemorySampler(threading.Thread):
    """The summed RSS of the group, every ``period`` seconds, until ``stop``."""

    def __init__(self, group: ProcessGroup, period: float = 1.0) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.group = group
        self.period = period
        self._stop_event = threading.Event()
        self._lock = threading.Lock()
        self.samples: list[MemorySample] = []

    def sample(self) -> MemorySample:
        procs = self.group.snapshot(pss=True).values()
        by_role: dict[str, int] = {}
        for proc in procs:
            by_role[proc.role] = by_role.get(proc.role, 0) + proc.rss
        remote = sum(rss for role, rss in by_role.items() if role.startswith("remote "))
        pss = sum(p.pss for p in procs if not p.role.startswith("remote "))
        got = MemorySample(
            time.time(), sum(by_role.values()) - remote, by_role, len(procs), pss, remote
        )
        with self._lock:
            self.samples.append(got)
        return got

    def run(self) -> None:
        while True:
            self.sample()
            if self._stop_event.wait(self.period):
                return

    def stop(self) -> None:
        self._stop_event.set()
        self.join(10)

    def peak(self, since: float = 0.0, until: float = float("inf")) -> MemorySample | None:
        with self._lock:
            window = [s for s in self.samples if since <= s.at <= until and s.total > 0]
        return max(window, key=lambda s: s.total, default=None)


def role_order(role: str) -> tuple[int, str]:
    rank = {"conveyor run": 0, "redis-server": 1}
    if role.startswith("remote "):
        return (4, role)
    return (rank.get(role, 2 if role.startswith("worker ") else 3), role)


# --- the journal ------------------------------------------------------------------------------


class Journal:
    """The journal of the embedded Redis at ``socket``, collected by ``poll`` (oldest first in
    ``entries``); ``gaps`` counts the polls that found the previous head trimmed away."""

    def __init__(self, socket: Path, key: str = "conveyor:journal", head_read: int = 500) -> None:
        self.client = redis.Redis(unix_socket_path=str(socket))
        self.key = key
        self.head_read = head_read
        self.entries: list[dict[str, Any]] = []
        self.polls = 0
        self.gaps = 0
        self.longest_read = 0  # most entries one poll had to read
        self._head: bytes | None = None
        self._lock = threading.Lock()

    def _range(self, start: int, stop: int) -> list[bytes]:
        return cast(list[bytes], self.client.lrange(self.key, start, stop))

    def poll(self) -> int:
        """Collect what arrived since the last poll; how many entries that was."""
        with self._lock:
            raw = self._range(0, self.head_read - 1)
            found = self._head is None or self._head in raw
            if not found:  # more than head_read arrived: read the whole list, in one command
                raw = self._range(0, -1)
                found = self._head in raw
            if self._head is not None and found:
                raw = raw[: raw.index(self._head)]
            elif self._head is not None:
                self.gaps += 1
            if self.polls:  # the first poll only finds the head
                self.longest_read = max(self.longest_read, len(raw))
            self.polls += 1
            if raw:
                self._head = raw[0]
                self.entries.extend(json.loads(r) for r in reversed(raw))
            return len(raw)

    def trace(self, trace_id: str) -> list[dict[str, Any]]:
        """The runs of ``trace_id`` (not the notices journaled beside them, which have no
        ``started_at``)."""
        with self._lock:
            return [
                e for e in self.entries if e.get("trace_id") == trace_id and "started_at" in e
            ]

    def find(self, since: float, **fields: str) -> dict[str, Any] | None:
        """The first entry emitted at or after ``since`` with ``fields``."""
        with self._lock:
            for entry in self.entries:
                if entry.get("emitted_at", 0.0) >= since and all(
                    entry.get(k) == v for k, v in fields.items()
                ):
                    return entry
        return None

    def close(self) -> None:
        self.client.close()


class JournalPoller(threading.Thread):
    """Polls ``journal`` and the depth of each stage's queue every ``period`` seconds."""

    def __init__(self, journal: Journal, queues: Sequence[str], period: float = 5.0) -> None:
        super().__init__(name="journal-poller", daemon=True)
        self.journal = journal
        self.queues = list(queues)
        self.period = period
        self._stop_event = threading.Event()
        self.depths: list[tuple[float, dict[str, int]]] = []
        self.errors: list[str] = []

    def depth(self) -> dict[str, int]:
        """Messages waiting in each queue, and those taken but not acknowledged yet (running,
        or prefetched: Celery's Redis transport keeps them in the hash ``unacked``)."""
        pipe = self.journal.client.pipeline()
        for queue in self.queues:
            pipe.llen(queue)
        pipe.hlen("unacked")
        counts = [int(n) for n in pipe.execute()]
        return dict(zip([*self.queues, "unacked"], counts, strict=True))

    def run(self) -> None:
        while not self._stop_event.wait(self.period):
            try:
                self.journal.poll()
                self.depths.append((time.time(), self.depth()))
            except redis.RedisError as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")

    def stop(self) -> None:
        self._stop_event.set()
        self.join(30)

    def max_depths(self, since: float, until: float) -> dict[str, int]:
        out = dict.fromkeys([*self.queues, "unacked"], 0)
        for at, depths in self.depths:
            if since <= at <= until:
                for queue, n in depths.items():
                    out[queue] = max(out[queue], n)
        return out


# --- interval accuracy ------------------------------------------------------------------------


@dataclass
class IntervalStats:
    kind: str
    interval: float
    objects: int
    requests: int = 0  # interval requests emitted in the window
    expected: float = 0.0  # objects * window / interval
    emitted: list[float] = field(default_factory=list)  # gap / interval, by emission
    started: list[float] = field(default_factory=list)  # gap / interval, by the stage's start
    lags: list[float] = field(default_factory=list)  # start - emission of each request
    without_gap: int = 0  # objects with fewer than two requests in the window

    @staticmethod
    def within(ratios: Sequence[float], tolerance: float = 0.10) -> float:
        """The share of ``ratios`` within ``tolerance`` of 1."""
        if not ratios:
            return 0.0
        return sum(1 for r in ratios if abs(r - 1.0) <= tolerance) / len(ratios)

    def summary(self, ratios: Sequence[float]) -> str:
        if not ratios:
            return "no gaps"
        return (
            f"median {statistics.median(ratios):.2f}x, min {min(ratios):.2f}x, "
            f"max {max(ratios):.2f}x, {100 * self.within(ratios):.0f} % within ±10 % "
            f"({len(ratios)} gaps)"
        )


def interval_stats(
    entries: Iterable[dict[str, Any]],
    since: float,
    until: float,
    kinds: Mapping[str, tuple[float, int]],
) -> dict[str, IntervalStats]:
    """For each kind of ``kinds`` (kind -> its interval in seconds, its number of objects):
    the gaps between consecutive ``ReconcileRequested`` of reason ``interval`` of each object,
    emitted within [since, until], as multiples of the interval."""
    by_object: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for e in entries:
        if (
            e.get("type") == "ReconcileRequested"
            and e.get("reason") == "interval"
            and e.get("kind") in kinds
            and since <= float(e["emitted_at"]) <= until
        ):
            by_object.setdefault((e["kind"], e["namespace"], e["name"]), []).append(e)
    out = {
        kind: IntervalStats(kind, every, count, expected=count * (until - since) / every)
        for kind, (every, count) in kinds.items()
    }
    seen: dict[str, int] = dict.fromkeys(kinds, 0)
    for (kind, _, _), requests in by_object.items():
        stats = out[kind]
        requests.sort(key=lambda e: float(e["emitted_at"]))
        stats.requests += len(requests)
        stats.lags += [float(e["started_at"]) - float(e["emitted_at"]) for e in requests]
        if len(requests) < 2:
            continue
        seen[kind] += 1
        for a, b in itertools.pairwise(requests):
            stats.emitted.append((float(b["emitted_at"]) - float(a["emitted_at"])) / stats.interval)
            stats.started.append((float(b["started_at"]) - float(a["started_at"])) / stats.interval)
    for kind, stats in out.items():
        stats.without_gap = stats.objects - seen[kind]
    return out
