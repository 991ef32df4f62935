"""The data a commit message template sees, as image-automation-controller builds it.

Flux renders ``spec.git.commit.messageTemplate`` over a ``TemplateData`` struct, built from
what its setters changed (``update.Result``). These are the same structs, as Go values of
:mod:`.govalues`, so that fields, methods, printing (``{{ .AutomationObject }}`` is
``ns/name``; an ``ObjectIdentifier`` prints ``{{apps/v1 Deployment} {podinfo apps}}``),
``toJson``, ``typeOf`` and map order (``ObjectIdentifier`` keys by apiVersion, kind, name,
namespace, as Go's fmtsort orders struct keys) come out as in Flux.

``image.toolkit.fluxcd.io/v1`` (image-automation-controller v1.x)::

    .AutomationObject   types.NamespacedName {Namespace, Name}
    .Changed            update.Result
        .FileChanges    map[file]map[ObjectIdentifier][]Change  (file: relative to update.path)
        .Objects        map[ObjectIdentifier][]Change, over every file
        .Changes        []Change {OldValue, NewValue, Setter}, each distinct change once
    .Values             map[string]string, spec.git.commit.messageTemplateValues

``.Updated`` and ``.Changed.ImageResult`` are gone from v1: a template that reads them stops
the automation (Stalled, ``RemovedTemplateField``) with Flux's own message, which names the
replacement. The older APIs (``v1beta2``, ``v1beta1`` and before; image-automation-controller
v0.41) keep them: ``.Updated`` (``update.Result``: ``.Files`` → ``.Objects`` → images, with
``.Objects`` and ``.Images`` over every file; each image has ``String``, ``Name``,
``Repository``, ``Registry``, ``Identifier``, ``Policy``) and ``.Changed`` is an
``update.ResultV2`` with ``.ImageResult`` (the same as ``.Updated``), ``.FileChanges``,
``.Objects`` and ``.Changes``.

Where Go leaves an order to its map iteration (``.Changes``, ``.Objects``, ``.Images``), this
takes the files in sorted order, then their objects in sorted order, then the changes as the
files hold them: one of the orders Flux may produce. v0.41's ``ResultV2.Objects`` keeps, for
an object found in several files, the changes of one file (the last it iterates): here the
last in that order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final

import yaml

from conveyor.services.git_committer import template
from conveyor.services.git_committer.govalues import GoMap, GoSlice, sort_key
from conveyor.services.git_committer.setters import Change as SetterChange
from conveyor.services.git_committer.setters import Latest
from conveyor.shared.errors import InvalidSpec

DEFAULT_TEMPLATE: Final = "Update from image update automation"
V1_API: Final = "image.toolkit.fluxcd.io/v1"

_DOCS: Final = "https://fluxcd.io/flux/components/image/imageupdateautomations/#message-template"
REMOVED_UPDATED: Final = (
    f"template uses removed '.Updated' field. Please use '.Changed' instead. See: {_DOCS}"
)
REMOVED_IMAGE_RESULT: Final = (
    "template uses removed '.Changed.ImageResult' field. Please use '.Changed.FileChanges' "
    f"or '.Changed.Objects' instead. See: {_DOCS}"
)

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _Loader = yaml.SafeLoader


# ------------------------------------------------------------------------- the structs


@dataclass(frozen=True)
class NamespacedName:
    """k8s.io/apimachinery's ``types.NamespacedName``: prints ``namespace/name``."""

    Namespace: str
    Name: str
    go_type: ClassVar[str] = "types.NamespacedName"

    def String(self) -> str:  # Go method names, as templates spell them
        return f"{self.Namespace}/{self.Name}"


@dataclass(frozen=True)
class TypeMeta:
    APIVersion: str
    Kind: str
    go_type: ClassVar[str] = "yaml.TypeMeta"
    go_json_names: ClassVar[dict[str, tuple[str, bool]]] = {
        "APIVersion": ("apiVersion", True),
        "Kind": ("kind", True),
    }


@dataclass(frozen=True)
class NameMeta:
    Name: str
    Namespace: str
    go_type: ClassVar[str] = "yaml.NameMeta"
    go_json_names: ClassVar[dict[str, tuple[str, bool]]] = {
        "Name": ("name", True),
        "Namespace": ("namespace", True),
    }


@dataclass(frozen=True)
class ResourceIdentifier:
    """kyaml's ResourceIdentifier: TypeMeta and NameMeta, embedded."""

    TypeMeta: TypeMeta
    NameMeta: NameMeta
    go_type: ClassVar[str] = "yaml.ResourceIdentifier"
    go_embedded: ClassVar[tuple[str, ...]] = ("TypeMeta", "NameMeta")


@dataclass(frozen=True)
class ObjectIdentifier:
    """Flux's ``update.ObjectIdentifier`` (a ResourceIdentifier, embedded): ``.APIVersion``,
    ``.Kind``, ``.Name``, ``.Namespace``."""

    ResourceIdentifier: ResourceIdentifier
    go_type: ClassVar[str] = "update.ObjectIdentifier"
    go_embedded: ClassVar[tuple[str, ...]] = ("ResourceIdentifier",)

    @classmethod
    def of(cls, api_version: str, kind: str, name: str, namespace: str) -> ObjectIdentifier:
        return cls(ResourceIdentifier(TypeMeta(api_version, kind), NameMeta(name, namespace)))


