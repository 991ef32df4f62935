"""The applier against the real API server: a Git source, manifests, a pipeline run in-process.

- ``kube``: the session's kube-apiserver (``control_plane``) through the kubernetes client, and
  a fresh namespace name per call of ``kube.namespace()`` (tests never share namespaces).
- ``source``: a bare Git repository (file://) to commit manifests to, as a developer pushes.
- ``pipeline``: Flux manifests in a directory and ``conveyor run --once``'s loop run in this
  process (``conveyor.services.runner.once``) on the test's Redis, with ``KUBECONFIG`` set to the
  control plane; ``pipeline.tick()`` is the interval ticker's ``ReconcileRequested``.
"""

from __future__ import annotations

import subprocess
import tempfile
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from conveyor.services.runner import load_stage, once, print_report, tick
from conveyor.shared.bus import InlineDispatcher
from conveyor.shared.kinds import KUSTOMIZATION
from conveyor.shared.runtime import Context, Settings, handle
from conveyor.shared.sources import ManifestSource
from conveyor.shared.status import Condition, KustomizationStatus
from conveyor.shared.store import Store
from tests.fixtures.controlplane import ControlPlane


def body(value: dict[str, Any]) -> Any:
    """A request body as a plain dict (the client's typed signatures want its models)."""
    return value


class Kube:
    """Typed clients on the admin kubeconfig, and names for this test's namespaces."""

    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        self.api = config.new_client_from_config(config_file=str(kubeconfig))
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.batch = client.BatchV1Api(self.api)
        self.rbac = client.RbacAuthorizationV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)

    @staticmethod
    def namespace(prefix: str = "t") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    def create_namespace(self, name: str) -> None:
        self.core.create_namespace(body({"metadata": {"name": name}}))

    def config_map(self, ns: str, name: str) -> dict[str, Any] | None:
        try:
            obj = self.core.read_namespaced_config_map(name, ns)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(self.api.sanitize_for_serialization(obj))

    def deployment(self, ns: str, name: str) -> dict[str, Any] | None:
        try:
            obj = self.apps.read_namespaced_deployment(name, ns)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(self.api.sanitize_for_serialization(obj))

    def image(self, ns: str, name: str) -> str:
        dep = self.deployment(ns, name)
        assert dep is not None, f"Deployment {ns}/{name} does not exist"
        return str(dep["spec"]["template"]["spec"]["containers"][0]["image"])

    def deployment_ready(self, ns: str, name: str, replicas: int = 1) -> None:
        """What the deployment controller and kubelets would report: all replicas available."""
        dep = self.deployment(ns, name)
        assert dep is not None
        self.apps.patch_namespaced_deployment_status(
            name,
            ns,
            {
                "status": {
                    "observedGeneration": dep["metadata"]["generation"],
                    "replicas": replicas,
                    "updatedReplicas": replicas,
                    "readyReplicas": replicas,
                    "availableReplicas": replicas,
                    "conditions": [
                        {
                            "type": "Available",
                            "status": "True",
                            "reason": "MinimumReplicasAvailable",
                        },
                        {
                            "type": "Progressing",
                            "status": "True",
                            "reason": "NewReplicaSetAvailable",
                        },
                    ],
                }
            },
        )


@pytest.fixture
def kube(control_plane: ControlPlane) -> Kube:
    return Kube(control_plane.kubeconfig)


def _git(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=dev", "-c", "user.email=dev@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


@dataclass
class Source:
    """A bare repository on disk and a working clone to commit from."""

    remote: Path
    work: Path

    def commit(self, files: dict[str, str | None], message: str = "change") -> str:
        """Write (None: delete) ``files``, commit and push; the new commit."""
        for rel, text in files.items():
            path = self.work / rel
            if text is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(textwrap.dedent(text).lstrip("\n"))
        _git("add", "-A", cwd=self.work)
        _git("commit", "-qm", message, cwd=self.work)
        _git("push", "-q", "origin", "master", cwd=self.work)
        return _git("rev-parse", "HEAD", cwd=self.work)

    @property
    def url(self) -> str:
        return self.remote.as_uri()


@pytest.fixture
def source(tmp_path: Path) -> Source:
    remote = tmp_path / "app.git"
    work = tmp_path / "work"
    subprocess.run(["git", "init", "--bare", "-q", "-b", "master", str(remote)], check=True)
    subprocess.run(["git", "clone", "-q", str(remote), str(work)], check=True, capture_output=True)
    _git("checkout", "-q", "-b", "master", cwd=work)
    return Source(remote=remote, work=work)


def git_repository(url: str, name: str = "app", namespace: str = "flux-system") -> str:
    return f"""
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: {name}
  namespace: {namespace}
spec:
  interval: 1m
  url: {url}
  ref:
    branch: master
"""


def kustomization(
    name: str, path: str, *, source: str = "app", namespace: str = "flux-system", **spec: Any
) -> str:
    """A Kustomization manifest; ``spec`` in Flux's camelCase, as YAML-able values."""
    import yaml

    body = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "interval": "1m",
            "sourceRef": {"kind": "GitRepository", "name": source},
            "path": path,
            **spec,
        },
    }
    return "---\n" + yaml.safe_dump(body, sort_keys=False)


@dataclass
class Pipeline:
    """Manifests on disk and the pipeline's loop, in this process, against one Redis."""

    directory: Path
    store: Store
    settings: Settings
    output: list[str] = field(default_factory=list)

    def write(self, text: str, name: str = "flux.yaml") -> None:
        (self.directory / name).write_text(textwrap.dedent(text))

    def run(self) -> int:
        """``conveyor run --once``: reconcile everything, then what that woke; exit code."""
        out = StringIO()
        result = once(self.store, self.settings, ManifestSource(self.directory))
        print_report(result, "text", out)
        self.output.append(out.getvalue())
        return 0 if result.all_ready else 1

    def tick(self) -> None:
        """The interval ticker's turn for Kustomizations whose interval elapsed, drained."""
        dispatcher = InlineDispatcher()
        ctx = Context(store=self.store, dispatcher=dispatcher, settings=self.settings)
        tick(self.store, dispatcher, [KUSTOMIZATION])
        stage = load_stage("applier")
        dispatcher.drain(lambda service, message: handle(stage, message, ctx))

    def status(self, name: str, namespace: str = "flux-system") -> KustomizationStatus:
        return self.store.get_status(f"Kustomization/{namespace}/{name}", KustomizationStatus)

    def ready(self, name: str, namespace: str = "flux-system") -> Condition:
        cond = self.status(name, namespace).ready
        assert cond is not None, f"Kustomization {namespace}/{name} has no Ready condition"
        return cond


@pytest.fixture
def pipeline(redis_url: str, control_plane: ControlPlane, tmp_path: Path) -> Iterator[Pipeline]:
    directory = tmp_path / "flux"
    directory.mkdir()
    settings = Settings(data_dir=tmp_path / "data", kubeconfig=str(control_plane.kubeconfig))
    yield Pipeline(directory=directory, store=Store.from_url(redis_url), settings=settings)


@pytest.fixture
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)
