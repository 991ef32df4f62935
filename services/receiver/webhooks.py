"""Receiver: the webhook path of each Receiver and the check of each provider's request.

Pure functions: no FastAPI, no Redis. Flux's path is ``/hook/sha256(token + name + namespace)``.
``verify`` checks a request as notification-controller v1.9's ``validate`` does, type by type;
whatever it refuses (a bad signature or token, an event not in ``spec.events``, a body that
does not decode as Flux decodes it) Flux answers 400.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

from conveyor.services.receiver import gojson
from conveyor.services.receiver.googleid import InvalidToken, KeySet, check_token
from conveyor.shared.adapters.oci.reference import valid_repository, valid_tag
from conveyor.shared.errors import PermanentError


class Rejected(PermanentError):
    """A request Flux answers 400: not authentic, not decodable, or an event not listed."""

    reason = "WebhookRejected"


# The headers in which each provider names a delivery, as the providers document them:
# GitHub's "Delivery headers"; GitLab's X-Gitlab-Event-UUID and its Idempotency-Key (kept across
# retries); Sonatype's "Example Headers And Payloads" for Nexus Repository; Bitbucket Cloud's
# X-Request-UUID and Bitbucket Server's X-Request-Id. For Harbor, Docker Hub, Quay and ACR none
# is documented: only the body digest (if signed) names their deliveries.
DELIVERY_HEADERS: dict[str, tuple[str, ...]] = {
    "github": ("x-github-delivery",),
    "gitlab": ("x-gitlab-event-uuid", "idempotency-key"),
    "nexus": ("x-nexus-webhook-delivery",),
    "bitbucket": ("x-request-uuid", "x-request-id"),
}

# The types whose signature is an HMAC over the body: the same signed body twice is a replay.
BODY_SIGNED = frozenset({"generic-hmac", "github", "bitbucket", "nexus"})

# What Flux decodes each body into (its Go structs), to accept or refuse it.
_DOCKERHUB = {"push_data": {"tag": gojson.STRING}, "repository": {"repo_url": gojson.STRING}}
_QUAY = {"docker_url": gojson.STRING, "updated_tags": [gojson.STRING]}
_ACR = {"action": gojson.STRING, "target": {"repository": gojson.STRING, "tag": gojson.STRING}}
_NEXUS = {"action": gojson.STRING, "repositoryName": gojson.STRING}
_PUBSUB = {
    "message": {
        "data": gojson.STRING,
        "messageId": gojson.STRING,
        "publishTime": gojson.TIME,
        "subscription": gojson.STRING,
    }
}
_GCR_EVENT = {"action": gojson.STRING, "digest": gojson.STRING, "tag": gojson.STRING}


def webhook_path(token: str, name: str, namespace: str) -> str:
    digest = hashlib.sha256(f"{token}{name}{namespace}".encode()).hexdigest()
    return f"/hook/{digest}"


def _signature_ok(signature: str, token: str, body: bytes) -> bool:
    """go-github's ``ValidateSignature``: ``sha1=``, ``sha256=`` or ``sha512=`` (exactly so)
    and the hex HMAC of the body under the token."""
    algo, sep, given = signature.partition("=")
    digestmod = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}.get(
        algo
    )
    if digestmod is None or not sep:
        return False
    try:
        mac = bytes.fromhex(given) if re.fullmatch(r"(?:[0-9a-fA-F]{2})*", given) else None
    except ValueError:
        mac = None
    if mac is None:
        return False
    return hmac.compare_digest(hmac.new(token.encode(), body, digestmod).digest(), mac)


def _equal_fold(a: str, b: str) -> bool:
    """Go's ``strings.EqualFold``: equal under simple Unicode case folding."""
    return len(a) == len(b) and all(
        x == y or x.lower() == y.lower() or x.upper() == y.upper()
        for x, y in zip(a, b, strict=True)
    )


def _allow(event: str, events: list[str], what: str) -> None:
    if events and not any(_equal_fold(event, e) for e in events):
        raise Rejected(f"the {what} event {event[:100]!r} is not authorised")


