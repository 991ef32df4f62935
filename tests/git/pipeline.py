"""The source-fetcher and the applier over one real Redis, their events handled inline: what a
GitRepository's artifact holds and what a Kustomization builds from it (no cluster: the
applier stops after the build and says how many objects it built)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

from conveyor.services.applier.reconcile import STAGE as APPLIER
from conveyor.services.source_fetcher.reconcile import STAGE as SOURCE_FETCHER
from conveyor.shared.bus import InlineDispatcher, publish
from conveyor.shared.events import ReconcileRequested, parse_event
from conveyor.shared.manifests import parse_manifests
from conveyor.shared.runtime import Context, Settings, Stage, handle
from conveyor.shared.status import Condition, GitRepositoryStatus, KustomizationStatus
from conveyor.shared.store import Store

NS = "flux-system"


class Pipeline:
    def __init__(self, redis_url: str, data: Path) -> None:
        self.store = Store.from_url(redis_url)
        self.dispatcher = InlineDispatcher()
        self.ctx = Context(self.store, self.dispatcher, Settings(data_dir=data, kubeconfig=None))
        self.seen: list[tuple[str, str]] = []  # (service, event type) of every handled message

    def load(self, manifests: str) -> None:
        for obj in parse_manifests(manifests):
            self.store.put_object(obj)

    def reconcile(self, name: str, kind: str = "GitRepository") -> None:
        """Reconcile one object, then whatever its events wake, until nothing is left."""
        publish(self.dispatcher, ReconcileRequested(kind=kind, namespace=NS, name=name))
        stages: dict[str, Stage[Any, Any]] = {"source-fetcher": SOURCE_FETCHER, "applier": APPLIER}

        def run(service: str, message: dict[str, object]) -> None:
            self.seen.append((service, parse_event(dict(message)).type))
            if service in stages:
                handle(stages[service], dict(message), self.ctx)

        self.dispatcher.drain(run)

    def source(self, name: str) -> GitRepositoryStatus:
        return self.store.get_status(f"GitRepository/{NS}/{name}", GitRepositoryStatus)

    def kustomization(self, name: str) -> KustomizationStatus:
        return self.store.get_status(f"Kustomization/{NS}/{name}", KustomizationStatus)

    def files(self, name: str) -> dict[str, bytes]:
        """The regular files of a GitRepository's stored artifact, by path."""
        data = self.store.get_artifact(f"GitRepository/{NS}/{name}")
        assert data is not None, f"{name} has no artifact"
        out = {}
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar.getmembers():
                if member.isfile():
                    extracted = tar.extractfile(member)
                    assert extracted is not None
                    out[member.name] = extracted.read()
        return out

    def members(self, name: str) -> set[str]:
        """Every member (files, directories, links) of a GitRepository's artifact."""
        data = self.store.get_artifact(f"GitRepository/{NS}/{name}")
        assert data is not None, f"{name} has no artifact"
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            return set(tar.getnames())


def ready(status: GitRepositoryStatus | KustomizationStatus) -> Condition:
    condition = status.ready
    assert condition is not None, status
    return condition


def git_repository(name: str, url: str, extra: str = "", secret: str | None = None) -> str:
    """A GitRepository v1 manifest on branch main; ``extra``: more spec lines (YAML, indented
    by two spaces)."""
    auth = f"\n  secretRef: {{name: {secret}}}" if secret else ""
    return (
        f"apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        f"metadata: {{name: {name}, namespace: {NS}}}\n"
        f"spec:\n  interval: 10m\n  url: {url}\n  ref: {{branch: main}}{auth}\n{extra}---\n"
    )


def kustomization(name: str, source: str, path: str = "./") -> str:
    return (
        f"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        f"metadata: {{name: {name}, namespace: {NS}}}\n"
        f"spec: {{interval: 10m, path: '{path}', prune: true,"
        f" sourceRef: {{kind: GitRepository, name: {source}}}}}\n---\n"
    )


def config_map(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{k: v}}\n"


def built(status: KustomizationStatus) -> int:
    """How many objects the applier built (from its ClusterNotConfigured message)."""
    condition = ready(status)
    assert condition.reason == "ClusterNotConfigured", condition
    return int(condition.message.split()[1])
