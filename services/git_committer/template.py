"""Render Flux commit message templates: Go's ``text/template`` with Sprig's functions.

An ImageUpdateAutomation's ``spec.git.commit.messageTemplate`` is a Go text/template that
image-automation-controller parses with Sprig's hermetic function map. This module is a small,
pure and bounded interpreter for that language, with Go's semantics where they show in the
output:

* text, ``{{ pipeline }}`` actions, comments ``{{/* … */}}`` and the trim markers ``{{-`` and
  ``-}}`` (they remove *all* adjacent space, tab, CR and newline, exactly as Go does);
* ``.`` (dot), fields ``.A.B`` (map keys, struct fields and methods), variables ``$``,
  ``$x``, ``$x.A``; ``{{ $x := pipeline }}`` and ``{{ $x = pipeline }}``; ``(pipeline).Field``;
* ``if``/``else if``/``else``, ``with``/``else with``/``else``, ``range`` (lists, maps in
  sorted key order, ints; ``$v :=``, ``$i, $v :=``; ``else``; ``break``/``continue``);
* literals: strings ``"…"`` and ````…````, numbers, chars ``'a'``, ``true``/``false``, ``nil``;
* pipelines ``a | f b`` (the value flows in as the last argument);
* Go's built-in functions ``and or not len index print printf println eq ne lt le gt ge html
  js urlquery`` and Sprig's (:mod:`.sprig`; its ``slice`` replaces Go's, as in Flux).

Arguments are converted as Go converts them: a literal ``3`` is an ``int`` where a function
wants one and an ``int`` or ``float64`` where it takes ``interface {}``; a value of another
type is an error (``wrong type for value; expected int; got int64``), a missing one too
(``invalid value; expected string``). The values are those of :mod:`.govalues`.

Data: a Mapping is a Go map (a missing key prints ``<no value>``); any other object is a Go
struct: ``.Name`` reads the attribute (or one promoted from an embedded struct), and a
callable attribute is a Go method, called with the command's arguments. As in Go only
exported names, those starting with an upper-case letter, are reachable on objects, which
keeps Python's own methods (``.mro``, ``.unlink``, …) out of a template's reach. An unknown
field on an object is an error naming the field; a struct may name fields that its API
removed (``go_removed``), and the error is then that field's own message.

Not supported (an error when the template is parsed, naming it, never a silent
difference): ``define``/``template``/``block``, the function ``call``, the Sprig functions of
:data:`.sprig.UNSUPPORTED`, complex numbers.

Every problem is a :class:`~conveyor.shared.errors.InvalidSpec` whose message names the line
and column of the offending action. Execution is bounded: template size, rendered size,
nesting depth and the number of evaluation steps (nodes, range iterations, and what the
functions build, print, copy and compare) are capped, so a hostile template cannot exhaust
the worker.
"""

from __future__ import annotations

import enum
import inspect
import math
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence, Sized
from dataclasses import dataclass
from typing import Any, Final, NoReturn

from conveyor.services.git_committer import sprig
from conveyor.services.git_committer.govalues import (
    ABSENT,
    COLLECTIONS,
    MAX_NESTING,
    MAX_OUTPUT_BYTES,
    MAX_VALUE_BYTES,
    MISSING,
    SCALARS,
    ArityError,
    Func,
    FuncError,
    Int64,
    OverBudget,
    TooDeep,
    budget,
    cost,
    format_value,
    go_type,
    lookup_field,
    sort_key,
    sorted_keys,
    sprintf,
    truth,
)
from conveyor.shared.errors import InvalidSpec

__all__ = [
    "MAX_NESTING",
    "MAX_OUTPUT_BYTES",
    "MAX_STEPS",
    "MAX_TEMPLATE_BYTES",
    "render",
    "validate",
]

MAX_TEMPLATE_BYTES: Final = 64 * 1024
MAX_STEPS: Final = 200_000  # nodes walked, range iterations, elements functions handle

_SPACE: Final = " \t\r\n"  # Go's space characters for trim markers and inside actions
_KEYWORDS: Final = frozenset(
    {"block", "break", "continue", "define", "else", "end", "if", "range", "template", "with"}
)


def render(template: str, data: Any) -> str:
    """Render ``template`` with ``data`` as dot; raise InvalidSpec for any template problem."""
    nodes = _parse(template)
    return _Exec(template, data).run(nodes)


def validate(template: str) -> None:
    """Parse ``template`` without executing it; raise InvalidSpec if it cannot be parsed."""
    _parse(template)


# --------------------------------------------------------------------------------- errors


def _where(src: str, pos: int) -> str:
    line = src.count("\n", 0, pos) + 1
    column = pos - (src.rfind("\n", 0, pos) + 1) + 1
    return f"line {line}, column {column}"


def _fail(src: str, pos: int, detail: str) -> NoReturn:
    raise InvalidSpec(f"commit message template: {_where(src, pos)}: {detail}")


# ---------------------------------------------------------------------------------- lexer


class _K(enum.Enum):
    TEXT = "text"
    LEFT = "{{"
    RIGHT = "}}"
    SPACE = "space"
    FIELD = "field"
    VARIABLE = "variable"
    IDENT = "identifier"
    KEYWORD = "keyword"
    STRING = "string"
    NUMBER = "number"
    BOOL = "bool"
    NIL = "nil"
    DOT = "."
    PIPE = "|"
    LPAREN = "("
    RPAREN = ")"
    DECLARE = ":="
    ASSIGN = "="
    COMMA = ","
    EOF = "EOF"


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: _K
    val: str  # source text (for TEXT: the text after trimming; for FIELD: the bare name)
    pos: int
    value: Any = None  # decoded literal for STRING and NUMBER


def _is_word_char(c: str) -> bool:
    return c == "_" or c.isalnum()


