"""``spec.postBuild``: variable substitution in the built objects, as Flux does it.

Flux runs its fork of drone/envsubst (``fluxcd/pkg/envsubst``) over each object's YAML after
``kustomize build``. This module is that, over plain values:

- only ``${...}`` is an expression; ``$var`` is left alone and ``$${var}`` writes ``${var}``;
- ``${var}`` is the value, or the empty string when ``var`` is unset (an error in strict mode);
- ``${var:=default}``, ``${var:-default}``, ``${var=default}``: the value, or ``default`` when
  the value is empty (Flux's ``toDefault``: every default form treats empty as unset); the
  default may itself contain ``${...}``;
- ``${#var}`` length, ``${var^}``/``${var^^}``/``${var,}``/``${var,,}`` case,
  ``${var:offset}``/``${var:offset:length}``, ``${var#glob}``/``${var##glob}``/``${var%glob}``/
  ``${var%%glob}`` trims, ``${var/old/new}``/``${var//old/new}``/``${var/#old/new}``/
  ``${var/%old/new}`` literal replacement;
- variables come from ``substituteFrom`` (ConfigMaps and Secrets, later ones win) and then
  ``substitute`` (wins over both); newlines are removed from values; every name must match
  ``^[_[:alpha:]][_[:alpha:][:digit:]]*$``;
- substitution runs only when there is at least one variable, and never on an object labelled
  or annotated ``kustomize.toolkit.fluxcd.io/substitute: disabled``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from conveyor.services.applier.objects import (
    DISABLED,
    SUBSTITUTE_KEY,
    Obj,
    any_in_metadata,
    describe,
)

VAR_NAME = re.compile(r"^[_A-Za-z][_A-Za-z0-9]*$")
VAR_NAME_TEXT = "^[_[:alpha:]][_[:alpha:][:digit:]]*$"
_DEFAULT_OPS = {"-", "+", "=", "?", ":-", ":+", ":=", ":?"}


class SubstitutionError(ValueError):
    """A template that does not parse, a variable unset in strict mode, or a bad var name."""


# --- the template language ----------------------------------------------------------------


@dataclass
class _Func:
    param: str
    op: str = ""
    args: list[list[_Node]] = field(default_factory=list)


_Node = str | _Func


def _is_ident(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def peek(self, ahead: int = 0) -> str:
        j = self.i + ahead
        return self.s[j] if j < len(self.s) else ""

    def parse(self) -> list[_Node]:
        nodes: list[_Node] = []
        text: list[str] = []
        while self.i < len(self.s):
            ch = self.s[self.i]
            if ch == "$" and self.peek(1) == "{":
                if text:
                    nodes.append("".join(text))
                    text = []
                self.i += 2
                nodes.append(self.func())
            elif ch == "$" and self.peek(1) == "$":
                text.append("$")
                self.i += 2
            else:
                text.append(ch)
                self.i += 1
        if text:
            nodes.append("".join(text))
        return nodes

    def ident(self) -> str:
        start = self.i
        while self.i < len(self.s) and _is_ident(self.s[self.i]):
            self.i += 1
        return self.s[start : self.i]

    def close(self, error: str = "bad substitution") -> None:
        if self.peek() != "}":
            raise SubstitutionError(error)
        self.i += 1

    def func(self) -> _Func:
        if self.peek() == "#":
            self.i += 1
            name = self.ident()
            if not name:
                raise SubstitutionError("bad substitution")
            self.close()
            return _Func(param=name, op="#")
        name = self.ident()
        if not name:
            raise SubstitutionError("unable to parse variable name")
        ch = self.peek()
        if ch == ":" and self.peek(1) in ("=", "-", "?", "+") and self.peek(1):
            self.i += 2
            return self.default(name, ":" + self.s[self.i - 1])
        if ch == ":":
            self.i += 1
            return self.substr(name)
        if ch == "=":
            self.i += 1
            return self.default(name, "=")
        if ch in (",", "^"):
            op = ch
            self.i += 1
            if self.peek() in (",", "^") and self.peek():
                op += self.peek()
                self.i += 1
            self.close()
            return _Func(param=name, op=op)
        if ch == "/":
            return self.replace(name)
        if ch in ("#", "%"):
            op = ch
            self.i += 1
            if self.peek() == ch:
                op += ch
                self.i += 1
            node = _Func(param=name, op=op, args=[self.param(stop="}")])
            self.close()
            return node
        self.close("missing closing brace")
        return _Func(param=name)

    def param(self, stop: str, escapes: bool = False) -> list[_Node]:
        """One argument: a nested ``${...}`` or a run of text up to a ``stop`` character."""
        if self.peek() == "$" and self.peek(1) == "{":
            self.i += 2
            return [self.func()]
        text: list[str] = []
        while self.i < len(self.s):
            ch = self.s[self.i]
            if ch in stop or (ch == "$" and self.peek(1) == "{"):
                break
            escaped = (ch == "$" and self.peek(1) == "$") or (
                ch == "\\" and self.peek(1) in ("/", "\\") and self.peek(1) != ""
            )
            if escapes and escaped:
                self.i += 1
            text.append(self.s[self.i])
            self.i += 1
        if not text:
            raise SubstitutionError("unable to parse substitution within function")
        return ["".join(text)]

    def default(self, name: str, op: str) -> _Func:
        node = _Func(param=name, op=op)
        while True:
            if self.peek() == "}":
                self.i += 1
                return node
            if not self.peek():
                raise SubstitutionError("unable to parse substitution within function")
            node.args.append(self.param(stop="}"))

    def substr(self, name: str) -> _Func:
        node = _Func(param=name, op=":", args=[self.param(stop=":}")])
        if self.peek() == "}":
            self.i += 1
            return node
        if self.peek() != ":":
            raise SubstitutionError("bad substitution")
        self.i += 1
        node.args.append(self.param(stop="}"))
        self.close()
        return node

    def replace(self, name: str) -> _Func:
        self.i += 1  # the first '/'
        op = "/"
        if self.peek() in ("/", "#", "%") and self.peek():
            op += self.peek()
            self.i += 1
        node = _Func(param=name, op=op)
        node.args.append([""] if self.peek() == "/" else self.param(stop="/", escapes=True))
        if self.peek() != "/":
            raise SubstitutionError("bad substitution")
        self.i += 1
        if self.peek() == "}":
            self.i += 1
            return node
        node.args.append(self.param(stop="}", escapes=True))
        self.close()
        return node


def _glob_prefixes(value: str, pattern: str) -> list[str]:
    """Non-empty prefixes of ``value`` that match the glob ``pattern``, longest first."""
    return [
        value[:end] for end in range(len(value), 0, -1) if fnmatch.fnmatchcase(value[:end], pattern)
    ]


def _apply(op: str, value: str, args: list[str]) -> str:
    if op == "#" and not args:
        return str(len(value.encode()))
    if op in ("^", "^^", ",", ",,"):
        if not value:
            return value
        if op == "^":
            return value[0].upper() + value[1:]
        if op == "^^":
            return value.upper()
        if op == ",":
            return value[0].lower() + value[1:]
        return value.lower()
    if op in ("#", "##"):
        matches = _glob_prefixes(value, args[0])
        return value[len(matches[0 if op == "##" else -1]) :] if matches else value
    if op in ("%", "%%"):
        rev = _glob_prefixes(value[::-1], args[0][::-1])
        return value[: len(value) - len(rev[0 if op == "%%" else -1])] if rev else value
    if op == ":":
        return _substr(value, args)
    if op in ("/", "//"):
        new = args[1] if len(args) > 1 else ""
        return value.replace(args[0], new, 1 if op == "/" else -1)
    if op == "/#":
        if len(args) == 2 and value.startswith(args[0]):
            return args[1] + value[len(args[0]) :]
        return value
    if op == "/%":
        if len(args) == 2 and value.endswith(args[0]):
            return value[: len(value) - len(args[0])] + args[1]
        return value
    # ${var} and every default form: Flux's toDefault (empty counts as unset)
    if not value and args:
        return "".join(args)
    return value


_INT = re.compile(r"^[+-]?[0-9]+$")


def _substr(value: str, args: list[str]) -> str:
    """Go's toSubstr: an offset or length that strconv.Atoi refuses leaves the value as is."""
    if not _INT.match(args[0]):
        return value
    pos = int(args[0])
    if pos < 0:
        pos = max(0, len(value) + pos)
    if len(args) == 1:
        return value[pos:]
    if not _INT.match(args[1]):
        return value
    length = int(args[1])
    if length < 0:
        end = len(value) + length
        return value[pos:end] if end >= pos else ""
    return value[pos : pos + length]


