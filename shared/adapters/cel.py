"""CEL expressions as Flux compiles them (fluxcd/pkg ``runtime/cel``), on Google's CEL runtime.

The only importer of ``cel_expr_python`` (the Python wrapper of the C++ CEL implementation),
loaded when a first expression is compiled: a receiver without filters never carries it.
Flux's environment: variables of type ``google.protobuf.Struct`` (JSON objects; their numbers are
doubles, as Go's ``encoding/json`` decodes them), optional types, the strings, sets and encoders
extensions, and an expression whose checked output type must be ``bool``. The sets extension
(``sets.contains``, ``sets.equivalent``, ``sets.intersects``) is declared here, as cel-go
defines it, since the wrapper does not ship it.

Known differences from cel-go, both at compile time and both visible (never a different
answer): a comparison of an int literal with a double literal (``1 < 1.5``) is refused, as
cel-go refuses it without its cross-type option; a list literal of mixed types (``[1, 'a']``)
is accepted, which Flux's homogeneous-literal option refuses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from conveyor.shared.errors import ConveyorError, PermanentError

MAX_EXPRESSION_LENGTH = 16 * 1024


class InvalidExpression(PermanentError):
    """An expression that does not parse, does not check, or does not give a bool."""

    reason = "InvalidCELExpression"


class EvaluationError(ConveyorError):
    """An expression that failed on its data (a missing key, a type mismatch at run time)."""

    reason = "CELEvaluationFailed"


def _equal(a: Any, b: Any) -> bool:
    """CEL's equality over plain values: a bool is never a number; numbers compare across
    int, uint and double."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and bool(a == b)


def _plain(values: Any) -> list[Any]:
    return [v.plain_value() if hasattr(v, "plain_value") else v for v in values]


def _contains(whole: Iterable[Any], part: Iterable[Any]) -> bool:
    items = _plain(whole)
    return all(any(_equal(x, y) for x in items) for y in _plain(part))


def _sets() -> Any:
    from cel_expr_python import cel

    lists = [cel.Type.List(cel.Type.DYN), cel.Type.List(cel.Type.DYN)]

    def decl(name: str, impl: Callable[[Any, Any], bool]) -> Any:
        overload = cel.Overload(f"{name}_list_list", cel.Type.BOOL, lists, impl=impl)
        return cel.FunctionDecl(f"sets.{name}", [overload])

    return cel.CelExtension(
        "sets",
        [
            decl("contains", _contains),
            decl("equivalent", lambda a, b: _contains(a, b) and _contains(b, a)),
            decl("intersects", lambda a, b: any(_contains(a, [y]) for y in _plain(b))),
        ],
    )


@lru_cache(maxsize=8)
def _env(variables: tuple[str, ...]) -> Any:
    from cel_expr_python import cel
    from cel_expr_python.ext import ext_encoders, ext_optional, ext_strings

    struct = cel.Type("google.protobuf.Struct")
    return cel.NewEnv(
        variables={name: struct for name in variables},
        extensions=[
            ext_strings.ExtStrings(),
            ext_optional.ExtOptional(),
            ext_encoders.ExtEncoders(),
            _sets(),
        ],
    )


def _go_json(value: Any) -> Any:
    """``value`` as Go's ``encoding/json`` hands it to cel-go: every number a double."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _go_json(v) for k, v in value.items()}
    if isinstance(value, Sequence):
        return [_go_json(v) for v in value]
    return value


class Expression:
    """A boolean CEL expression over struct variables, compiled and checked once."""

    def __init__(self, source: str, variables: Sequence[str]) -> None:
        self.source = source
        self.variables = tuple(variables)
        self._program = _compile(source, self.variables)

    def evaluate(self, data: Mapping[str, Any]) -> bool:
        """The expression's value on ``data`` (one JSON object per variable)."""
        from cel_expr_python import cel

        bound = {name: _go_json(data.get(name) or {}) for name in self.variables}
        try:
            result = self._program.eval(data=bound)
        except Exception as exc:  # the wrapper's own errors, e.g. a value it cannot convert
            raise EvaluationError(f"failed to evaluate the CEL expression '{self.source}'") from exc
        if result.type() == cel.Type.ERROR:
            raise EvaluationError(
                f"failed to evaluate the CEL expression '{self.source}': {result.value()}"
            )
        value = result.value()
        if not isinstance(value, bool):
            raise EvaluationError(
                f"failed to evaluate CEL expression as boolean: '{self.source}'"
            )
        return value


@lru_cache(maxsize=256)
def _compile(source: str, variables: tuple[str, ...]) -> Any:
    if len(source) > MAX_EXPRESSION_LENGTH:
        raise InvalidExpression(f"CEL expression over {MAX_EXPRESSION_LENGTH} characters")
    try:
        program = _env(variables).compile(source)
    except Exception as exc:  # the wrapper raises RuntimeError with the checker's issues
        issues = str(exc).removeprefix("INVALID_ARGUMENT: ")
        raise InvalidExpression(
            f"failed to parse the CEL expression '{source}': {issues}"
        ) from None
    from cel_expr_python import cel

    if program.return_type() != cel.Type.BOOL:
        raise InvalidExpression(
            f"CEL expression output type mismatch: expected bool, "
            f"got {program.return_type().name()}"
        )
    return program
