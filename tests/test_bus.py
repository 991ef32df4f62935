"""The worker's stage consumers (``shared.bus``) on a real Redis: a worker process hosting two
stages, each on one thread of its own, fed through ``CeleryDispatcher`` as the stages feed
each other."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from conveyor.shared.bus import CeleryDispatcher, configure

# A worker that hosts the committer's and the scanner's queues with handlers that record, in
# Redis, when each message started and ended (after sleeping as long as the message asks).
WORKER = """
import logging, sys, time, redis
from conveyor.shared import bus
logging.basicConfig(level=logging.INFO)  # Celery's "ready." line says it consumes
url = sys.argv[1]
bus.configure(url)
r = redis.Redis.from_url(url)
def handler(service):
    def handle(message):
        r.rpush("test:started", f"{service} {message['n']} {time.time()}")
        time.sleep(message.get("sleep", 0))
        r.rpush("test:ran", f"{service} {message['n']} {time.time()}")
    return handle
bus.host("git-committer", handler("git-committer"), 1)
bus.host("registry-scanner", handler("registry-scanner"), 1)
sys.exit(bus.run_worker())
"""


@pytest.fixture
def worker(redis_url: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    log = (tmp_path / "worker.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-c", WORKER, redis_url], stdout=log, stderr=log)
    r = redis.Redis.from_url(redis_url)
    configure(redis_url)
    deadline = time.monotonic() + 30
    while b" ready." not in (tmp_path / "worker.log").read_bytes():
        assert proc.poll() is None and time.monotonic() < deadline, (
            tmp_path / "worker.log"
        ).read_text()[-3000:]
        time.sleep(0.05)
    r.delete("test:started", "test:ran")
    yield proc
    if proc.poll() is None:
        proc.terminate()
        proc.wait(30)
    log.close()


def events(r: redis.Redis, key: str) -> list[tuple[str, int, float]]:
    out = []
    for raw in r.lrange(key, 0, -1):
        service, n, at = (raw.decode() if isinstance(raw, bytes) else raw).split()
        out.append((service, int(n), float(at)))
    return out


def wait_for(r: redis.Redis, key: str, count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while r.llen(key) < count:
        assert time.monotonic() < deadline, events(r, key)
        time.sleep(0.02)


def test_a_stage_backlog_never_delays_another_stage(
    worker: subprocess.Popen[bytes], redis_url: str
) -> None:
    r = redis.Redis.from_url(redis_url)
    send = CeleryDispatcher().send
    for n in range(4):  # four seconds of work for the committer's one thread
        send("git-committer", {"n": n, "sleep": 1.0})
    time.sleep(0.2)
    send("registry-scanner", {"n": 9})
    wait_for(r, "test:ran", 5)
    scan = next(at for s, _, at in events(r, "test:started") if s == "registry-scanner")
    first_commit_ended = next(at for s, _, at in events(r, "test:ran") if s == "git-committer")
    assert scan < first_commit_ended  # it ran while the committer's one thread was busy
    assert [n for s, n, _ in events(r, "test:ran") if s == "git-committer"] == [0, 1, 2, 3]


def test_a_message_waits_for_its_countdown_without_holding_a_thread(
    worker: subprocess.Popen[bytes], redis_url: str
) -> None:
    r = redis.Redis.from_url(redis_url)
    send = CeleryDispatcher().send
    sent = time.time()
    send("git-committer", {"n": 0}, countdown=1.5)
    send("git-committer", {"n": 1})
    wait_for(r, "test:ran", 2)
    ran = events(r, "test:ran")
    assert [n for _, n, _ in ran] == [1, 0]  # the stage's one thread did not wait for it
    assert ran[1][2] - sent >= 1.45  # not before its time
    assert r.hlen("unacked") == 0 and r.llen("git-committer") == 0  # both acknowledged


def test_a_stopping_worker_ends_the_run_under_way_and_gives_back_the_rest(
    worker: subprocess.Popen[bytes], redis_url: str
) -> None:
    r = redis.Redis.from_url(redis_url)
    send = CeleryDispatcher().send
    send("git-committer", {"n": 0, "sleep": 1.0})
    send("git-committer", {"n": 1})
    wait_for(r, "test:started", 1)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(30) == 0
    assert [n for _, n, _ in events(r, "test:ran")] == [0]  # it ended, the next never started
    assert r.hlen("unacked") == 0  # the run's message acknowledged, none left hanging
    assert r.llen("git-committer") == 1  # and the one not started is back in its queue


def test_a_stage_whose_threads_were_all_busy_takes_its_next_message_when_a_run_ends(
    worker: subprocess.Popen[bytes], redis_url: str
) -> None:
    """The ack of a run wakes the consumer's loop: with its one thread busy, the committer's
    channel takes no message, and must take the next as soon as the run ends, not when the loop
    wakes for something else (its poll times out after up to a second)."""
    r = redis.Redis.from_url(redis_url)
    send = CeleryDispatcher().send
    for n in range(6):
        send("git-committer", {"n": n, "sleep": 0.1})
    wait_for(r, "test:ran", 6)
    started = [at for _, _, at in events(r, "test:started")]
    ended = [at for _, _, at in events(r, "test:ran")]
    gaps = [start - end for start, end in zip(started[1:], ended, strict=False)]
    assert max(gaps) < 0.5, gaps  # about 5 ms; 0.9 s when the loop's idle timeout woke it


def test_a_malformed_message_is_dropped_and_the_stage_goes_on(
    worker: subprocess.Popen[bytes], redis_url: str
) -> None:
    """What reaches a queue is checked before use: a body that is no event, or an ETA that is no
    time, is logged and dropped; the next message runs."""
    from conveyor.shared.bus import app, task_name

    r = redis.Redis.from_url(redis_url)
    name = task_name("git-committer")
    app.send_task(name, args=["no event"], queue="git-committer")
    app.send_task(name, kwargs={"message": {"n": 0}}, queue="git-committer",
                  headers={"eta": "not a time"})
    with app.producer_or_acquire() as producer:  # a body that is no Celery message at all
        producer.publish({"x": 1}, routing_key="git-committer", exchange="git-committer",
                         serializer="json")
    CeleryDispatcher().send("git-committer", {"n": 1})
    wait_for(r, "test:ran", 1)
    time.sleep(0.5)
    assert [n for _, n, _ in events(r, "test:ran")] == [1]
    assert worker.poll() is None
    assert r.hlen("unacked") == 0 and r.llen("git-committer") == 0  # all three acknowledged