Lookup = Callable[[str], str | None]


def _eval(nodes: list[_Node], lookup: Lookup, strict: bool) -> str:
    out: list[str] = []
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
            continue
        args = [_eval(arg, lookup, strict) for arg in node.args]
        value = lookup(node.param)
        if value is None:
            if strict and node.op not in _DEFAULT_OPS:
                raise SubstitutionError(f'variable not set (strict mode): "{node.param}"')
            value = ""
        out.append(_apply(node.op, value, args))
    return "".join(out)


def expand(text: str, lookup: Lookup, *, strict: bool = False) -> str:
    """``text`` with every ``${...}`` expression replaced (see the module docstring)."""
    return _eval(_Parser(text).parse(), lookup, strict)


# --- variables and objects ----------------------------------------------------------------


@dataclass(frozen=True)
class SubstituteRef:
    kind: str
    name: str
    optional: bool = False


def substitute_from(post_build: Mapping[str, Any] | None) -> list[SubstituteRef]:
    refs = []
    for i, item in enumerate((post_build or {}).get("substituteFrom") or []):
        if not isinstance(item, Mapping) or item.get("kind") not in ("ConfigMap", "Secret"):
            raise SubstitutionError(
                f"spec.postBuild.substituteFrom[{i}]: kind must be ConfigMap or Secret"
            )
        if not item.get("name"):
            raise SubstitutionError(f"spec.postBuild.substituteFrom[{i}]: name is required")
        refs.append(
            SubstituteRef(
                kind=str(item["kind"]), name=str(item["name"]), optional=bool(item.get("optional"))
            )
        )
    return refs


