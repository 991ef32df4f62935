"""Masterminds semver v3 (v3.5.0), ported to Python, plus Flux's tag rule.

Flux's ``semver`` ImagePolicy (image-reflector-controller v1.2 ``internal/policy/semver.go``)
checks every tag with ``semver.NewConstraint(range).Check(v)`` and keeps the greatest
``v`` (``v.GreaterThan(latest)``, so among equal versions the *first* tag of its list wins).
Tags are parsed with ``fluxcd/pkg/version.ParseVersion`` as Flux 2.7 and later do
(``fluxcd/pkg/version`` v0.10+; image-reflector-controller 1.2 uses v0.16.0):
``strings.SplitN(tag, ".", 3)`` must give three parts (the tag has at least two dots, wherever
they are), then ``NewVersion`` on the tag itself, which coerces. So zero-padded CalVer
(``v2025.02.03``, ``01.2.3``) is a version, and so are ``1.2-rc.1`` (``1.2.0-rc.1``) and
``1.2+build.7`` (``1.2.0+build.7``); ``1.2``, ``1.2-rc1`` and ``1.2.3.4`` are not. (Flux 2.6,
with ``fluxcd/pkg/version`` v0.7, required ``StrictNewVersion`` after one ``v``.)

What is ported here, from Masterminds/semver ``version.go`` and ``constraints.go``:

* :func:`new_version` -- ``NewVersion`` (loose: optional ``v``, partial ``1`` / ``1.2``,
  leading zeros coerced, pre-release and metadata validated, at most 256 bytes);
* :func:`strict_new_version` -- ``StrictNewVersion``;
* :meth:`Version.compare` -- ``Compare`` (metadata ignored, pre-release < release,
  pre-release identifiers compared numerically when both are numeric, numbers < words);
* :class:`Constraints` -- ``NewConstraint`` / ``Check`` with the same regular
  expressions (run on RE2, so a hostile range cannot blow up), hyphen ranges, ``||``,
  comma/space AND, wildcards, ``~``/``^``, the pre-release rule of v3.4 (an AND group
  admits pre-release versions only if one of its comparators names a pre-release;
  ``>=1.0.0-0`` is the usual way to opt in) and the bounds of v3.5 (a range of at most 512
  bytes and 32 ``||`` groups; errors quote the range as Go's ``%q``).

Everything is plain values; nothing here does I/O.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import re2

from conveyor.shared.gostrconv import go_quote

__all__ = [
    "Comparator",
    "Constraints",
    "SemverError",
    "Version",
    "latest_version",
    "new_version",
    "parse_comparator",
    "parse_constraint",
    "parse_tag",
    "strict_new_version",
]

U64_MAX = (1 << 64) - 1

# Masterminds' error texts (v3.4.0).
ERR_INVALID_SEMVER = "invalid semantic version"
ERR_EMPTY_STRING = "version string empty"
ERR_INVALID_CHARACTERS = "invalid characters in version"
ERR_SEGMENT_STARTS_ZERO = "version segment starts with 0"
ERR_INVALID_METADATA = "invalid metadata string"
ERR_INVALID_PRERELEASE = "invalid prerelease string"
MAX_VERSION_LEN = 256
ERR_VERSION_TOO_LONG = f"version string is too long (max {MAX_VERSION_LEN} bytes)"
MAX_CONSTRAINT_LEN = 512
ERR_CONSTRAINT_TOO_LONG = f"constraint string is too long (max {MAX_CONSTRAINT_LEN} bytes)"
MAX_CONSTRAINT_GROUPS = 32
ERR_TOO_MANY_GROUPS = f"too many constraint groups (max {MAX_CONSTRAINT_GROUPS})"


class SemverError(ValueError):
    """A version or constraint that Masterminds semver would reject."""


_NUM = frozenset("0123456789")
_ALLOWED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789")


def _longer_than(s: str, limit: int) -> bool:
    """Whether Go's ``len(s)`` (UTF-8 bytes, at most four a character) exceeds ``limit``."""
    return len(s) > limit // 4 and len(s.encode("utf-8", "surrogatepass")) > limit


