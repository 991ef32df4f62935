"""Go ``regexp`` semantics for ``spec.filterTags``, on RE2.

Flux compiles ``filterTags.pattern`` with Go's ``regexp.Compile`` (RE2 syntax,
leftmost-first submatches), keeps a tag when ``FindStringSubmatchIndex`` finds a match
anywhere in it (unanchored), and, when ``extract`` is not empty, replaces the tag by
``Regexp.ExpandString(extract, tag, match)`` for ranking. This module reproduces that:

* matching runs on RE2 (``google-re2``), which guarantees time linear in the tag, so a
  pattern such as ``(a+)+$`` cannot stall the evaluator;
* Go-only rules that RE2 C++ is laxer about are enforced here: capture names must be
  ASCII letters, digits or ``_`` (``isValidCaptureName``), ``\\C`` is rejected, and
  duplicate names are allowed, with ``$name`` taking the first group of that name that
  participated in the match (as Go's ``expand`` loop does);
* ``(?P<name>…)`` and ``(?<name>…)`` are both accepted (Go >= 1.22 and RE2 both do);
* :class:`Template` is a port of Go's ``expand``/``extract``: ``$name`` takes the longest
  run of letters, digits and ``_`` (so ``$1x`` is the group named ``1x``), ``${name}``
  delimits, ``$$`` is ``$``, a number with a leading zero is a name, unknown or
  non-participating groups expand to nothing, and a malformed ``$`` stays literal.

Speed. The google-re2 binding costs about a microsecond per call, so the generic path is
one RE2 call a tag. For the common shape of Flux patterns -- anchored at the start,
no alternation, each variable repetition followed by something it cannot match (like
``^main-[a-f0-9]+-(?P<ts>[0-9]+)``) -- a backtracking engine provably does O(1) work per
character and gives the same leftmost-first match, so :class:`TagFilter` runs those on
Python's ``re`` over the newline-joined tag list, in one pass. Anything outside that
shape goes to RE2.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import re2

__all__ = ["GoRegexp", "GoRegexpError", "TagFilter", "Template"]


class GoRegexpError(ValueError):
    """A pattern Go's ``regexp.Compile`` would reject."""


_UNANCHORED = re2._re2.RE2.Anchor.UNANCHORED


def _encode(s: str) -> bytes:
    return s.encode("utf-8", "surrogatepass")


def _decode(b: bytes) -> str:
    try:
        return b.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:  # only reachable for tags holding lone surrogates
        return b.decode("utf-8", "replace")


_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _valid_capture_name(name: str) -> bool:
    # regexp/syntax isValidCaptureName: non-empty, ASCII alnum or '_'.
    return name != "" and all(c in _NAME_CHARS for c in name)


def _skip_class(p: str, i: int) -> int:
    """Index just past the character class starting at ``p[i] == '['`` (Go parseClass)."""
    n = len(p)
    j = i + 1
    if j < n and p[j] == "^":
        j += 1
    first = True
    while j < n and (p[j] != "]" or first):
        first = False
        if p.startswith("[:", j) and n - j > 2:
            k = p.find(":]", j + 2)
            if k >= 0:
                j = k + 2
                continue
        j += 2 if p[j] == "\\" else 1
    return j + 1


def scan_group_names(p: str) -> list[str]:
    """Go's ``SubexpNames()`` for ``p`` (index 0 is the whole match), applying the checks
    of Go's parser that RE2 C++ does not make. ``p`` must already be valid RE2 syntax."""
    names = [""]
    i, n = 0, len(p)
    while i < n:
        c = p[i]
        if c == "\\":
            nxt = p[i + 1] if i + 1 < n else ""
            if nxt == "Q":  # \Q...\E is literal text
                end = p.find("\\E", i + 2)
                i = n if end < 0 else end + 2
                continue
            if nxt == "C":
                raise GoRegexpError("invalid escape sequence: `\\C`")
            i += 2
            continue
        if c == "[":
            i = _skip_class(p, i)
            continue
        if c == "(":
            t = p[i:]
            if t.startswith("(?"):
                starts_with_p = len(t) > 4 and t[2] == "P" and t[3] == "<"
                starts_with_name = len(t) > 3 and t[2] == "<"
                if starts_with_p or starts_with_name:
                    end = t.find(">")
                    if end < 0:
                        raise GoRegexpError(f"invalid named capture: `{t}`")
                    name = t[4 if starts_with_p else 3 : end]
                    if not _valid_capture_name(name):
                        raise GoRegexpError(f"invalid named capture: `{t[: end + 1]}`")
                    names.append(name)
                    i += end + 1
                    continue
                i += 2  # flags or non-capturing group
                continue
            names.append("")
        i += 1
    return names


