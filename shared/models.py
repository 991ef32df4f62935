"""One model per Flux kind, parsed from Flux's own manifests.

``parse_manifests`` turns multi-document YAML into typed objects; every error names the file, the
line and the field. Specs keep Flux's camelCase names on the wire (``by_alias``) and snake_case in
Python.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from shared.errors import ManifestError
from shared.yamlsrc import Document, load_documents

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: str | int | float) -> float:
    """Seconds in a Go duration string (``30s``, ``1m30s``, ``1h``, ``500ms``)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    if text == "0":
        return 0.0
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"invalid duration {text!r} (expected a Go duration such as 30s, 5m, 1h)")
    return total


Duration = Annotated[float, BeforeValidator(parse_duration)]


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )

    def wire(self) -> dict[str, Any]:
        """The object in Flux's field names, without unset optional fields."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


# --- references and metadata -------------------------------------------------------------


class LocalRef(_Model):
    name: str


class NamespacedRef(_Model):
    name: str
    namespace: str | None = None


class CrossNamespaceRef(_Model):
    kind: str
    name: str
    namespace: str | None = None
    api_version: str | None = None


class ObjectMeta(_Model):
    name: Annotated[str, Field(min_length=1, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]
    namespace: str = "default"
    generation: int = 1
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


# --- GitRepository (source.toolkit.fluxcd.io) --------------------------------------------


class GitRef(_Model):
    branch: str | None = None
    tag: str | None = None
    semver: str | None = None
    name: str | None = None
    commit: str | None = None


class GitRepositorySpec(_Model):
    url: Annotated[str, Field(min_length=1)]
    interval: Duration
    ref: GitRef = GitRef(branch="master")
    secret_ref: LocalRef | None = None
    timeout: Duration = 60.0
    suspend: bool = False


# --- ImageRepository / ImagePolicy (image.toolkit.fluxcd.io) -----------------------------


class ImageRepositorySpec(_Model):
    image: Annotated[str, Field(min_length=1)]
    interval: Duration
    secret_ref: LocalRef | None = None
    cert_secret_ref: LocalRef | None = None
    service_account_name: str | None = None
    insecure: bool = False
    timeout: Duration | None = None
    exclusion_list: list[str] = Field(default_factory=lambda: [r"^.*\.sig$"])
    suspend: bool = False


class TagFilter(_Model):
    pattern: str = ""
    extract: str = ""


class SemVerPolicy(_Model):
    range: Annotated[str, Field(min_length=1)]


class OrderPolicy(_Model):
    order: Literal["asc", "desc"] = "asc"


class PolicyChoice(_Model):
    semver: SemVerPolicy | None = None
    numerical: OrderPolicy | None = None
    alphabetical: OrderPolicy | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> PolicyChoice:
        chosen = [k for k in ("semver", "numerical", "alphabetical") if getattr(self, k)]
        if len(chosen) != 1:
            raise ValueError(
                "exactly one of semver, numerical, alphabetical is required"
                + (f" (got {', '.join(chosen)})" if chosen else "")
            )
        return self


class ImagePolicySpec(_Model):
    image_repository_ref: NamespacedRef
    policy: PolicyChoice
    filter_tags: TagFilter | None = None
    digest_reflection_policy: Literal["Never", "IfNotPresent", "Always"] = "Never"
    interval: Duration | None = None
    suspend: bool = False


# --- ImageUpdateAutomation ----------------------------------------------------------------


class CommitUser(_Model):
    name: str = "conveyor"
    email: str = "conveyor@localhost"


class SigningKeyRef(_Model):
    secret_ref: LocalRef  # a Secret with the armored key in ``git.asc``, optional ``passphrase``


class CommitSpec(_Model):
    author: CommitUser = CommitUser()
    message_template: str | None = None
    signing_key: SigningKeyRef | None = None


class CheckoutSpec(_Model):
    ref: GitRef


class PushSpec(_Model):
    branch: str | None = None
    refspec: str | None = None


class GitAutomationSpec(_Model):
    checkout: CheckoutSpec | None = None
    commit: CommitSpec = CommitSpec()
    push: PushSpec | None = None


class UpdateStrategy(_Model):
    path: str = "."
    strategy: Literal["Setters"] = "Setters"


class LabelRequirement(_Model):
    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] = Field(default_factory=list)


class LabelSelector(_Model):
    """A Kubernetes label selector (``matchLabels`` and ``matchExpressions``)."""

    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: list[LabelRequirement] = Field(default_factory=list)

    def matches(self, labels: dict[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in self.match_labels.items()):
            return False
        for req in self.match_expressions:
            present = req.key in labels
            ok = {
                "In": present and labels.get(req.key) in req.values,
                "NotIn": not present or labels.get(req.key) not in req.values,
                "Exists": present,
                "DoesNotExist": not present,
            }[req.operator]
            if not ok:
                return False
        return True


class ImageUpdateAutomationSpec(_Model):
    source_ref: CrossNamespaceRef
    interval: Duration
    git: GitAutomationSpec = GitAutomationSpec()
    update: UpdateStrategy = UpdateStrategy()
    policy_selector: LabelSelector | None = None
    suspend: bool = False

    @field_validator("source_ref")
    @classmethod
    def _git_source(cls, ref: CrossNamespaceRef) -> CrossNamespaceRef:
        if ref.kind != "GitRepository":
            raise ValueError(f"kind must be GitRepository, not {ref.kind!r}")
        return ref


# --- Kustomization (kustomize.toolkit.fluxcd.io) ------------------------------------------


class KustomizationSpec(_Model):
    source_ref: CrossNamespaceRef
    interval: Duration
    path: str = "./"
    prune: bool = False
    target_namespace: str | None = None
    name_prefix: str | None = None
    name_suffix: str | None = None
    retry_interval: Duration | None = None
    timeout: Duration | None = None
    wait: bool = False
    force: bool = False
    suspend: bool = False
    service_account_name: str | None = None
    depends_on: list[NamespacedRef] = Field(default_factory=list)
    images: list[dict[str, Any]] = Field(default_factory=list)
    patches: list[dict[str, Any]] = Field(default_factory=list)
    patches_strategic_merge: list[dict[str, Any]] = Field(default_factory=list)  # v1beta2
    patches_json6902: list[dict[str, Any]] = Field(default_factory=list)  # v1beta2
    common_metadata: dict[str, Any] | None = None
    post_build: dict[str, Any] | None = None
    health_checks: list[dict[str, Any]] = Field(default_factory=list)
    kube_config: dict[str, Any] | None = None


# --- Receiver (notification.toolkit.fluxcd.io) --------------------------------------------


class ReceiverSpec(_Model):
    type: Literal[
        "generic", "generic-hmac", "github", "gitlab", "dockerhub", "harbor", "quay", "nexus"
    ]
    secret_ref: LocalRef
    resources: list[CrossNamespaceRef] = Field(min_length=1)
    events: list[str] = Field(default_factory=list)
    interval: Duration | None = None
    suspend: bool = False


# --- v1 Secret ----------------------------------------------------------------------------


class SecretSpec(_Model):
    """A v1 Secret has no spec; its data lives here so every object has the same shape."""

    type: str = "Opaque"
    data: dict[str, bytes] = Field(default_factory=dict, repr=False)

    def text(self, key: str) -> str | None:
        value = self.data.get(key)
        return value.decode() if value is not None else None


class ConfigMapSpec(_Model):
    """A v1 ConfigMap's ``data``: what ``postBuild.substituteFrom`` reads (beside the Secrets)."""

    data: dict[str, str] = Field(default_factory=dict)


