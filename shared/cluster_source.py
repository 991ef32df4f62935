"""Flux objects from a cluster: conveyor as a drop-in for Flux's controllers.

Lists the Flux custom resources (every kind of the registry, at the newest version the API
server serves), and reads the Secrets and ConfigMaps they reference (those alone: by name,
``conveyor.shared.secretrefs``), into the store (each with the cluster's
``metadata.generation``); and writes each object's status back to its
``/status`` subresource, as Flux writes it for that version, when it changed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from conveyor.shared.adapters.kube import ApiRejected, ApiUnavailable, Cluster, Resource
from conveyor.shared.errors import ConveyorError, TransientError
from conveyor.shared.kinds import BY_NAME, KINDS, Kind
from conveyor.shared.kube_events import KubeEvents
from conveyor.shared.manifests import LoadResult, parse_document
from conveyor.shared.models import FluxObject
from conveyor.shared.secretrefs import referenced
from conveyor.shared.store import Store
from conveyor.shared.yamlsrc import Document

log = logging.getLogger("conveyor.cluster")

FLUX_KINDS: tuple[Kind[Any, Any], ...] = tuple(k for k in KINDS if k.flux)
# From this many referenced objects of one kind in one namespace, one LIST (of which only
# those are kept) instead of a GET each
LIST_FROM = 8


def _resource(cluster: Cluster, kind: Kind[Any, Any]) -> Resource | None:
    for api_version in reversed(kind.api_versions):  # the newest served version
        try:
            found = cluster.resource_for(api_version, kind.name)
        except ApiRejected:
            found = None
        if found is not None:
            return found
    return None


def _list(cluster: Cluster, res: Resource, namespace: str | None = None) -> list[dict[str, Any]]:
    base = f"/apis/{res.group}/{res.version}" if res.group else f"/api/{res.version}"
    path = f"{base}/namespaces/{namespace}/{res.plural}" if namespace else f"{base}/{res.plural}"
    items = (cluster.request("GET", path) or {}).get("items") or []
    return [{**item, "apiVersion": res.api_version, "kind": res.kind} for item in items]


def _get(cluster: Cluster, res: Resource, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        item = cluster.request("GET", res.path(namespace, name))
    except ApiRejected as exc:
        if exc.not_found:
            return None  # the stage that reads it says it is missing
        raise
    return {**item, "apiVersion": res.api_version, "kind": res.kind} if item else None


def _referenced(cluster: Cluster, wanted: set[str], errors: list[str]) -> list[FluxObject]:
    """The Secrets and ConfigMaps of ``wanted`` (their keys) that exist: each read by name,
    or, where a namespace has ``LIST_FROM`` or more of one kind, by one LIST of which only
    those are kept."""
    places: dict[tuple[str, str], set[str]] = {}
    for key in wanted:
        kind, namespace, name = key.split("/", 2)
        places.setdefault((kind, namespace), set()).add(name)
    found: list[FluxObject] = []
    for (kind, namespace), names in sorted(places.items()):
        res = _resource(cluster, BY_NAME[kind])
        if res is None:
            raise TransientError(f"the cluster does not serve {kind}")
        if len(names) >= LIST_FROM:
            items = [
                item
                for item in _list(cluster, res, namespace)
                if (item.get("metadata") or {}).get("name") in names
            ]
        else:
            got = (_get(cluster, res, namespace, name) for name in sorted(names))
            items = [item for item in got if item is not None]
        for item in items:
            try:
                found.append(parse_document(_document(item)))
            except ConveyorError as exc:
                errors.append(str(exc))
    return found


def _document(item: dict[str, Any]) -> Document:
    meta = item.get("metadata") or {}
    where = f"cluster:{item['kind']}/{meta.get('namespace', '')}/{meta.get('name', '')}"
    data: dict[str, Any] = {
        k: item[k]
        for k in ("apiVersion", "kind", "data", "stringData", "type", "spec")
        if k in item
    }
    data["metadata"] = {
        k: meta[k]
        for k in ("name", "namespace", "generation", "uid", "labels", "annotations")
        if k in meta
    }
    return Document(data=data, file=where, line=1)


Statuses = dict[str, dict[str, Any]]  # object key -> its status as the API server has it


def load_from_cluster(cluster: Cluster) -> tuple[LoadResult, Statuses]:
    """Every Flux object in the cluster, and the Secrets and ConfigMaps they reference; and
    the status each Flux object has there."""
    objects: list[FluxObject] = []
    errors: list[str] = []
    statuses: Statuses = {}
    try:
        for kind in FLUX_KINDS:
            res = _resource(cluster, kind)
            if res is None:
                continue  # that CRD is not installed
            for item in _list(cluster, res):
                try:
                    obj = parse_document(_document(item))
                except ConveyorError as exc:
                    errors.append(str(exc))
                    continue
                objects.append(obj)
                statuses[obj.key] = item.get("status") or {}
        objects += _referenced(cluster, referenced(objects), errors)
    except (ApiRejected, ApiUnavailable) as exc:
        raise TransientError(f"reading Flux objects from the cluster: {exc}") from exc
    return LoadResult(objects=objects, errors=errors), statuses


class ClusterSource:
    """The objects of a cluster, re-listed every ``every`` seconds; statuses written back, and
    the stages' notices written as Events."""

    def __init__(self, cluster: Cluster, every: float = 5.0) -> None:
        self.cluster = cluster
        self.every = every
        self.mirror = StatusMirror(cluster)
        self.events = KubeEvents(cluster)
        self._listed = 0.0

    def refresh(self, store: Store, *, force: bool = False) -> list[str]:
        errors: list[str] = []
        statuses: Statuses | None = None
        if force or time.monotonic() - self._listed >= self.every or not store.loaded():
            result, statuses = load_from_cluster(self.cluster)
            store.replace_objects(
                result.objects, given_generations=True, partial=bool(result.errors)
            )
            errors = result.errors
            self._listed = time.monotonic()
        self.mirror.sync(store, statuses)
        self.events.sync(store)
        return errors


