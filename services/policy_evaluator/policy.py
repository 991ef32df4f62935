"""ImagePolicy evaluation: pick the latest tag, as Flux's image-reflector-controller does.

The pure core of the policy-evaluator: no Redis, HTTP or Celery, only values in and a tag
(or a :mod:`conveyor.shared.errors` exception) out. Semantics are Flux's (``internal/policy`` and
``ImagePolicyReconciler.applyPolicy``):

* ``filterTags`` (optional): a tag is kept when the Go/RE2 ``pattern`` matches anywhere
  in it; when ``extract`` is not empty the tag is ranked by the expansion of ``extract``
  (``$name``, ``${name}``, ``$1``, ``$$``) and the original tag is what is returned.
  Tags with the same ranked value collapse onto the *last* such tag (Flux keeps a
  ``map[value]tag``).
* ``semver.range``: Masterminds semver v3 constraints; tags must be strict semver with an
  optional leading ``v``; the greatest version wins, the first of equal versions
  (``1.0.0`` / ``v1.0.0`` / ``1.0.0+build``) in input order.
* ``numerical.order``: every candidate must parse as a Go ``strconv.ParseFloat`` number,
  else the policy fails; ``asc`` picks the largest, ``desc`` the smallest, and among
  equal numbers the *last* candidate (Flux's loop replaces on ``>=``).
* ``alphabetical.order``: ``asc`` picks the lexically last (bytewise UTF-8 order),
  ``desc`` the first.

Where Flux's result depends on Go's random map order (ties between *different* ranked
values after ``extract``, e.g. ``1.0.0`` vs ``v1.0.0``), candidates are taken in the
order their value first appears in the tag list, so the answer is deterministic.

Errors: a spec that cannot be used raises :class:`conveyor.shared.errors.InvalidSpec` naming the
field and carrying the parser's message (Flux marks the policy Stalled, reason
``InvalidPolicy``); a tag list that yields no answer raises
:class:`conveyor.shared.errors.PermanentError` with one of the ``REASON_*`` reasons below (Flux
reports those as a failed, retried reconciliation, and an empty tag database as
``DependencyNotReady``).

Compiled specs are cached (:func:`compile_policy`, :func:`compile_filter`), so evaluating
the same ImagePolicy again does not recompile its range or pattern.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conveyor.shared import semver as semver_mod
from conveyor.shared.errors import InvalidSpec, PermanentError
from conveyor.shared.goregexp import GoRegexpError, TagFilter

__all__ = [
    "REASON_NON_NUMERIC_TAG",
    "REASON_NO_MATCHING_TAG",
    "REASON_NO_TAGS",
    "CompiledPolicy",
    "compile_filter",
    "compile_policy",
    "go_parse_float",
    "select_latest",
]

REASON_NO_TAGS = "NoTags"
"""The tag list given to the policy is empty."""
REASON_NO_MATCHING_TAG = "NoMatchingTag"
"""No tag passes ``filterTags.pattern``, or none is a version within ``semver.range``."""
REASON_NON_NUMERIC_TAG = "NonNumericTag"
"""A ``numerical`` policy met a (ranked) tag that is not a number."""

POLICY_KINDS = ("semver", "alphabetical", "numerical")
ORDERS = ("asc", "desc")


# --------------------------------------------------------------------- numbers like Go


def _common_prefix_len_ignore_case(s: str, prefix: str) -> int:
    n = min(len(prefix), len(s))
    for i in range(n):
        c = s[i]
        if "A" <= c <= "Z":
            c = chr(ord(c) + 32)
        if c != prefix[i]:
            return i
    return n


def _special(s: str) -> tuple[float, int] | None:
    """strconv ``special``: ``[+-]inf``, ``[+-]infinity``, ``nan`` (any case)."""
    if not s:
        return None
    c = s[0]
    if c in "+-iI":
        sign, nsign, t = 1.0, 0, s
        if c in "+-":
            sign = -1.0 if c == "-" else 1.0
            nsign, t = 1, s[1:]
        n = _common_prefix_len_ignore_case(t, "infinity")
        if 3 < n < 8:
            n = 3
        if n in (3, 8):
            return math.copysign(math.inf, sign), nsign + n
        return None
    if c in "nN" and _common_prefix_len_ignore_case(s, "nan") == 3:
        return math.nan, 3
    return None


_DIGITS = frozenset("0123456789")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _underscore_ok(s: str) -> bool:
    """strconv ``underscoreOK``: ``_`` only between digits (or after a base prefix)."""
    saw = "^"
    i = 0
    if s and s[0] in "+-":
        s = s[1:]
    hexa = False
    if len(s) >= 2 and s[0] == "0" and s[1] in "bBoOxX":
        i, saw, hexa = 2, "0", s[1] in "xX"
    while i < len(s):
        c = s[i]
        i += 1
        if c in _DIGITS or (hexa and c in _HEX_DIGITS):
            saw = "0"
            continue
        if c == "_":
            if saw != "0":
                return False
            saw = "_"
            continue
        if saw == "_":
            return False
        saw = "!"
    return saw != "_"


def go_parse_float(s: str) -> float | None:
    """Go's ``strconv.ParseFloat(s, 64)``, or ``None`` where Go returns an error.

    Decimal and hexadecimal (``0x1p-2``) forms, ``_`` digit separators, ``inf`` /
    ``infinity`` / ``nan`` in any case; no surrounding spaces; a value out of float64
    range (``1e400``) is an error, as in Go.
    """
    sp = _special(s)
    if sp is not None:
        value, consumed = sp
        return value if consumed == len(s) else None
    n = len(s)
    i = 0
    if i < n and s[i] in "+-":
        i += 1
    hexa = i + 2 < n and s[i] == "0" and s[i + 1] in "xX"
    if hexa:
        i += 2
    digits = _HEX_DIGITS if hexa else _DIGITS
    sawdot = sawdigits = underscores = False
    while i < n:
        c = s[i]
        if c == "_":
            underscores = True
        elif c == ".":
            if sawdot:
                break
            sawdot = True
        elif c in digits:
            sawdigits = True
        else:
            break
        i += 1
    if not sawdigits:
        return None
    if i < n and s[i] in (("p", "P") if hexa else ("e", "E")):
        i += 1
        if i < n and s[i] in "+-":
            i += 1
        if i >= n or s[i] not in _DIGITS:
            return None
        while i < n and (s[i] in _DIGITS or s[i] == "_"):
            underscores = underscores or s[i] == "_"
            i += 1
    elif hexa:
        return None  # a hexadecimal mantissa needs a p exponent
    if i != n or (underscores and not _underscore_ok(s)):
        return None
    text = s.replace("_", "") if underscores else s
    try:
        value = float.fromhex(text) if hexa else float(text)
    except OverflowError:
        return None
    if math.isinf(value):
        return None  # ErrRange
    return value


# ------------------------------------------------------------------------- the policies


@dataclass(frozen=True)
class CompiledPolicy:
    """``spec.policy`` after validation: one kind, its order or its constraint."""

    kind: str
    order: str = "asc"
    range: str = ""
    constraints: semver_mod.Constraints | None = None

    def latest(self, values: Sequence[str], originals: Sequence[str] | None = None) -> str:
        """The tag the policy picks.

        Without a filter, ``values`` are the tags (duplicates allowed, as Flux's list).
        With one, ``values[i]`` is the ranked value of the tag ``originals[i]``, and the
        result is what Flux gets from its ``map[value]tag``: the policy runs over the
        distinct values in order of first appearance, and the winner maps back to the last
        tag that produced it. Each policy is computed without building that map where its
        answer cannot differ (no ties between distinct values), which is the common case.
        """
        if len(values) == 0:
            raise PermanentError("version list argument cannot be empty", reason=REASON_NO_TAGS)
        try:
            value = self._winning_value(values, originals is not None)
        except _NotANumber as exc:
            where = ""
            if originals is not None:
                tag = originals[_last_index(values, exc.value)]
                where = f" (extracted from tag {_clip(tag)!r})" if tag != exc.value else ""
            raise PermanentError(
                f"failed to parse invalid numeric value '{_clip(exc.value)}'{where}: "
                "spec.policy.numerical needs every considered tag to be a number; "
                "narrow spec.filterTags",
                reason=REASON_NON_NUMERIC_TAG,
            ) from None
        if originals is None:
            return value
        return originals[_last_index(values, value)]

    def _winning_value(self, values: Sequence[str], distinct: bool) -> str:
        if self.kind == "semver":
            assert self.constraints is not None
            # First of the greatest: the earliest row among equal versions is also the
            # earliest first appearance among their distinct values.
            chosen = semver_mod.latest_version(values, self.constraints)
            if chosen is None:
                count = len(set(values)) if distinct else len(values)
                raise PermanentError(
                    "unable to determine latest version from provided list: none of "
                    f"{count} candidate tag(s) is a semantic version within "
                    f"spec.policy.semver.range {self.range!r}",
                    reason=REASON_NO_MATCHING_TAG,
                )
            return chosen
        if self.kind == "alphabetical":
            return max(values) if self.order == "asc" else min(values)
        return _numerical_value(values, self.order == "desc", distinct)


def _clip(text: str, limit: int = 128) -> str:
    """A tag or value as quoted in a message: at most ``limit`` characters."""
    return text if len(text) <= limit else text[:limit] + "…"


class _NotANumber(Exception):
    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value


def _last_index(values: Sequence[str], value: str) -> int:
    return len(values) - 1 - operator.indexOf(reversed(values), value)


def _numerical_value(values: Sequence[str], desc: bool, distinct: bool) -> str:
    """Flux ``Numerical.Latest`` over ``values`` (over their distinct values, in order of
    first appearance, when ``distinct``): the extreme number, the last of equal ones."""
    joined = "".join(values)
    if joined.isascii() and joined.isdigit() and min(map(len, values)) > 0:
        # Plain digit strings (timestamps, build numbers): float() is ParseFloat here.
        lengths = set(map(len, values))
        if len(lengths) == 1 and max(lengths) <= 15:
            # Same width, exactly representable: numeric order is string order and equal
            # numbers are equal strings, so there are no ties to break.
            return min(values) if desc else max(values)
        numbers = list(map(float, values))
        extreme = min(numbers) if desc else max(numbers)
        if not math.isinf(max(numbers)):
            at = list(itertools.compress(range(len(values)), map(extreme.__eq__, numbers)))
            winners = {values[i] for i in at}
            if not distinct or len(winners) == 1:
                return values[at[-1]]
            return max(winners, key=values.index)  # latest first appearance
    # Flux's loop, verbatim: the first unparsable value fails the policy.
    candidates = list(dict.fromkeys(values)) if distinct else values
    latest = ""
    previous = 0.0
    for i, candidate in enumerate(candidates):
        number = go_parse_float(candidate)
        if number is None:
            raise _NotANumber(candidate)  # Flux: "failed to parse invalid numeric value"
        if i > 0 and ((not desc and number < previous) or (desc and number > previous)):
            continue
        latest, previous = candidate, number
    return latest


# ------------------------------------------------------------------------------ compile


def _invalid(field: str, message: str) -> InvalidSpec:
    return InvalidSpec(f"{field}: {message}")


def _policy_key(policy: Mapping[str, Any]) -> tuple[str, str]:
    """Validate the shape of ``spec.policy``; return (kind, range-or-order)."""
    if not isinstance(policy, Mapping):
        raise _invalid("spec.policy", f"must be a mapping, got {type(policy).__name__}")
    unknown = sorted(str(k) for k in policy if k not in POLICY_KINDS)
    if unknown:
        raise _invalid(
            "spec.policy",
            f"unknown field(s) {', '.join(unknown)}; expected one of {', '.join(POLICY_KINDS)}",
        )
    present = [k for k in POLICY_KINDS if policy.get(k) is not None]
    if len(present) != 1:
        found = ", ".join(present) if present else "none"
        raise _invalid(
            "spec.policy",
            f"exactly one of semver, numerical, alphabetical must be set (found: {found})",
        )
    kind = present[0]
    body = policy[kind]
    if not isinstance(body, Mapping):
        raise _invalid(f"spec.policy.{kind}", f"must be a mapping, got {type(body).__name__}")
    if kind == "semver":
        extra = sorted(str(k) for k in body if k != "range")
        if extra:
            raise _invalid("spec.policy.semver", f"unknown field(s) {', '.join(extra)}")
        rng = body.get("range")
        if rng is None:
            raise _invalid("spec.policy.semver.range", "is required")
        if not isinstance(rng, str):
            raise _invalid("spec.policy.semver.range", f"must be a string, got {rng!r}")
        return kind, rng
    extra = sorted(str(k) for k in body if k != "order")
    if extra:
        raise _invalid(f"spec.policy.{kind}", f"unknown field(s) {', '.join(extra)}")
    order = body.get("order")
    if order is None or order == "":
        order = "asc"  # CRD default
    if order not in ORDERS:
        raise _invalid(
            f"spec.policy.{kind}.order",
            f"invalid order argument provided: {order!r}, must be one of: asc, desc",
        )
    return kind, order


@functools.lru_cache(maxsize=512)
def _compile_policy(kind: str, arg: str) -> CompiledPolicy:
    if kind == "semver":
        try:
            constraints = semver_mod.cached_constraint(arg)
        except semver_mod.SemverError as exc:
            raise _invalid(
                "spec.policy.semver.range", f"invalid semver range {arg!r}: {exc}"
            ) from None
        return CompiledPolicy(kind, range=arg, constraints=constraints)
    return CompiledPolicy(kind, order=arg)


def compile_policy(policy: Mapping[str, Any]) -> CompiledPolicy:
    """Validate and compile ``spec.policy`` (cached per distinct policy)."""
    return _compile_policy(*_policy_key(policy))


@functools.lru_cache(maxsize=512)
def _compile_filter(pattern: str, extract: str) -> TagFilter:
    try:
        return TagFilter(pattern, extract)
    except GoRegexpError as exc:
        raise _invalid(
            "spec.filterTags.pattern",
            f"invalid regular expression pattern {pattern!r}: {exc}",
        ) from None


def compile_filter(filter_tags: Mapping[str, Any]) -> TagFilter:
    """Validate and compile ``spec.filterTags`` (cached per pattern and extract)."""
    if not isinstance(filter_tags, Mapping):
        raise _invalid("spec.filterTags", f"must be a mapping, got {type(filter_tags).__name__}")
    extra = sorted(str(k) for k in filter_tags if k not in ("pattern", "extract"))
    if extra:
        raise _invalid("spec.filterTags", f"unknown field(s) {', '.join(extra)}")
    values: dict[str, str] = {}
    for key in ("pattern", "extract"):
        value = filter_tags.get(key)
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise _invalid(f"spec.filterTags.{key}", f"must be a string, got {value!r}")
        values[key] = value
    return _compile_filter(values["pattern"], values["extract"])


# --------------------------------------------------------------------------- the entry


def select_latest(
    tags: Sequence[str],
    policy: Mapping[str, Any],
    filter_tags: Mapping[str, Any] | None = None,
) -> str:
    """The tag Flux would resolve ``status.latestRef.tag`` to.

    ``policy`` is ``spec.policy`` and ``filter_tags`` is ``spec.filterTags`` as parsed
    from YAML. Raises :class:`~conveyor.shared.errors.InvalidSpec` for an unusable spec and
    :class:`~conveyor.shared.errors.PermanentError` (``reason`` one of ``REASON_*``) when the
    tags give no answer.
    """
    compiled = compile_policy(policy)
    tag_filter = compile_filter(filter_tags) if filter_tags is not None else None
    if len(tags) == 0:
        raise PermanentError("no tags to evaluate: the tag list is empty", reason=REASON_NO_TAGS)
    if tag_filter is None:
        return compiled.latest(tags)
    values, originals = tag_filter.columns(tags)
    if not values:
        raise PermanentError(
            f"none of {len(tags)} tag(s) matches spec.filterTags.pattern {tag_filter.pattern!r}",
            reason=REASON_NO_MATCHING_TAG,
        )
    return compiled.latest(values, originals)
