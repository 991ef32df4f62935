"""The record a long-running ``conveyor run`` leaves in its data directory, so that the Day-2
verbs find it with no flags: ``<data>/instances/<pid>.json`` holds its Redis (the embedded one's
socket, or a URL without its password), its status API's address and where its objects come
from (a manifest folder, or a cluster and the kubeconfig it reads). It is written once the run
holds its data directory and removed as it stops; a record whose process is gone is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

MAX_RECORD_BYTES = 64 * 1024


@dataclass(frozen=True)
class Instance:
    pid: int
    redis: str | None  # None: a Redis whose URL carries a password (give REDIS_URL)
    listen: str  # the status API's host:port; "" for none
    source: str  # "manifests" or "cluster"
    manifests: str | None = None
    kubeconfig: str | None = None  # the cluster's kubeconfig (None: in-cluster credentials)
    started: float = 0.0


def embedded_redis_url(data_dir: Path) -> str:
    """The URL of the embedded Redis of ``data_dir`` (``conveyor.shared.embedded``)."""
    return f"unix://{data_dir / 'redis' / 'redis.sock'}"


def _without_password(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.password:
        return None
    return urlunsplit(parts)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


@contextlib.contextmanager
def recorded(
    data_dir: Path,
    *,
    redis_url: str | None,
    listen: str,
    manifests: Path | None,
    kubeconfig: str | None,
) -> Iterator[None]:
    """Record this process in ``data_dir`` while the body runs. ``redis_url`` None: the
    embedded Redis."""
    folder = data_dir / "instances"
    folder.mkdir(parents=True, exist_ok=True)
    record = Instance(
        pid=os.getpid(),
        redis=embedded_redis_url(data_dir) if redis_url is None else _without_password(redis_url),
        listen=listen,
        source="manifests" if manifests is not None else "cluster",
        manifests=str(manifests.resolve()) if manifests is not None else None,
        kubeconfig=str(Path(kubeconfig).resolve()) if kubeconfig else None,
        started=time.time(),
    )
    path = folder / f"{record.pid}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(record), handle)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def find(data_dir: Path) -> Instance | None:
    """The newest running conveyor recorded in ``data_dir``, if any."""
    found: list[Instance] = []
    for path in (data_dir / "instances").glob("*.json"):
        try:
            with path.open("rb") as handle:
                data = json.loads(handle.read(MAX_RECORD_BYTES))
            record = Instance(**data)
        except (OSError, ValueError, TypeError):
            continue
        if isinstance(record.pid, int) and record.pid > 0 and _alive(record.pid):
            found.append(record)
    return max(found, key=lambda r: r.started, default=None)
