"""Build a Kustomization with ``kubectl kustomize``, as Flux's kustomize-controller does.

On the unpacked artifact (a temporary copy, so editing it is safe), as Flux's generator:

- where ``spec.path`` has no kustomization file, generate one listing its ``.yaml``/``.yml``
  files, and its sub-directories that have their own kustomization file (not descending into
  those);
- lay ``spec`` over the kustomization file: ``targetNamespace`` sets ``namespace``,
  ``namePrefix``/``nameSuffix`` set theirs, ``patches`` (and v1beta2's
  ``patchesStrategicMerge``/``patchesJson6902``) are appended, ``images`` are merged into the
  entry of the same name (``newName`` when set; ``newTag`` and ``digest`` together when either
  is set) or appended, ``components`` are appended (each local and relative to ``spec.path``,
  and inside the source; with ``ignoreMissingComponents``, those not found are left out);
- build: in this process when the kustomization is a plain list of files (``plain.py``: the
  same objects in the same order), else with ``kubectl kustomize`` (kustomize v5). Files are
  loaded only from within each kustomization's own directory (kustomize's default): a
  repository cannot make conveyor read files of the machine it runs on.

``commonMetadata`` and the owner labels are set afterwards on each object's own metadata (not
on templates and selectors, which kustomize's ``labels`` would touch), in ``objects.py``;
``postBuild`` substitution is ``substitute.py``.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import zlib
from pathlib import Path
from typing import Any

import yaml

from conveyor.services.applier.plain import build_plain
from conveyor.shared.errors import InvalidSpec, PermanentError, TransientError
from conveyor.shared.models import KustomizationSpec

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
BUILD_TIMEOUT = 120.0

try:  # the C loader is an order of magnitude faster on large builds
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _Loader = yaml.SafeLoader


def _failed(owner: str, message: str) -> PermanentError:
    return PermanentError(f"{owner}: {message}", reason="BuildFailed")


def _refused(exc: tarfile.FilterError) -> str:
    """What is wrong with the member ``tarfile``'s "data" filter refused, in plain words."""
    member = exc.tarinfo
    name = f"the source's {member.name}"
    if isinstance(exc, tarfile.AbsoluteLinkError):
        return f"{name} is a link to an absolute path ({member.linkname}): refused"
    if isinstance(exc, tarfile.LinkOutsideDestinationError):
        return f"{name} is a link out of the source (to {member.linkname}): refused"
    if isinstance(exc, tarfile.AbsolutePathError):
        return f"{name} has an absolute path: refused"
    if isinstance(exc, tarfile.OutsideDestinationError):
        return f"{name} would be written out of the source: refused"
    if isinstance(exc, tarfile.SpecialFileError):
        return f"{name} is a special file (a device or a pipe): refused"
    return f"{name} is refused: {exc}"


def extract(artifact: bytes, into: Path, *, owner: str = "Kustomization") -> None:
    """Unpack a tar.gz artifact, refusing members that would land outside ``into``.

    A member refused (an absolute path, a link to an absolute path or out of the source, a
    special file) or an artifact that is no tar.gz is a PermanentError naming it; the source
    has to change for a retry to help.
    """
    root = into.resolve()
    try:
        with tarfile.open(fileobj=io.BytesIO(artifact), mode="r:gz") as tar:
            tar.extractall(root, filter="data")
    except tarfile.FilterError as exc:
        raise PermanentError(f"{owner}: {_refused(exc)}", reason="ArtifactFailed") from exc
    except (tarfile.TarError, EOFError, zlib.error) as exc:  # truncated or corrupt gzip
        raise PermanentError(
            f"{owner}: the artifact is not a valid tar.gz: {exc}", reason="ArtifactFailed"
        ) from exc


def resolve_path(root: Path, path: str, owner: str) -> Path:
    target = (root / path).resolve()
    if target != root.resolve() and root.resolve() not in target.parents:
        raise InvalidSpec(f"{owner}: spec.path {path!r} leaves the source")
    if not target.is_dir():
        raise PermanentError(
            f"{owner}: spec.path {path!r} not found in the source", reason="ArtifactFailed"
        )
    return target


def kustomization_file(directory: Path) -> Path | None:
    return next((directory / n for n in KUSTOMIZATION_FILES if (directory / n).is_file()), None)


def _resources(directory: Path, base: Path, owner: str) -> list[str]:
    found: list[str] = []
    for entry in sorted(directory.iterdir()):
        if entry.is_dir():
            if kustomization_file(entry) is not None:
                found.append("./" + str(entry.relative_to(base)))
            else:
                found.extend(_resources(entry, base, owner))
        elif entry.suffix in (".yaml", ".yml") and entry.is_file():
            rel = str(entry.relative_to(base))
            try:
                docs = [d for d in yaml.load_all(entry.read_text(), Loader=_Loader) if d]
            except (yaml.YAMLError, UnicodeDecodeError) as exc:
                raise _failed(owner, f"failed to decode Kubernetes YAML from {rel}: {exc}") from exc
            for doc in docs:
                if not isinstance(doc, dict) or not doc.get("kind"):
                    raise _failed(
                        owner, f"failed to decode Kubernetes YAML from {rel}: missing kind"
                    )
            found.append("./" + rel)
    return found


