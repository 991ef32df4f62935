"""Flux's events: what a reconcile tells the world about an object (``kubectl events``, Alerts).

A ``Notice`` is one event of Flux's shape (``event.toolkit.fluxcd.io/v1`` Event: involvedObject,
severity, reason, message, metadata, reportingController), plus the trace it belongs to. The
runtime makes them at the end of every run (``notices_of``), as Flux's controllers decide:

- a failed run: a Warning (severity ``error``) with the Ready condition's reason and message;
- a run that recovered (Ready after not Ready), or whose Ready message changed (a new scan
  result, a new latest image): a Normal one with Ready's reason and message;
- what a stage says happened (``Draft``): a new artifact, a pushed commit, an applied change
  set; with the stage's reason, or Ready's.

Unchanged successes (Flux's trace-level events) make none: idle means idle. Each notice goes to
the journal (``conveyor events``, ``conveyor trace``) and to a stream that conveyor's
Kubernetes Events writer and notifications read (``Store.record_notice``).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from conveyor.shared.status import Status

INFO, ERROR = "info", "error"
MAX_MESSAGE = 4096  # a notice's message is cut here (an error's text can be long)
REVISION = "revision"  # Flux's metadata keys, after the kind's API group and a slash
DIGEST = "digest"
COMMIT_STATUS = "commit_status"


@dataclass(frozen=True)
class Draft:
    """What a stage says happened in its run: ``reason`` None takes the Ready condition's.
    ``metadata``'s keys are Flux's (``revision``, ``digest``, ``commit_status``), given the
    kind's API group when the notice is made."""

    message: str | Callable[[], str]  # a callable is called when the notice is recorded,
    # after the run's events went out (a message that costs a read, off the pipeline's path)
    reason: str | None = None
    severity: str = INFO
    metadata: dict[str, str] = field(default_factory=dict)

    def text(self) -> str:
        return self.message() if callable(self.message) else self.message


@dataclass(frozen=True)
class Notice:
    kind: str
    namespace: str
    name: str
    api_version: str
    uid: str
    severity: str  # info | error
    reason: str
    message: str
    metadata: dict[str, str]  # Flux's annotation keys: "<group>/revision", ...
    controller: str  # Flux's controller that would have said it: "source-controller", ...
    trace_id: str = ""
    timestamp: float = field(default_factory=time.time)

    @property
    def event_type(self) -> str:
        """The Kubernetes Event's type."""
        return "Warning" if self.severity == ERROR else "Normal"

    def involved_object(self) -> dict[str, Any]:
        """The object reference of Flux's event and of a Kubernetes Event alike."""
        involved: dict[str, Any] = {
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "apiVersion": self.api_version,
        }
        if self.uid:
            involved["uid"] = self.uid
        return involved

    def wire(self) -> dict[str, Any]:
        """The event as Flux's controllers post it to notification-controller."""
        return {
            "involvedObject": self.involved_object(),
            "severity": self.severity,
            "timestamp": rfc3339(self.timestamp),
            "message": self.message,
            "reason": self.reason,
            "metadata": dict(self.metadata),
            "reportingController": self.controller,
            "reportingInstance": socket.gethostname(),
        }

    def journal_entry(self) -> dict[str, Any]:
        """The notice as a line of conveyor's journal (beside the events between stages)."""
        return {
            "type": "Notice",
            "trace_id": self.trace_id,
            "emitted_at": self.timestamp,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "apiVersion": self.api_version,
            "uid": self.uid,
            "severity": self.severity,
            "reason": self.reason,
            "message": self.message,
            "metadata": dict(self.metadata),
            "controller": self.controller,
        }

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> Notice:
        """A journal entry (``journal_entry``) back as a notice; KeyError/TypeError/ValueError
        when it is not one."""
        metadata = entry.get("metadata") or {}
        return cls(
            kind=str(entry["kind"]),
            namespace=str(entry["namespace"]),
            name=str(entry["name"]),
            api_version=str(entry.get("apiVersion", "")),
            uid=str(entry.get("uid", "")),
            severity=ERROR if entry.get("severity") == ERROR else INFO,
            reason=str(entry["reason"]),
            message=str(entry.get("message", "")),
            metadata={str(k): str(v) for k, v in dict(metadata).items()},
            controller=str(entry.get("controller", "")),
            trace_id=str(entry.get("trace_id", "")),
            timestamp=float(entry.get("emitted_at", 0.0)),
        )


def rfc3339(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ready(status: Status) -> bool:
    ready = status.ready
    return ready is not None and ready.status == "True"


@dataclass(frozen=True)
class About:
    """The object notices are about, as the runtime knows it."""

    kind: str
    namespace: str
    name: str
    api_version: str
    uid: str
    group: str
    controller: str


def notices_of(
    about: About, previous: Status, status: Status, drafts: list[Draft], trace_id: str
) -> list[Notice]:
    """The notices a run that took ``previous`` to ``status`` makes (module docstring)."""
    ready = status.ready
    reason = ready.reason if ready is not None else "Unknown"
    message = ready.message if ready is not None else ""

    def notice(severity: str, why: str, text: str, metadata: dict[str, str]) -> Notice:
        return Notice(
            kind=about.kind,
            namespace=about.namespace,
            name=about.name,
            api_version=about.api_version,
            uid=about.uid,
            severity=severity,
            reason=why,
            message=text[:MAX_MESSAGE],
            metadata={f"{about.group}/{k}": v for k, v in metadata.items()},
            controller=about.controller,
            trace_id=trace_id,
        )

    if not _ready(status):
        if ready is None:
            return []
        # the revision it failed on, as kustomize-controller says it (a failed commit status)
        attempted = getattr(status, "last_attempted_revision", None)
        return [notice(ERROR, reason, message, {REVISION: attempted} if attempted else {})]
    if drafts:
        return [notice(d.severity, d.reason or reason, d.text(), d.metadata) for d in drafts]
    before = previous.ready
    if not _ready(previous) or (before is not None and before.message != message):
        return [notice(INFO, reason, message, {})]
    return []
