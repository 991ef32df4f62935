"""The Redis-backed state every service shares: objects, status, scanned tags, artifacts.

Keys (all under one prefix):
    obj:<Kind/ns/name>       hash: json, hash (of the spec), generation
    kind:<Kind>              set of object keys
    loaded                   set once a source filled the store (gone: Redis came back empty)
    status:<key>             JSON status in Flux's field names
    tags:<ImageRepository key>   JSON list of tags
    digests:<ImageRepository key>  hash: tag -> manifest digest, of the tags an ImagePolicy
                             ordered by build time read (pruned to the scanned tags)
    builds                   hash: manifest digest (an index's: "<digest> <platform>") -> the
                             image's build time, or why it has none (JSON); builds-used, a
                             sorted set of when each was last read, keeps it to MAX_BUILDS
    artifact:<GitRepository key> tar.gz bytes of the revision's tree
    changes:<GitRepository key>:<commit>  JSON list of the files the commit changed
    pushes:<automation key>  list of the automation's last pushes with their changes, and
    failed-tags:<policy key> hash of the tags a rollback marked failed (conveyor.shared.rollback)
    referrers:<key>          set of the keys whose spec names <key>; refs-of:<key> the reverse
    marked-by:<policy key>   set of the automations whose files mark it; markers-of:<key> the
                             reverse; markers-indexed the automations that ran since stored
    schedule:<service>       sorted set: object key -> when its interval elapses next
    queued:<key>             set while a request for <key> waits in a queue
    lock:<key>               one reconcile of an object at a time
    hops                     list of event-hop latencies (seconds), for the benchmark
    verdict:<policy's trust> <digest>[ <signatures>]  JSON: whether the image's cosign
                             signatures verified (conveyor.services.policy_evaluator.verify),
                             expiring
    journal                  list of recent events, for `--once` and the status API
    metrics                  hash: the counters and histograms every process recorded, summed
                             (conveyor.shared.metrics)
    suspended                set of the keys `conveyor suspend` holds suspended (manifests)
    once:<key>               set while a one-time claim holds (a webhook delivery id or body)
    notices                  stream of Flux's events (Kubernetes Events, Alerts: a consumer
                             group per reader)
    window:<key>             hash: a rate limit's window (an Alert's duplicate events)
    approvals                hash: automation key -> JSON, its open approval request
                             (conveyor.shared.approvals); approvals-closed the list of
                             the last ones closed (superseded, expired, landed)
    gone:<key>               hash: json, status of a deleted object of a kind with a finalizer
                             (Kind.finalized), kept until its service finalized it; the key stays
                             in its service's schedule, due, meanwhile
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar, cast, overload

import redis
from redis.typing import EncodableT, FieldT

from conveyor.shared.errors import TransientError
from conveyor.shared.kinds import BY_NAME, KINDS, ObjT, StatusT
from conveyor.shared.models import FluxObject, ReconciledSpec, Secret
from conveyor.shared.sealed import Sealer, opened_without_key
from conveyor.shared.status import Status

MAX_ARTIFACT_BYTES = 64 * 1024 * 1024
JOURNAL_LENGTH = 10_000
NOTICES_LENGTH = 10_000  # the notices stream keeps about this many (Kubernetes Events, Alerts)
INTERVAL_JITTER = 0.05  # an interval is kept within ±5 %, spread so that bursts thin out
LEASE_SECONDS = 5.0  # a dead worker's object lock is free again this soon
LOCK_POLL_SECONDS = 0.1  # how often a lock held elsewhere is tried again
TOMBSTONE_SECONDS = 7 * 24 * 3600  # a deleted object no service finalized is forgotten then
MAX_BUILDS = 50_000  # build times kept by digest; the least recently read go first
CLOSED_APPROVALS = 200  # closed approval requests kept (`conveyor approvals --all`)

log = logging.getLogger("conveyor.store")

T = TypeVar("T")


# The due members of each schedule KEYS[i] (a sorted set: key -> due time), due by ARGV[1], up
# to ARGV[4 + i] of them, each moved one interval on from ARGV[3], give or take ARGV[4] of it so
# that objects loaded together drift apart instead of all falling due in the same second (the
# interval is in the object's hash under the prefix ARGV[2]; without one, it leaves).
_TAKE_DUE = """
local taken = {}
local jitter = tonumber(ARGV[4])
for i, schedule in ipairs(KEYS) do
  local due = redis.call('ZRANGEBYSCORE', schedule, '-inf', ARGV[1], 'LIMIT', 0, ARGV[4 + i])
  for _, key in ipairs(due) do
    local every = tonumber(redis.call('HGET', ARGV[2] .. key, 'interval')) or 0
    if every > 0 then
      local spread = every * jitter * (2 * math.random() - 1)
      redis.call('ZADD', schedule, tonumber(ARGV[3]) + every + spread, key)
    else
      redis.call('ZREM', schedule, key)
    end
  end
  taken[i] = due
