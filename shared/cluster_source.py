"""Flux objects from a cluster: conveyor as a drop-in for Flux's controllers.

Lists the Flux custom resources (every kind of the registry, at the newest version the API
server serves), and the Secrets and ConfigMaps of the namespaces they live in, into the store;
and writes each object's status back to its ``/status`` subresource when it changed.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from conveyor.shared.adapters.kube import ApiRejected, ApiUnavailable, Cluster, Resource
from conveyor.shared.errors import ConveyorError, TransientError
from conveyor.shared.kinds import KINDS, Kind
from conveyor.shared.manifests import LoadResult, parse_document
from conveyor.shared.models import FluxObject
from conveyor.shared.store import Store
from conveyor.shared.yamlsrc import Document

log = logging.getLogger("conveyor.cluster")

FLUX_KINDS: tuple[Kind[Any, Any], ...] = tuple(k for k in KINDS if k.flux)


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


def _document(item: dict[str, Any]) -> Document:
    meta = item.get("metadata") or {}
    where = f"cluster:{item['kind']}/{meta.get('namespace', '')}/{meta.get('name', '')}"
    data: dict[str, Any] = {
        k: item[k]
        for k in ("apiVersion", "kind", "data", "stringData", "type", "spec")
        if k in item
    }
    data["metadata"] = {
        k: meta[k] for k in ("name", "namespace", "labels", "annotations") if k in meta
    }
    return Document(data=data, file=where, line=1)


def load_from_cluster(cluster: Cluster) -> LoadResult:
    """Every Flux object in the cluster, and the Secrets and ConfigMaps beside them."""
    objects: list[FluxObject] = []
    errors: list[str] = []
    namespaces: set[str] = set()
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
                namespaces.add(obj.namespace)
        for kind in KINDS:
            if kind.flux:
                continue
            res = _resource(cluster, kind)
            if res is None:
                raise TransientError(f"the cluster does not serve {kind.name}")
            for namespace in sorted(namespaces):
                for item in _list(cluster, res, namespace):
                    try:
                        objects.append(parse_document(_document(item)))
                    except ConveyorError as exc:
                        errors.append(str(exc))
    except (ApiRejected, ApiUnavailable) as exc:
        raise TransientError(f"reading Flux objects from the cluster: {exc}") from exc
    return LoadResult(objects=objects, errors=errors)


class ClusterSource:
    """The objects of a cluster, re-listed every ``every`` seconds; statuses written back."""

    def __init__(self, cluster: Cluster, every: float = 5.0) -> None:
        self.cluster = cluster
        self.every = every
        self.mirror = StatusMirror(cluster)
        self._listed = 0.0

    def refresh(self, store: Store, *, force: bool = False) -> list[str]:
        errors: list[str] = []
        if force or time.monotonic() - self._listed >= self.every or not store.loaded():
            result = load_from_cluster(self.cluster)
            store.replace_objects(result.objects)
            errors = result.errors
            self._listed = time.monotonic()
        self.mirror.sync(store)
        return errors


class StatusMirror:
    """Writes each Flux object's status to its resource in the cluster when it changed."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._written: dict[str, str] = {}

    def sync(self, store: Store) -> int:
        written = 0
        for kind in FLUX_KINDS:
            res = _resource(self.cluster, kind)
            if res is None:
                continue
            for obj in store.list_objects(kind.name):
                body = json.dumps({"status": store.get_status(obj.key).wire()}, sort_keys=True)
                if self._written.get(obj.key) == body:
                    continue
                path = res.path(obj.namespace, obj.name) + "/status"
                try:
                    self.cluster.request(
                        "PATCH",
                        path,
                        body=json.loads(body),
                        content_type="application/merge-patch+json",
                    )
                except (ApiRejected, ApiUnavailable) as exc:
                    log.warning("%s: writing status: %s", obj.key, exc)
                    continue
                self._written[obj.key] = body
                written += 1
        return written
