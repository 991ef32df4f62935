"""The receiver: webhooks in, ReconcileRequested out; the status API; metrics."""

from __future__ import annotations

import hmac
import json
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse

from conveyor.services.receiver import approvals
from conveyor.services.receiver.filters import (
    RequestError,
    compile_filters,
    request_data,
    resource_data,
)
from conveyor.services.receiver.googleid import GoogleCertificates, KeySet
from conveyor.services.receiver.page import status_page
from conveyor.services.receiver.reconcile import (
    Accept,
    check_spec,
    receiver_secret,
    refresh_receivers,
    targets_of,
)
from conveyor.services.receiver.webhooks import (
    Pushed,
    Rejected,
    pushed_tags,
    pushed_to,
    replay_keys,
    verify,
    webhook_path,
)
from conveyor.shared.adapters.oci.reference import parse_image
from conveyor.shared.errors import ConveyorError, InvalidSpec, scrub
from conveyor.shared.events import ReconcileRequested
from conveyor.shared.kinds import IMAGE_REPOSITORY, REPORTED
from conveyor.shared.models import FluxObject, ImageRepository, Receiver
from conveyor.shared.runtime import Context, queue_reconcile

MAX_BODY_BYTES = 1024 * 1024
REPLAY_WINDOW_SECONDS = 10 * 60.0  # a delivery seen this recently triggers nothing again


