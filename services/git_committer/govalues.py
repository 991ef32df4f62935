"""Go values as ``text/template`` and Sprig see them: types, truth, order, printing, JSON.

A commit message template runs over Python values that stand for Go values:

* ``str`` is a Go ``string``, ``bool`` a ``bool``, ``int`` an ``int``, :class:`Int64` an
  ``int64`` (what Sprig's arithmetic returns), ``float`` a ``float64``, ``None`` nil;
* ``list`` is a ``[]interface {}`` and ``dict`` a ``map[string]interface {}``;
  :class:`GoSlice` and :class:`GoMap` are the same with another Go type (``[]string``,
  ``map[string]string``, ``update.ObjectChanges``): a Sprig function that takes a
  ``map[string]interface {}`` refuses a ``map[string]string``, as in Go;
* a frozen dataclass with a ``go_type`` class attribute is a Go struct: its upper-case fields
  are its exported fields, its upper-case methods its methods, the fields named in
  ``go_embedded`` are embedded structs whose fields are promoted (``.Kind`` of an
  ``ObjectIdentifier``), ``go_json_names`` the JSON names of its fields (``(name, omitempty)``),
  and a ``go_json()`` method, when present, is its ``MarshalJSON``.

:data:`MISSING` is Go's invalid ``reflect.Value``: a missing map key, or the nil a pipeline
produced. It prints ``<no value>``.

What prints and orders here does so as Go's ``fmt`` and ``internal/fmtsort`` do: map keys in
sorted order (numbers, strings, then structs field by field), ``%v`` of a float in the
shortest form, ``[a b]`` for lists, ``map[k:v]`` for maps, ``{a b}`` for structs, a
``String()`` method when the value has one.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields, is_dataclass
from decimal import Decimal
from typing import Any, Final

from conveyor.shared.gostrconv import go_quote

__all__ = [
    "MAX_NESTING",
    "MAX_OUTPUT_BYTES",
    "MAX_VALUE_BYTES",
    "MISSING",
    "ArityError",
    "Budget",
    "Func",
    "FuncError",
    "GoMap",
    "GoSlice",
    "Int64",
    "OverBudget",
    "TooDeep",
    "budget",
    "cost",
    "deep_equal",
    "empty",
    "format_value",
    "go_kind",
    "go_quote",
    "go_type",
    "is_struct",
    "lookup_field",
    "sorted_keys",
    "spend",
    "sprintf",
    "to_json",
    "truth",
]

MAX_OUTPUT_BYTES: Final = 64 * 1024
MAX_VALUE_BYTES: Final = 16 * MAX_OUTPUT_BYTES  # a string a function or method may return
MAX_NESTING: Final = 32  # control structures and parentheses inside each other; printed data

SCALARS: Final = (str, bytes, bytearray, bool, int, float, complex)
COLLECTIONS: Final = (list, tuple, set, frozenset)


class Missing:
    """Go's invalid reflect.Value: a missing map key, or a nil the pipeline produced."""

    def __repr__(self) -> str:
        return "<no value>"


MISSING: Final = Missing()
ABSENT: Final = object()  # no such field


class FuncError(Exception):
    """A function rejected its arguments (or panicked, in Go); the caller adds the position."""


class ArityError(FuncError):
    pass


class TooDeep(Exception):
    pass


class OverBudget(Exception):
    """The render's step budget is spent."""


class Budget:
    """The steps a render may take: template nodes, range iterations, and the elements the
    functions build, print, copy or compare (each helper here spends as it walks)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left = limit

    def spend(self, n: int = 1) -> None:
        self.left -= n
        if self.left < 0:
            raise OverBudget


_BUDGET: ContextVar[Budget | None] = ContextVar("template_budget", default=None)


def spend(n: int = 1) -> None:
    """Spend ``n`` steps of the current render's budget (none outside a render)."""
    budget = _BUDGET.get()
    if budget is not None:
        budget.spend(n)


@contextmanager
def budget(limit: int) -> Iterator[Budget]:
    current = Budget(limit)
    token = _BUDGET.set(current)
    try:
        yield current
    finally:
        _BUDGET.reset(token)


def cost(value: Any) -> int:
    """What holding a function's result costs: its elements, or a step per 256 bytes."""
    if isinstance(value, str | bytes | bytearray):
        return 1 + len(value) // 256
    if isinstance(value, Sized) and not isinstance(value, type):
        return 1 + len(value)
    return 1


class Int64(int):
    """A Go ``int64``: prints like an ``int``, but a parameter of type ``int`` refuses it."""

    __slots__ = ()