_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_PARAMETER = re.compile(rf"\s*{_TOKEN}\s*=\s*(?:{_TOKEN}|\"(?:[^\"\\]|\\.)*\")\s*")


def media_type(value: str) -> str | None:
    """Go's ``mime.ParseMediaType``: the type, lower case, None when it does not parse."""
    kind, _, params = value.partition(";")
    kind = kind.strip().lower()
    if not re.fullmatch(rf"{_TOKEN}(?:/{_TOKEN})?", kind):
        return None
    parts = params.split(";") if params else []
    if any(p.strip() and not _PARAMETER.fullmatch(p) for p in parts):
        return None
    return kind


def is_json(content_type: str) -> bool:
    """Flux's ``isJSONContent``: a JSON body is decoded for the resource filters."""
    for value in content_type.split(","):
        kind = media_type(value)
        if kind is None:
            return False
        if kind == "application/json":
            return True
    return False


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _hub_payload(h: Mapping[str, str], token: str, body: bytes, what: str) -> None:
    """go-github's ``ValidatePayload``, which Flux uses for GitHub and Bitbucket."""
    signature = h.get("x-hub-signature-256") or h.get("x-hub-signature", "")
    kind = media_type(h.get("content-type", ""))
    if kind == "application/x-www-form-urlencoded":
        query = body.decode("utf-8", errors="replace")
        if any(";" in part or _BAD_ESCAPE.search(part) for part in query.split("&")):
            raise Rejected(f"the {what} payload is no form")
    elif kind != "application/json":
        raise Rejected(f"the {what} webhook request has an unsupported Content-Type")
    if not _signature_ok(signature, token, body):
        raise Rejected(f"the {what} signature header is invalid")


def _decodes(body: bytes, shape: Any, what: str, *, whole: bool = False) -> Any:
    try:
        value = gojson.unmarshal(body) if whole else gojson.decode_first(body)
        gojson.check(value, shape)
    except gojson.GoJSONError as exc:
        raise Rejected(f"cannot decode {what} webhook payload: {exc}") from None
    return value


def _go_base64(data: str) -> bytes:
    """Go's ``base64.StdEncoding.DecodeString`` as Flux calls it (its error ignored): what
    decodes before the first error."""
    data = data.replace("\r", "").replace("\n", "")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        prefix = re.match(r"[A-Za-z0-9+/]*", data)
        whole = len(prefix.group()) // 4 * 4 if prefix else 0
        return base64.b64decode(data[:whole]) if whole else b""


def _gcr(secret: Mapping[str, str], h: Mapping[str, str], body: bytes, keys: KeySet) -> bytes:
    email, audience = secret.get("email", ""), secret.get("audience", "")
    if not email:
        raise Rejected("invalid secret data: required field 'email' for GCR receiver")
    if not audience:
        raise Rejected("invalid secret data: required field 'audience' for GCR receiver")
    try:
        check_token(h.get("authorization", ""), email, audience, keys)
    except InvalidToken as exc:
        raise Rejected(f"cannot authenticate GCR request: {exc}") from None
    push = _decodes(body, _PUBSUB, "GCR")
    data = gojson.field(gojson.field(push, "message"), "data")
    event = _decodes(_go_base64(data or ""), _GCR_EVENT, "GCR", whole=True)
    fields = {name: gojson.field(event, name) or "" for name in _GCR_EVENT}
    return json.dumps(fields, separators=(",", ":")).encode()  # what Flux passes on


