"""The status page the receiver serves at ``/``: every object with its Ready state, grouped by
pipeline (ImageRepository → ImagePolicy → ImageUpdateAutomation → GitRepository →
Kustomization), and the last traces of the event journal drawn as timelines of their hops.

Server-rendered HTML with inline CSS, no script. Everything shown comes from the store, where
names, messages and journal entries are hostile input: each string is scrubbed of URL
credentials, cut to a bounded length and escaped. The functions above ``status_page`` are pure
(data in, text out); ``status_page`` reads the store for them, a few round trips whatever the
number of objects.
"""

from __future__ import annotations

import html
import json
import math
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conveyor.shared.errors import scrub
from conveyor.shared.kinds import (
    GIT_REPOSITORY,
    IMAGE_POLICY,
    IMAGE_REPOSITORY,
    IMAGE_UPDATE_AUTOMATION,
    KUSTOMIZATION,
    REPORTED,
)
from conveyor.shared.models import FluxObject, ImagePolicy, ImageUpdateAutomation, Kustomization
from conveyor.shared.store import Store

JOURNAL_ENTRIES = 2000  # the journal's newest entries read for the timelines
MAX_TRACES = 10  # timelines drawn
MAX_HOPS = 40  # lanes drawn per timeline (the others counted)
MAX_TEXT = 600  # characters of one message or value shown
REFRESH_SECONDS = 10
STATES = ("True", "False", "Unknown")


def text(value: object, limit: int = MAX_TEXT) -> str:
    """``value`` as HTML text: URL credentials scrubbed, cut to ``limit`` characters, escaped
    (quotes too: the same text may sit in an attribute)."""
    raw = scrub(str(value))
    if len(raw) > limit:
        raw = raw[:limit] + "…"
    return html.escape(raw, quote=True)


# --- objects, grouped by pipeline -------------------------------------------------------


@dataclass(frozen=True)
class Card:
    """What the page shows of one object."""

    key: str
    kind: str
    namespace: str
    name: str
    ready: str  # True, False or Unknown
    reason: str
    message: str
    detail: str  # the kind's own column (revision, latest tag, …)
    suspended: bool


@dataclass(frozen=True)
class Pipeline:
    """One chain of objects, from the one it starts at, as (kind, keys) in pipeline order."""

    head: str
    stages: tuple[tuple[str, tuple[str, ...]], ...]


