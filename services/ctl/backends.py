"""Where the objects of the conveyor the command talks to are, behind one small interface.

- ``StoreBackend``: conveyor's Redis (an embedded ``conveyor run``'s socket, or REDIS_URL: the
  compose stack from inside a container). Reads the objects, their status and the event
  journal; a reconcile request is Flux's ``reconcile.fluxcd.io/requestedAt`` set on the stored
  object, ``suspend`` its ``spec.suspend`` (kept across reloads of its manifest folder).
- ``ClusterBackend``: the Kubernetes API (``--from-cluster``: the objects live there, their
  status written back by conveyor). What ``flux`` itself does: get, annotate, patch
  ``spec.suspend``, and list the Events of Flux's kinds.
- ``ApiBackend``: a receiver's status API (``--server``, or the default address): read-only.

Every object comes back as the API server shows it: ``apiVersion``, ``kind``, ``metadata``,
``spec``, ``status`` (credentials in URLs taken out).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from conveyor.services.ctl import instance
from conveyor.services.ctl.kinds import BY_NAME, CtlKind
from conveyor.services.ctl.output import truncate_hex
from conveyor.shared.errors import ConveyorError, UsageError, scrub

if TYPE_CHECKING:
    from conveyor.shared.adapters.kube import Cluster, Resource
    from conveyor.shared.models import FluxObject
    from conveyor.shared.store import Store

Obj = dict[str, Any]

DEFAULT_SERVER = "http://127.0.0.1:9292"  # `conveyor run`'s and the compose stack's address
RECONCILE_REQUEST = "reconcile.fluxcd.io/requestedAt"  # as conveyor.shared.models
MAX_ANSWER_BYTES = 64 * 1024 * 1024


class NotFoundError(ConveyorError):
    """The object asked for does not exist where the command looked."""


@dataclass(frozen=True)
class Where:
    """What the command line says about where conveyor is."""

    data_dir: Path
    redis_url: str | None = None  # --redis, else REDIS_URL
    server: str | None = None  # --server
    from_cluster: bool = False
    kubeconfig: str | None = None  # KUBECONFIG
    in_cluster: bool = False  # no kubeconfig, in a pod


@dataclass(frozen=True)
class Event:
    """One line of ``conveyor events``."""

    time: float  # when last seen, seconds since the epoch (0: unknown)
    type: str  # Normal, Warning
    reason: str
    kind: str
    name: str
    namespace: str
    message: str
    key: str  # identity: the same key seen again with another ``count`` is an update
    count: int = 1
    first: float = 0.0  # when first seen (0: as ``time``)


class Backend(Protocol):
    label: str  # what the command talks to, for messages
    poll: float  # seconds between two looks while waiting

    def list_objects(self, kinds: Sequence[CtlKind], namespace: str | None) -> list[Obj]: ...

    def get(self, kind: CtlKind, namespace: str, name: str) -> Obj | None: ...

    def request_reconcile(self, kind: CtlKind, namespace: str, name: str, token: str) -> None:
        ...

    def set_suspended(self, kind: CtlKind, namespace: str, name: str, suspended: bool) -> None:
        ...

    def events(self, namespace: str | None) -> list[Event]: ...

    def entries(self, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` entries of conveyor's journal, oldest first."""
        ...