class GoRegexp:
    """A pattern compiled with Go's syntax rules, matched by RE2."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        options = re2.Options()
        options.log_errors = False
        try:
            encoded = pattern.encode("utf-8")
        except UnicodeEncodeError:
            raise GoRegexpError("invalid UTF-8") from None
        self._re = re2._re2.RE2(encoded, options)
        if not self._re.ok():
            raise GoRegexpError(_decode(self._re.error()))
        ngroups = self._re.NumberOfCapturingGroups()
        names = scan_group_names(pattern)
        if len(names) != ngroups + 1:  # defensive: trust RE2's own count and names
            names = [""] * (ngroups + 1)
            for raw, index in self._re.NamedCapturingGroups():
                names[index] = _decode(raw)
        self.names: tuple[str, ...] = tuple(names)
        self._match = self._re.Match

    def spans(self, b: bytes, pos: int = 0) -> list[tuple[int, int]] | None:
        """Byte spans of the leftmost-first match in ``b`` at or after ``pos`` (``(-1, -1)``
        for groups that did not participate), or ``None``. As Go's matching from an offset,
        ``^`` and ``\\b`` still see the bytes before ``pos``."""
        spans: list[tuple[int, int]] = self._match(_UNANCHORED, b, pos, len(b))
        return spans if spans[0][0] >= 0 else None

    def find_submatch_index(self, s: str) -> list[int] | None:
        """Go's ``FindStringSubmatchIndex`` (byte offsets into the UTF-8 of ``s``)."""
        spans = self.spans(_encode(s))
        return None if spans is None else [x for span in spans for x in span]

    def expand(self, template: str, s: str, match: Sequence[int]) -> str:
        """Go's ``ExpandString(nil, template, s, match)``."""
        spans = [(match[k], match[k + 1]) for k in range(0, len(match), 2)]
        return Template(template, self.names).expand(_encode(s), spans)


# ------------------------------------------------------------------------------ extract

# A piece is literal text or the group indexes a reference may take, in order.
_Piece = str | tuple[int, ...]


def _is_letter_or_digit(ch: str) -> bool:
    # unicode.IsLetter (L*) / unicode.IsDigit (Nd)
    return ch.isalpha() or ch.isdecimal()


def _extract_ref(s: str) -> tuple[str, int, str] | None:
    """Go's ``extract``: name, number (-1 if not a number) and rest after ``$``."""
    if s == "":
        return None
    brace = s[0] == "{"
    if brace:
        s = s[1:]
    i = 0
    while i < len(s) and (_is_letter_or_digit(s[i]) or s[i] == "_"):
        i += 1
    if i == 0:
        return None
    name = s[:i]
    if brace:
        if i >= len(s) or s[i] != "}":
            return None
        i += 1
    num = 0
    for ch in name:
        if not ("0" <= ch <= "9") or num >= 100_000_000:
            num = -1
            break
        num = num * 10 + ord(ch) - 48
    if name[0] == "0" and len(name) > 1:
        num = -1
    return name, num, s[i:]


