"""Multi-document YAML with the line of every field, so errors can name file and line.

Parsing is bounded, so that a hostile manifest (a "billion laughs" of nested aliases, a deep
nesting, a huge file) fails fast with a ManifestError instead of taking the memory of the
machine: at most ``MAX_TEXT_BYTES`` of text, ``MAX_NODES`` nodes built per document (an alias
counts each time it is expanded), ``MAX_ALIAS_NODES`` nodes built by expanding aliases in the
whole text (so that many small bombs in many documents are one bomb too) and ``MAX_DEPTH``
levels of nesting.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError

from conveyor.shared.errors import ManifestError

Path = tuple[str | int, ...]

MAX_TEXT_BYTES = 4 * 1024 * 1024
"""The largest text ``load_documents`` parses (4 MiB; Kubernetes stores objects up to 1.5 MiB)."""
MAX_NODES = 100_000
"""Nodes built per document, an alias counting each time it is expanded: above the largest
object a cluster can store (1.5 MiB, some 60,000 nodes of a CRD) and about what 4 MiB of real
YAML holds; a YAML bomb builds billions."""
MAX_ALIAS_NODES = 100_000
"""Nodes built by expanding aliases (every visit of a node after its first), all documents of
one text together: without aliases, the nodes are bounded by the text's size."""
MAX_DEPTH = 100
"""Levels of nesting per document (real manifests, CRD schemas included, stay below 40)."""


@dataclass(frozen=True)
class Document:
    """One YAML document: its data, where it came from, and the line of each field path."""

    data: Any
    file: str
    line: int
    lines: dict[Path, int] = field(default_factory=dict, repr=False, compare=False)

    def line_of(self, path: Path) -> int:
        """The line of the deepest known ancestor of ``path`` (1-based)."""
        for end in range(len(path), 0, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return self.line


def _line(node: yaml.Node | yaml.Event) -> int | None:
    return node.start_mark.line + 1 if node.start_mark is not None else None


def _too_deep(line: int | None) -> ManifestError:
    return ManifestError(f"nested deeper than {MAX_DEPTH} levels", line=line)


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, bounded in nesting (composing, merging) and in nodes built."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0
        self.nodes = 0  # built in this document
        self.seen: set[int] = set()  # the nodes of this document built once (their ids)
        self.expanded = 0  # built again (an alias, a merge), in every document of the text

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        # PyYAML composes recursively: bound it before Python's own recursion limit does
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                # the node's first event, peeked by check_event
                event: yaml.Event | None = self.current_event if self.check_event() else None
                raise _too_deep(_line(event) if event is not None else None)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        """PyYAML's merge keys (``<<``), bounded: merging copies entries, and merges of merges
        grow geometrically, so the merged mapping is limited to ``MAX_NODES`` entries."""
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _too_deep(_line(node))
            merge: list[tuple[yaml.Node, yaml.Node]] = []
            index = 0
            while index < len(node.value):
                key_node, value_node = node.value[index]
                if key_node.tag == "tag:yaml.org,2002:merge":
                    del node.value[index]
                    if isinstance(value_node, yaml.MappingNode):
                        subnodes = [value_node]
                    elif isinstance(value_node, yaml.SequenceNode):
                        subnodes = list(value_node.value)
                    else:
                        raise ConstructorError(
                            "while constructing a mapping",
                            node.start_mark,
                            "expected a mapping or list of mappings for merging, but found "
                            f"{value_node.id}",
                            value_node.start_mark,
                        )
                    for subnode in subnodes:
                        if not isinstance(subnode, yaml.MappingNode):
                            raise ConstructorError(
                                "while constructing a mapping",
                                node.start_mark,
                                f"expected a mapping for merging, but found {subnode.id}",
                                subnode.start_mark,
                            )
                        self.flatten_mapping(subnode)
                    for subnode in reversed(subnodes):  # the first listed wins, as PyYAML
                        merge.extend(subnode.value)
                        if len(merge) + len(node.value) > MAX_NODES:
                            raise ManifestError(
                                f"too many aliases/nodes: merging (<<) makes a mapping of more "
                                f"than {MAX_NODES} entries",
                                line=_line(node),
                            )
                elif key_node.tag == "tag:yaml.org,2002:value":
                    key_node.tag = "tag:yaml.org,2002:str"
                    index += 1
                else:
                    index += 1
            if merge:
                node.value = merge + node.value
        finally:
            self.depth -= 1

    def start_document(self) -> None:
        self.nodes = 0
        self.seen.clear()
        # what PyYAML's construct_document forgets after each document (``_build`` calls
        # construct_object itself): else every node of the text, and what it built, stays
        # referenced until the last document is read
        self.constructed_objects = {}
        self.recursive_objects = {}

    def visit(self, node: yaml.Node, depth: int, line: int | None) -> None:
        """Count ``node`` built (``MAX_NODES``, ``MAX_ALIAS_NODES``) at nesting ``depth``
        (``MAX_DEPTH``); ``line`` is where to blame it (an expanded alias has no place of its
        own in the text)."""
        self.nodes += 1
        if id(node) not in self.seen:
            self.seen.add(id(node))
        else:
            self.expanded += 1
            if self.expanded > MAX_ALIAS_NODES:
                raise ManifestError(
                    f"too many aliases/nodes: aliases expand to more than {MAX_ALIAS_NODES} "
                    "nodes in this file",
                    line=line,
                )
        if self.nodes > MAX_NODES:
            raise ManifestError(
                f"too many aliases/nodes: the document builds more than {MAX_NODES} nodes "
                "(an alias counts each time it is expanded)",
                line=line,
            )
        if depth > MAX_DEPTH:
            raise _too_deep(line)


def _build(
    node: yaml.Node, path: Path, lines: dict[Path, int], loader: _Loader, depth: int = 1
) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    # blamed on the top-level entry being built: where the aliases that blow up are used
    top = lines[path[:1]]
    loader.visit(node, depth, top)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            loader.visit(key_node, depth + 1, top)
            # a collection as a key is refused before it is constructed (it could be a bomb)
            key = (
                loader.construct_object(key_node, deep=True)
                if isinstance(key_node, yaml.ScalarNode)
                else None
            )
            if not isinstance(key, str | int | float | bool):
                raise ManifestError(
                    "mapping keys must be scalars", line=key_node.start_mark.line + 1
                )
            lines[(*path, str(key))] = key_node.start_mark.line + 1
            out[str(key)] = _build(value_node, (*path, str(key)), lines, loader, depth + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, (*path, i), lines, loader, depth + 1)
            for i, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)