def scrubbed(value: Any) -> Any:
    """``value`` (JSON data) with ``user:password@`` removed from the URLs in its strings."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrubbed(k): scrubbed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrubbed(v) for v in value]
    return value


async def read_body(request: Request) -> bytes:
    """The request's body; 413 as soon as it is known to exceed MAX_BODY_BYTES, from its
    Content-Length or from what arrived, without reading any further."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise HTTPException(400, "invalid Content-Length") from None
        if size > MAX_BODY_BYTES:
            raise HTTPException(413, f"body over {MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > MAX_BODY_BYTES:
            raise HTTPException(413, f"body over {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def image_wakes(ctx: Context, pushed: Pushed) -> dict[str, tuple[str, ...] | None]:
    """For each ImageRepository, what a notification that ``pushed`` means to it: the tags to
    take in, () to scan it, None to leave it (its repository is not named)."""
    out: dict[str, tuple[str, ...] | None] = {}
    for obj in ctx.store.list_objects(ImageRepository):
        try:
            out[obj.key] = pushed_to(parse_image(obj.spec.image).repository, pushed)
        except InvalidSpec:
            out[obj.key] = ()  # its own run reports what is wrong with it
    return out


def filter_of(spec: Any, req: dict[str, Any]) -> Accept:
    """The Receiver's CEL filters as one decision per object (both must accept it)."""
    top, per = compile_filters(spec)

    def accept(index: int, obj: FluxObject, api_version: str) -> bool:
        data = {"res": resource_data(obj, api_version), "req": req}
        return all(e.evaluate(data) for e in (top, per[index]) if e is not None)

    return accept


def create_app(ctx: Context, google_keys: KeySet | None = None) -> FastAPI:
    """The receiver's API on ``ctx``'s store; webhooks publish through ``ctx.dispatcher``.
    ``google_keys``: where a ``gcr`` Receiver finds Google's token signing keys (Google's
    published certificates unless given)."""
    app = FastAPI(title="conveyor receiver", version="0.1.0")
    keys = google_keys if google_keys is not None else GoogleCertificates()

    @app.get("/", response_class=HTMLResponse)
    def page() -> HTMLResponse:
        """The status page: objects by pipeline, the last traces (no script, no build)."""
        return HTMLResponse(status_page(ctx.store))

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        ctx.store.redis.ping()
        return {"status": "ok"}

    @app.get("/api/v1/objects")
    def objects() -> JSONResponse:
        """Every object with its status: one read per kind and one for all the statuses, as
        stored (JSON, never parsed into models), in a response FastAPI need not encode."""
        refresh_receivers(ctx)
        found = [(kind, o) for kind in REPORTED for o in ctx.store.list_objects(kind.name)]
        raws = ctx.store.raw_statuses([o.key for _, o in found])
        return JSONResponse([
            {
                "kind": o.kind,
                "namespace": o.namespace,
                "name": o.name,
                "apiVersion": o.api_version,
                "generation": o.metadata.generation,
                "spec": scrubbed(o.spec.wire()),  # `conveyor get --server`: SUSPENDED, -o json
                "status": scrubbed(json.loads(raw) if raw else kind.status().wire()),
            }
            for (kind, o), raw in zip(found, raws, strict=True)
        ])

    @app.get("/api/v1/objects/{kind}/{namespace}/{name}")
    def one(kind: str, namespace: str, name: str) -> dict[str, Any]:
        obj = ctx.store.get_object(f"{kind}/{namespace}/{name}")
        if obj is None or kind == "Secret":
            raise HTTPException(404, f"{kind} {namespace}/{name} not found")
        return {
            "kind": kind,
            "namespace": namespace,
            "name": name,
            "apiVersion": obj.api_version,
            "generation": obj.metadata.generation,
            "spec": scrubbed(obj.spec.wire()),
            "status": scrubbed(ctx.store.get_status(obj.key).wire()),
        }

    @app.get("/api/v1/events")
    def events(limit: int = 100) -> list[dict[str, Any]]:
        return [scrubbed(event) for event in ctx.store.journal(min(limit, 10_000))]

    @app.get("/metrics")
    def metrics() -> Response:
        from conveyor.services.receiver.metrics import exposition  # prometheus-client: here only

        body, content_type = exposition(ctx.store)
        return Response(body, media_type=content_type)

    @app.post("/hook/{digest}", response_model=None)
    async def hook(digest: str, request: Request) -> dict[str, Any] | JSONResponse:
        """Flux's answers: 404 for no Receiver, 503 for one suspended or not ready, 413 for a
        body over the limit, 400 for a request the Receiver's type refuses, 500 when an object
        could not be woken (the others are), else 200."""
        path = f"/hook/{digest}"
        for receiver in ctx.store.list_objects(Receiver):
            spec = receiver.spec
            if receiver.unsupported:
                continue  # a Receiver with a field conveyor refuses serves no path
            try:
                secret = receiver_secret(receiver, ctx)
            except Exception:
                continue
            if not hmac.compare_digest(
                webhook_path(secret["token"], receiver.name, receiver.namespace), path
            ):
                continue
            if spec.suspend:
                raise HTTPException(503, "receiver is suspended")
            try:
                check_spec(receiver)
            except ConveyorError:
                raise HTTPException(503, "receiver is not ready") from None
            body = await read_body(request)
            headers = dict(request.headers)
            try:
                payload = await run_in_threadpool(
                    verify, spec.type, secret, headers, body, spec.events, keys
                )
            except Rejected as exc:
                raise HTTPException(400, scrub(ctx.redact(str(exc)))) from exc
            accept: Accept | None = None
            if spec.resource_filter or any(r.filter for r in spec.resources):
                try:
                    req = request_data(headers.get("content-type", ""), payload)
                except RequestError as exc:
                    return JSONResponse({"accepted": [], "errors": [str(exc)]}, status_code=500)
                accept = filter_of(spec, req)
            # Only now, the request being authentic: a forgery must not use up a delivery id.
            # The body's digest first: a replay under a new id then claims nothing.
            claims = replay_keys(spec.type, request.headers, body)
            if not all(
                ctx.store.claim_once(f"webhook:{receiver.key}:{key}", REPLAY_WINDOW_SECONDS)
                for key in claims
            ):
                return {"accepted": [], "duplicate": True}
            # A registry's push notification wakes only the ImageRepositories it names, with
            # the tags it announces; anything else wakes every target, as in Flux.
            pushed = pushed_tags(spec.type, payload)
            images = image_wakes(ctx, pushed) if pushed is not None else {}
            targets, errors = targets_of(receiver, ctx, accept)
            accepted = []
            for key in targets:
                kind, namespace, name = key.split("/", 2)
                tags: tuple[str, ...] | None = ()
                if pushed is not None and kind == IMAGE_REPOSITORY.name:
                    tags = images.get(key, ())
                if tags is None:
                    continue
                event = ReconcileRequested(
                    kind=kind, namespace=namespace, name=name, reason="webhook", tags=tags
                )
                queue_reconcile(ctx.store, ctx.dispatcher, event)  # merged with one queued
                accepted.append(key)
            if errors:
                return JSONResponse({"accepted": accepted, "errors": errors}, status_code=500)
            return {"accepted": accepted}
        raise HTTPException(404, "no receiver for this path")

    approvals.mount(app, ctx, read_body)  # /api/v1/approvals: authenticated
    return app