def _object(raw: bytes | str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _at(data: Any, *path: str) -> Any:
    for part in path:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _detail(obj: FluxObject, status: dict[str, Any]) -> str:
    """The kind's own column, as ``conveyor get`` shows it."""
    if obj.kind == GIT_REPOSITORY.name:
        return str(_at(status, "artifact", "revision") or "")
    if obj.kind == IMAGE_REPOSITORY.name:
        count = _at(status, "lastScanResult", "tagCount")
        image = str(getattr(obj.spec, "image", ""))
        return f"{image} ({count} tags)" if count is not None else image
    if obj.kind == IMAGE_POLICY.name:
        latest = _at(status, "latestRef")
        if isinstance(latest, dict) and latest.get("tag"):
            return f"{latest.get('name', '')}:{latest['tag']}"
        return ""
    if obj.kind == IMAGE_UPDATE_AUTOMATION.name:
        commit = _at(status, "lastPushCommit")
        return f"last push {str(commit)[:12]}" if commit else ""
    if obj.kind == KUSTOMIZATION.name:
        return str(_at(status, "lastAppliedRevision") or "")
    return str(getattr(obj.spec, "type", "") or "")


def card(obj: FluxObject, raw_status: bytes | str | None) -> Card:
    """The card of ``obj`` with its stored status (JSON as written; None: not reconciled)."""
    status = _object(raw_status)
    conditions = status.get("conditions")
    ready = next(
        (
            c
            for c in (conditions if isinstance(conditions, list) else [])
            if isinstance(c, dict) and c.get("type") == "Ready"
        ),
        None,
    )
    if ready is None:
        state, reason, message = "Unknown", "", "not reconciled yet"
    else:
        found = ready.get("status")
        state = found if isinstance(found, str) and found in STATES else "Unknown"
        reason, message = str(ready.get("reason") or ""), str(ready.get("message") or "")
    return Card(
        key=obj.key,
        kind=obj.kind,
        namespace=obj.namespace,
        name=obj.name,
        ready=state,
        reason=reason,
        message=message,
        detail=_detail(obj, status),
        suspended=getattr(obj.spec, "suspend", False) is True,
    )


def _policies_used(
    automation: ImageUpdateAutomation,
    policies: Sequence[ImagePolicy],
    by_key: Mapping[str, FluxObject],
    marked: set[str] | None,
) -> set[str]:
    """The policies ``automation`` updates: those its files' markers name when known (its
    last run recorded them), else those of its namespace; either way as its
    ``policySelector`` selects them."""
    if marked:
        candidates = [p for k in marked if isinstance(p := by_key.get(k), ImagePolicy)]
    else:
        candidates = [p for p in policies if p.namespace == automation.namespace]
    selector = automation.spec.policy_selector
    return {p.key for p in candidates if selector is None or selector.matches(p.metadata.labels)}


def pipelines(
    objects: Iterable[FluxObject], markers: Mapping[str, set[str]]
) -> tuple[list[Pipeline], list[str]]:
    """The pipelines ``objects`` form, and the keys of those in none (in REPORTED's order).

    Each ImageRepository starts one: the ImagePolicies on it, the ImageUpdateAutomations
    that update one of them (``markers``: automation key → the policy keys its files mark,
    where known), the GitRepositories those push to, the Kustomizations applying those. A
    GitRepository reached by none that Kustomizations apply starts one of its own. An object
    may be in several pipelines (a GitRepository two automations push to). Objects of a kind
    not reported (Secrets) are in none and not listed."""
    reported = {kind.name for kind in REPORTED}
    by_key = {o.key: o for o in objects if o.kind in reported}
    of_kind: dict[str, list[FluxObject]] = defaultdict(list)
    for key in sorted(by_key):
        of_kind[by_key[key].kind].append(by_key[key])
    policies = [p for p in of_kind[IMAGE_POLICY.name] if isinstance(p, ImagePolicy)]
    on_repository: dict[str, list[str]] = defaultdict(list)
    for policy in policies:
        on_repository[policy.references()[0]].append(policy.key)
    uses: dict[str, set[str]] = {}
    pushes_to: dict[str, str] = {}
    for automation in of_kind[IMAGE_UPDATE_AUTOMATION.name]:
        if isinstance(automation, ImageUpdateAutomation):
            uses[automation.key] = _policies_used(
                automation, policies, by_key, markers.get(automation.key)
            )
            pushes_to[automation.key] = automation.references()[0]
    applied_by: dict[str, list[str]] = defaultdict(list)
    for kustomization in of_kind[KUSTOMIZATION.name]:
        if (
            isinstance(kustomization, Kustomization)
            and kustomization.spec.source_ref.kind == GIT_REPOSITORY.name
        ):
            applied_by[kustomization.references()[0]].append(kustomization.key)

    out: list[Pipeline] = []
    placed: set[str] = set()
    for repository in of_kind[IMAGE_REPOSITORY.name]:
        on = on_repository[repository.key]
        automations = [a for a in sorted(uses) if uses[a] & set(on)]
        sources = sorted({pushes_to[a] for a in automations if pushes_to[a] in by_key})
        applying = sorted({k for s in sources for k in applied_by[s]})
        stages: tuple[tuple[str, tuple[str, ...]], ...] = (
            (IMAGE_REPOSITORY.name, (repository.key,)),
            (IMAGE_POLICY.name, tuple(on)),
            (IMAGE_UPDATE_AUTOMATION.name, tuple(automations)),
            (GIT_REPOSITORY.name, tuple(sources)),
            (KUSTOMIZATION.name, tuple(applying)),
        )
        out.append(Pipeline(repository.key, stages))
        placed.update(k for _, keys in stages for k in keys)
    for source in of_kind[GIT_REPOSITORY.name]:
        if source.key not in placed and applied_by[source.key]:
            stages = (
                (GIT_REPOSITORY.name, (source.key,)),
                (KUSTOMIZATION.name, tuple(applied_by[source.key])),
            )
            out.append(Pipeline(source.key, stages))
            placed.update(k for _, keys in stages for k in keys)
    order = {kind.name: i for i, kind in enumerate(REPORTED)}
    others = sorted(
        (k for k in by_key if k not in placed),
        key=lambda k: (order.get(by_key[k].kind, len(order)), k),
    )
    return out, others


# --- traces, from the journal -----------------------------------------------------------


@dataclass(frozen=True)
class Hop:
    """One journal entry of a trace: an event as a service started on it, or a Notice."""

    label: str  # the event type and the object it is about
    service: str
    emitted: float
    started: float
    notice: bool = False
    severity: str = ""
    message: str = ""


@dataclass(frozen=True)
class Trace:
    trace_id: str
    hops: tuple[Hop, ...]  # by start

    @property
    def start(self) -> float:
        return min(h.emitted for h in self.hops)

    @property
    def end(self) -> float:
        return max(max(h.started, h.emitted) for h in self.hops)


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _hop(entry: Any) -> tuple[str, Hop] | None:
    """An entry of the journal as a hop of its trace; None for one that is not (no trace,
    no time)."""
    if not isinstance(entry, dict):
        return None
    trace, kind = entry.get("trace_id"), entry.get("type")
    emitted = _seconds(entry.get("emitted_at"))
    if not isinstance(trace, str) or not trace or not isinstance(kind, str) or emitted is None:
        return None
    started = _seconds(entry.get("started_at"))
    where = "/".join(str(entry[k]) for k in ("namespace", "name") if entry.get(k) is not None)
    service = str(entry.get("service") or "")
    if kind == "Notice":
        about = " ".join(str(v) for v in (entry.get("kind"), where) if v)
        label = f"{entry.get('reason') or 'Notice'} {about}".strip()
        return trace, Hop(
            label, service, emitted, started if started is not None else emitted, notice=True,
            severity=str(entry.get("severity") or ""), message=str(entry.get("message") or ""),
        )
    about = f"{entry.get('kind') or ''} {where}" if kind == "ReconcileRequested" else where
    if kind == "ReconcileRequested" and entry.get("reason"):
        about += f" ({entry['reason']})"
    return trace, Hop(f"{kind} {about}".strip(), service, emitted,
                      started if started is not None else emitted)


def traces(journal: Iterable[Any]) -> list[Trace]:
    """The journal's entries (oldest first) grouped by trace, the newest trace first."""
    grouped: dict[str, list[Hop]] = defaultdict(list)
    for entry in journal:
        found = _hop(entry)
        if found is not None:
            grouped[found[0]].append(found[1])
    out = [Trace(t, tuple(sorted(h, key=lambda h: (h.started, h.emitted)))) for t, h in
           grouped.items()]
    return sorted(out, key=lambda t: t.end, reverse=True)


def shown(all_traces: Sequence[Trace], limit: int = MAX_TRACES) -> tuple[list[Trace], int]:
    """The traces drawn: the newest that went further than one hop (a tick that changed
    nothing is one), else the newest of any; and how many single hops were left out."""
    longer = [t for t in all_traces if len(t.hops) > 1]
    if not longer:
        return list(all_traces[:limit]), 0
    return longer[:limit], len(all_traces) - len(longer)


# --- HTML -------------------------------------------------------------------------------

CSS = """
body{font-family:"DejaVu Sans",sans-serif;margin:16px 24px;color:#1f2328;background:#f6f8fa}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}
.sub{color:#57606a;font-size:13px;margin-bottom:12px}
.summary span{display:inline-block;margin-right:12px;font-weight:bold}
.pipeline{background:#fff;border:1px solid #d0d7de;border-radius:6px;margin:10px 0;padding:8px}
.pipeline h3{font-size:14px;margin:0 0 6px;color:#57606a}
.stages{display:flex;gap:6px;align-items:stretch}
.stage{flex:1 1 0;min-width:0}
.stage+.stage{border-left:2px dashed #d0d7de;padding-left:6px}
.stage-kind{font-size:11px;color:#57606a;text-transform:uppercase;margin-bottom:4px}
.none{color:#8c959f;font-size:12px}
.card{border:1px solid #d0d7de;border-left:6px solid #8c959f;border-radius:4px;padding:4px 6px;
 margin-bottom:4px;font-size:12px;overflow-wrap:anywhere}
.card .name{font-weight:bold}.card .detail{color:#57606a}.card .msg{margin-top:2px}
.badge{display:inline-block;border-radius:8px;padding:0 6px;color:#fff;font-size:11px}
.ready-True{border-left-color:#1a7f37}.ready-True .badge{background:#1a7f37}
.ready-False{border-left-color:#cf222e}.ready-False .badge{background:#cf222e}
.ready-Unknown{border-left-color:#bf8700}.ready-Unknown .badge{background:#bf8700}
.others{display:grid;grid-template-columns:repeat(auto-fill,minmax(280px,1fr));gap:6px}
.trace{background:#fff;border:1px solid #d0d7de;border-radius:6px;margin:8px 0;padding:6px 8px}
.trace-head{font-size:13px;margin-bottom:4px}
.hop{display:grid;grid-template-columns:380px 1fr 90px;gap:8px;align-items:center;
 font-size:12px;height:18px}
.hop-label{overflow:hidden;white-space:nowrap;text-overflow:ellipsis}
.track{position:relative;height:12px;background:#eaeef2;border-radius:3px}
.bar{position:absolute;top:0;height:12px;min-width:4px;background:#0969da;border-radius:3px}
.lead{position:absolute;top:0;left:0;height:12px;background:#b6e3ff;border-radius:3px}
.marker{position:absolute;top:0;width:10px;height:10px;margin-left:-5px;background:#8250df;
 transform:rotate(45deg)}
.sev-error .marker{background:#cf222e}
.hop-time{text-align:right;color:#57606a;font-variant-numeric:tabular-nums}
.more{font-size:12px;color:#57606a}
"""


def duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s"
    return f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _when(epoch: float) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))
    except (OverflowError, OSError, ValueError):
        return "?"


