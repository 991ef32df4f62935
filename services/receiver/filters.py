"""A Receiver's ``spec.resourceFilter`` and each ``spec.resources[].filter``: CEL expressions
over ``res`` (the resource's metadata, as Flux reads a ``PartialObjectMetadata``) and ``req``
(the request's JSON body), as notification-controller v1.9 evaluates them.

Both filters stack: a resource is woken when every expression set returns true. The body is
read for them only when one is set and only when it is JSON (``Content-Type``
``application/json``, else ``req`` is ``{}``); a JSON body that is no object fails the request,
as an expression that fails on a resource does (Flux: 500).
"""

from __future__ import annotations

from typing import Any

from conveyor.services.receiver import gojson
from conveyor.services.receiver.webhooks import is_json
from conveyor.shared.adapters.cel import Expression, InvalidExpression
from conveyor.shared.models import FluxObject, ReceiverSpec

VARIABLES = ("res", "req")


class RequestError(ValueError):
    pass


def compile_filters(spec: ReceiverSpec) -> tuple[Expression | None, list[Expression | None]]:
    """The Receiver's top-level filter and one per resource entry, compiled and checked;
    raises InvalidExpression naming the one that is not valid, as Flux's reconcile does."""
    top = None
    if spec.resource_filter:
        try:
            top = Expression(spec.resource_filter, VARIABLES)
        except InvalidExpression as exc:
            raise InvalidExpression(f"invalid resourceFilter expression: {exc}") from None
    per: list[Expression | None] = []
    for index, ref in enumerate(spec.resources):
        try:
            per.append(Expression(ref.filter, VARIABLES) if ref.filter else None)
        except InvalidExpression as exc:
            raise InvalidExpression(
                f"invalid filter expression for resources[{index}] (kind={ref.kind!r}, "
                f"name={ref.name!r}): {exc}"
            ) from None
    return top, per


def request_data(content_type: str, payload: bytes) -> dict[str, Any]:
    """``req``: the JSON object of the body, or {} for a body that is not JSON."""
    if not is_json(content_type):
        return {}
    try:
        value = gojson.decode_first(payload)
    except gojson.GoJSONError as exc:
        raise RequestError(f"failed to parse request body as JSON: {exc}") from None
    if value is not None and not isinstance(value, dict):
        raise RequestError("failed to parse request body as JSON: not an object")
    return value or {}


def resource_data(obj: FluxObject, api_version: str) -> dict[str, Any]:
    """``res``: the object's metadata as Flux serializes a ``PartialObjectMetadata``
    (labels and annotations left out when empty)."""
    return {"apiVersion": api_version, "kind": obj.kind, "metadata": obj.object_meta()}
