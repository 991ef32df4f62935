"""Multi-document YAML with the line of every field, so errors can name file and line."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from conveyor.shared.errors import ManifestError

Path = tuple[str | int, ...]


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


class _Loader(yaml.SafeLoader):
    pass


def _build(node: yaml.Node, path: Path, lines: dict[Path, int], loader: _Loader) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool):
                raise ManifestError(
                    "mapping keys must be scalars", line=key_node.start_mark.line + 1
                )
            lines[(*path, str(key))] = key_node.start_mark.line + 1
            out[str(key)] = _build(value_node, (*path, str(key)), lines, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), lines, loader) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def load_documents(text: str, file: str = "<string>") -> Iterator[Document]:
    """Yield every non-empty document of ``text``; a YAML syntax error names file and line."""
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
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
        raise ManifestError(exc.message.split(": ", 1)[-1], file=file, line=exc.line) from exc
    finally:
        loader.dispose()
