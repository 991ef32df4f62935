"""What the verbs that run the git-committer's own steps on one ImageUpdateAutomation share
(``conveyor preview``, ``conveyor rollback``): the words for its kind, and the store itself.

They need conveyor's Redis (the policies' results, the Secrets to clone and push with): a
status API (read-only) or a cluster alone cannot give it, and is refused saying where to run
the verb instead.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from conveyor.services.ctl.backends import Backend, Split, StoreBackend, Where
from conveyor.services.ctl.kinds import BY_NAME, CtlKind, resolve
from conveyor.shared.errors import ConveyorError, UsageError

if TYPE_CHECKING:
    from conveyor.shared.models import ImageUpdateAutomation
    from conveyor.shared.store import Store

AUTOMATION = BY_NAME["ImageUpdateAutomation"]
WORDS = ("automation", "automations")  # conveyor's own, beside kubectl's spellings of the kind


def automation_kind(word: str | None, refusal: str) -> CtlKind:
    """The kind of ``conveyor VERB KIND``: automations only; ``refusal(kind name)`` says why
    another kind is refused (formatted with ``{kind}``)."""
    if word is not None and word.lower() in WORDS:
        return AUTOMATION
    kind = resolve(word or "")
    if kind is not AUTOMATION:
        raise UsageError(refusal.format(kind=kind.name))
    return kind


def secret_key(where: Where) -> str | None:
    """The key Secrets are sealed with: CONVEYOR_SECRET_KEY, else the one an embedded
    ``conveyor run`` keeps in its data directory (read, never made here)."""
    from conveyor.shared.sealed import KEY_FILE, SETTING

    if key := os.environ.get(SETTING):
        return key
    try:
        return (where.data_dir / KEY_FILE).read_text().strip() or None
    except OSError:
        return None


def stored_automation(
    backend: Backend, where: Where, verb: str, needs: str, namespace: str, name: str
) -> tuple[StoreBackend, Store, ImageUpdateAutomation]:
    """The Redis of the conveyor ``backend`` talks to (a ``conveyor run --from-cluster`` here:
    its own), its store with Secrets opened, and the automation in it; ``verb`` (e.g.
    ``preview``) and what it ``needs`` of the store name where to run it when ``backend`` has
    no store."""
    stored = backend.journal() if isinstance(backend, Split) else backend
    if not isinstance(stored, StoreBackend):  # a status API, read-only; a cluster alone
        command = f"conveyor {verb} automation {name} -n {namespace}"
        raise UsageError(
            f"conveyor {verb} needs conveyor's Redis ({needs}), which {backend.label} does not "
            f"give: run it where that Redis is reachable, e.g. `kubectl -n conveyor exec "
            f"deploy/git-committer -- {command}`, `docker compose exec git-committer "
            f"{command}`, or give REDIS_URL (--redis)"
        )
    from conveyor.shared.models import ImageUpdateAutomation
    from conveyor.shared.store import Store

    store = Store(stored.store.redis, stored.store.prefix, secret_key(where))
    obj = store.get_object(f"{AUTOMATION.name}/{namespace}/{name}", ImageUpdateAutomation)
    if obj is None:
        raise ConveyorError(
            f"ImageUpdateAutomation object '{name}' not found in \"{namespace}\" namespace "
            f"(list them with: conveyor get imageupdateautomation -A)"
        )
    return stored, store, obj