def _contains_only(s: str, allowed: frozenset[str]) -> bool:
    # Go: strings.IndexFunc(s, not in comp) == -1; true for the empty string.
    return all(c in allowed for c in s)


def _parse_uint(s: str) -> int:
    """Go's ``strconv.ParseUint(s, 10, 64)``."""
    if not s or not _contains_only(s, _NUM):
        raise SemverError(f'strconv.ParseUint: parsing "{s}": invalid syntax')
    if len(s.lstrip("0")) > 20:  # (and never hand int() a huge string)
        raise SemverError(f'strconv.ParseUint: parsing "{s}": value out of range')
    value = int(s)
    if value > U64_MAX:
        raise SemverError(f'strconv.ParseUint: parsing "{s}": value out of range')
    return value


def _validate_prerelease(p: str) -> None:
    for part in p.split("."):
        if part == "":
            raise SemverError(ERR_INVALID_PRERELEASE)
        if _contains_only(part, _NUM):
            if len(part) > 1 and part[0] == "0":
                raise SemverError(ERR_SEGMENT_STARTS_ZERO)
        elif not _contains_only(part, _ALLOWED):
            raise SemverError(ERR_INVALID_PRERELEASE)


def _validate_metadata(m: str) -> None:
    for part in m.split("."):
        if part == "" or not _contains_only(part, _ALLOWED):
            raise SemverError(ERR_INVALID_METADATA)


PrereleaseKey = tuple[tuple[int, int, str], ...]
VersionKey = tuple[int, int, int, int, PrereleaseKey]


def _prerelease_part_key(part: str) -> tuple[int, int, str]:
    # comparePrePart: identifiers that ParseUint accepts compare numerically and sort
    # before alphanumeric ones, which compare bytewise (ASCII here).
    if part and len(part) <= 20 and _contains_only(part, _NUM):
        value = int(part)
        if value <= U64_MAX:
            return (0, value, "")
    return (1, 0, part)


def _prerelease_key(pre: str) -> PrereleaseKey:
    # comparePrerelease pads the shorter list with "" and "" sorts first: a shorter
    # identifier list is smaller, which is exactly Python's tuple order.
    return tuple(_prerelease_part_key(p) for p in pre.split("."))


@dataclass(frozen=True, eq=False)
class Version:
    """A parsed version. Ordering and equality follow Masterminds ``Compare``."""

    major: int
    minor: int
    patch: int
    prerelease: str = ""
    metadata: str = ""
    original: str = ""
    key: VersionKey = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.prerelease:
            key: VersionKey = (
                self.major,
                self.minor,
                self.patch,
                0,
                _prerelease_key(self.prerelease),
            )
        else:
            key = (self.major, self.minor, self.patch, 1, ())
        object.__setattr__(self, "key", key)

    def compare(self, other: Version) -> int:
        """-1, 0 or 1 as Masterminds ``Version.Compare``."""
        a, b = self.key, other.key
        return (a > b) - (a < b)

    def __lt__(self, other: Version) -> bool:
        return self.key < other.key

    def __le__(self, other: Version) -> bool:
        return self.key <= other.key

    def __gt__(self, other: Version) -> bool:
        return self.key > other.key

    def __ge__(self, other: Version) -> bool:
        return self.key >= other.key

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += f"-{self.prerelease}"
        if self.metadata:
            text += f"+{self.metadata}"
        return text


def strict_new_version(v: str) -> Version:
    """Masterminds ``StrictNewVersion``: exactly ``X.Y.Z[-PRE][+META]``, no ``v``."""
    if not v:
        raise SemverError(ERR_EMPTY_STRING)
    if _longer_than(v, MAX_VERSION_LEN):
        raise SemverError(ERR_VERSION_TOO_LONG)
    parts = v.split(".", 2)
    if len(parts) != 3:
        raise SemverError(ERR_INVALID_SEMVER)
    metadata = pre = ""
    if "+" in parts[2]:
        parts[2], metadata = parts[2].split("+", 1)
        _validate_metadata(metadata)
    if "-" in parts[2]:
        parts[2], pre = parts[2].split("-", 1)
        _validate_prerelease(pre)
    for p in parts:
        if not _contains_only(p, _NUM):
            raise SemverError(ERR_INVALID_CHARACTERS)
        if len(p) > 1 and p[0] == "0":
            raise SemverError(ERR_SEGMENT_STARTS_ZERO)
    return Version(
        _parse_uint(parts[0]), _parse_uint(parts[1]), _parse_uint(parts[2]), pre, metadata, v
    )


