"""The Redis-backed state every service shares: objects, status, scanned tags, artifacts.

Keys (all under one prefix):
    obj:<Kind/ns/name>       hash: json, hash (of the spec), generation
    kind:<Kind>              set of object keys
    loaded                   set once a source filled the store (gone: Redis came back empty)
    status:<key>             JSON status in Flux's field names
    tags:<ImageRepository key>   JSON list of tags
    artifact:<GitRepository key> tar.gz bytes of the revision's tree
    lock:<key>               one reconcile of an object at a time
    due:<key>                set while an object's interval has not elapsed
    hops                     list of event-hop latencies (seconds), for the benchmark
    journal                  list of recent events, for `--once` and the status API
    once:<key>               set while a one-time claim holds (a webhook delivery id or body)
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any, cast, overload

import redis

from conveyor.shared.errors import TransientError
from conveyor.shared.kinds import BY_NAME, KINDS, ObjT, StatusT
from conveyor.shared.models import FluxObject
from conveyor.shared.status import Status

MAX_ARTIFACT_BYTES = 64 * 1024 * 1024
JOURNAL_LENGTH = 10_000
LEASE_SECONDS = 5.0  # a dead worker's object lock is free again this soon

log = logging.getLogger("conveyor.store")


def object_from_json(raw: str | bytes) -> FluxObject:
    """An object as ``FluxObject.to_json`` wrote it, as the model of its kind."""
    data = json.loads(raw)
    model: type[FluxObject] = BY_NAME[data["kind"]].model
    return model.model_validate(data)


class Store:
    def __init__(self, client: redis.Redis, prefix: str = "conveyor:") -> None:
        self.redis = client
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str = "conveyor:") -> Store:
        return cls(redis.Redis.from_url(url), prefix)

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    # --- objects ------------------------------------------------------------------------

    def put_object(self, obj: FluxObject) -> FluxObject:
        """Store an object; its generation goes up when its spec changed. Returns it as stored."""
        key = self._k("obj", obj.key)
        new_hash = obj.spec_hash()
        with self._errors():
            old_hash, old_gen = self.redis.hmget(key, "hash", "generation")
            generation = int(old_gen or 0)
            if old_hash is None or cast(bytes, old_hash).decode() != new_hash:
                generation += 1
            stored = obj.model_copy(
                update={"metadata": obj.metadata.model_copy(update={"generation": generation})}
            )
            pipe = self.redis.pipeline()
            pipe.hset(
                key, mapping={"json": stored.to_json(), "hash": new_hash, "generation": generation}
            )
            pipe.sadd(self._k("kind", obj.kind), obj.key)
            pipe.execute()
        return stored

    @overload
    def get_object(self, key: str) -> FluxObject | None: ...
    @overload
    def get_object(self, key: str, model: type[ObjT]) -> ObjT | None: ...
    def get_object(self, key: str, model: type[FluxObject] = FluxObject) -> FluxObject | None:
        """The object stored under ``key``; None when there is none (or not of ``model``)."""
        with self._errors():
            raw = self.redis.hget(self._k("obj", key), "json")
        obj = object_from_json(cast(bytes, raw)) if raw else None
        return obj if isinstance(obj, model) else None

    @overload
    def list_objects(self, kind: str) -> list[FluxObject]: ...
    @overload
    def list_objects(self, kind: type[ObjT]) -> list[ObjT]: ...
    def list_objects(self, kind: str | type[FluxObject]) -> list[Any]:
        """Every stored object of ``kind`` (its name, or its model), ordered by key."""
        name = kind if isinstance(kind, str) else kind.kind_name()
        with self._errors():
            members = cast(set[bytes], self.redis.smembers(self._k("kind", name)))
            keys = sorted(k.decode() for k in members)
            pipe = self.redis.pipeline()
            for key in keys:
                pipe.hget(self._k("obj", key), "json")
            raws = pipe.execute()
        return [object_from_json(raw) for raw in raws if raw]

    def replace_objects(self, objects: list[FluxObject]) -> None:
        """Make the stored objects exactly ``objects`` (those no longer there are deleted)."""
        wanted = {obj.key for obj in objects}
        for obj in objects:
            self.put_object(obj)
        for kind in KINDS:
            for stored in self.list_objects(kind.name):
                if stored.key not in wanted:
                    self.delete_object(stored.key)
        with self._errors():
            self.redis.set(self._k("loaded"), "1")

    def loaded(self) -> bool:
        """Whether a source filled the store since it was created: False after a Redis that
        came back empty, so that the sources fill it again at once."""
        with self._errors():
            return bool(self.redis.exists(self._k("loaded")))

    def delete_object(self, obj_key: str) -> None:
        kind = obj_key.split("/", 1)[0]
        with self._errors():
            self.redis.delete(self._k("obj", obj_key), self._k("status", obj_key))
            self.redis.srem(self._k("kind", kind), obj_key)

    # --- status -------------------------------------------------------------------------

    @overload
    def get_status(self, key: str) -> Status: ...
    @overload
    def get_status(self, key: str, cls: type[StatusT]) -> StatusT: ...
    def get_status(self, key: str, cls: type[Status] | None = None) -> Status:
        """The status of ``key`` as the model of its kind (or ``cls``); empty if none yet."""
        known = BY_NAME.get(key.split("/", 1)[0])
        model: type[Status] = cls or (known.status if known else Status)
        with self._errors():
            raw = self.redis.get(self._k("status", key))
        status: Status = model.model_validate_json(raw) if raw else model()
        return status

    def put_status(self, key: str, status: Status) -> None:
        with self._errors():
            self.redis.set(self._k("status", key), json.dumps(status.wire()))

    # --- scanned tags and artifacts -----------------------------------------------------

    def put_tags(self, key: str, tags: list[str]) -> None:
        with self._errors():
            self.redis.set(self._k("tags", key), json.dumps(tags))

    def get_tags(self, key: str) -> list[str] | None:
        with self._errors():
            raw = self.redis.get(self._k("tags", key))
        return list(json.loads(raw)) if raw else None

    def put_artifact(self, key: str, data: bytes) -> None:
        if len(data) > MAX_ARTIFACT_BYTES:
            raise TransientError(
                f"artifact of {key} is {len(data)} bytes, over the {MAX_ARTIFACT_BYTES} limit"
            )
        with self._errors():
            self.redis.set(self._k("artifact", key), data)

    def get_artifact(self, key: str) -> bytes | None:
        with self._errors():
            value = self.redis.get(self._k("artifact", key))
        return cast(bytes, value) if value is not None else None

    # --- coordination -------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, key: str, wait: float = 600.0, lease: float = LEASE_SECONDS) -> Iterator[None]:
        """One reconcile of an object at a time, across every worker, waiting up to ``wait``
        seconds for it. The lock is a lease of ``lease`` seconds that a thread of this process
        renews while the body runs: a worker that dies lets go of it within ``lease`` seconds."""
        lock = self.redis.lock(
            self._k("lock", key), timeout=lease, blocking_timeout=wait, thread_local=False
        )
        with self._errors():
            acquired = lock.acquire()
        if not acquired:
            raise TransientError(f"{key} is being reconciled elsewhere")
        done = threading.Event()

        def renew() -> None:
            while not done.wait(lease / 3):
                try:
                    lock.reacquire()
                except redis.exceptions.RedisError as exc:  # lost: the next renewal retries
                    log.warning("%s: renewing the lock: %s", key, type(exc).__name__)

        renewer = threading.Thread(target=renew, name=f"lease:{key}", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            done.set()
            renewer.join()
            with contextlib.suppress(redis.exceptions.RedisError):
                lock.release()

    def claim_due(self, key: str, interval: float) -> bool:
        """True once per ``interval`` for ``key`` across all processes (interval ticks)."""
        with self._errors():
            return bool(
                self.redis.set(self._k("due", key), "1", nx=True, px=max(1, int(interval * 1000)))
            )

    def reset_due(self, key: str) -> None:
        with self._errors():
            self.redis.delete(self._k("due", key))

    def take_budget(self, bucket: str, per_second: float) -> float:
        """Take one request from ``bucket``'s budget, shared by every worker.

        A fixed one-second window: returns 0 when the request may go now, else the seconds
        to wait before asking again.
        """
        now = time.time()
        window = int(now)
        key = self._k("budget", bucket, str(window))
        with self._errors():
            pipe = self.redis.pipeline()
            pipe.incr(key)
            pipe.expire(key, 2)
            count = int(pipe.execute()[0])
        return 0.0 if count <= per_second else (window + 1) - now

    def claim_run(self, key: str, emitted_at: float) -> bool:
        """Record that a reconcile of ``key`` starts now, unless one started after a request
        emitted at ``emitted_at``: that one already saw everything the request could ask for.
        """
        with self._errors():
            last = self.redis.get(self._k("started", key))
            if last is not None and float(cast(bytes, last)) > emitted_at:
                return False
            self.redis.set(self._k("started", key), repr(time.time()), ex=7 * 24 * 3600)
        return True

    def next_attempt(self, key: str) -> int:
        """How many failed attempts in a row ``key`` has had, this one included."""
        with self._errors():
            count = int(self.redis.incr(self._k("attempts", key)))
            self.redis.expire(self._k("attempts", key), 3600)
        return count

    def clear_attempts(self, key: str) -> None:
        with self._errors():
            self.redis.delete(self._k("attempts", key))

    def claim_once(self, key: str, window: float) -> bool:
        """True the first time ``key`` is claimed within ``window`` seconds, across every
        process."""
        with self._errors():
            return bool(
                self.redis.set(self._k("once", key), "1", nx=True, px=max(1, int(window * 1000)))
            )

    # --- observability ------------------------------------------------------------------

    def record(self, service: str, event: dict[str, Any], started_at: float) -> None:
        """Journal an event as a stage starts on it, with the hop latency."""
        entry = {**event, "service": service, "started_at": started_at}
        with self._errors():
            pipe = self.redis.pipeline()
            pipe.lpush(self._k("journal"), json.dumps(entry))
            pipe.ltrim(self._k("journal"), 0, JOURNAL_LENGTH - 1)
            pipe.execute()

    def journal(self, limit: int = 1000) -> list[dict[str, Any]]:
        with self._errors():
            raw = self.redis.lrange(self._k("journal"), 0, limit - 1)
        return [json.loads(r) for r in reversed(raw)]

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except redis.exceptions.RedisError as exc:
            raise TransientError(f"state store unavailable: {type(exc).__name__}") from exc


def wait_for_redis(client: redis.Redis, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.ping()
            return
        except redis.exceptions.ConnectionError as exc:
            if time.monotonic() > deadline:
                raise TransientError("Redis did not answer") from exc
            time.sleep(0.1)
