"""The receiver: webhooks in, ReconcileRequested out; the status API; metrics."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response

from conveyor.services.receiver.reconcile import receiver_token, refresh_receivers, targets_of
from conveyor.services.receiver.webhooks import Rejected, verify, webhook_path
from conveyor.shared.bus import publish
from conveyor.shared.events import ReconcileRequested
from conveyor.shared.kinds import REPORTED
from conveyor.shared.models import Receiver
from conveyor.shared.runtime import Context


def create_app(ctx: Context) -> FastAPI:
    """The receiver's API on ``ctx``'s store; webhooks publish through ``ctx.dispatcher``."""
    app = FastAPI(title="conveyor receiver", version="0.1.0")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        ctx.store.redis.ping()
        return {"status": "ok"}

    @app.get("/api/v1/objects")
    def objects() -> list[dict[str, Any]]:
        refresh_receivers(ctx)
        return [
            {
                "kind": o.kind,
                "namespace": o.namespace,
                "name": o.name,
                "status": ctx.store.get_status(o.key).wire(),
            }
            for kind in REPORTED
            for o in ctx.store.list_objects(kind.name)
        ]

    @app.get("/api/v1/objects/{kind}/{namespace}/{name}")
    def one(kind: str, namespace: str, name: str) -> dict[str, Any]:
        obj = ctx.store.get_object(f"{kind}/{namespace}/{name}")
        if obj is None or kind == "Secret":
            raise HTTPException(404, f"{kind} {namespace}/{name} not found")
        return {
            "kind": kind,
            "namespace": namespace,
            "name": name,
            "spec": obj.spec.wire(),
            "status": ctx.store.get_status(obj.key).wire(),
        }

    @app.get("/api/v1/events")
    def events(limit: int = 100) -> list[dict[str, Any]]:
        return ctx.store.journal(min(limit, 1000))

    @app.get("/metrics")
    def metrics() -> Response:
        lines = ["# TYPE conveyor_object_ready gauge"]
        for kind in REPORTED:
            for obj in ctx.store.list_objects(kind.name):
                ready = ctx.store.get_status(obj.key).ready
                value = 1 if ready is not None and ready.status == "True" else 0
                lines.append(
                    f'conveyor_object_ready{{kind="{kind.name}",namespace="{obj.namespace}",'
                    f'name="{obj.name}"}} {value}'
                )
        return Response("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")

    @app.post("/hook/{digest}")
    async def hook(digest: str, request: Request) -> dict[str, Any]:
        body = await request.body()
        path = f"/hook/{digest}"
        for receiver in ctx.store.list_objects(Receiver):
            spec = receiver.spec
            try:
                token = receiver_token(receiver, ctx)
            except Exception:
                continue
            if not hmac.compare_digest(
                webhook_path(token, receiver.name, receiver.namespace), path
            ):
                continue
            if spec.suspend:
                raise HTTPException(503, "receiver is suspended")
            try:
                wanted = verify(spec.type, token, dict(request.headers), body, spec.events)
            except Rejected as exc:
                raise HTTPException(401, str(exc)) from exc
            if not wanted:
                return {"accepted": [], "ignored": True}
            accepted = []
            for obj in targets_of(receiver, ctx):
                event = ReconcileRequested(
                    kind=obj.kind, namespace=obj.namespace, name=obj.name, reason="webhook"
                )
                publish(ctx.dispatcher, event)
                accepted.append(obj.key)
            return {"accepted": accepted}
        raise HTTPException(404, "no receiver for this path")

    return app
