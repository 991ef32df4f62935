"""``conveyor preview automation NAME``: the commit an ImageUpdateAutomation would make now (its
message, then ``git diff`` of the files it would change), made by the git-committer's own steps
(``conveyor.services.git_committer.preview``) on conveyor's Redis, and never pushed. ``-o json``:
``{"message", "files": [{"path", "diff"}], "changes": [{"file", "oldValue", "newValue",
"setter"}]}``. Nothing would change: exit 0, ``no changes`` on stderr.

It needs the store itself (the policies' results, the Secrets to clone with): a status API
(read-only) or a cluster alone cannot give them, and are refused saying where to run it.
"""

from __future__ import annotations

import json
import os
from typing import Any, TextIO

from conveyor.services.ctl.backends import Backend, Split, StoreBackend, Where
from conveyor.services.ctl.kinds import BY_NAME, CtlKind, resolve
from conveyor.services.ctl.output import Log, truncate_hex
from conveyor.shared.errors import ConveyorError, UsageError, scrub

AUTOMATION = BY_NAME["ImageUpdateAutomation"]
WORDS = ("automation", "automations")  # conveyor's own, beside kubectl's spellings of the kind


def preview_kind(word: str | None) -> CtlKind:
    """The kind of ``conveyor preview KIND``: only ImageUpdateAutomation has a preview."""
    if word is not None and word.lower() in WORDS:
        return AUTOMATION
    kind = resolve(word or "")
    if kind is not AUTOMATION:
        also = (
            " (what applying a Kustomization would change: conveyor diff kustomization NAME "
            "--manifests DIR)" if kind.name == "Kustomization" else ""
        )
        raise UsageError(
            f"conveyor preview shows the commit an ImageUpdateAutomation would make; a "
            f"{kind.name} makes none: use conveyor preview automation NAME{also}"
        )
    return kind


def _where_to_run(backend: Backend, name: str, namespace: str) -> UsageError:
    verb = f"conveyor preview automation {name} -n {namespace}"
    return UsageError(
        f"conveyor preview needs conveyor's Redis (the policies' results, the Secrets to clone "
        f"with), which {backend.label} does not give: run it where that Redis is reachable, "
        f"e.g. `kubectl -n conveyor exec deploy/git-committer -- {verb}`, "
        f"`docker compose exec git-committer {verb}`, or give REDIS_URL (--redis)"
    )


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


def preview(
    backend: Backend, where: Where, namespace: str, name: str, output: str, out: TextIO, log: Log
) -> int:
    if isinstance(backend, Split):
        backend = backend.journal()  # a `conveyor run --from-cluster` here: its Redis
    if not isinstance(backend, StoreBackend):  # a status API, read-only; a cluster alone
        raise _where_to_run(backend, name, namespace)
    from conveyor.services.git_committer.preview import preview as run_preview
    from conveyor.shared.models import ImageUpdateAutomation
    from conveyor.shared.runtime import Context, Settings
    from conveyor.shared.store import Store

    store = Store(backend.store.redis, backend.store.prefix, secret_key(where))
    obj = store.get_object(f"{AUTOMATION.name}/{namespace}/{name}", ImageUpdateAutomation)
    if obj is None:
        raise ConveyorError(
            f"ImageUpdateAutomation object '{name}' not found in \"{namespace}\" namespace "
            f"(list them with: conveyor get imageupdateautomation -A)"
        )
    settings = Settings.from_environment(os.environ, data_dir=where.data_dir)
    ctx = Context(store, NoPublishing(), settings)
    owner = f"ImageUpdateAutomation {namespace}/{name}"
    if obj.spec.suspend:
        log.waiting(f"{owner} is suspended: this is what it would commit once resumed")
    try:
        found = run_preview(obj, ctx)
    except UsageError:
        raise
    except ConveyorError as exc:
        said = ctx.redact(scrub(str(exc)))
        raise ConveyorError(said if said.startswith(owner) else f"{owner}: {said}") from None
    for warning in found.warnings:
        log.waiting(ctx.redact(warning))
    revision = truncate_hex(f"{found.branch}@sha1:{found.base}")
    if output == "json":
        print(json.dumps(found.data(), indent=4), file=out)
    if found.message is None:
        log.success(f"no changes: {owner} would commit nothing on {revision}")
        return 0
    if output != "json":
        print(found.message.rstrip("\n") + "\n", file=out)
        out.write("".join(f.diff for f in found.files))
    count = len(found.files)
    log.success(
        f"{owner} would commit {count} file{'s' if count != 1 else ''} on {revision}; "
        f"nothing committed or pushed"
    )
    return 0


class NoPublishing:
    """The dispatcher of a preview's Context: a preview never publishes anything."""

    def send(self, service: str, message: dict[str, Any], countdown: float = 0.0) -> None:
        raise ConveyorError(
            f"a preview publishes nothing (it was about to send {message.get('type')} "
            f"to {service})"
        )
