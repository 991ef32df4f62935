"""How Go writes values into Flux's messages: ``strconv.Quote`` (Go's ``%q``: Masterminds'
errors, Sprig's ``quote``, a template's ``printf "%q"``) and ``time.Duration.String``
(``Reconciliation finished in 1.2s, next run in 10m0s``, Sprig's ``duration``)."""

from __future__ import annotations


def go_quote(text: str, quote: str = '"', ascii_only: bool = False) -> str:
    """strconv.Quote (QuoteRune for quote="'"; the ASCII-only variants for ``%+q``)."""
    escapes = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r"}
    escapes |= {"\t": "\\t", "\v": "\\v", "\\": "\\\\", quote: "\\" + quote}
    out = [quote]
    for ch in text:
        code = ord(ch)
        if ch in escapes:
            out.append(escapes[ch])
        elif ch.isprintable() and not 0xD800 <= code < 0xE000 and (code < 0x80 or not ascii_only):
            out.append(ch)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append(quote)
    return "".join(out)


def go_duration(ns: int) -> str:
    """time.Duration.String."""
    if ns == 0:
        return "0s"
    negative = ns < 0
    u = -ns if negative else ns
    if u < 1_000_000_000:
        for unit, size in (("ns", 1), ("µs", 1_000), ("ms", 1_000_000)):
            if u < size * 1000:
                whole, frac = divmod(u, size)
                digits = f"{frac:0{len(str(size)) - 1}d}".rstrip("0") if size > 1 else ""
                text = f"{whole}" + (f".{digits}" if digits else "") + unit
                return ("-" if negative else "") + text
    seconds, frac = divmod(u, 1_000_000_000)
    digits = f"{frac:09d}".rstrip("0")
    text = f"{seconds % 60}" + (f".{digits}" if digits else "") + "s"
    minutes = seconds // 60
    if minutes:
        text = f"{minutes % 60}m" + text
        hours = minutes // 60
        if hours:
            text = f"{hours}h" + text
    return ("-" if negative else "") + text
