"""A Kustomization's ``spec.healthCheckExprs`` by group and kind (``healthexpr`` evaluates
them). The CEL interpreter is loaded only when a Kustomization has expressions: an applier whose
Kustomizations have none never carries it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conveyor.services.applier.objects import split_api_version
from conveyor.shared.errors import InvalidSpec

if TYPE_CHECKING:
    from conveyor.services.applier.health import Health
    from conveyor.services.applier.healthexpr import StatusEvaluator

INVALID_CEL = "InvalidCELExpression"
TERMINAL = "Reconciliation failed terminally due to configuration error"


@dataclass(frozen=True)
class Checks:
    """The evaluators of a Kustomization's ``healthCheckExprs``, by (group, kind)."""

    evaluators: Mapping[tuple[str, str], StatusEvaluator]

    def covers(self, group: str, kind: str) -> bool:
        if group == "batch" and kind == "Job":  # Flux's own Job reader comes first
            return False
        return (group, kind) in self.evaluators or (group, "") in self.evaluators

    def health(self, obj: Mapping[str, Any], deadline: float) -> Health | None:
        """The object's health by its expressions; None when none covers its kind."""
        group = split_api_version(str(obj.get("apiVersion", "")))[0]
        kind = str(obj.get("kind", ""))
        if not self.covers(group, kind):
            return None
        evaluator = self.evaluators.get((group, kind)) or self.evaluators[(group, "")]
        return evaluator.health(obj, deadline)


NO_CHECKS = Checks({})


def compile_checks(entries: Sequence[Any], owner: str) -> Checks:
    """The evaluators of ``spec.healthCheckExprs`` (``HealthCheckExpressions`` models);
    InvalidSpec (Stalled, ``InvalidCELExpression``) with Flux's message when one is invalid."""
    if not entries:
        return NO_CHECKS
    from conveyor.services.applier.healthexpr import evaluator  # the CEL interpreter

    evaluators: dict[tuple[str, str], StatusEvaluator] = {}
    for i, entry in enumerate(entries):
        group = split_api_version(entry.api_version)[0]
        key = (group, entry.kind)
        shown = f"{entry.kind}.{group}" if entry.kind else f".{group}"
        try:
            if key in evaluators:
                raise ValueError(
                    f"duplicate custom health check for GroupKind {shown} at healthchecks[{i}]"
                )
            evaluators[key] = evaluator(entry, i)
        except ValueError as exc:
            raise InvalidSpec(f"{owner}: {TERMINAL}: {exc}", reason=INVALID_CEL) from exc
    return Checks(evaluators)
