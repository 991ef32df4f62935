"""A CDEvent checked as Flux's ``cdevents`` Receiver checks it: cdevents/sdk-go v0.5.0's
``v04.NewFromJsonBytes`` then ``api.Validate``.

- the body is one JSON object; ``context.type`` names an event of CDEvents spec v0.4
  (``dev.cdevents.<subject>.<predicate>.<version>``, the version the spec gives it) or a custom
  one (``dev.cdeventsx.<tool>-<subject>.<predicate>.<version>``);
- the event is read into the SDK's struct and written out again, and that is what the spec's
  JSON schema sees: unknown fields are dropped (names match ignoring case, as Go's), a missing
  required field is its zero value (``""``, the zero time, an empty ``content``), an empty
  optional string or list is left out; the schema's ``format`` keywords are not asserted (the
  SDK's validator does not assert them);
- then the SDK's struct tags: each ``source`` parses as a URI reference, ``artifactId`` where
  the SDK tags it is a package URL, and a ``context.schemaUri`` names a custom schema that the
  controller never loads, so an event that sets one is refused.

The URI-reference and package-URL checks are the grammar's main rules (Go's ``url.Parse``
refuses control characters, bad ``%`` escapes and a colon in a scheme-less first segment;
packageurl-go wants ``pkg:``, a type and a name), not every corner of those parsers.
"""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from conveyor.services.receiver import gojson
from conveyor.services.receiver.cdevents_schemas import SCHEMAS

_BASE = "https://cdevents.dev/0.4.1/schema/"
_STANDARD = re.compile(r"^dev\.cdevents\.([a-z]+)\.([a-z]+)\.(.*)$")
_CUSTOM = re.compile(r"^dev\.cdeventsx\.([a-z]+)-([a-z]+)\.([a-z]+)\.(.*)$")
_ZERO_TIME = "0001-01-01T00:00:00Z"
_VALUE_STRUCTS = ("context", "subject", "content")  # Go struct values, not pointers
# Event types whose subject.content.artifactId the SDK validates as a package URL.
_PURL_ARTIFACT = frozenset(
    {
        "build.finished",
        "incident.detected",
        "incident.reported",
        "incident.resolved",
        "service.deployed",
        "service.rolledback",
        "service.upgraded",
    }
)


class InvalidEvent(ValueError):
    pass


def _types() -> dict[str, str]:
    """Each v0.4 event type (with its version) -> the schema that validates it."""
    out: dict[str, str] = {}
    for url, schema in SCHEMAS.items():
        context = schema.get("properties", {}).get("context", {})
        for value in context.get("properties", {}).get("type", {}).get("enum", []):
            out[value] = url
    return out


TYPES = _types()
_REGISTRY: Registry[Any] = Registry().with_resources(
    (url, Resource.from_contents(schema)) for url, schema in SCHEMAS.items()
)


def _render(value: Any, schema: Any) -> Any:
    """``value`` as the SDK's struct writes it back (see the module's docstring)."""
    closed = isinstance(schema, dict) and schema.get("additionalProperties") is False
    if not closed or "properties" not in schema or not isinstance(value, dict):
        return value  # an interface{} or a polymorphic value: kept as read
    properties: dict[str, Any] = schema["properties"]
    required: list[str] = schema.get("required", [])
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = key if key in properties else next(
            (p for p in properties if p.casefold() == key.casefold()), None
        )
        if name is None or item is None:
            continue  # dropped, or Go's zero value (filled in below when required)
        inner = properties[name]
        kind = inner.get("type") if isinstance(inner, dict) else None
        if name not in required and ((kind == "string" and item == "") or item == []):
            continue  # omitempty
        out[name] = _render(item, inner)
    for name in required:
        if name not in out:
            out[name] = _zero(name, properties.get(name, {}))
    return out


def _zero(name: str, schema: Any) -> Any:
    kind = schema.get("type") if isinstance(schema, dict) else None
    if name == "timestamp":
        return _ZERO_TIME
    if kind == "object":
        if name in _VALUE_STRUCTS and schema.get("additionalProperties") is False:
            return _render({}, schema)
        return None  # a nil pointer or an empty interface
    return None if kind == "array" else ""


_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _uri_reference(value: Any) -> bool:
    if not isinstance(value, str):
        return True  # the schema reports the type
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value) or _ESCAPE.search(value):
        return False
    first = value.split("/", 1)[0]
    scheme, colon, _ = first.partition(":")
    # a colon in the first segment needs a scheme before it (Go: "missing protocol scheme")
    return not colon or re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme) is not None


def _purl(value: Any) -> bool:
    if not isinstance(value, str) or not value.startswith("pkg:"):
        return False
    rest = value[4:].lstrip("/").split("#", 1)[0].split("?", 1)[0]
    parts = [p for p in rest.split("/") if p]
    if len(parts) < 2:
        return False
    kind, name = parts[0], parts[-1].split("@", 1)[0]
    valid_kind = re.fullmatch(r"[A-Za-z.+-][A-Za-z0-9.+-]*", kind) is not None
    return valid_kind and bool(name)


def check(body: bytes) -> None:
    """Raise InvalidEvent unless ``body`` is a CDEvent the SDK reads and validates."""
    try:
        event = gojson.unmarshal(body)
    except gojson.GoJSONError as exc:
        raise InvalidEvent(f"unable to validate CDEvent event: {exc}") from None
    if not isinstance(event, dict):
        raise InvalidEvent("unable to validate CDEvent event: not a JSON object")
    context = gojson.field(event, "context")
    kind = gojson.field(context, "type")
    if not isinstance(kind, str) or not kind:
        raise InvalidEvent("unable to validate CDEvent event: no context.type")
    custom = _CUSTOM.match(kind)
    if custom is None and _STANDARD.match(kind) is None:
        raise InvalidEvent(f"unable to validate CDEvent event: cannot parse event type {kind}")
    url = _BASE + "custom" if custom else TYPES.get(kind)
    if url is None:
        raise InvalidEvent(f"unable to validate CDEvent event: unknown event type {kind}")
    schema = SCHEMAS[url]
    try:
        gojson.check(context, {"timestamp": gojson.TIME})
    except gojson.GoJSONError as exc:
        raise InvalidEvent(f"unable to validate CDEvent event: {exc}") from None
    rendered = _render(event, schema)
    subject = rendered.get("subject") or {}
    content = subject.get("content") if isinstance(subject, dict) else None
    sources = [rendered["context"].get("source"), subject.get("source")]
    if not all(_uri_reference(s) for s in sources if s is not None):
        raise InvalidEvent("unable to validate CDEvent event: source is no URI reference")
    short = ".".join(kind.split(".")[2:4])
    if not custom and short in _PURL_ARTIFACT:
        artifact = content.get("artifactId", "") if isinstance(content, dict) else ""
        if not _purl(artifact):
            raise InvalidEvent("unable to validate CDEvent event: artifactId is no package URL")
    validator = Draft202012Validator(schema, registry=_REGISTRY)
    error = next(iter(validator.iter_errors(rendered)), None)
    if error is not None:
        raise InvalidEvent(f"unable to validate CDEvent event: {_describe(error)}")
    if rendered["context"].get("schemaUri"):
        raise InvalidEvent(
            "unable to validate CDEvent event: schema with id "
            f"{rendered['context']['schemaUri']} could not be found in the local registry"
        )


def _describe(error: ValidationError) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"{where}: {error.message[:200]}"
