"""``conveyor events [--for KIND[/NAME]] [--watch]``: ``flux events``' table (LAST SEEN, TYPE,
REASON, OBJECT, MESSAGE; NAMESPACE first with ``-A`` or when a related object lives in another
namespace), oldest first. ``--for`` an object also shows the events of what it reads, as flux
does (a Kustomization's source, an ImagePolicy's ImageRepository).

What the lines are depends on what the command talks to: a conveyor's own journal (each event
between stages, the services it reached, its trace), or with ``--from-cluster`` the cluster's
Events about Flux's kinds (what Flux's controllers, and anything else, recorded there).
"""

from __future__ import annotations

import time
from typing import TextIO

from conveyor.services.ctl.backends import Backend, Event, NotFoundError
from conveyor.services.ctl.kinds import resolve
from conveyor.services.ctl.output import Log, human_duration, table
from conveyor.shared.errors import UsageError

Selector = tuple[str, str | None, str | None]  # kind, name (None: any), namespace (None: any)


def selectors(
    backend: Backend, for_: str | None, namespace: str | None
) -> list[Selector] | None:
    """What ``--for`` selects: the object (or every object of a kind) and, for one object, the
    objects it reads; None without ``--for``."""
    if not for_:
        return None
    word, _, name = for_.partition("/")
    if not word:
        raise UsageError("--for must be KIND or KIND/NAME, e.g. --for kustomization/podinfo")
    kind = resolve(word)
    if not name:
        return [(kind.name, None, namespace)]
    own: list[Selector] = [(kind.name, name, namespace)]
    if namespace is None:
        return own
    obj = backend.get(kind, namespace, name)
    if obj is None:
        raise NotFoundError(f"{kind.name} object '{name}' not found in \"{namespace}\" namespace")
    spec = obj.get("spec") or {}
    ref: dict[str, object] = {}
    ref_kind = ""
    if kind.name == "Kustomization":
        ref = spec.get("sourceRef") or {}
        ref_kind = str(ref.get("kind", ""))
    elif kind.name == "ImagePolicy":
        ref, ref_kind = spec.get("imageRepositoryRef") or {}, "ImageRepository"
    if ref.get("name"):
        own.append((ref_kind, str(ref["name"]), str(ref.get("namespace") or namespace)))
    return own


def _matches(event: Event, chosen: list[Selector] | None, namespace: str | None) -> bool:
    if chosen is None:
        return namespace is None or event.namespace == namespace
    return any(
        event.kind == kind
        and (name is None or event.name == name)
        and (ns is None or event.namespace == ns)
        for kind, name, ns in chosen
    )


def _last_seen(event: Event, now: float) -> str:
    """flux's getLastSeen: the age, and for a repeated event its count and first age."""
    if not event.time:
        return "<unknown>"
    age = human_duration(now - event.time)
    if event.count > 1:
        first = human_duration(now - (event.first or event.time))
        return f"{age} (x{event.count} over {first})"
    return age


def _row(event: Event, show_namespace: bool, now: float) -> list[str]:
    first = [event.namespace] if show_namespace else []
    obj = f"{event.kind}/{event.name}"
    return [*first, _last_seen(event, now), event.type, event.reason, obj, event.message]


HEADER = ["Last seen", "Type", "Reason", "Object", "Message"]


def events(
    backend: Backend,
    namespace: str | None,
    for_: str | None,
    out: TextIO,
    log: Log,
    *,
    watch: bool = False,
    rounds: int | None = None,
) -> int:
    chosen = selectors(backend, for_, namespace)
    # the events of a related object in another namespace are looked for there
    listed = None if chosen and any(s[2] != namespace for s in chosen) else namespace
    show_namespace = namespace is None or listed is None

    def current() -> list[Event]:
        return [e for e in backend.events(listed) if _matches(e, chosen, namespace)]

    shown = current()
    header = (["Namespace"] if show_namespace else []) + HEADER
    if not shown and not watch:
        log.failure("No events found." if namespace is None
                    else f"No events found in {namespace} namespace.")
        return 0
    table(header, [_row(e, show_namespace, time.time()) for e in shown], out)
    out.flush()
    if not watch:
        return 0
    seen = {(e.key, e.count) for e in shown}
    looked = 0
    try:
        while rounds is None or looked < rounds:
            looked += 1
            time.sleep(backend.poll)
            fresh = [e for e in current() if (e.key, e.count) not in seen]
            seen.update((e.key, e.count) for e in fresh)
            table([], [_row(e, show_namespace, time.time()) for e in fresh], out)
            out.flush()
    except KeyboardInterrupt:
        pass
    return 0
