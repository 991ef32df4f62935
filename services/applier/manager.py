"""Server-side apply of a set of objects, as fluxcd/pkg/ssa's ResourceManager does it.

``apply`` validates, then applies, in two stages:

1. Every object is checked with a server-side dry-run apply, in parallel. If any fails, nothing
   of the set is applied, and the error names each failing object with the API server's
   reason and message. The only objects that cannot be checked up front are those that need a
   CRD or a Namespace the same set creates: they are checked right after that first stage
   is applied (Flux checks each stage just before applying it).
2. Cluster definitions (CRDs, Namespaces, ClusterRoles) are applied first and the CRDs waited
   for (``Established``); then everything else, in Flux's kind order (ConfigMaps and Secrets
   before the Deployments that mount them), each kind's objects in parallel.

The dry-run result is compared with the live object (labels, annotations, everything outside
metadata and status): equal means *unchanged* and is not applied (no write, no new
resourceVersion); otherwise *created* or *configured*. An object whose live state provably
would not change (``objects.apply_is_noop``: conveyor's managed fields are exactly the desired
fields, holding the desired values) is *unchanged* without a dry run: that keeps the interval's
no-change re-apply to one LIST per kind and namespace. Such an object is therefore not
re-validated against admission rules added since it was applied. When that leaves one object to
check, and it is one applied before, its check is the apply itself (``plan``'s ``lone``): an
image update is one request, not two. An object whose apply fails on an
immutable field is deleted and created again when ``force`` is set (or it carries
``kustomize.toolkit.fluxcd.io/force: enabled``); without force that is a validation error.

``prune`` deletes what an old inventory has and the new set does not, but only objects that
carry this Kustomization's owner labels and are not annotated ``prune: disabled``. ``wait``
polls objects' health (``healthCheckExprs`` for the kinds they cover, else ``health.compute``)
until all are Current or the timeout passes; ``wait_deleted`` polls until objects are gone.

Live objects are read with one LIST per kind and namespace, selected by the owner labels
(objects this Kustomization applied before); a GET only for an object the dry-run says exists
but the list did not have (an object someone else created first).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from conveyor.services.applier import health
from conveyor.services.applier.errors import ApplyFailed, HealthCheckFailed, PruneFailed
from conveyor.services.applier.healthchecks import NO_CHECKS, Checks
from conveyor.services.applier.objects import (
    FORCE_SELECTOR,
    IF_NOT_PRESENT,
    NAME_LABEL,
    NAMESPACE_LABEL,
    SKIP_APPLY,
    SKIP_PRUNE,
    Obj,
    any_in_metadata,
    apply_is_noop,
    apply_order,
    crd_defines,
    has_drifted,
    is_cluster_definition,
    is_crd,
    ref_of,
    split_api_version,
)
from conveyor.shared.adapters.kube import FIELD_MANAGER, ApiRejected, ApiUnavailable
from conveyor.shared.errors import TransientError
from conveyor.shared.status import ObjRef

log = logging.getLogger("conveyor.applier")

CONCURRENCY = 8
POLL_INTERVAL = 0.5
MAX_ERRORS_SHOWN = 10

CREATED, CONFIGURED, UNCHANGED, SKIPPED, DELETED = (
    "created",
    "configured",
    "unchanged",
    "skipped",
    "deleted",
)

T = TypeVar("T")
R = TypeVar("R")


class Resource(Protocol):
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str: ...


class ClusterAPI(Protocol):
    """What the manager needs of ``cluster.Cluster`` (tests can hand it another)."""

    def resource_for(self, api_version: str, kind: str) -> Any: ...
    def get(self, res: Any, namespace: str | None, name: str) -> Obj | None: ...
    def list(self, res: Any, namespace: str | None, label_selector: str = "") -> list[Obj]: ...
    def apply(self, res: Any, obj: Obj, *, dry_run: bool = False, force: bool = True) -> Obj: ...
    def delete(self, res: Any, namespace: str | None, name: str) -> bool: ...


@dataclass
class Change:
    """One object of a change set: what was (or would be) done to it."""

    ref: ObjRef
    version: str
    action: str
    live: Obj | None = None  # the object before (None: did not exist)
    result: Obj | None = None  # the dry-run result: the object after
    note: str = ""

    def __str__(self) -> str:
        return f"{self.ref} {self.action}" + (f" ({self.note})" if self.note else "")


@dataclass
class _Item:
    obj: Obj
    ref: ObjRef
    version: str
    res: Any = None
    live: Obj | None = None
    listed: bool = False  # ``live`` comes from the owner-label LIST (None there = not ours)
    dry: Obj | None = None
    action: str = ""
    applied: bool = False  # the check was the apply itself (a lone change: see ``plan``)
    recreate: bool = False
    deferred: str = ""  # why it can only be checked after the first stage
    error: str = ""
    transient: bool = False  # the error was the API server not answering


@dataclass
class Plan:
    """The outcome of validation: every object's planned action, or the errors."""

    items: list[_Item] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return [i.error for i in self.items if i.error]

    def changes(self) -> list[Change]:
        out = []
        for i in self.items:
            note = "recreated: immutable field changed" if i.recreate else i.deferred
            out.append(Change(i.ref, i.version, i.action, i.live, i.dry, note=note))
        return out