NONE = '<div class="none">none</div>'


def render_card(c: Card) -> str:
    ready = c.ready if c.ready in STATES else "Unknown"
    suspended = ' <span class="detail">suspended</span>' if c.suspended else ""
    reason = f"{text(c.reason)}: " if c.reason else ""
    detail = f'<div class="detail">{text(c.detail)}</div>' if c.detail else ""
    return (
        f'<div class="card ready-{ready}" data-key="{text(c.key)}" data-ready="{ready}">'
        f'<div><span class="badge">Ready {ready}</span> '
        f'<span class="name">{text(c.namespace)}/{text(c.name)}</span>{suspended}</div>'
        f'{detail}<div class="msg">{reason}{text(c.message)}</div></div>'
    )


def render_pipeline(p: Pipeline, cards: Mapping[str, Card]) -> str:
    stages = []
    for kind, keys in p.stages:
        body = "".join(render_card(cards[k]) for k in keys if k in cards) or NONE
        stages.append(
            f'<div class="stage" data-kind="{text(kind)}"><div class="stage-kind">{text(kind)}'
            f"</div>{body}</div>"
        )
    kind, _, rest = p.head.partition("/")
    return (
        f'<section class="pipeline" data-head="{text(p.head)}"><h3>{text(kind)} '
        f'{text(rest)}</h3><div class="stages">{"".join(stages)}</div></section>'
    )