class Template:
    """``filterTags.extract``, compiled against a pattern's group names."""

    def __init__(self, template: str, names: Sequence[str]) -> None:
        self.source = template
        pieces: list[_Piece] = []
        literal: list[str] = []
        rest = template
        while rest:
            before, dollar, after = rest.partition("$")
            literal.append(before)
            if not dollar:
                rest = ""
                break
            rest = after
            if rest.startswith("$"):
                literal.append("$")
                rest = rest[1:]
                continue
            ref = _extract_ref(rest)
            if ref is None:
                literal.append("$")
                continue
            name, num, rest = ref
            if num >= 0:
                refs: tuple[int, ...] = (num,) if num < len(names) else ()
            else:
                refs = tuple(i for i, n in enumerate(names) if n == name)
            if refs:
                if literal:
                    pieces.append("".join(literal))
                    literal = []
                pieces.append(refs)
        literal.append(rest)
        text = "".join(literal)
        if text:
            pieces.append(text)
        self.pieces: tuple[_Piece, ...] = tuple(p for p in pieces if p != "")

    @property
    def single_group(self) -> int | None:
        """The group index when the template is exactly one unambiguous reference."""
        if len(self.pieces) == 1 and isinstance(self.pieces[0], tuple):
            refs = self.pieces[0]
            if len(refs) == 1:
                return refs[0]
        return None

    def expand(self, b: bytes, spans: Sequence[tuple[int, int]]) -> str:
        out: list[str] = []
        for piece in self.pieces:
            if isinstance(piece, str):
                out.append(piece)
                continue
            for gi in piece:
                start, end = spans[gi]
                if start >= 0:
                    out.append(_decode(b[start:end]))
                    break
        return "".join(out)


# ---------------------------------------------------------------- the backtracking-safe subset

_MAX_RUNE = 0x10FFFF
_Ranges = tuple[tuple[int, int], ...]
_DIGIT: _Ranges = ((0x30, 0x39),)
_WORD: _Ranges = ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A))
_SPACE: _Ranges = ((0x09, 0x0A), (0x0C, 0x0D), (0x20, 0x20))
_PERL_CLASSES = {"d": _DIGIT, "w": _WORD, "s": _SPACE}
_C_ESCAPES = {"a": 0x07, "f": 0x0C, "t": 0x09, "n": 0x0A, "r": 0x0D, "v": 0x0B}
_HEX = frozenset("0123456789abcdefABCDEF")
_NOT_NL: _Ranges = ((0, 0x09), (0x0B, _MAX_RUNE))
_REPEAT = re.compile(r"\{(0|[1-9][0-9]{0,7})(?:(,)(0|[1-9][0-9]{0,7})?)?\}")
_INF = -1  # "no upper bound" in a repetition


def _normalize(ranges: Iterable[tuple[int, int]]) -> _Ranges:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return tuple(out)


def _negate(ranges: _Ranges) -> _Ranges:
    out: list[tuple[int, int]] = []
    nxt = 0
    for lo, hi in _normalize(ranges):
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= _MAX_RUNE:
        out.append((nxt, _MAX_RUNE))
    return tuple(out)


def _intersects(a: _Ranges, b: _Ranges) -> bool:
    return any(lo1 <= hi2 and lo2 <= hi1 for lo1, hi1 in a for lo2, hi2 in b)


def _without_newline(ranges: _Ranges) -> _Ranges:
    out: list[tuple[int, int]] = []
    for lo, hi in ranges:
        if lo <= 0x0A <= hi:
            if lo < 0x0A:
                out.append((lo, 0x09))
            if hi > 0x0A:
                out.append((0x0B, hi))
        else:
            out.append((lo, hi))
    return tuple(out)


def _py_class(ranges: _Ranges) -> str:
    rs = _without_newline(ranges)  # tags hold no newline in the joined text
    if not rs:
        return "[^\\x00-\\U0010ffff]"
    body = "".join(f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in rs)
    return f"[{body}]"


class _Unsupported(Exception):
    pass


@dataclass
class _Item:
    ranges: _Ranges
    lo: int
    hi: int  # _INF for unbounded


