"""Receiver: the webhook path of each Receiver and the check of each provider's signature.

Pure functions: no FastAPI, no Redis. Flux's path is ``/hook/sha256(token + name + namespace)``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from conveyor.shared.adapters.oci.reference import valid_repository, valid_tag
from conveyor.shared.errors import PermanentError


class Rejected(PermanentError):
    reason = "WebhookRejected"


# The headers in which each provider names a delivery, as the providers document them:
# GitHub's "Delivery headers"; GitLab's X-Gitlab-Event-UUID and its Idempotency-Key (kept across
# retries); Sonatype's "Example Headers And Payloads" for Nexus Repository. For Harbor, Docker
# Hub and Quay none is documented: only the body digest (if signed) names their deliveries.
DELIVERY_HEADERS: dict[str, tuple[str, ...]] = {
    "github": ("x-github-delivery",),
    "gitlab": ("x-gitlab-event-uuid", "idempotency-key"),
    "nexus": ("x-nexus-webhook-delivery",),
}

# The types whose signature is an HMAC over the body: the same signed body twice is a replay.
BODY_SIGNED = frozenset({"generic-hmac", "github", "nexus"})


def webhook_path(token: str, name: str, namespace: str) -> str:
    digest = hashlib.sha256(f"{token}{name}{namespace}".encode()).hexdigest()
    return f"/hook/{digest}"


def _hmac_ok(signature: str, token: str, body: bytes) -> bool:
    algo, _, given = signature.partition("=")
    digestmod = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}.get(
        algo.lower()
    )
    if digestmod is None or not given:
        return False
    expected = hmac.new(token.encode(), body, digestmod).hexdigest()
    return hmac.compare_digest(expected, given.lower())


def verify(
    kind: str, token: str, headers: Mapping[str, str], body: bytes, events: list[str]
) -> bool:
    """Check a request against a Receiver of type ``kind``.

    Returns False for a request that is authentic but not for us (an event type the Receiver
    does not list, GitHub's ping); raises Rejected for one that is not authentic.
    """
    h = {k.lower(): v for k, v in headers.items()}
    if kind == "generic":
        return True
    if kind == "generic-hmac":
        if not _hmac_ok(h.get("x-signature", ""), token, body):
            raise Rejected("invalid X-Signature")
        return True
    if kind == "github":
        signature = h.get("x-hub-signature-256") or h.get("x-hub-signature", "")
        if not _hmac_ok(signature, token, body):
            raise Rejected("invalid X-Hub-Signature-256")
        event = h.get("x-github-event", "")
        if event == "ping":
            return False
        return not events or event in events
    if kind == "gitlab":
        if not hmac.compare_digest(h.get("x-gitlab-token", ""), token):
            raise Rejected("invalid X-Gitlab-Token")
        event = h.get("x-gitlab-event", "")
        return not events or event in events
    if kind == "harbor":
        if not hmac.compare_digest(h.get("authorization", ""), token):
            raise Rejected("invalid Authorization")
        return True
    if kind == "nexus":
        expected = hmac.new(token.encode(), body, hashlib.sha1).hexdigest()
        if not hmac.compare_digest(expected, h.get("x-nexus-webhook-signature", "")):
            raise Rejected("invalid X-Nexus-Webhook-Signature")
        return True
    if kind in ("dockerhub", "quay"):
        return True  # these providers do not sign; the secret path is the credential
    raise Rejected(f"unsupported receiver type {kind!r}")


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


_READERS = {
    "generic": _distribution,
    "generic-hmac": _distribution,
    "harbor": _harbor,
    "dockerhub": _dockerhub,
    "quay": _quay,
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