class _Lexer:
    def __init__(self, src: str) -> None:
        self.src = src
        self.toks: list[_Tok] = []

    def fail(self, pos: int, detail: str) -> NoReturn:
        _fail(self.src, pos, detail)

    def run(self) -> list[_Tok]:
        src, n, i = self.src, len(self.src), 0
        while True:
            j = src.find("{{", i)
            if j < 0:
                if i < n:
                    self.toks.append(_Tok(_K.TEXT, src[i:], i))
                break
            trim_left = src.startswith("-", j + 2) and j + 3 < n and src[j + 3] in _SPACE
            text = src[i:j].rstrip(_SPACE) if trim_left else src[i:j]
            if text:
                self.toks.append(_Tok(_K.TEXT, text, i))
            k = j + (4 if trim_left else 2)
            if src.startswith("/*", k):
                k, trim_right = self.comment(j, k)
            else:
                self.toks.append(_Tok(_K.LEFT, "{{", j))
                k, trim_right = self.action(j, k)
            if trim_right:
                while k < n and src[k] in _SPACE:
                    k += 1
            i = k
        self.toks.append(_Tok(_K.EOF, "EOF", n))
        return self.toks

    def right_delim(self, k: int) -> tuple[int, bool] | None:
        """Where the text resumes and whether to trim it, if a right delimiter starts at k."""
        src = self.src
        if k < len(src) and src[k] in _SPACE and src.startswith("-}}", k + 1):
            return k + 4, True
        if src.startswith("}}", k):
            return k + 2, False
        return None

    def comment(self, start: int, k: int) -> tuple[int, bool]:
        end = self.src.find("*/", k + 2)
        if end < 0:
            self.fail(start, "unclosed comment")
        delim = self.right_delim(end + 2)
        if delim is None:
            self.fail(start, "comment ends before closing delimiter")
        return delim

    def at_terminator(self, k: int) -> bool:
        src = self.src
        return k >= len(src) or src[k] in _SPACE or src[k] in ".,|:()}"

    def word_end(self, k: int) -> int:
        src, n = self.src, len(self.src)
        while k < n and _is_word_char(src[k]):
            k += 1
        if not self.at_terminator(k):
            self.fail(k, f"bad character {src[k]!r}")
        return k

    def action(self, start: int, k: int) -> tuple[int, bool]:
        src, n, toks = self.src, len(self.src), self.toks
        parens = 0
        while True:
            if k >= n:
                self.fail(start, "unclosed action")
            delim = self.right_delim(k)
            if delim is not None:
                if parens:
                    self.fail(start, "unclosed left paren")
                toks.append(_Tok(_K.RIGHT, "}}", k))
                return delim
            c = src[k]
            if c in _SPACE:
                j = k
                while j < n and src[j] in _SPACE and not src.startswith("-}}", j + 1):
                    j += 1
                if j == k:  # the space belongs to a right trim marker
                    j += 1
                toks.append(_Tok(_K.SPACE, src[k:j], k))
                k = j
            elif c == "=":
                toks.append(_Tok(_K.ASSIGN, "=", k))
                k += 1
            elif c == ":":
                if not src.startswith(":=", k):
                    self.fail(k, "expected :=")
                toks.append(_Tok(_K.DECLARE, ":=", k))
                k += 2
            elif c == "|":
                toks.append(_Tok(_K.PIPE, "|", k))
                k += 1
            elif c == ",":
                toks.append(_Tok(_K.COMMA, ",", k))
                k += 1
            elif c == "(":
                parens += 1
                toks.append(_Tok(_K.LPAREN, "(", k))
                k += 1
            elif c == ")":
                parens -= 1
                if parens < 0:
                    self.fail(k, "unexpected right paren")
                toks.append(_Tok(_K.RPAREN, ")", k))
                k += 1
            elif c in "\"`'":
                k = self.quoted(k, c)
            elif c == "$":
                j = self.word_end(k + 1)
                toks.append(_Tok(_K.VARIABLE, src[k:j], k))
                k = j
            elif c == "." and not (k + 1 < n and src[k + 1].isdigit()):
                if k + 1 < n and _is_word_char(src[k + 1]):
                    j = self.word_end(k + 1)
                    toks.append(_Tok(_K.FIELD, src[k + 1 : j], k))
                    k = j
                else:
                    toks.append(_Tok(_K.DOT, ".", k))
                    k += 1
            elif c in "+-." or c.isdigit():
                k = self.number(k)
            elif _is_word_char(c):
                j = self.word_end(k)
                word = src[k:j]
                if word in ("true", "false"):
                    toks.append(_Tok(_K.BOOL, word, k, word == "true"))
                elif word == "nil":
                    toks.append(_Tok(_K.NIL, word, k))
                elif word in _KEYWORDS:
                    toks.append(_Tok(_K.KEYWORD, word, k))
                else:
                    toks.append(_Tok(_K.IDENT, word, k))
                k = j
            else:
                self.fail(k, f"unrecognized character in action: {c!r}")

    def quoted(self, k: int, quote: str) -> int:
        src, n = self.src, len(self.src)
        j = k + 1
        while True:
            if j >= n or (src[j] == "\n" and quote != "`"):
                what = {
                    '"': "quoted string",
                    "`": "raw quoted string",
                    "'": "character constant",
                }[quote]
                self.fail(k, f"unterminated {what}")
            if src[j] == "\\" and quote != "`":
                j += 2
                continue
            if src[j] == quote:
                break
            j += 1
        raw, body = src[k : j + 1], src[k + 1 : j]
        if quote == "`":
            self.toks.append(_Tok(_K.STRING, raw, k, body.replace("\r", "")))
        elif quote == '"':
            self.toks.append(_Tok(_K.STRING, raw, k, self.unquote(body, k)))
        else:
            self.toks.append(_Tok(_K.NUMBER, raw, k, self.char(body, k)))
        return j + 1

    def escape(self, body: str, i: int, pos: int, quote: str) -> tuple[int, bool, int]:
        """Decode the escape at body[i] (after the backslash): (value, is_byte, next index)."""
        simple = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}
        e = body[i] if i < len(body) else ""
        if e in simple:
            return simple[e], False, i + 1
        if e == quote:
            return ord(quote), False, i + 1
        width = {"x": 2, "u": 4, "U": 8}.get(e)
        try:
            if width is not None:
                digits = body[i + 1 : i + 1 + width]
                if len(digits) == width and all(d in "0123456789abcdefABCDEF" for d in digits):
                    value = int(digits, 16)
                    if e == "x" or (value <= 0x10FFFF and not 0xD800 <= value < 0xE000):
                        return value, e == "x", i + 1 + width
            elif e in "01234567":
                digits = body[i : i + 3]
                if len(digits) == 3 and all(d in "01234567" for d in digits):
                    value = int(digits, 8)
                    if value <= 255:
                        return value, True, i + 3
        except ValueError:  # pragma: no cover - guarded by the digit checks above
            pass
        self.fail(pos, f"invalid escape sequence \\{e} in {quote}{body}{quote}")

    def unquote(self, body: str, pos: int) -> str:
        out = bytearray()
        i = 0
        while i < len(body):
            c = body[i]
            if c != "\\":
                out += c.encode("utf-8", "surrogatepass")
                i += 1
                continue
            value, is_byte, i = self.escape(body, i + 1, pos, '"')
            out += bytes([value]) if is_byte else chr(value).encode("utf-8")
        return out.decode("utf-8", "replace")

    def char(self, body: str, pos: int) -> int:
        if body.startswith("\\"):
            value, _, end = self.escape(body, 1, pos, "'")
        elif body:
            value, end = ord(body[0]), 1
        else:
            end = -1
            value = 0
        if end != len(body):
            self.fail(pos, f"malformed character constant: '{body}'")
        return value

    def number(self, k: int) -> int:
        src, n = self.src, len(self.src)
        j = k + 1 if src[k] in "+-" else k
        hexa = src.startswith(("0x", "0X"), j)
        while j < n and (_is_word_char(src[j]) or src[j] == "."):
            if src[j] in ("pP" if hexa else "eE") and j + 1 < n and src[j + 1] in "+-":
                j += 2
                continue
            j += 1
        text = src[k:j]
        value = _parse_number(text)
        if value is None:
            self.fail(k, f"bad number syntax: {text!r}")
        self.toks.append(_Tok(_K.NUMBER, text, k, value))
        return j