end
return taken
"""


# For each commit of ARGV[3..]: its recorded changes, then its base's, back up to ARGV[2] steps:
# the raw values, in order. (The keys are found on the way, from the prefix ARGV[1]: one round
# trip for the walks.)
_CHAINS = """
local walks = {}
for i = 3, #ARGV do
  local out, commit, seen = {}, ARGV[i], {}
  for _ = 1, tonumber(ARGV[2]) do
    if seen[commit] then break end
    seen[commit] = true
    local raw = redis.call('GET', ARGV[1] .. commit)
    if not raw then break end
    out[#out + 1] = raw
    local ok, found = pcall(cjson.decode, raw)
    if not ok or type(found) ~= 'table' or type(found.paths) ~= 'table'
      or type(found.base) ~= 'string' then break end
    commit = found.base
  end
  walks[#walks + 1] = out
end
return walks
"""

# Objects and their statuses (KEYS: obj, status, obj, status, ...): the JSON field of each
# object's hash and each status, false for what is absent.
_OBJECTS_WITH_STATUS = """
local out = {}
for i = 1, #KEYS, 2 do
  out[i] = redis.call('HGET', KEYS[i], 'json')
  out[i + 1] = redis.call('GET', KEYS[i + 1])
end
return out
"""

# A lock (``Store.lock``): taken when free, with the lease in milliseconds; with a run's keys
# (``Store.run_lock``), the request mark taken off and the object, its status and its last start
# read in the same step, only when taken.
_TAKE_LOCK = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {0}
end
if #KEYS == 1 then
  return {1}
end
redis.call('DEL', KEYS[2])
return {1, redis.call('HGET', KEYS[3], 'json'), redis.call('GET', KEYS[4]),
        redis.call('GET', KEYS[5])}
"""

# The leases of the locks a process holds, each renewed while it still holds it (token, then
# lease in milliseconds, per key); the keys it no longer holds.
_RENEW_LOCKS = """
local lost = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[2 * i - 1] then
    redis.call('PEXPIRE', key, ARGV[2 * i])
  else
    lost[#lost + 1] = key
  end
end
return lost
"""

_RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# One token a window per key, as go-limiter's memorystore (notification-controller's duplicate
# events) keeps it: windows of ARGV[2] ms counted from the bucket's first take; a bucket
# unused for two windows is forgotten (Flux's SweepMinTTL). ARGV[3], the taker, may take its
# window's token again (a notice delivered again after a restart is no duplicate of itself).
_TAKE_WINDOW = """
local now, every = tonumber(ARGV[1]), tonumber(ARGV[2])
local found = redis.call('HMGET', KEYS[1], 'start', 'tick', 'taker')
if not found[1] then
  redis.call('HSET', KEYS[1], 'start', now, 'tick', 0, 'taker', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], 2 * every)
  return 1
end
local start, last = tonumber(found[1]), tonumber(found[2])
local tick = math.floor((now - start) / every)
if tick > last then
  redis.call('HSET', KEYS[1], 'tick', tick, 'taker', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.max(1, start + (tick + 2) * every - now))
  return 1
end
if found[3] == ARGV[3] then
  return 1
end
return 0
"""


def _fields(values: Mapping[str, str]) -> dict[FieldT, EncodableT]:
    """A hash's fields as redis-py's types name them."""
    fields: dict[FieldT, EncodableT] = {}
    fields.update(values)
    return fields


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _finalized(key: str) -> bool:
    """Whether the object under ``key`` has a finalizer (its service acts on its deletion)."""
    known = BY_NAME.get(key.split("/", 1)[0])
    return known is not None and known.finalized


def _scheduled_service(kind: str) -> str | None:
    """The service whose queue reconciles ``kind`` on an interval, if any."""
    known = BY_NAME.get(kind)
    return known.service if known is not None and known.queued else None


def object_from_json(raw: str | bytes) -> FluxObject:
    """An object as ``FluxObject.to_json`` wrote it, as the model of its kind."""
    data = json.loads(raw)
    model: type[FluxObject] = BY_NAME[data["kind"]].model
    return model.model_validate(data)


REDIS_TIMEOUT = 30.0  # seconds a command may wait for its answer
REDIS_CONNECT_TIMEOUT = 10.0


class Store:
    def __init__(
        self, client: redis.Redis, prefix: str = "conveyor:", secret_key: str | None = None
    ) -> None:
        self.redis = client
        self.prefix = prefix
        # Secrets are sealed at rest with it (conveyor.shared.sealed); None: stored plain
        self.sealer = Sealer(secret_key) if secret_key else None
        self._due = client.register_script(_TAKE_DUE)
        self._window = client.register_script(_TAKE_WINDOW)
        self._take_lock = client.register_script(_TAKE_LOCK)
        self._objects_with_status = client.register_script(_OBJECTS_WITH_STATUS)
        self._chains = client.register_script(_CHAINS)
        self._release_lock = client.register_script(_RELEASE_LOCK)
        self._leases = _Leases(client.register_script(_RENEW_LOCKS))

    @classmethod
    def from_url(cls, url: str, prefix: str = "conveyor:", secret_key: str | None = None) -> Store:
        """The store on the Redis of ``url``; a Redis that stops answering fails a call after
        ``REDIS_TIMEOUT`` seconds (``TransientError``) instead of holding it for good."""
        client = redis.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_CONNECT_TIMEOUT
        )
        return cls(client, prefix, secret_key)

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    # --- Secrets sealed at rest: the one place objects are encoded and decoded -----------

    def _encode(self, obj: FluxObject) -> str:
        """An object as stored: a Secret sealed when a key is configured."""
        text = obj.to_json()
        if self.sealer is not None and isinstance(obj, Secret):
            return self.sealer.seal(text, obj.key)
        return text

    def _decode(self, raw: str | bytes, key: str) -> FluxObject:
        """The object stored under ``key``, opened if sealed (a wrong or missing key:
        ``SecretKeyError``, naming the setting)."""
        text = raw.decode() if isinstance(raw, bytes) else raw
        if text.startswith("{"):
            return object_from_json(text)
        if self.sealer is None:
            raise opened_without_key(key)
        return object_from_json(self.sealer.open(text, key))

    def _digests(self, obj: FluxObject) -> tuple[str, str]:
        """The spec's hash and the document's digest; a Secret's keyed when sealed, so that
        no plain hash of its values is stored."""
        spec_hash, doc = obj.spec_hash(), _digest(obj.to_json())
        if self.sealer is not None and isinstance(obj, Secret):
            return self.sealer.digest(spec_hash), self.sealer.digest(doc)
        return spec_hash, doc

    # --- objects ------------------------------------------------------------------------

    def put_object(self, obj: FluxObject) -> FluxObject:
        """Store an object; its generation goes up when its spec changed. Returns it as stored."""
        return self.put_objects([obj])[0]

    def put_objects(
        self, objects: list[FluxObject], *, given_generations: bool = False
    ) -> list[FluxObject]:
        """Store objects in two round trips, writing only those that changed: the generation
        of one goes up when its spec changed (with ``given_generations``, it is the one the
        object carries: a cluster's ``metadata.generation``); its references, and its place in
        its service's schedule, follow. A stored object whose generation changed, or that
        carries a new ``reconcile.fluxcd.io/requestedAt``, falls due at once (Flux reconciles
        on either). Returns them as stored."""
        with self._errors():
            pipe = self.redis.pipeline()
            for obj in objects:
                pipe.hmget(self._k("obj", obj.key), "hash", "generation", "doc", "requested")
                pipe.smembers(self._k("refs-of", obj.key))
            found = pipe.execute()
            pipe = self.redis.pipeline()
            stored: list[FluxObject] = []
            for obj, (old_hash, old_gen, old_doc, old_request), old_refs in zip(
                objects, found[::2], found[1::2], strict=True
            ):
                spec_hash, doc = self._digests(obj)
                old_generation = int(old_gen or 0)
                generation = obj.metadata.generation if given_generations else old_generation
                if not given_generations and (
                    old_hash is None or cast(bytes, old_hash).decode() != spec_hash
                ):
                    generation += 1
                meta = obj.metadata.model_copy(update={"generation": generation})
                stored.append(obj.model_copy(update={"metadata": meta}))
                if old_doc is not None and cast(bytes, old_doc).decode() == doc:
                    continue  # nothing changed (the spec neither): nothing written
                request = obj.metadata.reconcile_request or ""
                wake = old_hash is not None and (
                    generation != old_generation
                    or (request != "" and request != (old_request or b"").decode())
                )
                self._write(
                    pipe, stored[-1], spec_hash, doc, {r.decode() for r in old_refs}, wake=wake
                )
            if len(pipe):
                pipe.incr(self._k("objects-changed"))
            pipe.execute()
        return stored

    def _write(
        self,
        pipe: Any,
        obj: FluxObject,
        spec_hash: str,
        doc: str,
        old_refs: set[str],
        *,
        wake: bool = False,
    ) -> None:
        interval = obj.spec.interval if isinstance(obj.spec, ReconciledSpec) else None
        pipe.hset(
            self._k("obj", obj.key),
            mapping={
                "json": self._encode(obj),
                "hash": spec_hash,
                "doc": doc,
                "generation": obj.metadata.generation,
                "interval": repr(interval or 0.0),
                "requested": obj.metadata.reconcile_request or "",
            },
        )
        pipe.sadd(self._k("kind", obj.kind), obj.key)
        refs = set(obj.references())
        for ref in old_refs - refs:
            pipe.srem(self._k("referrers", ref), obj.key)
        for ref in refs - old_refs:
            pipe.sadd(self._k("referrers", ref), obj.key)
        pipe.delete(self._k("refs-of", obj.key), self._k("gone", obj.key))  # back: not deleted
        if refs:
            pipe.sadd(self._k("refs-of", obj.key), *refs)
        # Due now when woken; an object without an interval leaves the schedule once taken
        # (take_due), so one that lost its interval runs at most once more.
        service = _scheduled_service(obj.kind)
        if service is not None and wake:
            pipe.zadd(self._k("schedule", service), {obj.key: 0})
        elif service is not None and interval:
            pipe.zadd(self._k("schedule", service), {obj.key: time.time()}, nx=True)

    @overload
    def get_object(self, key: str) -> FluxObject | None: ...
    @overload
    def get_object(self, key: str, model: type[ObjT]) -> ObjT | None: ...
    def get_object(self, key: str, model: type[FluxObject] = FluxObject) -> FluxObject | None:
        """The object stored under ``key``; None when there is none (or not of ``model``)."""
        with self._errors():
            raw = self.redis.hget(self._k("obj", key), "json")
        obj = self._decode(cast(bytes, raw), key) if raw else None
        return obj if isinstance(obj, model) else None

    def keys(self, kind: str) -> list[str]:
        """The keys of every stored object of ``kind``, without reading the objects."""
        with self._errors():
            members = cast(set[bytes], self.redis.smembers(self._k("kind", kind)))
        return sorted(k.decode() for k in members)

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
        return [self._decode(raw, key) for key, raw in zip(keys, raws, strict=True) if raw]

    def replace_objects(
        self, objects: list[FluxObject], *, given_generations: bool = False, partial: bool = False
    ) -> None:
        """Make the stored objects exactly ``objects``: what changed is written, what is gone
        deleted, in a few round trips whatever their number. ``partial``: the source could not
        read everything (a manifest that does not parse), so an object of a kind with a
        finalizer that is missing may only be unreadable: it is kept, not finalized."""
        self.put_objects(objects, given_generations=given_generations)
        wanted = {obj.key for obj in objects}
        with self._errors():
            pipe = self.redis.pipeline()
            for kind in KINDS:
                pipe.smembers(self._k("kind", kind.name))
            present = {k.decode() for members in pipe.execute() for k in members}
        gone = sorted(present - wanted)
        if partial:
            gone = [k for k in gone if not _finalized(k)]
        self.delete_objects(gone)
        with self._errors():
            self.redis.set(self._k("loaded"), "1")

    def objects_changed(self) -> int:
        """A count that moves whenever a stored object (a Secret included) is written or
        deleted: what was derived from the objects needs no new look while it stays."""
        with self._errors():
            return int(self.redis.get(self._k("objects-changed")) or 0)

    def loaded(self) -> bool:
        """Whether a source filled the store since it was created: False after a Redis that
        came back empty, so that the sources fill it again at once."""
        with self._errors():
            return bool(self.redis.exists(self._k("loaded")))

    def delete_object(self, obj_key: str) -> None:
        self.delete_objects([obj_key])

    def delete_objects(self, keys: list[str]) -> None:
        """Forget objects: their data, status, references, markers and schedule. One of a kind
        with a finalizer is kept aside (``gone:<key>``) and stays due in its service's
        schedule, for its service to finalize (``tombstone``, ``forget_tombstone``)."""
        if not keys:
            return
        with self._errors():
            pipe = self.redis.pipeline()
            for key in keys:
                pipe.smembers(self._k("refs-of", key))
                pipe.smembers(self._k("markers-of", key))
                pipe.hget(self._k("obj", key), "json")
                pipe.get(self._k("status", key))
            found = pipe.execute()
            pipe = self.redis.pipeline()
            for key, refs, marked, raw, status in zip(
                keys, found[::4], found[1::4], found[2::4], found[3::4], strict=True
            ):
                kind = key.split("/", 1)[0]
                service = _scheduled_service(kind)
                if raw and service is not None and _finalized(key):
                    gone = self._k("gone", key)
                    pipe.hset(gone, mapping={"json": raw, "status": status or b"{}"})
                    pipe.expire(gone, TOMBSTONE_SECONDS)
                    pipe.zadd(self._k("schedule", service), {key: 0})
                    service = None  # stays scheduled: due now
                pipe.delete(
                    self._k("obj", key),
                    self._k("status", key),
                    self._k("refs-of", key),
                    self._k("markers-of", key),
                )
                pipe.srem(self._k("kind", kind), key)
                pipe.srem(self._k("markers-indexed"), key)
                for ref in refs:
                    pipe.srem(self._k("referrers", ref.decode()), key)
                for ref in marked:
                    pipe.srem(self._k("marked-by", ref.decode()), key)
                if service is not None:
                    pipe.zrem(self._k("schedule", service), key)
            pipe.incr(self._k("objects-changed"))
            pipe.execute()

    def tombstone(
        self, key: str, model: type[ObjT], status_cls: type[StatusT]
    ) -> tuple[ObjT, StatusT] | None:
        """The object deleted under ``key`` and its last status, while it awaits its
        finalizer; None when there is none (or the object is back)."""
        with self._errors():
            raw, status = self.redis.hmget(self._k("gone", key), "json", "status")
        obj = self._decode(cast(bytes, raw), key) if raw else None
        if not isinstance(obj, model):
            return None
        return obj, status_cls.model_validate_json(cast(bytes, status or b"{}"))

    def forget_tombstone(self, key: str) -> None:
        """``key`` is finalized: forget what was kept of it."""
        with self._errors():
            self.redis.delete(self._k("gone", key), self._k("attempts", key))

    def retry_tombstone(self, key: str, delay: float) -> None:
        """Finalizing ``key`` failed: due again in ``delay`` seconds."""
        service = _scheduled_service(key.split("/", 1)[0])
        if service is not None:
            with self._errors():
                self.redis.zadd(self._k("schedule", service), {key: time.time() + delay})

    def tombstones(self) -> list[str]:
        """The keys of every deleted object that awaits its finalizer."""
        with self._errors():
            found = self.redis.scan_iter(match=self._k("gone", "*"), count=1000)
            return sorted(k.decode().removeprefix(self._k("gone", "")) for k in found)

    # --- what refers to what ------------------------------------------------------------

    def referrers(self, key: str, kind: str | None = None) -> list[str]:
        """The keys of the objects whose spec names ``key`` (of ``kind`` only, if given)."""
        with self._errors():
            members = cast(set[bytes], self.redis.smembers(self._k("referrers", key)))
        found = sorted(m.decode() for m in members)
        return [k for k in found if kind is None or k.startswith(f"{kind}/")]

    def set_markers(self, key: str, refs: set[str]) -> None:
        """Record that the files of ``key`` (an automation) carry markers for ``refs``."""
        with self._errors():
            old = {m.decode() for m in cast(set[bytes], self.redis.smembers(
                self._k("markers-of", key)
            ))}
            pipe = self.redis.pipeline()
            for ref in old - refs:
                pipe.srem(self._k("marked-by", ref), key)
            for ref in refs - old:
                pipe.sadd(self._k("marked-by", ref), key)
            pipe.delete(self._k("markers-of", key))
            if refs:
                pipe.sadd(self._k("markers-of", key), *refs)
            pipe.sadd(self._k("markers-indexed"), key)
            pipe.execute()

    def markers_of(self, key: str) -> set[str]:
        """The policy keys the files of ``key`` (an automation) marked at its last run."""
        with self._errors():
            members = cast(set[bytes], self.redis.smembers(self._k("markers-of", key)))
        return {m.decode() for m in members}

    def marked_by(self, ref: str, candidates: list[str]) -> list[str]:
        """Of ``candidates``, those whose files carry a marker for ``ref``, and those whose
        markers are not known yet (never run since they were stored)."""
        if not candidates:
            return []
        with self._errors():
            pipe = self.redis.pipeline()
            pipe.smembers(self._k("marked-by", ref))
            pipe.smismember(self._k("markers-indexed"), candidates)
            marked, indexed = pipe.execute()
        marking = {m.decode() for m in marked}
        pairs = zip(candidates, indexed, strict=True)
        return [c for c, known in pairs if c in marking or not known]

    def objects_with_status(
        self, keys: list[str], model: type[ObjT], status: type[StatusT]
    ) -> list[tuple[ObjT | None, StatusT]]:
        """Each object of ``keys`` (None when absent) with its status, in one round trip: one
        script, read at one moment, whose one reply costs the client far less than a
        transaction of two commands an object."""
        if not keys:
            return []
        names = [name for key in keys for name in (self._k("obj", key), self._k("status", key))]
        with self._errors():
            found = cast(list[Any], self._objects_with_status(keys=names))
        out: list[tuple[ObjT | None, StatusT]] = []
        for key, raw, raw_status in zip(keys, found[::2], found[1::2], strict=True):
            obj = self._decode(raw, key) if raw else None
            out.append(
                (
                    obj if isinstance(obj, model) else None,
                    status.model_validate_json(raw_status) if raw_status else status(),
                )
            )
        return out

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

    def raw_statuses(self, keys: list[str]) -> list[bytes | None]:
        """The stored status of each of ``keys`` as written (JSON; None if none), in one round
        trip: what a reader compares before it parses."""
        if not keys:
            return []
        with self._errors():
            return cast(list[bytes | None], self.redis.mget([self._k("status", k) for k in keys]))

    def put_status(self, key: str, status: Status) -> None:
        with self._errors():
            self.redis.set(self._k("status", key), json.dumps(status.wire()))

    # --- scanned tags and artifacts -----------------------------------------------------

    def put_tags(self, key: str, tags: list[str]) -> None:
        with self._errors():
            self.redis.set(self._k("tags", key), json.dumps(tags))

    def has_tags(self, key: str) -> bool:
        with self._errors():
            return bool(self.redis.exists(self._k("tags", key)))

    def get_tags(self, key: str) -> list[str] | None:
        with self._errors():
            raw = self.redis.get(self._k("tags", key))
        return list(json.loads(raw)) if raw else None

    def tag_digests(self, key: str) -> dict[str, str]:
        """The manifest digest of each tag of ImageRepository ``key`` resolved so far."""
        with self._errors():
            found = cast(dict[bytes, bytes], self.redis.hgetall(self._k("digests", key)))
        return {k.decode(): v.decode() for k, v in found.items()}

    def put_tag_digests(self, key: str, found: Mapping[str, str], gone: list[str]) -> None:
        """Record the digests of ``found`` tags; forget those of ``gone`` ones."""
        if not found and not gone:
            return
        with self._errors():
            pipe = self.redis.pipeline()
            if gone:
                pipe.hdel(self._k("digests", key), *gone)
            if found:
                pipe.hset(self._k("digests", key), mapping=_fields(found))
            pipe.execute()

    def get_builds(self, fields: list[str]) -> dict[str, str]:
        """The cached build times (JSON) of the given digests that are known; each one found
        counts as read now."""
        if not fields:
            return {}
        with self._errors():
            values = cast(list[bytes | None], self.redis.hmget(self._k("builds"), fields))
            found = {f: v.decode() for f, v in zip(fields, values, strict=True) if v is not None}
            if found:
                self.redis.zadd(self._k("builds-used"), dict.fromkeys(found, time.time()), xx=True)
        return found

    def put_builds(self, entries: Mapping[str, str]) -> None:
        """Cache build times by digest; past ``MAX_BUILDS`` the least recently read go."""
        if not entries:
            return
        with self._errors():
            pipe = self.redis.pipeline()
            pipe.hset(self._k("builds"), mapping=_fields(entries))
            pipe.zadd(self._k("builds-used"), dict.fromkeys(entries, time.time()))
            pipe.zcard(self._k("builds-used"))
            over = int(pipe.execute()[-1]) - MAX_BUILDS
            if over > 0:
                used = self.redis.zpopmin(self._k("builds-used"), over)
                oldest = cast(list[tuple[bytes, float]], used)
                if oldest:
                    self.redis.hdel(self._k("builds"), *(member for member, _ in oldest))

    def put_artifact(self, key: str, data: bytes) -> None:
        if len(data) > MAX_ARTIFACT_BYTES:
            raise TransientError(
                f"artifact of {key} is {len(data)} bytes, over the {MAX_ARTIFACT_BYTES} limit"
            )
        with self._errors():
            self.redis.set(self._k("artifact", key), data)

    def put_changes(
        self, key: str, commit: str, paths: list[str] | None, base: str | None = None
    ) -> None:
        """The files that ``commit`` of GitRepository ``key`` changed since ``base``, the
        revision fetched before it (None: not known, say everything); kept a day."""
        with self._errors():
            self.redis.set(
                self._k("changes", key, commit),
                json.dumps({"paths": paths, "base": base}),
                ex=24 * 3600,
            )

    def _changes(self, key: str, commit: str) -> tuple[list[str] | None, str | None]:
        with self._errors():
            raw = self.redis.get(self._k("changes", key, commit))
        return self._parse_changes(raw)

    @staticmethod
    def _parse_changes(raw: str | bytes | None) -> tuple[list[str] | None, str | None]:
        found = json.loads(raw) if raw else {}
        if isinstance(found, list):  # written before bases were kept
            found = {"paths": found}
        paths, base = found.get("paths"), found.get("base")
        return (
            [str(p) for p in paths] if isinstance(paths, list) else None,
            base if isinstance(base, str) else None,
        )

    def changed_paths(self, key: str, commit: str) -> list[str] | None:
        return self._changes(key, commit)[0]

    def base_of(self, key: str, commit: str) -> str | None:
        """The commit recorded before ``commit`` of GitRepository ``key`` (the revision fetched
        before it, or the head an automation pushed it upon); None when not known."""
        return self._changes(key, commit)[1]

    def _chain(self, commit: str, recorded: list[Any]) -> dict[str, set[str]]:
        """Each commit reached from ``commit`` through the recorded bases (``recorded``: the
        changes read on the way, in order), with the files changed from it to ``commit`` (a
        superset, when a base skips commits)."""
        out = {commit: set[str]()}
        changed: set[str] = set()
        for raw in recorded:
            paths, base = self._parse_changes(raw)
            if paths is None or base is None or base in out:
                break
            changed |= set(paths)
            commit = base
            out[commit] = set(changed)
        return out

    def changes_between(self, key: str, old: str, new: str, limit: int = 64) -> list[str] | None:
        """Files that may differ between commits ``old`` and ``new`` of GitRepository ``key``,
        from the recorded changes (the fetches', and the automations' own pushes): each side is
        followed back to a commit both reach, and what changed on either way is the answer (a
        file that differs between two commits differs between one of them and any third).
        None when no common commit is found within ``limit`` steps a side."""
        if old == new:
            return []
        with self._errors():
            walked_new, walked_old = self._chains(
                args=[self._k("changes", key, ""), limit, new, old]
            )
        back_new = self._chain(new, walked_new)
        back_old = self._chain(old, walked_old)
        common = next((c for c in back_new if c in back_old), None)
        if common is None:
            return None
        return sorted(back_new[common] | back_old[common])

    def get_artifact(self, key: str) -> bytes | None:
        with self._errors():
            value = self.redis.get(self._k("artifact", key))
        return cast(bytes, value) if value is not None else None

    # --- coordination -------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, key: str, wait: float = 600.0, lease: float = LEASE_SECONDS) -> Iterator[None]:
        """One holder of ``key`` at a time, across every worker, waiting up to ``wait`` seconds
        for it. The lock is a lease of ``lease`` seconds that this process renews while the
        body runs (one thread renews every lock the process holds): a worker that dies lets go
        of it within ``lease`` seconds."""
        with self._held(key, [], wait, lease):
            yield

    @contextlib.contextmanager
    def run_lock(
        self,
        key: str,
        model: type[ObjT],
        status_cls: type[StatusT],
        wait: float = 600.0,
        lease: float = LEASE_SECONDS,
    ) -> Iterator[tuple[ObjT | None, StatusT, float | None]]:
        """``lock(key)`` for a run of the object ``key``, and what the run starts from, read in
        the round trip that takes the lock: the request mark taken off (from now on, a new
        request needs a new run), the object, its status, and when its last run started."""
        reads = [self._k(part, key) for part in ("queued", "obj", "status", "started")]
        with self._held(key, reads, wait, lease) as found:
            raw, status, started = found
            obj = self._decode(cast(bytes, raw), key) if raw else None
            yield (
                obj if isinstance(obj, model) else None,
                status_cls.model_validate_json(status) if status else status_cls(),
                float(cast(bytes, started)) if started is not None else None,
            )

    @contextlib.contextmanager
    def _held(
        self, key: str, reads: list[str], wait: float, lease: float
    ) -> Iterator[list[Any]]:
        """The lock of ``key`` held while the body runs, taken with ``_TAKE_LOCK`` (and its
        ``reads``, whose values are yielded), tried every 0.1 s for up to ``wait`` seconds."""
        name, token = self._k("lock", key), uuid.uuid4().hex
        millis = str(max(1, int(lease * 1000)))
        deadline = time.monotonic() + wait
        while True:
            with self._errors():
                got = cast(list[Any], self._take_lock(keys=[name, *reads], args=[token, millis]))
            if got[0]:
                break
            if time.monotonic() >= deadline:
                raise TransientError(f"{key} is being reconciled elsewhere")
            time.sleep(LOCK_POLL_SECONDS)
        self._leases.hold(name, token, lease)
        try:
            yield got[1:]
        finally:
            self._leases.drop(name)
            with contextlib.suppress(redis.exceptions.RedisError):
                self._release_lock(keys=[name], args=[token])

    def take_due(self, service: str, *, everything: bool = False, limit: int = 1000) -> list[str]:
        """The keys of ``service``'s objects whose interval elapsed (all of them with
        ``everything``), each rescheduled one interval from now, atomically: across every
        worker, one takes a due object. One round trip, however many objects there are."""
        return self.take_due_of({service: limit}, everything=everything)[service]

    def take_due_of(
        self, limits: Mapping[str, int], *, everything: bool = False
    ) -> dict[str, list[str]]:
        """``take_due`` of several services (each with its limit), in one round trip."""
        if not limits:
            return {}
        now = time.time()
        with self._errors():
            taken = self._due(
                keys=[self._k("schedule", service) for service in limits],
                args=[
                    "+inf" if everything else repr(now),
                    self._k("obj", ""),
                    repr(now),
                    repr(INTERVAL_JITTER),
                    *limits.values(),
                ],
            )
        return {
            service: [k.decode() for k in due] for service, due in zip(limits, taken, strict=True)
        }

    def make_due(self, key: str) -> None:
        """Let ``key``'s interval elapse now (its next tick queues it)."""
        service = _scheduled_service(key.split("/", 1)[0])
        if service is not None:
            with self._errors():
                self.redis.zadd(self._k("schedule", service), {key: 0}, xx=True)

    def mark_queued(self, key: str, ttl: float = 300.0) -> bool:
        """True when no request for ``key`` waits in a queue yet (and now one does): the queue
        never holds an object twice. The mark ends when a run of ``key`` starts, or after
        ``ttl`` (a request lost with its worker)."""
        with self._errors():
            return bool(self.redis.set(self._k("queued", key), "1", nx=True, px=int(ttl * 1000)))

    def unmark_queued(self, key: str) -> None:
        with self._errors():
            self.redis.delete(self._k("queued", key))

    def take_budget(self, bucket: str, per_second: float) -> float:
        """Take one request from ``bucket``'s budget, shared by every worker.

        A fixed one-second window: returns 0 when the request may go now, else the seconds
        to wait before asking again.
        """
        now = time.time()
        window = int(now)
        key = self._k("budget", bucket, str(window))
        with self._errors():
            pipe = self.redis.pipeline(transaction=False)  # the window's key goes either way
            pipe.incr(key)
            pipe.expire(key, 2)
            count = int(pipe.execute()[0])
        return 0.0 if count <= per_second else (window + 1) - now

    def start_run(
        self, key: str, status: Status, journal: Mapping[str, Any] | None = None
    ) -> None:
        """Record that a run of ``key`` starts now, with the status it shows meanwhile, and
        journal ``journal`` (``run_entry``: the message the run is for), in one round trip."""
        with self._errors():
            pipe = self.redis.pipeline(transaction=False)
            pipe.set(self._k("started", key), repr(time.time()), ex=7 * 24 * 3600)
            pipe.set(self._k("status", key), json.dumps(status.wire()))
            if journal is not None:
                self._journal(pipe, journal)
            pipe.execute()

    def end_run(
        self,
        key: str,
        status: Status,
        *,
        succeeded: bool,
        metrics: Mapping[str, float] | None = None,
    ) -> None:
        """The status a run of ``key`` ends with (a run that succeeded clears its retries),
        and the ``metrics`` its process recorded (``add_metrics``), in one round trip."""
        with self._errors():
            pipe = self.redis.pipeline(transaction=False)
            pipe.set(self._k("status", key), json.dumps(status.wire()))
            if succeeded:
                pipe.delete(self._k("attempts", key))
            for name, amount in (metrics or {}).items():
                pipe.hincrbyfloat(self._k("metrics"), name, amount)
            pipe.execute()

    def next_attempt(self, key: str) -> int:
        """How many failed attempts in a row ``key`` has had, this one included."""
        with self._errors():
            count = int(self.redis.incr(self._k("attempts", key)))
            self.redis.expire(self._k("attempts", key), 3600)
        return count

    def signature_verdicts(self, fields: list[str]) -> dict[str, str]:
        """The cached signature verdicts (JSON) of those of ``fields`` that are known."""
        if not fields:
            return {}
        with self._errors():
            keys = [self._k("verdict", f) for f in fields]
            values = cast(list[bytes | None], self.redis.mget(keys))
        return {f: v.decode() for f, v in zip(fields, values, strict=True) if v is not None}

    def put_signature_verdicts(self, entries: Mapping[str, str], ttl: float) -> None:
        """Cache signature verdicts (JSON) for ``ttl`` seconds."""
        if not entries:
            return
        with self._errors():
            pipe = self.redis.pipeline()
            for field, verdict in entries.items():
                pipe.set(self._k("verdict", field), verdict, ex=max(1, int(ttl)))
            pipe.execute()

    def claim_once(self, key: str, window: float) -> bool:
        """True the first time ``key`` is claimed within ``window`` seconds, across every
        process."""
        with self._errors():
            return bool(
                self.redis.set(self._k("once", key), "1", nx=True, px=max(1, int(window * 1000)))
            )

    # --- approvals: the records, as conveyor.shared.approvals reads and writes them --------

    def approval_records(self) -> dict[str, str]:
        """The open approval request of each automation: its key -> the record's JSON."""
        with self._errors():
            found = cast(dict[bytes, bytes], self.redis.hgetall(self._k("approvals")))
        return {k.decode(): v.decode() for k, v in found.items()}

    def closed_approval_records(self, limit: int = CLOSED_APPROVALS) -> list[str]:
        """The JSON of the approval requests closed last, newest first."""
        with self._errors():
            found = cast(list[bytes], self.redis.lrange(self._k("approvals-closed"), 0, limit - 1))
        return [r.decode() for r in found]

    def change_approval_record(
        self, key: str, change: Callable[[str | None], tuple[str | None, list[str], T]]
    ) -> T:
        """Read, change and write ``key``'s approval record as one step across every process
        (WATCH; ``change`` may be called again, so it must have no side effects): it gets the
        record's JSON (None: none) and returns the new one (None: none), the JSON of the records
        it closes (kept in the closed list), and what to return."""
        table, closed = self._k("approvals"), self._k("approvals-closed")
        with self._errors():
            for _ in range(50):
                with self.redis.pipeline() as pipe:
                    try:
                        pipe.watch(table)  # type: ignore[no-untyped-call]
                        raw = cast(bytes | None, pipe.hget(table, key))
                        new, done, answer = change(raw.decode() if raw is not None else None)
                        pipe.multi()
                        if new is None:
                            pipe.hdel(table, key)
                        else:
                            pipe.hset(table, key, new)
                        if done:
                            pipe.lpush(closed, *done)
                            pipe.ltrim(closed, 0, CLOSED_APPROVALS - 1)
                        pipe.execute()
                        return answer
                    except redis.exceptions.WatchError:
                        continue
        raise TransientError(f"{key}: its approval record kept changing; try again")

    # --- suspended from the command line ------------------------------------------------

    def set_suspended(self, key: str, suspended: bool) -> None:
        """``conveyor suspend`` (or ``resume``) of an object of a manifest folder: the folder
        is read again with ``spec.suspend: true`` on it until it is resumed, as ``flux
        suspend`` lasts in a cluster whatever Git does not set."""
        with self._errors():
            if suspended:
                self.redis.sadd(self._k("suspended"), key)
            else:
                self.redis.srem(self._k("suspended"), key)

    def suspended(self) -> set[str]:
        """The keys ``conveyor suspend`` holds suspended."""
        with self._errors():
            members = cast(set[bytes], self.redis.smembers(self._k("suspended")))
        return {m.decode() for m in members}

    # --- observability ------------------------------------------------------------------

    @staticmethod
    def run_entry(service: str, event: Mapping[str, Any], started_at: float) -> dict[str, Any]:
        """The journal's entry of an event a stage starts on, with the hop latency."""
        return {**event, "service": service, "started_at": started_at}

    def record(self, service: str, event: dict[str, Any], started_at: float) -> None:
        """Journal an event as a stage starts on it, with the hop latency."""
        self.settle(self.run_entry(service, event, started_at), {})

    def settle(self, journal: Mapping[str, Any] | None, metrics: Mapping[str, float]) -> None:
        """What a handled message left to write, in one round trip (none when nothing): its
        journal entry (``run_entry``) when no run wrote it, and the metrics recorded since its
        runs ended (``add_metrics``)."""
        if journal is None and not metrics:
            return
        with self._errors():
            pipe = self.redis.pipeline()
            if journal is not None:
                self._journal(pipe, journal)
            for name, amount in metrics.items():
                pipe.hincrbyfloat(self._k("metrics"), name, amount)
            pipe.execute()

    def _journal(self, pipe: Any, entry: Mapping[str, Any]) -> None:
        pipe.lpush(self._k("journal"), json.dumps(entry))
        pipe.ltrim(self._k("journal"), 0, JOURNAL_LENGTH - 1)

    def record_notice(self, entry: dict[str, Any]) -> None:
        """Journal a notice (``conveyor.shared.notices``) and append it to the notices stream
        that the Kubernetes Events writer and notifications read, in one round trip."""
        text = json.dumps(entry)
        with self._errors():
            pipe = self.redis.pipeline()
            pipe.lpush(self._k("journal"), text)
            pipe.ltrim(self._k("journal"), 0, JOURNAL_LENGTH - 1)
            pipe.xadd(self._k("notices"), {"n": text}, maxlen=NOTICES_LENGTH, approximate=True)
            pipe.execute()

    def notices_after(
        self, last_id: str, count: int = 500
    ) -> tuple[str, list[dict[str, Any]]]:
        """The notices appended after stream id ``last_id`` ("" for the end: none, but the id
        to read on from), at most ``count``; and the id of the last one returned."""
        stream = self._k("notices")
        with self._errors():
            if not last_id:
                newest = cast(list[Any], self.redis.xrevrange(stream, count=1))
                return (newest[0][0].decode() if newest else "0-0"), []
            found = cast(list[Any], self.redis.xrange(stream, f"({last_id}", "+", count=count))
        out: list[dict[str, Any]] = []
        for _, values in found:
            try:
                out.append(json.loads(values[b"n"]))
            except (KeyError, ValueError):
                continue
        return (found[-1][0].decode() if found else last_id), out

    # The notices stream read by a consumer group (``notify``): each notice goes to one reader
    # of the group, stays pending until acknowledged, and is read again by its reader after a
    # restart, or claimed by another once idle for long (a reader that died).

    def _group(self, group: str) -> None:
        """The consumer group ``group`` on the notices stream, reading from now on (made once;
        made again when Redis came back empty)."""
        try:
            self.redis.xgroup_create(self._k("notices"), group, id="$", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def join_notices(self, group: str) -> None:
        """Make the consumer group ``group`` (if there is none): the notices recorded from now
        on are its to read."""
        with self._errors():
            self._group(group)

    def read_notices(
        self, group: str, consumer: str, *, pending: bool = False, count: int = 100,
        block: float = 0.0,
    ) -> list[tuple[str, dict[str, Any] | None]]:
        """For ``consumer`` of ``group``: the notices not yet given to any reader of the group
        (waiting up to ``block`` seconds for one), or with ``pending`` those given to this
        consumer and not acknowledged; each with its stream id (None for one that no longer
        parses or was trimmed away: acknowledge it)."""
        stream = self._k("notices")
        wait = int(block * 1000) if block > 0 and not pending else None
        with self._errors():
            try:
                found = self.redis.xreadgroup(
                    group, consumer, {stream: "0" if pending else ">"}, count=count, block=wait
                )
            except redis.exceptions.ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                self._group(group)
                return []
        entries = cast(list[Any], found or [])
        return [_notice(i, values) for _, items in entries for i, values in items]

    def claim_notices(
        self, group: str, consumer: str, idle: float, count: int = 100
    ) -> list[tuple[str, dict[str, Any] | None]]:
        """The notices of ``group`` that another reader took and left unacknowledged for
        ``idle`` seconds, now ``consumer``'s (XAUTOCLAIM)."""
        with self._errors():
            try:
                answer: list[Any] = self.redis.xautoclaim(
                    self._k("notices"), group, consumer, int(idle * 1000), "0-0", count=count
                )
            except redis.exceptions.ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                self._group(group)
                return []
        return [_notice(i, values) for i, values in answer[1]]

    def ack_notices(self, group: str, ids: list[str]) -> None:
        if ids:
            with self._errors():
                self.redis.xack(self._k("notices"), group, *ids)

    def take_window(self, key: str, every: float, taker: str) -> bool:
        """Whether ``taker`` may have the one token of the current window of ``every`` seconds
        of ``key``, across every process (``_TAKE_WINDOW``); the same taker again: True."""
        now = int(time.time() * 1000)
        with self._errors():
            taken = self._window(
                keys=[self._k("window", key)], args=[now, max(1, int(every * 1000)), taker]
            )
        return bool(taken)

    def journal(self, limit: int = 1000) -> list[dict[str, Any]]:
        with self._errors():
            raw = self.redis.lrange(self._k("journal"), 0, limit - 1)
        return [json.loads(r) for r in reversed(raw)]

    def add_metrics(self, increments: Mapping[str, float]) -> None:
        """Add what a process recorded (``conveyor.shared.metrics``' fields) to the metrics
        every process sums into, in one round trip, all or nothing."""
        with self._errors():
            pipe = self.redis.pipeline()
            for name, amount in increments.items():
                pipe.hincrbyfloat(self._k("metrics"), name, amount)
            pipe.execute()

    def metrics(self) -> dict[str, float]:
        """The metrics every process recorded, by field (``conveyor.shared.metrics``)."""
        with self._errors():
            found = cast(dict[bytes, bytes], self.redis.hgetall(self._k("metrics")))
        out: dict[str, float] = {}
        for name, value in found.items():
            with contextlib.suppress(ValueError):
                out[name.decode(errors="replace")] = float(value)
        return out

    def forget_metrics(self, names: list[str]) -> None:
        """Drop fields of the metrics (the series of objects that are gone)."""
        if names:
            with self._errors():
                self.redis.hdel(self._k("metrics"), *names)

    def queue_lengths(self, queues: list[str]) -> dict[str, int]:
        """How many messages wait in each of the Celery ``queues`` (``conveyor.shared.bus``:
        Celery's Redis transport keeps a queue as a list under the queue's own name; conveyor
        sends no message priorities, which would go to lists beside it), in one round trip."""
        with self._errors():
            pipe = self.redis.pipeline(transaction=False)
            for queue in queues:
                pipe.llen(queue)
            lengths = pipe.execute()
        return {queue: int(n) for queue, n in zip(queues, lengths, strict=True)}

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except redis.exceptions.RedisError as exc:
            raise TransientError(f"state store unavailable: {type(exc).__name__}") from exc


def _notice(stream_id: Any, values: Any) -> tuple[str, dict[str, Any] | None]:
    """A notices stream entry: its id and the notice's journal entry (None: not one)."""
    ident = stream_id.decode() if isinstance(stream_id, bytes) else str(stream_id)
    try:
        entry = json.loads(values[b"n"])
    except (KeyError, TypeError, ValueError):
        return ident, None
    return ident, entry if isinstance(entry, dict) else None


def wait_for_redis(client: redis.Redis, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.ping()
            return
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            if time.monotonic() > deadline:
                raise TransientError("Redis did not answer") from exc
            time.sleep(0.1)


class _Leases:
    """The locks a process holds, kept alive by one thread: every third of a lease, one round
    trip renews each lock due, instead of a thread of its own per lock. It sleeps while no lock
    is held, and a lock released within a third of its lease (most runs) is never renewed."""

    def __init__(self, renew: Any) -> None:
        self._renew = renew  # the _RENEW_LOCKS script
        self._held: dict[str, tuple[str, float, float]] = {}  # name: token, lease, renewed
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def hold(self, name: str, token: str, lease: float) -> None:
        with self._changed:
            self._held[name] = (token, lease, time.monotonic())
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="leases", daemon=True)
                self._thread.start()
            self._changed.notify()

    def drop(self, name: str) -> None:
        with self._changed:
            self._held.pop(name, None)

    def _due(self) -> dict[str, tuple[str, float, float]]:
        """The locks whose renewal is due, waiting until one is."""
        with self._changed:
            while True:
                now = time.monotonic()
                due = {n: h for n, h in self._held.items() if now - h[2] >= h[1] / 3}
                if due:
                    return due
                soonest = min((h[2] + h[1] / 3 for h in self._held.values()), default=None)
                self._changed.wait(None if soonest is None else soonest - now)

    def _run(self) -> None:
        while True:
            due = self._due()
            names = list(due)
            args: list[str] = []
            for token, lease, _ in due.values():
                args += [token, str(max(1, int(lease * 1000)))]
            renewed = time.monotonic()
            try:
                lost = {n.decode() for n in self._renew(keys=names, args=args)}
            except redis.exceptions.RedisError as exc:  # the next round tries again
                log.warning("renewing %d lock(s): %s", len(names), type(exc).__name__)
                time.sleep(LOCK_POLL_SECONDS)
                continue
            with self._changed:
                for name in names:
                    held = self._held.get(name)
                    if held is None or held[0] != due[name][0]:
                        continue  # released meanwhile
                    if name in lost:
                        log.warning("%s: the lock's lease ran out before it was renewed", name)
                        del self._held[name]
                    else:
                        self._held[name] = (held[0], held[1], renewed)
