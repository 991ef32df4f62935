"""Which Alerts an event goes to, and the event each of them sends: notification-controller's
event server (v1.9.3 ``internal/server/event_server.go``, ``event_handlers.go``,
``provider_commit_status.go``), over conveyor's notices. Pure: no Redis, no HTTP.

- ``flux_event``: a notice as Flux's controllers post it (``eventv1.Event``), its metadata
  cleaned as the event server cleans it: only the keys of the event API group or of the
  object's group, without the object group's ``checksum``, ``digest`` and ``token``;
- ``rate_key``: the key of duplicate events (``eventKeyFunc``): name, namespace, kind,
  message, and the object group's ``originRevision``, ``revision`` and ``token``;
- ``matches``: an Alert's ``eventSources`` (kind, name or ``*``, namespace defaulting to the
  Alert's, ``matchLabels`` against the object's labels), ``eventSeverity`` (``info`` takes
  every event, ``error`` errors only), ``inclusionList`` then ``exclusionList`` (Go regexps
  over the message; one that does not compile is skipped, as Flux skips it);
- ``metadata_for``: RFC 0008's precedence, lowest first: the event group's keys, the Alert's
  ``eventMetadata``, its ``summary`` (as ``summary``), the object group's keys (prefixes cut);
- ``skipped``: what a Provider of a type is not sent (commit statuses to chat tools, and to a
  commit-status type what is neither a commit-status update, nor carries a commit, nor an
  error);
- the commit-status helpers: the default status id (``kind/name/<uid's first part>``), the
  revision's commit, the name and description (``ReconciliationSucceeded`` →
  ``reconciliation succeeded``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conveyor.shared.models import Alert
from conveyor.shared.notices import ERROR, Notice, rfc3339

if TYPE_CHECKING:
    from conveyor.shared.goregexp import GoRegexp

EVENT_GROUP = "event.toolkit.fluxcd.io"  # eventv1.Group
INFO = "info"
REVISION, ORIGIN_REVISION, TOKEN, COMMIT = "revision", "originRevision", "token", "commit"
CHECKSUM, DIGEST = "checksum", "digest"
COMMIT_STATUS, UPDATE = "commit_status", "update"
SUMMARY = "summary"
PROGRESSING = "Progressing"  # meta.ProgressingReason: no commit status from it (but gitea's)
GENERIC_TYPES = ("generic", "generic-hmac")
COMMIT_STATUS_TYPES = ("github", "gitlab", "gitea", "bitbucketserver", "bitbucket", "azuredevops")

Event = dict[str, Any]  # eventv1.Event as JSON, in its Go field order


def group_of(api_version: str) -> str:
    """The API group of ``group/version`` ("" for the core group)."""
    return api_version.rpartition("/")[0]


def flux_event(notice: Notice, instance: str) -> Event:
    """The event a Flux controller would post for ``notice``, as the event server keeps it
    (``cleanupMetadata``; the ``token`` is taken out by ``for_alert``, after the duplicates'
    key is made)."""
    group = group_of(notice.api_version)
    dropped = {f"{group}/{CHECKSUM}".lower(), f"{group}/{DIGEST}".lower()}  # EqualFold
    metadata = {
        k: v
        for k, v in notice.metadata.items()
        if (k.startswith(f"{EVENT_GROUP}/") or k.startswith(f"{group}/"))
        and k.lower() not in dropped
    }
    involved: dict[str, Any] = {
        "kind": notice.kind,
        "namespace": notice.namespace,
        "name": notice.name,
    }
    if notice.uid:
        involved["uid"] = notice.uid
    if notice.api_version:
        involved["apiVersion"] = notice.api_version
    event: Event = {
        "involvedObject": involved,
        "severity": notice.severity,
        "timestamp": rfc3339(notice.timestamp),
        "message": notice.message,
        "reason": notice.reason,
    }
    if metadata:
        event["metadata"] = dict(sorted(metadata.items()))
    event["reportingController"] = notice.controller
    if instance:
        event["reportingInstance"] = instance
    return event


def _involved(event: Event) -> dict[str, Any]:
    involved: dict[str, Any] = event["involvedObject"]
    return involved


def _metadata(event: Event) -> dict[str, str]:
    found: dict[str, str] = event.get("metadata") or {}
    return found


def rate_key(event: Event) -> str:
    """``eventKeyFunc``: the hex SHA-256 that identifies duplicates of ``event``."""
    obj = _involved(event)
    parts = [
        "event",
        f"name={obj.get('name', '')}",
        f"namespace={obj.get('namespace', '')}",
        f"kind={obj.get('kind', '')}",
        f"message={event.get('message', '')}",
    ]
    group = group_of(str(obj.get("apiVersion", "")))
    metadata = _metadata(event)
    for key in (ORIGIN_REVISION, REVISION, TOKEN):
        if f"{group}/{key}" in metadata:
            parts.append(f"{key}={metadata[f'{group}/{key}']}")
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


# --- matching ----------------------------------------------------------------------------------

_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def label_selector_error(match: dict[str, str]) -> str | None:
    """Why ``match`` is no valid label selector (``metav1.LabelSelectorAsSelector``), if so."""
    for key, value in sorted(match.items()):
        prefix, slash, name = key.rpartition("/")
        if (slash and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix))) or (
            not _LABEL_NAME.match(name)
        ):
            return f"invalid label key {key!r}"
        if value and not _LABEL_NAME.match(value):
            return f"invalid label value {value!r} of {key!r}"
    return None


Labels = Callable[[str, str, str], dict[str, str] | None]  # (kind, namespace, name) -> labels


def source_matches(alert: Alert, event: Event, labels: Labels) -> bool:
    """``eventMatchesAlertSources``: one of the Alert's sources names the event's object, at
    a severity the Alert takes."""
    obj = _involved(event)
    severity = alert.spec.event_severity
    if event.get("severity") != severity and severity != INFO:
        return False
    for source in alert.spec.event_sources:
        namespace = source.namespace or alert.namespace
        if obj.get("namespace") != namespace or obj.get("kind") != source.kind:
            continue
        if source.name != "*" and source.name != obj.get("name"):
            continue
        if source.match_labels is None:
            return True
        if label_selector_error(source.match_labels) is not None:
            continue
        found = labels(str(obj.get("kind")), namespace, str(obj.get("name")))
        if found is not None and all(found.get(k) == v for k, v in source.match_labels.items()):
            return True
    return False


class Lists:
    """An Alert's inclusion and exclusion lists, compiled (a pattern that does not compile is
    kept in ``errors`` and matches nothing, as Flux skips it with an InvalidConfig event)."""

    def __init__(self, alert: Alert) -> None:
        self.errors: list[str] = []
        self.include = self._compile(alert.spec.inclusion_list, "inclusion")
        self.exclude = self._compile(alert.spec.exclusion_list, "exclusion")
        self.any_include = bool(alert.spec.inclusion_list)

    def _compile(self, patterns: list[str], what: str) -> list[GoRegexp]:
        if not patterns:
            return []
        # RE2 (about 3 MB) loads with the first Alert that has a list
        from conveyor.shared.goregexp import GoRegexp, GoRegexpError

        out = []
        for pattern in patterns:
            try:
                out.append(GoRegexp(pattern))
            except GoRegexpError:
                self.errors.append(f"failed to compile {what} regex: {pattern}")
        return out

    def allows(self, message: str) -> bool:
        data = message.encode("utf-8", "surrogatepass")
        if self.any_include and not any(r.spans(data) is not None for r in self.include):
            return False
        return not any(r.spans(data) is not None for r in self.exclude)


def matches(alert: Alert, lists: Lists, event: Event, labels: Labels) -> bool:
    """``filterAlertsForEvent`` for one Alert: not suspended, a source matching, the message
    included and not excluded."""
    if alert.spec.suspend:
        return False
    if not source_matches(alert, event, labels):
        return False
    return lists.allows(str(event.get("message", "")))


_EVENT_GROUP_SOURCE = "involved object annotations"
_EVENT_METADATA_SOURCE = "Alert object .spec.eventMetadata"
_SUMMARY_SOURCE = "Alert object .spec.summary"
_OBJECT_GROUP_SOURCE = "involved object controller metadata"
CONFLICTS = ("metadata key conflicts detected (please refer to the Alert API docs and Flux RFC "
             "0008 for more information)")


def _internal_removed(event: Event) -> dict[str, str]:
    """``excludeInternalMetadata``: the event's metadata without the object group's token."""
    group = group_of(str(_involved(event).get("apiVersion", "")))
    return {k: v for k, v in _metadata(event).items() if k != f"{group}/{TOKEN}"}


def _combined(event: Event, alert: Alert) -> tuple[dict[str, str], dict[str, str]]:
    own = _internal_removed(event)
    group = group_of(str(_involved(event).get("apiVersion", "")))
    combined: dict[str, str] = {}
    sources: dict[str, list[str]] = {}

    def put(key: str, value: str, source: str) -> None:
        combined[key] = value
        sources.setdefault(key, []).append(source)

    for key, value in own.items():
        if key.startswith(f"{EVENT_GROUP}/"):
            put(key.removeprefix(f"{EVENT_GROUP}/"), value, _EVENT_GROUP_SOURCE)
    for key, value in alert.spec.event_metadata.items():
        put(key, value, _EVENT_METADATA_SOURCE)
    if alert.spec.summary:
        put(SUMMARY, alert.spec.summary, _SUMMARY_SOURCE)
    for key, value in own.items():
        if key.startswith(f"{group}/"):
            put(key.removeprefix(f"{group}/"), value, _OBJECT_GROUP_SOURCE)
    conflicts = {k: ", ".join(s) for k, s in sorted(sources.items()) if len(s) > 1}
    return (dict(sorted(combined.items())) if combined else own), conflicts


def metadata_for(event: Event, alert: Alert) -> dict[str, str]:
    """``combineEventMetadata``: the metadata the Alert sends (module docstring); when it is
    empty, the event's own."""
    return _combined(event, alert)[0]


