"""``spec.healthCheckExprs``: health from CEL expressions, as Flux's ``pkg/runtime/cel`` does.

``healthchecks.compile_checks`` turns the entries into one evaluator per group and kind (an
entry without ``kind`` covers its whole group; one with ``kind`` wins over it), refusing what
Flux refuses: an entry without ``current``, an expression that does not parse, two entries for
one group and kind. ``Checks.health(obj)`` is the object's health, in Flux's order:
``status.observedGeneration`` (an integer) other than ``metadata.generation`` is InProgress;
then ``inProgress``, ``failed``, ``current``, the first that is true decides (InProgress,
Failed, Current); none true is InProgress. An expression that fails to evaluate, or is not a
boolean, gives ``Unknown`` with the error, and waiting goes on (Flux: the timeout names it).

The expressions see the object's top-level fields as variables (``status``, ``metadata``,
``spec``, ...), as Flux parses them (unchecked). The language is cel-python's CEL with what
Flux's environment adds that it lacks: numbers of different types compare by value
(``CrossTypeNumericComparisons``), values of other different types are not equal, the string
functions of cel-go's ``ext.Strings`` (``charAt``, ``indexOf``, ``lastIndexOf``, ``lowerAscii``,
``upperAscii``, ``replace``, ``split``, ``substring``, ``trim``, ``join``, ``reverse``),
``base64.encode``/``decode`` (``ext.Encoders``) and ``sets.contains``/``equivalent``/
``intersects`` (``ext.Sets``). What Flux's environment has and this one has not (optional types,
``format``, ``quote``) is refused by name when the expression is compiled, as are cel-python's own
macros that Flux does not know (``reduce``, ``min``).

The expressions are the user's: each is at most ``MAX_EXPRESSION`` characters, and an
evaluation is bounded by a cost (one unit per node evaluated, and one per ``SIZE_UNIT``
characters or items a function builds; at most ``MAX_COST``) and by the wait's deadline; past
either it stops with an error. Regular expressions (``matches``) are RE2, linear in time.

This is cel-python, not the cel-expr-python of ``conveyor.shared.adapters.cel`` (Flux's checked
compile, for Receivers): Flux parses these expressions without checking them (the variables
are whatever top-level fields an object has), and a Python interpreter is one conveyor can stop
(cost, sizes, deadline) where a native evaluation runs to its end.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import celpy
import lark
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError, Evaluator

from conveyor.services.applier.health import CURRENT, FAILED, IN_PROGRESS, Health

UNKNOWN = "Unknown"
MAX_EXPRESSION = 16 * 1024
MAX_COST = 30_000  # about a second and a half of this interpreter
SIZE_UNIT = 64

# In Flux's environment, not in this one: refused by name rather than failing at evaluation.
_MISSING = frozenset({"format", "quote", "orValue", "hasValue", "optMap", "optFlatMap"})
_MISSING_NAMESPACES = frozenset({"optional", "strings"})
# cel-python's own macros, unknown to Flux's CEL.
_NOT_FLUX = frozenset({"reduce", "min"})
_OPTIONAL_SYNTAX = re.compile(r"\.\s*\?|\[\s*\?")


class CostExceeded(Exception):
    """An evaluation went past its cost or its deadline."""


# --- cost --------------------------------------------------------------------------------


@dataclass
class _Budget:
    left: int
    deadline: float
    clock_at: int = 0  # when ``left`` falls to this, the deadline is checked again

    def spend(self, units: int = 1) -> None:
        self.left -= units
        if self.left < 0:
            raise CostExceeded(f"the expression exceeded its cost limit ({MAX_COST})")
        if self.left <= self.clock_at:
            self.clock_at = self.left - 1000
            if time.monotonic() > self.deadline:
                raise CostExceeded("the expression was still running at the deadline")


_active = threading.local()


def _charge(value: Any) -> Any:
    """Charge the running evaluation for what a function built (strings, lists, maps)."""
    if isinstance(value, str | bytes | list | tuple | dict):
        budget = getattr(_active, "budget", None)
        if budget is not None:
            budget.spend(1 + len(value) // SIZE_UNIT)
    return value


def _reserve(size: int) -> None:
    """Refuse, before it is built, a value of ``size`` the evaluation cannot pay for."""
    budget = getattr(_active, "budget", None)
    if budget is not None and size // SIZE_UNIT > budget.left:
        raise CostExceeded(f"the expression exceeded its cost limit ({MAX_COST})")


class _Bounded(Evaluator):
    """cel-python's interpreter, charging one unit of the budget per node it evaluates."""

    budget: _Budget

    def sub_evaluator(self, ast: lark.Tree[Any]) -> Evaluator:
        nested = _Bounded(ast, activation=self.activation)
        nested.budget = self.budget
        return nested

    def visit(self, tree: lark.Tree[Any]) -> Any:
        self.budget.spend()
        return super().visit(tree)

    def visit_children(self, tree: lark.Tree[Any]) -> list[Any]:
        self.budget.spend(len(tree.children))
        return super().visit_children(tree)

    def member_dot_arg(self, tree: lark.Tree[Any]) -> Any:
        """``base64.encode(x)``, ``sets.contains(a, b)``: cel-go's namespaced functions."""
        member = tree.children[0]
        namespace = _bare_ident(member)
        if namespace in _NAMESPACED and len(tree.children) == 3:
            name = f"{namespace}.{cast(lark.Token, tree.children[1]).value}"
            function = _NAMESPACED[namespace].get(name)
            if function is not None:
                args = self.visit_children(cast("lark.Tree[Any]", tree.children[2]))
                for arg in args:
                    if isinstance(arg, CELEvalError):
                        return arg
                try:
                    return function(*args)
                except (TypeError, ValueError) as exc:
                    return CELEvalError(f"{name}: {exc}", type(exc), exc.args)
        return super().member_dot_arg(tree)


