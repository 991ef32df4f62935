"""A manifest folder read again when it changed (shared/sources.py): each kind of change is
seen by the next refresh, through a real Redis; links count as ``load_directory`` reads them,
and an entry gone during the walk is passed over."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.shared.models import ImageRepository
from conveyor.shared.sources import ManifestSource, tree_stamp
from conveyor.shared.store import Store


def repository(name: str, interval: str = "1h") -> str:
    return (
        "apiVersion: image.toolkit.fluxcd.io/v1\n"
        "kind: ImageRepository\n"
        f"metadata: {{name: {name}, namespace: apps}}\n"
        f"spec: {{image: example.com/{name}, interval: {interval}}}\n"
    )


def stored(store: Store) -> dict[str, int]:
    """The stored ImageRepositories' names and intervals (seconds)."""
    found = {}
    for key in store.keys("ImageRepository"):
        obj = store.get_object(key, ImageRepository)
        assert obj is not None
        found[obj.metadata.name] = int(obj.spec.interval)
    return found


def test_each_change_of_the_folder_is_read_by_the_next_refresh(
    redis_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "flux"
    (folder / "apps").mkdir(parents=True)
    (folder / "a.yaml").write_text(repository("a"))
    (folder / "apps" / "b.yaml").write_text(repository("b"))
    store = Store.from_url(redis_url)
    source = ManifestSource(folder)
    assert source.refresh(store) == []
    assert stored(store) == {"a": 3600, "b": 3600}
    stamp = tree_stamp(folder)
    assert tree_stamp(folder) == stamp  # nothing changed, nothing moves

    (folder / "c.yaml").write_text(repository("c"))  # a file added
    assert source.refresh(store) == []
    assert stored(store) == {"a": 3600, "b": 3600, "c": 3600}

    # edited in place, its stamp set to an older time (as `rsync -t` or `touch -d` leave it)
    # while other files are newer: the folder's newest time does not move
    (folder / "apps" / "b.yaml").write_text(repository("b", "2h"))
    os.utime(folder / "apps" / "b.yaml", (1, 1))
    assert source.refresh(store) == []
    assert stored(store) == {"a": 3600, "b": 7200, "c": 3600}
    (folder / "apps" / "b.yaml").write_text(repository("b", "3h"))
    os.utime(folder / "apps" / "b.yaml", (2, 2))
    assert source.refresh(store) == []
    assert stored(store)["b"] == 10800

    (folder / "a.yaml").unlink()  # a file deleted, from the top folder
    assert source.refresh(store) == []
    assert stored(store) == {"b": 10800, "c": 3600}

    (folder / "team" / "new").mkdir(parents=True)  # a file in a new subfolder
    (folder / "team" / "new" / "d.yml").write_text(repository("d"))
    assert source.refresh(store) == []
    assert stored(store) == {"b": 10800, "c": 3600, "d": 3600}


def test_links_count_as_load_directory_reads_them(tmp_path: Path) -> None:
    """As ``Path.rglob`` (``load_directory``'s walk): a link counts with its target's time and
    a linked folder is not entered; a link to nothing is passed over."""
    folder, elsewhere = tmp_path / "flux", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    (elsewhere / "target.yaml").write_text(repository("t"))
    (folder / "linked.yaml").symlink_to(elsewhere / "target.yaml")
    (folder / "linked-folder").symlink_to(elsewhere)
    (folder / "dangling.yaml").symlink_to(tmp_path / "nothing.yaml")
    os.utime(elsewhere / "target.yaml", (5, 5))
    os.utime(elsewhere, (7, 7))
    own = os.stat(folder).st_mtime_ns
    # the folder, the linked file (its target's time), the linked folder (its target's time)
    assert tree_stamp(folder) == (3, own + 5 * 10**9 + 7 * 10**9)
    (elsewhere / "inside.yaml").write_text(repository("i"))  # below the linked folder
    os.utime(elsewhere, (9, 9))
    assert tree_stamp(folder) == (3, own + 5 * 10**9 + 9 * 10**9)  # not entered


def test_an_entry_gone_during_the_walk_is_passed_over(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file and a folder deleted after the walk listed them and before it looks at them."""
    folder = tmp_path / "flux"
    (folder / "gone").mkdir(parents=True)
    (folder / "gone" / "x.yaml").write_text(repository("x"))
    (folder / "gone.yaml").write_text(repository("g"))
    (folder / "kept.yaml").write_text(repository("k"))
    victims = {"gone", "gone.yaml"}
    scandir = os.scandir

    class Listed:
        """``os.scandir``'s entries, the victims among them deleted once listed (once)."""

        def __init__(self, path: str) -> None:
            with scandir(path) as entries:
                self.entries = list(entries)
            for entry in self.entries:
                if entry.name in victims:
                    victims.discard(entry.name)
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path)
                    else:
                        os.unlink(entry.path)

        def __enter__(self) -> Iterator[os.DirEntry[str]]:
            return iter(self.entries)

        def __exit__(self, *exc: object) -> None:
            return None

    monkeypatch.setattr(os, "scandir", Listed)
    store = Store.from_url(redis_url)
    assert ManifestSource(folder).refresh(store) == []
    assert victims == set()  # both were listed, then deleted
    assert stored(store) == {"k": 3600}
