"""The data a commit message template sees, shaped like Flux's (v1beta1 and v1beta2/v1)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from conveyor.services.git_committer.setters import Change

DEFAULT_TEMPLATE = "Update from image update automation"


@dataclass(frozen=True, order=True)
class ObjectId:
    """The Kubernetes object a changed line belongs to (Flux's ObjectIdentifier)."""

    Kind: str
    Namespace: str
    Name: str

    def __str__(self) -> str:
        return (
            f"{self.Kind} {self.Namespace}/{self.Name}"
            if self.Namespace
            else f"{self.Kind} {self.Name}"
        )


@dataclass(frozen=True, order=True)
class Image:
    """An image reference with the niladic methods Flux templates call."""

    repository: str
    tag: str

    def String(self) -> str:  # Go method names, as templates spell them
        return f"{self.repository}:{self.tag}"

    def Repository(self) -> str:
        return self.repository

    def Identifier(self) -> str:
        return self.tag

    def Name(self) -> str:
        return self.repository

    def __str__(self) -> str:
        return self.String()


@dataclass(frozen=True)
class TemplateChange:
    OldValue: str
    NewValue: str
    Setter: str


def template_data(automation: str, changes: list[tuple[Change, ObjectId, Image]]) -> dict[str, Any]:
    files: dict[str, dict[ObjectId, list[Image]]] = defaultdict(lambda: defaultdict(list))
    objects: dict[ObjectId, list[Image]] = defaultdict(list)
    file_changes: dict[str, dict[ObjectId, list[TemplateChange]]] = defaultdict(
        lambda: defaultdict(list)
    )
    flat: list[TemplateChange] = []
    images: list[Image] = []
    for change, obj, image in changes:
        if image not in files[change.file][obj]:
            files[change.file][obj].append(image)
        if image not in objects[obj]:
            objects[obj].append(image)
        if image not in images:
            images.append(image)
        tc = TemplateChange(OldValue=change.old, NewValue=change.new, Setter=change.policy)
        file_changes[change.file][obj].append(tc)
        flat.append(tc)
    return {
        "AutomationObject": automation,
        "Updated": {
            "Files": {f: {"Objects": dict(o)} for f, o in files.items()},
            "Objects": dict(objects),
            "Images": images,
        },
        "Changed": {
            "FileChanges": {f: dict(o) for f, o in file_changes.items()},
            "Changes": flat,
        },
        "Values": {},
    }
