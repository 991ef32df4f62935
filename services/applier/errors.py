"""The applier's errors, in the project's one error tree (see ``shared.errors``).

    PermanentError
    ├── ApiRejected         the API server refused a request (4xx but 429): invalid object,
    │                       forbidden, immutable field, unknown kind; retrying will not help
    └── ApplyFailed         the set cannot be applied (a dry-run failed, a namespace is missing)
    TransientError
    ├── ApiUnavailable      the API server did not answer, or answered 5xx / 429
    └── HealthCheckFailed   applied, but the objects did not become ready within the timeout

``cluster.py`` raises ``ApiRejected`` / ``ApiUnavailable`` (translated from the kubernetes
client); everything above it catches only these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.errors import PermanentError, TransientError


class _ApiError:
    """What the API server said: HTTP status, its ``reason`` (Invalid, Forbidden, NotFound...)
    and its message, verbatim."""

    status: int
    api_reason: str
    api_message: str

    def _init_api(self, status: int, api_reason: str, api_message: str) -> None:
        self.status, self.api_reason, self.api_message = status, api_reason, api_message

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def immutable(self) -> bool:
        """A change to an immutable field (what ``force`` recreates the object for)."""
        text = self.api_message.lower()
        return self.status in (409, 422) and ("is immutable" in text or "immutable field" in text)


class ApiRejected(_ApiError, PermanentError):
    reason = "ReconciliationFailed"

    def __init__(self, message: str, *, status: int, api_reason: str, api_message: str) -> None:
        super().__init__(message)
        self._init_api(status, api_reason, api_message)


class ApiUnavailable(_ApiError, TransientError):
    reason = "ReconciliationFailed"

    def __init__(self, message: str, *, status: int, api_reason: str, api_message: str) -> None:
        super().__init__(message)
        self._init_api(status, api_reason, api_message)


ApiError = ApiRejected | ApiUnavailable


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