# looseSemVerRegex of version.go (used by NewVersion while CoerceNewVersion is true,
# the default). Deterministic (dot-separated), so Python's engine is linear on it.
_LOOSE_VERSION = re.compile(
    r"v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?"
    r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
    r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
)


def _segment(s: str) -> int:
    try:
        return _parse_uint(s)
    except SemverError as exc:
        raise SemverError(f"error parsing version segment: {exc}") from None


def new_version(v: str) -> Version:
    """Masterminds ``NewVersion`` (v3.5.0, coercing): ``v1``, ``1.2``, ``01.2.3`` parse."""
    if _longer_than(v, MAX_VERSION_LEN):
        raise SemverError(ERR_VERSION_TOO_LONG)
    m = _LOOSE_VERSION.fullmatch(v)
    if m is None:
        raise SemverError(ERR_INVALID_SEMVER)
    major = _segment(m.group(1))
    minor = _segment(m.group(2)[1:]) if m.group(2) else 0
    patch = _segment(m.group(3)[1:]) if m.group(3) else 0
    pre = m.group(5) or ""
    metadata = m.group(8) or ""
    if pre:
        _validate_prerelease(pre)
    if metadata:
        _validate_metadata(metadata)
    return Version(major, minor, patch, pre, metadata, v)


def parse_tag(tag: str) -> Version:
    """Flux's ``version.ParseVersion`` (Flux 2.7+): three dot-separated parts, then
    ``NewVersion``."""
    if tag.count(".") < 2:
        raise SemverError(ERR_INVALID_SEMVER)
    return new_version(tag)


# --------------------------------------------------------------------------- constraints

_CV = (
    r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?"
    r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
    r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
)
_OPS = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^"


def _re2_compile(pattern: str) -> re2._Regexp:
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


# The four expressions of constraints.go, run on RE2 (Go's engine family: same
# leftmost-first submatches, same \s, and linear time on user-supplied ranges).
_CONSTRAINT_RE = _re2_compile(rf"^\s*({_OPS})\s*({_CV})\s*$")
_CONSTRAINT_RANGE_RE = _re2_compile(rf"\s*({_CV})\s+-\s+({_CV})\s*")
_FIND_CONSTRAINT_RE = _re2_compile(rf"({_OPS})\s*({_CV})")
_VALID_CONSTRAINT_RE = _re2_compile(
    rf"^(\s*({_OPS})\s*({_CV})\s*)((?:\s+|,\s*)({_OPS})\s*({_CV})\s*)*$"
)


def _is_x(s: str) -> bool:
    return s in ("x", "*", "X")


@dataclass(frozen=True)
class Comparator:
    """One ``constraint`` of constraints.go: an operator and its (padded) version."""

    op: str
    orig: str
    con: Version
    dirty: bool
    minor_dirty: bool
    patch_dirty: bool

    def check(self, v: Version, include_pre: bool) -> bool:
        return _OP_FUNCS[self.op](v, self, include_pre)

    def __str__(self) -> str:
        return self.op + self.orig