def load_documents(text: str, file: str = "<string>") -> Iterator[Document]:
    """Yield every non-empty document of ``text``; a YAML syntax error names file and line.

    A text larger than ``MAX_TEXT_BYTES``, a document building more than ``MAX_NODES`` nodes or
    nested deeper than ``MAX_DEPTH`` levels, aliases expanding to more than ``MAX_ALIAS_NODES``
    nodes in all raise ManifestError too.
    """
    size = ""
    if len(text) > MAX_TEXT_BYTES:
        size = f"{len(text)} characters"
    elif len(text) > MAX_TEXT_BYTES // 4:  # a character takes up to 4 bytes in UTF-8
        encoded = len(text.encode("utf-8", "surrogatepass"))
        size = f"{encoded} bytes" if encoded > MAX_TEXT_BYTES else ""
    if size:
        raise ManifestError(
            f"larger than {MAX_TEXT_BYTES // (1024 * 1024)} MiB ({size}): not parsed", file=file
        )
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            loader.start_document()
            lines: dict[Path, int] = {}
            data = _build(node, (), lines, loader)
            if data is None:
                continue
            yield Document(data=data, file=file, line=node.start_mark.line + 1, lines=lines)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ManifestError(f"invalid YAML: {exc.problem or exc}", file=file, line=line) from exc
    except yaml.YAMLError as exc:
        raise ManifestError(f"invalid YAML: {exc}", file=file) from exc
    except ManifestError as exc:
        where = f"{exc.line}: " if exc.line is not None else ""
        raise ManifestError(exc.message.removeprefix(where), file=file, line=exc.line) from exc
    except RecursionError as exc:  # not expected within MAX_DEPTH; never escapes as itself
        raise ManifestError(f"nested too deeply to parse: {exc}", file=file) from exc
    finally:
        loader.dispose()