@dataclass(frozen=True)
class Change:
    """Flux's ``update.Change``: the old and new value, and the setter's name."""

    OldValue: str
    NewValue: str
    Setter: str
    go_type: ClassVar[str] = "update.Change"


@dataclass(frozen=True)
class ImageRef:
    """Flux's ``update.imageRef``: a policy's latest image, parsed as go-containerregistry's
    ``name.ParseReference`` (weak validation) parses it, and the policy that gave it."""

    original: str
    registry: str
    repository: str
    identifier: str
    digest: bool
    policy: NamespacedName
    go_type: ClassVar[str] = "update.imageRef"

    def String(self) -> str:
        return self.original

    def Identifier(self) -> str:
        return self.identifier

    def Repository(self) -> str:
        return self.repository

    def Registry(self) -> str:
        return self.registry

    def Name(self) -> str:
        return f"{self.registry}/{self.repository}{'@' if self.digest else ':'}{self.identifier}"

    def Policy(self) -> NamespacedName:
        return self.policy

    def go_json(self) -> dict[str, Any]:
        # name.Digest marshals to its text; name.Tag has only unexported fields
        return {"Reference": self.original if self.digest else {}}


def image_ref(image: str, policy: NamespacedName) -> ImageRef:
    """``name.ParseReference(image, name.WeakValidation)``: a tag reference (the tag after the
    last ``:`` that no ``/`` follows, else ``latest``), or with an ``@`` a digest reference."""
    base, at, digest = image.partition("@")
    head, colon, tag = base.rpartition(":")
    has_tag = bool(colon) and "/" not in tag
    repository = head if has_tag else base
    first, slash, rest = repository.partition("/")
    registry = ""
    if slash and ("." in first or ":" in first):
        registry, repository = first, rest
    if registry in ("", "docker.io"):
        registry = "index.docker.io"
    if registry == "index.docker.io" and "/" not in repository:
        repository = "library/" + repository
    if at:
        return ImageRef(image, registry, repository, digest, True, policy)
    return ImageRef(
        image, registry, repository, (tag if has_tag else "") or "latest", False, policy
    )


def _by_key(items: Mapping[Any, Any]) -> list[Any]:
    return sorted(items, key=sort_key)


OBJECT_CHANGES: Final = "update.ObjectChanges"


@dataclass(frozen=True)
class Result:
    """v1's ``update.Result``: file → object → changes, with ``Objects`` and ``Changes``."""

    FileChanges: GoMap  # map[string]update.ObjectChanges
    go_type: ClassVar[str] = "update.Result"
    go_removed: ClassVar[dict[str, str]] = {"ImageResult": REMOVED_IMAGE_RESULT}

    def Changes(self) -> GoSlice:
        seen: list[Change] = []
        for file in _by_key(self.FileChanges):
            objects = self.FileChanges[file]
            for obj in _by_key(objects):
                seen += [c for c in objects[obj] if c not in seen]
        return GoSlice(seen, "[]update.Change", nil=not seen)

    def Objects(self) -> GoMap:
        merged = GoMap(go_type=OBJECT_CHANGES)
        for file in _by_key(self.FileChanges):
            for obj, changes in self.FileChanges[file].items():
                merged[obj] = GoSlice([*merged.get(obj, []), *changes], "[]update.Change")
        return merged


@dataclass(frozen=True)
class FileResult:
    """v1beta's ``update.FileResult``: the images written into each object of a file."""

    Objects: GoMap  # map[update.ObjectIdentifier][]update.ImageRef
    go_type: ClassVar[str] = "update.FileResult"


@dataclass(frozen=True)
class ImageResult:
    """v1beta's ``update.Result`` (``.Updated``): file → object → images."""

    Files: GoMap  # map[string]update.FileResult
    go_type: ClassVar[str] = "update.Result"

    def Images(self) -> GoSlice:
        seen: list[ImageRef] = []
        for file in _by_key(self.Files):
            objects = self.Files[file].Objects
            for obj in _by_key(objects):
                seen += [i for i in objects[obj] if i not in seen]
        return GoSlice(seen, "[]update.ImageRef", nil=not seen)

    def Objects(self) -> GoMap:
        merged = GoMap(go_type="map[update.ObjectIdentifier][]update.ImageRef")
        for file in _by_key(self.Files):
            for obj, images in self.Files[file].Objects.items():
                merged[obj] = GoSlice([*merged.get(obj, []), *images], "[]update.ImageRef")
        return merged