class GoSlice(list[Any]):
    """A Go slice of a given type; ``nil`` is a nil slice (JSON ``null``, not ``[]``)."""

    def __init__(
        self, items: Iterable[Any] = (), go_type: str = "[]interface {}", nil: bool = False
    ) -> None:
        super().__init__(items)
        self.go_type: str = go_type
        self.nil: bool = nil and not self


class GoMap(dict[Any, Any]):
    """A Go map of a given type (``map[string]string``, ``update.ObjectChanges``)."""

    def __init__(
        self,
        items: Mapping[Any, Any] | Iterable[tuple[Any, Any]] = (),
        go_type: str = "map[string]interface {}",
    ) -> None:
        super().__init__(items)
        self.go_type: str = go_type


@dataclass(frozen=True, slots=True)
class Func:
    """A template function: its Go parameter types (``string``, ``int``, ``int64``,
    ``float64``, ``bool``, ``any``, ``map[string]interface {}``), the type of its variadic
    tail if it has one, and the implementation, called with the converted arguments.
    ``raw`` functions (Go's builtins) take the argument list as it is."""

    impl: Callable[..., Any]
    params: tuple[str, ...] = ()
    variadic: str | None = None
    raw: bool = False


def is_struct(value: Any) -> bool:
    return is_dataclass(value) and not isinstance(value, type)


def go_type(value: Any) -> str:
    """The Go type name of a value, as ``%T`` prints it."""
    if value is None or value is MISSING:
        return "<nil>"
    named = getattr(value, "go_type", None)
    if isinstance(named, str):
        return named
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Int64):
        return "int64"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes | bytearray):
        return "[]uint8"
    if isinstance(value, Mapping):
        return "map[string]interface {}"
    if isinstance(value, COLLECTIONS):
        return "[]interface {}"
    return type(value).__name__


def go_kind(value: Any) -> str:
    """reflect.Kind's name (Sprig's ``kindOf``)."""
    if value is None or value is MISSING:
        return "invalid"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Int64):
        return "int64"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, (*COLLECTIONS, bytes, bytearray)):
        return "slice"
    if go_type(value).startswith("*"):
        return "ptr"
    if callable(value):
        return "func"
    return "struct"


def truth(value: Any) -> bool:
    """Go's isTrue: false, 0, nil and empty strings, lists and maps are false."""
    if value is None or value is MISSING:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | complex):
        return value != 0
    if isinstance(value, Sized):
        return len(value) > 0
    return True


def empty(value: Any) -> bool:
    """Sprig's ``empty``: a zero value (structs are never empty, nil pointers are)."""
    return not truth(value)


def sort_key(key: Any) -> tuple[Any, ...]:
    """Go's fmtsort order for map keys: numbers, strings, then structs field by field."""
    if isinstance(key, bool):
        return (0, int(key))
    if isinstance(key, int | float):
        return (1, key)
    if isinstance(key, str):
        return (2, key.encode("utf-8", "surrogatepass"))  # Go compares bytes
    if isinstance(key, tuple):
        return (3, tuple(sort_key(k) for k in key))
    if is_struct(key):
        return (3, tuple(sort_key(getattr(key, f.name)) for f in fields(key)))
    return (4, str(key))


def sorted_keys(mapping: Mapping[Any, Any]) -> list[Any]:
    return sorted(mapping, key=sort_key)


def lookup_field(value: Any, name: str) -> Any:
    """The field or method ``name`` of a struct, promoted from its embedded structs as Go
    promotes them; :data:`ABSENT` when it has none."""
    found = getattr(value, name, ABSENT)
    if found is not ABSENT:
        return found
    for embedded in getattr(type(value), "go_embedded", ()):
        inner = getattr(value, embedded, None)
        if inner is not None:
            found = lookup_field(inner, name)
            if found is not ABSENT:
                return found
    return ABSENT


# -------------------------------------------------------------------------------- printing


def shortest(value: float) -> tuple[bool, str, int]:
    """(negative, the shortest digits that round-trip, decimal exponent of the first digit)."""
    sign, digit_tuple, exponent = Decimal(repr(value)).as_tuple()
    assert isinstance(exponent, int)
    digits = list(digit_tuple)
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exponent += 1
    return bool(sign), "".join(map(str, digits)), len(digits) + exponent - 1


def fixed(digits: str, x: int) -> str:
    """Digits with the first at decimal exponent ``x``, in plain notation (strconv's 'f')."""
    if x < 0:
        return "0." + "0" * (-x - 1) + digits
    if len(digits) <= x + 1:
        return digits + "0" * (x + 1 - len(digits))
    return digits[: x + 1] + "." + digits[x + 1 :]


