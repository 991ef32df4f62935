"""Go's ``strconv.Quote``: how Go's ``%q`` prints a string, and so how Flux's messages quote
values (Masterminds' errors, Sprig's ``quote``, a template's ``printf "%q"``)."""

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