def scrubbed(value: Any) -> Any:
    """``value`` (JSON data) with ``user:password@`` taken out of the URLs in its strings."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: scrubbed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrubbed(v) for v in value]
    return value


def _not_found(kind: CtlKind, namespace: str, name: str) -> NotFoundError:
    return NotFoundError(
        f"{kind.name} object '{name}' not found in \"{namespace}\" namespace "
        f"(list them with: conveyor get {kind.singular} -A)"
    )


# --- conveyor's Redis ---------------------------------------------------------------------------


class StoreBackend:
    poll = 0.5

    def __init__(self, url: str, label: str) -> None:
        from conveyor.shared.errors import TransientError
        from conveyor.shared.store import Store, wait_for_redis

        self.label = label
        self.url = url  # a verb that sends events (conveyor rollback) reaches its queues here
        self.store: Store = Store.from_url(url)
        try:
            wait_for_redis(self.store.redis, timeout=3.0)
        except TransientError:
            raise UsageError(f"{label}: its Redis does not answer; is conveyor running?") from None

    def _item(self, obj: FluxObject, raw_status: bytes | None) -> Obj:
        return {
            "apiVersion": obj.api_version,
            "kind": obj.kind,
            "metadata": obj.object_meta(),
            "spec": scrubbed(obj.spec.wire()),
            "status": scrubbed(json.loads(raw_status)) if raw_status else {},
        }

    def list_objects(self, kinds: Sequence[CtlKind], namespace: str | None) -> list[Obj]:
        out: list[Obj] = []
        for kind in kinds:
            found = [
                o for o in self.store.list_objects(kind.name)
                if namespace is None or o.namespace == namespace
            ]
            statuses = self.store.raw_statuses([o.key for o in found])
            out += [self._item(o, raw) for o, raw in zip(found, statuses, strict=True)]
        return out

    def _stored(self, kind: CtlKind, namespace: str, name: str) -> FluxObject | None:
        obj = self.store.get_object(f"{kind.name}/{namespace}/{name}")
        return obj if obj is not None and obj.kind == kind.name else None

    def get(self, kind: CtlKind, namespace: str, name: str) -> Obj | None:
        obj = self._stored(kind, namespace, name)
        if obj is None:
            return None
        return self._item(obj, self.store.raw_statuses([obj.key])[0])

    def _writable(self, kind: CtlKind, namespace: str, name: str) -> FluxObject:
        obj = self._stored(kind, namespace, name)
        if obj is None:
            raise _not_found(kind, namespace, name)
        if obj.source.startswith("cluster:"):
            raise UsageError(
                f"{kind.name} {namespace}/{name} lives in the cluster: change it there, "
                f"with --from-cluster (and KUBECONFIG)"
            )
        return obj

    def request_reconcile(self, kind: CtlKind, namespace: str, name: str, token: str) -> None:
        obj = self._writable(kind, namespace, name)
        annotations = {**obj.metadata.annotations, RECONCILE_REQUEST: token}
        meta = obj.metadata.model_copy(update={"annotations": annotations})
        self.store.put_object(obj.model_copy(update={"metadata": meta}))  # due at once

    def set_suspended(self, kind: CtlKind, namespace: str, name: str, suspended: bool) -> None:
        obj = self._writable(kind, namespace, name)
        self.store.set_suspended(obj.key, suspended)  # kept when its manifests are read again
        spec = obj.spec.model_copy(update={"suspend": suspended})
        self.store.put_object(obj.model_copy(update={"spec": spec}))  # a new generation

    def events(self, namespace: str | None) -> list[Event]:
        return journal_events(self.store.journal(2000), namespace)

    def entries(self, limit: int) -> list[dict[str, Any]]:
        return [scrubbed(e) for e in self.store.journal(limit) if isinstance(e, dict)]


# The object an event between stages is about, by its type (ReconcileRequested names its own).
_EVENT_KIND = {
    "SourceUpdated": "GitRepository",
    "TagsScanned": "ImageRepository",
    "PolicyChanged": "ImagePolicy",
    "CommitPushed": "ImageUpdateAutomation",
}


def _journal_message(entry: dict[str, Any]) -> str:
    kind = entry.get("type")
    if kind == "ReconcileRequested":
        tags = entry.get("tags") or []
        text = f"reconcile requested ({entry.get('reason', 'requested')})"
        return text + (f", tags {', '.join(str(t) for t in tags)}" if tags else "")
    if kind == "SourceUpdated":
        return f"new artifact revision {entry.get('revision', '')}"
    if kind == "TagsScanned":
        return f"tag list changed: {entry.get('tag_count', '?')} tags"
    if kind == "PolicyChanged":
        digest = entry.get("digest")
        ref = f"{entry.get('image', '')}:{entry.get('tag', '')}" + (f"@{digest}" if digest else "")
        return f"latest image {ref}"
    if kind == "CommitPushed":
        return (
            f"pushed commit {entry.get('commit', '')} to branch {entry.get('branch', '')} of "
            f"GitRepository/{entry.get('source_namespace', '')}/{entry.get('source_name', '')}"
        )
    return str(kind)


def journal_events(entries: list[dict[str, Any]], namespace: str | None) -> list[Event]:
    """conveyor's event journal (oldest first) as ``conveyor events`` lines: one per event,
    naming the services it reached and its trace."""
    merged: dict[str, tuple[dict[str, Any], list[str]]] = {}
    notices: list[Event] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        if entry.get("type") == "Notice":  # one of Flux's events, as a stage said it
            notice = _notice_event(entry, namespace)
            if notice is not None:
                notices.append(notice)
            continue
        kind = entry.get("kind") if entry.get("type") == "ReconcileRequested" else (
            _EVENT_KIND.get(str(entry.get("type")))
        )
        if kind not in BY_NAME or (namespace is not None and entry.get("namespace") != namespace):
            continue
        key = "/".join(
            str(entry.get(k, "")) for k in ("type", "trace_id", "emitted_at", "namespace", "name")
        )
        _, services = merged.setdefault(key, (entry, []))
        service = str(entry.get("service", ""))
        if service and service not in services:
            services.append(service)
    out = []
    for key, (entry, services) in merged.items():
        kind = entry.get("kind") if entry.get("type") == "ReconcileRequested" else (
            _EVENT_KIND[str(entry.get("type"))]
        )
        message = truncate_hex(scrub(_journal_message(entry)))
        if services:
            message += f" → {', '.join(services)}"
        message += f" [trace {entry.get('trace_id', '')}]"
        when = entry.get("emitted_at")
        out.append(
            Event(
                time=float(when) if isinstance(when, int | float) else 0.0,
                type="Normal",
                reason=str(entry.get("type", "")),
                kind=str(kind),
                name=str(entry.get("name", "")),
                namespace=str(entry.get("namespace", "")),
                message=message,
                key=key,
            )
        )
    return sorted(out + notices, key=lambda e: e.time)


def _notice_event(entry: dict[str, Any], namespace: str | None) -> Event | None:
    from conveyor.shared.notices import Notice

    try:
        notice = Notice.from_entry(entry)
    except (KeyError, TypeError, ValueError):
        return None
    if notice.kind not in BY_NAME or (namespace is not None and notice.namespace != namespace):
        return None
    trace = f" [trace {notice.trace_id}]" if notice.trace_id else ""
    return Event(
        time=notice.timestamp,
        type=notice.event_type,
        reason=notice.reason,
        kind=notice.kind,
        name=notice.name,
        namespace=notice.namespace,
        message=truncate_hex(scrub(notice.message)) + trace,
        key=f"notice/{notice.trace_id}/{notice.timestamp}/{notice.kind}/{notice.namespace}/"
        f"{notice.name}/{notice.reason}",
    )


# --- the cluster ---------------------------------------------------------------------------------


def _plain(item: Obj) -> Obj:
    """An object as ``kubectl get -o json`` shows it (no managedFields), credentials taken out
    of its URLs as in every answer of conveyor's."""
    meta = item.get("metadata")
    if isinstance(meta, dict):
        item["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    cleaned: Obj = scrubbed(item)
    return cleaned


class ClusterBackend:
    poll = 1.0

    def __init__(self, kubeconfig: str | None, in_cluster: bool, label: str = "cluster") -> None:
        from conveyor.shared.adapters.kube import configured_target, connect

        target = configured_target(kubeconfig, in_cluster)
        if target is None:
            raise UsageError("--from-cluster needs KUBECONFIG (or to run in a pod)")
        self.label = label
        self.cluster: Cluster = connect(target)
        self._served: dict[str, Resource | None] = {}

    def _resource(self, kind: CtlKind, required: bool = True) -> Resource | None:
        from conveyor.shared.adapters.kube import ApiRejected

        if kind.name not in self._served:
            found = None
            for api_version in reversed(kind.api_versions()):  # the newest served version
                try:
                    found = self.cluster.resource_for(api_version, kind.name)
                except ApiRejected:
                    found = None
                if found is not None:
                    break
            self._served[kind.name] = found
        res = self._served[kind.name]
        if res is None and required:
            raise UsageError(
                f"the cluster does not serve {kind.name} ({kind.group}): install Flux's CRDs "
                f"(kubectl apply -f crds/flux/2.9/)"
            )
        return res

    def list_objects(self, kinds: Sequence[CtlKind], namespace: str | None) -> list[Obj]:
        out: list[Obj] = []
        for kind in kinds:
            res = self._resource(kind, required=len(kinds) == 1)
            if res is None:
                continue  # `get all`: a kind the cluster does not serve is passed over
            base = f"/apis/{res.group}/{res.version}"
            where = f"/namespaces/{urllib.parse.quote(namespace, safe='')}" if namespace else ""
            answer = self.cluster.request("GET", f"{base}{where}/{res.plural}") or {}
            for item in answer.get("items") or []:
                out.append(_plain({**item, "apiVersion": res.api_version, "kind": res.kind}))
        return out

    def get(self, kind: CtlKind, namespace: str, name: str) -> Obj | None:
        res = self._resource(kind)
        assert res is not None
        found = self.cluster.get(res, namespace, name)
        return _plain({**found, "apiVersion": res.api_version, "kind": res.kind}) if found else None

    def _patch(self, kind: CtlKind, namespace: str, name: str, body: Obj) -> None:
        from conveyor.shared.adapters.kube import ApiRejected

        res = self._resource(kind)
        assert res is not None
        try:
            self.cluster.request(
                "PATCH", res.path(namespace, name), body=body,
                content_type="application/merge-patch+json",
            )
        except ApiRejected as exc:
            if exc.not_found:
                raise _not_found(kind, namespace, name) from None
            raise

    def request_reconcile(self, kind: CtlKind, namespace: str, name: str, token: str) -> None:
        annotations = {RECONCILE_REQUEST: token}
        self._patch(kind, namespace, name, {"metadata": {"annotations": annotations}})

    def set_suspended(self, kind: CtlKind, namespace: str, name: str, suspended: bool) -> None:
        # as flux's merge patch: `suspend: false` is omitted from Flux's types, so removed
        self._patch(kind, namespace, name, {"spec": {"suspend": True if suspended else None}})

    def events(self, namespace: str | None) -> list[Event]:
        where = f"/namespaces/{urllib.parse.quote(namespace, safe='')}" if namespace else ""
        items: list[Obj] = []
        token = ""
        while True:
            query = [("limit", "500")] + ([("continue", token)] if token else [])
            answer = self.cluster.request("GET", f"/api/v1{where}/events", query=query) or {}
            items += [i for i in answer.get("items") or [] if isinstance(i, dict)]
            token = str((answer.get("metadata") or {}).get("continue") or "")
            if not token:
                break
        return sorted(
            (e for e in (kube_event(i) for i in items) if e is not None), key=lambda e: e.time
        )

    def entries(self, limit: int) -> list[dict[str, Any]]:
        raise UsageError(
            f"{self.label}: conveyor's journal is in its Redis, not in the cluster: run this "
            f"where that Redis is reachable (kubectl -n flux-system exec deploy/receiver -- "
            f"conveyor ...), or give its status API (--server) or REDIS_URL"
        )


def _timestamp(value: Any) -> float:
    """Seconds since the epoch of an RFC 3339 time (0 when absent or unreadable)."""
    if not isinstance(value, str) or not value:
        return 0.0
    from datetime import datetime

    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def kube_event(item: Obj) -> Event | None:
    """A core/v1 Event about a Flux object as a line of ``conveyor events`` (None for any
    other), its times as flux reads them."""
    involved = item.get("involvedObject") or {}
    if involved.get("kind") not in BY_NAME:
        return None
    meta = item.get("metadata") or {}
    series = item.get("series") or {}
    event_time = _timestamp(item.get("eventTime"))
    first = event_time or _timestamp(item.get("firstTimestamp"))
    if series:
        last, count = _timestamp(series.get("lastObservedTime")), int(series.get("count") or 1)
    else:
        last = _timestamp(item.get("lastTimestamp")) or event_time
        count = int(item.get("count") or 1)
    return Event(
        time=last,
        type=str(item.get("type", "")),
        reason=str(item.get("reason", "")),
        kind=str(involved.get("kind")),
        name=str(involved.get("name", "")),
        namespace=str(meta.get("namespace", "")),
        message=scrub(str(item.get("message", ""))),
        key=str(meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}"),
        count=count,
        first=first,
    )


# --- a status API --------------------------------------------------------------------------------


class ApiBackend:
    poll = 1.0

    def __init__(self, server: str) -> None:
        self.server = server.rstrip("/")
        self.label = f"the status API at {self.server}"

    def _get(self, path: str) -> Any:
        try:
            with urllib.request.urlopen(self.server + path, timeout=10) as answer:
                return json.loads(answer.read(MAX_ANSWER_BYTES))
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise ConveyorError(f"{self.label}: {path}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise UsageError(
                f"{self.label} does not answer ({exc}); is conveyor running?"
            ) from None

    @staticmethod
    def _item(entry: Obj) -> Obj:
        meta: Obj = {"name": entry.get("name"), "namespace": entry.get("namespace")}
        if "generation" in entry:
            meta["generation"] = entry["generation"]
        kind = BY_NAME.get(str(entry.get("kind")))
        api_version = entry.get("apiVersion") or (kind.api_versions()[-1] if kind else "")
        return {
            "apiVersion": api_version,
            "kind": entry.get("kind"),
            "metadata": meta,
            "spec": entry.get("spec") or {},
            "status": entry.get("status") or {},
        }

    def list_objects(self, kinds: Sequence[CtlKind], namespace: str | None) -> list[Obj]:
        names = {k.name for k in kinds}
        entries = self._get("/api/v1/objects") or []
        return [
            self._item(e) for e in entries
            if isinstance(e, dict) and e.get("kind") in names
            and (namespace is None or e.get("namespace") == namespace)
        ]

    def get(self, kind: CtlKind, namespace: str, name: str) -> Obj | None:
        quoted = "/".join(urllib.parse.quote(p, safe="") for p in (kind.name, namespace, name))
        entry = self._get(f"/api/v1/objects/{quoted}")
        return self._item(entry) if isinstance(entry, dict) else None

    def _read_only(self) -> UsageError:
        return UsageError(
            f"{self.label} is read-only: run this where conveyor's Redis is reachable "
            f"(`docker compose exec receiver conveyor ...`, or give REDIS_URL / --redis)"
        )

    def request_reconcile(self, kind: CtlKind, namespace: str, name: str, token: str) -> None:
        raise self._read_only()

    def set_suspended(self, kind: CtlKind, namespace: str, name: str, suspended: bool) -> None:
        raise self._read_only()

    def events(self, namespace: str | None) -> list[Event]:
        return journal_events(self.entries(1000), namespace)

    def entries(self, limit: int) -> list[dict[str, Any]]:
        found = self._get(f"/api/v1/events?limit={int(limit)}") or []
        return [e for e in found if isinstance(e, dict)]


def answers(server: str, timeout: float = 0.5) -> bool:
    """Whether a conveyor status API answers at ``server``."""
    try:
        with urllib.request.urlopen(f"{server}/healthz", timeout=timeout) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


# --- a cluster's objects, a conveyor's journal ------------------------------------------------


class Split:
    """A ``conveyor run --from-cluster`` on this machine: its objects in the cluster (changed
    there, as flux does), its event journal in its Redis (opened when asked for)."""

    def __init__(self, objects: ClusterBackend, journal: Callable[[], Backend]) -> None:
        self.objects, self._journal = objects, journal
        self.label, self.poll = objects.label, objects.poll

    def list_objects(self, kinds: Sequence[CtlKind], namespace: str | None) -> list[Obj]:
        return self.objects.list_objects(kinds, namespace)

    def get(self, kind: CtlKind, namespace: str, name: str) -> Obj | None:
        return self.objects.get(kind, namespace, name)

    def request_reconcile(self, kind: CtlKind, namespace: str, name: str, token: str) -> None:
        self.objects.request_reconcile(kind, namespace, name, token)

    def set_suspended(self, kind: CtlKind, namespace: str, name: str, suspended: bool) -> None:
        self.objects.set_suspended(kind, namespace, name, suspended)

    def events(self, namespace: str | None) -> list[Event]:
        return self._journal().events(namespace)

    def journal(self) -> Backend:
        """The run's Redis (its journal, and the store its stages work from)."""
        return self._journal()

    def entries(self, limit: int) -> list[dict[str, Any]]:
        return self._journal().entries(limit)


def connect(where: Where) -> Backend:
    """The conveyor ``where`` points at (module docstring of ``conveyor.services.ctl``)."""
    if where.from_cluster:
        return ClusterBackend(where.kubeconfig, where.in_cluster)
    if where.server:
        return ApiBackend(where.server)
    if where.redis_url:
        return StoreBackend(where.redis_url, f"the Redis of REDIS_URL ({_safe(where.redis_url)})")
    found = instance.find(where.data_dir)
    if found is not None:
        label = f"the conveyor running on {where.data_dir} (pid {found.pid})"
        redis = found.redis
        if redis is None:
            raise UsageError(f"{label} uses a Redis with a password: give its URL as REDIS_URL")
        if found.source == "cluster":
            cluster = ClusterBackend(
                where.kubeconfig or found.kubeconfig, where.in_cluster, f"the cluster of {label}"
            )
            return Split(cluster, lambda: StoreBackend(redis, label))
        return StoreBackend(redis, label)
    if answers(DEFAULT_SERVER):
        return ApiBackend(DEFAULT_SERVER)
    raise UsageError(
        f"no conveyor found: none runs on the data directory {where.data_dir} (--data, "
        f"CONVEYOR_DATA), REDIS_URL is not set, and nothing answers on {DEFAULT_SERVER}. "
        f"Start one (conveyor run --manifests DIR) or point at one: --data, --redis, --server, "
        f"--from-cluster"
    )


def _safe(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))