def merge_patch(current: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) that makes ``current`` ``desired``: what differs, and
    null for what ``desired`` no longer has (lists are replaced whole)."""
    patch: dict[str, Any] = dict.fromkeys(current.keys() - desired.keys())
    for key, value in desired.items():
        old = current.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            inner = merge_patch(old, value)
            if inner:
                patch[key] = inner
        elif key not in current or value != old:
            patch[key] = value
    return patch


@dataclass
class _Written:
    raw: bytes  # the stored status it was made from
    answer: dict[str, Any]  # the status the API server kept (pruned to the version's schema)


@dataclass
class _Refused:
    raw: bytes
    message: str
    delay: float
    until: float


class StatusMirror:
    """Writes each Flux object's status to its resource in the cluster when it changed.

    A status is written as Flux writes it for the version the object is served as, as a merge
    patch against what the cluster has (a field conveyor does not set is removed). What the
    API server kept is remembered: an unchanged status is neither parsed nor sent again, and
    a status changed in the cluster by someone else is written again after the next listing.
    A write the API server refuses is logged once (again only when its answer changes) and
    not sent again before ``retry_after`` seconds, doubling up to ``max_retry``, unless the
    status changes.
    """

    def __init__(
        self, cluster: Cluster, retry_after: float = 30.0, max_retry: float = 600.0
    ) -> None:
        self.cluster = cluster
        self.retry_after, self.max_retry = retry_after, max_retry
        self._cluster: Statuses = {}  # what the cluster has, as last listed or answered
        self._written: dict[str, _Written] = {}
        self._refused: dict[str, _Refused] = {}

    def _listed(self, statuses: Statuses) -> None:
        for key, known in list(self._written.items()):
            if statuses.get(key) != known.answer:  # changed by another writer, or gone
                del self._written[key]
        for key in self._refused.keys() - statuses.keys():
            del self._refused[key]
        self._cluster = dict(statuses)

    def sync(self, store: Store, listed: Statuses | None = None) -> int:
        """Write what changed; ``listed``: the statuses the cluster has, when just listed.
        Returns how many statuses were written."""
        if listed is not None:
            self._listed(listed)
        written = 0
        for kind in FLUX_KINDS:
            res = _resource(self.cluster, kind)
            if res is None:
                continue
            keys = store.keys(kind.name)
            for key, raw in zip(keys, store.raw_statuses(keys), strict=True):
                if raw is not None and self._write(kind, res, key, raw):
                    written += 1
        return written

    def _write(self, kind: Kind[Any, Any], res: Resource, key: str, raw: bytes) -> bool:
        known = self._written.get(key)
        if known is not None and known.raw == raw:
            return False
        refused = self._refused.get(key)
        if refused is not None and refused.raw == raw and time.monotonic() < refused.until:
            return False
        current = self._cluster.get(key, {})
        patch = merge_patch(current, kind.status.model_validate_json(raw).served_as(res.version))
        if not patch:  # the cluster has it already
            self._written[key] = _Written(raw, current)
            return False
        _, namespace, name = key.split("/", 2)
        try:
            answer = self.cluster.request(
                "PATCH",
                res.path(namespace, name) + "/status",
                body={"status": patch},
                content_type="application/merge-patch+json",
            )
        except (ApiRejected, ApiUnavailable) as exc:
            if isinstance(exc, ApiRejected) and exc.not_found:
                return False  # deleted meanwhile: the next listing forgets it
            self._refuse(key, raw, str(exc))
            return False
        kept = (answer or {}).get("status") or {}
        self._written[key] = _Written(raw, kept)
        self._cluster[key] = kept
        self._refused.pop(key, None)
        return True

    def _refuse(self, key: str, raw: bytes, message: str) -> None:
        before = self._refused.get(key)
        delay = self.retry_after if before is None else min(before.delay * 2, self.max_retry)
        level = logging.WARNING if before is None or before.message != message else logging.DEBUG
        log.log(level, "%s: writing status: %s (next try in %.0f s)", key, message, delay)
        self._refused[key] = _Refused(raw, message, delay, time.monotonic() + delay)
