"""Receiver: the webhook path of each Receiver and the check of each provider's signature.

Pure functions: no FastAPI, no Redis. Flux's path is ``/hook/sha256(token + name + namespace)``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

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
