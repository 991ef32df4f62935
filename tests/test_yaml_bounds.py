"""Bounded YAML: bombs of aliases, deep nesting and huge texts fail fast with a ManifestError.

The time bounds are generous (CI machines vary): unbounded, the alias bomb below takes minutes
and gigabytes; bounded, a fraction of a second.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conveyor.shared import yamlsrc
from conveyor.shared.errors import ManifestError
from conveyor.shared.manifests import load_directory
from conveyor.shared.yamlsrc import (
    MAX_DEPTH,
    MAX_NODES,
    MAX_TEXT_BYTES,
    Document,
    load_documents,
)

FAST = 5.0  # seconds: well above what any of these takes, far below an unbounded parse


def bomb(levels: int = 9, width: int = 9, prefix: str = "l") -> str:
    """The billion laughs: each level a list of ``width`` aliases of the level before."""
    names = [f"{prefix}{i}" for i in range(levels)]
    lines = [f"{names[0]}: &{names[0]} [{', '.join(['lol'] * width)}]"]
    for before, name in itertools.pairwise(names):
        lines.append(f"{name}: &{name} [{', '.join([f'*{before}'] * width)}]")
    return "\n".join(lines) + "\n"


def failure(text: str, file: str = "bomb.yaml") -> ManifestError:
    """The ManifestError that loading ``text`` raises, within ``FAST`` seconds."""
    started = time.monotonic()
    with pytest.raises(ManifestError) as caught:
        list(load_documents(text, file))
    assert time.monotonic() - started < FAST
    assert caught.value.file == file
    return caught.value


@pytest.fixture
def timed() -> Iterator[None]:
    started = time.monotonic()
    yield
    assert time.monotonic() - started < FAST


def test_billion_laughs_fails_fast_naming_file_and_line() -> None:
    error = failure(bomb())
    assert "too many aliases/nodes" in str(error)
    assert str(error).startswith("bomb.yaml:")
    assert error.line is not None and 1 <= error.line <= 9


def test_bomb_of_merge_keys_fails_fast() -> None:
    lines = ["m0: &m0 {a: 1, b: 2}"]
    for i in range(1, 10):
        merged = ", ".join([f"*m{i - 1}"] * 9)
        lines.append(f"m{i}: &m{i} {{<<: [{merged}], k{i}: 1}}")
    error = failure("\n".join(lines) + "\n")
    assert "too many aliases/nodes" in str(error)


def test_small_bombs_in_many_documents_add_up() -> None:
    # each document stays under MAX_NODES; together their aliases expand to far more
    text = "---\n".join(bomb(levels=5, prefix=f"d{i}_") for i in range(100))
    assert MAX_NODES > 9**5
    error = failure(text)
    assert "too many aliases/nodes" in str(error)


def test_a_collection_as_a_key_is_refused_before_it_is_built() -> None:
    anchored = [line.split(": ", 1)[1] for line in bomb().splitlines()]
    error = failure(f"? [{', '.join(anchored)}]\n: x\n")
    assert "mapping keys must be scalars" in str(error)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a: &a [*a]\n", id="recursive-list"),
        pytest.param("a: &a {b: *a}\n", id="recursive-mapping"),
    ],
)
def test_recursive_aliases_fail_as_too_deep(text: str) -> None:
    assert f"nested deeper than {MAX_DEPTH} levels" in str(failure(text))


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param("a: " + "[" * 100_000 + "]" * 100_000 + "\n", 1, id="flow"),
        pytest.param("a: " + "{b: " * 5_000 + "c" + "}" * 5_000 + "\n", 1, id="flow-mapping"),
        pytest.param("".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 20)),
                     MAX_DEPTH, id="block"),
    ],
)
def test_deep_nesting_fails_fast_naming_the_line(text: str, line: int) -> None:
    error = failure(text, "deep.yaml")
    assert f"nested deeper than {MAX_DEPTH} levels" in str(error)
    assert error.line == line
    assert str(error).startswith(f"deep.yaml:{line}: ")


def test_aliases_cannot_nest_deeper_than_the_text() -> None:
    inner = "[" * (MAX_DEPTH - 10) + "x" + "]" * (MAX_DEPTH - 10)
    text = f"a: &a {inner}\n" + "".join(
        f"b{i}: &b{i} [*{'a' if i == 0 else f'b{i - 1}'}]\n" for i in range(20)
    )
    assert "nested deeper than" in str(failure(text))


def test_nesting_up_to_the_limit_loads() -> None:
    # the document is level 1, its value level 2, ...: MAX_DEPTH levels in all
    depth = MAX_DEPTH - 1
    (doc,) = load_documents("a: " + "[" * (depth - 1) + "x" + "]" * (depth - 1) + "\n")
    value = doc.data["a"]
    for _ in range(depth - 2):
        value = value[0]
    assert value == ["x"]


def test_a_recursion_error_never_escapes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlsrc, "MAX_DEPTH", 10**9)
    limit, depth, frame = sys.getrecursionlimit(), 0, sys._getframe()
    while frame.f_back is not None:
        depth, frame = depth + 1, frame.f_back
    sys.setrecursionlimit(depth + 300)  # room for the test, not for 2,000 levels of YAML
    try:
        error = failure("a: " + "[" * 2000 + "]" * 2000 + "\n", "deep.yaml")
    finally:
        sys.setrecursionlimit(limit)
    assert "nested too deeply" in str(error)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        pytest.param("a: " + "x" * MAX_TEXT_BYTES + "\n", "characters", id="ascii"),
        pytest.param("a: " + "é" * (MAX_TEXT_BYTES // 2) + "\n", "bytes", id="utf-8"),
    ],
)
def test_oversize_text_is_refused_before_parsing(text: str, size: str, timed: None) -> None:
    error = failure(text, "huge.yaml")
    assert "larger than 4 MiB" in str(error) and size in str(error)
    assert str(error).startswith("huge.yaml: ")
    assert error.line is None


def test_normal_multi_document_file_still_parses_with_its_lines(timed: None) -> None:
    text = (
        "# a comment\n"
        "apiVersion: v1\n"  # 2
        "kind: ConfigMap\n"
        "metadata:\n"
        "  name: &name app\n"  # 5
        "data: &data\n"
        "  a: '1'\n"
        "  b: [x, y]\n"  # 8
        "---\n"
        "---\n"
        "kind: Other\n"  # 11
        "metadata: {name: &name app}\n"
        "spec:\n"
        "  <<: {a: '1', b: y}\n"
        "  b: z\n"  # 15
        "same: *name\n"
    )
    docs = list(load_documents(text, "ok.yaml"))
    assert [(d.file, d.line) for d in docs] == [("ok.yaml", 2), ("ok.yaml", 11)]
    first, second = docs
    assert first.data["data"] == {"a": "1", "b": ["x", "y"]}
    assert first.line_of(("metadata", "name")) == 5
    assert first.line_of(("data", "b", 1)) == 8
    assert second.data == {
        "kind": "Other",
        "metadata": {"name": "app"},
        "spec": {"a": "1", "b": "z"},
        "same": "app",
    }
    assert second.line_of(("spec", "b")) == 15


def test_a_large_real_document_is_within_bounds(timed: None) -> None:
    items = "".join(f"  - {{name: item{i}, value: {i}}}\n" for i in range(2_000))
    (doc,) = load_documents(f"kind: List\nitems:\n{items}")
    assert isinstance(doc, Document) and len(doc.data["items"]) == 2_000
    assert doc.line_of(("items", 1999, "name")) == 2_002


GOOD = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: app, namespace: ns}
spec: {url: https://example.com/app.git, interval: 1m, ref: {branch: main}}
"""


