"""Rollback on failed health checks (beyond Flux, opt-in): what it records and what it reads.

An ImageUpdateAutomation annotated ``conveyor.dev/rollback: health`` (Flux's CRD schemas prune
a field they do not have; ``off``, or no annotation: never) is rolled back when a Kustomization
that applies its commits fails its health checks:

1. the git-committer records each commit it pushes, with what its setters changed for each
   policy (the image before and after), here (``record_push``), every automation alike;
2. the applier, when the health checks of a revision fail, follows that revision back to the
   last one that was healthy (``pushes_since``: each commit to the one it was made upon, as the
   pushes and the fetches recorded them) and, for each opted-in automation whose pushes it
   finds, marks their new tags failed for their policies (``mark_failed``) and asks the
   git-committer for a rollback (``RollbackRequested``, in the same trace);
3. the git-committer commits the values from before those pushes back, with a message saying
   why, and pushes as it always does; the policy-evaluator never chooses a failed tag, and the
   git-committer never writes one, until the mark is cleared (``conveyor rollback automation
   NAME --clear``).

A rollback never goes further back than the last healthy revision, and is never rolled back
itself: the rollback's own commit failing its health checks too leaves everything as it is.

Kept in the store, under its prefix:

    pushes:<automation key>   list, newest first: the automation's last PUSHES_KEPT pushes
                              (``Push``), kept PUSHES_TTL seconds after the last one
    failed-tags:<policy key>  hash: tag -> why it was marked failed (JSON), until cleared
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import redis

from conveyor.shared.errors import InvalidSpec, TransientError
from conveyor.shared.kinds import Kind
from conveyor.shared.models import FluxObject, ImageUpdateAutomation
from conveyor.shared.notices import ERROR, MAX_MESSAGE, Notice
from conveyor.shared.status import ImageRef
from conveyor.shared.store import Store

ANNOTATION = "conveyor.dev/rollback"
MODES = ("health", "off")
REASON = "InvalidRollbackConfig"
PUSHES_KEPT = 50
PUSHES_TTL = 30 * 24 * 3600
MAX_WHY = 2000  # characters of a reason kept with a mark, or carried by an event
MAX_FAILED = 1000  # marks read of one policy (a hash grows by one per failed rollback)
WALK_LIMIT = 64  # commits followed back from a failing revision
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")  # the OCI distribution spec's tag
_COMMIT = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")


def mode(obj: ImageUpdateAutomation) -> str | None:
    """The automation's ``conveyor.dev/rollback`` (None: not set); a value that is not one of
    ``MODES`` is refused by name (``InvalidSpec``: Stalled)."""
    value = obj.metadata.annotations.get(ANNOTATION)
    if value is None or value in MODES:
        return value
    raise InvalidSpec(
        f"ImageUpdateAutomation {obj.namespace}/{obj.name}: annotation {ANNOTATION}: "
        f"{value[:100]!r} is not one of {', '.join(MODES)}",
        reason=REASON,
    )


def opted_in(obj: ImageUpdateAutomation) -> bool:
    """Whether failed health checks roll ``obj``'s commits back (an invalid value: no; the
    automation itself says why)."""
    try:
        return mode(obj) == "health"
    except InvalidSpec:
        return False


def commit_of(revision: str) -> str:
    """The commit of a GitRepository revision (``main@sha1:<hex>``, or a bare commit)."""
    return revision.rpartition(":")[2]


# --- what each push changed ------------------------------------------------------------------


@dataclass(frozen=True)
class Changed:
    """One policy's image in the files, before and after a push."""

    policy: str  # "ns:name", as markers name it
    before: ImageRef
    after: ImageRef


@dataclass(frozen=True)
class Push:
    """A commit an automation pushed: on which commit (``base``), to which branch of which
    GitRepository (its store key), and what its setters changed; ``rollback``: it put older
    values back (it is never rolled back itself)."""

    commit: str
    base: str
    branch: str
    source: str
    at: float
    trace_id: str
    changed: tuple[Changed, ...]
    rollback: bool = False

    def data(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "base": self.base,
            "branch": self.branch,
            "source": self.source,
            "at": self.at,
            "trace_id": self.trace_id,
            "rollback": self.rollback,
            "changed": [
                {"policy": c.policy, "before": c.before.wire(), "after": c.after.wire()}
                for c in self.changed
            ],
        }

    @classmethod
    def parse(cls, raw: bytes | str) -> Push | None:
        """A record as ``data`` wrote it; None for one that is not (never trusted further)."""
        try:
            data = json.loads(raw)
            changed = tuple(
                Changed(
                    policy=str(c["policy"]),
                    before=ImageRef.model_validate(c["before"]),
                    after=ImageRef.model_validate(c["after"]),
                )
                for c in data["changed"]
            )
            push = cls(
                commit=str(data["commit"]),
                base=str(data["base"]),
                branch=str(data["branch"]),
                source=str(data["source"]),
                at=float(data["at"]),
                trace_id=str(data.get("trace_id", "")),
                changed=changed,
                rollback=bool(data.get("rollback", False)),
            )
        except (ValueError, TypeError, KeyError):
            return None
        return push if _COMMIT.fullmatch(push.commit) else None


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except redis.exceptions.RedisError as exc:
        raise TransientError(f"state store unavailable: {type(exc).__name__}") from exc


def _key(store: Store, *parts: str) -> str:
    return store.prefix + ":".join(parts)


