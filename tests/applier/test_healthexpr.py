"""``healthCheckExprs``: Flux's CEL health rules (fluxcd/pkg runtime/cel), and their bounds."""

from __future__ import annotations

import time
from typing import Any

import pytest

from conveyor.services.applier.healthchecks import Checks, compile_checks
from conveyor.services.applier.healthexpr import MAX_EXPRESSION, UNKNOWN, Expression
from conveyor.shared.errors import InvalidSpec
from conveyor.shared.models import HealthCheckExpressions

# Flux's documented example, verbatim (docs/spec/v1/kustomizations.md, "Health check
# expressions").
SEALED_SECRET = {
    "apiVersion": "bitnami.com/v1alpha1",
    "kind": "SealedSecret",
    "failed": "status.conditions.filter(e, e.type == 'Synced').all(e, e.status == 'False')",
    "current": "status.conditions.filter(e, e.type == 'Synced').all(e, e.status == 'True')",
}


def checks(*entries: dict[str, str]) -> Checks:
    return compile_checks(
        [HealthCheckExpressions.model_validate(e) for e in entries], "Kustomization ns/k"
    )


def sealed(status: dict[str, Any] | None, generation: int = 1) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": {"name": "s", "namespace": "ns", "generation": generation},
        "spec": {"encryptedData": {"k": "AgB"}},
    }
    if status is not None:
        obj["status"] = status
    return obj


def synced(value: str, observed: int = 1) -> dict[str, Any]:
    return {"observedGeneration": observed,
            "conditions": [{"type": "Synced", "status": value, "message": "m"}]}


def later() -> float:
    return time.monotonic() + 30


def test_the_documented_sealed_secret_expressions() -> None:
    found = checks(SEALED_SECRET)
    health = found.health(sealed(synced("True")), later())
    assert health is not None and health.status == "Current"
    health = found.health(sealed(synced("False")), later())
    assert health is not None and health.status == "Failed"
    # observedGeneration behind generation: InProgress before any expression
    health = found.health(sealed(synced("True", observed=1), generation=2), later())
    assert health is not None and health.status == "InProgress"
    # no status yet: the expression cannot be evaluated; Flux keeps waiting (Unknown)
    health = found.health(sealed(None), later())
    assert health is not None and health.status == UNKNOWN
    assert health.message == (
        f"failed to evaluate the CEL expression '{SEALED_SECRET['failed']}': "
        "no such attribute(s): status"
    )


def test_order_in_progress_then_failed_then_current_and_none_true_is_in_progress() -> None:
    found = checks({
        "apiVersion": "example.com/v1", "kind": "Thing",
        "inProgress": "status.phase == 'Working' || status.phase == 'Both'",
        "failed": "status.phase == 'Broken' || status.phase == 'Both'",
        "current": "status.phase == 'Done' || status.phase == 'Broken'",
    })

    def state(phase: str) -> str:
        obj = {"apiVersion": "example.com/v2", "kind": "Thing", "metadata": {},
               "status": {"phase": phase}}
        health = found.health(obj, later())
        assert health is not None
        return health.status

    assert [state(p) for p in ("Working", "Both", "Broken", "Done", "Idle")] == [
        "InProgress", "InProgress", "Failed", "Current", "InProgress"
    ]


def test_entries_match_by_group_and_kind_a_kind_wins_over_its_group_and_jobs_stay_flux_s() -> None:
    found = checks(
        {"apiVersion": "example.com/v1", "current": "metadata.name == 'by-group'"},
        {"apiVersion": "example.com/v1beta1", "kind": "Special",
         "current": "metadata.name == 'by-kind'"},
        {"apiVersion": "batch/v1", "kind": "Job", "current": "true"},
    )

    def current(api_version: str, kind: str, name: str) -> bool | None:
        health = found.health(
            {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}}, later()
        )
        return None if health is None else health.status == "Current"

    assert current("example.com/v1", "Other", "by-group") is True
    assert current("example.com/v2", "Special", "by-kind") is True  # the version is ignored
    assert current("example.com/v2", "Special", "by-group") is False
    assert current("other.com/v1", "Special", "by-kind") is None  # not covered: kstatus
    assert current("batch/v1", "Job", "j") is None  # Flux's own Job reader comes first


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (
            [{"apiVersion": "a.io/v1", "kind": "X", "current": ""}],
            "failed to create custom status evaluator for healthchecks[0]: "
            "expression Current not specified",
        ),
        (
            [{"apiVersion": "a.io/v1", "kind": "X", "current": "true"},
             {"apiVersion": "a.io/v2", "kind": "X", "current": "false"}],
            "duplicate custom health check for GroupKind X.a.io at healthchecks[1]",
        ),
        (
            [{"apiVersion": "a.io/v1", "kind": "X", "current": "true", "failed": "status.("}],
            "failed to create custom status evaluator for healthchecks[0]: failed to parse "
            "the expression Failed: failed to parse the CEL expression 'status.(':",
        ),
        (
            [{"apiVersion": "a.io/v1", "kind": "X", "current": "status.?ready.orValue(false)"}],
            "optional field selection ('.?', '[?') is not supported by conveyor",
        ),
        (
            [{"apiVersion": "a.io/v1", "kind": "X", "current": "'%s'.format(['a']) == 'a'"}],
            "function 'format' is not supported by conveyor",
        ),
        (
            [{"apiVersion": "a.io/v1", "kind": "X", "current": "[1, 2].min() == 1"}],
            "function 'min' is not supported by conveyor",
        ),
        (
            [{"apiVersion": "a.io/v1", "kind": "X", "current": "x" * (MAX_EXPRESSION + 1)}],
            f"longer than {MAX_EXPRESSION} characters",
        ),
    ],
    ids=["no-current", "duplicate", "syntax", "optional", "format", "min", "too-long"],
)
def test_invalid_entries_stall_with_flux_s_reason_and_message(
    entries: list[dict[str, str]], message: str
) -> None:
    with pytest.raises(InvalidSpec) as refused:
        checks(*entries)
    assert refused.value.reason == "InvalidCELExpression"
    assert str(refused.value).startswith(
        "Kustomization ns/k: Reconciliation failed terminally due to configuration error: "
    )
    assert message in str(refused.value)