def generate(directory: Path, owner: str = "Kustomization") -> Path:
    """The directory's kustomization file, generated when it has none (Flux's generator)."""
    existing = kustomization_file(directory)
    if existing is not None:
        return existing
    target = directory / "kustomization.yaml"
    target.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": _resources(directory, directory, owner),
            }
        )
    )
    return target


_REMOTE = ("git::", "gh:", "ssh://", "https://", "http://", "git@", "github.com:", "github.com/")


def is_local_relative(path: str) -> bool:
    """Flux's IsLocalRelativePath: not a remote (Git, HTTP) reference, not absolute."""
    lower = path.lower()
    if any(len(p) < len(path) and lower.startswith(p) for p in _REMOTE):
        return False
    return not (path.startswith("/") or lower.removeprefix("file://").startswith("/"))


def components(spec: KustomizationSpec, directory: Path, root: Path, owner: str) -> list[str]:
    """``spec.components`` as Flux's generator adds them: each must be local and relative (to
    ``spec.path``); one not in the source is left out with ``ignoreMissingComponents``, else the
    build fails (Flux's filesystem refuses a path out of the source, kustomize a missing one)."""
    base = root.resolve()
    out = []
    for component in spec.components:
        if not is_local_relative(component):
            raise _failed(owner, f"component path '{component}' must be local and relative")
        target = (directory / component).resolve()
        inside = target == base or base in target.parents
        if spec.ignore_missing_components and not (inside and target.exists()):
            continue
        if not inside:
            raise _failed(owner, f"component path '{component}' is not in or below the source")
        out.append(component)
    return out


def overlay(
    kustomization: dict[str, Any], spec: KustomizationSpec, added: list[str] | None = None
) -> dict[str, Any]:
    """The kustomization file's content with the Kustomization's fields laid over it
    (``added``: the components, as ``components`` checked them)."""
    out = dict(kustomization)
    out.setdefault("apiVersion", "kustomize.config.k8s.io/v1beta1")
    out.setdefault("kind", "Kustomization")
    if spec.target_namespace:
        out["namespace"] = spec.target_namespace
    if spec.name_prefix:
        out["namePrefix"] = spec.name_prefix
    if spec.name_suffix:
        out["nameSuffix"] = spec.name_suffix
    if spec.patches:
        out["patches"] = [*(out.get("patches") or []), *spec.patches]
    if spec.patches_strategic_merge:
        out["patchesStrategicMerge"] = [
            *(out.get("patchesStrategicMerge") or []),
            *(yaml.safe_dump(p) for p in spec.patches_strategic_merge),
        ]
    if spec.patches_json6902:
        out["patchesJson6902"] = [
            *(out.get("patchesJson6902") or []),
            *(
                {"target": p.get("target"), "patch": json.dumps(p.get("patch"))}
                for p in spec.patches_json6902
            ),
        ]
    if added:
        out["components"] = [*(out.get("components") or []), *added]
    if spec.images:
        images = list(out.get("images") or [])
        for image in spec.images:
            index = next(
                (i for i, old in enumerate(images) if old.get("name") == image.get("name")), None
            )
            if index is None:
                images.append(
                    {k: image[k] for k in ("name", "newName", "newTag", "digest") if image.get(k)}
                )
                continue
            merged = dict(images[index])
            if image.get("newName"):
                merged["newName"] = image["newName"]
            if image.get("newTag") or image.get("digest"):  # one unit: the version selected
                for k in ("newTag", "digest"):
                    merged.pop(k, None)
                    if image.get(k):
                        merged[k] = image[k]
            images[index] = merged
        out["images"] = images
    return out


def kustomize(directory: Path, root: Path, owner: str) -> list[dict[str, Any]]:
    """``kubectl kustomize directory``: the objects, in the order kustomize gives them."""
    try:
        done = subprocess.run(
            ["kubectl", "kustomize", str(directory)],
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
        raise _failed(owner, f"kustomize build failed: {message}")
    objects = [doc for doc in yaml.load_all(done.stdout, Loader=_Loader) if doc]
    for obj in objects:
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        if not isinstance(meta, dict) or not obj.get("apiVersion") or not meta.get("name"):
            raise _failed(
                owner, f"failed to decode Kubernetes apiVersion, kind and name from: {obj!r:.200}"
            )
    return objects


def build(root: Path, spec: KustomizationSpec, owner: str) -> list[dict[str, Any]]:
    """The objects that ``spec.path`` of the unpacked source at ``root`` builds to."""
    directory = resolve_path(root, spec.path, owner)
    path = generate(directory, owner)
    try:
        current = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise _failed(owner, f"{path.relative_to(root.resolve())}: {exc}") from exc
    if not isinstance(current, dict):
        raise _failed(owner, f"{path.relative_to(root.resolve())} is not a mapping")
    laid = overlay(current, spec, components(spec, directory, root, owner))
    plain = build_plain(laid, directory)
    if plain is not None:
        return plain
    if laid != current:
        path.write_text(yaml.safe_dump(laid, sort_keys=False))
    return kustomize(directory, root, owner)