class _SubsetParser:
    """Parses the subset described in the module docstring; raises :class:`_Unsupported`
    for anything else. Only ever applied to patterns RE2 has accepted."""

    def __init__(self, p: str, keep: frozenset[int]) -> None:
        self.p = p
        self.keep = keep  # Go group numbers the template reads; others become (?:…)
        self.i = 0
        self.items: list[_Item] = []
        self.out: list[str] = []
        self.anchored_end = False
        self.group_count = 0
        self.kept: list[int] = []  # Go numbers of the capturing groups emitted, in order

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.p[j] if j < len(self.p) else ""

    def parse(self) -> str:
        if self.p.startswith("^"):
            self.i = 1
        elif self.p.startswith("\\A"):
            self.i = 2
        else:
            raise _Unsupported
        self.seq(0)
        if self.i != len(self.p):
            raise _Unsupported
        return "".join(self.out)

    def seq(self, depth: int) -> None:
        p = self.p
        while self.i < len(p):
            c = p[self.i]
            if c == ")":
                if depth == 0:
                    raise _Unsupported
                return
            if c in "|^*+?{":
                raise _Unsupported
            if c == "$" or (c == "\\" and self.peek(1) == "z"):
                width = 1 if c == "$" else 2
                if depth != 0 or self.i + width != len(p):
                    raise _Unsupported
                self.anchored_end = True
                self.out.append("$")
                self.i += width
                return
            if c == "(":
                self.group(depth)
                if self.peek() in ("*", "+", "?", "{"):
                    raise _Unsupported
                continue
            ranges = self.atom()
            lo, hi = self.quantifier()
            self.items.append(_Item(ranges, lo, hi))
            self.out.append(_py_class(ranges))
            if (lo, hi) != (1, 1):
                self.out.append(f"{{{lo},}}" if hi == _INF else f"{{{lo},{hi}}}")

    def group(self, depth: int) -> None:
        t = self.p[self.i :]
        if t.startswith("(?:"):
            self.out.append("(?:")
            self.i += 3
        else:
            if t.startswith("(?P<") or t.startswith("(?<"):
                end = t.find(">")
                if end < 0:
                    raise _Unsupported
                self.i += end + 1
            elif t.startswith("(?"):
                raise _Unsupported  # flags: (?i) etc.
            else:
                self.i += 1
            self.group_count += 1
            if self.group_count in self.keep:
                self.kept.append(self.group_count)
                self.out.append("(")
            else:
                self.out.append("(?:")
        self.seq(depth + 1)
        if self.peek() != ")":
            raise _Unsupported
        self.out.append(")")
        self.i += 1

    def quantifier(self) -> tuple[int, int]:
        c = self.peek()
        if c == "*":
            lo, hi, width = 0, _INF, 1
        elif c == "+":
            lo, hi, width = 1, _INF, 1
        elif c == "?":
            lo, hi, width = 0, 1, 1
        elif c == "{":
            m = _REPEAT.match(self.p, self.i)
            if m is None:
                raise _Unsupported  # Go would read a literal "{"; leave it to RE2
            lo = int(m.group(1))
            if m.group(2) is None:
                hi = lo
            elif m.group(3) is None:
                hi = _INF
            else:
                hi = int(m.group(3))
            if lo > 1000 or hi > 1000 or (hi != _INF and lo > hi):
                raise _Unsupported
            width = m.end() - m.start()
        else:
            return 1, 1
        self.i += width
        if self.peek() in ("*", "+", "?", "{"):
            raise _Unsupported  # lazy (x*?) or nested repetition
        return lo, hi

    def escape_char(self) -> int | _Ranges:
        """After a backslash at ``self.i``: a rune, or a Perl class's ranges."""
        c = self.peek(1)
        if c in _PERL_CLASSES:
            self.i += 2
            return _PERL_CLASSES[c]
        if c.lower() in _PERL_CLASSES and c.isupper():
            self.i += 2
            return _negate(_PERL_CLASSES[c.lower()])
        if c in _C_ESCAPES:
            self.i += 2
            return _C_ESCAPES[c]
        if c == "x":
            t = self.p[self.i + 2 :]
            if t.startswith("{"):
                end = t.find("}")
                digits = t[1:end] if end > 0 else ""
                if not digits or not all(d in _HEX for d in digits) or len(digits) > 8:
                    raise _Unsupported
                value = int(digits, 16)
                self.i += 2 + end + 1
            else:
                if len(t) < 2 or t[0] not in _HEX or t[1] not in _HEX:
                    raise _Unsupported
                value = int(t[:2], 16)
                self.i += 4
            if value > _MAX_RUNE:
                raise _Unsupported
            return value
        if c and ord(c) < 0x80 and not c.isalnum():  # escaped punctuation is itself
            self.i += 2
            return ord(c)
        raise _Unsupported

    def atom(self) -> _Ranges:
        c = self.peek()
        if c == ".":
            self.i += 1
            return _NOT_NL
        if c == "[":
            return self.char_class()
        if c == "\\":
            r = self.escape_char()
            return ((r, r),) if isinstance(r, int) else r
        self.i += 1
        return ((ord(c), ord(c)),)

    def class_char(self) -> int:
        c = self.peek()
        if c == "":
            raise _Unsupported
        if c == "\\":
            r = self.escape_char()
            if not isinstance(r, int):
                raise _Unsupported
            return r
        self.i += 1
        return ord(c)

    def char_class(self) -> _Ranges:
        self.i += 1
        negate = False
        if self.peek() == "^":
            negate = True
            self.i += 1
        ranges: list[tuple[int, int]] = []
        first = True
        while first or self.peek() != "]":
            if self.peek() == "":
                raise _Unsupported
            first = False
            if self.p.startswith("[:", self.i):
                raise _Unsupported  # POSIX classes: leave to RE2
            if self.peek() == "\\" and self.peek(1) in ("p", "P"):
                raise _Unsupported  # Unicode classes: leave to RE2
            if self.peek() == "\\" and self.peek(1).lower() in _PERL_CLASSES:
                r = self.escape_char()
                assert not isinstance(r, int)
                ranges.extend(r)
                continue
            lo = self.class_char()
            hi = lo
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                self.i += 1
                hi = self.class_char()
                if hi < lo:
                    raise _Unsupported
            ranges.append((lo, hi))
        self.i += 1  # ]
        normalized = _normalize(ranges)
        return _negate(normalized) if negate else normalized


