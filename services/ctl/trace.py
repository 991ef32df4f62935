"""``conveyor trace IMAGE:TAG`` (or a trace id): the journey of one image through the pipeline.

Read from conveyor's journal, where every event between stages is kept with its trace id, when
it was emitted and when each stage started on it, beside the notices (Flux's events) the runs
made. The hops:

- ``pushed``: what started the trace (a registry's push notification through a Receiver, or an
  interval's scan), when conveyor heard of it;
- ``scanned``: the ImageRepository's tag list changed (``TagsScanned``);
- ``chosen``: the ImagePolicy that chose the tag (``PolicyChanged``), with what conveyor's
  policies add to Flux's message (newer tags skipped as unsigned, the newest build);
- ``committed``: the automation's commit, pushed (``CommitPushed``), and who approved it;
- ``fetched``: the GitRepository's new artifact at that commit (``SourceUpdated``);
- ``applied``: the Kustomization that applied the commit, with the objects it changed;
- ``rolled back``: the automation put the previous values back (its health checks failed, or
  ``conveyor rollback``), in a commit of its own.

The first three hops follow the trace. A stage merges an event into a run that started after
it (its work covers it), so the later hops may belong to another trace: the commit is the first
one pushed after the policy's choice by an automation of its namespace, when the trace has none;
the fetch and the apply follow the commit. A hop of another trace says so.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, TextIO

from conveyor.services.ctl.backends import Backend
from conveyor.services.ctl.output import Log, truncate_hex
from conveyor.shared.errors import ConveyorError, UsageError, scrub

JOURNAL_READ = 10_000  # the whole journal (conveyor.shared.store.JOURNAL_LENGTH)
_TRACE_ID = re.compile(r"[0-9a-f]{16}")
_APPLIER_REVISION = "kustomize.toolkit.fluxcd.io/revision"


class TraceNotFound(ConveyorError):
    """No trace in the journal carried what was asked for."""


@dataclass(frozen=True)
class Hop:
    hop: str
    at: float  # seconds since the epoch: when it was done (the event's emission)
    kind: str
    namespace: str
    name: str
    detail: str
    trace_id: str
    queued: float | None = None  # how long its event waited for the next stage to start on it


def _split_image(text: str) -> tuple[str, str]:
    """``IMAGE:TAG`` as (image, tag); the tag is after the last colon past the last slash."""
    image, colon, tag = text.rpartition(":")
    if not colon or "/" in tag or not image:
        raise UsageError(f"{text!r}: expected IMAGE:TAG (e.g. ghcr.io/org/app:1.2.3) or a trace id")
    return image, tag


def _canonical(image: str) -> str:
    from conveyor.shared.adapters.oci.reference import parse_image

    try:
        return parse_image(image).canonical
    except ConveyorError:
        return image


def _events(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The journal's entries, one per event (it holds one per stage that started on it), each
    with ``queued``: how long until the first stage started on it."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for entry in entries:
        if not isinstance(entry.get("emitted_at"), int | float):
            continue
        key = tuple(entry.get(k) for k in ("type", "trace_id", "emitted_at", "namespace", "name"))
        started = entry.get("started_at")
        found = merged.setdefault(key, {**entry, "queued": None})
        if isinstance(started, int | float):
            wait = max(0.0, started - entry["emitted_at"])
            found["queued"] = wait if found["queued"] is None else min(found["queued"], wait)
    return sorted(merged.values(), key=lambda e: float(e["emitted_at"]))


def find_trace(entries: list[dict[str, Any]], what: str) -> tuple[str, str]:
    """The trace id ``what`` names (a trace id, or IMAGE:TAG: the newest trace whose policy
    chose that tag), and the image:tag it carried ("" when not known)."""
    events = _events(entries)
    if _TRACE_ID.fullmatch(what) and any(e.get("trace_id") == what for e in events):
        chosen = [e for e in events if e.get("trace_id") == what and e["type"] == "PolicyChanged"]
        image = f"{chosen[-1].get('image')}:{chosen[-1].get('tag')}" if chosen else ""
        return what, image
    image, tag = _split_image(what)
    wanted = _canonical(image)
    chosen = [
        e for e in events
        if e["type"] == "PolicyChanged" and e.get("tag") == tag
        and _canonical(str(e.get("image", ""))) == wanted
    ]
    if not chosen:
        raise TraceNotFound(
            f"no policy chose {what} in conveyor's journal (the newest {JOURNAL_READ} events): "
            f"see `conveyor get imagepolicy -A` for what each policy chose, and `conveyor events`"
        )
    return str(chosen[-1]["trace_id"]), f"{chosen[-1].get('image')}:{tag}"


def _first(events: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    return next((e for e in events if all(e.get(k) == v for k, v in match.items())), None)


def _hop(name: str, entry: dict[str, Any], kind: str, detail: str) -> Hop:
    return Hop(
        hop=name,
        at=float(entry["emitted_at"]),
        kind=kind,
        namespace=str(entry.get("namespace", "")),
        name=str(entry.get("name", "")),
        detail=detail,
        trace_id=str(entry.get("trace_id", "")),
        queued=entry.get("queued"),
    )


def _said(traced: list[dict[str, Any]], kind: str, event: dict[str, Any]) -> str:
    """What the run that emitted ``event`` said of its object (its notice), "" if nothing."""
    found = next(
        (e for e in traced if e["type"] == "Notice" and e.get("kind") == kind
         and e.get("namespace") == event.get("namespace") and e.get("name") == event.get("name")
         and e.get("severity") != "error" and e["emitted_at"] >= event["emitted_at"] - 1.0),
        None,
    )
    return str(found.get("message", "")) if found is not None else ""


def journey(entries: list[dict[str, Any]], trace_id: str) -> list[Hop]:
    """The hops of ``trace_id`` (module docstring), in order."""
    events = _events(entries)
    traced = [e for e in events if e.get("trace_id") == trace_id]
    hops: list[Hop] = []
    if traced:
        start = traced[0]
        if start["type"] == "ReconcileRequested":
            tags = [str(t) for t in start.get("tags") or []]
            why = {"webhook": "a Receiver's webhook", "interval": "its interval"}.get(
                str(start.get("reason")), str(start.get("reason", "a request"))
            )
            detail = f"{why}" + (f": pushed tag {', '.join(tags)}" if tags else "")
            hops.append(_hop("pushed", start, str(start.get("kind", "")), detail))
    scanned = _first(traced, type="TagsScanned")
    if scanned is not None:
        hops.append(_hop("scanned", scanned, "ImageRepository",
                         f"{scanned.get('tag_count', '?')} tags"))
    chosen = _first(traced, type="PolicyChanged")
    if chosen is not None:
        said = _said(traced, "ImagePolicy", chosen)  # Flux's words; then what conveyor adds
        why = said.split("; ", 1)[1] if "; " in said else ""  # skipped unsigned, newest build
        hops.append(_hop("chosen", chosen, "ImagePolicy",
                         f"{chosen.get('image', '')}:{chosen.get('tag', '')}"
                         + (f" ({why})" if why else "")))
    pushed = _first(traced, type="CommitPushed")
    if pushed is None and chosen is not None:  # the policy's change covered by a run started
        pushed = next(  # after it (merged): the first commit of its namespace's automations
            (e for e in events if e["type"] == "CommitPushed"
             and e["emitted_at"] >= chosen["emitted_at"]
             and e.get("namespace") == chosen.get("namespace")),
            None,
        )
    if pushed is not None:
        commit = str(pushed.get("commit", ""))
        approvers = [line.split(":", 1)[1].strip() for line in _said(
            [e for e in events if e.get("trace_id") == pushed.get("trace_id")],
            "ImageUpdateAutomation", pushed,
        ).splitlines() if line.startswith("Approved-by:")]
        hops.append(_hop("committed", pushed, "ImageUpdateAutomation",
                         f"commit {commit[:7]} pushed to branch {pushed.get('branch', '')} of "
                         f"GitRepository/{pushed.get('source_namespace')}/"
                         f"{pushed.get('source_name')}"
                         + (f", approved by {', '.join(approvers)}" if approvers else "")))
        after = [e for e in events if e["emitted_at"] >= pushed["emitted_at"]]
        fetched = next(
            (e for e in after if e["type"] == "SourceUpdated"
             and str(e.get("revision", "")).endswith(f"sha1:{commit}")
             and e.get("namespace") == pushed.get("source_namespace")
             and e.get("name") == pushed.get("source_name")),
            None,
        )
        if fetched is not None:
            hops.append(_hop("fetched", fetched, "GitRepository",
                             f"revision {fetched.get('revision', '')}"))
            applied = [
                e for e in after if e["type"] == "Notice" and e.get("kind") == "Kustomization"
                and e.get("severity") != "error"  # a Warning applied nothing (a rollback's)
                and str((e.get("metadata") or {}).get(_APPLIER_REVISION, "")).endswith(
                    f"sha1:{commit}")
            ]
            if applied:
                changes = [e for e in applied if not str(e.get("message", "")).startswith(
                    "Reconciliation finished")]
                first = applied[0]
                text = str((changes or applied)[0].get("message", "")).replace("\n", ", ")
                hops.append(_hop("applied", first, "Kustomization",
                                 f"revision {fetched.get('revision', '')}: {text}"))
    rolled = _first(traced, type="Notice", reason="RollbackCommitted")
    if rolled is not None:
        hops.append(_hop("rolled back", rolled, "ImageUpdateAutomation",
                         str(rolled.get("message", ""))))
    return hops


def _object(hop: Hop) -> str:
    return f"{hop.kind}/{hop.namespace}/{hop.name}"


def trace(backend: Backend, what: str, output: str, out: TextIO, log: Log) -> int:
    entries = backend.entries(JOURNAL_READ)
    trace_id, image = find_trace(entries, what)
    hops = journey(entries, trace_id)
    start = hops[0].at if hops else 0.0
    applied = hops[-1].at - start if hops and hops[-1].hop == "applied" else None
    if output == "json":
        data = {
            "traceID": trace_id,
            "image": image,
            "hops": [
                {
                    "hop": h.hop,
                    "time": h.at,
                    "sinceStart": round(h.at - start, 6),
                    "queued": h.queued,
                    "object": {"kind": h.kind, "namespace": h.namespace, "name": h.name},
                    "detail": scrub(h.detail),
                    "traceID": h.trace_id,
                }
                for h in hops
            ],
            "pushToApplied": applied,
        }
        print(json.dumps(data, indent=2), file=out)
    else:
        print(f"trace {trace_id}" + (f" of {image}" if image else ""), file=out)
        rows = [("HOP", "AT", "+STEP", "OBJECT", "DETAIL")]
        previous = start
        for h in hops:
            elsewhere = f" (trace {h.trace_id})" if h.trace_id != trace_id else ""
            rows.append((h.hop, f"{h.at - start:.3f}s", f"+{h.at - previous:.3f}s", _object(h),
                         truncate_hex(scrub(h.detail)) + elsewhere))
            previous = h.at
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for row in rows:
            print("  ".join(c.ljust(w) for c, w in zip(row[:4], widths, strict=True))
                  + "  " + row[4], file=out)
    if applied is None:
        missing = hops[-1].hop if hops else "nothing"
        log.failure(f"trace {trace_id}: not applied (yet): the last hop is {missing}")
        return 1
    if output != "json":
        print(f"push to applied: {applied:.3f}s", file=out)
    return 0
