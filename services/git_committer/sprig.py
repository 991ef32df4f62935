"""Sprig's functions (Masterminds/sprig v3.3.0), as Flux registers them for commit messages.

image-automation-controller parses a message template with ``sprig.HermeticTxtFuncMap()``:
every function of Sprig's ``TxtFuncMap`` but the ones that read the clock, the environment,
the network or a random source (``now``, ``date``, ``env``, ``randAlpha``, ``uuidv4``,
``getHostByName``, …). Those are not defined here either, as in Flux.

Each function below has Sprig's semantics and Go's types: its parameters are declared with
their Go types, and the template's executor converts and checks arguments as Go's
``text/template`` does (``repeat (add 1 2) "x"`` is an error there: ``add`` returns an
``int64``, ``repeat`` wants an ``int``). Helpers are ports of what Sprig calls: goutils'
``Abbreviate``, ``Wrap``, ``Initials``, ``SwapCase``; xstrings' case conversions; spf13/cast's
``ToInt64``/``ToFloat64`` (cast v1.8.0); shopspring/decimal for the ``…f`` arithmetic; mergo for
``merge``; Go's ``strings``, ``path``, ``encoding/base64``/``base32``, ``encoding/json``,
``regexp`` (on :mod:`conveyor.shared.goregexp`), ``time.Duration`` and Masterminds semver (on
:mod:`conveyor.shared.semver`). Where Go leaves maps unordered (``keys``, ``values``), the keys
come in sorted order, which is one of Go's orders.

:data:`UNSUPPORTED` names the functions of Flux's map that conveyor does not implement (dates
that read the clock or parse times, certificates and keys, AES, bcrypt, URLs): a template that
calls one is refused when it is parsed, naming the function, never rendered differently.

Every function is bounded: a string it builds is capped at :data:`MAX_VALUE_BYTES`, a list
at :data:`MAX_ITEMS` elements, before it is built, and the executor charges each result's size
to its step budget (what is written stays capped at the commit message's size).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, ClassVar, Final

from conveyor.services.git_committer.govalues import (
    MAX_NESTING,
    MAX_VALUE_BYTES,
    MISSING,
    Func,
    FuncError,
    GoMap,
    GoSlice,
    Int64,
    TooDeep,
    deep_equal,
    empty,
    format_value,
    go_kind,
    go_quote,
    go_type,
    spend,
    sprintf,
    stringer,
    to_json,
)
from conveyor.shared.gostrconv import go_duration

if TYPE_CHECKING:  # loaded by the functions that use them: they bring RE2 (about 3 MB), which
    # a template without semver or regex functions (the default one) never needs
    from conveyor.shared import semver as _semver
    from conveyor.shared.goregexp import GoRegexp

__all__ = ["FUNCTIONS", "UNSUPPORTED", "Uint64"]

MAP: Final = "map[string]interface {}"
MAX_ITEMS: Final = 100_000  # elements a function may build (until, seq, chunk, …)
INT64_MIN: Final = -(1 << 63)
INT64_MAX: Final = (1 << 63) - 1

# In Flux's function map, not implemented by conveyor: refused by name when parsed.
UNSUPPORTED: Final = frozenset(
    {
        # dates: the clock (ago, durationRound of a time) or Go's time layouts and zones
        "ago",
        "toDate",
        "mustToDate",
        "unixEpoch",
        "must_date_modify",
        "mustDateModify",
        # keys, certificates, passwords, encryption: nothing a commit message should carry
        "bcrypt",
        "htpasswd",
        "genPrivateKey",
        "derivePassword",
        "buildCustomCert",
        "genCA",
        "genCAWithKey",
        "genSelfSignedCert",
        "genSelfSignedCertWithKey",
        "genSignedCert",
        "genSignedCertWithKey",
        "encryptAES",
        "decryptAES",
        # Go's net/url
        "urlParse",
        "urlJoin",
    }
)


class Uint64(int):
    """A Go ``uint64`` (what a semver's ``Major``, ``Minor`` and ``Patch`` return)."""

    __slots__ = ()
    go_type: ClassVar[str] = "uint64"


def _wrap64(value: int) -> Int64:
    """Go's int64 arithmetic wraps around."""
    return Int64((value - INT64_MIN) % (1 << 64) + INT64_MIN)


def _bytes(s: str) -> bytes:
    return s.encode("utf-8", "surrogatepass")


def _text(b: bytes) -> str:
    """A Go string's bytes as text: a cut multi-byte character becomes U+FFFD."""
    return b.decode("utf-8", "replace")


def _cap(size: int, what: str) -> None:
    if size > MAX_VALUE_BYTES:
        raise FuncError(f"{what} would be {size} bytes; the limit is {MAX_VALUE_BYTES}")


def _cap_items(count: int, what: str) -> None:
    if count > MAX_ITEMS:
        raise FuncError(f"{what} would have {count} elements; the limit is {MAX_ITEMS}")


# ------------------------------------------------------------------------ Go's unicode


_WHITE_SPACE: Final = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _is_space(c: str) -> bool:
    return c in _WHITE_SPACE


def _cat(c: str) -> str:
    return unicodedata.category(c)


def _is_upper(c: str) -> bool:
    return _cat(c) == "Lu"


def _is_lower(c: str) -> bool:
    return _cat(c) == "Ll"


def _is_letter(c: str) -> bool:
    return _cat(c).startswith("L")


def _is_number(c: str) -> bool:
    return _cat(c).startswith("N")


def _is_punct(c: str) -> bool:
    return _cat(c).startswith("P")


def _to_upper(c: str) -> str:
    """unicode.ToUpper: the simple mapping (one rune), so ``ß`` stays ``ß``."""
    u = c.upper()
    return u if len(u) == 1 else c


def _to_lower(c: str) -> str:
    if c == "\u0130":
        return "i"
    u = c.lower()
    return u if len(u) == 1 else c


def _to_title(c: str) -> str:
    u = c.title()
    return u if len(u) == 1 else c


def _go_upper(s: str) -> str:
    return "".join(map(_to_upper, s))


def _go_lower(s: str) -> str:
    return "".join(map(_to_lower, s))


def _trim_space(s: str) -> str:
    return s.strip("".join(_WHITE_SPACE))


# ---------------------------------------------------------------------------- strval


def strval(value: Any) -> str:
    """Sprig's strval: strings as they are, a Stringer's String(), else Go's %v."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return _text(bytes(value))
    if value is MISSING:
        value = None
    text = stringer(value)
    return text if text is not None else format_value(value)


def _strslice(value: Any) -> GoSlice:
    if isinstance(value, list | tuple):
        return GoSlice((strval(v) for v in value if v is not None), "[]string")
    if value is None or value is MISSING:
        return GoSlice((), "[]string")
    return GoSlice([strval(value)], "[]string")


# --------------------------------------------------------------------------- strings


def _abbreviate_full(s: str, offset: int, width: int) -> str:
    """goutils.AbbreviateFull (on bytes, as Go's strings are)."""
    b = _bytes(s)
    if not b:
        return ""
    if width < 4:
        raise FuncError("stringutils illegal argument: Minimum abbreviation width is 4")
    if len(b) <= width:
        return s
    offset = min(offset, len(b))
    if len(b) - offset < width - 3:
        offset = len(b) - (width - 3)
    if offset <= 4:
        return _text(b[: width - 3]) + "..."
    if width < 7:
        raise FuncError("stringutils illegal argument: Minimum abbreviation width with offset is 7")
    if offset + width - 3 < len(b):
        return "..." + _abbreviate_full(_text(b[offset:]), 0, width - 3)
    return "..." + _text(b[len(b) - (width - 3) :])


def _abbrev(width: int, s: str) -> str:
    if width < 4:
        return s
    try:
        return _abbreviate_full(s, 0, width)
    except FuncError:
        return ""


def _abbrevboth(left: int, right: int, s: str) -> str:
    if right < 4 or (left > 0 and right < 7):
        return s
    try:
        return _abbreviate_full(s, left, right)
    except FuncError:
        return ""


def _trunc(c: int, s: str) -> str:
    b = _bytes(s)
    if c < 0 and len(b) + c > 0:
        return _text(b[len(b) + c :])
    if c >= 0 and len(b) > c:
        return _text(b[:c])
    return s


def _title(s: str) -> str:
    """strings.Title: the first letter of each word in title case."""

    def separator(r: str) -> bool:
        if r <= "\x7f":
            return not (r.isascii() and (r.isalnum() or r == "_"))
        if _is_letter(r) or _cat(r) == "Nd":
            return False
        return _is_space(r)

    out, prev = [], " "
    for r in s:
        out.append(_to_title(r) if separator(prev) else r)
        prev = r
    return "".join(out)


def _untitle(s: str) -> str:
    """goutils.Uncapitalize: the first letter of each space-separated word in lower case."""
    out, nxt = [], True
    for r in s:
        if _is_space(r):
            nxt = True
            out.append(r)
        elif nxt:
            out.append(_to_lower(r))
            nxt = False
        else:
            out.append(r)
    return "".join(out)


def _substr(start: int, end: int, s: str) -> str:
    b = _bytes(s)
    if start < 0:
        lo, hi = 0, end
    elif end < 0 or end > len(b):
        lo, hi = start, len(b)
    else:
        lo, hi = start, end
    if hi < 0 or hi > len(b):  # Go's messages for s[lo:hi]
        raise FuncError(f"runtime error: slice bounds out of range [:{hi}] with length {len(b)}")
    if lo > hi:
        raise FuncError(f"runtime error: slice bounds out of range [{lo}:{hi}]")
    return _text(b[lo:hi])


def _repeat(count: int, s: str) -> str:
    if count < 0:
        raise FuncError("strings: negative Repeat count")
    _cap(count * len(_bytes(s)), "repeat")
    return s * count


def _latin1_bytes(s: str) -> str:
    """Go's ``rune(str[i])``: each byte of the UTF-8 text taken as a Latin-1 character."""
    return _bytes(s).decode("latin-1")


def _nospace(s: str) -> str:
    """goutils.DeleteWhiteSpace, which walks bytes: a multi-byte character comes out as its
    bytes read as Latin-1 (as in Go) once any space was removed."""
    chars = _latin1_bytes(s)
    kept = [c for c in chars if not _is_space(c)]
    return s if len(kept) == len(chars) else "".join(kept)


def _initials(s: str) -> str:
    """goutils.Initials, which walks bytes as well."""
    out, gap = [], True
    for c in _latin1_bytes(s):
        if _is_space(c):
            gap = True
        elif gap:
            out.append(c)
            gap = False
    return "".join(out)


def _swapcase(s: str) -> str:
    out, whitespace = [], True
    for c in s:
        if _is_upper(c) or _cat(c) == "Lt":
            out.append(_to_lower(c))
            whitespace = False
        elif _is_lower(c):
            out.append(_to_title(c) if whitespace else _to_upper(c))
            whitespace = False
        else:
            out.append(c)
            whitespace = _is_space(c)
    return "".join(out)


def _shuffle(s: str) -> str:
    chars = list(s)
    random.shuffle(chars)  # math/rand's, as Sprig's
    return "".join(chars)


# xstrings (v1.5.0) case conversion


def _is_connector(r: str) -> bool:
    return r in "-_" or _is_space(r)


def _is_alphabet(r: str) -> bool:
    if not _is_letter(r):
        return False
    o = ord(r)
    return not (0x4E00 <= o <= 0x9FCC or 0x3400 <= o <= 0x4D85 or 0x20000 <= o <= 0x2B81D)


_INVALID, _NUMBER, _UPPER, _ALPHA, _CONNECTOR, _PUNCT, _OTHER = range(7)


def _next_word(s: str) -> tuple[int, str, str]:
    """xstrings' nextWord (the text is valid Unicode here: no RuneError)."""
    if not s:
        return _INVALID, "", ""
    r = s[0]
    i = 1
    n = len(s)
    if _is_connector(r):
        while i < n and _is_connector(s[i]):
            i += 1
        return _CONNECTOR, s[:i], s[i:]
    if _is_punct(r):
        while i < n and _is_punct(s[i]):
            i += 1
        return _PUNCT, s[:i], s[i:]
    if _is_upper(r):
        if i == n:
            return _UPPER, s[:i], s[i:]
        r = s[i]
        if _is_upper(r):
            i += 1
            while i < n and _is_upper(s[i]):
                i += 1
            if i < n and _is_alphabet(s[i]):  # "HTTPStatus" is "HTTP" and "Status"
                i -= 1
        elif _is_alphabet(r):
            i += 1
            while i < n and _is_alphabet(s[i]) and not _is_upper(s[i]):
                i += 1
        return _UPPER, s[:i], s[i:]
    if _is_alphabet(r):
        while i < n and _is_alphabet(s[i]) and not _is_upper(s[i]):
            i += 1
        return _ALPHA, s[:i], s[i:]
    if _is_number(r):
        while i < n and _is_number(s[i]):
            i += 1
        return _NUMBER, s[:i], s[i:]
    while i < n and not (
        _is_connector(s[i]) or _is_alphabet(s[i]) or _is_number(s[i]) or _is_punct(s[i])
    ):
        i += 1
    return _OTHER, s[:i], s[i:]


def _word_lower(out: list[str], wt: int, word: str, connector: str) -> None:
    if wt not in (_UPPER, _CONNECTOR):
        out.append(word)
        return
    for r in word:
        out.append(connector if _is_connector(r) else _to_lower(r) if _is_upper(r) else r)


def _camel_to_lower(s: str, connector: str) -> str:
    """xstrings' camelCaseToLowerCase: ToSnakeCase and ToKebabCase."""
    if not s:
        return ""
    out: list[str] = []
    wt, word, rest = _next_word(s)
    while rest:
        if wt != _CONNECTOR:
            _word_lower(out, wt, word, connector)
        prev, last = wt, word
        wt, word, rest = _next_word(rest)
        if prev == _NUMBER:
            while wt in (_ALPHA, _NUMBER):
                _word_lower(out, wt, word, connector)
                wt, word, rest = _next_word(rest)
            if wt not in (_INVALID, _PUNCT, _CONNECTOR):
                out.append(connector)
        elif prev == _CONNECTOR:
            _word_lower(out, prev, last, connector)
        elif prev == _PUNCT:
            pass
        else:
            if wt != _NUMBER:
                if wt not in (_CONNECTOR, _PUNCT):
                    out.append(connector)
                continue
            if not rest:
                continue
            last = word
            wt, word, rest = _next_word(rest)
            if wt != _ALPHA:  # a number is part of the word before: "Bld4Floor"
                _word_lower(out, _NUMBER, last, connector)
                if wt not in (_CONNECTOR, _PUNCT):
                    out.append(connector)
                continue
            out.append(connector)  # lower case after a number: "HTTP2xx" is "http_2xx"
            _word_lower(out, _NUMBER, last, connector)
            while wt in (_ALPHA, _NUMBER):
                _word_lower(out, wt, word, connector)
                wt, word, rest = _next_word(rest)
            if wt not in (_INVALID, _CONNECTOR, _PUNCT):
                out.append(connector)
    _word_lower(out, wt, word, connector)
    return "".join(out)


def _pascal(s: str) -> str:
    """xstrings.ToPascalCase (Sprig's ``camelcase``)."""
    if not s:
        return ""
    out: list[str] = []
    chars = list(s)
    i = 0
    first_upper = False
    r0 = ""
    while i < len(chars):  # leading connectors stay
        r0 = chars[i]
        i += 1
        if not _is_connector(r0):
            first_upper = _is_upper(r0)
            r0 = _to_upper(r0)
            break
        out.append(r0)
    if i == len(chars):  # the last rune read is written once more, a connector too
        out.append(r0)
        return "".join(out)
    while i < len(chars):
        r1, r0 = r0, chars[i]
        i += 1
        if _is_connector(r0) and _is_connector(r1):
            out.append(r1)
            continue
        if _is_connector(r1):
            first_upper = _is_upper(r0)
            r0 = _to_upper(r0)
        else:
            if first_upper:
                if _is_upper(r0):
                    r0 = _to_lower(r0)
                else:
                    first_upper = False
            out.append(r1)
    out.append(r0)
    return "".join(out)


def _wrap_custom(s: str, width: int, newline: str, long_words: bool) -> str:
    """goutils.WrapCustom, on bytes."""
    b = _bytes(s)
    if not b:
        return ""
    nl = _bytes(newline or "\n")
    width = max(width, 1)
    out = bytearray()
    offset = 0
    n = len(b)
    while n - offset > width:
        if b[offset] == 0x20:
            offset += 1
            continue
        end = width + offset + 1
        space = b.rfind(b" ", offset, end)
        if space >= offset:
            out += b[offset:space] + nl
            offset = space + 1
        elif long_words:
            out += b[offset : offset + width] + nl
            offset += width
        else:
            index = b.find(b" ", width + offset)
            if index == -1:
                out += b[offset:]
                offset = n
            else:
                out += b[offset:index] + nl
                offset = index + 1
        _cap(len(out), "wrap")
    out += b[offset:]
    return _text(bytes(out))


def _wrap(width: int, s: str) -> str:
    return _wrap_custom(s, width, "", False)


def _wrap_with(width: int, sep: str, s: str) -> str:
    return _wrap_custom(s, width, sep, True)


def _quote(*values: Any) -> str:
    return " ".join(go_quote(strval(v)) for v in values if v is not None)


def _squote(*values: Any) -> str:
    return " ".join(sprintf("'%v'", [v]) for v in values if v is not None)


def _cat_values(*values: Any) -> str:
    kept = [v for v in values if v is not None]
    return sprintf(" ".join(["%v"] * len(kept)), kept)


def _indent(spaces: int, s: str) -> str:
    if spaces < 0:
        raise FuncError("strings: negative Repeat count")
    _cap(spaces * (s.count("\n") + 1) + len(_bytes(s)), "indent")
    pad = " " * spaces
    return pad + s.replace("\n", "\n" + pad)


def _nindent(spaces: int, s: str) -> str:
    return "\n" + _indent(spaces, s)


def _replace(old: str, new: str, src: str) -> str:
    if old == "":  # Go inserts ``new`` before every rune and at the end
        _cap((len(src) + 1) * len(_bytes(new)) + len(_bytes(src)), "replace")
        return new + "".join(c + new for c in src)
    _cap(src.count(old) * len(_bytes(new)) + len(_bytes(src)), "replace")
    return src.replace(old, new)


def _plural(one: str, many: str, count: int) -> str:
    return one if count == 1 else many


def _adler32(s: str) -> str:
    return str(zlib.adler32(_bytes(s)))


# ------------------------------------------------------------------------- encodings

_B64: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B32: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


_B64_VALUES: Final = {ord(c): i for i, c in enumerate(_B64)}
_B32_VALUES: Final = {ord(c): i for i, c in enumerate(_B32)}


def _b64dec(s: str) -> str:
    """base64.StdEncoding.DecodeString; Sprig returns the error's text in place of the data."""
    src = _bytes(s)
    values = _B64_VALUES
    out = bytearray()
    si, n = 0, len(src)
    while True:
        dbuf = [0, 0, 0, 0]
        dlen = 4
        j = 0
        end = False
        while j < 4:
            if si == n:
                if j == 0:
                    return _text(bytes(out))
                return f"illegal base64 data at input byte {si - j}"
            c = src[si]
            si += 1
            if c in values:
                dbuf[j] = values[c]
                j += 1
                continue
            if c in (0x0A, 0x0D):
                continue
            if c != 0x3D:
                return f"illegal base64 data at input byte {si - 1}"
            if j in (0, 1):
                return f"illegal base64 data at input byte {si - 1}"
            if j == 2:
                while si < n and src[si] in (0x0A, 0x0D):
                    si += 1
                if si == n:
                    return f"illegal base64 data at input byte {n}"
                if src[si] != 0x3D:
                    return f"illegal base64 data at input byte {si - 1}"
                si += 1
            while si < n and src[si] in (0x0A, 0x0D):
                si += 1
            if si < n:
                return f"illegal base64 data at input byte {si}"
            dlen = j
            end = True
            break
        val = dbuf[0] << 18 | dbuf[1] << 12 | dbuf[2] << 6 | dbuf[3]
        out += val.to_bytes(3, "big")[: dlen - 1]
        if end:
            return _text(bytes(out))


def _b32dec(s: str) -> str:
    """base32.StdEncoding.DecodeString (newlines stripped first)."""
    src = bytes(c for c in _bytes(s) if c not in (0x0A, 0x0D))
    values = _B32_VALUES
    olen, pos = len(src), 0
    out = bytearray()
    end = False
    while pos < olen and not end:
        dbuf = [0] * 8
        dlen = 8
        j = 0
        while j < 8:
            if pos == olen:
                return f"illegal base32 data at input byte {olen - (olen - pos) - j}"
            c = src[pos]
            pos += 1
            left = olen - pos
            if c == 0x3D and j >= 2 and left < 8:
                if left + j < 7:
                    return f"illegal base32 data at input byte {olen}"
                for k in range(7 - j):
                    if left > k and src[pos + k] != 0x3D:
                        return f"illegal base32 data at input byte {olen - left + k - 1}"
                dlen, end = j, True
                if dlen in (1, 3, 6):
                    return f"illegal base32 data at input byte {olen - left - 1}"
                break
            if c not in values:
                return f"illegal base32 data at input byte {olen - left - 1}"
            dbuf[j] = values[c]
            j += 1
        value = 0
        for v in dbuf:
            value = value << 5 | v
        out += value.to_bytes(5, "big")[: {8: 5, 7: 4, 5: 3, 4: 2, 2: 1}.get(dlen, 0)]
    return _text(bytes(out))


def _b64enc(s: str) -> str:
    _cap(len(_bytes(s)) * 4 // 3 + 4, "b64enc")
    return base64.b64encode(_bytes(s)).decode()


def _b32enc(s: str) -> str:
    _cap(len(_bytes(s)) * 8 // 5 + 8, "b32enc")
    return base64.b32encode(_bytes(s)).decode()


# ------------------------------------------------------------------------------ paths


def _path_clean(p: str) -> str:
    """Go's path.Clean."""
    if p == "":
        return "."
    rooted = p.startswith("/")
    parts: list[str] = []
    for part in p.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    out = ("/" if rooted else "") + "/".join(parts)
    return out or "."


def _path_base(p: str) -> str:
    if p == "":
        return "."
    p = p.rstrip("/")
    if p == "":
        return "/"
    return p.rsplit("/", 1)[-1]


def _path_dir(p: str) -> str:
    return _path_clean(p[: p.rfind("/") + 1])


def _path_ext(p: str) -> str:
    i = len(p) - 1
    while i >= 0 and p[i] != "/":
        if p[i] == ".":
            return p[i:]
        i -= 1
    return ""


def _path_is_abs(p: str) -> bool:
    return p.startswith("/")


# ---------------------------------------------------------------------- conversions


def _underscore_ok(s: str) -> bool:
    """strconv's underscoreOK: underscores only between digits (or after a base prefix)."""
    saw = "^"
    if s[:1] in ("+", "-"):
        s = s[1:]
    i = 0
    hexa = False
    if len(s) >= 2 and s[0] == "0" and s[1].lower() in "box":
        i, saw, hexa = 2, "0", s[1].lower() == "x"
    while i < len(s):
        c = s[i]
        if c.isascii() and (c.isdigit() or (hexa and c.lower() in "abcdef")):
            saw = "0"
        elif c == "_":
            if saw != "0":
                return False
            saw = "_"
        else:
            if saw == "_":
                return False
            saw = "!"
        i += 1
    return saw != "_"


def parse_int(s: str) -> int | None:
    """strconv.ParseInt(s, 0, 64): Go's literal syntax, None for an error (or overflow)."""
    body = s[1:] if s[:1] in ("+", "-") else s
    negative = s[:1] == "-"
    base = 10
    if body[:2].lower() in ("0x", "0b", "0o"):
        base = {"x": 16, "b": 2, "o": 8}[body[1].lower()]
        body = body[2:]
    elif len(body) > 1 and body[0] == "0":
        base, body = 8, body[1:]
    if "_" in s and not _underscore_ok(s):
        return None
    body = body.replace("_", "")
    digits = "0123456789abcdef"[:base]
    if not body or any(c.lower() not in digits for c in body):
        return None
    value = int(body, base) * (-1 if negative else 1)
    return value if INT64_MIN <= value <= INT64_MAX else None


def parse_float(s: str) -> float | None:
    """strconv.ParseFloat(s, 64): decimal and hexadecimal forms, inf and nan; None for an
    error (out of range included)."""
    body = s[1:] if s[:1] in ("+", "-") else s
    lower = body.lower()
    if lower in ("inf", "infinity"):
        return -math.inf if s[:1] == "-" else math.inf
    if lower == "nan" and body == s:
        return math.nan
    if not body or not body.isascii() or any(c.isspace() for c in body):
        return None
    if "_" in s and not _underscore_ok(s):
        return None
    clean = s.replace("_", "")
    try:
        if lower.startswith("0x"):
            if "p" not in lower:
                return None
            value = float.fromhex(clean)
        else:
            if not all(c in "0123456789.eE+-" for c in clean):
                return None
            value = float(clean)
    except (ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def _trim_zero_decimal(s: str) -> str:
    """cast's trimZeroDecimal: "1.00" is "1", "1.50" stays."""
    found_zero = False
    for i in range(len(s), 0, -1):
        c = s[i - 1]
        if c == ".":
            if found_zero:
                return s[: i - 1]
        elif c == "0":
            found_zero = True
        else:
            return s
    return s


def _float_to_int(f: float) -> int:
    """Go's int64(f) on amd64: truncation; NaN and out of range give the minimum."""
    if math.isnan(f) or math.isinf(f) or not INT64_MIN <= f < 2.0**63:
        return INT64_MIN
    return int(f)


def to_int64(value: Any) -> int:
    """cast.ToInt64 (errors give 0, as Sprig ignores them)."""
    if value is None or value is MISSING:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return int(_wrap64(int(value)))
    if isinstance(value, float):
        return _float_to_int(value)
    if isinstance(value, str):
        parsed = parse_int(_trim_zero_decimal(value))
        return 0 if parsed is None else parsed
    return 0


def to_float64(value: Any) -> float:
    """cast.ToFloat64 (errors give 0)."""
    if value is None or value is MISSING:
        return 0.0
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int):
        return float(value)
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        parsed = parse_float(value)
        return 0.0 if parsed is None else parsed
    return 0.0


def _atoi(s: str) -> int:
    """strconv.Atoi, errors giving 0: decimal only, an optional sign."""
    body = s[1:] if s[:1] in ("+", "-") else s
    if not body or not body.isascii() or not body.isdigit():
        return 0
    value = int(s)
    return value if INT64_MIN <= value <= INT64_MAX else 0


def _to_decimal(value: Any) -> Int64:
    text = strval(value) if not isinstance(value, str) else value
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body or any(c not in "01234567" for c in body):
        return Int64(0)
    parsed = int(text, 8)
    return Int64(parsed if INT64_MIN <= parsed <= INT64_MAX else 0)


def _split(sep: str, orig: str) -> GoMap:
    parts = _go_split(orig, sep, -1)
    return GoMap({f"_{i}": v for i, v in enumerate(parts)}, "map[string]string")


def _splitn(sep: str, n: int, orig: str) -> GoMap:
    parts = _go_split(orig, sep, n)
    return GoMap({f"_{i}": v for i, v in enumerate(parts)}, "map[string]string")


def _go_split(s: str, sep: str, n: int) -> list[str]:
    """strings.SplitN (n < 0: all); an empty separator splits after each character."""
    if n == 0:
        return []
    if sep == "":
        chars = list(s)
        if n > 0 and len(chars) > n:
            chars = [*chars[: n - 1], "".join(chars[n - 1 :])]
        return chars
    _cap_items(s.count(sep) + 1 if n < 0 else min(n, s.count(sep) + 1), "split")
    return s.split(sep) if n < 0 else s.split(sep, n - 1)


def _split_list(sep: str, orig: str) -> GoSlice:
    return GoSlice(_go_split(orig, sep, -1), "[]string")


def _to_strings(value: Any) -> GoSlice:
    return _strslice(value)


def _until_step(start: int, stop: int, step: int) -> GoSlice:
    if stop < start:
        if step >= 0:
            return GoSlice((), "[]int")
        count = (start - stop - 1) // -step + 1
    else:
        if step <= 0:
            return GoSlice((), "[]int")
        count = (stop - start - 1) // step + 1 if stop > start else 0
    _cap_items(count, "untilStep")
    return GoSlice(range(start, stop, step), "[]int")


def _until(count: int) -> GoSlice:
    return _until_step(0, count, -1 if count < 0 else 1)


def _seq(*params: int) -> str:
    def text(values: Sequence[int]) -> str:
        return " ".join(str(v) for v in values)

    if len(params) == 1:
        end, start = params[0], 1
        inc = -1 if end < start else 1
        return text(_until_step(start, end + inc, inc))
    if len(params) == 2:
        start, end = params
        step = -1 if end < start else 1
        return text(_until_step(start, end + step, step))
    if len(params) == 3:
        start, step, end = params
        inc = 1
        if end < start:
            inc = -1
            if step > 0:
                return ""
        return text(_until_step(start, end + inc, step))
    return ""


def _seq_capped(*params: int) -> str:
    out = _seq(*params)
    _cap(len(out), "seq")
    return out


# ---------------------------------------------------------------------------- numbers


def _add(*values: Any) -> Int64:
    return _wrap64(sum(to_int64(v) for v in values))


def _mul(first: Any, *values: Any) -> Int64:
    total = to_int64(first)
    for v in values:
        total = _wrap64(total * to_int64(v))
    return _wrap64(total)


def _go_div(a: int, b: int) -> int:
    if b == 0:
        raise FuncError("runtime error: integer divide by zero")
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _div(a: Any, b: Any) -> Int64:
    return _wrap64(_go_div(to_int64(a), to_int64(b)))


def _mod(a: Any, b: Any) -> Int64:
    x, y = to_int64(a), to_int64(b)
    return _wrap64(x - _go_div(x, y) * y)


def _decimal(value: Any) -> Decimal:
    f = to_float64(value)
    if math.isnan(f) or math.isinf(f):
        raise FuncError(f"Cannot create a Decimal from {format_value(f)}")
    return Decimal(repr(f))


_DECIMAL: Final = Context(prec=1000)


def _decimal_op(first: Any, rest: Sequence[Any], op: str) -> float:
    """Sprig's execDecimalOp: shopspring/decimal on the shortest decimal of each float."""
    acc = _decimal(first)
    for value in rest:
        d = _decimal(value)
        if op == "+":
            acc = _DECIMAL.add(acc, d)
        elif op == "-":
            acc = _DECIMAL.subtract(acc, d)
        elif op == "*":
            acc = _DECIMAL.multiply(acc, d)
        else:
            if d == 0:
                raise FuncError("decimal division by 0")
            acc = _DECIMAL.divide(acc, d).quantize(
                Decimal("1e-16"), rounding=ROUND_HALF_UP, context=_DECIMAL
            )
    try:
        return float(acc)
    except (OverflowError, InvalidOperation):  # pragma: no cover - float() saturates
        return math.inf


def _max(first: Any, *rest: Any) -> Int64:
    return Int64(max([to_int64(first), *(to_int64(v) for v in rest)]))


def _min(first: Any, *rest: Any) -> Int64:
    return Int64(min([to_int64(first), *(to_int64(v) for v in rest)]))


def _go_max(a: float, b: float) -> float:
    """math.Max: NaN wins, +0 beats -0."""
    if math.isnan(a) or math.isnan(b):
        return math.nan
    if a == b == 0:
        return a if math.copysign(1, a) > 0 else b
    return max(a, b)


def _go_min(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b):
        return math.nan
    if a == b == 0:
        return a if math.copysign(1, a) < 0 else b
    return min(a, b)


def _maxf(first: Any, *rest: Any) -> float:
    acc = to_float64(first)
    for v in rest:
        acc = _go_max(acc, to_float64(v))
    return acc


def _minf(first: Any, *rest: Any) -> float:
    acc = to_float64(first)
    for v in rest:
        acc = _go_min(acc, to_float64(v))
    return acc


def _fdiv(a: float, b: float) -> float:
    """Go's float division: by zero it is an infinity or NaN, not an error."""
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _round(value: Any, places: int, *round_on: float) -> float:
    """Sprig's round: half (or ``round_on``) away from the floor, at ``places`` decimals."""
    on = round_on[0] if round_on else 0.5
    val = to_float64(value)
    try:
        pow_ = math.pow(10, places)
    except OverflowError:
        pow_ = math.inf
    digit = pow_ * val
    if math.isfinite(digit):
        frac = math.modf(digit)[0]  # Go's Modf returns (int, frac); Python's (frac, int)
        digit = float(math.ceil(digit)) if frac >= on else float(math.floor(digit))
    return _fdiv(digit, pow_)


def _ceil(value: Any) -> float:
    f = to_float64(value)
    return float(math.ceil(f)) if math.isfinite(f) else f


def _floor(value: Any) -> float:
    f = to_float64(value)
    return float(math.floor(f)) if math.isfinite(f) else f


def _rand_int(low: int, high: int) -> int:
    if high - low <= 0:
        raise FuncError("invalid argument to Intn")
    return random.randrange(low, high)  # math/rand, as in Sprig


# ------------------------------------------------------------------------------ lists


def _kind_name(value: Any) -> str:
    """reflect.TypeOf(value).Kind() for Sprig's error messages; a nil panics in Go."""
    if value is None or value is MISSING:
        raise FuncError("runtime error: invalid memory address or nil pointer dereference")
    return go_kind(value)


def _as_list(value: Any, what: str) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    raise FuncError(what.format(_kind_name(value)))


def _list(*values: Any) -> GoSlice:
    return GoSlice(values)


def _push(items: Any, value: Any) -> GoSlice:
    return GoSlice([*_as_list(items, "Cannot push on type {}"), value])


def _prepend(items: Any, value: Any) -> GoSlice:
    return GoSlice([value, *_as_list(items, "Cannot prepend on type {}")])


def _chunk(size: int, items: Any) -> GoSlice:
    values = _as_list(items, "Cannot chunk type {}")
    if size <= 0:
        raise FuncError("runtime error: makeslice: len out of range")
    _cap_items(len(values) // size + 1, "chunk")
    chunks = [GoSlice(values[i : i + size]) for i in range(0, len(values), size)]
    return GoSlice(chunks, "[][]interface {}")


def _last(items: Any) -> Any:
    values = _as_list(items, "Cannot find last on type {}")
    return values[-1] if values else None


def _first(items: Any) -> Any:
    values = _as_list(items, "Cannot find first on type {}")
    return values[0] if values else None


def _rest(items: Any) -> GoSlice:
    values = _as_list(items, "Cannot find rest on type {}")
    return GoSlice(values[1:], nil=not values)


def _initial(items: Any) -> GoSlice:
    values = _as_list(items, "Cannot find initial on type {}")
    return GoSlice(values[:-1], nil=not values)


def _sort_alpha(items: Any) -> GoSlice:
    if isinstance(items, list | tuple):
        return GoSlice(sorted(_strslice(items), key=_bytes), "[]string")
    return GoSlice([strval(items)], "[]string")


def _reverse(items: Any) -> GoSlice:
    return GoSlice(reversed(_as_list(items, "Cannot find reverse on type {}")))


def _compact(items: Any) -> GoSlice:
    return GoSlice(v for v in _as_list(items, "Cannot compact on type {}") if not empty(v))


def _in_list(haystack: Iterable[Any], needle: Any) -> bool:
    return any(deep_equal(needle, h) for h in haystack)  # each comparison spends its steps


def _uniq(items: Any) -> GoSlice:
    out: list[Any] = []
    for v in _as_list(items, "Cannot find uniq on type {}"):
        if not _in_list(out, v):
            out.append(v)
    return GoSlice(out)


def _without(items: Any, *omit: Any) -> GoSlice:
    values = _as_list(items, "Cannot find without on type {}")
    return GoSlice(v for v in values if not _in_list(omit, v))


def _has(needle: Any, haystack: Any) -> bool:
    if haystack is None or haystack is MISSING:
        return False
    return _in_list(_as_list(haystack, "Cannot find has on type {}"), needle)


def _slice(items: Any, *indices: Any) -> Any:
    if not isinstance(items, list | tuple):
        raise FuncError(f"list should be type of slice or array but {_kind_name(items)}")
    if not items:
        return None
    start = to_int64(indices[0]) if indices else 0
    end = to_int64(indices[1]) if len(indices) > 1 else len(items)
    if not 0 <= start <= end <= len(items):
        raise FuncError("reflect: slice index out of range")
    return GoSlice(items[start:end], go_type(items))


def _concat(*lists: Any) -> GoSlice:
    out: list[Any] = []
    for items in lists:
        if not isinstance(items, list | tuple):
            raise FuncError(f"Cannot concat type {_kind_name(items)} as list")
        out += items
    _cap_items(len(out), "concat")
    return GoSlice(out, nil=not out)


def _join(sep: str, items: Any) -> str:
    parts = _strslice(items)
    _cap(sum(len(_bytes(p)) for p in parts) + len(_bytes(sep)) * len(parts), "join")
    return sep.join(parts)


# ------------------------------------------------------------------------------ dicts


def _dict(*values: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in range(0, len(values), 2):
        out[strval(values[i])] = values[i + 1] if i + 1 < len(values) else ""
    return out


def _get(d: dict[str, Any] | None, key: str) -> Any:
    return d.get(key, "") if d else ""


def _set(d: dict[str, Any] | None, key: str, value: Any) -> dict[str, Any]:
    if d is None:
        raise FuncError("assignment to entry in nil map")
    d[key] = value
    return d


def _unset(d: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    if d is not None:
        d.pop(key, None)
    return d


def _has_key(d: dict[str, Any] | None, key: str) -> bool:
    return d is not None and key in d


def _pluck(key: str, *dicts: dict[str, Any] | None) -> GoSlice:
    return GoSlice(d[key] for d in dicts if d and key in d)


def _keys(*dicts: dict[str, Any] | None) -> GoSlice:
    return GoSlice((k for d in dicts if d for k in sorted(d, key=_bytes)), "[]string")


def _pick(d: dict[str, Any] | None, *keys: str) -> dict[str, Any]:
    return {k: d[k] for k in keys if d and k in d}


def _omit(d: dict[str, Any] | None, *keys: str) -> dict[str, Any]:
    return {k: v for k, v in (d or {}).items() if k not in keys}


def _values(d: dict[str, Any] | None) -> GoSlice:
    d = d or {}
    return GoSlice(d[k] for k in sorted(d, key=_bytes))


def _is_map(value: Any) -> bool:
    return isinstance(value, Mapping)


def _mergo(dst: dict[Any, Any], src: Mapping[Any, Any], overwrite: bool, depth: int = 0) -> None:
    """mergo.Merge / MergeWithOverwrite of two maps: a key missing or empty in ``dst`` takes
    ``src``'s value (any key with ``overwrite``); maps in both are merged, in place."""
    if depth > MAX_NESTING:
        raise TooDeep
    spend(1 + len(src))
    for key in list(src):
        value = src[key]
        there = dst.get(key, MISSING) if key in dst else MISSING
        if value is None or value is MISSING or getattr(value, "nil", False):
            if overwrite:
                dst[key] = None if value is MISSING else value
            continue
        if _is_map(value) and _is_map(there) and isinstance(there, dict):
            _mergo(there, value, overwrite, depth + 1)
        elif isinstance(value, list | tuple) and overwrite:
            dst[key] = value
        if there is not MISSING and not empty(there):
            if isinstance(value, list | tuple):
                continue
            if _is_map(value) and _is_map(there):
                continue
        if overwrite or there is MISSING or empty(there):
            dst[key] = value


def _merge(dst: dict[str, Any] | None, *srcs: dict[str, Any] | None) -> Any:
    target: dict[str, Any] = {} if dst is None else dst
    for src in srcs:
        _mergo(target, src or {}, overwrite=False)
    return target


def _merge_overwrite(dst: dict[str, Any] | None, *srcs: dict[str, Any] | None) -> Any:
    target: dict[str, Any] = {} if dst is None else dst
    for src in srcs:
        _mergo(target, src or {}, overwrite=True)
    return target


def deep_copy(value: Any, depth: int = 0) -> Any:
    """copystructure.Copy: maps and slices copied all the way down, types kept."""
    if depth > MAX_NESTING:
        raise TooDeep
    spend()
    if isinstance(value, GoMap):
        return GoMap({k: deep_copy(v, depth + 1) for k, v in value.items()}, value.go_type)
    if isinstance(value, dict):
        return {k: deep_copy(v, depth + 1) for k, v in value.items()}
    if isinstance(value, GoSlice):
        return GoSlice((deep_copy(v, depth + 1) for v in value), value.go_type, value.nil)
    if isinstance(value, list):
        return [deep_copy(v, depth + 1) for v in value]
    return value


def _dig(*args: Any) -> Any:
    if len(args) < 3:
        raise FuncError("dig needs at least three arguments")
    d, default = args[-1], args[-2]
    if not isinstance(d, dict) or isinstance(d, GoMap):
        raise FuncError(f"interface conversion: interface {{}} is {go_type(d)}, not {MAP}")
    keys = args[:-2]
    for k in keys:
        if not isinstance(k, str):
            raise FuncError(f"interface conversion: interface {{}} is {go_type(k)}, not string")
    for i, k in enumerate(keys):
        if k not in d:
            return default
        step = d[k]
        if i == len(keys) - 1:
            return step
        if not isinstance(step, dict) or isinstance(step, GoMap):
            raise FuncError(f"interface conversion: interface {{}} is {go_type(step)}, not {MAP}")
        d = step
    return default  # pragma: no cover - the loop returns


# --------------------------------------------------------------------------- defaults


def _default(default: Any, *given: Any) -> Any:
    if not given or empty(given[0]):
        return default
    return given[0]


def _coalesce(*values: Any) -> Any:
    return next((v for v in values if not empty(v)), None)


def _all(*values: Any) -> bool:
    return all(not empty(v) for v in values)


def _any(*values: Any) -> bool:
    return any(not empty(v) for v in values)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def _json_number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"json: cannot unmarshal number {text} into Go value of type float64")
    return value


def _from_json_value(value: Any) -> Any:
    """JSON as Go decodes it into interface{}: numbers are float64, objects maps."""
    if isinstance(value, dict):
        return {k: _from_json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json_value(v) for v in value]
    return value


def _must_from_json(s: str) -> Any:
    try:
        parsed = json.loads(
            s, parse_int=_json_number, parse_float=_json_number, parse_constant=_reject_constant
        )
    except (ValueError, RecursionError) as exc:
        raise FuncError(str(exc)) from None
    return _from_json_value(parsed)


def _from_json(s: str) -> Any:
    try:
        return _must_from_json(s)
    except FuncError:
        return None


def _to_json(value: Any) -> str:
    try:
        return to_json(value)
    except FuncError:
        return ""


def _to_pretty_json(value: Any) -> str:
    try:
        return to_json(value, indent="  ")
    except FuncError:
        return ""


def _ternary(if_true: Any, if_false: Any, condition: bool) -> Any:
    return if_true if condition else if_false


# ------------------------------------------------------------------------- reflection


def _type_of(value: Any) -> str:
    return go_type(value)


def _type_is(target: str, value: Any) -> bool:
    return target == go_type(value)


def _type_is_like(target: str, value: Any) -> bool:
    t = go_type(value)
    return target == t or "*" + target == t


def _kind_of(value: Any) -> str:
    return go_kind(value)


def _kind_is(target: str, value: Any) -> bool:
    return target == go_kind(value)


# --------------------------------------------------------------------------- semver


@dataclass(frozen=True, eq=False)
class SemverValue:
    """A ``semver.Version`` (Masterminds semver): what ``IncPatch`` and its siblings return.
    Its methods are those of Go's value receivers; a ``*semver.Version`` has the others."""

    v: _semver.Version
    go_type: ClassVar[str] = "semver.Version"

    def _prefix(self) -> str:
        return "v" if self.v.original.startswith("v") else ""

    def _next(self, major: int, minor: int, patch: int, pre: str = "", meta: str = "") -> Any:
        text = f"{major}.{minor}.{patch}" + (f"-{pre}" if pre else "")
        text += f"+{meta}" if meta else ""
        from conveyor.shared import semver as _semver

        return SemverValue(_semver.Version(major, minor, patch, pre, meta, self._prefix() + text))

    def Major(self) -> Uint64:  # Go method names, as templates spell them
        return Uint64(self.v.major)

    def Minor(self) -> Uint64:
        return Uint64(self.v.minor)

    def Patch(self) -> Uint64:
        return Uint64(self.v.patch)

    def Prerelease(self) -> str:
        return self.v.prerelease

    def Metadata(self) -> str:
        return self.v.metadata

    def String(self) -> str:
        return str(self.v)

    def IncPatch(self) -> Any:
        v = self.v
        return self._next(v.major, v.minor, v.patch if v.prerelease else v.patch + 1)

    def IncMinor(self) -> Any:
        return self._next(self.v.major, self.v.minor + 1, 0)

    def IncMajor(self) -> Any:
        return self._next(self.v.major + 1, 0, 0)

    def SetPrerelease(self, pre: Any) -> Any:
        if not isinstance(pre, str):
            raise FuncError(f"wrong type for value; expected string; got {go_type(pre)}")
        from conveyor.shared import semver as _semver

        try:
            _semver.new_version(f"0.0.0-{pre}") if pre else None
        except _semver.SemverError:
            raise FuncError(_semver.ERR_INVALID_PRERELEASE) from None
        v = self.v
        return self._next(v.major, v.minor, v.patch, pre, v.metadata)

    def SetMetadata(self, meta: Any) -> Any:
        if not isinstance(meta, str):
            raise FuncError(f"wrong type for value; expected string; got {go_type(meta)}")
        from conveyor.shared import semver as _semver

        try:
            _semver.new_version(f"0.0.0+{meta}") if meta else None
        except _semver.SemverError:
            raise FuncError(_semver.ERR_INVALID_METADATA) from None
        v = self.v
        return self._next(v.major, v.minor, v.patch, v.prerelease, meta)

    def go_json(self) -> str:
        return str(self.v)


@dataclass(frozen=True, eq=False)
class SemverVersion(SemverValue):
    """A ``*semver.Version`` (what ``semver`` returns), with the pointer-receiver methods."""

    go_type: ClassVar[str] = "*semver.Version"

    @staticmethod
    def _other(other: Any) -> _semver.Version:
        if not isinstance(other, SemverVersion):
            raise FuncError(f"wrong type for value; expected *semver.Version; got {go_type(other)}")
        return other.v

    def Original(self) -> str:
        return self.v.original

    def Compare(self, other: Any) -> int:
        return self.v.compare(self._other(other))

    def LessThan(self, other: Any) -> bool:
        return self.v.compare(self._other(other)) < 0

    def GreaterThan(self, other: Any) -> bool:
        return self.v.compare(self._other(other)) > 0

    def Equal(self, other: Any) -> bool:
        return self.v.compare(self._other(other)) == 0

    def LessThanEqual(self, other: Any) -> bool:
        return self.v.compare(self._other(other)) <= 0

    def GreaterThanEqual(self, other: Any) -> bool:
        return self.v.compare(self._other(other)) >= 0


def _semver_parse(version: str) -> SemverVersion:
    from conveyor.shared import semver as _semver

    try:
        return SemverVersion(_semver.new_version(version))
    except _semver.SemverError as exc:
        raise FuncError(str(exc)) from None


def _semver_compare(constraint: str, version: str) -> bool:
    from conveyor.shared import semver as _semver

    try:
        constraints = _semver.cached_constraint(constraint)
        v = _semver.new_version(version)
    except _semver.SemverError as exc:
        raise FuncError(str(exc)) from None
    return constraints.check(v)


def _fail(message: str) -> str:
    raise FuncError(message)


# ------------------------------------------------------------------------------ regex


def _compile(pattern: str, must: bool) -> GoRegexp:
    from conveyor.shared.goregexp import GoRegexpError

    try:
        return _cached_regexp(pattern)
    except GoRegexpError as exc:
        if must:  # regexp.MustCompile's panic
            raise FuncError(f"regexp: Compile({go_quote(pattern, '`')}): {exc}") from None
        raise FuncError(f"error parsing regexp: {exc}") from None


_REGEXPS: dict[str, GoRegexp] = {}


def _cached_regexp(pattern: str) -> GoRegexp:
    found = _REGEXPS.get(pattern)
    if found is None:
        from conveyor.shared.goregexp import GoRegexp

        found = GoRegexp(pattern)
        if len(_REGEXPS) > 256:
            _REGEXPS.clear()
        _REGEXPS[pattern] = found
    return found


def _matches(rx: GoRegexp, b: bytes, n: int) -> list[list[tuple[int, int]]]:
    """Go's allMatches: leftmost-first matches, an empty match right after a match skipped."""
    if n < 0:
        n = len(b) + 1
    out: list[list[tuple[int, int]]] = []
    pos, prev_end = 0, -1
    while len(out) < n and pos <= len(b):
        spans = rx.spans(b, pos)
        if spans is None:
            break
        start, end = spans[0]
        accept = True
        if end == pos:
            if start == prev_end:
                accept = False
            pos += _rune_width(b, pos) or 1
        else:
            pos = end
        prev_end = end
        spend()
        if accept:
            out.append(spans)
            _cap_items(len(out), "regexFindAll")
    return out


def _rune_width(b: bytes, pos: int) -> int:
    """utf8.DecodeRune's width at ``pos`` (0 at the end, 1 for an invalid byte)."""
    if pos >= len(b):
        return 0
    lead = b[pos]
    width = 1
    if lead >= 0xC0:
        width = 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
    try:
        b[pos : pos + width].decode("utf-8")
    except UnicodeDecodeError:
        return 1
    return width


def _regex_match(pattern: str, s: str) -> bool:
    try:
        return _compile(pattern, False).spans(_bytes(s), 0) is not None
    except FuncError:
        return False


def _must_regex_match(pattern: str, s: str) -> bool:
    return _compile(pattern, False).spans(_bytes(s), 0) is not None


def _find_all(pattern: str, s: str, n: int, must: bool) -> GoSlice:
    rx = _compile(pattern, must)
    b = _bytes(s)
    found = [_text(b[m[0][0] : m[0][1]]) for m in _matches(rx, b, n)] if n != 0 else []
    return GoSlice(found, "[]string", nil=not found)


def _find(pattern: str, s: str, must: bool) -> str:
    b = _bytes(s)
    spans = _compile(pattern, must).spans(b, 0)
    return "" if spans is None else _text(b[spans[0][0] : spans[0][1]])


def _replace_all(pattern: str, s: str, repl: str, literal: bool, must: bool) -> str:
    rx = _compile(pattern, must)
    b = _bytes(s)
    from conveyor.shared.goregexp import Template

    template = None if literal else Template(repl, rx.names)
    out = bytearray()
    last, search = 0, 0
    while search <= len(b):
        spans = rx.spans(b, search)
        if spans is None:
            break
        start, end = spans[0]
        spend()
        out += b[last:start]
        if end > last or start == 0:
            out += _bytes(repl) if template is None else _bytes(template.expand(b, spans))
        _cap(len(out), "regexReplaceAll")
        last = end
        width = _rune_width(b, search)
        if search + width > end:
            search += width
        elif search + 1 > end:
            search += 1
        else:
            search = end
    out += b[last:]
    return _text(bytes(out))


def _regex_split(pattern: str, s: str, n: int, must: bool) -> GoSlice:
    rx = _compile(pattern, must)
    if n == 0:
        return GoSlice((), "[]string", nil=True)
    if pattern and not s:
        return GoSlice([""], "[]string")
    b = _bytes(s)
    parts: list[str] = []
    beg = end = 0
    for m in _matches(rx, b, n):
        if n > 0 and len(parts) == n - 1:
            break
        end = m[0][0]
        if m[0][1] != 0:
            parts.append(_text(b[beg:end]))
        beg = m[0][1]
    if end != len(b):
        parts.append(_text(b[beg:]))
    return GoSlice(parts, "[]string")


def _quote_meta(s: str) -> str:
    return "".join("\\" + c if c in "\\.+*?()|[]{}^$" else c for c in s)


# ------------------------------------------------------------------------------ times

_UNITS: Final = {
    **{"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000},
    **{"s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000},
}


def parse_go_duration(s: str) -> int | None:
    """time.ParseDuration, in nanoseconds; None for an error."""
    negative = False
    if s[:1] in ("+", "-"):
        negative, s = s[0] == "-", s[1:]
    if s == "0":
        return 0
    if not s:
        return None
    total = Decimal(0)
    while s:
        i = 0
        while i < len(s) and (s[i].isdigit() or s[i] == "."):
            i += 1
        number = s[:i]
        if not number or number == "." or number.count(".") > 1:
            return None
        j = i
        while j < len(s) and not (s[j].isdigit() or s[j] == "."):
            j += 1
        unit = _UNITS.get(s[i:j])
        if unit is None:
            return None
        total += Decimal(number if number[0] != "." else "0" + number) * unit
        s = s[j:]
    value = int(total)
    if value > INT64_MAX + (1 if negative else 0):
        return None
    return -value if negative else value


def _parse_int10(s: str) -> int:
    """strconv.ParseInt(s, 10, 64) as Sprig uses it: 0 on a syntax error, the limit on
    overflow."""
    body = s[1:] if s[:1] in ("+", "-") else s
    if not body or not body.isascii() or not body.isdigit():
        return 0
    return max(INT64_MIN, min(INT64_MAX, int(s)))


def _duration(value: Any) -> str:
    if isinstance(value, str):
        n = _parse_int10(value)
    elif isinstance(value, Int64):
        n = int(value)
    else:
        n = 0
    return go_duration(_wrap64(n * 1_000_000_000))


def _duration_round(value: Any) -> str:
    if isinstance(value, str):
        d = parse_go_duration(value) or 0
    elif isinstance(value, Int64):
        d = int(value)
    else:
        d = 0
    u = abs(d)
    for size, unit in (
        (3_600_000_000_000 * 24 * 365, "y"),
        (3_600_000_000_000 * 24 * 30, "mo"),
        (3_600_000_000_000 * 24, "d"),
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
    ):
        if u > size:
            return f"{u // size}{unit}"
    return "0s"


# --------------------------------------------------------------------------- the map


def _f(impl: Callable[..., Any], *params: str, variadic: str | None = None) -> Func:
    return Func(impl, tuple(params), variadic)


STR, INT, FLT, BOOL, ANY = "string", "int", "float64", "bool", "any"

FUNCTIONS: Final[dict[str, Func]] = {
    "hello": _f(lambda: "Hello!"),
    # strings
    "abbrev": _f(_abbrev, INT, STR),
    "abbrevboth": _f(_abbrevboth, INT, INT, STR),
    "trunc": _f(_trunc, INT, STR),
    "trim": _f(_trim_space, STR),
    "upper": _f(_go_upper, STR),
    "lower": _f(_go_lower, STR),
    "title": _f(_title, STR),
    "untitle": _f(_untitle, STR),
    "substr": _f(_substr, INT, INT, STR),
    "repeat": _f(_repeat, INT, STR),
    "trimall": _f(lambda cut, s: s.strip(cut) if cut else s, STR, STR),
    "trimAll": _f(lambda cut, s: s.strip(cut) if cut else s, STR, STR),
    "trimSuffix": _f(lambda suffix, s: s.removesuffix(suffix), STR, STR),
    "trimPrefix": _f(lambda prefix, s: s.removeprefix(prefix), STR, STR),
    "nospace": _f(_nospace, STR),
    "initials": _f(_initials, STR),
    "swapcase": _f(_swapcase, STR),
    "shuffle": _f(_shuffle, STR),
    "snakecase": _f(lambda s: _camel_to_lower(s, "_"), STR),
    "camelcase": _f(_pascal, STR),
    "kebabcase": _f(lambda s: _camel_to_lower(s, "-"), STR),
    "wrap": _f(_wrap, INT, STR),
    "wrapWith": _f(_wrap_with, INT, STR, STR),
    "contains": _f(lambda sub, s: sub in s, STR, STR),
    "hasPrefix": _f(lambda prefix, s: s.startswith(prefix), STR, STR),
    "hasSuffix": _f(lambda suffix, s: s.endswith(suffix), STR, STR),
    "quote": _f(_quote, variadic=ANY),
    "squote": _f(_squote, variadic=ANY),
    "cat": _f(_cat_values, variadic=ANY),
    "indent": _f(_indent, INT, STR),
    "nindent": _f(_nindent, INT, STR),
    "replace": _f(_replace, STR, STR, STR),
    "plural": _f(_plural, STR, STR, INT),
    "sha1sum": _f(lambda s: hashlib.sha1(_bytes(s)).hexdigest(), STR),
    "sha256sum": _f(lambda s: hashlib.sha256(_bytes(s)).hexdigest(), STR),
    "sha512sum": _f(lambda s: hashlib.sha512(_bytes(s)).hexdigest(), STR),
    "adler32sum": _f(_adler32, STR),
    "toString": _f(strval, ANY),
    # conversions
    "atoi": _f(_atoi, STR),
    "int64": _f(lambda v: Int64(to_int64(v)), ANY),
    "int": _f(lambda v: int(to_int64(v)), ANY),
    "float64": _f(to_float64, ANY),
    "seq": _f(_seq_capped, variadic=INT),
    "toDecimal": _f(_to_decimal, ANY),
    "split": _f(_split, STR, STR),
    "splitList": _f(_split_list, STR, STR),
    "splitn": _f(_splitn, STR, INT, STR),
    "toStrings": _f(_to_strings, ANY),
    "until": _f(_until, INT),
    "untilStep": _f(_until_step, INT, INT, INT),
    # arithmetic
    "add1": _f(lambda v: _wrap64(to_int64(v) + 1), ANY),
    "add": _f(_add, variadic=ANY),
    "sub": _f(lambda a, b: _wrap64(to_int64(a) - to_int64(b)), ANY, ANY),
    "div": _f(_div, ANY, ANY),
    "mod": _f(_mod, ANY, ANY),
    "mul": _f(_mul, ANY, variadic=ANY),
    "randInt": _f(_rand_int, INT, INT),
    "add1f": _f(lambda v: _decimal_op(v, [1], "+"), ANY),
    "addf": _f(lambda *vs: _decimal_op(0.0, vs, "+"), variadic=ANY),
    "subf": _f(lambda a, *vs: _decimal_op(a, vs, "-"), ANY, variadic=ANY),
    "divf": _f(lambda a, *vs: _decimal_op(a, vs, "/"), ANY, variadic=ANY),
    "mulf": _f(lambda a, *vs: _decimal_op(a, vs, "*"), ANY, variadic=ANY),
    "biggest": _f(_max, ANY, variadic=ANY),
    "max": _f(_max, ANY, variadic=ANY),
    "min": _f(_min, ANY, variadic=ANY),
    "maxf": _f(_maxf, ANY, variadic=ANY),
    "minf": _f(_minf, ANY, variadic=ANY),
    "ceil": _f(_ceil, ANY),
    "floor": _f(_floor, ANY),
    "round": _f(_round, ANY, INT, variadic=FLT),
    "join": _f(_join, STR, ANY),
    "sortAlpha": _f(_sort_alpha, ANY),
    # defaults
    "default": _f(_default, ANY, variadic=ANY),
    "empty": _f(empty, ANY),
    "coalesce": _f(_coalesce, variadic=ANY),
    "all": _f(_all, variadic=ANY),
    "any": _f(_any, variadic=ANY),
    "compact": _f(_compact, ANY),
    "mustCompact": _f(_compact, ANY),
    "fromJson": _f(_from_json, STR),
    "toJson": _f(_to_json, ANY),
    "toPrettyJson": _f(_to_pretty_json, ANY),
    "toRawJson": _f(lambda v: to_json(v, escape_html=False), ANY),
    "mustFromJson": _f(_must_from_json, STR),
    "mustToJson": _f(to_json, ANY),
    "mustToPrettyJson": _f(lambda v: to_json(v, indent="  "), ANY),
    "mustToRawJson": _f(lambda v: to_json(v, escape_html=False), ANY),
    "ternary": _f(_ternary, ANY, ANY, BOOL),
    "deepCopy": _f(deep_copy, ANY),
    "mustDeepCopy": _f(deep_copy, ANY),
    # reflection
    "typeOf": _f(_type_of, ANY),
    "typeIs": _f(_type_is, STR, ANY),
    "typeIsLike": _f(_type_is_like, STR, ANY),
    "kindOf": _f(_kind_of, ANY),
    "kindIs": _f(_kind_is, STR, ANY),
    "deepEqual": _f(deep_equal, ANY, ANY),
    # paths (Linux: filepath is path)
    "base": _f(_path_base, STR),
    "dir": _f(_path_dir, STR),
    "clean": _f(_path_clean, STR),
    "ext": _f(_path_ext, STR),
    "isAbs": _f(_path_is_abs, STR),
    "osBase": _f(_path_base, STR),
    "osClean": _f(_path_clean, STR),
    "osDir": _f(_path_dir, STR),
    "osExt": _f(_path_ext, STR),
    "osIsAbs": _f(_path_is_abs, STR),
    # encodings
    "b64enc": _f(_b64enc, STR),
    "b64dec": _f(_b64dec, STR),
    "b32enc": _f(_b32enc, STR),
    "b32dec": _f(_b32dec, STR),
    # lists and dicts
    "tuple": _f(_list, variadic=ANY),
    "list": _f(_list, variadic=ANY),
    "dict": _f(_dict, variadic=ANY),
    "get": _f(_get, MAP, STR),
    "set": _f(_set, MAP, STR, ANY),
    "unset": _f(_unset, MAP, STR),
    "hasKey": _f(_has_key, MAP, STR),
    "pluck": _f(_pluck, STR, variadic=MAP),
    "keys": _f(_keys, variadic=MAP),
    "pick": _f(_pick, MAP, variadic=STR),
    "omit": _f(_omit, MAP, variadic=STR),
    "merge": _f(_merge, MAP, variadic=MAP),
    "mergeOverwrite": _f(_merge_overwrite, MAP, variadic=MAP),
    "mustMerge": _f(_merge, MAP, variadic=MAP),
    "mustMergeOverwrite": _f(_merge_overwrite, MAP, variadic=MAP),
    "values": _f(_values, MAP),
    "append": _f(_push, ANY, ANY),
    "push": _f(_push, ANY, ANY),
    "mustAppend": _f(_push, ANY, ANY),
    "mustPush": _f(_push, ANY, ANY),
    "prepend": _f(_prepend, ANY, ANY),
    "mustPrepend": _f(_prepend, ANY, ANY),
    "first": _f(_first, ANY),
    "mustFirst": _f(_first, ANY),
    "rest": _f(_rest, ANY),
    "mustRest": _f(_rest, ANY),
    "last": _f(_last, ANY),
    "mustLast": _f(_last, ANY),
    "initial": _f(_initial, ANY),
    "mustInitial": _f(_initial, ANY),
    "reverse": _f(_reverse, ANY),
    "mustReverse": _f(_reverse, ANY),
    "uniq": _f(_uniq, ANY),
    "mustUniq": _f(_uniq, ANY),
    "without": _f(_without, ANY, variadic=ANY),
    "mustWithout": _f(_without, ANY, variadic=ANY),
    "has": _f(_has, ANY, ANY),
    "mustHas": _f(_has, ANY, ANY),
    "slice": _f(_slice, ANY, variadic=ANY),
    "mustSlice": _f(_slice, ANY, variadic=ANY),
    "concat": _f(_concat, variadic=ANY),
    "dig": _f(_dig, variadic=ANY),
    "chunk": _f(_chunk, INT, ANY),
    "mustChunk": _f(_chunk, INT, ANY),
    # semver
    "semver": _f(_semver_parse, STR),
    "semverCompare": _f(_semver_compare, STR, STR),
    # flow control
    "fail": _f(_fail, STR),
    # regular expressions (Go's regexp, on RE2)
    "regexMatch": _f(_regex_match, STR, STR),
    "mustRegexMatch": _f(_must_regex_match, STR, STR),
    "regexFindAll": _f(lambda p, s, n: _find_all(p, s, n, True), STR, STR, INT),
    "mustRegexFindAll": _f(lambda p, s, n: _find_all(p, s, n, False), STR, STR, INT),
    "regexFind": _f(lambda p, s: _find(p, s, True), STR, STR),
    "mustRegexFind": _f(lambda p, s: _find(p, s, False), STR, STR),
    "regexReplaceAll": _f(lambda p, s, r: _replace_all(p, s, r, False, True), STR, STR, STR),
    "mustRegexReplaceAll": _f(lambda p, s, r: _replace_all(p, s, r, False, False), STR, STR, STR),
    "regexReplaceAllLiteral": _f(lambda p, s, r: _replace_all(p, s, r, True, True), STR, STR, STR),
    "mustRegexReplaceAllLiteral": _f(
        lambda p, s, r: _replace_all(p, s, r, True, False), STR, STR, STR
    ),
    "regexSplit": _f(lambda p, s, n: _regex_split(p, s, n, True), STR, STR, INT),
    "mustRegexSplit": _f(lambda p, s, n: _regex_split(p, s, n, False), STR, STR, INT),
    "regexQuoteMeta": _f(_quote_meta, STR),
    # durations
    "duration": _f(_duration, ANY),
    "durationRound": _f(_duration_round, ANY),
}

assert not UNSUPPORTED & FUNCTIONS.keys()
