"""The status API's approvals (``conveyor.shared.approvals``), each call authenticated:

- ``GET /api/v1/approvals``: the open requests of the automations whose approvers' Secret
  (``conveyor.dev/approvers-secret``) holds the bearer token;
- ``POST /api/v1/approvals/{id}/approve`` (or ``/reject``): a vote on that request, as the
  approver whose token it is (the Secret's key). 401 without a token of any approver, 403 for
  a token of another automation's approver, 404 for no such request, 409 for a vote that
  cannot count (expired, superseded, rejected, approved by that approver already);
- ``POST /api/v1/approvals/slack``: a Slack app's interaction (a button whose value is
  ``approve:<id>`` or ``reject:<id>``), as the Slack user who clicked it. The request must be
  signed as Slack signs it (``X-Slack-Signature``: ``v0=`` HMAC-SHA256 of
  ``v0:{X-Slack-Request-Timestamp}:{body}`` with the app's signing secret, from the Secret of
  the automation's ``conveyor.dev/slack-signing-secret``), at most 5 minutes old, and is
  taken once (a replay is refused).

Tokens and secrets are compared in constant time and never logged or answered. A vote wakes
the automation in the trace of the request (the image's): an approved change is committed at
once, a rejected one says so on Ready.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from conveyor.shared import approvals
from conveyor.shared.approvals import Refused
from conveyor.shared.errors import ConveyorError
from conveyor.shared.events import ReconcileRequested
from conveyor.shared.models import ImageUpdateAutomation
from conveyor.shared.runtime import Context, queue_reconcile
from conveyor.shared.secretrefs import APPROVERS_SECRET, SLACK_SIGNING_SECRET

SLACK_MAX_AGE = 5 * 60.0  # Slack's advice: a request older than this may be a replay
REPLAY_WINDOW = 2 * SLACK_MAX_AGE
MAX_HEADER = 4096

ReadBody = Callable[[Request], Awaitable[bytes]]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or len(value) > MAX_HEADER:
        return None
    return token.strip()


def _secret_data(obj: ImageUpdateAutomation, annotation: str, ctx: Context) -> dict[str, bytes]:
    """The data of the Secret ``annotation`` names on ``obj`` ({} when it names none, or one
    that is not there)."""
    name = obj.metadata.annotations.get(annotation)
    if not name:
        return {}
    try:
        return dict(ctx.secret(obj.namespace, name, owner=obj.key).data)
    except ConveyorError:
        return {}


def approvers_of(obj: ImageUpdateAutomation, ctx: Context) -> dict[str, bytes]:
    """The automation's approvers: name -> token (names as approvers are named, tokens long
    enough)."""
    found = {}
    for name, value in _secret_data(obj, APPROVERS_SECRET, ctx).items():
        token = value.strip()
        if approvals.APPROVER.fullmatch(name) and len(token) >= approvals.MIN_TOKEN:
            found[name] = token
    return found


def holder(token: str, approvers: dict[str, bytes]) -> str | None:
    """The approver whose token ``token`` is, compared with every one in constant time."""
    given = token.encode()
    found = None
    for name, secret in approvers.items():
        if hmac.compare_digest(given, secret):
            found = name
    return found


def _automations(ctx: Context) -> list[ImageUpdateAutomation]:
    return ctx.store.list_objects(ImageUpdateAutomation)


def identities(token: str, ctx: Context) -> dict[str, str]:
    """automation key -> the approver ``token`` is, for each automation it opens."""
    out = {}
    for obj in _automations(ctx):
        name = holder(token, approvers_of(obj, ctx))
        if name is not None:
            out[obj.key] = name
    return out


def wake(ctx: Context, request: approvals.Request) -> None:
    """Run the automation of ``request`` now, in the request's trace."""
    trace: dict[str, Any] = {}
    if request.trace_id:
        trace = {"trace_id": request.trace_id, "origin_at": request.origin_at}
    event = ReconcileRequested(kind="ImageUpdateAutomation", namespace=request.namespace,
                               name=request.name, reason="approval", **trace)
    queue_reconcile(ctx.store, ctx.dispatcher, event)


def _vote(ctx: Context, key: str, ident: str, by: str, via: str, approve: bool
         ) -> approvals.Request:
    """A vote on the request ``ident`` of the automation ``key``; the automation woken."""
    after = approvals.vote(ctx.store, key, ident=ident, by=by, via=via, approve=approve,
                           now=time.time())
    wake(ctx, after)
    return after