@dataclass(frozen=True)
class ResultV2:
    """v1beta's ``update.ResultV2`` (``.Changed``): ``ImageResult`` and ``FileChanges``."""

    ImageResult: ImageResult
    FileChanges: GoMap  # map[string]update.ObjectChanges
    go_type: ClassVar[str] = "update.ResultV2"

    def Changes(self) -> GoSlice:
        return Result(self.FileChanges).Changes()

    def Objects(self) -> GoMap:
        merged = GoMap(go_type=OBJECT_CHANGES)
        for file in _by_key(self.FileChanges):  # v0.41: a later file's changes replace
            merged.update(self.FileChanges[file])
        return merged


@dataclass(frozen=True)
class TemplateData:
    """v1's ``source.TemplateData``."""

    AutomationObject: NamespacedName
    Changed: Result
    Values: GoMap  # map[string]string
    go_type: ClassVar[str] = "source.TemplateData"
    go_removed: ClassVar[dict[str, str]] = {"Updated": REMOVED_UPDATED}


@dataclass(frozen=True)
class TemplateDataV1beta:
    """v1beta2's (and v1beta1's) ``source.TemplateData``."""

    AutomationObject: NamespacedName
    Updated: ImageResult
    Changed: ResultV2
    Values: GoMap  # map[string]string
    go_type: ClassVar[str] = "source.TemplateData"


# --------------------------------------------------------------------- from the setters


@dataclass(frozen=True)
class Update:
    """One value the setters changed, with what Flux's setters record of it."""

    file: str  # relative to spec.update.path (its folder when the path is a file), as Flux
    object: ObjectIdentifier
    change: SetterChange
    latest: Latest


def setter_name(change: SetterChange) -> str:
    """The setter Flux names in ``Change.Setter``: ``ns:policy``, or ``ns:policy:tag`` (``:name``,
    ``:digest``) for a marker of one field."""
    return change.policy if change.setter == "image" else f"{change.policy}:{change.setter}"


def object_identifier(document: str) -> ObjectIdentifier:
    """kyaml's ``GetMeta().GetIdentifier()`` of one YAML document: the scalar text of
    ``apiVersion``, ``kind``, ``metadata.name`` and ``metadata.namespace`` (empty when absent,
    null, or not a scalar)."""
    try:
        node = yaml.compose(document, Loader=_Loader)
    except (yaml.YAMLError, ValueError, TypeError, RecursionError):
        return ObjectIdentifier.of("", "", "", "")

    def field(mapping: Any, key: str) -> Any:
        if not isinstance(mapping, yaml.MappingNode):
            return None
        for k, v in mapping.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
        return None

    def text(value: Any) -> str:
        if isinstance(value, yaml.ScalarNode) and value.tag != "tag:yaml.org,2002:null":
            return str(value.value)
        return ""

    meta = field(node, "metadata")
    return ObjectIdentifier.of(
        text(field(node, "apiVersion")),
        text(field(node, "kind")),
        text(field(meta, "name")),
        text(field(meta, "namespace")),
    )


def template_data(
    api_version: str,
    namespace: str,
    name: str,
    updates: Sequence[Update],
    values: Mapping[str, str] | None,
) -> TemplateData | TemplateDataV1beta:
    """The data of the automation's API version, built from its setters' changes as Flux's
    setter callback records them (``Result.AddChange``, and for the older APIs the images)."""
    file_changes = GoMap(go_type="map[string]update.ObjectChanges")
    files = GoMap(go_type="map[string]update.FileResult")
    for update in updates:
        change = update.change
        objects = file_changes.setdefault(update.file, GoMap(go_type=OBJECT_CHANGES))
        recorded = Change(change.old, change.new, setter_name(change))
        objects.setdefault(update.object, GoSlice(go_type="[]update.Change")).append(recorded)
        policy_ns, _, policy_name = change.policy.partition(":")
        ref = image_ref(update.latest.image(), NamespacedName(policy_ns, policy_name))
        images = GoMap(go_type="map[update.ObjectIdentifier][]update.ImageRef")
        file_result = files.setdefault(update.file, FileResult(images))
        held = file_result.Objects.setdefault(update.object, GoSlice(go_type="[]update.ImageRef"))
        if ref not in held:
            held.append(ref)
    automation = NamespacedName(namespace, name)
    value_map = GoMap(values or {}, "map[string]string")
    if api_version == V1_API:
        return TemplateData(automation, Result(file_changes), value_map)
    image_result = ImageResult(files)
    return TemplateDataV1beta(
        automation, image_result, ResultV2(image_result, file_changes), value_map
    )


def commit_message(
    message_template: str | None,
    values: Mapping[str, str] | None,
    api_version: str,
    namespace: str,
    name: str,
    updates: Sequence[Update],
) -> str:
    """The commit message of an automation's run: its template (Flux's default when empty)
    rendered over the data of its API version. A template that renders nothing stops the
    automation: git makes no commit with an empty message, and no retry would change that."""
    data = template_data(api_version, namespace, name, updates, values)
    message = template.render(message_template or DEFAULT_TEMPLATE, data)
    if not message:
        raise InvalidSpec(
            "spec.git.commit.messageTemplate renders an empty commit message: "
            "git refuses to commit with one; make the template write something",
            reason="EmptyCommitMessage",
        )
    return message
