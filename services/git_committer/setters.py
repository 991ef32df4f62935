"""Setters: rewrite the value on each line that carries an ``$imagepolicy`` marker.

A marker is a YAML comment ``# {"$imagepolicy": "<namespace>:<policy>[:tag|:name|:digest]"}`` on
the line of the value it governs. Only that value changes; every other byte of the file stays as
it was (quotes, spacing, comments, line endings).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from conveyor.shared.errors import InvalidSpec, PermanentError

# <prefix: indent, optional "- ", optional "key: "><value><space>#<marker>
_LINE = re.compile(
    r"""^(?P<prefix>[ \t]*(?:-[ \t]+)?(?:[^\s#'"][^#]*?:[ \t]+)?)"""
    r"""(?P<value>"[^"\r\n]*"|'[^'\r\n]*'|[^\s#'"][^\s#]*(?<!:))"""  # not a bare "key:"
    r"""(?P<space>[ \t]+)#[ \t]*(?P<marker>\{.*\})[ \t]*(?P<eol>\r?\n?)$"""
)
_MARKER_HINT = '"$imagepolicy"'
# What a setter may write: an image reference, or a part of one (name, tag, digest), as one
# plain YAML scalar on one line: no quotes, spaces, comments, flow or block indicators.
SAFE_VALUE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._:/@+-]{0,1023}")
_FIELDS = ("image", "tag", "name", "digest")


@dataclass(frozen=True)
class Latest:
    """What a policy selected: image name, tag and (optionally) digest."""

    name: str
    tag: str
    digest: str | None = None

    def image(self) -> str:
        return f"{self.name}:{self.tag}" + (f"@{self.digest}" if self.digest else "")


@dataclass(frozen=True)
class Change:
    file: str
    line: int
    policy: str  # "namespace:name"
    setter: str  # image | tag | name | digest
    old: str
    new: str


@dataclass(frozen=True)
class Marker:
    policy: str
    setter: str


def parse_marker(text: str, file: str, line: int) -> Marker:
    try:
        data = json.loads(text)
        ref = data["$imagepolicy"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidSpec(f"{file}:{line}: invalid $imagepolicy marker {text}") from exc
    parts = str(ref).split(":")
    if len(parts) == 2:
        parts.append("image")
    if len(parts) != 3 or not all(parts) or parts[2] not in _FIELDS:
        raise InvalidSpec(
            f"{file}:{line}: invalid $imagepolicy marker {ref!r} "
            '(want "<namespace>:<policy>" optionally followed by :tag, :name or :digest)'
        )
    return Marker(policy=f"{parts[0]}:{parts[1]}", setter=parts[2])


def marker_refs(text: str, file: str, namespace: str) -> set[str]:
    """The policies (``"ns:name"``) of ``namespace`` that the markers of ``text`` name; lines
    that do not parse are left to :func:`update_text` to report."""
    refs: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if _MARKER_HINT not in line or (match := _LINE.match(line)) is None:
            continue
        try:
            marker = parse_marker(match["marker"], file, number)
        except InvalidSpec:
            continue
        if marker.policy.split(":", 1)[0] == namespace:
            refs.add(marker.policy)
    return refs


def _new_value(marker: Marker, latest: Latest) -> str | None:
    if marker.setter == "image":
        return latest.image()
    if marker.setter == "tag":
        return latest.tag
    if marker.setter == "name":
        return latest.name
    return latest.digest  # None until the policy reflects digests


def _requote(old: str, new: str) -> str:
    if old[:1] in ("'", '"') and old[-1:] == old[:1]:
        return f"{old[0]}{new}{old[0]}"
    return new


def update_text(
    text: str, file: str, policies: Mapping[str, Latest | None], namespace: str
) -> tuple[str, list[Change]]:
    """Apply every marker of ``namespace`` in ``text``.

    ``policies`` maps ``"ns:name"`` to the policy's latest image, or to None while it has none
    yet. A marker of ``namespace`` naming a policy missing from ``policies`` is an error (it would
    never be updated); markers of other namespaces belong to other automations and are left alone.
    """
    out: list[str] = []
    changes: list[Change] = []
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        if _MARKER_HINT not in line:
            out.append(line)
            continue
        match = _LINE.match(line)
        if match is None:
            raise InvalidSpec(
                f"{file}:{number}: $imagepolicy marker is not on a line with a scalar value"
            )
        marker = parse_marker(match["marker"], file, number)
        if marker.policy.split(":", 1)[0] != namespace:
            out.append(line)
            continue
        if marker.policy not in policies:
            raise InvalidSpec(
                f"{file}:{number}: marker names ImagePolicy {marker.policy.replace(':', '/')}, "
                "which does not exist",
                reason="UnknownPolicy",
            )
        latest = policies[marker.policy]
        new = _new_value(marker, latest) if latest is not None else None
        old = match["value"]
        if new is None or _requote(old, new) == old:
            out.append(line)
            continue
        if not SAFE_VALUE.fullmatch(new):
            raise PermanentError(
                f"{file}:{number}: ImagePolicy {marker.policy.replace(':', '/')} gives "
                f"{new[:80]!r}, which is not an image reference on one line: not written",
                reason="InvalidValue",
            )
        start, end = match.span("value")
        out.append(line[:start] + _requote(old, new) + line[end:])
        changes.append(
            Change(
                file=file,
                line=number,
                policy=marker.policy,
                setter=marker.setter,
                old=old.strip("'\""),
                new=new,
            )
        )
    return "".join(out), changes