def _deterministic(items: Sequence[_Item]) -> bool:
    """Each variable repetition is last, or followed by a mandatory item it cannot match.

    Then a backtracking matcher can only ever resume a repetition at the one count where
    the next item can start, so an anchored attempt costs O(length) -- and, as for any
    pattern, its leftmost-first match is the one RE2 and Go report.
    """
    for k, item in enumerate(items):
        if item.lo == item.hi:
            continue
        if k == len(items) - 1:
            continue
        nxt = items[k + 1]
        if nxt.lo < 1 or _intersects(item.ranges, nxt.ranges):
            return False
    return True


@dataclass(frozen=True)
class _FastProgram:
    """The pattern as a Python expression over the newline-joined tags. ``findall`` gives
    one row per matching tag: the tag itself, then the kept groups; ``index[g]`` is the
    row position of Go group ``g``."""

    regex: re.Pattern[str]
    index: dict[int, int]


def _fast_program(pattern: str, keep: frozenset[int]) -> _FastProgram | None:
    parser = _SubsetParser(pattern, keep)
    try:
        body = parser.parse()
    except _Unsupported:
        return None
    if not _deterministic(parser.items):
        return None
    index = {g: k + 1 for k, g in enumerate(parser.kept)}
    if 0 in keep:  # Go's group 0 is the match itself, not the whole tag
        body = f"({body})"
        index = {g: k + 1 for g, k in index.items()}
        index[0] = 1
    # The whole line is the tag: the match, then the rest of the line. The suffix always
    # matches at once, so it cannot change which match the body makes.
    try:
        regex = re.compile(f"(?m)^({body}[^\\n]*)")
    except re.error:  # pragma: no cover - the subset only produces valid expressions
        return None
    return _FastProgram(regex, index)


@functools.lru_cache(maxsize=1024)
def compiled(pattern: str) -> GoRegexp:
    """``GoRegexp(pattern)``, compiled once per process (an RE2 program is safe to share
    between threads): what an interval run would otherwise compile again every time, e.g. an
    ImageRepository's ``spec.exclusionList``. Raises ``GoRegexpError`` as the class does (an
    invalid pattern is not cached)."""
    return GoRegexp(pattern)