def go_float(value: float) -> str:
    """Go's %v for a float64: the shortest digits, in %e form for exponents < -4 or >= 6."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    negative, digits, x = shortest(value)
    if x < -4 or x >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        out = f"{mantissa}e{'-' if x < 0 else '+'}{abs(x):02d}"
    else:
        out = fixed(digits, x)
    return ("-" if negative else "") + out


def stringer(value: Any) -> str | None:
    """The result of a Go-style ``String()`` method, if the object has one."""
    if isinstance(value, (*SCALARS, *COLLECTIONS, Mapping)):
        return None
    method = lookup_field(value, "String")
    if method is not ABSENT and callable(method) and not isinstance(method, type):
        try:
            result = method()
        except FuncError:
            raise
        except Exception as exc:
            raise FuncError(f"error calling String: {exc}") from exc
        if isinstance(result, str):
            return result
    return None


def format_value(value: Any, depth: int = 0) -> str:
    """Go's %v (fmt.Sprint) for one value."""
    if depth > MAX_NESTING:
        raise TooDeep
    spend(cost(value) if isinstance(value, str) else 1)
    if value is None or value is MISSING:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return "[" + " ".join(str(b) for b in value) + "]"
    text = stringer(value)
    if text is not None:
        return text
    if isinstance(value, Mapping):
        items = (
            f"{format_value(k, depth + 1)}:{format_value(value[k], depth + 1)}"
            for k in sorted_keys(value)
        )
        return "map[" + " ".join(items) + "]"
    if isinstance(value, set | frozenset):
        inner = (format_value(v, depth + 1) for v in sorted(value, key=sort_key))
        return "[" + " ".join(inner) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(format_value(v, depth + 1) for v in value) + "]"
    if is_struct(value):
        values = (getattr(value, f.name) for f in fields(value))
        return "{" + " ".join(format_value(v, depth + 1) for v in values) + "}"
    if getattr(type(value), "__str__", None) is not object.__str__:
        return str(value)
    attrs = getattr(value, "__dict__", None)
    if isinstance(attrs, dict):
        public = (v for k, v in attrs.items() if k[:1].isupper())
        return "{" + " ".join(format_value(v, depth + 1) for v in public) + "}"
    return str(value)


def _pad(text: str, width: int | None, flags: str, numeric: bool) -> str:
    """Go's padding: '-' pads on the right, '0' with zeros (after a number's sign)."""
    if width is None or len(text) >= width:
        return text
    if "-" in flags:
        return text.ljust(width)
    if "0" in flags:
        sign = text[0] if numeric and text[:1] in ("-", "+") else ""
        return sign + text[len(sign) :].rjust(width - len(sign), "0")
    return text.rjust(width)


def _go_int(value: int, verb: str, flags: str, prec: int | None) -> str:
    base = {"d": "d", "v": "d", "x": "x", "X": "X", "o": "o", "O": "o", "b": "b"}[verb]
    digits = format(abs(value), base)
    if prec is not None:  # a precision is the minimum number of digits; %.0d of 0 is empty
        digits = "" if prec == 0 and value == 0 else digits.zfill(prec)
    sign = "-" if value < 0 else ("+" if "+" in flags and verb == "d" else "")
    return sign + ("0o" if verb == "O" else "") + digits


def _go_hex_float(value: float, upper: bool) -> str:
    """%x of a float64: hexadecimal mantissa, binary exponent of at least two digits."""
    if math.isinf(value) or math.isnan(value):
        return go_float(value)
    mantissa, exponent = float.hex(abs(value))[2:].split("p")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    e = int(exponent)
    text = f"0x{mantissa}p{'-' if e < 0 else '+'}{abs(e):02d}"
    text = ("-" if math.copysign(1.0, value) < 0 else "") + text
    return text.upper() if upper else text