def metadata_conflicts(event: Event, alert: Alert) -> dict[str, str]:
    """The keys that more than one source gave (Flux warns of them on the Alert, with the
    sources of each as the event's annotations)."""
    return _combined(event, alert)[1]


def for_alert(event: Event, alert: Alert) -> Event:
    """The event as ``alert`` sends it: its metadata combined."""
    out = dict(event)
    metadata = metadata_for(event, alert)
    if metadata:
        out["metadata"] = metadata
    else:
        out.pop("metadata", None)
    # keep Go's field order: metadata before reportingController
    order = ("involvedObject", "severity", "timestamp", "message", "reason", "metadata",
             "reportingController", "reportingInstance")
    return {k: out[k] for k in order if k in out}


# --- what a provider type is sent --------------------------------------------------------------


def is_commit_status_update(event: Event) -> bool:
    group = group_of(str(_involved(event).get("apiVersion", "")))
    return _metadata(event).get(f"{group}/{COMMIT_STATUS}") == UPDATE


def skipped(provider_type: str, event: Event) -> bool:
    """Whether a Provider of ``provider_type`` is not sent ``event`` (before its metadata is
    combined): a commit-status update goes to commit-status and generic types only; a
    commit-status type takes updates, events with a commit, and errors."""
    update = is_commit_status_update(event)
    commit_type = provider_type in COMMIT_STATUS_TYPES
    if not commit_type and provider_type not in GENERIC_TYPES and update:
        return True
    has_commit = bool(_metadata(event).get(f"{EVENT_GROUP}/{COMMIT}"))
    return commit_type and not has_commit and not update and event.get("severity") != ERROR