def test_load_directory_keeps_the_other_files_when_one_is_a_bomb(
    tmp_path: Path, timed: None
) -> None:
    folder = tmp_path / "clusters"
    folder.mkdir()
    (folder / "a-bomb.yaml").write_text(bomb())
    (folder / "b-deep.yaml").write_text("a: &a [*a]\n")
    (folder / "c-good.yaml").write_text(GOOD)
    result = load_directory(folder)
    assert [obj.key for obj in result.objects] == ["GitRepository/ns/app"]
    assert len(result.errors) == 2
    bomb_error, deep_error = result.errors
    assert bomb_error.startswith("clusters/a-bomb.yaml:") and "too many aliases/nodes" in bomb_error
    assert deep_error.startswith("clusters/b-deep.yaml:1: nested deeper than")


POLICY = """apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {{name: app-{i}, namespace: flux-system}}
spec:
  imageRepositoryRef: {{name: app}}
  filterTags: {{pattern: '^main-[a-fA-F0-9]+-(?P<ts>.*)', extract: '$ts'}}
  policy: {{numerical: {{order: asc}}}}
"""


def _peak_bytes(work: Callable[[], object]) -> int:
    import gc
    import tracemalloc

    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        work()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_a_text_of_many_documents_is_read_one_document_at_a_time() -> None:
    text = "---\n".join(POLICY.format(i=i) for i in range(500))

    def read() -> None:
        for _ in load_documents(text, "fleet.yaml"):
            pass

    # each document's nodes are garbage once it is built (about 20 KB each held to the end,
    # 10 MB for these, before PyYAML's per-document tables were cleared)
    assert _peak_bytes(read) < 2_000_000


def test_a_directory_load_holds_the_objects_not_their_yaml(tmp_path: Path) -> None:
    (tmp_path / "fleet.yaml").write_text("---\n".join(POLICY.format(i=i) for i in range(500)))
    held: list[object] = []
    peak = _peak_bytes(lambda: held.append(load_directory(tmp_path)))
    objects = held[0].objects  # type: ignore[attr-defined]
    assert len(objects) == 500
    import tracemalloc

    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    again = load_directory(tmp_path)
    kept = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert len(again.objects) == 500
    assert peak < 2 * kept + 2_000_000  # the objects, and little beside them
