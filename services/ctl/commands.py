"""The Day-2 verbs from the parsed command line: where conveyor is (``Where``), which kind,
which namespace; then one call into the verb's module. Errors end here: a ConveyorError is
flux's ``✗`` line and exit 1 (a UsageError goes up to the CLI: exit 2)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from conveyor.services.ctl.backends import Backend, Where, connect
from conveyor.services.ctl.kinds import CtlKind, resolve
from conveyor.services.ctl.output import Log
from conveyor.shared.errors import ConveyorError, UsageError


def default_data_dir() -> Path:
    """As ``conveyor.shared.runtime.default_data_dir`` (not imported: it loads Celery)."""
    return Path.home() / ".cache" / "conveyor" / "data"


def where_of(args: argparse.Namespace) -> Where:
    """Flags first, then the environment (as ``Settings.from_environment`` reads it)."""
    env = os.environ
    data = getattr(args, "data", None) or env.get("CONVEYOR_DATA")
    kubeconfig = env.get("KUBECONFIG") or None
    return Where(
        data_dir=Path(data) if data else default_data_dir(),
        redis_url=getattr(args, "redis", None) or env.get("REDIS_URL") or None,
        server=getattr(args, "server", None),
        from_cluster=bool(getattr(args, "from_cluster", False)),
        kubeconfig=kubeconfig,
        in_cluster=not kubeconfig and bool(env.get("KUBERNETES_SERVICE_HOST")),
    )


def _namespace(args: argparse.Namespace) -> str | None:
    return None if getattr(args, "all_namespaces", False) else str(args.namespace)


def _timeout(args: argparse.Namespace) -> float:
    from conveyor.shared.models import parse_duration

    try:
        return parse_duration(args.timeout)
    except ValueError as exc:
        raise UsageError(f"--timeout: {exc}") from None


def _kind(args: argparse.Namespace) -> CtlKind | None:
    word = getattr(args, "kind", None)
    if args.command == "rollback":  # automations only
        from conveyor.services.ctl.rollback import rollback_kind

        return rollback_kind(word)
    if args.command == "preview":  # its own words, and one kind only
        from conveyor.services.ctl.preview import preview_kind

        return preview_kind(word)
    if args.command in ("approve", "reject"):  # automations only
        from conveyor.services.ctl.approvals import approval_kind

        return approval_kind(word)
    return None if word is None or word.lower() == "all" else resolve(word)


def run(args: argparse.Namespace) -> int:
    log = Log(sys.stderr)
    try:
        kind = _kind(args)  # a misspelt kind is said before anything is looked up
        backend = connect(where_of(args))
        return _dispatch(args, backend, kind, log)
    except UsageError:
        raise
    except ConveyorError as exc:
        log.failure(str(exc))
        return 1
    except BrokenPipeError:  # `conveyor get | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _dispatch(args: argparse.Namespace, backend: Backend, kind: CtlKind | None, log: Log) -> int:
    out = sys.stdout
    command = args.command
    if command == "get":
        from conveyor.services.ctl.get import get, watch

        if args.watch:
            if kind is None:
                raise UsageError("--watch: expected a single resource type, but found all")
            return watch(backend, kind, args.name, _namespace(args), args.output, out,
                         no_header=args.no_header)
        return get(backend, kind, args.name, _namespace(args), args.output, out, log,
                   no_header=args.no_header)
    if command == "events":
        from conveyor.services.ctl.events import events

        return events(backend, _namespace(args), args.for_, out, log, watch=args.watch)
    if command == "tree":
        from conveyor.services.ctl.tree import tree

        return tree(backend, args.namespace, args.name, args.output, out, compact=args.compact)
    if command == "rollback":
        from conveyor.services.ctl.rollback import rollback

        return rollback(backend, where_of(args), args.namespace, args.name, args.to, args.clear,
                        out, log)
    if command == "trace":
        from conveyor.services.ctl.trace import trace

        return trace(backend, args.image, args.output, out, log)
    if command == "preview":
        from conveyor.services.ctl.preview import preview

        return preview(backend, where_of(args), args.namespace, args.name, args.output, out, log)
    if command in ("approvals", "approve", "reject"):
        from conveyor.services.ctl.approvals import run as approvals

        return approvals(args, backend, out, log)
    from conveyor.services.ctl import reconcile

    assert kind is not None  # the parser requires one
    if command == "reconcile":
        return reconcile.reconcile(backend, kind, args.namespace, args.name, log,
                                   with_source=args.with_source, timeout=_timeout(args))
    if command == "suspend":
        return reconcile.suspend(backend, kind, args.namespace, args.names, log)
    if command == "resume":
        return reconcile.resume(backend, kind, args.namespace, args.names, log,
                                wait=args.wait, timeout=_timeout(args))
    raise UsageError(f"unknown command {command}")