def _parse_number(text: str) -> int | float | None:
    if text.endswith("i"):
        return None  # Go's imaginary literals: not supported
    body = text.lstrip("+-")
    if not body or body[0] == "_":
        return None
    try:
        if len(body) > 1 and body[0] == "0" and body[1:].replace("_", "").isdigit():
            return int(text.replace("_", ""), 8)  # Go: a leading 0 means octal
        return int(text, 0)
    except ValueError:
        pass
    try:
        if body.startswith(("0x", "0X")):
            return float.fromhex(text.replace("_", ""))
        if not body[0].isdigit() and not (body[0] == "." and body[1:2].isdigit()):
            return None
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------------------------- nodes


@dataclass(frozen=True, slots=True)
class _Text:
    pos: int
    text: str


@dataclass(frozen=True, slots=True)
class _Field:
    pos: int
    idents: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Variable:
    pos: int
    name: str
    idents: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Dot:
    pos: int


@dataclass(frozen=True, slots=True)
class _Nil:
    pos: int


@dataclass(frozen=True, slots=True)
class _Literal:
    pos: int
    value: Any
    text: str


@dataclass(frozen=True, slots=True)
class _Ident:
    pos: int
    name: str


@dataclass(frozen=True, slots=True)
class _Chain:
    pos: int
    node: _Operand
    idents: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Command:
    pos: int
    args: tuple[_Operand, ...]


@dataclass(frozen=True, slots=True)
class _Pipe:
    pos: int
    decl: tuple[str, ...]
    is_assign: bool
    cmds: tuple[_Command, ...]


@dataclass(frozen=True, slots=True)
class _Action:
    pos: int
    pipe: _Pipe


@dataclass(frozen=True, slots=True)
class _Control:
    pos: int
    kind: str  # "if" | "with" | "range"
    pipe: _Pipe
    body: tuple[_Node, ...]
    orelse: tuple[_Node, ...] | None


@dataclass(frozen=True, slots=True)
class _Jump:
    pos: int
    kind: str  # "break" | "continue"


_Operand = _Field | _Variable | _Dot | _Nil | _Literal | _Ident | _Chain | _Pipe
_Node = _Text | _Action | _Control | _Jump


@dataclass(frozen=True, slots=True)
class _Stop:
    """What ended an item list: {{end}}, {{else}} (maybe {{else if}}/{{else with}}), or EOF."""

    kind: str
    pos: int
    chain: str | None = None


def _describe(node: _Operand) -> str:
    """Source-like text of an operand for error messages."""
    match node:
        case _Field(idents=idents):
            return "." + ".".join(idents)
        case _Variable(name=name, idents=idents):
            return ".".join((name, *idents))
        case _Dot():
            return "."
        case _Nil():
            return "nil"
        case _Literal(text=text):
            return text
        case _Ident(name=name):
            return name
        case _Chain(node=inner, idents=idents):
            return f"({_describe(inner)})." + ".".join(idents)
        case _Pipe(cmds=cmds):
            return " | ".join(" ".join(_describe(a) for a in c.args) for c in cmds)


# --------------------------------------------------------------------------------- parser

_OPERAND_START: Final = frozenset(
    {
        _K.BOOL,
        _K.NUMBER,
        _K.DOT,
        _K.FIELD,
        _K.IDENT,
        _K.NIL,
        _K.STRING,
        _K.VARIABLE,
        _K.LPAREN,
    }
)


def _parse(template: str) -> tuple[_Node, ...]:
    if not isinstance(template, str):
        raise InvalidSpec("commit message template must be a string")
    size = len(template.encode("utf-8", "surrogatepass"))
    if size > MAX_TEMPLATE_BYTES:
        raise InvalidSpec(
            f"commit message template is {size} bytes; the limit is {MAX_TEMPLATE_BYTES}"
        )
    return _Parser(template, _Lexer(template).run()).parse()