def render_trace(t: Trace) -> str:
    start, total = t.start, t.end - t.start
    scale = total if total > 0 else 1.0
    lanes = []
    for hop in t.hops[:MAX_HOPS]:
        left = min(max((hop.emitted - start) / scale * 100, 0.0), 100.0)
        offset = max(hop.started - start, 0.0)
        if hop.notice:
            mark = f'<span class="marker" style="left:{left:.2f}%"></span>'
            severity = "sev-error" if hop.severity.lower() == "error" else "sev-info"
            title = f' title="{text(hop.message)}"' if hop.message else ""
            lanes.append(
                f'<div class="hop notice {severity}" data-type="Notice"{title}>'
                f'<span class="hop-label" title="{text(hop.label)}">◆ {text(hop.label)}</span>'
                f'<span class="track">{mark}</span>'
                f'<span class="hop-time">+{duration(max(hop.emitted - start, 0.0))}</span></div>'
            )
            continue
        width = min(max((hop.started - hop.emitted) / scale * 100, 0.0), 100.0 - left)
        label = f"{text(hop.label)} → {text(hop.service or '?')}"
        lanes.append(
            f'<div class="hop" data-service="{text(hop.service)}" data-offset="{offset:.3f}">'
            f'<span class="hop-label" title="{label}">{label}</span>'
            f'<span class="track"><span class="lead" style="width:{left:.2f}%"></span>'
            f'<span class="bar" style="left:{left:.2f}%;width:{width:.2f}%"></span></span>'
            f'<span class="hop-time">+{duration(offset)}</span></div>'
        )
    notices = sum(1 for h in t.hops if h.notice)
    counted = plural(len(t.hops) - notices, "hop") + (
        f", {plural(notices, 'notice')}" if notices else ""
    )
    more = len(t.hops) - MAX_HOPS
    if more > 0:
        lanes.append(f'<div class="more">and {more} more</div>')
    return (
        f'<div class="trace" data-trace="{text(t.trace_id)}"><div class="trace-head">trace '
        f"<code>{text(t.trace_id)}</code> · {_when(start)} · {counted} · total "
        f"<b>{duration(total)}</b></div>{''.join(lanes)}</div>"
    )


