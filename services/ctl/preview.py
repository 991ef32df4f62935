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

from conveyor.services.ctl.automations import WORDS, automation_kind, stored_automation
from conveyor.services.ctl.backends import Backend, Where
from conveyor.services.ctl.kinds import CtlKind, resolve
from conveyor.services.ctl.output import Log, truncate_hex
from conveyor.shared.errors import ConveyorError, UsageError, scrub


def preview_kind(word: str | None) -> CtlKind:
    """The kind of ``conveyor preview KIND``: only ImageUpdateAutomation has a preview."""
    refusal = (
        "conveyor preview shows the commit an ImageUpdateAutomation would make; a {kind} makes "
        "none: use conveyor preview automation NAME"
    )
    if word is not None and word.lower() not in WORDS and resolve(word).name == "Kustomization":
        refusal += (
            " (what applying a Kustomization would change: conveyor diff kustomization NAME "
            "--manifests DIR)"
        )
    return automation_kind(word, refusal)


def preview(
    backend: Backend, where: Where, namespace: str, name: str, output: str, out: TextIO, log: Log
) -> int:
    _, store, obj = stored_automation(
        backend, where, "preview", "the policies' results, the Secrets to clone with",
        namespace, name,
    )
    from conveyor.services.git_committer.preview import preview as run_preview
    from conveyor.shared.runtime import Context, Settings

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
