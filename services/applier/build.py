"""Build a Kustomization with ``kubectl kustomize``, as Flux's kustomize-controller does.

Flux generates a ``kustomization.yaml`` where the path has none, and lays ``targetNamespace``,
``namePrefix``/``nameSuffix``, ``images`` and ``patches`` over the user's kustomization. We do the
same with an overlay directory, so the user's files are never edited.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import yaml

from shared.errors import InvalidSpec, PermanentError, TransientError
from shared.models import KustomizationSpec

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
OVERLAY = ".conveyor-overlay"
BUILD_TIMEOUT = 120.0


def extract(artifact: bytes, into: Path) -> None:
    """Unpack a tar.gz artifact, refusing members that would land outside ``into``."""
    root = into.resolve()
    with tarfile.open(fileobj=io.BytesIO(artifact), mode="r:gz") as tar:
        tar.extractall(root, filter="data")


def resolve_path(root: Path, path: str, owner: str) -> Path:
    target = (root / path).resolve()
    if target != root.resolve() and root.resolve() not in target.parents:
        raise InvalidSpec(f"{owner}: spec.path {path!r} leaves the source")
    if not target.is_dir():
        raise PermanentError(
            f"{owner}: spec.path {path!r} not found in the source", reason="ArtifactFailed"
        )
    return target


def ensure_kustomization(directory: Path) -> None:
    """Generate a kustomization.yaml listing the directory's manifests when it has none."""
    if any((directory / name).exists() for name in KUSTOMIZATION_FILES):
        return
    resources = sorted(
        str(p.relative_to(directory))
        for p in directory.rglob("*")
        if p.suffix in (".yaml", ".yml") and p.is_file()
    )
    (directory / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": resources,
            }
        )
    )


def overlay(spec: KustomizationSpec) -> dict[str, Any]:
    """The fields Flux lays over the user's kustomization."""
    out: dict[str, Any] = {}
    if spec.target_namespace:
        out["namespace"] = spec.target_namespace
    if spec.name_prefix:
        out["namePrefix"] = spec.name_prefix
    if spec.name_suffix:
        out["nameSuffix"] = spec.name_suffix
    if spec.images:
        out["images"] = spec.images
    if spec.patches:
        out["patches"] = spec.patches
    if spec.common_metadata:
        if spec.common_metadata.get("labels"):
            out["labels"] = [{"pairs": spec.common_metadata["labels"], "includeSelectors": False}]
        if spec.common_metadata.get("annotations"):
            out["commonAnnotations"] = spec.common_metadata["annotations"]
    return out


def build(root: Path, spec: KustomizationSpec, owner: str) -> list[dict[str, Any]]:
    """The objects that ``spec.path`` of the unpacked source at ``root`` builds to."""
    directory = resolve_path(root, spec.path, owner)
    ensure_kustomization(directory)
    target = directory
    extra = overlay(spec)
    if extra:
        target = root / OVERLAY
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        body = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [str(Path("..") / directory.relative_to(root.resolve()))],
            **extra,
        }
        (target / "kustomization.yaml").write_text(yaml.safe_dump(body))
    try:
        done = subprocess.run(
            ["kubectl", "kustomize", str(target)],
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
            check=False,
        )
    except FileNotFoundError as exc:
        raise TransientError("kubectl is not installed (kustomize build needs it)") from exc
    except subprocess.TimeoutExpired as exc:
        raise TransientError(f"{owner}: kustomize build timed out") from exc
    if done.returncode != 0:
        message = done.stderr.strip().replace(str(root.resolve()) + "/", "")
        raise PermanentError(f"{owner}: kustomize build failed: {message}", reason="BuildFailed")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]
