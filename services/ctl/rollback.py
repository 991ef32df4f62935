"""``conveyor rollback automation NAME [--to TAG] [-n NS]``: put the previous image of an
ImageUpdateAutomation back by hand, and hold it there (suspended, as ``conveyor suspend``
leaves it) until ``conveyor resume``.

Without ``--to``: the values from before the automation's last commit (as the git-committer
recorded it); with ``--to TAG``: that tag, for each image its last commit changed. It is the
git-committer's own rollback run (``conveyor.shared.rollback``: the checkout, setters, a commit
saying why, the push as the automation pushes), run in this process on conveyor's Redis as a
worker runs it (the object's lock, its status, its notices, the events it sends); the commit
is printed. The tags it replaces are marked failed: no policy chooses them again until
``--clear`` forgets the marks of the automation's policies (and asks them to choose again).

It needs the store itself (the Secrets to clone and push with): a status API (read-only) or a
cluster alone is refused, saying where to run it.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, TextIO

from conveyor.services.ctl.automations import AUTOMATION, automation_kind, stored_automation
from conveyor.services.ctl.backends import Backend, StoreBackend, Where
from conveyor.services.ctl.kinds import BY_NAME, CtlKind
from conveyor.services.ctl.output import Log
from conveyor.services.ctl.reconcile import request_token
from conveyor.shared.errors import UsageError

if TYPE_CHECKING:
    from conveyor.shared.models import ImageUpdateAutomation
    from conveyor.shared.store import Store

POLICY = BY_NAME["ImagePolicy"]
JOURNAL_READ = 2000


def rollback_kind(word: str | None) -> CtlKind:
    """The kind of ``conveyor rollback KIND``: automations only."""
    return automation_kind(
        word,
        "conveyor rollback puts back what an ImageUpdateAutomation committed; a {kind} commits "
        "nothing: use conveyor rollback automation NAME",
    )


def rollback(
    backend: Backend,
    where: Where,
    namespace: str,
    name: str,
    to: str | None,
    clear: bool,
    out: TextIO,
    log: Log,
) -> int:
    stored, store, obj = stored_automation(
        backend, where, "rollback", "what the automation pushed, the Secrets to push with",
        namespace, name,
    )
    from conveyor.shared.rollback import TAG

    if clear:
        return _clear(backend, store, obj, log)
    if to is not None and not TAG.fullmatch(to):
        raise UsageError(f"--to: {to[:130]!r} is not an image tag")
    code = _run(stored, store, where, obj, to, out, log)
    if code != 0:
        return code
    log.action(f"suspending {AUTOMATION.human} {name} in {namespace} namespace")
    backend.set_suspended(AUTOMATION, namespace, name, True)
    log.success(
        f"{AUTOMATION.human} suspended: it holds this rollback until `conveyor resume "
        f"{AUTOMATION.singular} {name} -n {namespace}`"
    )
    return 0


def _run(
    stored: StoreBackend,
    store: Store,
    where: Where,
    obj: ImageUpdateAutomation,
    to: str | None,
    out: TextIO,
    log: Log,
) -> int:
    """The git-committer's rollback run of ``obj``, here; 0 when it committed or had nothing
    to commit."""
    from conveyor.services.git_committer.reconcile import STAGE
    from conveyor.services.git_committer.rollback import COMMITTED, NOT_NEEDED
    from conveyor.shared.bus import CeleryDispatcher, configure
    from conveyor.shared.events import RollbackRequested
    from conveyor.shared.notices import Notice
    from conveyor.shared.rollback import pushes_of
    from conveyor.shared.runtime import Context, Settings, handle

    owner = f"ImageUpdateAutomation {obj.namespace}/{obj.name}"
    last = next((p for p in pushes_of(store, [obj.key])[obj.key] if not p.rollback), None)
    event = RollbackRequested(namespace=obj.namespace, name=obj.name, to=to, manual=True)
    if last is not None and last.trace_id:  # in the trace of the image it takes back
        event = event.model_copy(update={"trace_id": last.trace_id})
    settings = Settings.from_environment(os.environ, data_dir=where.data_dir)
    ctx = Context(store, CeleryDispatcher(configure(stored.url)), settings)
    log.action(f"rolling back {owner}" + (f" to {to}" if to else ""))
    started = time.time()
    handle(STAGE, event.to_message(), ctx)
    said = [
        Notice.from_entry(e) for e in store.journal(JOURNAL_READ)
        if e.get("type") == "Notice" and e.get("trace_id") == event.trace_id
        and e.get("kind") == obj.kind and e.get("namespace") == obj.namespace
        and e.get("name") == obj.name and float(e.get("emitted_at", 0)) >= started
    ]
    done = next((n for n in said if n.reason == COMMITTED), None)
    if done is not None:
        revision = next(iter(done.metadata.values()), "")
        print(revision, file=out)
        log.success(ctx.redact(done.message))
        return 0
    if any(n.reason == NOT_NEEDED for n in said):
        log.success(f"nothing to roll back: the files of {owner} hold those values already")
        return 0
    ready = store.get_status(obj.key).ready
    why = f"{ready.reason}: {ready.message}" if ready is not None else "it did not run"
    log.failure(f"{owner}: nothing rolled back: {ctx.redact(why)}")
    return 1


def _clear(backend: Backend, store: Store, obj: ImageUpdateAutomation, log: Log) -> int:
    """Forget the failed marks of the policies ``obj``'s files name, and ask each to choose
    again."""
    from conveyor.shared.rollback import clear_failed

    policies = sorted(store.markers_of(obj.key))
    cleared = clear_failed(store, policies)
    if not cleared:
        log.success(f"no tag is marked failed for the ImagePolicies of ImageUpdateAutomation "
                    f"{obj.namespace}/{obj.name}")
        return 0
    for key, tags in cleared.items():
        _, namespace, name = key.split("/", 2)
        log.success(f"ImagePolicy {namespace}/{name}: no longer marked failed: {', '.join(tags)}")
        if backend.get(POLICY, namespace, name) is not None:
            backend.request_reconcile(POLICY, namespace, name, request_token())
    return 0