def _bare_ident(tree: Any) -> str | None:
    """The name when ``tree`` (a member) is just an identifier."""
    while isinstance(tree, lark.Tree) and tree.data in ("member", "primary") and (
        len(tree.children) == 1
    ):
        tree = tree.children[0]
    if isinstance(tree, lark.Tree) and tree.data == "ident":
        return str(cast(lark.Token, tree.children[0]).value)
    return None


class _Runner(celpy.InterpretedRunner):
    def evaluate(self, context: Any) -> Any:
        evaluator = _Bounded(ast=self.ast, activation=self.new_activation())
        evaluator.budget = _active.budget
        return evaluator.evaluate(context)


# --- Flux's additions to the language ----------------------------------------------------

def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool | celtypes.BoolType)


def _compare(op: Callable[[Any, Any], bool], default: Callable[[Any, Any], Any]) -> Any:
    def compare(a: Any, b: Any) -> Any:
        if _number(a) and _number(b) and type(a) is not type(b):
            return celtypes.BoolType(op(float(a) if isinstance(a, float) else int(a),
                                        float(b) if isinstance(b, float) else int(b)))
        return default(a, b)

    return compare


def _equality(negate: bool) -> Any:
    from celpy.evaluation import bool_eq

    def equal(a: Any, b: Any) -> Any:
        if isinstance(a, CELEvalError) or isinstance(b, CELEvalError):
            return a if isinstance(a, CELEvalError) else b
        if _number(a) and _number(b):
            same = (float(a) if isinstance(a, float) else int(a)) == (
                float(b) if isinstance(b, float) else int(b)
            )
        elif a is None or b is None or _kind(a) != _kind(b):
            same = a is None and b is None
        else:
            result = bool_eq(a, b)
            if isinstance(result, CELEvalError):
                return result
            same = bool(result)
        return celtypes.BoolType(same != negate)

    return equal


def _kind(value: Any) -> type:
    for t in (celtypes.BoolType, celtypes.UintType, int, float, str, bytes, list, dict,
              celtypes.TimestampType, celtypes.DurationType):
        if isinstance(value, t):
            return t
    return type(value)


