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

import os
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
        self._stamp: tuple[int, int] | None = None

    def refresh(self, store: Store, *, force: bool = False) -> list[str]:
        stamp = tree_stamp(self.directory)
        if not force and stamp == self._stamp and store.loaded():
            return []
        self._stamp = stamp
        result = load_directory(self.directory)
        # only the Secrets and ConfigMaps a Flux object references reach the store
        result.objects = only_referenced(result.objects)
        held = store.suspended()  # `conveyor suspend` lasts until `conveyor resume`
        objects = [_suspended(o) if o.key in held else o for o in result.objects]
        store.replace_objects(objects, partial=bool(result.errors))
        release_soon()  # the parsed directory is garbage now
        return result.errors


def tree_stamp(directory: Path) -> tuple[int, int]:
    """What changes when anything below ``directory`` changes: how many entries it holds
    (itself included, folders too) and the sum of their modification times in ns. A file
    added or deleted changes the count and its folder's time (the top folder's too), a file
    renamed its folder's time, a file written its own time (backwards too, as ``touch -d``
    or ``rsync -t`` set it), where the newest time alone would miss some of these.

    The entries are those ``load_directory`` reads from (``Path.rglob``): a symlink counts
    with its target's time and a linked folder is not entered (no loops); an entry that
    vanishes during the walk, a dangling link and a folder that cannot be listed are passed
    over. A walk of ``os.scandir`` (called once a second by ``conveyor run``): no Path objects.
    """
    try:
        root = os.stat(directory)
    except OSError:
        return (0, 0)
    count, total = 1, root.st_mtime_ns
    folders = [os.fspath(directory)]
    while folders:
        try:
            with os.scandir(folders.pop()) as entries:
                for entry in entries:
                    try:
                        mtime = entry.stat().st_mtime_ns
                        if entry.is_dir(follow_symlinks=False):
                            folders.append(entry.path)
                    except OSError:  # gone since it was listed, or a link to nothing
                        continue
                    count += 1
                    total += mtime
        except OSError:  # a file (a source of one file), gone, or not readable
            continue
    return count, total


def _suspended(obj: FluxObject) -> FluxObject:
    if not isinstance(obj.spec, ReconciledSpec):
        return obj
    return obj.model_copy(update={"spec": obj.spec.model_copy(update={"suspend": True})})
