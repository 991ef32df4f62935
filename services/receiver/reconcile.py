"""Receiver: its token, its webhook path in status, and the objects a webhook wakes."""

from __future__ import annotations

from conveyor.services.receiver.webhooks import Rejected, webhook_path
from conveyor.shared.errors import scrub
from conveyor.shared.models import FluxObject, Receiver
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


def targets_of(receiver: Receiver, ctx: Context) -> list[FluxObject]:
    out: list[FluxObject] = []
    for ref in receiver.spec.resources:
        namespace = ref.namespace or receiver.namespace
        for obj in ctx.store.list_objects(ref.kind):
            if obj.namespace == namespace and ref.name in ("*", obj.name):
                out.append(obj)
    return out