def _parse_comparator(text: str) -> Comparator:
    """``parseConstraint``: one operator and version."""
    if text == "":
        # Go's special case ("equivalent to * or >=0.0.0"); NewConstraint never gets here
        # because its validation rejects an empty group first.
        return Comparator("", "", Version(0, 0, 0, original="0.0.0"), True, False, False)
    m = _CONSTRAINT_RE.search(text)
    if m is None:
        raise SemverError(f"improper constraint: {go_quote(text)}")
    g = [m.group(i) or "" for i in range(12)]
    ver = g[2]
    dirty = minor_dirty = patch_dirty = False
    if _is_x(g[3]) or g[3] == "":
        ver = f"0.0.0{g[6]}"
        dirty = True
    elif _is_x(g[4][1:]) or g[4] == "":
        minor_dirty = dirty = True
        ver = f"{g[3]}.0.0{g[6]}"
    elif _is_x(g[5][1:]) or g[5] == "":
        dirty = patch_dirty = True
        ver = f"{g[3]}{g[4]}.0{g[6]}"
    try:
        con = new_version(ver)
    except SemverError:
        raise SemverError("constraint parser error") from None
    return Comparator(g[1], g[2], con, dirty, minor_dirty, patch_dirty)


parse_comparator = _parse_comparator


def rewrite_range(c: str) -> str:
    """``rewriteRange``: ``A - B`` becomes ``>= A, <= B``."""
    return _rewrite_range(c)


def _rewrite_range(c: str) -> str:
    out = c
    for m in _CONSTRAINT_RANGE_RE.finditer(c):
        out = out.replace(m.group(0), f">= {m.group(1)}, <= {m.group(11)} ", 1)
    return out


# Constraint functions of constraints.go (v3.4.0). ``include_pre`` is decided per AND
# group: true when any comparator of the group has a pre-release.


def _c_not_equal(v: Version, c: Comparator, include_pre: bool) -> bool:
    if v.prerelease and not include_pre:
        return False
    con = c.con
    if c.dirty:
        if con.major != v.major:
            return True
        if con.minor != v.minor and not c.minor_dirty:
            return True
        if c.minor_dirty:
            return False
        if con.patch != v.patch and not c.patch_dirty:
            return True
        if c.patch_dirty:
            if v.prerelease or con.prerelease:
                return _prerelease_key(v.prerelease) != _prerelease_key(con.prerelease)
            return False
    return v.key != con.key


def _c_greater_than(v: Version, c: Comparator, include_pre: bool) -> bool:
    if v.prerelease and not include_pre:
        return False
    con = c.con
    if not c.dirty:
        return v.key > con.key
    if v.major > con.major:
        return True
    if v.major < con.major:
        return False
    if c.minor_dirty:
        return False
    if c.patch_dirty:
        return v.minor > con.minor
    return v.key > con.key


def _c_less_than(v: Version, c: Comparator, include_pre: bool) -> bool:
    if v.prerelease and not include_pre:
        return False
    return v.key < c.con.key


def _c_greater_than_equal(v: Version, c: Comparator, include_pre: bool) -> bool:
    if v.prerelease and not include_pre:
        return False
    return v.key >= c.con.key


def _c_less_than_equal(v: Version, c: Comparator, include_pre: bool) -> bool:
    if v.prerelease and not include_pre:
        return False
    con = c.con
    if not c.dirty:
        return v.key <= con.key
    if v.major > con.major:
        return False
    return not (v.major == con.major and v.minor > con.minor and not c.minor_dirty)


def _c_tilde(v: Version, c: Comparator, include_pre: bool) -> bool:
    # ~1.2.3 -> >=1.2.3 <1.3.0 ; ~1 / ~1.x -> >=1.0.0 <2.0.0 ; ~0.0.0 -> any
    if v.prerelease and not include_pre:
        return False
    con = c.con
    if v.key < con.key:
        return False
    if (
        con.major == 0
        and con.minor == 0
        and con.patch == 0
        and not c.minor_dirty
        and not c.patch_dirty
    ):
        return True
    if v.major != con.major:
        return False
    return not (v.minor != con.minor and not c.minor_dirty)


def _c_tilde_or_equal(v: Version, c: Comparator, include_pre: bool) -> bool:
    if v.prerelease and not include_pre:
        return False
    if c.dirty:
        return _c_tilde(v, c, include_pre)
    return v.key == c.con.key


