"""Flux's events as Kubernetes Events, written by the process that holds a cluster's objects.

The stages record their notices (``conveyor.shared.notices``) in the store's notices stream;
``KubeEvents.sync`` reads what is new (one Redis call, idle or not) and writes each as a core/v1
Event about its object, as client-go's recorder in Flux's controllers does: named
``<object>.<hex nanoseconds>``, the notice's metadata as its annotations, ``source.component``
and ``reportingController`` the Flux controller's name; the same event again within ten minutes
raises the existing one's ``count`` (client-go's correlator) instead of creating another. So
``kubectl events --for imagepolicy/NAME`` and ``flux events`` show what conveyor did.
"""

from __future__ import annotations

import logging
import socket
import time
import urllib.parse
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from conveyor.shared.adapters.kube import ApiRejected, ApiUnavailable, Cluster
from conveyor.shared.notices import Notice, rfc3339
from conveyor.shared.store import Store

log = logging.getLogger("conveyor.cluster")

AGGREGATE_SECONDS = 600.0  # client-go's correlator: an event seen again within this is counted
REMEMBERED = 4096  # events remembered for counting
MAX_EVENT_MESSAGE = 1024  # what an Event's message is cut to (events.k8s.io's limit on notes)
BATCH = 200  # notices read per call


@dataclass
class _Seen:
    name: str
    namespace: str
    count: int
    first: float
    last: float


class KubeEvents:
    """Writes the store's new notices to ``cluster`` as Events (module docstring)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.instance = socket.gethostname()
        self._last = ""  # the stream id read up to; "": from now on
        self._seen: OrderedDict[tuple[str, ...], _Seen] = OrderedDict()

    def sync(self, store: Store) -> int:
        """Write the notices recorded since the last call; how many were written."""
        written = 0
        while True:
            self._last, entries = store.notices_after(self._last, BATCH)
            for entry in entries:
                try:
                    notice = Notice.from_entry(entry)
                except (KeyError, TypeError, ValueError):
                    continue
                if self._write(notice):
                    written += 1
            if len(entries) < BATCH:
                return written

    def _write(self, notice: Notice) -> bool:
        message = notice.message[:MAX_EVENT_MESSAGE]
        key = (notice.controller, notice.kind, notice.namespace, notice.name, notice.uid,
               notice.event_type, notice.reason, message)
        base = f"/api/v1/namespaces/{urllib.parse.quote(notice.namespace, safe='')}/events"
        now = notice.timestamp or time.time()
        seen = self._seen.get(key)
        try:
            if seen is not None and now - seen.last < AGGREGATE_SECONDS:
                answer = self.cluster.request(
                    "PATCH",
                    f"{base}/{urllib.parse.quote(seen.name, safe='')}",
                    body={"count": seen.count + 1, "lastTimestamp": rfc3339(now)},
                    content_type="application/merge-patch+json",
                )
                if answer is not None:
                    seen.count, seen.last = seen.count + 1, now
                    self._seen.move_to_end(key)
                    return True
                del self._seen[key]  # the counted one expired (Events live an hour): a new one
            name = f"{notice.name}.{time.time_ns():x}"
            self.cluster.request("POST", base, body=self._event(notice, name, message, now))
        except ApiRejected as exc:
            log.warning("%s %s/%s: writing its event: %s", notice.kind, notice.namespace,
                        notice.name, exc)
            return False
        except ApiUnavailable as exc:
            log.warning("writing events: %s", exc)
            return False
        self._seen[key] = _Seen(name, notice.namespace, 1, now, now)
        while len(self._seen) > REMEMBERED:
            self._seen.popitem(last=False)
        return True

    def _event(self, notice: Notice, name: str, message: str, now: float) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name, "namespace": notice.namespace}
        if notice.metadata:
            meta["annotations"] = dict(notice.metadata)
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": meta,
            "involvedObject": notice.involved_object(),
            "reason": notice.reason,
            "message": message,
            "type": notice.event_type,
            "source": {"component": notice.controller},
            "reportingComponent": notice.controller,
            "reportingInstance": self.instance,
            "firstTimestamp": rfc3339(now),
            "lastTimestamp": rfc3339(now),
            "count": 1,
        }