def commit_status_id(provider_uid: str, event: Event) -> str:
    """``generateDefaultCommitStatus``: ``<kind>/<name>/<first part of the Provider's uid>``,
    in lower case."""
    obj = _involved(event)
    return f"{obj.get('kind', '')}/{obj.get('name', '')}/{provider_uid.split('-')[0]}".lower()


def revision_of(metadata: dict[str, str]) -> str | None:
    """``Event.GetRevision`` over combined metadata: ``commit``, ``originRevision``,
    ``revision``."""
    for key in (COMMIT, ORIGIN_REVISION, REVISION):
        if key in metadata:
            return metadata[key]
    return None


def commit_of(revision: str) -> str:
    """``parseRevision``: the 40-hex commit of a revision (``main@sha1:<hash>``, ``sha1:…``,
    the legacy ``main/<hash>``, a bare hash); ValueError otherwise."""
    if ":" in revision:
        found = revision.rpartition(":")[2]
    elif "/" in revision:
        found = revision.rpartition("/")[2]
    else:
        found = revision
    if not re.fullmatch(r"[0-9a-fA-F]{40}", found):
        raise ValueError(f"failed to extract commit hash from '{revision}' revision")
    return found


def _class(ch: str) -> int:
    if ch.islower():
        return 1
    if ch.isupper():
        return 2
    if ch.isdigit():
        return 3
    return 4


def split_camel(text: str) -> list[str]:
    """Flux's ``splitCamelcase`` (fatih/camelcase): runs of one character class, an upper-case
    run giving its last letter to a lower-case run after it (``PDFLoader`` → PDF, Loader)."""
    runs: list[list[str]] = []
    last = 0
    for ch in text:
        cls = _class(ch)
        if cls == last and runs:
            runs[-1].append(ch)
        else:
            runs.append([ch])
        last = cls
    for i in range(len(runs) - 1):
        if runs[i][0].isupper() and runs[i + 1][0].islower():
            runs[i + 1].insert(0, runs[i].pop())
    return ["".join(r) for r in runs if r]


def name_and_description(event: Event) -> tuple[str, str]:
    """``formatNameAndDescription``: ``kind/name`` and the reason's words, in lower case."""
    obj = _involved(event)
    name = f"{obj.get('kind', '')}/{obj.get('name', '')}".lower()
    description = " ".join(split_camel(str(event.get("reason", "")))).lower()
    return name, description