# --- the objects ---------------------------------------------------------------------------

Kind = Literal[
    "GitRepository",
    "ImageRepository",
    "ImagePolicy",
    "ImageUpdateAutomation",
    "Kustomization",
    "Receiver",
    "Secret",
    "ConfigMap",
]

GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "GitRepository": ("source.toolkit.fluxcd.io", ("v1beta1", "v1beta2", "v1")),
    "ImageRepository": ("image.toolkit.fluxcd.io", ("v1alpha2", "v1beta1", "v1beta2", "v1")),
    "ImagePolicy": ("image.toolkit.fluxcd.io", ("v1alpha2", "v1beta1", "v1beta2", "v1")),
    "ImageUpdateAutomation": ("image.toolkit.fluxcd.io", ("v1alpha2", "v1beta1", "v1beta2", "v1")),
    "Kustomization": ("kustomize.toolkit.fluxcd.io", ("v1beta1", "v1beta2", "v1")),
    "Receiver": ("notification.toolkit.fluxcd.io", ("v1beta1", "v1beta2", "v1beta3", "v1")),
    "Secret": ("", ("v1",)),
    "ConfigMap": ("", ("v1",)),
}

SPECS: dict[str, type[_Model]] = {
    "GitRepository": GitRepositorySpec,
    "ImageRepository": ImageRepositorySpec,
    "ImagePolicy": ImagePolicySpec,
    "ImageUpdateAutomation": ImageUpdateAutomationSpec,
    "Kustomization": KustomizationSpec,
    "Receiver": ReceiverSpec,
    "Secret": SecretSpec,
    "ConfigMap": ConfigMapSpec,
}


