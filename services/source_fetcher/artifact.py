"""The artifact of a GitRepository: the tree of its commit (with what it includes) as a tar.gz,
without what the ignore rules exclude. source-controller's checkout, ``reconcileInclude`` and
``Storage.Archive``, on a tree held in memory (no file is written for it):

- :meth:`Tree.sparse` keeps what go-git's sparse checkout keeps: the paths that start with one
  of the listed directories (a plain prefix of the path);
- :meth:`Tree.include` puts an included GitRepository's artifact, or its ``fromPath``, at
  ``toPath``, as Flux renames it there: onto nothing, an empty directory or (a file) a file;
  a directory that holds anything, or one of the other type, is an error naming both paths;
- :meth:`Tree.archive` walks it in name order, every directory included (so a file that a
  later ``!`` pattern re-includes under an excluded directory is archived), and writes each
  directory and file that the rules keep, with Flux's normalised headers (owner 0, no times,
  mode 0750 for directories, 0700 for executables, 0600 for other files), so that the same
  content gives the same digest. Links are kept as links (the applier refuses one that leads
  out of the tree); Flux's archive leaves them out.

Paths are joined as filepath-securejoin joins them (``..`` stops at the root, a link on the
way is followed as if the root were ``/``), so nothing lands outside the tree.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from conveyor.services.source_fetcher.ignore import IGNORE_FILE, Matcher, rules_for

MAX_LINK_HOPS = 255  # links a path may pass through when joined inside the tree

DIR, FILE, LINK = "dir", "file", "link"


class IncludeError(Exception):
    """An include that cannot be put in place; ``reason`` is Flux's (``CopyFailure``,
    ``IllegalPath``)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Node:
    kind: str  # DIR, FILE or LINK
    data: bytes = b""  # a file's content
    target: str = ""  # a link's
    executable: bool = False


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


