"""JSON read as Go's ``encoding/json`` reads it into a struct, which is how Flux's receiver
checks a payload: whether a body decodes is what decides if Flux accepts it.

- ``decode_first``: ``json.NewDecoder(r.Body).Decode(&v)``, one value, what follows is not read;
- ``unmarshal``: ``json.Unmarshal(b, &v)``, exactly one value;
- ``check``: the type errors Go reports when that value fills a struct of a given shape: a
  string field takes a string or null, a struct an object or null, a slice an array or null,
  a ``time.Time`` an RFC 3339 string or null; field names match exactly, else ignoring case;
  unknown fields are skipped.

Numbers are read as Go reads them into ``any`` (a double: out of range is an error), ``NaN``
and ``Infinity`` are no JSON, invalid UTF-8 becomes U+FFFD.

And ``marshal``: a value written as Go's ``json.Marshal`` writes it (what Flux's notifiers
send and sign).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# A field of a shape: STRING, TIME, ANY, [shape] (a slice), {name: shape} (a struct).
STRING = "string"
TIME = "time"
ANY = "any"

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})\Z"
)


class GoJSONError(ValueError):
    pass


def _number(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise GoJSONError(f"cannot unmarshal number {text[:40]} into Go value of type float64")
    return value


def _no_constant(text: str) -> Any:
    raise GoJSONError(f"invalid character {text[:1]!r} looking for beginning of value")


_DECODER = json.JSONDecoder(parse_float=_number, parse_int=_number, parse_constant=_no_constant)
_SPACE = re.compile(r"[ \t\n\r]*")


def _text(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")


def decode_first(body: bytes) -> Any:
    """The first JSON value of ``body`` (what follows it is not read, as Go's Decoder)."""
    text = _text(body)
    start = _SPACE.match(text)
    try:
        value, _ = _DECODER.raw_decode(text, start.end() if start else 0)
    except (ValueError, RecursionError) as exc:
        raise GoJSONError(str(exc)) from None
    return value


def unmarshal(body: bytes) -> Any:
    """``body`` as exactly one JSON value (whitespace around it allowed)."""
    text = _text(body)
    try:
        return _DECODER.decode(text)
    except (ValueError, RecursionError) as exc:
        raise GoJSONError(str(exc)) from None


def _field(key: str, shape: dict[str, Any]) -> Any:
    if key in shape:
        return shape[key]
    folded = key.casefold()
    return next((s for name, s in shape.items() if name.casefold() == folded), None)


def check(value: Any, shape: Any, path: str = "") -> None:
    """Raise GoJSONError where Go could not store ``value`` in a field of ``shape``."""
    if value is None or shape == ANY:
        return
    if shape == STRING:
        if not isinstance(value, str):
            raise GoJSONError(f"cannot unmarshal {_kind(value)} into {path or 'value'} (string)")
    elif shape == TIME:
        if not isinstance(value, str) or not _RFC3339.match(value):
            raise GoJSONError(f"{path}: not an RFC 3339 time")
    elif isinstance(shape, list):
        if not isinstance(value, list):
            raise GoJSONError(f"cannot unmarshal {_kind(value)} into {path} (array)")
        for item in value:
            check(item, shape[0], f"{path}[]")
    elif isinstance(shape, dict):
        if not isinstance(value, dict):
            raise GoJSONError(f"cannot unmarshal {_kind(value)} into {path or 'value'} (object)")
        for key, item in value.items():
            inner = _field(key, shape)
            if inner is not None:
                check(item, inner, f"{path}.{key}" if path else key)


def field(value: Any, name: str) -> Any:
    """The value Go stores in struct field ``name`` from JSON object ``value`` (exact name
    first, else the name ignoring case; the last such key wins), None when absent."""
    if not isinstance(value, dict):
        return None
    if name in value:
        return value[name]
    folded = name.casefold()
    found = [v for k, v in value.items() if k.casefold() == folded]
    return found[-1] if found else None


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028",
                 "\u2029": "\\u2029"}
_ESCAPED = re.compile("[<>&\u2028\u2029]|[\ud800-\udfff]")


def marshal(value: Any) -> bytes:
    """``value`` as Go's ``json.Marshal`` writes it (what Flux sends, and signs): compact, a
    struct's fields in the order given (dicts keep theirs: build maps sorted, as Go sorts map
    keys), ``<``, ``>``, ``&``, U+2028 and U+2029 escaped, a lone surrogate as U+FFFD."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = _ESCAPED.sub(lambda m: _HTML_ESCAPES.get(m.group(), "\ufffd"), text)
    return text.encode("utf-8")