def verify(
    kind: str,
    secret: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    events: list[str],
    keys: KeySet,
) -> bytes:
    """Check a request to a Receiver of type ``kind`` whose Secret holds ``secret`` (``token``
    and, for ``gcr``, ``email`` and ``audience``), as Flux does. Returns the payload the
    resource filters and the push notification readers see (for ``gcr``, the registry's event
    unwrapped from the Pub/Sub message, as Flux passes it on). Raises Rejected (Flux: 400)."""
    h = {k.lower(): v for k, v in headers.items()}
    token = secret.get("token", "")
    if kind == "generic":
        pass
    elif kind == "generic-hmac":
        if not _signature_ok(h.get("x-signature", ""), token, body):
            raise Rejected("unable to validate HMAC signature")
    elif kind in ("github", "bitbucket"):
        what = "GitHub" if kind == "github" else "Bitbucket server"
        _hub_payload(h, token, body, what)
        _allow(h.get("x-github-event" if kind == "github" else "x-event-key", ""), events, what)
    elif kind == "gitlab":
        if not hmac.compare_digest(h.get("x-gitlab-token", "").encode(), token.encode()):
            raise Rejected("the X-Gitlab-Token header value does not match the receiver token")
        _allow(h.get("x-gitlab-event", ""), events, "GitLab")
    elif kind == "cdevents":
        from conveyor.services.receiver import cdevents  # jsonschema: for this type only

        try:
            cdevents.check(body)
        except cdevents.InvalidEvent as exc:
            raise Rejected(str(exc)) from None
        _allow(h.get("ce-type", ""), events, "CDEvent")
    elif kind == "harbor":
        if not hmac.compare_digest(h.get("authorization", "").encode(), token.encode()):
            raise Rejected("the Harbor Authorization header value does not match the token")
    elif kind == "nexus":
        signature = h.get("x-nexus-webhook-signature", "")
        if not signature:
            raise Rejected("the Nexus signature is missing from header")
        expected = hmac.new(token.encode(), body, hashlib.sha1).hexdigest()
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise Rejected("invalid Nexus signature")
        _decodes(body, _NEXUS, "Nexus", whole=True)
    elif kind in ("dockerhub", "quay", "acr"):
        shape = {"dockerhub": _DOCKERHUB, "quay": _QUAY, "acr": _ACR}[kind]
        _decodes(body, shape, {"dockerhub": "DockerHub", "quay": "Quay", "acr": "ACR"}[kind])
    elif kind == "gcr":
        return _gcr(secret, h, body, keys)
    else:
        raise Rejected(f"receiver type {kind!r} not supported")
    return body


def replay_keys(kind: str, headers: Mapping[str, str], body: bytes) -> list[str]:
    """What names this delivery to a Receiver of type ``kind``: the digest of its body when the
    signature covers the body, then each delivery id the provider sent. A delivery that shares
    any of them with a recent one is a replay."""
    h = {k.lower(): v for k, v in headers.items()}
    keys: list[str] = []
    if kind in BODY_SIGNED:
        keys.append("body:" + hashlib.sha256(body).hexdigest())
    for name in DELIVERY_HEADERS.get(kind, ()):
        value = h.get(name, "").strip()
        if value:
            keys.append(f"id:{name}:" + hashlib.sha256(value.encode()).hexdigest())
    if kind == "gcr":  # Pub/Sub delivers at least once: a redelivery has the same messageId
        try:
            message = gojson.field(gojson.decode_first(body), "message")
        except gojson.GoJSONError:
            message = None
        value = gojson.field(message, "messageId")
        if isinstance(value, str) and value.strip():
            keys.append("id:pubsub:" + hashlib.sha256(value.strip().encode()).hexdigest())
    return keys


MAX_PUSHED = 100  # (repository, tag) pairs read from one notification; more: scan everything

# repository path -> the tags pushed to it (empty: it changed, no tag known, e.g. a deletion)
Pushed = dict[str, set[str]]
_Pairs = list[tuple[Any, Any]]  # (repository, tag or None) as read, before validation


def _distribution(body: Any) -> _Pairs | None:
    """The Distribution registry's envelope: ``{"events": [{"action", "target": {...}}]}``."""
    events = body.get("events") if isinstance(body, dict) else None
    if not isinstance(events, list) or not all(
        isinstance(e, dict) and isinstance(e.get("target"), dict) for e in events
    ):
        return None
    out: _Pairs = []
    for event in events:
        target, action = event["target"], event.get("action")
        if action == "push" and target.get("tag") is not None:
            out.append((target.get("repository"), target.get("tag")))
        elif action == "delete":
            out.append((target.get("repository"), None))
    return out  # pulls and blob pushes name no new tag