def render(
    cards: Mapping[str, Card],
    groups: Sequence[Pipeline],
    others: Sequence[str],
    drawn: Sequence[Trace],
    left_out: int,
    now: float,
) -> str:
    """The whole page."""
    counts = {s: sum(1 for c in cards.values() if c.ready == s) for s in STATES}
    summary = "".join(
        f'<span class="ready-{s}"><span class="badge">Ready {s}</span> {counts[s]}</span>'
        for s in STATES
    )
    pipelines_html = "".join(render_pipeline(p, cards) for p in groups) or (
        '<div class="none">no pipeline</div>'
    )
    other = "".join(render_card(cards[k]) for k in others if k in cards) or NONE
    timeline = "".join(render_trace(t) for t in drawn) or (
        '<div class="none">no trace in the journal yet</div>'
    )
    if left_out:
        timeline += (
            f'<div class="more">{plural(left_out, "trace")} of a single hop (a run that woke '
            "nothing further) not drawn</div>"
        )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
        f"<title>conveyor status</title><style>{CSS}</style></head><body>"
        f'<h1>conveyor</h1><div class="sub">{len(cards)} objects · {_when(now)} · '
        f"refreshes every {REFRESH_SECONDS} s · JSON at /api/v1/objects, /api/v1/events</div>"
        f'<div class="summary">{summary}</div>'
        f'<h2>Pipelines</h2><div id="pipelines">{pipelines_html}</div>'
        f'<h2>Other objects</h2><section id="others" class="others">{other}</section>'
        f'<h2>Last traces</h2><div id="traces">{timeline}</div></body></html>'
    )


def status_page(store: Store, now: float | None = None) -> str:
    """The page for what ``store`` holds now: one list per kind, every status and the
    journal in one read each, and the markers of each automation."""
    objects = [o for kind in REPORTED for o in store.list_objects(kind.name)]
    raws = store.raw_statuses([o.key for o in objects])
    cards = {o.key: card(o, raw) for o, raw in zip(objects, raws, strict=True)}
    markers = {
        o.key: store.markers_of(o.key) for o in objects if o.kind == IMAGE_UPDATE_AUTOMATION.name
    }
    groups, others = pipelines(objects, markers)
    drawn, left_out = shown(traces(store.journal(JOURNAL_ENTRIES)))
    return render(cards, groups, others, drawn, left_out, time.time() if now is None else now)
