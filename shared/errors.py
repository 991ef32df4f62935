"""The one error tree of conveyor.

    ConveyorError
    ├── PermanentError        bad spec or input: mark the object Stalled, do not retry
    │   ├── ManifestError     a manifest that does not parse or validate (file, line, field)
    │   ├── InvalidSpec       a spec that parses but cannot be used (bad regex, bad range)
    │   │   └── UnsupportedField  a spec that sets a field conveyor does not implement
    │   └── NotFound          a referenced object (policy, secret, source) does not exist
    └── TransientError        network, conflict, busy: retry with backoff
        └── DependencyNotReady  a referenced object exists but has no result yet

Adapters translate third-party exceptions into these at the boundary
(``raise TransientError(...) from exc``); nothing above them catches a library's own errors.
Messages never contain secrets.
"""

from __future__ import annotations

import re

_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def scrub(text: str) -> str:
    """Remove ``user:password@`` from every URL in ``text`` (a message, a spec's value)."""
    return _URL_CREDENTIALS.sub("", text)


class ConveyorError(Exception):
    """Base of every error conveyor raises on purpose."""

    reason = "ReconciliationFailed"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason

    def __str__(self) -> str:
        return self.message


class PermanentError(ConveyorError):
    """Retrying will not help until the spec (or the referenced input) changes."""

    reason = "InvalidSpec"


class ManifestError(PermanentError):
    """A manifest that cannot be parsed or validated; names file, line and field."""

    reason = "InvalidManifest"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file, self.line, self.field = file, line, field
        where = ":".join(str(p) for p in (file, line) if p is not None)
        text = message if not field else f"{field}: {message}"
        super().__init__(f"{where}: {text}" if where else text)


class InvalidSpec(PermanentError):
    reason = "InvalidSpec"


class UnsupportedField(InvalidSpec):
    """A spec that sets a Flux field conveyor does not implement, or a field Flux does not
    have (``conveyor.shared.fields``): the object is not reconciled."""

    reason = "UnsupportedField"


class NotFound(PermanentError):
    reason = "DependencyNotFound"


class UsageError(ConveyorError):
    """A command cannot run as asked (a missing folder, no cluster, no Redis): said, exit 2."""


class TransientError(ConveyorError):
    """Network failures, conflicts, timeouts: retried with backoff."""

    reason = "TransientFailure"


class DependencyNotReady(TransientError):
    reason = "DependencyNotReady"
