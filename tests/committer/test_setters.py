"""Setters on golden folders: every file under original/ becomes the one under expected/,
byte for byte; plus the errors a marker can have."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conveyor.services.git_committer.reconcile import compute_updates, yaml_files
from conveyor.services.git_committer.setters import Latest, update_text
from conveyor.shared.errors import InvalidSpec, PermanentError

GOLDEN = Path(__file__).parent / "golden"
POLICIES: dict[str, Latest | None] = {
    "flux-system:image-repo-policy": Latest("pythops/gitops", "master-a8158c7c-1640370014"),
    "flux-system:not-ready-yet": None,
}


@pytest.mark.parametrize("case", sorted(p.name for p in GOLDEN.iterdir()))
def test_golden(case: str) -> None:
    original, expected = GOLDEN / case / "original", GOLDEN / case / "expected"
    for path in sorted(original.rglob("*.yaml")):
        rel = path.relative_to(original)
        text = path.read_bytes().decode()
        new, changes = update_text(text, str(rel), POLICIES, "flux-system")
        want = (expected / rel).read_bytes().decode()
        assert new == want
        assert bool(changes) == (text != want)
        for change in changes:  # each change names its line, and that line is the one changed
            assert text.splitlines()[change.line - 1] != new.splitlines()[change.line - 1]


def test_changes_describe_old_and_new_values() -> None:
    text = (GOLDEN / "forms" / "original" / "pod.yaml").read_text()
    _, changes = update_text(text, "pod.yaml", POLICIES, "flux-system")
    assert [(c.line, c.setter, c.old, c.new) for c in changes] == [
        (8, "image", "pythops/gitops:old", "pythops/gitops:master-a8158c7c-1640370014"),
        (10, "image", "pythops/gitops:old", "pythops/gitops:master-a8158c7c-1640370014"),
        (18, "tag", "old", "master-a8158c7c-1640370014"),
        (20, "name", "old/name", "pythops/gitops"),
        (27, "image", "pythops/gitops:old", "pythops/gitops:master-a8158c7c-1640370014"),
    ]


def test_a_policy_without_a_result_yet_leaves_the_line() -> None:
    text = 'image: a:b # {"$imagepolicy": "flux-system:not-ready-yet"}\n'
    assert update_text(text, "f.yaml", POLICIES, "flux-system") == (text, [])


@pytest.mark.parametrize(
    "line, message",
    [
        pytest.param(
            'image: a:b # {"$imagepolicy": "flux-system:missing"}',
            "f.yaml:2: marker names ImagePolicy flux-system/missing, which does not exist",
            id="unknown",
        ),
        pytest.param(
            'image: a:b # {"$imagepolicy": "flux-system:x:size"}',
            "invalid $imagepolicy marker",
            id="bad-suffix",
        ),
        pytest.param(
            'image: a:b # {"$imagepolicy": flux-system}',
            "invalid $imagepolicy marker",
            id="bad-json",
        ),
        pytest.param(
            'image: # {"$imagepolicy": "flux-system:image-repo-policy"}',
            "not on a line with a scalar value",
            id="no-value",
        ),
    ],
)
def test_marker_errors_name_file_and_line(line: str, message: str) -> None:
    with pytest.raises(InvalidSpec) as err:
        update_text(
            f"kind: Pod\n{line}\n",
            "f.yaml",
            POLICIES,
            "flux-system",
        )
    assert message in str(err.value)
    assert "f.yaml:2" in str(err.value)


@pytest.mark.parametrize(
    "value",
    [
        "v1\n        securityContext: {privileged: true}",
        "v1 # comment",
        "v1'",
        '"v1',
        "{v1}",
        "-v1",
        "v1\r",
        "",
    ],
    ids=["newline", "comment", "quote", "double-quote", "flow", "dash", "carriage-return",
         "empty"],
)
def test_a_value_that_is_not_one_plain_scalar_is_never_written(value: str) -> None:
    text = "image: app:v0 # {\"$imagepolicy\": \"flux-system:p:tag\"}\n"
    with pytest.raises(PermanentError) as info:
        update_text(text, "d.yaml", {"flux-system:p": Latest("app", value)}, "flux-system")
    assert info.value.reason == "InvalidValue" and "d.yaml:1" in str(info.value)


@pytest.mark.parametrize(
    "value",
    ["v1.2.3", "master-a8158c7c-1640370014", "1.0.0+build.5", "_x", "sha256:" + "a" * 64],
)
def test_image_reference_parts_are_written(value: str) -> None:
    text = "image: app:v0 # {\"$imagepolicy\": \"flux-system:p:tag\"}\n"
    new, _ = update_text(text, "d.yaml", {"flux-system:p": Latest("app", value)}, "flux-system")
    assert new == f"image: app:{value} # {{\"$imagepolicy\": \"flux-system:p:tag\"}}\n".replace(
        "app:", "", 1
    )


MARKED = 'image: app:v0 # {"$imagepolicy": "flux-system:p"}\n'
v1 = Latest("app", "v1")


@pytest.mark.parametrize(
    ("make", "named"),
    [
        (lambda w, out: (w / "deploy/x.yaml").symlink_to(out / "victim.yaml"), "deploy/x.yaml"),
        (lambda w, out: (w / "deploy/abs.yaml").symlink_to("/etc/hostname"), "deploy/abs.yaml"),
        (lambda w, out: (w / "deploy/up.yaml").symlink_to("../../outside/victim.yaml"),
         "deploy/up.yaml"),
        (lambda w, out: (w / "deploy/dir").symlink_to(out, target_is_directory=True),
         "deploy/dir"),
    ],
    ids=["file-link-out", "absolute", "relative-up", "directory-link-out"],
)
def test_a_link_out_of_the_checkout_is_refused_and_nothing_is_written(
    tmp_path: Path, make: Callable[[Path, Path], None], named: str
) -> None:
    work, outside = tmp_path / "work", tmp_path / "outside"
    (work / "deploy").mkdir(parents=True)
    outside.mkdir()
    (outside / "victim.yaml").write_text(MARKED)
    (work / "deploy/app.yaml").write_text(MARKED)
    make(work, outside)
    with pytest.raises(PermanentError) as info:
        compute_updates(work / "deploy", work, lambda refs: {"flux-system:p": v1}, "flux-system")
    assert info.value.reason == "LinkOutsideRepository"
    assert named in str(info.value)
    assert (outside / "victim.yaml").read_text() == MARKED


def test_a_link_inside_the_checkout_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy/app.yaml").write_text(MARKED)
    (tmp_path / "deploy/alias.yaml").symlink_to("app.yaml")
    (tmp_path / "deploy/same").symlink_to(".", target_is_directory=True)
    assert yaml_files(tmp_path / "deploy", tmp_path) == [tmp_path / "deploy/app.yaml"]
    updates = compute_updates(
        tmp_path / "deploy", tmp_path, lambda refs: {"flux-system:p": v1}, "flux-system"
    )
    assert list(updates.texts) == [tmp_path / "deploy/app.yaml"] and len(updates.described) == 1
    assert updates.refs == {"flux-system:p"}
