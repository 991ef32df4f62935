"""Where the Flux objects come from: a folder of manifests, or a cluster.

A ``Source`` makes the store's objects those of its origin when asked to ``refresh`` (cheaply
when nothing changed) and returns the errors of what it could not read.

- ``ManifestSource`` (here): the ``*.yaml`` files below a folder, re-read when a file changed.

Either stores only the Secrets and ConfigMaps that a Flux object references
(``conveyor.shared.secretrefs``): no other Secret reaches Redis.
- ``ClusterSource`` (``conveyor.shared.cluster_source``, imported only when asked for: it needs
  the Kubernetes client): conveyor as a drop-in for Flux's controllers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from conveyor.shared.manifests import load_directory
from conveyor.shared.memory import release_soon
from conveyor.shared.models import FluxObject, ReconciledSpec
from conveyor.shared.secretrefs import only_referenced
from conveyor.shared.store import Store


class Source(Protocol):
    """Where the Flux objects come from: a manifest directory or a cluster."""

    def refresh(self, store: Store, *, force: bool = False) -> list[str]: ...


class ManifestSource:
    """The objects of a manifest directory, re-read when a file in it changed."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._stamp = -1.0

    def refresh(self, store: Store, *, force: bool = False) -> list[str]:
        newest = max((p.stat().st_mtime for p in self.directory.rglob("*")), default=0.0)
        if not force and newest == self._stamp and store.loaded():
            return []
        self._stamp = newest
        result = load_directory(self.directory)
        # only the Secrets and ConfigMaps a Flux object references reach the store
        result.objects = only_referenced(result.objects)
        held = store.suspended()  # `conveyor suspend` lasts until `conveyor resume`
        objects = [_suspended(o) if o.key in held else o for o in result.objects]
        store.replace_objects(objects, partial=bool(result.errors))
        release_soon()  # the parsed directory is garbage now
        return result.errors


def _suspended(obj: FluxObject) -> FluxObject:
    if not isinstance(obj.spec, ReconciledSpec):
        return obj
    return obj.model_copy(update={"spec": obj.spec.model_copy(update={"suspend": True})})
