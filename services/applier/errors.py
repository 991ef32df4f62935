"""The applier's errors, in the project's one error tree (see ``conveyor.shared.errors``).

    PermanentError
    └── ApplyFailed         the set cannot be applied (a dry-run failed, a namespace is missing)
    TransientError
    ├── HealthCheckFailed   applied, but the objects did not become ready within the timeout
    └── PruneFailed         some stale objects could not be deleted

The API server's own refusals are the Kubernetes adapter's ``ApiRejected`` / ``ApiUnavailable``
(``conveyor.shared.adapters.kube``); everything in the applier catches only those.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conveyor.shared.errors import PermanentError, TransientError


class ApplyFailed(PermanentError):
    reason = "ReconciliationFailed"


class HealthCheckFailed(TransientError):
    reason = "HealthCheckFailed"


class PruneFailed(TransientError):
    """Some stale objects could not be deleted: ``failed`` are their indexes (the inventory
    keeps tracking them, so the next reconcile tries again), ``changes`` what was done."""

    reason = "PruneFailed"

    def __init__(
        self, message: str, *, changes: Sequence[Any] = (), failed: Sequence[int] = ()
    ) -> None:
        super().__init__(message)
        self.changes = list(changes)
        self.failed = list(failed)