def _error_text(exc: ApiRejected | ApiUnavailable) -> str:
    """`` (Reason): message`` as the API server gave them."""
    if exc.status:
        return f" ({exc.api_reason or exc.status}): {exc.api_message}"
    return f": {exc.api_message}"


def _listing(done: list[str], limit: int = MAX_ERRORS_SHOWN) -> str:
    more = f" and {len(done) - limit} more" if len(done) > limit else ""
    return ", ".join(done[:limit]) + more


class Manager:
    def __init__(
        self,
        cluster: ClusterAPI,
        owner_name: str,
        owner_namespace: str,
        *,
        concurrency: int = CONCURRENCY,
        noop_proofs: bool = True,
    ) -> None:
        self.cluster = cluster
        self.owner = {NAME_LABEL: owner_name, NAMESPACE_LABEL: owner_namespace}
        self.concurrency = concurrency
        self.noop_proofs = noop_proofs  # False: dry-run every object, as Flux does

    # --- helpers ---------------------------------------------------------------------------

    def _map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if len(items) <= 1:
            return [fn(i) for i in items]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(items))) as pool:
            return list(pool.map(fn, items))

    @property
    def selector(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.owner.items())

    def _items(self, objects: Iterable[Obj]) -> list[_Item]:
        items = []
        for obj in objects:
            ref = ref_of(obj)
            items.append(_Item(obj=obj, ref=ref, version=split_api_version(obj["apiVersion"])[1]))
        items.sort(key=lambda i: apply_order(i.ref))
        return items

    def _resolve(self, items: list[_Item], crd_kinds: set[tuple[str, str]]) -> None:
        """Discovery for each item; defers kinds that a CRD of this set will define."""
        for item in items:
            if item.deferred or item.error:
                continue
            try:
                item.res = self.cluster.resource_for(item.obj["apiVersion"], item.ref.kind)
            except (ApiRejected, ApiUnavailable) as exc:
                item.error = f"{item.ref} discovery failed{_error_text(exc)}"
                item.transient = isinstance(exc, ApiUnavailable)
                continue
            if item.res is None:
                if (item.ref.group, item.ref.kind) in crd_kinds:
                    item.deferred = "its CRD is applied first"
                else:
                    item.error = (
                        f'{item.ref} dry-run failed: no matches for kind "{item.ref.kind}" '
                        f'in version "{item.obj["apiVersion"]}"'
                    )
            elif item.res.namespaced and not item.ref.namespace:
                item.error = f"{item.ref} namespace not specified"
            elif not item.res.namespaced and item.ref.namespace:
                # a cluster-scoped object has no namespace, whatever the build said
                item.obj = {**item.obj, "metadata": dict(item.obj["metadata"])}
                item.obj["metadata"].pop("namespace", None)
                item.ref = ref_of(item.obj)

    def _read_live(self, items: list[_Item]) -> None:
        """One LIST per (kind, namespace) of the objects this owner applied before."""
        groups: dict[tuple[str, str, str], list[_Item]] = {}
        for item in items:
            if item.res is not None and not item.error:
                key = (item.res.api_version, item.res.kind, item.ref.namespace)
                groups.setdefault(key, []).append(item)

        def read(key: tuple[str, str, str]) -> None:
            members = groups[key]
            res = members[0].res
            try:
                found = self.cluster.list(res, key[2] or None, self.selector)
            except (ApiRejected, ApiUnavailable):
                return  # no list permission, say: each object is read on its own when needed
            by_name = {o.get("metadata", {}).get("name"): o for o in found}
            for item in members:
                item.live = by_name.get(item.ref.name)
                item.listed = True

        self._map(read, list(groups))

    def _live(self, item: _Item) -> Obj | None:
        if item.live is None and item.res is not None:
            item.live = self.cluster.get(item.res, item.ref.namespace or None, item.ref.name)
        return item.live

    def _decided(self, item: _Item) -> bool:
        """Whether ``item`` needs no dry run: an error, deferred, skipped, or provably
        unchanged (its action is then set)."""
        if item.error or item.deferred or item.res is None:
            return True
        if any_in_metadata(item.obj, SKIP_APPLY) or any_in_metadata(item.live, SKIP_APPLY):
            item.action = SKIPPED
            return True
        if self.noop_proofs and item.listed and apply_is_noop(item.obj, item.live, FIELD_MANAGER):
            item.action = UNCHANGED  # provably: no need to ask the API server
            return True
        return False

    def _check(self, item: _Item, force: bool, namespaces: set[str], commit: bool = False) -> None:
        """Dry-run one object and decide its action (or its error); with ``commit``, apply it
        for real instead (its result is read as the dry run's would be)."""
        if self._decided(item):
            return
        try:
            item.dry = self.cluster.apply(item.res, item.obj, dry_run=not commit)
        except (ApiRejected, ApiUnavailable) as exc:
            self._dry_run_failed(item, exc, force, namespaces)
            return
        item.applied = commit
        try:
            if item.dry.get("metadata", {}).get("resourceVersion") and item.live is None:
                self._live(item)
        except (ApiRejected, ApiUnavailable) as exc:
            item.error = f"{item.ref} query failed{_error_text(exc)}"
            item.transient = isinstance(exc, ApiUnavailable)
            return
        exists = item.live is not None
        if any_in_metadata(item.live, SKIP_APPLY) or (
            exists and any_in_metadata(item.obj, IF_NOT_PRESENT)
        ):
            item.action = SKIPPED
        elif not has_drifted(item.live, item.dry):
            item.action = UNCHANGED
        else:
            item.action = CONFIGURED if item.live is not None else CREATED

    def _dry_run_failed(
        self, item: _Item, exc: ApiRejected | ApiUnavailable, force: bool, namespaces: set[str]
    ) -> None:
        ns = item.ref.namespace
        if (
            exc.status == 404
            and ns in namespaces
            and f'namespaces "{ns}" not found' in exc.api_message
        ):
            item.deferred = f"its Namespace {ns} is applied first"
            return
        try:
            live = self._live(item)
        except (ApiRejected, ApiUnavailable):
            live = None
        if any_in_metadata(live, SKIP_APPLY):
            item.action = SKIPPED
            return
        if live is not None and any_in_metadata(item.obj, IF_NOT_PRESENT):
            item.action = SKIPPED
            return
        wants_force = (
            force
            or any_in_metadata(item.obj, FORCE_SELECTOR)
            or any_in_metadata(live, FORCE_SELECTOR)
        )
        if exc.immutable and live is not None and wants_force:
            item.recreate = True
            item.action = CREATED
            return
        hint = ""
        if exc.immutable and live is not None:
            hint = (
                " (set spec.force: true, or annotate the object "
                "kustomize.toolkit.fluxcd.io/force: enabled, to recreate it)"
            )
        item.error = f"{item.ref} dry-run failed{_error_text(exc)}{hint}"
        item.transient = isinstance(exc, ApiUnavailable)

    def plan(self, objects: Iterable[Obj], *, force: bool = False, lone: bool = False) -> Plan:
        """Validate ``objects`` with a server-side dry run and decide what applying would do.

        With ``lone`` (``apply`` sets it), when exactly one object needs the API server's word
        and it is one this owner applied before (listed live), it is applied at once instead
        of dry-run and then applied: with every other object unchanged or skipped, a failing
        apply still leaves the set as it was, and an apply that changes nothing writes
        nothing (the API server keeps the resourceVersion), so the change set is the same
        with one request fewer: an image update's usual case."""
        items = self._items(objects)
        crd_kinds = {crd_defines(i.obj) for i in items if is_crd(i.obj)}
        namespaces = {i.ref.name for i in items if i.ref.kind == "Namespace" and not i.ref.group}
        self._resolve(items, crd_kinds)
        self._read_live(items)
        undecided = [i for i in items if not self._decided(i)]
        commit = (
            lone
            and self.noop_proofs
            and len(undecided) == 1
            and undecided[0].listed
            and undecided[0].live is not None
            and not any_in_metadata(undecided[0].obj, IF_NOT_PRESENT)
            and not any(i.error or i.deferred for i in items)
        )
        self._map(lambda i: self._check(i, force, namespaces, commit), undecided)
        return Plan(items)

    # --- apply -----------------------------------------------------------------------------

    def _apply_one(self, item: _Item) -> None:
        if item.applied:  # the plan's check was this apply
            return
        if item.recreate:
            self._recreate(item)
        self.cluster.apply(item.res, item.obj)

    def _recreate(self, item: _Item, timeout: float = 60.0) -> None:
        self.cluster.delete(item.res, item.ref.namespace or None, item.ref.name)
        deadline = time.monotonic() + timeout
        while self.cluster.get(item.res, item.ref.namespace or None, item.ref.name) is not None:
            if time.monotonic() > deadline:
                raise ApplyFailed(
                    f"{item.ref} immutable field detected, failed to wait for the object to be "
                    "deleted"
                )
            time.sleep(0.1)

    def _apply_waves(self, items: list[_Item], done: list[str]) -> None:
        """Apply the changed ``items`` in kind order, one kind's objects in parallel."""
        todo = [i for i in items if i.action in (CREATED, CONFIGURED)]
        waves: dict[int, list[_Item]] = {}
        for item in todo:
            waves.setdefault(apply_order(item.ref)[0], []).append(item)

        def one(item: _Item) -> tuple[str, bool]:
            try:
                self._apply_one(item)
            except (ApiRejected, ApiUnavailable) as exc:
                return f"{item.ref} apply failed{_error_text(exc)}", isinstance(exc, ApiUnavailable)
            return "", False

        for index in sorted(waves):
            wave = waves[index]
            results = self._map(one, wave)
            errors = sorted(e for e, _ in results if e)
            if errors:
                message = "; ".join(errors[:MAX_ERRORS_SHOWN]) + (
                    f" (already applied: {_listing(done)})" if done else ""
                )
                if any(transient for _, transient in results):
                    raise TransientError(message, reason="ReconciliationFailed")
                raise ApplyFailed(message)
            done.extend(f"{i.ref} {i.action}" for i in wave)

    def _wait_crds(self, items: list[_Item], timeout: float) -> None:
        crds = [i for i in items if is_crd(i.obj) and i.res is not None]
        if not crds:
            return
        deadline = time.monotonic() + timeout
        while True:
            states = self._map(
                lambda i: health.compute(self.cluster.get(i.res, None, i.ref.name)), crds
            )
            waiting = [
                f"{i.ref} ({s.message})" for i, s in zip(crds, states, strict=True) if not s.ok
            ]
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise ApplyFailed(f"timeout waiting for CRDs to be established: {waiting}")
            time.sleep(0.1)

    def apply(
        self, objects: Iterable[Obj], *, force: bool = False, timeout: float = 60.0
    ) -> list[Change]:
        """Validate then apply ``objects`` (see the module docstring); the change set."""
        plan = self.plan(objects, force=force, lone=True)
        errors = plan.errors
        if errors:
            shown = sorted(errors)[:MAX_ERRORS_SHOWN]
            more = len(errors) - len(shown)
            message = (
                "; ".join(shown)
                + (f" (and {more} more)" if more > 0 else "")
                + "; nothing of this revision was applied"
            )
            if any(i.transient for i in plan.items):
                raise TransientError(message, reason="ReconciliationFailed")
            raise ApplyFailed(message)
        first = [i for i in plan.items if is_cluster_definition(i.obj)]
        rest = [i for i in plan.items if not is_cluster_definition(i.obj)]
        done: list[str] = []
        self._apply_waves(first, done)
        self._wait_crds(first, timeout)
        deferred = [i for i in rest if i.deferred]
        if deferred:
            # An established CRD's kind can take a moment to appear in the API server's
            # discovery: a kind this set defines stays deferred until it does (or the timeout).
            crd_kinds = {crd_defines(i.obj) for i in first if is_crd(i.obj)}
            deadline = time.monotonic() + timeout
            pending = deferred
            while pending:
                for item in pending:
                    item.deferred = ""
                    item.res = None
                self._resolve(pending, crd_kinds if time.monotonic() < deadline else set())
                self._map(lambda i: self._check(i, force, set()), pending)
                pending = [i for i in pending if i.deferred]
                if pending:
                    time.sleep(0.1)
            late = [i.error for i in deferred if i.error]
            if late:
                raise ApplyFailed(
                    "; ".join(sorted(late)[:MAX_ERRORS_SHOWN])
                    + f" (already applied: {_listing(done) or 'nothing'})"
                )
        self._apply_waves(rest, done)
        if done:
            log.info("server-side apply: %s", ", ".join(done))
        return plan.changes()

    # --- prune -----------------------------------------------------------------------------

    def prune(
        self, stale: Sequence[tuple[ObjRef, str]], *, dry_run: bool = False
    ) -> tuple[list[Change], list[int]]:
        """Delete the ``stale`` objects (ref, version) that are ours and not prune-disabled
        (with ``dry_run``, only say which would be deleted).

        Returns the change set and the indexes of ``stale`` whose deletion failed (for the
        inventory to keep tracking them)."""
        order = sorted(range(len(stale)), key=lambda n: apply_order(stale[n][0]), reverse=True)

        def one(n: int) -> tuple[Change | None, str]:
            ref, version = stale[n]
            api_version = f"{ref.group}/{version}" if ref.group else version
            try:
                res = self.cluster.resource_for(api_version, ref.kind)
                if res is None:  # the kind is no longer served: nothing left to delete
                    return Change(ref, version, DELETED), ""
                ns = ref.namespace or None
                live = self.cluster.get(res, ns, ref.name)
                if live is None:
                    return Change(ref, version, DELETED), ""
                labels = (live.get("metadata") or {}).get("labels") or {}
                if any(labels.get(k) != v for k, v in self.owner.items()):
                    return Change(ref, version, SKIPPED, note="owned by another"), ""
                if any_in_metadata(live, SKIP_PRUNE):
                    return Change(ref, version, SKIPPED, note="prune disabled"), ""
                if not dry_run:
                    self.cluster.delete(res, ns, ref.name)
                return Change(ref, version, DELETED, live=live), ""
            except (ApiRejected, ApiUnavailable) as exc:
                return None, f"{ref} delete failed{_error_text(exc)}"

        results = self._map(one, order)
        changes = [c for c, _ in results if c is not None]
        failed = [n for n, (c, _) in zip(order, results, strict=True) if c is None]
        errors = [e for _, e in results if e]
        if errors:
            raise PruneFailed("; ".join(errors[:MAX_ERRORS_SHOWN]), changes=changes, failed=failed)
        return changes, failed

    # --- health ----------------------------------------------------------------------------

    def wait(
        self,
        refs: Sequence[tuple[ObjRef, str]],
        timeout: float,
        interval: float = POLL_INTERVAL,
        checks: Checks = NO_CHECKS,
    ) -> None:
        """Poll the objects until all are healthy; HealthCheckFailed naming the others."""
        if not refs:
            return
        started = time.monotonic()
        deadline = started + timeout

        def read(entry: tuple[ObjRef, str]) -> health.Health:
            ref, version = entry
            api_version = f"{ref.group}/{version}" if ref.group else version
            try:
                res = self.cluster.resource_for(api_version, ref.kind)
                if res is None:
                    return health.Health(health.NOT_FOUND, "no such kind on the cluster")
                if res.namespaced and not ref.namespace:
                    return health.Health(health.NOT_FOUND, "namespace not specified")
                live = self.cluster.get(res, ref.namespace or None, ref.name)
                by_expressions = checks.health(live, deadline) if live is not None else None
                return by_expressions or health.compute(live)
            except (ApiRejected, ApiUnavailable) as exc:
                return health.Health(health.IN_PROGRESS, f"status unknown{_error_text(exc)}")

        while True:
            states = self._map(read, list(refs))
            bad = [(r, s) for (r, _), s in zip(refs, states, strict=True) if not s.ok]
            failed = [(r, s) for r, s in bad if s.status == health.FAILED]
            if not bad:
                return
            if failed or time.monotonic() >= deadline:
                took = time.monotonic() - started
                shown = failed or bad
                detail = ", ".join(
                    f"{r} status: '{s.status}'" + (f": {s.message}" if s.message else "")
                    for r, s in shown
                )
                what = "failed" if failed else "timeout waiting for"
                raise HealthCheckFailed(
                    f"health check failed after {took:.1f}s: {what}: [{detail}]"
                )
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())))

    def wait_deleted(
        self, refs: Sequence[tuple[ObjRef, str]], timeout: float, interval: float = 2.0
    ) -> list[str]:
        """Poll until the objects are gone (Flux's WaitForSetTermination: every 2s, up to
        ``timeout``); the ones still there when it ran out."""
        deadline = time.monotonic() + timeout

        def present(entry: tuple[ObjRef, str]) -> bool:
            ref, version = entry
            api_version = f"{ref.group}/{version}" if ref.group else version
            try:
                res = self.cluster.resource_for(api_version, ref.kind)
                return res is not None and (
                    self.cluster.get(res, ref.namespace or None, ref.name) is not None
                )
            except (ApiRejected, ApiUnavailable):
                return True

        left = list(refs)
        while True:
            left = [entry for entry, there in zip(left, self._map(present, left), strict=True)
                    if there]
            if not left or time.monotonic() >= deadline:
                return [f"{ref} termination timeout" for ref, _ in left]
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
