"""Setters on golden folders: every file under original/ becomes the one under expected/,
byte for byte; plus the errors a marker can have."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.services.git_committer.setters import Latest, update_text
from conveyor.shared.errors import InvalidSpec

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
