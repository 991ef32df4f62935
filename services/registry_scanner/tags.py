"""The scanner's pure part: which tags a scan keeps, and the revision of a tag set; and the
one-off scan of ``conveyor scan`` (no store, no queue: a command that starts fast)."""

from __future__ import annotations

import hashlib

from conveyor.shared.adapters.oci.client import RegistryClient, RegistryOptions
from conveyor.shared.adapters.oci.reference import ImageRef
from conveyor.shared.deadline import within
from conveyor.shared.errors import InvalidSpec

# Flux's default exclusionList, the one every ImageRepository has unless it says otherwise.
# Go's ``^.*\.sig$`` (``.`` no newline, ``$`` the end of the text) matches exactly the tags
# that end in ``.sig`` and hold no newline: matched so, without loading a regexp engine (RE2
# costs a scanner process 2.4 MB).
SIGNATURE_TAGS = r"^.*\.sig$"


def _signature_tag(tag: str) -> bool:
    return tag.endswith(".sig") and "\n" not in tag


def exclude(tags: list[str], patterns: list[str], owner: str) -> list[str]:
    """Tags that match none of ``patterns`` (Go regexp syntax, like Flux's exclusionList)."""
    signatures = False
    regexps = []
    for i, pattern in enumerate(patterns):
        if pattern == SIGNATURE_TAGS:
            signatures = True
            continue
        from conveyor.shared.goregexp import GoRegexpError, compiled  # RE2, when needed

        try:
            regexps.append(compiled(pattern))
        except GoRegexpError as exc:
            raise InvalidSpec(f"{owner}: spec.exclusionList[{i}]: invalid pattern: {exc}") from exc
    return [
        t
        for t in tags
        if not (signatures and _signature_tag(t))
        and not any(r.find_submatch_index(t) is not None for r in regexps)
    ]


def tag_set_revision(tags: list[str]) -> str:
    """A stable hash of the tag set: the same tags in any order give the same revision."""
    return hashlib.sha256("\n".join(sorted(set(tags))).encode()).hexdigest()[:16]


def scan(
    ref: ImageRef, options: RegistryOptions, patterns: list[str], owner: str
) -> tuple[list[str], int]:
    """The tags of ``ref`` that no exclusion pattern matches, and the requests it took (what
    ``conveyor scan`` prints); the whole scan within ``options.timeout``, as an
    ImageRepository's ``spec.timeout`` bounds one."""
    with within(options.timeout, owner), RegistryClient(ref, options) as client:
        return exclude(client.list_tags(), patterns, owner), client.requests_made