def mount(app: FastAPI, ctx: Context, read_body: ReadBody) -> None:
    """Add the approvals' endpoints to the receiver's ``app``."""

    @app.get("/api/v1/approvals")
    def pending(request: Request) -> list[dict[str, Any]]:
        token = bearer(request)
        if token is None:
            raise _unauthorized("a bearer token of an approver is required")
        allowed = identities(token, ctx)
        if not allowed:
            raise _unauthorized("not the token of an approver")
        now = time.time()
        return [r.wire(now) for r in approvals.open_requests(ctx.store)
                if r.automation in allowed]

    @app.post("/api/v1/approvals/slack")
    async def slack(request: Request) -> JSONResponse:
        body = await read_body(request)
        headers = {k.lower(): v for k, v in request.headers.items()}
        answer, status = await run_in_threadpool(slack_interaction, ctx, headers, body)
        return JSONResponse(answer, status_code=status)

    @app.post("/api/v1/approvals/{ident}/{action}")
    def decide(ident: str, action: str, request: Request) -> dict[str, Any]:
        if action not in ("approve", "reject"):
            raise HTTPException(404, "the actions are approve and reject")
        token = bearer(request)
        if token is None:
            raise _unauthorized("a bearer token of an approver is required")
        allowed = identities(token, ctx)
        if not allowed:
            raise _unauthorized("not the token of an approver")
        if not approvals.REQUEST_ID.fullmatch(ident):
            raise HTTPException(404, "no such change")
        found = approvals.find(ctx.store, ident)
        key = found.automation if found is not None else next(
            (r.automation for r in approvals.closed_requests(ctx.store) if r.id == ident), None
        )
        if key is None:
            raise HTTPException(404, f"no change {ident} awaits approval")
        if key not in allowed:
            raise HTTPException(403, f"not an approver of {key}")
        try:
            after = _vote(ctx, key, ident, allowed[key], "api", action == "approve")
        except Refused as exc:
            raise HTTPException(409, exc.message) from None
        return after.wire(time.time())


def _signing_secrets(ctx: Context) -> dict[str, tuple[bytes, set[str] | None]]:
    """automation key -> its Slack app's signing secret and the Slack users who may approve
    (None: any user of the workspace)."""
    out: dict[str, tuple[bytes, set[str] | None]] = {}
    for obj in _automations(ctx):
        data = _secret_data(obj, SLACK_SIGNING_SECRET, ctx)
        secret = data.get(approvals.SIGNING_SECRET_KEY, b"").strip()
        if not secret:
            continue
        users = data.get(approvals.SLACK_USERS_KEY)
        allowed = None
        if users is not None:
            allowed = {u.strip() for u in users.decode(errors="replace").split(",") if u.strip()}
        out[obj.key] = (secret, allowed)
    return out


def slack_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """What Slack sends as ``X-Slack-Signature`` for ``body`` sent at ``timestamp``."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret, base, hashlib.sha256).hexdigest()


def slack_interaction(
    ctx: Context, headers: dict[str, str], body: bytes, now: float | None = None
) -> tuple[dict[str, Any], int]:
    """A Slack interaction (module docstring): the answer and its HTTP status."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not timestamp.isdigit() or len(timestamp) > 12 or not signature.startswith("v0="):
        return {"error": "not signed as Slack signs"}, 401
    if abs((time.time() if now is None else now) - int(timestamp)) > SLACK_MAX_AGE:
        return {"error": "the request's timestamp is more than 5 minutes away"}, 401
    keys = _signing_secrets(ctx)
    matched = set()
    for key, (secret, _) in keys.items():  # every one, in constant time each
        if hmac.compare_digest(slack_signature(secret, timestamp, body).encode(),
                               signature.encode(errors="replace")):
            matched.add(key)
    if not matched:
        return {"error": "bad signature"}, 401
    if not ctx.store.claim_once(f"slack:{hashlib.sha256(signature.encode()).hexdigest()}",
                                REPLAY_WINDOW):
        return {"error": "this request was taken already"}, 409
    action, ident, user, user_id = _interaction(body)
    if action is None or ident is None or user is None:
        return {"error": "not an approval button's interaction"}, 400
    found = approvals.find(ctx.store, ident)
    if found is None:
        return _said(f"change {ident} awaits no approval (superseded, expired or done)"), 200
    if found.automation not in matched:
        return {"error": f"not signed by the Slack app of {found.automation}"}, 403
    allowed = keys[found.automation][1]
    if allowed is not None and user not in allowed and user_id not in allowed:
        return _said(f"{user} may not approve changes of {found.automation}"), 200
    try:
        after = _vote(ctx, found.automation, ident, user, "slack", action == "approve")
    except Refused as exc:
        return _said(exc.message), 200
    verb = "approved" if action == "approve" else "rejected"
    count = f" ({len(after.approvals)}/{after.required})" if action == "approve" else ""
    return _said(f"change {ident} {verb} by {user}{count}: {after.summary()}"), 200


def _said(text: str) -> dict[str, Any]:
    """Slack's answer to an interaction: a message to the user who clicked."""
    return {"response_type": "ephemeral", "replace_original": False, "text": text}


def _interaction(body: bytes) -> tuple[str | None, str | None, str | None, str | None]:
    """The action (approve, reject), the request id, the approver and the Slack user id of an
    interaction's form body (``payload=<json>``); Nones where it has none."""
    try:
        form = urllib.parse.parse_qs(body.decode(), max_num_fields=20, strict_parsing=True)
        payload = json.loads(form["payload"][0])
    except (UnicodeDecodeError, ValueError, KeyError, IndexError):
        return None, None, None, None
    if not isinstance(payload, dict):
        return None, None, None, None
    actions = payload.get("actions")
    value = actions[0].get("value") if isinstance(actions, list) and actions and isinstance(
        actions[0], dict) else None
    action, _, ident = str(value or "").partition(":")
    found = payload.get("user")
    user: dict[str, Any] = found if isinstance(found, dict) else {}
    user_id = str(user.get("id") or "")
    name = next((str(n) for n in (user.get("username"), user.get("name"), user_id)
                 if n and approvals.APPROVER.fullmatch(str(n))), None)
    if action not in ("approve", "reject") or not approvals.REQUEST_ID.fullmatch(ident):
        return None, None, name, user_id or None
    return action, ident, name, user_id or None