class _Parser:
    def __init__(self, src: str, toks: list[_Tok]) -> None:
        self.src = src
        self.toks = toks
        self.i = 0
        self.vars: list[str] = ["$"]
        self.depth = 0
        self.range_depth = 0

    def fail(self, pos: int, detail: str) -> NoReturn:
        _fail(self.src, pos, detail)

    # token access, as Go's parser does it (spaces are tokens inside actions)
    def next(self) -> _Tok:
        tok = self.toks[min(self.i, len(self.toks) - 1)]
        self.i += 1
        return tok

    def peek(self) -> _Tok:
        return self.toks[min(self.i, len(self.toks) - 1)]

    def backup(self) -> None:
        self.i -= 1

    def next_non_space(self) -> _Tok:
        tok = self.next()
        while tok.kind is _K.SPACE:
            tok = self.next()
        return tok

    def peek_non_space(self) -> _Tok:
        tok = self.next_non_space()
        self.backup()
        return tok

    def unexpected(self, tok: _Tok, context: str) -> NoReturn:
        shown = "EOF" if tok.kind is _K.EOF else f'"{tok.val}"'
        self.fail(tok.pos, f"unexpected {shown} in {context}")

    def nest(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            self.fail(pos, f"template nesting is deeper than {MAX_NESTING} levels")

    # structure
    def parse(self) -> tuple[_Node, ...]:
        nodes, stop = self.item_list()
        if stop.kind != "eof":
            name = "else " + stop.chain if stop.chain else stop.kind
            self.fail(stop.pos, f"unexpected {{{{{name}}}}}")
        return nodes

    def item_list(self) -> tuple[tuple[_Node, ...], _Stop]:
        nodes: list[_Node] = []
        while True:
            tok = self.next()
            if tok.kind is _K.EOF:
                return tuple(nodes), _Stop("eof", tok.pos)
            if tok.kind is _K.TEXT:
                nodes.append(_Text(tok.pos, tok.val))
                continue
            result = self.action(tok)
            if isinstance(result, _Stop):
                return tuple(nodes), result
            nodes.append(result)

    def expect_right(self, context: str) -> None:
        tok = self.next_non_space()
        if tok.kind is not _K.RIGHT:
            self.unexpected(tok, context)

    def action(self, left: _Tok) -> _Node | _Stop:
        tok = self.next_non_space()
        if tok.kind is _K.KEYWORD:
            word = tok.val
            if word in ("if", "range", "with"):
                return self.control(word, left.pos)
            if word == "end":
                self.expect_right("end")
                return _Stop("end", left.pos)
            if word == "else":
                after = self.peek_non_space()
                if after.kind is _K.KEYWORD and after.val in ("if", "with"):
                    self.next()
                    return _Stop("else", left.pos, after.val)
                self.expect_right("else")
                return _Stop("else", left.pos)
            if word in ("break", "continue"):
                if self.range_depth == 0:
                    self.fail(left.pos, f"{{{{{word}}}}} outside {{{{range}}}}")
                self.expect_right(word)
                return _Jump(left.pos, word)
            self.fail(left.pos, f"{{{{{word}}}}} is not supported in commit message templates")
        self.backup()
        return _Action(left.pos, self.pipeline("command", _K.RIGHT))

    def control(self, kind: str, pos: int) -> _Control:
        self.nest(pos)
        mark = len(self.vars)
        pipe = self.pipeline(kind, _K.RIGHT)
        if kind == "range":
            self.range_depth += 1
        body, stop = self.item_list()
        if kind == "range":
            self.range_depth -= 1
        orelse: tuple[_Node, ...] | None = None
        if stop.kind == "else" and stop.chain is not None:
            if stop.chain != kind:
                self.fail(stop.pos, f"{{{{else {stop.chain}}}}} cannot continue {{{{{kind}}}}}")
            # {{if a}}x{{else if b}}y{{end}} is {{if a}}x{{else}}{{if b}}y{{end}}{{end}}
            orelse = (self.control(kind, stop.pos),)
        else:
            if stop.kind == "else":
                orelse, stop = self.item_list()
                if stop.kind == "else":
                    self.fail(stop.pos, "expected {{end}}; found {{else}}")
            if stop.kind == "eof":
                self.fail(pos, f"unexpected EOF: {{{{{kind}}}}} is never closed by {{{{end}}}}")
        del self.vars[mark:]
        self.depth -= 1
        return _Control(pos, kind, pipe, body, orelse)

    def pipeline(self, context: str, end: _K) -> _Pipe:
        start = self.peek_non_space()
        decl: list[str] = []
        is_assign = False
        if start.kind is _K.VARIABLE:
            at_variable = self.i
            self.next()
            op = self.next_non_space()
            if op.kind in (_K.DECLARE, _K.ASSIGN):
                decl.append(start.val)
                is_assign = op.kind is _K.ASSIGN
            elif op.kind is _K.COMMA:
                if context != "range":
                    self.fail(op.pos, f"too many declarations in {context}")
                second = self.next_non_space()
                if second.kind is not _K.VARIABLE:
                    self.fail(second.pos, "range can only initialize variables")
                op = self.next_non_space()
                if op.kind not in (_K.DECLARE, _K.ASSIGN):
                    self.unexpected(op, "range declaration (expected := or =)")
                decl += [start.val, second.val]
                is_assign = op.kind is _K.ASSIGN
            else:
                self.i = at_variable  # $x is an operand, not a declaration
        if is_assign:
            for name in decl:
                if name not in self.vars:
                    self.fail(start.pos, f'undefined variable "{name}"')
        else:
            self.vars.extend(decl)
        cmds: list[_Command] = []
        while True:
            tok = self.next_non_space()
            if tok.kind is end:
                break
            if tok.kind not in _OPERAND_START:
                self.unexpected(tok, context)
            self.backup()
            cmds.append(self.command())
        if not cmds:
            self.fail(start.pos, f"missing value for {context}")
        for stage, cmd in enumerate(cmds[1:], start=2):
            if isinstance(cmd.args[0], _Dot | _Nil | _Literal):
                self.fail(cmd.pos, f"non executable command in pipeline stage {stage}")
        return _Pipe(start.pos, tuple(decl), is_assign, tuple(cmds))

    def command(self) -> _Command:
        start = self.peek_non_space()
        args: list[_Operand] = []
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                args.append(operand)
            tok = self.next()
            if tok.kind is _K.SPACE:
                continue
            if tok.kind in (_K.RIGHT, _K.RPAREN):
                self.backup()
            elif tok.kind is not _K.PIPE:
                self.unexpected(tok, "operand")
            break
        if not args:
            self.fail(start.pos, "empty command")
        return _Command(start.pos, tuple(args))

    def operand(self) -> _Operand | None:
        node = self.term()
        if node is None or self.peek().kind is not _K.FIELD:
            return node
        pos = self.peek().pos
        idents: list[str] = []
        while self.peek().kind is _K.FIELD:
            idents.append(self.next().val)
        match node:
            case _Field():
                return _Field(node.pos, node.idents + tuple(idents))
            case _Variable():
                return _Variable(node.pos, node.name, node.idents + tuple(idents))
            case _Dot() | _Nil() | _Literal():
                self.fail(pos, f"unexpected . after term {_describe(node)!r}")
            case _:
                return _Chain(pos, node, tuple(idents))

    def term(self) -> _Operand | None:
        tok = self.next_non_space()
        match tok.kind:
            case _K.IDENT:
                if tok.val in _UNSUPPORTED:
                    self.fail(
                        tok.pos,
                        f'function "{tok.val}" is not supported by conveyor '
                        "(Flux's template functions include it)",
                    )
                if tok.val not in _FUNCTIONS and tok.val not in ("and", "or"):
                    self.fail(tok.pos, f'function "{tok.val}" not defined')
                return _Ident(tok.pos, tok.val)
            case _K.DOT:
                return _Dot(tok.pos)
            case _K.NIL:
                return _Nil(tok.pos)
            case _K.VARIABLE:
                if tok.val not in self.vars:
                    self.fail(tok.pos, f'undefined variable "{tok.val}"')
                return _Variable(tok.pos, tok.val, ())
            case _K.FIELD:
                return _Field(tok.pos, (tok.val,))
            case _K.BOOL | _K.NUMBER | _K.STRING:
                return _Literal(tok.pos, tok.value, tok.val)
            case _K.LPAREN:
                self.nest(tok.pos)
                pipe = self.pipeline("parenthesized pipeline", _K.RPAREN)
                self.depth -= 1
                return pipe
        self.backup()
        return None


# ------------------------------------------------------------------------ Go value model

_NO_FINAL: Final = object()  # no value piped into a command


# ------------------------------------------------------------------------------ functions


def _arity(name: str, args: Sequence[Any], want: int, at_least: bool = False) -> None:
    if len(args) < want or (not at_least and len(args) != want):
        more = "at least " if at_least else ""
        raise ArityError(f"wrong number of args for {name}: want {more}{want} got {len(args)}")


def _int_index(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise FuncError(f"cannot index slice/array with type {go_type(value)}")


def _fn_len(args: Sequence[Any]) -> int:
    _arity("len", args, 1)
    item = args[0]
    if item is None:
        raise FuncError("len of nil pointer")
    if isinstance(item, str):
        return len(item.encode("utf-8", "surrogatepass"))  # Go counts bytes
    if isinstance(item, bytes | bytearray | Mapping | list | tuple | set | frozenset):
        return len(item)
    if not isinstance(item, SCALARS) and isinstance(item, Sized):
        return len(item)
    raise FuncError(f"len of type {go_type(item)}")


def _fn_index(args: Sequence[Any]) -> Any:
    _arity("index", args, 1, at_least=True)
    item = args[0]
    if item is None:
        raise FuncError("index of untyped nil")
    for key in args[1:]:
        if item is None:
            raise FuncError("index of untyped nil")
        if isinstance(item, Mapping):
            try:
                found = key in item
            except TypeError as exc:
                raise FuncError(f"value has type {go_type(key)}; cannot be a map key") from exc
            if not found:
                key_types = {type(k) for k in item}
                if len(key_types) == 1 and not isinstance(key, key_types.pop()):
                    # a Go map has one key type; a key of another type is an error there
                    raise FuncError(
                        f"value has type {go_type(key)}; should be {go_type(next(iter(item)))}"
                    )
            item = item[key] if found else None  # Go: a missing key gives the zero value
            continue
        if isinstance(item, str):
            item = item.encode("utf-8", "surrogatepass")
        if isinstance(item, bytes | bytearray | list | tuple):
            i = _int_index(key)
            if not 0 <= i < len(item):
                raise FuncError(f"index out of range: {i}")
            item = item[i]
            continue
        raise FuncError(f"can't index item of type {go_type(item)}")
    return item


def _fn_not(args: Sequence[Any]) -> bool:
    _arity("not", args, 1)
    return not truth(args[0])


def _fn_print(args: Sequence[Any]) -> str:
    out: list[str] = []
    previous_string = False
    for i, arg in enumerate(args):
        is_string = isinstance(arg, str)
        if i > 0 and not is_string and not previous_string:
            out.append(" ")
        out.append(format_value(arg))
        previous_string = is_string
    return "".join(out)


def _fn_println(args: Sequence[Any]) -> str:
    return " ".join(format_value(a) for a in args) + "\n"


def _fn_printf(args: Sequence[Any]) -> str:
    _arity("printf", args, 1, at_least=True)
    if not isinstance(args[0], str):
        raise FuncError(f"wrong type for value; expected string; got {go_type(args[0])}")
    return sprintf(args[0], args[1:])


def _kind(value: Any) -> str:
    if value is None or value is MISSING:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, complex):
        return "complex"
    if isinstance(value, str):
        return "string"
    return "other"


def _fn_eq(args: Sequence[Any]) -> bool:
    if len(args) < 2:
        raise FuncError("missing argument for comparison")
    first, k1 = args[0], _kind(args[0])
    for other in args[1:]:
        k2 = _kind(other)
        if k1 != k2:
            if "nil" not in (k1, k2):
                raise FuncError(
                    f"incompatible types for comparison: {go_type(first)} and {go_type(other)}"
                )
            continue
        if k1 == "other" and any(isinstance(v, Mapping | list | set) for v in (first, other)):
            raise FuncError(f"non-comparable type {format_value(first)}: {go_type(first)}")
        if first == other or k1 == "nil":
            return True
    return False


def _fn_ne(args: Sequence[Any]) -> bool:
    _arity("ne", args, 2)
    return not _fn_eq(args)


def _ordered(name: str, args: Sequence[Any]) -> tuple[Any, Any]:
    _arity(name, args, 2)
    a, b = args
    ka, kb = _kind(a), _kind(b)
    if ka in ("nil", "bool", "complex", "other") or kb in ("nil", "bool", "complex", "other"):
        raise FuncError("invalid type for comparison")
    if ka != kb:
        raise FuncError("incompatible types for comparison")
    return a, b


def _fn_lt(args: Sequence[Any]) -> bool:
    a, b = _ordered("lt", args)
    return bool(a < b)


def _fn_le(args: Sequence[Any]) -> bool:
    a, b = _ordered("le", args)
    return bool(a <= b)


def _fn_gt(args: Sequence[Any]) -> bool:
    a, b = _ordered("gt", args)
    return bool(a > b)


def _fn_ge(args: Sequence[Any]) -> bool:
    a, b = _ordered("ge", args)
    return bool(a >= b)


def _eval_args(args: Sequence[Any]) -> str:
    """text/template's evalArgs: one string as it is, anything else as fmt.Sprint has it."""
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return _fn_print(["<no value>" if a is None else a for a in args])


def _fn_html(args: Sequence[Any]) -> str:
    """HTMLEscapeString of the arguments."""
    table = {"\0": "\ufffd", '"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;"}
    return "".join(table.get(c, c) for c in _eval_args(args))


def _fn_js(args: Sequence[Any]) -> str:
    """JSEscapeString of the arguments."""
    table = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E"}
    table |= {"&": "\\u0026", "=": "\\u003D"}
    out = []
    for c in _eval_args(args):
        if c in table:
            out.append(table[c])
        elif c < " ":
            out.append(f"\\u00{ord(c):02X}")
        elif c >= "\x80" and not c.isprintable():
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


def _fn_urlquery(args: Sequence[Any]) -> str:
    """url.QueryEscape of the arguments."""
    return urllib.parse.quote_plus(_eval_args(args), safe="")


_BUILTINS: Final = {
    "eq": _fn_eq,
    "ge": _fn_ge,
    "gt": _fn_gt,
    "html": _fn_html,
    "index": _fn_index,
    "js": _fn_js,
    "le": _fn_le,
    "len": _fn_len,
    "lt": _fn_lt,
    "ne": _fn_ne,
    "not": _fn_not,
    "print": _fn_print,
    "printf": _fn_printf,
    "println": _fn_println,
    "urlquery": _fn_urlquery,
}  # "and" and "or" evaluate their arguments lazily and live in _Exec; Go's "slice" is
# replaced by Sprig's in Flux's map, as here
_FUNCTIONS: Final[dict[str, Func]] = {
    **{name: Func(fn, raw=True) for name, fn in _BUILTINS.items()},
    **sprig.FUNCTIONS,
}
_UNSUPPORTED: Final = sprig.UNSUPPORTED | {"call"}
_NILABLE: Final = frozenset({"any", sprig.MAP})


# ------------------------------------------------------------------------------- executor


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _Exec:
    def __init__(self, src: str, data: Any) -> None:
        self.src = src
        self.out: list[str] = []
        self.size = 0
        self.pos = 0  # of the node being run: where a spent budget is reported
        self.vars: list[list[Any]] = [["$", data]]

    def fail(self, pos: int, detail: str) -> NoReturn:
        _fail(self.src, pos, detail)

    def run(self, nodes: tuple[_Node, ...]) -> str:
        with budget(MAX_STEPS) as self.budget:
            try:
                self.walk(self.vars[0][1], nodes)
            except OverBudget:
                self.fail(self.pos, f"template execution exceeded {MAX_STEPS} steps")
        return "".join(self.out)

    def step(self, pos: int, n: int = 1) -> None:
        self.pos = pos
        self.budget.spend(n)

    def charge(self, pos: int, result: Any, name: str) -> None:
        """A function's or method's result: its size spends steps; a string is capped."""
        if isinstance(result, str) and len(result) > MAX_VALUE_BYTES:
            self.fail(pos, f"{name} returned more than {MAX_VALUE_BYTES} bytes")
        self.step(pos, cost(result))

    def write(self, pos: int, text: str) -> None:
        self.size += len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
        if self.size > MAX_OUTPUT_BYTES:
            self.fail(pos, f"rendered commit message exceeds {MAX_OUTPUT_BYTES} bytes")
        self.out.append(text)

    # variables
    def lookup(self, node: _Variable) -> Any:
        for var in reversed(self.vars):
            if var[0] == node.name:
                return var[1]
        # the parser knows the name, but its declaration has not run: {{ $x := $x }}, or a
        # variable declared in an {{if}} body and used in the {{else}} (Go fails here too)
        self.fail(node.pos, f"undefined variable: {node.name}")

    def bind(self, name: str, value: Any, assign: bool) -> None:
        if assign:
            for var in reversed(self.vars):
                if var[0] == name:
                    var[1] = value
                    return
        self.vars.append([name, value])

    # statements
    def walk(self, dot: Any, nodes: tuple[_Node, ...]) -> None:
        for node in nodes:
            match node:
                case _Text(pos=pos, text=text):
                    self.step(pos)
                    self.write(pos, text)
                case _Action():
                    self.step(node.pos)
                    value = self.pipeline(dot, node.pipe)
                    if not node.pipe.decl:
                        self.write(node.pos, self.printable(node.pos, value))
                case _Control(kind="range"):
                    self.step(node.pos)
                    self.walk_range(dot, node)
                case _Control():
                    self.step(node.pos)
                    mark = len(self.vars)
                    value = self.pipeline(dot, node.pipe)
                    if truth(value):
                        self.walk(value if node.kind == "with" else dot, node.body)
                    elif node.orelse is not None:
                        self.walk(dot, node.orelse)
                    del self.vars[mark:]
                case _Jump(kind="break"):
                    raise _Break
                case _Jump():
                    raise _Continue

    def printable(self, pos: int, value: Any) -> str:
        if value is MISSING:
            return "<no value>"
        if inspect.isroutine(value):
            self.fail(pos, f"can't print value of type {go_type(value)}")
        try:
            return format_value(value)
        except TooDeep:
            self.fail(pos, f"value is nested deeper than {MAX_NESTING} levels")
        except FuncError as exc:
            self.fail(pos, str(exc))

    def range_items(self, node: _Control, value: Any) -> Iterable[tuple[Any, Any]] | None:
        """(key, element) pairs to range over, or None when the range is empty."""
        if value is MISSING or value is None:
            return None
        if isinstance(value, Mapping):
            return ((k, value[k]) for k in sorted_keys(value)) if value else None
        if isinstance(value, int) and not isinstance(value, bool):
            if len(node.pipe.decl) > 1:
                self.fail(node.pos, f"can't use {value} to iterate over more than one variable")
            return ((i, i) for i in range(value)) if value > 0 else None
        if isinstance(value, list | tuple):
            return enumerate(value) if value else None
        if isinstance(value, set | frozenset):
            return enumerate(sorted(value, key=sort_key)) if value else None
        if isinstance(value, Iterable) and not isinstance(value, SCALARS):
            items: list[Any] = []
            try:
                for item in value:  # a generator from a method, say; bounded by MAX_STEPS
                    self.step(node.pos)
                    items.append(item)
            except (InvalidSpec, OverBudget):
                raise
            except Exception as exc:
                self.fail(node.pos, f"error ranging over {type(value).__name__}: {exc}")
            return enumerate(items) if items else None
        self.fail(node.pos, f"range can't iterate over {format_value(value)}")

    def walk_range(self, dot: Any, node: _Control) -> None:
        mark = len(self.vars)
        pipe = node.pipe
        value = self.commands(dot, pipe)
        items = self.range_items(node, value)
        if items is None:
            if node.orelse is not None:
                for name in pipe.decl:
                    self.bind(name, value, pipe.is_assign)
                self.walk(dot, node.orelse)
        else:
            for key, element in items:
                self.step(node.pos)
                iteration = len(self.vars)
                if len(pipe.decl) == 1:
                    self.bind(pipe.decl[0], element, pipe.is_assign)
                elif len(pipe.decl) == 2:
                    self.bind(pipe.decl[0], key, pipe.is_assign)
                    self.bind(pipe.decl[1], element, pipe.is_assign)
                try:
                    self.walk(element, node.body)
                except _Break:
                    break
                except _Continue:
                    pass
                finally:
                    del self.vars[iteration:]
        del self.vars[mark:]

    # expressions
    def commands(self, dot: Any, pipe: _Pipe) -> Any:
        value: Any = _NO_FINAL
        for cmd in pipe.cmds:
            value = self.command(dot, cmd, value)
        # Go turns a nil interface{} into an invalid value: it prints "<no value>"
        return MISSING if value is None else value

    def pipeline(self, dot: Any, pipe: _Pipe) -> Any:
        value = self.commands(dot, pipe)
        for name in pipe.decl:
            self.bind(name, value, pipe.is_assign)
        return value

    def not_a_function(self, args: tuple[_Operand, ...], final: Any) -> None:
        if len(args) > 1 or final is not _NO_FINAL:
            self.fail(args[0].pos, f"can't give argument to non-function {_describe(args[0])}")

    def command(self, dot: Any, cmd: _Command, final: Any) -> Any:
        first = cmd.args[0]
        match first:
            case _Field():
                return self.field_chain(dot, dot, first, first.idents, cmd.args, final)
            case _Chain():
                receiver = self.arg(dot, first.node)
                return self.field_chain(dot, receiver, first, first.idents, cmd.args, final)
            case _Variable():
                return self.variable(dot, first, cmd.args, final)
            case _Ident():
                return self.function(dot, first, cmd.args, final)
            case _Nil():
                self.fail(first.pos, "nil is not a command")
        self.not_a_function(cmd.args, final)
        return self.arg(dot, first)

    def arg(self, dot: Any, node: _Operand) -> Any:
        match node:
            case _Dot():
                return dot
            case _Nil():
                return None
            case _Literal(value=value):
                return value
            case _Field():
                return self.field_chain(dot, dot, node, node.idents, (node,), _NO_FINAL)
            case _Variable():
                return self.variable(dot, node, (node,), _NO_FINAL)
            case _Chain():
                receiver = self.arg(dot, node.node)
                return self.field_chain(dot, receiver, node, node.idents, (node,), _NO_FINAL)
            case _Ident():
                return self.function(dot, node, (node,), _NO_FINAL)
            case _Pipe():
                return self.pipeline(dot, node)

    def call_args(self, dot: Any, args: tuple[_Operand, ...], final: Any) -> list[Any]:
        values = [self.arg(dot, a) for a in args[1:]]
        if final is not _NO_FINAL:
            values.append(final)
        return [None if v is MISSING else v for v in values]

    def variable(self, dot: Any, node: _Variable, args: tuple[_Operand, ...], final: Any) -> Any:
        value = self.lookup(node)
        if not node.idents:
            self.not_a_function(args, final)
            return value
        return self.field_chain(dot, value, node, node.idents, args, final)

    def field_chain(
        self,
        dot: Any,
        receiver: Any,
        node: _Operand,
        idents: tuple[str, ...],
        args: tuple[_Operand, ...],
        final: Any,
    ) -> Any:
        for name in idents[:-1]:
            receiver = self.field(dot, name, node, (node,), _NO_FINAL, receiver)
        return self.field(dot, idents[-1], node, args, final, receiver)

    def field(
        self,
        dot: Any,
        name: str,
        node: _Operand,
        args: tuple[_Operand, ...],
        final: Any,
        receiver: Any,
    ) -> Any:
        where = _describe(node)
        if receiver is MISSING:
            return MISSING  # Go: a field of a missing value is missing too
        has_args = len(args) > 1 or final is not _NO_FINAL
        if receiver is None:
            self.fail(node.pos, f"at <{where}>: nil pointer evaluating field {name}")
        if isinstance(receiver, Mapping):
            if has_args:
                self.fail(node.pos, f"at <{where}>: {name} is not a method but has arguments")
            # ``in`` first: never trigger a defaultdict's factory
            if name in receiver:
                return receiver[name]
            if receiver and not any(isinstance(k, str) for k in receiver):
                self.fail(  # Go: a name cannot be a key of, say, a map keyed by objects
                    node.pos,
                    f"at <{where}>: can't evaluate field {name}: the map's keys are not strings",
                )
            return MISSING
        if isinstance(receiver, (*SCALARS, *COLLECTIONS)):
            self.fail(
                node.pos,
                f"at <{where}>: can't evaluate field {name} in type {go_type(receiver)}",
            )
        type_name = type(receiver).__name__
        if not name[:1].isupper():
            self.fail(
                node.pos,
                f"at <{where}>: {name} is an unexported field of type {type_name}; "
                "only names that start with an upper-case letter are reachable",
            )
        try:
            attribute = lookup_field(receiver, name)
        except Exception as exc:
            self.fail(node.pos, f"at <{where}>: error reading {name}: {exc}")
        if attribute is ABSENT:
            removed = getattr(type(receiver), "go_removed", {}).get(name)
            if removed is not None:  # a field its API removed: the API's own message
                raise InvalidSpec(removed, reason="RemovedTemplateField")
            self.fail(
                node.pos,
                f"at <{where}>: can't evaluate field {name} in type {go_type(receiver)}",
            )
        if callable(attribute) and not isinstance(attribute, type):
            values = self.call_args(dot, args, final)
            try:
                inspect.signature(attribute).bind(*values)
            except TypeError:
                self.fail(
                    node.pos,
                    f"at <{where}>: wrong number of args for {name}: got {len(values)}",
                )
            except ValueError:  # no signature to check (some builtins): just call it
                pass
            try:
                result = attribute(*values)
            except (InvalidSpec, OverBudget):
                raise
            except TooDeep:
                self.fail(node.pos, f"at <{where}>: value nested deeper than {MAX_NESTING}")
            except Exception as exc:
                self.fail(node.pos, f"at <{where}>: error calling {name}: {exc}")
            self.charge(node.pos, result, name)
            return result
        if has_args:
            self.fail(
                node.pos,
                f"at <{where}>: {name} has arguments but cannot be invoked as function",
            )
        return attribute

    def function(self, dot: Any, node: _Ident, args: tuple[_Operand, ...], final: Any) -> Any:
        name = node.name
        if name in ("and", "or"):
            count = len(args) - 1 + (final is not _NO_FINAL)
            if count == 0:
                self.fail(node.pos, f"wrong number of args for {name}: want at least 1 got 0")
            value: Any = None
            for i in range(count):  # Go short-circuits: later operands may never run
                value = self.arg(dot, args[i + 1]) if i + 1 < len(args) else final
                if truth(value) == (name == "or"):
                    return value
            return value
        fn = _FUNCTIONS[name]
        if fn.raw:
            values = self.call_args(dot, args, final)
        else:
            values = self.typed_args(dot, node, fn, args, final)
        try:
            result = fn.impl(values) if fn.raw else fn.impl(*values)
        except ArityError as exc:
            self.fail(node.pos, str(exc))
        except FuncError as exc:
            self.fail(node.pos, f"error calling {name}: {exc}")
        except TooDeep:
            self.fail(node.pos, f"error calling {name}: value nested deeper than {MAX_NESTING}")
        except RecursionError:  # pragma: no cover - nesting is capped before this
            self.fail(node.pos, f"error calling {name}: value nested too deep")
        self.charge(node.pos, result, name)
        return result

    def typed_args(
        self, dot: Any, node: _Ident, fn: Func, args: tuple[_Operand, ...], final: Any
    ) -> list[Any]:
        """The arguments of a Go function of declared parameter types, converted and checked
        as text/template's evalCall does: the number first, then each argument in order."""
        operands = args[1:]
        count = len(operands) + (final is not _NO_FINAL)
        fixed = len(fn.params)
        if fn.variadic is None and count != fixed:
            self.fail(node.pos, f"wrong number of args for {node.name}: want {fixed} got {count}")
        if fn.variadic is not None and count < fixed:
            self.fail(
                node.pos,
                f"wrong number of args for {node.name}: want at least {fixed} got {count}",
            )

        def param(i: int) -> str:
            return fn.params[i] if i < fixed else fn.variadic or "any"

        values = [self.typed_arg(dot, operand, param(i)) for i, operand in enumerate(operands)]
        if final is not _NO_FINAL:
            values.append(self.checked(node.pos, final, param(count - 1)))
        return values

    def typed_arg(self, dot: Any, node: _Operand, typ: str) -> Any:
        """text/template's evalArg: a literal becomes the parameter's type if it can."""
        if isinstance(node, _Nil):
            if typ in _NILABLE:
                return None
            self.fail(node.pos, f"cannot assign nil to {typ}")
        if not isinstance(node, _Literal):
            return self.checked(node.pos, self.arg(dot, node), typ)
        value, text = node.value, node.text
        is_string = isinstance(value, str)
        is_number = not is_string and not isinstance(value, bool)
        if typ == "any":
            if is_number and isinstance(value, int) and value > sprig.INT64_MAX:
                self.fail(node.pos, f"{text} overflows int")
            return value
        if typ == "string":
            if is_string:
                return value
            self.fail(node.pos, f"expected string; found {text}")
        if typ == "bool":
            if isinstance(value, bool):
                return value
            self.fail(node.pos, f"expected bool; found {text}")
        if typ in ("int", "int64"):
            whole = is_number and (
                isinstance(value, int) or (math.isfinite(value) and value == int(value))
            )
            if whole and sprig.INT64_MIN <= int(value) <= sprig.INT64_MAX:
                return Int64(int(value)) if typ == "int64" else int(value)
            if whole:
                self.fail(node.pos, f"{text} overflows {typ}")
            self.fail(node.pos, f"expected integer; found {text}")
        if typ == "float64":
            if is_number:
                return float(value)
            self.fail(node.pos, f"expected float; found {text}")
        self.fail(node.pos, f"can't handle {text} for arg of type {typ}")

    def checked(self, pos: int, value: Any, typ: str) -> Any:
        """text/template's validateType: a value of the parameter's type, or nil for one that
        can be nil; anything else is an error, naming both types as Go does."""
        if value is MISSING or value is None:
            if typ in _NILABLE:
                return None
            if value is None:
                self.fail(pos, f"wrong type for value; expected {typ}; got interface {{}}")
            self.fail(pos, f"invalid value; expected {typ}")
        if typ == "any" or go_type(value) == typ:
            return value
        self.fail(pos, f"wrong type for value; expected {typ}; got {go_type(value)}")
