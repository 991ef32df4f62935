"""Shell completion with argcomplete: ``conveyor completion bash|zsh|fish`` prints the script
to source (``source <(conveyor completion bash)``); the shell then runs ``conveyor`` with
``_ARGCOMPLETE`` set on each TAB, and argcomplete answers from the parser: the commands, their
flags, the kinds as kubectl spells them, and the names of the objects of a kind, asked of the
conveyor the command line points at (nothing when none answers)."""

from __future__ import annotations

import argparse
from typing import Any

from conveyor.services.ctl.kinds import KINDS, resolve, spellings
from conveyor.shared.errors import ConveyorError

SHELLS = ("bash", "zsh", "fish")


def kinds(prefix: str, parsed_args: argparse.Namespace | None = None, **_: Any) -> list[str]:
    """The KIND words starting with ``prefix`` (``all`` too, for ``conveyor get``)."""
    words = [w for w in spellings() if "." not in w]  # not the `plural.group` forms
    command = getattr(parsed_args, "command", None) if parsed_args is not None else None
    if command == "get":
        words = ["all", *words]
    if command in ("preview", "approve", "reject", "rollback"):  # automations only
        from conveyor.services.ctl.automations import AUTOMATION, WORDS

        words = [*WORDS, *(w for w in AUTOMATION.spellings if "." not in w)]
    return [w for w in words if w.startswith(prefix.lower())]


def names(prefix: str, parsed_args: argparse.Namespace, **_: Any) -> list[str]:
    """The names of the objects of the kind already given, in the namespace given."""
    from conveyor.services.ctl.backends import connect
    from conveyor.services.ctl.commands import where_of
    from conveyor.services.ctl.get import names as object_names

    word = getattr(parsed_args, "kind", None) or "all"
    try:
        if getattr(parsed_args, "command", None) in ("preview", "approve", "reject",
                                                     "rollback"):
            from conveyor.services.ctl.approvals import approval_kind

            chosen = [approval_kind(word)]  # `automation`, say
        else:
            chosen = list(KINDS) if word.lower() == "all" else [resolve(word)]
        namespace = None if getattr(parsed_args, "all_namespaces", False) else (
            getattr(parsed_args, "namespace", None) or "flux-system"
        )
        found = object_names(connect(where_of(parsed_args)), chosen, namespace)
    except (ConveyorError, OSError):
        return []
    return [n for n in found if n.startswith(prefix)]


def autocomplete(parser: argparse.ArgumentParser) -> None:
    """Answer the shell's completion request (``_ARGCOMPLETE`` is set) and exit."""
    import argcomplete

    argcomplete.autocomplete(parser, always_complete_options=False)  # flags after a "-"


def script(shell: str) -> str:
    """The script that makes ``shell`` complete ``conveyor``."""
    from argcomplete.shell_integration import shellcode

    return shellcode(["conveyor"], shell=shell)
