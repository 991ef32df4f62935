"""``conveyor approvals [-n NS | -A] [--all] [-o table|json]``: the changes that wait for
approval (``conveyor.shared.approvals``); ``conveyor approve automation NAME [--id ID] [--as
NAME]`` and ``conveyor reject automation NAME [--id ID] [--as NAME]``: a vote on the one an
automation waits for (``--id``: only if it is still that one).

On conveyor's Redis the approver is ``--as``, else the user running the command; through a
status API (``--server``) it is the approver whose token ``CONVEYOR_APPROVALS_TOKEN`` holds. An
approval wakes the automation (its interval ticker queues it within a second): an approved
change is committed at once.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, TextIO

from conveyor.services.ctl.backends import (
    MAX_ANSWER_BYTES,
    ApiBackend,
    Backend,
    Split,
    StoreBackend,
)
from conveyor.services.ctl.kinds import BY_NAME, CtlKind, resolve
from conveyor.services.ctl.output import Log, human_duration, table
from conveyor.shared.errors import ConveyorError, UsageError

AUTOMATION = BY_NAME["ImageUpdateAutomation"]
WORDS = ("automation", "automations")
TOKEN = "CONVEYOR_APPROVALS_TOKEN"  # an approver's token, for the status API


def approval_kind(word: str | None) -> CtlKind:
    """The kind of ``conveyor approve|reject KIND``: only ImageUpdateAutomation's changes wait
    for approval."""
    if word is not None and word.lower() in WORDS:
        return AUTOMATION
    kind = resolve(word or "")
    if kind is not AUTOMATION:
        raise UsageError(
            f"only an ImageUpdateAutomation's changes wait for approval, a {kind.name}'s do "
            "not: use conveyor approve automation NAME"
        )
    return kind


def run(args: argparse.Namespace, backend: Backend, out: TextIO, log: Log) -> int:
    if isinstance(backend, Split):
        backend = backend.journal()  # a `conveyor run --from-cluster` here: its Redis
    if isinstance(backend, ApiBackend):
        return _over_api(args, backend, out, log)
    if not isinstance(backend, StoreBackend):
        raise UsageError(
            f"the approvals are in conveyor's Redis, which {backend.label} does not give: run "
            f"this where that Redis is reachable (`kubectl -n conveyor exec deploy/receiver -- "
            f"conveyor {args.command} ...`), give REDIS_URL, or use the status API "
            f"(--server URL with {TOKEN})"
        )
    if args.command == "approvals":
        return listing(backend, args, out, log)
    return cast(backend, args, log)


# --- on conveyor's Redis ---------------------------------------------------------------------


def _requires(store: Any, key: str) -> bool:
    """Whether the automation ``key`` exists and requires approvals (else its record is a
    leftover, not shown)."""
    from conveyor.shared.approvals import config_of
    from conveyor.shared.models import ImageUpdateAutomation

    obj = store.get_object(key, ImageUpdateAutomation)
    try:
        return obj is not None and config_of(obj) is not None
    except ConveyorError:
        return False


def listing(backend: StoreBackend, args: argparse.Namespace, out: TextIO, log: Log) -> int:
    from conveyor.shared import approvals

    store = backend.store
    found = [r for r in approvals.open_requests(store) if _requires(store, r.automation)]
    if args.all:
        found += approvals.closed_requests(store)
    namespace = None if args.all_namespaces else args.namespace
    now = time.time()
    rows = [r.wire(now) for r in found if namespace is None or r.namespace == namespace]
    return show(rows, namespace is None, args.output, out, log)


def show(rows: list[dict[str, Any]], namespaces: bool, output: str, out: TextIO,
         log: Log) -> int:
    """The requests (as the status API gives them) as a table, or JSON."""
    if output == "json":
        print(json.dumps(rows, indent=4), file=out)
        return 0
    if not rows:
        log.success("no change awaits approval")
        return 0
    now = time.time()
    header = ["name", "id", "state", "approvals", "expires", "change"]
    lines = []
    for row in rows:
        votes = row.get("approvals") or []
        count = f"{len(votes)}/{row.get('required')}"
        names = ",".join(str(v.get("by")) for v in votes)
        expires = _when(row.get("expires"))
        left = human_duration(expires - now) if row.get("state") in ("pending", "approved") \
            and expires > now else "-"
        change = ", ".join(
            f"{c.get('policy')} {c.get('oldValue')} → {c.get('newValue')}"
            for c in row.get("changes") or []
        )
        line = [str(row.get("name")), str(row.get("id")), str(row.get("state")),
                f"{count} {names}".strip(), left, change]
        lines.append([str(row.get("namespace")), *line] if namespaces else line)
    table(["namespace", *header] if namespaces else header, lines, out)
    return 0


def _when(text: Any) -> float:
    from datetime import datetime

    try:
        return datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except ValueError:
        return 0.0


def cast(backend: StoreBackend, args: argparse.Namespace, log: Log) -> int:
    from conveyor.shared import approvals
    from conveyor.shared.models import ImageUpdateAutomation

    store = backend.store
    key = approvals.automation_key(args.namespace, args.name)
    owner = f"ImageUpdateAutomation {args.namespace}/{args.name}"
    if store.get_object(key, ImageUpdateAutomation) is None:
        raise ConveyorError(
            f"ImageUpdateAutomation object '{args.name}' not found in \"{args.namespace}\" "
            "namespace (list them with: conveyor get imageupdateautomation -A)"
        )
    approve = args.command == "approve"
    by = args.as_ or getpass.getuser()
    after = approvals.vote(store, key, ident=args.id, by=by, via="cli", approve=approve,
                           now=time.time())
    store.make_due(key)  # its ticker queues it within a second
    _said(owner, after.id, after.summary(), after.state, len(after.approvals), after.required,
          by, approve, log)
    return 0


def _said(owner: str, ident: str, summary: str, state: str, count: int, required: int, by: str,
          approve: bool, log: Log) -> None:
    if not approve:
        log.success(f"{owner}: change {ident} rejected by {by}: {summary}; it is not committed")
    elif state == "approved":
        log.success(f"{owner}: change {ident} approved by {by} ({count}/{required}): "
                    f"{summary}; the automation commits it now")
    else:
        log.success(f"{owner}: change {ident} approved by {by} ({count}/{required}): {summary}; "
                    f"{required - count} more approval{'s' if required - count != 1 else ''} "
                    "needed")


# --- through a status API ----------------------------------------------------------------------


def _call(backend: ApiBackend, method: str, path: str) -> Any:
    token = os.environ.get(TOKEN, "").strip()
    if not token:
        raise UsageError(
            f"{backend.label} answers approvals to an approver only: put your token in {TOKEN}"
        )
    request = urllib.request.Request(
        backend.server + path, method=method, data=b"" if method == "POST" else None,
        headers={"Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read(MAX_ANSWER_BYTES))
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read(65536)).get("detail")
        except (ValueError, AttributeError, OSError):
            detail = None
        raise ConveyorError(f"{backend.label}: HTTP {exc.code}: {detail or exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise UsageError(f"{backend.label} does not answer ({exc}); is conveyor running?") from None


def _over_api(args: argparse.Namespace, backend: ApiBackend, out: TextIO, log: Log) -> int:
    if args.command == "approvals":
        if args.all:
            raise UsageError(f"--all (the closed requests): {backend.label} gives the open ones")
        rows = _call(backend, "GET", "/api/v1/approvals")
        namespace = None if args.all_namespaces else args.namespace
        rows = [r for r in rows if namespace is None or r.get("namespace") == namespace]
        return show(rows, namespace is None, args.output, out, log)
    if args.as_:
        raise UsageError(f"--as: through {backend.label} the approver is the token's")
    owner = f"ImageUpdateAutomation {args.namespace}/{args.name}"
    ident = args.id
    if ident is None:
        rows = _call(backend, "GET", "/api/v1/approvals")
        ident = next((r.get("id") for r in rows if r.get("namespace") == args.namespace
                      and r.get("name") == args.name), None)
        if not isinstance(ident, str):
            raise ConveyorError(f"{owner} has no change awaiting approval")
    path = f"/api/v1/approvals/{urllib.parse.quote(ident, safe='')}/{args.command}"
    after = _call(backend, "POST", path)
    votes = after.get("approvals") or []
    approve = args.command == "approve"
    by = str(votes[-1].get("by") if approve and votes else after.get("rejectedBy"))
    summary = ", ".join(f"{c.get('policy')} {c.get('oldValue')} → {c.get('newValue')}"
                        for c in after.get("changes") or [])
    _said(owner, ident, summary, str(after.get("state")), len(votes),
          int(after.get("required") or 0), by, approve, log)
    return 0