def _c_caret(v: Version, c: Comparator, include_pre: bool) -> bool:
    # ^1.2.3 -> >=1.2.3 <2.0.0 ; ^0.2.3 -> >=0.2.3 <0.3.0 ; ^0.0.3 -> =0.0.3 ;
    # ^0.0 -> >=0.0.0 <0.1.0 ; ^0 -> >=0.0.0 <1.0.0
    if v.prerelease and not include_pre:
        return False
    con = c.con
    if v.key < con.key:
        return False
    if con.major > 0 or c.minor_dirty:
        return v.major == con.major
    if con.major == 0 and v.major > 0:
        return False
    if con.minor > 0 or c.patch_dirty:
        return v.minor == con.minor
    if con.minor == 0 and v.minor > 0:
        return False
    return con.patch == v.patch


_OP_FUNCS: dict[str, Callable[[Version, Comparator, bool], bool]] = {
    "": _c_tilde_or_equal,
    "=": _c_tilde_or_equal,
    "!=": _c_not_equal,
    ">": _c_greater_than,
    "<": _c_less_than,
    ">=": _c_greater_than_equal,
    "=>": _c_greater_than_equal,
    "<=": _c_less_than_equal,
    "=<": _c_less_than_equal,
    "~": _c_tilde,
    "~>": _c_tilde,
    "^": _c_caret,
}


ReleaseKey = tuple[int, int, int]


