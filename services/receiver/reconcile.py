"""Receiver: its token, its webhook path in status, and the objects a webhook wakes."""

from __future__ import annotations

from conveyor.services.receiver.webhooks import Rejected, webhook_path
from conveyor.shared import fields
from conveyor.shared.errors import UnsupportedField, scrub
from conveyor.shared.models import Receiver
from conveyor.shared.runtime import Context
from conveyor.shared.status import ReceiverStatus


def receiver_token(receiver: Receiver, ctx: Context) -> str:
    spec = receiver.spec
    owner = f"Receiver {receiver.namespace}/{receiver.name}"
    secret = ctx.secret(receiver.namespace, spec.secret_ref.name, owner=owner)
    token = secret.text("token")
    if not token:
        raise Rejected(f"{owner}: secret {spec.secret_ref.name} has no 'token' key")
    return token


def refresh_receivers(ctx: Context) -> None:
    """Record each Receiver's webhook path (or why it has none) in its status."""
    for receiver in ctx.store.list_objects(Receiver):
        status = ctx.store.get_status(receiver.key, ReceiverStatus)
        try:
            fields.check(receiver.unsupported)  # not served: Stalled, naming the fields
        except UnsupportedField as exc:
            status.webhook_path = None
            status.mark_failed(
                exc.reason, ctx.redact(str(exc)), receiver.metadata.generation, stalled=True
            )
            ctx.store.put_status(receiver.key, status)
            continue
        try:
            path = webhook_path(receiver_token(receiver, ctx), receiver.name, receiver.namespace)
            status.webhook_path = path
            status.mark_ready(
                "Succeeded", f"Receiver initialized for path: {path}", receiver.metadata.generation
            )
        except (Rejected, Exception) as exc:
            status.mark_failed(
                getattr(exc, "reason", "Failed"),
                scrub(ctx.redact(str(exc))),
                receiver.metadata.generation,
                stalled=False,
            )
        ctx.store.put_status(receiver.key, status)


def targets_of(receiver: Receiver, ctx: Context) -> list[str]:
    """The keys of the objects a delivery to ``receiver`` wakes: each kind's keys are read
    once (no object is parsed), whatever the number of ``resources`` entries."""
    keys: dict[str, list[str]] = {}
    out: list[str] = []
    for ref in receiver.spec.resources:
        namespace = ref.namespace or receiver.namespace
        if ref.kind not in keys:
            keys[ref.kind] = ctx.store.keys(ref.kind)
        prefix = f"{ref.kind}/{namespace}/"
        out += [
            k for k in keys[ref.kind] if k.startswith(prefix) and ref.name in ("*", k[len(prefix):])
        ]
    return list(dict.fromkeys(out))