def _format_verb(
    verb: str,
    arg: Any,
    flags: str,
    width: int | None,
    prec: int | None,
    nested: bool = False,
    depth: int = 0,
) -> str:
    """One printf operand. Like Go, lists and maps take the verb element by element."""
    if depth > MAX_NESTING:
        raise TooDeep
    spend()
    if verb == "T":
        return _pad(go_type(arg), width, flags, False)
    if verb in "vsqxX":
        text = stringer(arg)
        if text is not None:
            arg = text

    def each(item: Any) -> str:
        return _format_verb(verb, item, flags, width, prec, True, depth + 1)

    if isinstance(arg, set | frozenset):
        arg = sorted(arg, key=sort_key)
    if isinstance(arg, list | tuple):
        return "[" + " ".join(each(a) for a in arg) + "]"
    if isinstance(arg, Mapping):
        return "map[" + " ".join(f"{each(k)}:{each(arg[k])}" for k in sorted_keys(arg)) + "]"
    if arg is None or arg is MISSING:
        if verb == "v" or nested:
            return _pad("<nil>", width, flags, False)
        return f"%!{verb}(<nil>)"
    is_int = isinstance(arg, int) and not isinstance(arg, bool)
    numeric = is_int or isinstance(arg, float)
    if verb == "v":
        if is_int:
            text = _go_int(arg, "v", flags, prec)
        elif isinstance(arg, float):
            text = go_float(arg) if prec is None else format(arg, f".{prec}g")
        elif isinstance(arg, str):
            text = arg if prec is None else arg[:prec]
        else:
            text = format_value(arg, depth)
    elif verb == "s" and isinstance(arg, str | bytes | bytearray):
        text = arg if isinstance(arg, str) else bytes(arg).decode("utf-8", "replace")
        text = text if prec is None else text[:prec]
    elif verb == "q" and isinstance(arg, str):
        text = go_quote(arg if prec is None else arg[:prec], '"', "+" in flags)
    elif verb == "q" and is_int:
        text = go_quote(chr(arg) if 0 <= arg <= 0x10FFFF else "\ufffd", "'", "+" in flags)
    elif verb == "c" and is_int:
        text = chr(arg) if 0 <= arg <= 0x10FFFF else "\ufffd"
    elif verb in "dxXoOb" and is_int:
        text = _go_int(arg, verb, flags, prec)
    elif verb == "U" and is_int:
        text = f"U+{arg:04X}" if arg >= 0 else f"U+{arg & 0xFFFFFFFFFFFFFFFF:04X}"
    elif verb in "gG" and isinstance(arg, float):
        text = go_float(arg) if prec is None else format(arg, f".{prec}{verb}")
        text = text.upper() if verb == "G" else text
    elif verb == "t" and isinstance(arg, bool):
        text = "true" if arg else "false"
    elif verb in "xX" and isinstance(arg, str | bytes | bytearray):
        data = arg.encode("utf-8") if isinstance(arg, str) else bytes(arg)
        text = data.hex() if verb == "x" else data.hex().upper()
    elif verb in "xX" and isinstance(arg, float):
        text = _go_hex_float(arg, verb == "X")
    elif verb in "fFeE" and isinstance(arg, float):
        if math.isinf(arg) or math.isnan(arg):
            text = go_float(arg)
        else:
            text = format(arg, f"{'+' if '+' in flags else ''}.{6 if prec is None else prec}{verb}")
    else:  # Go: %!verb(type=value), the value formatted with %v and the same flags
        inner = _format_verb("v", arg, flags, width, prec, True, depth + 1)
        return f"%!{verb}({go_type(arg)}={inner})"
    return _pad(text, width, flags, numeric)


