"""``conveyor reconcile``, ``suspend`` and ``resume``, as the ``flux`` CLI does them:

- reconcile: refuse a suspended object; (``--with-source``: its source first); set
  ``reconcile.fluxcd.io/requestedAt`` to now; wait until ``status.lastHandledReconcileAt``
  answers it, then for the outcome of that run; say so with flux's lines and flux's success
  message per kind; exit 1 with the object's message when it failed.
- suspend: ``spec.suspend: true``. resume: ``spec.suspend`` off, then (one object, or
  ``--wait``) wait until the object is Ready at its new generation.

One departure from flux, whose kstatus wait keeps waiting (until its timeout) while a failed
run is retried: a run that answered the request and failed (Ready=False, not Progressing) is
the answer, reported at once.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from conveyor.services.ctl.backends import Backend, NotFoundError, Obj
from conveyor.services.ctl.kinds import BY_NAME, CtlKind
from conveyor.services.ctl.output import Log, go_duration

WAIT, OK, FAILED = "wait", "ok", "failed"
RETRYING = "ProgressingWithRetry"  # Reconciling's reason while a failed run waits for its retry


def request_token(now: float | None = None) -> str:
    """The annotation's value as flux writes it: the time, RFC 3339 with nanoseconds."""
    ns = time.time_ns() if now is None else int(now * 1e9)
    seconds, fraction = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    digits = f"{fraction:09d}".rstrip("0")
    return f"{stamp}{'.' + digits if digits else ''}Z"


def _conditions(obj: Obj) -> dict[str, dict[str, Any]]:
    status = obj.get("status") or {}
    return {
        str(c.get("type")): c for c in status.get("conditions") or [] if isinstance(c, dict)
    }


def verdict(obj: Obj, token: str | None = None) -> tuple[str, str]:
    """Whether a run of ``obj`` ended (answering ``token``, when given) and how: (WAIT, ""),
    (OK, "") or (FAILED, the object's message)."""
    status = obj.get("status") or {}
    if token is not None and status.get("lastHandledReconcileAt") != token:
        return WAIT, ""
    conditions = _conditions(obj)
    stalled = conditions.get("Stalled")
    if stalled is not None and stalled.get("status") == "True":
        return FAILED, str(stalled.get("message", ""))
    ready = conditions.get("Ready")
    if ready is None:
        return WAIT, ""
    generation = (obj.get("metadata") or {}).get("generation")
    observed = ready.get("observedGeneration", status.get("observedGeneration"))
    if generation and observed is not None and observed != generation:
        return WAIT, ""  # a verdict on an older spec
    reconciling = conditions.get("Reconciling")
    if (
        reconciling is not None
        and reconciling.get("status") == "True"
        and reconciling.get("reason") != RETRYING
    ):
        return WAIT, ""  # a run is under way
    if ready.get("status") == "True":
        return OK, ""
    return FAILED, str(ready.get("message", ""))


def success_message(obj: Obj) -> str:
    """What flux says of each kind once it is reconciled."""
    status = obj.get("status") or {}
    kind = obj.get("kind")
    if kind == "GitRepository":
        return f"fetched revision {(status.get('artifact') or {}).get('revision', '')}"
    if kind == "ImageRepository":
        return f"scan fetched {(status.get('lastScanResult') or {}).get('tagCount', 0)} tags"
    if kind == "ImagePolicy":
        ref = status.get("latestRef") or {}
        digest = f"@{ref['digest']}" if ref.get("digest") else ""
        return f"selected ref {ref.get('name', '')}:{ref.get('tag', '')}{digest}"
    if kind == "ImageUpdateAutomation":
        ready = _conditions(obj).get("Ready")
        if ready is not None:
            return str(ready.get("message", ""))
        if status.get("lastAutomationRunTime"):
            return f"last run {status['lastAutomationRunTime']}"
        return "automation not yet run"
    if kind == "Kustomization":
        return f"applied revision {status.get('lastAppliedRevision', '')}"
    return f"{kind} reconciliation completed"


def _suspended(obj: Obj) -> bool:
    return (obj.get("spec") or {}).get("suspend") is True


def _source_of(kind: CtlKind, obj: Obj) -> tuple[str, str, str] | None:
    """(kind, namespace, name) of what ``--with-source`` reconciles first."""
    spec = obj.get("spec") or {}
    namespace = str((obj.get("metadata") or {}).get("namespace", ""))
    if kind.name in ("Kustomization", "ImageUpdateAutomation"):
        ref, ref_kind = spec.get("sourceRef") or {}, None
    elif kind.name == "ImagePolicy":
        ref, ref_kind = spec.get("imageRepositoryRef") or {}, "ImageRepository"
    else:
        return None
    return (
        str(ref_kind or ref.get("kind", "")),
        str(ref.get("namespace") or namespace),
        str(ref.get("name", "")),
    )