class Tree:
    """Paths (``a/b``, no leading ``./``; ``""`` is the root) to their nodes."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}

    def add(self, path: str, node: Node) -> None:
        """``node`` at ``path``, with the directories above it. A path with a ``..`` part is a
        ValueError (Git and go-git refuse to check one out)."""
        parts = _parts(path)
        if ".." in parts:
            raise ValueError(f"invalid path {path!r} in the tree")
        for depth in range(1, len(parts)):
            self.nodes.setdefault("/".join(parts[:depth]), Node(DIR))
        if parts:
            self.nodes["/".join(parts)] = node

    @classmethod
    def from_tar(cls, data: bytes) -> Tree:
        """A tree from a tar (``git archive``) or a tar.gz (an artifact)."""
        tree = cls()
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            for member in tar:
                if member.isdir():
                    tree.add(member.name, Node(DIR))
                elif member.issym():
                    tree.add(member.name, Node(LINK, target=member.linkname))
                elif member.isreg():
                    content = tar.extractfile(member)
                    assert content is not None
                    tree.add(
                        member.name,
                        Node(FILE, content.read(), executable=bool(member.mode & 0o111)),
                    )
        return tree

    @classmethod
    def from_directory(cls, root: Path) -> Tree:
        """A tree from a checkout on disk, its repository (``root/.git``) left out."""
        tree = cls()

        def walk(directory: Path, prefix: str) -> None:
            with os.scandir(directory) as it:
                for entry in it:
                    if not prefix and entry.name == ".git" and entry.is_dir(follow_symlinks=False):
                        continue
                    path = f"{prefix}{entry.name}"
                    mode = entry.stat(follow_symlinks=False).st_mode
                    if stat.S_ISDIR(mode):
                        tree.add(path, Node(DIR))
                        walk(Path(entry.path), f"{path}/")
                    elif stat.S_ISLNK(mode):
                        tree.add(path, Node(LINK, target=os.readlink(entry.path)))
                    elif stat.S_ISREG(mode):
                        data = Path(entry.path).read_bytes()
                        tree.add(path, Node(FILE, data, executable=bool(mode & 0o111)))

        walk(root, "")
        return tree

    # --- paths ---------------------------------------------------------------------------

    def resolve(self, unsafe: str) -> str:
        """``unsafe`` joined to the root as filepath-securejoin joins it."""
        todo = _parts(unsafe)
        done: list[str] = []
        hops = 0
        while todo:
            part = todo.pop(0)
            if part == "..":
                if done:
                    done.pop()
                continue
            node = self.nodes.get("/".join([*done, part]))
            if node is not None and node.kind == LINK:
                hops += 1
                if hops > MAX_LINK_HOPS:
                    raise ValueError(f"too many links in {unsafe!r}")
                if node.target.startswith("/"):
                    done = []
                todo = _parts(node.target) + todo
                continue
            done.append(part)
        return "/".join(done)

    def exists(self, unsafe: str) -> bool:
        path = self.resolve(unsafe)
        return path == "" or path in self.nodes

    def _below(self, path: str) -> list[str]:
        """The paths under the directory ``path`` (every path, for the root)."""
        if not path:
            return list(self.nodes)
        return [p for p in self.nodes if p.startswith(path + "/")]

    # --- what Flux does with it ----------------------------------------------------------

    def sparse(self, prefixes: list[str]) -> None:
        """Keep the paths that start with one of ``prefixes`` (and the directories above
        them), as go-git's sparse checkout keeps index entries."""
        encoded = tuple(p.encode("utf-8", "surrogateescape") for p in prefixes)
        kept = {p for p in self.nodes if p.encode("utf-8", "surrogateescape").startswith(encoded)}
        nodes, self.nodes = self.nodes, {}
        for path in sorted(kept):
            self.add(path, nodes[path])

    def include(self, other: Tree, name: str, from_path: str, to_path: str) -> None:
        """Move ``from_path`` of ``other`` (an included artifact) to ``to_path`` (default:
        ``name``) of this tree, as Flux's rename does."""
        to_path = to_path or name

        def fail(detail: str) -> IncludeError:
            return IncludeError(
                f"failed to copy '{name}' include from {from_path} to {to_path}: {detail}",
                "CopyFailure",
            )

        try:
            target = self.resolve(to_path)
        except ValueError as exc:
            raise IncludeError(
                f"path calculation for include '{name}' failed: {exc}", "IllegalPath"
            ) from exc
        try:
            source = other.resolve(from_path)
        except ValueError as exc:
            raise fail(str(exc)) from exc
        moved = other.nodes.get(source, Node(DIR) if source == "" else None)
        if moved is None:
            raise fail(f"cannot stat {from_path}: no such file or directory")
        # the directories above the target are made (MkdirAll), through no file
        parts = _parts(target)
        for depth in range(1, len(parts)):
            above = self.nodes.get("/".join(parts[:depth]))
            if above is not None and above.kind != DIR:
                raise fail("not a directory")
        there = self.nodes.get(target, Node(DIR) if target == "" else None)
        if there is not None:
            if there.kind == DIR and moved.kind == DIR:
                if target == "" or self._below(target):
                    raise fail("directory not empty")
            elif there.kind == DIR:
                raise fail("is a directory")
            elif moved.kind == DIR:
                raise fail("not a directory")
        self.add(target, moved)
        if moved.kind == DIR:
            for path in other._below(source):
                self.add(f"{target}/{path[len(source) + 1 if source else 0 :]}", other.nodes[path])

    # --- the archive ---------------------------------------------------------------------

    def _children(self) -> dict[str, list[str]]:
        """Each directory's entries (names), in the order Go's ReadDir gives them."""
        children: dict[str, list[str]] = {"": []}
        for path, node in self.nodes.items():
            children.setdefault(_parent(path), []).append(path.rpartition("/")[2])
            if node.kind == DIR:
                children.setdefault(path, [])
        for names in children.values():
            names.sort(key=lambda n: n.encode("utf-8", "surrogateescape"))
        return children

    def _ignore_files(
        self, children: dict[str, list[str]]
    ) -> Iterator[tuple[tuple[str, ...], str]]:
        """Each ``.sourceignore`` (its directory's parts, its text) as source-controller's
        LoadIgnorePatterns reads them: a directory's own first, then its subdirectories' in
        name order, never inside a directory named ``.git``; a link is not followed."""

        def visit(directory: str) -> Iterator[tuple[tuple[str, ...], str]]:
            parts = tuple(_parts(directory))
            own = self.nodes.get(f"{directory}/{IGNORE_FILE}" if directory else IGNORE_FILE)
            if own is not None and own.kind == FILE:
                yield parts, own.data.decode("utf-8", "surrogateescape")
            for name in children.get(directory, []):
                path = f"{directory}/{name}" if directory else name
                if name != ".git" and self.nodes[path].kind == DIR:
                    yield from visit(path)

        yield from visit("")

    def archive(self, ignore: str | None) -> bytes:
        """The tar.gz of the tree without what its ``.sourceignore`` files, ``ignore`` (the
        spec's) and Flux's default exclusions leave out."""
        children = self._children()
        matcher = Matcher(rules_for(self._ignore_files(children), ignore))
        raw = io.BytesIO()
        with (
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=6) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar,
        ):

            def walk(directory: str, parts: tuple[str, ...], above: int) -> None:
                for name in children.get(directory, []):
                    path = f"{directory}/{name}" if directory else name
                    here = (*parts, name)
                    node = self.nodes[path]
                    verdict = matcher.last_match(here, node.kind == DIR, above)
                    if not matcher.excluded(verdict):
                        _add(tar, path, node)
                    if node.kind == DIR and not matcher.settled(verdict):
                        walk(path, here, verdict)

            walk("", (), -1)
        return raw.getvalue()


def _add(tar: tarfile.TarFile, name: str, node: Node) -> None:
    member = tarfile.TarInfo(name)
    member.uid = member.gid = 0
    member.uname = member.gname = ""
    member.mtime = 0
    if node.kind == DIR:
        member.type, member.mode = tarfile.DIRTYPE, 0o750
        tar.addfile(member)
    elif node.kind == LINK:
        member.type, member.mode, member.linkname = tarfile.SYMTYPE, 0o777, node.target
        tar.addfile(member)
    else:
        member.mode = 0o700 if node.executable else 0o600
        member.size = len(node.data)
        tar.addfile(member, io.BytesIO(node.data))


def included(data: bytes) -> Tree:
    """An included GitRepository's artifact as a tree; one that is no tar.gz is a ValueError."""
    try:
        return Tree.from_tar(data)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ValueError(f"the artifact is not a valid tar.gz: {exc}") from exc