@pytest.mark.parametrize(
    "expression",
    [
        "status.count == 3.0",  # numbers of different types compare by value
        "status.count < 3.5 && status.ratio > 0",
        "status.count != 'three'",  # values of different types are not equal
        "status.name.lowerAscii() == 'web-app'",
        "status.name.upperAscii().startsWith('WEB')",
        "status.name.split('-') == ['Web', 'App']",
        "status.name.replace('-', '_') == 'Web_App'",
        "status.name.substring(4) == 'App' && status.name.charAt(0) == 'W'",
        "status.name.indexOf('App') == 4 && status.name.lastIndexOf('p') == 6",
        "['a', 'b'].join(',') == 'a,b' && '  x '.trim() == 'x'",
        "status.name.reverse() == 'ppA-beW'",
        "base64.encode(b'hi') == 'aGk=' && base64.decode('aGk=') == b'hi'",
        "sets.contains(status.tags, ['b']) && sets.intersects(status.tags, ['z', 'a'])",
        "sets.equivalent(status.tags, ['b', 'a', 'a'])",
        "status.name.matches('^W[a-z]+-')",
        "has(status.name) && !has(status.missing)",
        "status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')",
    ],
)
def test_flux_s_cel_environment(expression: str) -> None:
    obj = {"status": {"count": 3, "ratio": 0.5, "name": "Web-App", "tags": ["a", "b"],
                      "conditions": [{"type": "Ready", "status": "True"}]}}
    assert Expression(expression).evaluate_boolean(obj, later()) is True


def test_a_non_boolean_or_failing_expression_is_an_error_named_as_flux_names_it() -> None:
    with pytest.raises(ValueError) as failed:
        Expression("status.count + 1").evaluate_boolean({"status": {"count": 1}}, later())
    assert str(failed.value) == "failed to evaluate CEL expression as boolean: 'status.count + 1'"
    with pytest.raises(ValueError) as failed:
        Expression("status.phase == 'x'").evaluate_boolean({"status": {}}, later())
    assert str(failed.value) == (
        "failed to evaluate the CEL expression 'status.phase == 'x'': no such key: phase"
    )
    with pytest.raises(ValueError) as failed:  # CEL converts no numbers in arithmetic
        Expression("status.count + 1.5 > 2.0").evaluate_boolean({"status": {"count": 1}}, later())
    assert "no such overload" in str(failed.value)


def test_an_evaluation_is_bounded_by_its_cost() -> None:
    ten = "[1,2,3,4,5,6,7,8,9,10]"
    nested = f"{ten}.map(a, {ten}.map(b, {ten}.map(c, {ten}.map(d, {ten}.map(e, a+b+c)))))"
    with pytest.raises(ValueError) as stopped:
        Expression(f"{nested}.size() == 10").evaluate_boolean({}, later())
    assert "exceeded its cost limit" in str(stopped.value)
    # what a function builds is paid for too: doubling a string soon runs out
    big = {"status": {"s": "x" * 100_000, "items": list(range(200))}}
    with pytest.raises(ValueError) as stopped:
        Expression("status.items.map(i, status.s + status.s).size() > 0").evaluate_boolean(
            big, later()
        )
    assert "exceeded its cost limit" in str(stopped.value)
    with pytest.raises(ValueError) as stopped:
        Expression("status.s.replace('x', status.s) == ''").evaluate_boolean(big, later())
    assert "exceeded its cost limit" in str(stopped.value)


def test_an_evaluation_stops_at_the_deadline() -> None:
    ten = "[1,2,3,4,5,6,7,8,9,10]"
    with pytest.raises(ValueError) as stopped:
        Expression(f"{ten}.map(a, {ten}.map(b, a + b)).size() == 10").evaluate_boolean(
            {}, time.monotonic() - 1
        )
    assert "still running at the deadline" in str(stopped.value)


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    assert Expression("(" * 30 + "true" + ")" * 30).evaluate_boolean({}, later()) is True
    with pytest.raises(ValueError) as refused:
        Expression("(" * 400 + "true" + ")" * 400).evaluate_boolean({}, later())
    assert str(refused.value).endswith(": nested too deeply")