Resolve = Callable[[SubstituteRef], Mapping[str, str] | None]


def variables(post_build: Mapping[str, Any] | None, resolve: Resolve) -> dict[str, str]:
    """The variables of ``spec.postBuild``: each ``substituteFrom`` in order (``resolve`` gives
    its data, or None when it does not exist), then ``substitute``."""
    values: dict[str, str] = {}
    for ref in substitute_from(post_build):
        data = resolve(ref)
        if data is None:
            if ref.optional:
                continue
            raise SubstitutionError(f"substitute from '{ref.kind}/{ref.name}' error: not found")
        values.update({k: str(v).replace("\n", "") for k, v in data.items()})
    inline = (post_build or {}).get("substitute") or {}
    if not isinstance(inline, Mapping):
        raise SubstitutionError("spec.postBuild.substitute must be a map of strings")
    values.update({str(k): str(v).replace("\n", "") for k, v in inline.items()})
    for name in values:
        if not VAR_NAME.match(name):
            raise SubstitutionError(f"'{name}' var name is invalid, must match '{VAR_NAME_TEXT}'")
    return values


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)


def substitute_objects(
    objects: list[Obj], values: Mapping[str, str], *, strict: bool = False
) -> list[Obj]:
    """Each object with its YAML text substituted, re-read as YAML (so ``replicas: ${n}`` with
    ``n=3`` becomes the number 3, as in Flux). Objects opted out keep their text."""
    if not values:
        return objects
    out = []
    for obj in objects:
        if any_in_metadata(obj, {SUBSTITUTE_KEY: DISABLED}):
            out.append(obj)
            continue
        text = yaml.dump(obj, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=2**30)
        try:
            new = yaml.safe_load(expand(text, values.get, strict=strict))
        except SubstitutionError as exc:
            raise SubstitutionError(f"post build failed for '{describe(obj)}': {exc}") from exc
        except yaml.YAMLError as exc:
            raise SubstitutionError(
                f"post build failed for '{describe(obj)}': the substituted YAML does not parse: "
                f"{exc}"
            ) from exc
        if not isinstance(new, dict):
            raise SubstitutionError(f"post build failed for '{describe(obj)}': not an object")
        out.append(new)
    return out