# ------------------------------------------------------------------------------- filter


class TagFilter:
    """``spec.filterTags``: which tags are considered, and the value each one is ranked by.

    :meth:`columns` gives, for the matching tags in input order, the ranked values and the
    tags; :meth:`apply` folds them into ``{value: tag}``, exactly the map Flux's
    ``RegexFilter.Apply`` builds (a later tag with the same value replaces an earlier one),
    with keys in the order each value first appeared.
    """

    def __init__(self, pattern: str, extract: str) -> None:
        self.pattern = pattern
        self.extract = extract
        self.regexp = GoRegexp(pattern)
        self.template = Template(extract, self.regexp.names)
        self._fast: _FastProgram | None = None
        if all(isinstance(piece, str) or len(piece) == 1 for piece in self.template.pieces):
            # (A name held by several groups takes the first that participated; findall
            # cannot tell "did not participate" from "matched empty", so those use RE2.)
            keep = frozenset(p[0] for p in self.template.pieces if not isinstance(p, str))
            self._fast = _fast_program(pattern, keep)

    @property
    def uses_fast_path(self) -> bool:
        return self._fast is not None

    def apply(self, tags: Sequence[str]) -> dict[str, str]:
        values, originals = self.columns(tags)
        return dict(zip(values, originals, strict=True))

    def apply_re2(self, tags: Sequence[str]) -> dict[str, str]:
        values, originals = self.columns_re2(tags)
        return dict(zip(values, originals, strict=True))

    def columns(self, tags: Sequence[str]) -> tuple[list[str], list[str]]:
        """(ranked values, tags) of the matching tags, in input order."""
        if self.pattern == "":  # matches every tag, empty, with no group
            originals = list(tags)
            if self.extract == "":
                return originals, originals
            return [self.template.expand(b"", [(0, 0)])] * len(originals), originals
        if self._fast is not None and tags:
            result = self._columns_fast(self._fast, tags)
            if result is not None:
                return result
        return self.columns_re2(tags)

    def columns_re2(self, tags: Iterable[str]) -> tuple[list[str], list[str]]:
        """The generic path: one RE2 search a tag."""
        values: list[str] = []
        originals: list[str] = []
        match = self.regexp._match
        template = self.template
        whole = self.extract == ""
        single = template.single_group
        for tag in tags:
            b = _encode(tag)
            spans = match(_UNANCHORED, b, 0, len(b))
            if spans[0][0] < 0:
                continue
            originals.append(tag)
            if whole:
                values.append(tag)
            elif single is not None:
                start, end = spans[single]
                values.append(_decode(b[start:end]) if start >= 0 else "")
            else:
                values.append(template.expand(b, spans))
        return values, originals

    def _columns_fast(
        self, fast: _FastProgram, tags: Sequence[str]
    ) -> tuple[list[str], list[str]] | None:
        joined = "\n".join(tags)
        if joined.count("\n") != len(tags) - 1:
            return None  # a tag holds a newline: use RE2
        if not fast.index:  # one group, the tag: findall gives strings
            originals: list[str] = fast.regex.findall(joined)
            if self.extract == "":
                return originals, originals
            text = "".join(p for p in self.template.pieces if isinstance(p, str))
            return [text] * len(originals), originals
        rows: list[tuple[str, ...]] = fast.regex.findall(joined)
        originals = list(map(operator.itemgetter(0), rows))
        if self.extract == "":
            return originals, originals
        single = self.template.single_group
        if single is not None:
            return list(map(operator.itemgetter(fast.index[single]), rows)), originals
        # findall reports a non-participating group as "", which is also what expand
        # appends for it, so pieces can read rows directly.
        pieces = [
            p if isinstance(p, str) else operator.itemgetter(fast.index[p[0]])
            for p in self.template.pieces
        ]
        values = ["".join(p if isinstance(p, str) else p(row) for p in pieces) for row in rows]
        return values, originals