@dataclass(frozen=True)
class Constraints:
    """``semver.Constraints``: OR of AND groups of comparators."""

    source: str
    groups: tuple[tuple[Comparator, ...], ...]
    contains_pre: tuple[bool, ...]
    include_prerelease: bool = False
    # Release versions: the sorted starts of intervals of (major, minor, patch) on which
    # Check is constant, and Check's value on each (index i+1 for interval i).
    _starts: tuple[ReleaseKey, ...] = field(init=False, repr=False, compare=False)
    _allowed: tuple[bool, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        starts, allowed = self._release_table()
        object.__setattr__(self, "_starts", starts)
        object.__setattr__(self, "_allowed", allowed)

    @property
    def admits_prereleases(self) -> bool:
        return self.include_prerelease or any(self.contains_pre)

    def check(self, v: Version) -> bool:
        """``Constraints.Check``: does ``v`` satisfy any AND group?"""
        for group, has_pre in zip(self.groups, self.contains_pre, strict=True):
            include_pre = self.include_prerelease or has_pre
            if all(c.check(v, include_pre) for c in group):
                return True
        return False

    def check_release(self, major: int, minor: int, patch: int) -> bool:
        """``check`` for a release version (no pre-release), by table lookup."""
        return self._allowed[bisect.bisect_right(self._starts, (major, minor, patch))]

    def _release_table(self) -> tuple[tuple[ReleaseKey, ...], tuple[bool, ...]]:
        # Every comparator compares a release version's (major, minor, patch) only with
        # its own con: lexicographically, or component-wise after equal higher parts, or
        # against 0. Between consecutive points below, each such comparison is constant,
        # so Check is too; evaluating Check at each point gives it on the whole interval.
        points: set[ReleaseKey] = {(0, 0, 0)}
        for group in self.groups:
            for c in group:
                ma, mi, pa = c.con.major, c.con.minor, c.con.patch
                points.update(
                    {
                        (ma, 0, 0),
                        (ma, mi, 0),
                        (ma, mi, pa),
                        (ma, mi, pa + 1),
                        (ma, mi + 1, 0),
                        (ma + 1, 0, 0),
                    }
                )
        starts = tuple(sorted(points))
        allowed = (False, *(self.check(Version(*p)) for p in starts))
        return starts, allowed

    def __str__(self) -> str:
        return " || ".join(" ".join(str(c) for c in g) for g in self.groups)


def parse_constraint(c: str) -> Constraints:
    """``semver.NewConstraint``."""
    if _longer_than(c, MAX_CONSTRAINT_LEN):
        raise SemverError(ERR_CONSTRAINT_TOO_LONG)
    ors = _rewrite_range(c).split("||")
    if len(ors) > MAX_CONSTRAINT_GROUPS:
        raise SemverError(ERR_TOO_MANY_GROUPS)
    groups: list[tuple[Comparator, ...]] = []
    has_pre: list[bool] = []
    for v in ors:
        if _VALID_CONSTRAINT_RE.search(v) is None:
            raise SemverError(f"improper constraint: {go_quote(v)}")
        cs = [m.group(0) for m in _FIND_CONSTRAINT_RE.finditer(v)] or [v]
        group = tuple(_parse_comparator(s) for s in cs)
        groups.append(group)
        has_pre.append(any(cmp.con.prerelease for cmp in group))
    return Constraints(c, tuple(groups), tuple(has_pre))


@functools.lru_cache(maxsize=512)
def cached_constraint(c: str) -> Constraints:
    """:func:`parse_constraint`, compiled once per distinct range string."""
    return parse_constraint(c)


# ------------------------------------------------------------------- picking the latest

_IDENT = r"[0-9A-Za-z-]+"
# A tag that may be a version: NewVersion's looseSemVerRegex, as one expression without groups
# (findall then returns the tags themselves). Each repetition is delimited by a character it
# cannot match, so backtracking stays linear.
_TAG_BODY = (
    rf"v?[0-9]+(?:\.[0-9]+)?(?:\.[0-9]+)?"
    rf"(?:-{_IDENT}(?:\.{_IDENT})*)?"
    rf"(?:\+{_IDENT}(?:\.{_IDENT})*)?"
)
_TAG_LINES = re.compile(rf"^{_TAG_BODY}$", re.MULTILINE)
_TAG_SINGLE = re.compile(rf"{_TAG_BODY}\Z")
_METADATA_LINES = re.compile(r"\+[^\n]*")


def _candidates(tags: Sequence[str]) -> list[str]:
    """The tags of NewVersion's grammar, at most 256 bytes, in input order: one regex pass
    over the newline-joined list. What is left to check for :func:`parse_tag` (two dots
    where a part is left out, pre-release identifiers, numbers beyond 2^64-1) is done where
    it is rare."""
    if max(map(len, tags), default=0) > MAX_VERSION_LEN:
        tags = [t for t in tags if len(t) <= MAX_VERSION_LEN]  # a match is ASCII: len is bytes
    joined = "\n".join(tags)
    if joined.count("\n") == len(tags) - 1:
        found: list[str] = _TAG_LINES.findall(joined)
        return found
    return [t for t in tags if _TAG_SINGLE.match(t)]  # a tag holds a newline


def _prerelease_mask(tags: list[str]) -> list[bool]:
    """Which candidates have a pre-release: a "-" before any "+" (metadata may hold "-")."""
    mask = list(map(operator.contains, tags, itertools.repeat("-")))
    for i in itertools.compress(range(len(tags)), mask):
        if "-" not in tags[i].partition("+")[0]:
            mask[i] = False
    return mask


def _ints(strings: list[str]) -> list[int]:
    """``map(int, strings)``, converting each distinct string once (version components
    repeat a lot, and a dict lookup is cheaper than ``int``)."""
    table: dict[str, Any] = dict.fromkeys(strings)
    if len(table) * 4 > len(strings):
        return list(map(int, strings))
    for text in table:
        table[text] = int(text)
    return list(map(table.__getitem__, strings))


Columns = tuple[list[int], list[int], list[int]]


def _release_columns(releases: list[str]) -> tuple[list[str], Columns]:
    """The release candidates that are versions, and their major, minor and patch columns,
    without a call per tag where every one spells all three numbers: drop metadata and "v",
    then split the joined text on dots."""
    if not releases:
        return [], ([], [], [])
    text = "\n".join(releases)
    if "+" in text:
        text = _METADATA_LINES.sub("", text)
    flat = text.replace("v", "").replace("\n", ".").split(".")
    if len(flat) != 3 * len(releases):  # some leave the minor or patch out: one by one
        kept, flat = [], []
        for tag, core in zip(releases, text.replace("v", "").split("\n"), strict=True):
            if tag.count(".") >= 2:  # SplitN(tag, ".", 3) gives three parts
                parts = core.split(".")
                kept.append(tag)
                flat += parts + ["0"] * (3 - len(parts))
        releases = kept
    columns = (_ints(flat[0::3]), _ints(flat[1::3]), _ints(flat[2::3]))
    if releases and any(max(column) > U64_MAX for column in columns):  # ParseUint fails
        keep = [max(key) <= U64_MAX for key in zip(*columns, strict=True)]
        releases = list(itertools.compress(releases, keep))
        columns = (
            list(itertools.compress(columns[0], keep)),
            list(itertools.compress(columns[1], keep)),
            list(itertools.compress(columns[2], keep)),
        )
    return releases, columns


def _max_allowed_release(columns: Columns, constraints: Constraints) -> ReleaseKey | None:
    """The greatest (major, minor, patch) that satisfies ``constraints``: the maximum below
    the end of the highest allowed interval; if that lands in an excluded interval, the
    maximum below it; and so on. Each step is one C-level pass; key tuples are not kept."""
    starts, allowed = constraints._starts, constraints._allowed
    # allowed[k] is the flag of the interval starting at starts[k - 1]
    top_allowed = max((k for k in range(1, len(allowed)) if allowed[k]), default=None)
    if top_allowed is None:
        return None
    bound = starts[top_allowed] if top_allowed < len(starts) else None
    while True:
        pool: Iterable[ReleaseKey] = zip(*columns, strict=True)
        if bound is not None:
            pool = filter(bound.__gt__, pool)
        top: ReleaseKey | None = max(pool, default=None)
        if top is None:
            return None
        position = bisect.bisect_right(starts, top)
        if allowed[position]:
            return top
        bound = starts[position - 1]


def latest_version(
    candidates: Sequence[str], constraints: Constraints, *, descending: bool = False
) -> str | None:
    """Flux ``SemVer.Latest``: the candidate with the greatest version that satisfies
    ``constraints``, or ``None``. Among equal versions (``1.0.0``, ``v1.0.0``,
    ``1.0.0+b``) the first one wins: the first in ``candidates``, or with ``descending`` the
    first in descending bytewise order, i.e. the greatest string (the order of Flux's tag
    database), without sorting them.

    Release versions are checked by interval lookup in C-level passes; pre-release
    versions (only if some AND group admits them) through the full ``Check``.
    """
    found = _candidates(candidates)
    if not found:
        return None
    pre_mask = _prerelease_mask(found)
    has_pre = any(pre_mask)
    releases = list(itertools.compress(found, map(operator.not_, pre_mask))) if has_pre else found
    releases, columns = _release_columns(releases)
    best_tag: str | None = None
    best_key: VersionKey | None = None
    top = _max_allowed_release(columns, constraints)
    if top is not None:
        tied = map(top.__eq__, zip(*columns, strict=True))
        if descending:
            best_tag = max(itertools.compress(releases, tied))
        else:
            best_tag = releases[operator.indexOf(tied, True)]
        best_key = (top[0], top[1], top[2], 1, ())
    if has_pre and constraints.admits_prereleases:
        best_pre: Version | None = None
        for tag in itertools.compress(found, pre_mask):
            try:
                v = parse_tag(tag)
            except SemverError:  # too few dots, a bad identifier, a number beyond 2^64-1
                continue
            if best_pre is not None and (
                v.key < best_pre.key
                or (v.key == best_pre.key and (not descending or tag <= best_pre.original))
            ):
                continue
            if constraints.check(v):
                best_pre = v
        if best_pre is not None and (best_key is None or best_pre.key > best_key):
            best_tag = best_pre.original
    return best_tag


def latest_version_reference(
    candidates: Iterable[str], constraints: Constraints, *, descending: bool = False
) -> str | None:
    """The same selection, written as Flux's loop (one ``parse_tag`` + ``Check`` a tag)
    over the candidates, sorted descending first with ``descending``.

    Slow; kept as the executable specification that tests compare against.
    """
    ordered = sorted(candidates, reverse=True) if descending else candidates
    latest: Version | None = None
    for tag in ordered:
        try:
            v = parse_tag(tag)
        except SemverError:
            continue
        if constraints.check(v) and (latest is None or v.key > latest.key):
            latest = v
    return None if latest is None else latest.original