def _wait(
    backend: Backend, kind: CtlKind, namespace: str, name: str, token: str | None, timeout: float
) -> tuple[str, str, Obj | None]:
    deadline = time.monotonic() + timeout
    while True:
        obj = backend.get(kind, namespace, name)
        if obj is None:
            return FAILED, f"{kind.name} {namespace}/{name} was deleted", None
        state, message = verdict(obj, token)
        if state != WAIT:
            return state, message, obj
        if time.monotonic() >= deadline:
            return FAILED, (
                f"timeout waiting for {kind.name} {namespace}/{name} after "
                f"{go_duration(timeout)}: no run answered (is conveyor running, with its "
                f"{kind.service}? conveyor get {kind.singular} {name} -n {namespace})"
            ), obj
        time.sleep(backend.poll)


def reconcile(
    backend: Backend,
    kind: CtlKind,
    namespace: str,
    name: str,
    log: Log,
    *,
    with_source: bool = False,
    timeout: float = 300.0,
) -> int:
    obj = backend.get(kind, namespace, name)
    if obj is None:
        raise NotFoundError(
            f"{kind.name} object '{name}' not found in \"{namespace}\" namespace "
            f"(list them with: conveyor get {kind.singular} -A)"
        )
    if _suspended(obj):
        log.failure(
            f"{kind.name} {namespace}/{name} is suspended: resume it first "
            f"(conveyor resume {kind.singular} {name} -n {namespace})"
        )
        return 1
    if with_source:
        source = _source_of(kind, obj)
        if source is None:
            log.failure(f"--with-source: a {kind.name} has no source to reconcile")
            return 1
        source_kind = BY_NAME.get(source[0])
        if source_kind is None:
            log.failure(f"cannot reconcile source of kind {source[0]}")
            return 1
        code = reconcile(backend, source_kind, source[1], source[2], log, timeout=timeout)
        if code != 0:
            return code
    token = request_token()
    log.action(f"annotating {kind.name} {name} in {namespace} namespace")
    backend.request_reconcile(kind, namespace, name, token)
    log.success(f"{kind.name} annotated")
    log.waiting(f"waiting for {kind.name} reconciliation")
    state, message, done = _wait(backend, kind, namespace, name, token, timeout)
    if state != OK or done is None:
        log.failure(f"{kind.name} reconciliation failed: '{message}'")
        return 1
    log.success(success_message(done))
    return 0


def suspend(backend: Backend, kind: CtlKind, namespace: str, names: list[str], log: Log) -> int:
    failed = False
    for name in dict.fromkeys(names):
        if backend.get(kind, namespace, name) is None:
            log.failure(f"{kind.name} {name} not found in {namespace} namespace")
            failed = True
            continue
        log.action(f"suspending {kind.human} {name} in {namespace} namespace")
        backend.set_suspended(kind, namespace, name, True)
        log.success(f"{kind.human} suspended")
    return 1 if failed else 0


def resume(
    backend: Backend,
    kind: CtlKind,
    namespace: str,
    names: list[str],
    log: Log,
    *,
    wait: bool | None = None,
    timeout: float = 300.0,
) -> int:
    resumed: list[str] = []
    missing = False
    for name in dict.fromkeys(names):
        if backend.get(kind, namespace, name) is None:
            log.failure(f"{kind.name} object '{name}' not found in {namespace} namespace")
            missing = True
            continue
        log.action(f"resuming {kind.human} {name} in {namespace} namespace")
        backend.set_suspended(kind, namespace, name, False)
        log.success(f"{kind.human} resumed")
        resumed.append(name)
    if not (wait if wait is not None else len(names) == 1):
        return 1 if missing else 0
    failures = 0
    for name in sorted(resumed):
        log.waiting(f"waiting for {kind.name} reconciliation")
        state, message, obj = _wait(backend, kind, namespace, name, None, timeout)
        if state != OK or obj is None:
            log.failure(f"{kind.name} {name} reconciliation failed: {message}")
            failures += 1
            continue
        log.success(f"{kind.name} {name} reconciliation completed")
        log.success(success_message(obj))
    if failures:
        log.failure(f"reconciliation failed for {failures} {kind.name}(s)")
        return 1
    return 1 if missing else 0
