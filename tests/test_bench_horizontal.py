"""bench/bench_horizontal.py's tools: its reading of the locks in a MONITOR log, on a log that
a real ``redis-cli monitor`` wrote while the store's own lock code ran on a real Redis from two
threads (each with a store of its own, as two worker processes have); and the forwarder that
holds each answer of the registry for ``--registry-latency``, in front of the real
Distribution registry."""

from __future__ import annotations

import http.client
import re
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import redis

from conveyor.shared.models import ImagePolicy
from conveyor.shared.status import ImagePolicyStatus
from conveyor.shared.store import Store
from tests.fixtures.loopback import TCPForwarder
from tests.fixtures.registries import Registry

BENCH = Path(__file__).resolve().parent.parent / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))  # the benchmarks import each other by their file names
from bench_horizontal import LOCK_PREFIX, Monitor, check_holdings, read_holdings  # noqa: E402

RUN_KEY = "ImagePolicy/apps/web"
K_SET = '[0 lua] "SET" "conveyor:lock:K"'
RENEWAL = re.compile(r'"EVALSHA" "[0-9a-f]{40}" "2" "conveyor:lock:K" "conveyor:lock:J"')


def wait_for(what: str, found: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not found():
        assert time.monotonic() < deadline, f"not seen in {timeout:.0f} s: {what}"
        time.sleep(0.02)


def seen(path: Path, pattern: str) -> Callable[[], bool]:
    return lambda: re.search(pattern, path.read_text(errors="replace")) is not None


def test_holdings_of_two_holders_with_waits_runs_and_a_renewal_of_two_locks(
    redis_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "monitor.log"
    client = redis.Redis.from_url(redis_url)
    monitor = Monitor(redis_url, log)
    first, second = Store.from_url(redis_url), Store.from_url(redis_url)
    k_taken = threading.Event()

    def hold_k_and_j() -> None:
        with first.lock("K", lease=3.0), first.lock("J", lease=3.0):
            k_taken.set()
            # the renewing thread cannot look at the due locks until both are past a third of
            # their lease: then one script renews the two
            with first._leases._changed:
                time.sleep(1.2)
            wait_for("one renewal of K and J", seen(log, RENEWAL.pattern))
            # the other holder tried K and waits for it
            wait_for("a second SET NX of K", lambda: log.read_text().count(K_SET) >= 2)

    def wait_for_k_then_run() -> None:
        k_taken.wait(30)
        with second.lock("K", lease=3.0):
            pass
        with second.run_lock(RUN_KEY, ImagePolicy, ImagePolicyStatus) as (obj, _, _):
            assert obj is None

    threads = [threading.Thread(target=f) for f in (hold_k_and_j, wait_for_k_then_run)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    monitor.stop(client)
    text = log.read_text()

    locks = read_holdings(log)

    assert check_holdings(locks) == []
    assert locks.strays == []
    by_key = {key: [h for h in locks.holdings if h.key == key] for key in ("K", "J", RUN_KEY)}
    assert sorted(h.key for h in locks.holdings) == sorted(["K", "K", "J", RUN_KEY])
    k1, k2 = sorted(by_key["K"], key=lambda h: h.acquired)
    (j,), (run,) = by_key["J"], by_key[RUN_KEY]
    assert (k1.attempts, j.attempts, run.attempts) == (1, 1, 1)
    assert k2.attempts >= 2  # it found K held, then took it once released
    assert k1.released is not None and k1.released <= k2.acquired
    assert len({k1.token, k2.token, j.token, run.token}) == 4
    for holding in locks.holdings:
        assert f'"SET" "{LOCK_PREFIX}{holding.key}" "{holding.token}" "NX"' in text
        assert holding.released is not None and holding.released >= holding.acquired
        assert holding.lost == 0
    # the renewal of the two is read key by key: each PEXPIRE to the holding of its token
    assert k1.renewed >= 1 and j.renewed >= 1
    assert sum(h.renewed for h in locks.holdings) == text.count('[0 lua] "PEXPIRE"')
    assert (k2.renewed, run.renewed) == (0, 0)


def test_a_lease_lost_an_overlap_a_lock_never_released_and_a_stray_command(
    redis_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "monitor.log"
    client = redis.Redis.from_url(redis_url)
    monitor = Monitor(redis_url, log)
    first, second = Store.from_url(redis_url), Store.from_url(redis_url)
    taken, released = threading.Event(), threading.Event()

    def take_after_the_loss() -> None:
        with second.lock("L", wait=30):
            taken.set()
            released.wait(30)  # until the first holder released it (or thinks so)

    other = threading.Thread(target=take_after_the_loss)
    with first.lock("L", lease=3.0):
        client.delete(f"{LOCK_PREFIX}L")  # as a lease that ran out would
        other.start()
        assert taken.wait(30)
    released.set()
    other.join(30)
    left_open = second.lock("N")
    left_open.__enter__()
    monitor.stop(client)
    left_open.__exit__(None, None, None)

    locks = read_holdings(log)

    l1, l2 = sorted((h for h in locks.holdings if h.key == "L"), key=lambda h: h.acquired)
    (n,) = (h for h in locks.holdings if h.key == "N")
    assert l1.lost >= 1 and l1.released is not None  # its release found the other's token
    assert l2.acquired < l1.released and l2.lost == 0 and l2.released is not None
    assert n.released is None
    assert len(locks.strays) == 1 and '"DEL" "conveyor:lock:L"' in locks.strays[0]
    problems = check_holdings(locks)
    assert len(problems) == 4
    assert problems[0].startswith("1 overlapping lock holdings, e.g. L (")
    assert problems[1] == "1 locks taken and never released, e.g. N"
    assert problems[2] == "1 holdings lost their lease while running, e.g. L"
    assert problems[3].startswith("1 commands on lock keys that are not the lock scripts'")


def answers(host: str, paths: list[str]) -> list[tuple[int, bytes]]:
    """GET each of ``paths`` on one keep-alive connection to ``host``: status and body."""
    connection = http.client.HTTPConnection(host, timeout=30)
    out = []
    for path in paths:
        connection.request("GET", path)
        response = connection.getresponse()
        out.append((response.status, response.read()))
    connection.close()
    return out


def test_the_forwarder_holds_each_answer_of_the_registry_and_passes_it_whole(
    registry: Registry,
) -> None:
    paths = ["/v2/", "/v2/_catalog", "/v2/_catalog?n=1"]
    direct = answers(registry.host, paths)
    with TCPForwarder(registry.host, delay=0.05) as held:
        through = answers(held.host, paths)
        again = answers(held.host, paths[:1])
    with TCPForwarder(registry.host) as plain:
        unheld = answers(plain.host, paths)

    assert [status for status, _ in direct] == [200, 200, 200]
    assert through == direct and unheld == direct and again == direct[:1]
    assert (held.accepted, held.delayed) == (2, 4)  # each answer, on either connection
    assert (plain.accepted, plain.delayed) == (1, 0)
