"""Every stage, by service name, and the context a worker process runs them in."""

from __future__ import annotations

import functools
import os

from services.applier.reconcile import STAGE as APPLIER
from services.git_committer.reconcile import STAGE as GIT_COMMITTER
from services.policy_evaluator.reconcile import STAGE as POLICY_EVALUATOR
from services.registry_scanner.reconcile import STAGE as REGISTRY_SCANNER
from services.source_fetcher.reconcile import STAGE as SOURCE_FETCHER
from shared.bus import CeleryDispatcher
from shared.runtime import Context, Stage
from shared.store import Store

STAGES: dict[str, Stage] = {
    s.service: s
    for s in (SOURCE_FETCHER, REGISTRY_SCANNER, POLICY_EVALUATOR, GIT_COMMITTER, APPLIER)
}

# The order in which a start-up reconciles the kinds, upstream first.
KIND_ORDER = (
    "GitRepository",
    "ImageRepository",
    "ImagePolicy",
    "ImageUpdateAutomation",
    "Kustomization",
)


@functools.cache
def worker_context() -> Context:
    """The context of a Celery worker process: Redis from ``REDIS_URL``."""
    url = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
    return Context(store=Store.from_url(url), dispatcher=CeleryDispatcher())


# What `--once` and the status API report: the reconciled kinds, then the Receivers.
REPORTED_KINDS = (*KIND_ORDER, "Receiver")