class FluxObject(_Model):
    """Any supported object: kind, apiVersion, metadata, a typed spec, and where it was read."""

    api_version: str
    kind: Kind
    metadata: ObjectMeta
    spec: Any
    source: str = ""

    KINDS: ClassVar[tuple[str, ...]] = tuple(SPECS)

    @property
    def key(self) -> str:
        return object_key(self.kind, self.metadata.namespace, self.metadata.name)

    @property
    def namespace(self) -> str:
        return self.metadata.namespace

    @property
    def name(self) -> str:
        return self.metadata.name

    def spec_hash(self) -> str:
        body = json.dumps(self.spec.model_dump(mode="json"), sort_keys=True, default=str)
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    def to_json(self) -> str:
        return json.dumps(
            {
                "apiVersion": self.api_version,
                "kind": self.kind,
                "metadata": self.metadata.model_dump(mode="json"),
                "spec": _dump_spec(self.kind, self.spec),
                "source": self.source,
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> FluxObject:
        raw = json.loads(text)
        spec_raw = raw["spec"]
        if raw["kind"] == "Secret":
            spec_raw = {
                "type": spec_raw["type"],
                "data": {k: base64.b64decode(v) for k, v in spec_raw["data"].items()},
            }
        return cls(
            api_version=raw["apiVersion"],
            kind=raw["kind"],
            metadata=ObjectMeta.model_validate(raw["metadata"]),
            spec=SPECS[raw["kind"]].model_validate(spec_raw),
            source=raw.get("source", ""),
        )


def _dump_spec(kind: str, spec: _Model) -> dict[str, Any]:
    if isinstance(spec, SecretSpec):
        return {
            "type": spec.type,
            "data": {k: base64.b64encode(v).decode() for k, v in spec.data.items()},
        }
    return spec.model_dump(mode="json", by_alias=True)


def object_key(kind: str, namespace: str, name: str) -> str:
    return f"{kind}/{namespace}/{name}"


def split_key(key: str) -> tuple[str, str, str]:
    kind, namespace, name = key.split("/", 2)
    return kind, namespace, name


def ref_namespace(ref: NamespacedRef | CrossNamespaceRef, default: str) -> str:
    return ref.namespace or default


# --- parsing ---------------------------------------------------------------------------------


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
    if kind not in GROUPS:
        raise ManifestError(
            f"unknown kind {kind!r} (supported: {', '.join(GROUPS)})",
            file=doc.file,
            line=doc.line_of(("kind",)),
            field="kind",
        )
    group, versions = GROUPS[kind]
    allowed = [f"{group}/{v}" if group else v for v in versions]
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
    try:
        metadata = ObjectMeta.model_validate(raw.get("metadata") or {})
        spec = SPECS[kind].model_validate(spec_raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        meta = raw["metadata"] if isinstance(raw.get("metadata"), dict) else {}
        what = f"{kind} {meta.get('namespace', 'default')}/{meta.get('name', '?')}"
        top = "metadata" if exc.title == "ObjectMeta" else "spec"
        path = (top, *_field_path(first["loc"]))
        if kind in ("Secret", "ConfigMap"):
            path = path[1:]
        raise ManifestError(
            f"{_pydantic_message(first)} (in {what})",
            file=doc.file,
            line=doc.line_of(path),
            field=".".join(str(p) for p in path),
        ) from exc
    name = f"{kind} {metadata.namespace}/{metadata.name}"
    return FluxObject(
        api_version=api_version,
        kind=kind,  # type: ignore[arg-type]
        metadata=metadata,
        spec=spec,
        source=f"{doc.file}:{doc.line} ({name})",
    )


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


class LoadResult(_Model):
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
            docs = list(load_documents(path.read_text(encoding="utf-8"), rel))
            parsed = []
            for doc in docs:
                if (
                    skip_other_kinds
                    and isinstance(doc.data, dict)
                    and doc.data.get("kind") not in GROUPS
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
