"""``conveyor tree kustomization NAME``: what a Kustomization applied, from its
``status.inventory``, as ``flux tree kustomization`` prints it (``Kind/namespace/name``, a
Kustomization it applied with its own inventory below it; ``--compact``: Flux's objects only;
``-o json|yaml``: flux's tree of ``resource``/``resources``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, TextIO

from conveyor.services.ctl.backends import Backend, NotFoundError, Obj
from conveyor.services.ctl.kinds import BY_NAME
from conveyor.services.ctl.output import dump
from conveyor.shared.status import ObjRef

KUSTOMIZATION = BY_NAME["Kustomization"]
COMPACT_GROUP = "toolkit.fluxcd.io"


@dataclass
class Node:
    ref: ObjRef
    children: list[Node] = field(default_factory=list)

    def add(self, ref: ObjRef) -> Node:
        node = Node(ref)
        self.children.append(node)
        return node

    def data(self) -> dict[str, Any]:
        """flux's JSON: cli-utils' ObjMetadata (Go's field names), ``resources`` when any."""
        out: dict[str, Any] = {
            "resource": {
                "Namespace": self.ref.namespace,
                "Name": self.ref.name,
                "GroupKind": {"Group": self.ref.group, "Kind": self.ref.kind},
            }
        }
        if self.children:
            out["resources"] = [c.data() for c in self.children]
        return out

    def text(self) -> str:
        return f"{self.ref}\n" + _items(self.children, [])


def _items(nodes: list[Node], spaces: list[bool]) -> str:
    out = ""
    for i, node in enumerate(nodes):
        last = i == len(nodes) - 1
        indent = "".join("    " if space else "│   " for space in spaces)
        out += indent + ("└── " if last else "├── ") + str(node.ref) + "\n"
        if node.children:
            out += _items(node.children, [*spaces, last])
    return out


def _inventory(obj: Obj) -> list[str]:
    entries = ((obj.get("status") or {}).get("inventory") or {}).get("entries") or []
    return [str(e.get("id", "")) for e in entries if isinstance(e, dict)]


def build(backend: Backend, node: Node, obj: Obj, compact: bool, seen: set[ObjRef]) -> None:
    """``node``'s children from ``obj``'s inventory, and theirs for each Kustomization found
    (one of another cluster, ``spec.kubeConfig``, is not followed, as in flux)."""
    follow = not (obj.get("spec") or {}).get("kubeConfig")
    for entry in _inventory(obj):
        try:
            ref = ObjRef.parse(entry)
        except ValueError:
            raise NotFoundError(f"unable to parse stored object metadata: {entry}") from None
        if compact and COMPACT_GROUP not in ref.group:
            continue
        if ref == node.ref:
            continue
        child = node.add(ref)
        if (
            follow
            and ref.group == KUSTOMIZATION.group
            and ref.kind == KUSTOMIZATION.name
            and ref not in seen
        ):
            nested = backend.get(KUSTOMIZATION, ref.namespace, ref.name)
            if nested is not None:  # not one conveyor knows: shown without what it applied
                build(backend, child, nested, compact, seen | {ref})


def tree(
    backend: Backend, namespace: str, name: str, output: str, out: TextIO, *, compact: bool = False
) -> int:
    obj = backend.get(KUSTOMIZATION, namespace, name)
    if obj is None:
        raise NotFoundError(
            f"Kustomization object '{name}' not found in \"{namespace}\" namespace "
            f"(list them with: conveyor get kustomization -A)"
        )
    root = Node(ObjRef(KUSTOMIZATION.group, KUSTOMIZATION.name, namespace, name))
    build(backend, root, obj, compact, {root.ref})
    if output == "json":
        print(json.dumps(root.data(), indent=2), file=out)
    elif output == "yaml":
        dump(root.data(), "yaml", out)
    else:
        print(root.text(), file=out)
    return 0