def _harbor(body: Any) -> _Pairs | None:
    data = body.get("event_data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("repository"), dict):
        return None
    repository = data["repository"].get("repo_full_name")
    resources = data.get("resources")
    if body.get("type") not in ("PUSH_ARTIFACT", "pushImage") or not isinstance(resources, list):
        return [(repository, None)]
    return [(repository, r.get("tag") if isinstance(r, dict) else None) for r in resources]


def _dockerhub(body: Any) -> _Pairs | None:
    push = body.get("push_data") if isinstance(body, dict) else None
    repository = body.get("repository") if isinstance(body, dict) else None
    if not isinstance(push, dict) or not isinstance(repository, dict):
        return None
    return [(repository.get("repo_name"), push.get("tag"))]


def _quay(body: Any) -> _Pairs | None:
    if not isinstance(body, dict) or not isinstance(body.get("updated_tags"), list):
        return None
    return [(body.get("repository"), tag) for tag in body["updated_tags"]]


def _acr(body: Any) -> _Pairs | None:
    """Azure Container Registry's event: ``{"action", "target": {"repository", "tag"}}``."""
    target = body.get("target") if isinstance(body, dict) else None
    if not isinstance(target, dict):
        return None
    action, repository, tag = body.get("action"), target.get("repository"), target.get("tag")
    if action == "push":
        return [(repository, tag or None)]
    if action in ("delete", "untag"):
        return [(repository, None)]
    return None  # a Helm chart's event, or one this does not know


def _gcr_event(body: Any) -> _Pairs | None:
    """Artifact Registry's (and GCR's) event, as unwrapped from its Pub/Sub message:
    ``{"action": "INSERT", "digest": "host/path@sha256:…", "tag": "host/path:tag"}``."""
    if not isinstance(body, dict) or not isinstance(body.get("digest") or body.get("tag"), str):
        return None
    tag_ref, digest_ref = body.get("tag") or "", body.get("digest") or ""
    name, _, tag = tag_ref.rpartition(":") if tag_ref else ("", "", "")
    if not tag_ref or "/" in tag:
        name, tag = digest_ref.partition("@")[0], ""
    _, _, path = name.partition("/")  # the registry host first
    return [(path, tag if tag and body.get("action") == "INSERT" else None)]


_READERS = {
    "generic": _distribution,
    "generic-hmac": _distribution,
    "harbor": _harbor,
    "dockerhub": _dockerhub,
    "quay": _quay,
    "acr": _acr,
    "gcr": _gcr_event,
}


def pushed_tags(kind: str, body: bytes) -> Pushed | None:
    """What a registry's notification to a Receiver of type ``kind`` says was pushed: each
    repository path with its new tags. None when the body is no notification this knows, or
    names anything invalid or too much: then every target is scanned, as Flux does. Read as
    hostile input: the paths and tags must fit the OCI grammar."""
    reader = _READERS.get(kind)
    if reader is None:
        return None
    try:
        pairs = reader(json.loads(body))
    except (ValueError, RecursionError):
        return None
    if pairs is None or len(pairs) > MAX_PUSHED:
        return None
    out: Pushed = {}
    for repository, tag in pairs:
        if not valid_repository(repository) or (tag is not None and not valid_tag(tag)):
            return None
        out.setdefault(repository, set()).update([tag] if tag is not None else [])
    return out


def pushed_to(repository: str, pushed: Pushed) -> tuple[str, ...] | None:
    """The tags ``pushed`` announces for image ``repository`` (a path as in ``ImageRef``:
    Docker Hub's official images under ``library/``), () when it changed with no tag known,
    None when the notification does not name it."""
    for name in (repository, repository.removeprefix("library/")):
        if name in pushed:
            return tuple(sorted(pushed[name]))
    return None
