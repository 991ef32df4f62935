"""Each kind's timeout as Flux's controllers read it, and how long one run of it may take.

=====================  ========================================  ==============================
kind                   Flux's timeout, and what it bounds        one run here (``run_timeout``)
=====================  ========================================  ==============================
GitRepository          ``spec.timeout``, default 60s: the clone  the timeout
                       (ls-remote, fetch, checkout, submodules)
ImageRepository        ``spec.timeout``, else ``spec.interval``,  the timeout
                       at least 1s: the scan, every request,
                       retry and backoff of it included
ImagePolicy            none (its digests: the reconcile's own)   its ImageRepository's timeout,
                                                                 with digest reflection or
                                                                 ordered by build time only
ImageUpdateAutomation  none: its GitRepository's, default 60s,   twice that
                       bounds the checkout, then the push
Kustomization          ``spec.timeout``, else ``spec.interval``   twice that
                       less 30s, at least 30s: the apply's
                       waits, then the health checks
=====================  ========================================  ==============================

(Flux's CRD says a Kustomization's timeout defaults to the interval; its ``GetTimeout`` takes
30 s off, and never goes under 30 s: the code is what runs.) The runtime opens each run with
``shared.deadline.within(run_timeout(...))``; a Receiver's runs make no network call.
"""

from __future__ import annotations

from conveyor.shared.models import (
    ORDER_BY,
    FluxObject,
    GitRepository,
    GitRepositorySpec,
    ImagePolicy,
    ImageRepository,
    ImageRepositorySpec,
    ImageUpdateAutomation,
    Kustomization,
    KustomizationSpec,
    object_key,
)
from conveyor.shared.store import Store

GIT_DEFAULT = 60.0  # a GitRepository's spec.timeout when it has none (Flux's CRD default)


def git_timeout(spec: GitRepositorySpec) -> float:
    """A GitRepository's ``spec.timeout``: each of its Git operations."""
    return spec.timeout or GIT_DEFAULT


def scan_timeout(spec: ImageRepositorySpec) -> float:
    """image-reflector-controller's ``GetTimeout``: the whole scan."""
    return max(1.0, spec.interval if spec.timeout is None else spec.timeout)


def kustomization_timeout(spec: KustomizationSpec) -> float:
    """kustomize-controller's ``GetTimeout``: the apply's waits, and the health checks."""
    return max(30.0, spec.interval - 30.0 if spec.timeout is None else spec.timeout)


def run_timeout(obj: FluxObject, store: Store) -> float | None:
    """How long one run of ``obj`` may take in all (the table above); None: no bound, the run
    makes no network call."""
    if isinstance(obj, GitRepository):
        return git_timeout(obj.spec)
    if isinstance(obj, ImageRepository):
        return scan_timeout(obj.spec)
    if isinstance(obj, Kustomization):
        return 2 * kustomization_timeout(obj.spec)
    if isinstance(obj, ImageUpdateAutomation):
        ref = obj.spec.source_ref
        key = object_key("GitRepository", ref.namespace or obj.namespace, ref.name)
        source = store.get_object(key, GitRepository)
        return 2 * (git_timeout(source.spec) if source is not None else GIT_DEFAULT)
    if isinstance(obj, ImagePolicy) and (
        obj.spec.digest_reflection_policy != "Never" or ORDER_BY in obj.metadata.annotations
    ):
        repo_ref = obj.spec.image_repository_ref
        key = object_key("ImageRepository", repo_ref.namespace or obj.namespace, repo_ref.name)
        repo = store.get_object(key, ImageRepository)
        return scan_timeout(repo.spec) if repo is not None else None
    return None