def sprintf(fmt: str, args: Sequence[Any]) -> str:
    """Go's fmt.Sprintf for the verbs commit messages use (%v %s %q %d %x %X %c %t %f %e %T)."""
    out: list[str] = []
    used = 0
    i, n = 0, len(fmt)
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        flags = ""
        while i < n and fmt[i] in "+-# 0":
            flags += fmt[i]
            i += 1
        width: int | None = None
        prec: int | None = None
        start = i
        while i < n and fmt[i].isdigit():
            i += 1
        if i > start:
            width = int(fmt[start:i])
        if i < n and fmt[i] == ".":
            i += 1
            start = i
            while i < n and fmt[i].isdigit():
                i += 1
            prec = int(fmt[start:i]) if i > start else 0
        if max(width or 0, prec or 0) > MAX_OUTPUT_BYTES:
            raise FuncError(f"width or precision in {fmt!r} exceeds {MAX_OUTPUT_BYTES}")
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if used >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        out.append(_format_verb(verb, args[used], flags, width, prec))
        used += 1
    if used < len(args):
        extra = ", ".join(
            "<nil>" if a is None else f"{go_type(a)}={format_value(a)}" for a in args[used:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


# ----------------------------------------------------------------------------- comparing


def deep_equal(a: Any, b: Any, depth: int = 0) -> bool:
    """reflect.DeepEqual: the same Go type, then the same contents."""
    if depth > MAX_NESTING:
        raise TooDeep
    spend()
    if a is None or a is MISSING or b is None or b is MISSING:
        return (a is None or a is MISSING) and (b is None or b is MISSING)
    if go_type(a) != go_type(b):
        return False
    if isinstance(a, Mapping):
        if getattr(a, "nil", False) != getattr(b, "nil", False) or len(a) != len(b):
            return False
        return all(k in b and deep_equal(v, b[k], depth + 1) for k, v in a.items())
    if isinstance(a, list | tuple):
        if getattr(a, "nil", False) != getattr(b, "nil", False) or len(a) != len(b):
            return False
        return all(deep_equal(x, y, depth + 1) for x, y in zip(a, b, strict=True))
    if is_struct(a):
        return all(deep_equal(getattr(a, f.name), getattr(b, f.name), depth + 1) for f in fields(a))
    return bool(a == b)


# ---------------------------------------------------------------------------------- JSON


def _json_string(text: str, escape_html: bool) -> str:
    """encoding/json's string: <, >, & escaped unless told not to, U+2028/9 always."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif code < 0x20:
            short = {"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
            out.append(short.get(ch, f"\\u{code:04x}"))
        elif (escape_html and ch in "<>&") or code in (0x2028, 0x2029):
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code < 0xE000:
            out.append("\\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _json_float(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        raise FuncError(f"json: unsupported value: {go_float(value)}")
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    negative, digits, x = shortest(value)
    if abs(value) < 1e-6 or abs(value) >= 1e21:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        text = f"{mantissa}e{'-' if x < 0 else '+'}{abs(x):02d}"
        if text[-4:-1] == "e-0":  # Go cleans e-09 up to e-9
            text = text[:-2] + text[-1]
    else:
        text = fixed(digits, x)
    return ("-" if negative else "") + text


def _struct_members(value: Any) -> list[tuple[str, Any]]:
    """A struct's JSON members, embedded structs inlined, as encoding/json lists them."""
    names: Mapping[str, tuple[str, bool]] = getattr(type(value), "go_json_names", {})
    embedded = getattr(type(value), "go_embedded", ())
    members: list[tuple[str, Any]] = []
    for f in fields(value):
        item = getattr(value, f.name)
        if f.name in embedded and f.name not in names and is_struct(item):
            members += _struct_members(item)
            continue
        if not f.name[:1].isupper():
            continue
        key, omitempty = names.get(f.name, (f.name, False))
        if omitempty and empty(item):
            continue
        members.append((key, item))
    return members


def to_json(value: Any, indent: str | None = None, escape_html: bool = True) -> str:
    """encoding/json's Marshal (MarshalIndent with ``indent``); FuncError as its errors."""

    def encode(item: Any, depth: int, prefix: str) -> str:
        if depth > MAX_NESTING:
            raise TooDeep
        spend(cost(item) if isinstance(item, str) else 1)
        inner = prefix + (indent or "")
        sep, colon = ("," + "\n" + inner, ": ") if indent is not None else (",", ":")
        open_, close_ = ("\n" + inner, "\n" + prefix) if indent is not None else ("", "")
        if item is None or item is MISSING:
            return "null"
        custom = getattr(item, "go_json", None)
        if callable(custom) and not isinstance(custom, type):
            return encode(custom(), depth + 1, prefix)
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, int):
            return str(int(item))
        if isinstance(item, float):
            return _json_float(item)
        if isinstance(item, str):
            return _json_string(item, escape_html)
        if isinstance(item, bytes | bytearray):
            return '"' + base64.b64encode(bytes(item)).decode() + '"'
        if isinstance(item, Mapping):
            if getattr(item, "nil", False):
                return "null"
            keys: list[tuple[str, Any]] = []
            for k in item:
                if isinstance(k, str):
                    keys.append((k, k))
                elif isinstance(k, int) and not isinstance(k, bool):
                    keys.append((str(int(k)), k))
                else:
                    raise FuncError(f"json: unsupported type: {go_type(item)}")
            keys.sort(key=lambda p: p[0].encode("utf-8", "surrogatepass"))
            if not keys:
                return "{}"
            body = sep.join(
                _json_string(s, escape_html) + colon + encode(item[k], depth + 1, inner)
                for s, k in keys
            )
            return "{" + open_ + body + close_ + "}"
        if isinstance(item, list | tuple):
            if getattr(item, "nil", False):
                return "null"
            if not item:
                return "[]"
            body = sep.join(encode(v, depth + 1, inner) for v in item)
            return "[" + open_ + body + close_ + "]"
        if is_struct(item):
            members = _struct_members(item)
            if not members:
                return "{}"
            body = sep.join(
                _json_string(k, escape_html) + colon + encode(v, depth + 1, inner)
                for k, v in members
            )
            return "{" + open_ + body + close_ + "}"
        raise FuncError(f"json: unsupported type: {go_type(item)}")

    return encode(value, 0, "")
