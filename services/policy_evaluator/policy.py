"""ImagePolicy evaluation: pick the latest tag, as Flux's image-reflector-controller does.

The pure core of the policy-evaluator: no Redis, HTTP or Celery, only values in and a tag
(or a :mod:`conveyor.shared.errors` exception) out. Semantics are image-reflector-controller
v1.2's (Flux 2.9: ``internal/policy``, ``ImagePolicyReconciler.applyPolicy``, and the order
of its tag database):

* **Order.** Flux's ImageRepository reconciler sorts a scan's tags descending bytewise
  (``sortTagsAndGetLatestTags``) and stores them so; every policy reads them in that order,
  and that order decides ties. conveyor takes the tags as if so sorted (whatever order they
  come in) and resolves ties as that order does, without sorting them.
* ``filterTags`` (optional): a tag is kept when the Go/RE2 ``pattern`` matches anywhere
  in it; when ``extract`` is not empty the tag is ranked by the expansion of ``extract``
  (``$name``, ``${name}``, ``$1``, ``$$``) and the original tag is what is returned. Flux
  fills a ``map[value]tag`` in the sorted order, so a value maps to the bytewise-*least* of
  its tags (two builds of one second, ``master-aaaa1111-1700000000`` and
  ``master-bbbb2222-1700000000`` ranked by ``$ts``: ``master-aaaa1111-…``).
* ``semver.range``: Masterminds semver v3.5 constraints over the tags that Flux's
  ``version.ParseVersion`` accepts (three dot-separated parts, then the coercing
  ``NewVersion``: ``v2025.02.03`` and ``01.2.3`` are versions); the greatest version wins,
  and among equal versions (``1.0.0`` / ``v1.0.0`` / ``1.0.0+build``) the first in the
  sorted order: the bytewise-greatest tag.
* ``numerical.order``: every candidate must parse as a Go ``strconv.ParseFloat`` number,
  else the policy fails naming the first that does not; ``asc`` picks the largest, ``desc``
  the smallest, and among equal numbers (``1`` / ``1.0``) the *last* in the sorted order
  (Flux's loop replaces on equality): the bytewise-least. ``NaN`` is a number for Go and
  makes the answer depend on the order; it is run through Flux's loop in the sorted order.
* ``alphabetical.order``: ``asc`` picks the lexically last (bytewise UTF-8 order),
  ``desc`` the first.

With a filter, Flux hands the policy the map's keys in Go's random map order. Where that
order could decide (distinct values that tie: ``1.0.0`` and ``v1.0.0`` after ``extract``, or
which of several non-numbers a failed numerical policy names), conveyor takes the values in
descending bytewise order too, as the tags are: one fixed answer among those Flux may give.

Errors carry the reasons of Flux's conditions and Flux's messages: a policy or pattern that
cannot be compiled raises :class:`~conveyor.shared.errors.InvalidSpec` with reason
``InvalidPolicy`` (Flux marks the policy Stalled, and does not retry); a tag list that gives
no answer raises :class:`~conveyor.shared.errors.TransientError` with reason ``Failure``
(Flux: Ready=False, retried with backoff); no tags at all is
:class:`~conveyor.shared.errors.DependencyNotReady` (Flux's ``no tags in database``).

Compiled specs are cached (:func:`compile_policy`, :func:`compile_filter`), so evaluating
the same ImagePolicy again does not recompile its range or pattern.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from conveyor.shared import semver as semver_mod
from conveyor.shared.errors import DependencyNotReady, InvalidSpec, TransientError
from conveyor.shared.goregexp import GoRegexpError, TagFilter

__all__ = [
    "REASON_FAILURE",
    "REASON_INVALID_POLICY",
    "CompiledPolicy",
    "compile_filter",
    "compile_policy",
    "go_parse_float",
    "latest_tag",
    "select_latest",
]

REASON_INVALID_POLICY = "InvalidPolicy"
"""The policy or the filter pattern cannot be compiled (Flux: Stalled, not retried)."""
REASON_FAILURE = "Failure"
"""The tags give no answer (Flux: ``metav1.StatusFailure``, retried with backoff)."""

# Flux's messages (internal/policy, internal/controller/imagepolicy_controller.go).
EMPTY_LIST = "version list argument cannot be empty"
NO_VERSION = "unable to determine latest version from provided list"
NO_TAGS = "no tags in database"

POLICY_KINDS = ("semver", "alphabetical", "numerical")  # PolicerFromSpec's order
ORDERS = ("ASC", "DESC")


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


def _failure(message: str) -> TransientError:
    return TransientError(message, reason=REASON_FAILURE)


@dataclass(frozen=True)
class CompiledPolicy:
    """``spec.policy`` after validation: one kind, its order or its constraint."""

    kind: str
    order: str = "ASC"
    range: str = ""
    constraints: semver_mod.Constraints | None = None

    def latest(self, values: Sequence[str]) -> str:
        """Flux's ``Policer.Latest`` over ``values`` taken in descending bytewise order
        (the order of Flux's tag database), whatever order they come in."""
        if len(values) == 0:
            raise _failure(EMPTY_LIST)
        if self.kind == "semver":
            assert self.constraints is not None
            chosen = semver_mod.latest_version(values, self.constraints, descending=True)
            if chosen is None:
                raise _failure(NO_VERSION)
            return chosen
        if self.kind == "alphabetical":
            return max(values) if self.order == "ASC" else min(values)
        return _numerical(values, self.order == "DESC")


def _clip(text: str, limit: int = 128) -> str:
    """A value as quoted in a message: at most ``limit`` characters (a tag's most)."""
    return text if len(text) <= limit else text[:limit] + "…"


def _numerical(values: Sequence[str], desc: bool) -> str:
    """Flux ``Numerical.Latest`` over ``values`` in descending bytewise order: the extreme
    number; among equal numbers the last, i.e. the bytewise-least string."""
    joined = "".join(values)
    if joined.isascii() and joined.isdigit() and min(map(len, values)) > 0:
        # Plain digit strings (timestamps, build numbers): float() is ParseFloat here.
        lengths = set(map(len, values))
        if len(lengths) == 1 and max(lengths) <= 15:
            # Same width, exactly representable: numeric order is string order and equal
            # numbers are equal strings.
            return min(values) if desc else max(values)
        plain = list(map(float, values))
        if not math.isinf(max(plain)):  # else ParseFloat's range error, found below
            extreme = min(plain) if desc else max(plain)
            return min(itertools.compress(values, map(extreme.__eq__, plain)))
    parsed = list(map(go_parse_float, values))
    if None in parsed:
        bad = max(v for v, n in zip(values, parsed, strict=True) if n is None)
        raise _failure(f"failed to parse invalid numeric value '{_clip(bad)}'")
    numbers = cast(list[float], parsed)
    if any(map(math.isnan, numbers)):
        return _numerical_loop(sorted(values, reverse=True), desc)
    extreme = min(numbers) if desc else max(numbers)
    return min(itertools.compress(values, map(extreme.__eq__, numbers)))


def _numerical_loop(values: Sequence[str], desc: bool) -> str:
    """Flux's loop, verbatim (the values all parse): with NaN about, order decides."""
    latest = ""
    previous = 0.0
    for i, value in enumerate(values):
        number = go_parse_float(value)
        assert number is not None
        if i > 0 and ((not desc and number < previous) or (desc and number > previous)):
            continue
        latest, previous = value, number
    return latest


# ------------------------------------------------------------------------------ compile


def _invalid(message: str) -> InvalidSpec:
    return InvalidSpec(message, reason=REASON_INVALID_POLICY)


def _policy_key(policy: Mapping[str, Any]) -> tuple[str, str]:
    """``PolicerFromSpec``: the first of semver, alphabetical, numerical that is set; return
    (kind, range-or-order). Shapes the API server would refuse are refused by field."""
    if not isinstance(policy, Mapping):
        raise _invalid(f"spec.policy: must be a mapping, got {type(policy).__name__}")
    unknown = sorted(str(k) for k in policy if k not in POLICY_KINDS)
    if unknown:
        raise _invalid(
            f"spec.policy: unknown field(s) {', '.join(unknown)}; "
            f"expected one of {', '.join(POLICY_KINDS)}"
        )
    kind = next((k for k in POLICY_KINDS if policy.get(k) is not None), None)
    if kind is None:
        raise _invalid("invalid policy: given ImagePolicyChoice object is invalid")
    body = policy[kind]
    if not isinstance(body, Mapping):
        raise _invalid(f"spec.policy.{kind}: must be a mapping, got {type(body).__name__}")
    field = "range" if kind == "semver" else "order"
    extra = sorted(str(k) for k in body if k != field)
    if extra:
        raise _invalid(f"spec.policy.{kind}: unknown field(s) {', '.join(extra)}")
    value = body.get(field)
    if value is None and kind == "semver":
        raise _invalid("spec.policy.semver.range: is required")
    value = "" if value is None else value
    if not isinstance(value, str):
        raise _invalid(f"spec.policy.{kind}.{field}: must be a string, got {value!r}")
    return kind, value


@functools.lru_cache(maxsize=512)
def _compile_policy(kind: str, arg: str) -> CompiledPolicy:
    if kind == "semver":
        try:
            constraints = semver_mod.cached_constraint(arg)
        except semver_mod.SemverError as exc:
            raise _invalid(f"invalid policy: {exc}") from None
        return CompiledPolicy(kind, range=arg, constraints=constraints)
    order = arg.upper() or "ASC"  # strings.ToUpper, then "" is ASC
    if order not in ORDERS:
        raise _invalid(
            f"invalid policy: invalid order argument provided: '{order}', must be one of: ASC, DESC"
        )
    return CompiledPolicy(kind, order=order)


def compile_policy(policy: Mapping[str, Any]) -> CompiledPolicy:
    """Validate and compile ``spec.policy`` (cached per distinct policy)."""
    return _compile_policy(*_policy_key(policy))


@functools.lru_cache(maxsize=512)
def _compile_filter(pattern: str, extract: str) -> TagFilter:
    try:
        return TagFilter(pattern, extract)
    except GoRegexpError as exc:
        raise _invalid(
            f"failed to filter tags: invalid regular expression pattern '{pattern}': {exc}"
        ) from None


def compile_filter(filter_tags: Mapping[str, Any]) -> TagFilter:
    """Validate and compile ``spec.filterTags`` (cached per pattern and extract)."""
    if not isinstance(filter_tags, Mapping):
        raise _invalid(f"spec.filterTags: must be a mapping, got {type(filter_tags).__name__}")
    extra = sorted(str(k) for k in filter_tags if k not in ("pattern", "extract"))
    if extra:
        raise _invalid(f"spec.filterTags: unknown field(s) {', '.join(extra)}")
    values: dict[str, str] = {}
    for key in ("pattern", "extract"):
        value = filter_tags.get(key)
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise _invalid(f"spec.filterTags.{key}: must be a string, got {value!r}")
        values[key] = value
    return _compile_filter(values["pattern"], values["extract"])


# --------------------------------------------------------------------------- the entry


def latest_tag(tags: Sequence[str], policy: CompiledPolicy, tag_filter: TagFilter | None) -> str:
    """The tag ``policy`` picks from ``tags`` after ``tag_filter``, in Flux's tag order."""
    if tag_filter is None:
        return policy.latest(tags)
    values, originals = tag_filter.columns(tags)
    # Flux runs the policy over the map's keys; a value that repeats changes no policy's
    # answer here (ties are decided by the values themselves), so they are not deduplicated.
    value = policy.latest(values)  # [] fails as in Flux
    if tag_filter.extract == "":
        return value  # the value is the tag
    # the map's entry: the last of its tags in descending order, i.e. the least
    return min(itertools.compress(originals, map(value.__eq__, values)))


def select_latest(
    tags: Sequence[str],
    policy: Mapping[str, Any],
    filter_tags: Mapping[str, Any] | None = None,
) -> str:
    """The tag Flux would resolve ``status.latestRef.tag`` to.

    ``policy`` is ``spec.policy`` and ``filter_tags`` is ``spec.filterTags`` as parsed
    from YAML. Checked in Flux's order: the policy, then that there are tags, then the
    filter. Raises :class:`~conveyor.shared.errors.InvalidSpec` (reason ``InvalidPolicy``)
    for an unusable spec, :class:`~conveyor.shared.errors.DependencyNotReady` for an empty
    tag list and :class:`~conveyor.shared.errors.TransientError` (reason ``Failure``) when
    the tags give no answer.
    """
    compiled = compile_policy(policy)
    if len(tags) == 0:
        raise DependencyNotReady(NO_TAGS)
    tag_filter = compile_filter(filter_tags) if filter_tags is not None else None
    return latest_tag(tags, compiled, tag_filter)