def record_push(store: Store, automation: str, push: Push) -> None:
    """Keep ``push`` as the newest of automation ``automation``'s (store key) pushes."""
    key = _key(store, "pushes", automation)
    with _errors():
        pipe = store.redis.pipeline()
        pipe.lpush(key, json.dumps(push.data()))
        pipe.ltrim(key, 0, PUSHES_KEPT - 1)
        pipe.expire(key, PUSHES_TTL)
        pipe.execute()


def pushes_of(store: Store, automations: list[str]) -> dict[str, list[Push]]:
    """The recorded pushes of each automation (store keys), newest first, in one round trip."""
    if not automations:
        return {}
    with _errors():
        pipe = store.redis.pipeline()
        for automation in automations:
            pipe.lrange(_key(store, "pushes", automation), 0, PUSHES_KEPT - 1)
        found = pipe.execute()
    out: dict[str, list[Push]] = {}
    for automation, raws in zip(automations, found, strict=True):
        parsed = (Push.parse(raw) for raw in raws)
        out[automation] = [p for p in parsed if p is not None]
    return out


def pushes_since(
    store: Store,
    source: str,
    failing: str,
    healthy: str,
    pushed: Mapping[str, Push],
    limit: int = WALK_LIMIT,
) -> list[Push] | None:
    """The pushes of ``pushed`` (by commit) that commit ``failing`` of GitRepository ``source``
    holds since commit ``healthy``, newest first: each commit is followed back to the one it
    was made upon (a push's own base, else the base recorded with its changes by the fetch).
    None when ``healthy`` is not reached within ``limit`` commits: which pushes came since it
    cannot be told."""
    found: list[Push] = []
    commit, seen = failing, set[str]()
    for _ in range(limit):
        if commit == healthy:
            return found
        if commit in seen:
            return None
        seen.add(commit)
        push = pushed.get(commit)
        base: str | None = None
        if push is not None:
            found.append(push)
            base = push.base
            if base != healthy and base not in pushed and store.base_of(source, base) is None:
                base = store.base_of(source, commit)  # the fetch's view: its base is known
        else:
            base = store.base_of(source, commit)
        if base is None:
            return None
        commit = base
    return None


# --- failed tags -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Failed:
    tag: str
    why: str
    at: float


def mark_failed(store: Store, policy: str, tag: str, why: str) -> bool:
    """Mark ``tag`` failed for the ImagePolicy ``policy`` (store key), keeping the first reason;
    True when it was not marked yet."""
    if not TAG.fullmatch(tag):
        return False
    value = json.dumps({"why": why[:MAX_WHY], "at": time.time()})
    with _errors():
        return bool(store.redis.hsetnx(_key(store, "failed-tags", policy), tag, value))


def failed_tags(store: Store, policy: str) -> dict[str, Failed]:
    """The tags marked failed for ImagePolicy ``policy`` (store key)."""
    with _errors():
        found = cast(dict[bytes, bytes], store.redis.hgetall(_key(store, "failed-tags", policy)))
    out: dict[str, Failed] = {}
    for raw_tag, raw in list(found.items())[:MAX_FAILED]:
        tag = raw_tag.decode(errors="replace")
        try:
            data = json.loads(raw)
            out[tag] = Failed(tag, str(data.get("why", "")), float(data.get("at", 0.0)))
        except (ValueError, TypeError, AttributeError):
            out[tag] = Failed(tag, "", 0.0)
    return out


# Whether each hash of KEYS has the field of ARGV at the same place: one command (a pipeline
# of one HEXISTS a policy costs the client a reply each).
_FAILED_AMONG = """
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('HEXISTS', key, ARGV[i])
end
return out
"""


def failed_among(store: Store, chosen: Mapping[str, str]) -> set[str]:
    """Of ``chosen`` (policy store key -> tag), the policies whose tag is marked failed, in one
    round trip."""
    keys = sorted(chosen)
    if not keys:
        return set()
    with _errors():
        found = cast(list[Any], store.redis.register_script(_FAILED_AMONG)(
            keys=[_key(store, "failed-tags", key) for key in keys],
            args=[chosen[key] for key in keys],
        ))
    return {key for key, there in zip(keys, found, strict=True) if there}


def clear_failed(store: Store, policies: list[str]) -> dict[str, list[str]]:
    """Forget the failed marks of ``policies`` (store keys): the tags each had."""
    out: dict[str, list[str]] = {}
    for policy in policies:
        tags = sorted(failed_tags(store, policy))
        if tags:
            with _errors():
                store.redis.delete(_key(store, "failed-tags", policy))
            out[policy] = tags
    return out


def skipped(tags: list[str], failed: Mapping[str, Failed], most: int = 10) -> str:
    """What a Ready message says of the failed ``tags`` a policy left out ("" for none)."""
    left_out = sorted(t for t in tags if t in failed)
    if not left_out:
        return ""
    more = f" and {len(left_out) - most} more" if len(left_out) > most else ""
    return f"; skipped failed tags: {', '.join(left_out[:most])}{more}"


# --- what a rollback says --------------------------------------------------------------------


def notice(
    kind: Kind[Any, Any],
    obj: FluxObject,
    reason: str,
    message: str,
    trace_id: str,
    metadata: Mapping[str, str] | None = None,
    severity: str = ERROR,
) -> Notice:
    """One of Flux's events about ``obj`` (a rollback's Warning, by default), said outside a
    run's outcome (the applier says it while its run fails)."""
    return Notice(
        kind=obj.kind,
        namespace=obj.namespace,
        name=obj.name,
        api_version=obj.api_version,
        uid=obj.metadata.uid,
        severity=severity,
        reason=reason,
        message=message[:MAX_MESSAGE],
        metadata={f"{kind.group}/{k}": v for k, v in (metadata or {}).items()},
        controller=kind.controller,
        trace_id=trace_id,
    )
