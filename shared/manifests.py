"""Flux's own manifests into typed objects: every error names the file, the line and the field.

``parse_document`` reads one YAML document (or one object listed from a cluster) as the model of
its kind in ``conveyor.shared.kinds``; ``load_directory`` reads every manifest below a folder,
one bad file never keeping the others out. A spec field conveyor refuses (unsupported, or in no
schema of Flux's: ``conveyor.shared.fields``) does not fail the parse: the object carries it in
``unsupported``, and its status will name it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from conveyor.shared.errors import ManifestError
from conveyor.shared.fields import refusals
from conveyor.shared.kinds import BY_NAME
from conveyor.shared.models import FluxObject
from conveyor.shared.yamlsrc import MAX_TEXT_BYTES, Document, load_documents


def _field_path(loc: tuple[int | str, ...]) -> tuple[str | int, ...]:
    """pydantic's error location in Flux's camelCase names (snake names mapped, not models)."""
    out: list[str | int] = []
    for part in loc:
        if isinstance(part, str) and "[" in part:  # union/function validator markers
            continue
        out.append(to_camel(part) if isinstance(part, str) else part)
    return tuple(out)


def _secret_spec(doc: Document) -> dict[str, Any]:
    data: dict[str, bytes] = {}
    for key, value in (doc.data.get("data") or {}).items():
        try:
            data[key] = base64.b64decode(str(value), validate=True)
        except ValueError as exc:
            raise ManifestError(
                "is not valid base64",
                file=doc.file,
                line=doc.line_of(("data", key)),
                field=f"data.{key}",
            ) from exc
    for key, value in (doc.data.get("stringData") or {}).items():
        data[key] = str(value).encode()
    return {"type": doc.data.get("type", "Opaque"), "data": data}


def parse_document(doc: Document) -> FluxObject:
    raw = doc.data
    if not isinstance(raw, dict):
        raise ManifestError("a manifest must be a mapping", file=doc.file, line=doc.line)
    kind = raw.get("kind")
    api_version = raw.get("apiVersion")
    for name, value in (("kind", kind), ("apiVersion", api_version)):
        if not isinstance(value, str) or not value:
            raise ManifestError("is required", file=doc.file, line=doc.line, field=name)
    assert isinstance(kind, str) and isinstance(api_version, str)
    info = BY_NAME.get(kind)
    if info is None:
        raise ManifestError(
            f"unknown kind {kind!r} (supported: {', '.join(BY_NAME)})",
            file=doc.file,
            line=doc.line_of(("kind",)),
            field="kind",
        )
    allowed = info.api_versions
    if api_version not in allowed:
        raise ManifestError(
            f"{api_version!r} is not a supported apiVersion of {kind} (use one of: "
            f"{', '.join(allowed)})",
            file=doc.file,
            line=doc.line_of(("apiVersion",)),
            field="apiVersion",
        )
    spec_raw: Any
    if kind == "ConfigMap":
        spec_raw = {"data": {k: str(v) for k, v in (raw.get("data") or {}).items()}}
    else:
        spec_raw = _secret_spec(doc) if kind == "Secret" else raw.get("spec")
    if spec_raw is None:
        raise ManifestError("is required", file=doc.file, line=doc.line, field="spec")
    meta = raw["metadata"] if isinstance(raw.get("metadata"), dict) else {}
    namespace = meta.get("namespace", "default")
    what = f"{kind} {namespace}/{meta.get('name', '?')}"
    try:
        obj: FluxObject = info.model.model_validate(
            {
                "apiVersion": api_version,
                "kind": kind,
                "metadata": raw.get("metadata") or {},
                "spec": spec_raw,
                "source": f"{doc.file}:{doc.line} ({what})",
                # refused fields are kept with the object, whose status will name them
                "unsupported": refusals(kind, api_version, spec_raw, str(namespace)),
            }
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        path = _field_path(first["loc"])
        if not info.flux and path[:1] == ("spec",):
            path = path[1:]
        raise ManifestError(
            f"{_pydantic_message(first)} (in {what})",
            file=doc.file,
            line=doc.line_of(path),
            field=".".join(str(p) for p in path),
        ) from exc
    return obj


def _pydantic_message(error: Any) -> str:
    msg = str(error["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if error["type"] == "missing":
        return "is required"
    return msg


def parse_manifests(text: str, file: str = "<string>") -> list[FluxObject]:
    """All supported objects in ``text``; documents of other kinds raise ManifestError."""
    return [parse_document(doc) for doc in load_documents(text, file)]


@dataclass
class LoadResult:
    objects: list[FluxObject]
    errors: list[str]


def load_directory(directory: Path, *, skip_other_kinds: bool = True) -> LoadResult:
    """Every Flux object in the ``*.yaml``/``*.yml`` files below ``directory``.

    A file that fails to parse contributes its error and none of its objects; the other files
    still load. Documents of kinds conveyor does not handle (e.g. a Deployment that sits beside
    the Flux objects) are skipped when ``skip_other_kinds``.
    """
    objects: list[FluxObject] = []
    errors: list[str] = []
    seen: dict[str, str] = {}
    for path in sorted(_yaml_files(directory)):
        rel = str(path.relative_to(directory.parent)) if directory != path else path.name
        try:
            if path.stat().st_size > MAX_TEXT_BYTES:  # refused before it is read
                raise ManifestError(
                    f"larger than {MAX_TEXT_BYTES // (1024 * 1024)} MiB: not read", file=rel
                )
            parsed = []  # a document becomes its object before the next is read: a file of
            # many objects never holds all their YAML at once (the heap stays small)
            for doc in load_documents(path.read_text(encoding="utf-8"), rel):
                if (
                    skip_other_kinds
                    and isinstance(doc.data, dict)
                    and doc.data.get("kind") not in BY_NAME
                    and "toolkit.fluxcd.io" not in str(doc.data.get("apiVersion", ""))
                ):
                    continue
                parsed.append(parse_document(doc))
        except ManifestError as exc:
            errors.append(str(exc))
            continue
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(f"{rel}: cannot read: {exc}")
            continue
        for obj in parsed:
            if obj.key in seen:
                errors.append(f"{obj.source}: duplicate of {seen[obj.key]}")
                continue
            seen[obj.key] = obj.source
            objects.append(obj)
    return LoadResult(objects=objects, errors=errors)


def _yaml_files(directory: Path) -> Iterable[Path]:
    if directory.is_file():
        return [directory]
    return [p for p in directory.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()]
