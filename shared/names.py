"""The services' names as the command line spells them, in pipeline order: what ``conveyor
worker`` runs. Kept apart from ``kinds`` (which imports every model) so that the command line
starts without the models; ``kinds`` checks its table against it as it loads."""

from __future__ import annotations

SERVICES: tuple[str, ...] = (
    "source-fetcher",
    "registry-scanner",
    "policy-evaluator",
    "git-committer",
    "applier",
    "receiver",
)