def _add(a: Any, b: Any) -> Any:
    if _number(a) and _number(b) and _kind(a) is not _kind(b):
        raise TypeError("no such overload")  # CEL converts no numbers in arithmetic
    if isinstance(a, str | bytes | list) and isinstance(b, str | bytes | list):
        _reserve(len(a) + len(b))
    if isinstance(a, celtypes.ListType) and isinstance(b, celtypes.ListType):
        return _charge(celtypes.ListType([*a, *b]))
    total = a + b
    # cel-python's sums of these are bare Python values
    if type(total) is float:
        total = celtypes.DoubleType(total)
    elif type(total) is str:
        total = celtypes.StringType(total)
    elif type(total) is bytes:
        total = celtypes.BytesType(total)
    return _charge(total)


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"no such overload for {type(value).__name__}")
    return value


def _int(value: Any) -> int:
    if not isinstance(value, celtypes.IntType) or isinstance(value, celtypes.BoolType):
        raise TypeError(f"no such overload for {type(value).__name__}")
    return int(value)


def _char_at(s: Any, i: Any) -> Any:
    text, index = _string(s), _int(i)
    if index < 0 or index > len(text):
        raise ValueError(f"index out of range: {index}")
    return celtypes.StringType(text[index : index + 1])


def _index_of(s: Any, sub: Any, start: Any = None) -> Any:
    text, what = _string(s), _string(sub)
    offset = 0 if start is None else _int(start)
    if offset < 0 or offset > len(text):
        raise ValueError(f"index out of range: {offset}")
    return celtypes.IntType(text.find(what, offset))


def _last_index_of(s: Any, sub: Any, end: Any = None) -> Any:
    text, what = _string(s), _string(sub)
    last = len(text) if end is None else _int(end)
    if last < 0 or last > len(text):
        raise ValueError(f"index out of range: {last}")
    return celtypes.IntType(text.rfind(what, 0, last + len(what)))


def _ascii(s: Any, upper: bool) -> Any:
    table = {c: c - 32 for c in range(97, 123)} if upper else {c: c + 32 for c in range(65, 91)}
    return _charge(celtypes.StringType(_string(s).translate(table)))


def _replace(s: Any, old: Any, new: Any, limit: Any = None) -> Any:
    text, a, b = _string(s), _string(old), _string(new)
    count = -1 if limit is None else _int(limit)
    found = text.count(a) if count < 0 else min(count, text.count(a))
    _reserve(len(text) + found * max(0, len(b) - len(a)) + (len(text) + 1) * len(b) * (not a))
    return _charge(celtypes.StringType(text.replace(a, b, count)))


def _split(s: Any, sep: Any, limit: Any = None) -> Any:
    text, by = _string(s), _string(sep)
    count = -1 if limit is None else _int(limit)
    if count == 0:
        return celtypes.ListType([])
    if by == "":
        parts = list(text) if count < 0 else [*text[: count - 1], text[count - 1 :]]
        parts = [p for p in parts if p] if text else []
    else:
        parts = text.split(by, count - 1 if count > 0 else -1)
    return _charge(celtypes.ListType([celtypes.StringType(p) for p in parts]))


def _substring(s: Any, start: Any, end: Any = None) -> Any:
    text = _string(s)
    first = _int(start)
    last = len(text) if end is None else _int(end)
    if first < 0 or first > len(text) or last < first or last > len(text):
        raise ValueError(f"index out of range: {first}, {last}")
    return _charge(celtypes.StringType(text[first:last]))


def _trim(s: Any) -> Any:
    return _charge(celtypes.StringType(_string(s).strip()))


def _join(items: Any, sep: Any = None) -> Any:
    if not isinstance(items, list):
        raise TypeError(f"no such overload for {type(items).__name__}")
    by = "" if sep is None else _string(sep)
    parts = [_string(i) for i in items]
    _reserve(sum(len(p) for p in parts) + len(by) * len(parts))
    return _charge(celtypes.StringType(by.join(parts)))


def _reverse(s: Any) -> Any:
    return _charge(celtypes.StringType(_string(s)[::-1]))


def _base64_encode(b: Any) -> Any:
    if not isinstance(b, bytes):
        raise TypeError(f"no such overload for {type(b).__name__}")
    return _charge(celtypes.StringType(base64.b64encode(b).decode()))


def _base64_decode(s: Any) -> Any:
    text = _string(s)
    try:
        decoded = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError(str(exc)) from exc
    return _charge(celtypes.BytesType(decoded))


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"no such overload for {type(value).__name__}")
    _charge(value)
    return value


def _contains_all(a: Any, b: Any) -> bool:
    left = _list(a)
    return all(any(bool(_equality(False)(x, y)) for x in left) for y in _list(b))


def _sets_contains(a: Any, b: Any) -> Any:
    return celtypes.BoolType(_contains_all(a, b))


def _sets_equivalent(a: Any, b: Any) -> Any:
    return celtypes.BoolType(_contains_all(a, b) and _contains_all(b, a))


def _sets_intersects(a: Any, b: Any) -> Any:
    left = _list(a)
    return celtypes.BoolType(
        any(any(bool(_equality(False)(x, y)) for x in left) for y in _list(b))
    )


def _errors_as_values(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A function's TypeError/ValueError as a CEL error value (cel-python's convention)."""

    @functools.wraps(fn)
    def call(*args: Any) -> Any:
        for arg in args:
            if isinstance(arg, CELEvalError):
                return arg
        try:
            return fn(*args)
        except (TypeError, ValueError) as exc:
            return CELEvalError(f"{fn.__name__.strip('_')}: {exc}", type(exc), exc.args)

    return call


def _functions() -> dict[str, Any]:
    from celpy.evaluation import bool_ge, bool_gt, bool_le, bool_lt

    out: dict[str, Any] = {
        "_<_": _compare(lambda a, b: a < b, bool_lt),
        "_<=_": _compare(lambda a, b: a <= b, bool_le),
        "_>_": _compare(lambda a, b: a > b, bool_gt),
        "_>=_": _compare(lambda a, b: a >= b, bool_ge),
        "_==_": _equality(False),
        "_!=_": _equality(True),
    }
    plain: dict[str, Callable[..., Any]] = {
        "_+_": _add,
        "charAt": _char_at,
        "indexOf": _index_of,
        "lastIndexOf": _last_index_of,
        "lowerAscii": lambda s: _ascii(s, upper=False),
        "upperAscii": lambda s: _ascii(s, upper=True),
        "replace": _replace,
        "split": _split,
        "substring": _substring,
        "trim": _trim,
        "join": _join,
        "reverse": _reverse,
    }
    out.update({name: _errors_as_values(fn) for name, fn in plain.items()})
    return out


_NAMESPACED: dict[str, dict[str, Callable[..., Any]]] = {
    "base64": {"base64.encode": _base64_encode, "base64.decode": _base64_decode},
    "sets": {
        "sets.contains": _sets_contains,
        "sets.equivalent": _sets_equivalent,
        "sets.intersects": _sets_intersects,
    },
}


@functools.cache
def _environment() -> celpy.Environment:
    return celpy.Environment(runner_class=_Runner)


# --- expressions -------------------------------------------------------------------------


def _unsupported(tree: lark.Tree[Any]) -> str | None:
    """The first function of Flux's CEL this one lacks (or of cel-python's that Flux lacks)."""
    for node in tree.iter_subtrees():
        if node.data not in ("member_dot_arg", "ident_arg"):
            continue
        index = 1 if node.data == "member_dot_arg" else 0
        name = str(cast(lark.Token, node.children[index]).value)
        if name in _MISSING or name in _NOT_FLUX:
            return name
        if node.data == "member_dot_arg" and _bare_ident(node.children[0]) in _MISSING_NAMESPACES:
            return f"{_bare_ident(node.children[0])}.{name}"
    return None


class Expression:
    """One parsed expression, evaluated against objects."""

    def __init__(self, text: str) -> None:
        self.text = text
        if len(text) > MAX_EXPRESSION:
            raise ValueError(
                f"failed to parse the CEL expression: longer than {MAX_EXPRESSION} characters"
            )
        if _OPTIONAL_SYNTAX.search(text):
            raise ValueError(
                f"failed to parse the CEL expression '{text}': optional field selection "
                "('.?', '[?') is not supported by conveyor"
            )
        env = _environment()
        try:
            ast = env.compile(text)
        except CELParseError as exc:
            detail = " ".join(str(exc.args[0]).split()) if exc.args else "syntax error"
            raise ValueError(f"failed to parse the CEL expression '{text}': {detail}") from exc
        except (lark.exceptions.LarkError, RecursionError) as exc:
            raise ValueError(f"failed to parse the CEL expression '{text}': {exc}") from exc
        missing = _unsupported(ast)
        if missing is not None:
            raise ValueError(
                f"failed to parse the CEL expression '{text}': function '{missing}' is not "
                "supported by conveyor"
            )
        self._program = env.program(ast, functions=_functions())

    def evaluate_boolean(self, data: Mapping[str, Any], deadline: float) -> bool:
        """The expression's value on ``data`` (an object); ValueError when it fails or is not
        a boolean."""
        # the clock is read every thousand units: a small evaluation never stops for it
        _active.budget = _Budget(left=MAX_COST, deadline=deadline, clock_at=MAX_COST - 1000)
        try:
            activation = {str(k): json_to_cel(v) for k, v in data.items()}
            value = self._program.evaluate(activation)
        except CELEvalError as exc:
            raise ValueError(
                f"failed to evaluate the CEL expression '{self.text}': {_eval_message(exc)}"
            ) from exc
        except (CostExceeded, RecursionError) as exc:
            what = str(exc) if isinstance(exc, CostExceeded) else "nested too deeply"
            raise ValueError(
                f"failed to evaluate the CEL expression '{self.text}': {what}"
            ) from exc
        except (TypeError, ValueError, KeyError, IndexError, ArithmeticError) as exc:
            raise ValueError(
                f"failed to evaluate the CEL expression '{self.text}': {exc}"
            ) from exc
        finally:
            _active.budget = None
        if not isinstance(value, celtypes.BoolType):
            raise ValueError(f"failed to evaluate CEL expression as boolean: '{self.text}'")
        return bool(value)


def _eval_message(exc: CELEvalError) -> str:
    """cel-python's error, in cel-go's words where they differ, without the activation dump."""
    text = str(exc.args[0]) if exc.args else "error"
    text = text.split(" (in activation", 1)[0]
    member = re.match(r"no such member in mapping: '(.*)'$", text)
    if member:
        return f"no such key: {member.group(1)}"
    ref = re.match(r"undeclared reference to '(.*)'$", text)
    if ref:  # an unchecked cel-go program's words for a variable the object has not
        return f"no such attribute(s): {ref.group(1)}"
    return text[:300]


@dataclass(frozen=True)
class StatusEvaluator:
    current: Expression
    failed: Expression | None
    in_progress: Expression | None

    def health(self, obj: Mapping[str, Any], deadline: float) -> Health:
        status = obj.get("status")
        meta = obj.get("metadata")
        observed = status.get("observedGeneration") if isinstance(status, Mapping) else None
        generation = meta.get("generation") if isinstance(meta, Mapping) else None
        if (
            _is_int(observed)
            and _is_int(generation)
            and observed != generation
        ):
            return Health(IN_PROGRESS, f"generation is {generation}, but latest observed "
                                       f"generation is {observed}")
        for expr, state in (
            (self.in_progress, IN_PROGRESS),
            (self.failed, FAILED),
            (self.current, CURRENT),
        ):
            if expr is None:
                continue
            try:
                if expr.evaluate_boolean(obj, deadline):
                    return Health(state, "")
            except ValueError as exc:
                return Health(UNKNOWN, str(exc))
        return Health(IN_PROGRESS, "")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def evaluator(entry: Any, index: int) -> StatusEvaluator:
    where = f"failed to create custom status evaluator for healthchecks[{index}]"
    if not entry.current:
        raise ValueError(f"{where}: expression Current not specified")
    found: dict[str, Expression | None] = {}
    for name, text in (
        ("Current", entry.current),
        ("Failed", entry.failed),
        ("InProgress", entry.in_progress),
    ):
        try:
            found[name] = Expression(text) if text else None
        except ValueError as exc:
            raise ValueError(f"{where}: failed to parse the expression {name}: {exc}") from exc
    current = found["Current"]
    assert current is not None
    return StatusEvaluator(current=current, failed=found["Failed"],
                           in_progress=found["InProgress"])
