"""Flux's own ImagePolicy test tables (``flux_cases.yaml``), case by case, through conveyor.

Each case is run the way Flux's test runs it, on conveyor's counterpart: ``ParseVersion`` is
:func:`~conveyor.shared.semver.parse_tag`, ``NewSemVer``/``NewAlphabetical``/
``NewNumerical``/``PolicerFromSpec`` is :func:`compile_policy`, ``Latest`` is
:meth:`CompiledPolicy.latest`, ``RegexFilter`` is :func:`compile_filter`, ``applyPolicy``
and the reconciler's table tests are :func:`select_latest` (Flux's conditions for them are
checked through the stage in ``test_stage.py``), ``composeImagePolicyReadyMessage`` is
:func:`ready_message`. Where Flux shuffles its input, every order is tried that matters.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from conveyor.services.policy_evaluator.policy import (
    REASON_FAILURE,
    REASON_INVALID_POLICY,
    compile_filter,
    compile_policy,
    select_latest,
)
from conveyor.services.policy_evaluator.reconcile import ready_message
from conveyor.shared.errors import ConveyorError, DependencyNotReady, InvalidSpec
from conveyor.shared.semver import SemverError, parse_constraint, parse_tag
from conveyor.shared.status import ImageRef

CASES: dict[str, Any] = yaml.safe_load((Path(__file__).parent / "flux_cases.yaml").read_text())


def cases(section: str, label: str = "label") -> list[Any]:
    return [pytest.param(case, id=f"{section}:{case[label]}") for case in CASES[section]]


def orders(values: list[str]) -> list[list[str]]:
    """The list, reversed, sorted both ways, and a few shuffles (Flux's ``shuffle``)."""
    rnd = random.Random(len(values))
    shuffled = [rnd.sample(values, len(values)) for _ in range(4)]
    return [values, values[::-1], sorted(values), sorted(values, reverse=True), *shuffled]


# ---------------------------------------------------------------------- fluxcd/pkg version


@pytest.mark.parametrize("case", cases("parse_version", "version"))
def test_parse_version(case: dict[str, Any]) -> None:
    if case["err"]:
        with pytest.raises(SemverError):
            parse_tag(case["version"])
    else:
        assert parse_tag(case["version"]).original == case["version"]


def test_sort() -> None:
    table = CASES["sort"]
    constraint = parse_constraint(table["constraint"])
    kept = []
    for text in table["versions"]:
        try:
            v = parse_tag(text)
        except SemverError:
            continue
        if constraint.check(v):
            kept.append(v)
    ordered = sorted(kept, key=lambda v: v.key, reverse=True)  # stable, as the table says
    assert [v.original for v in ordered] == table["expected"]


# ------------------------------------------------------------------------ internal/policy


@pytest.mark.parametrize(
    ("rng", "valid"),
    [pytest.param(r, True, id=f"new_semver:valid:{r}") for r in CASES["new_semver"]["valid"]]
    + [
        pytest.param(r, False, id=f"new_semver:invalid:{r!r}")
        for r in CASES["new_semver"]["invalid"]
    ],
)
def test_new_semver(rng: str, valid: bool) -> None:
    if valid:
        assert compile_policy({"semver": {"range": rng}}).constraints is not None
    else:
        with pytest.raises(InvalidSpec) as info:
            compile_policy({"semver": {"range": rng}})
        assert info.value.reason == REASON_INVALID_POLICY
        assert str(info.value).startswith("invalid policy: ")


@pytest.mark.parametrize("case", cases("semver_latest"))
def test_semver_latest(case: dict[str, Any]) -> None:
    policy = compile_policy({"semver": {"range": case["range"]}})
    for versions in orders(case["versions"]):
        if case.get("error"):
            with pytest.raises(ConveyorError) as info:
                policy.latest(versions)
            assert info.value.reason == REASON_FAILURE
        else:
            assert policy.latest(versions) == case["expected"]


@pytest.mark.parametrize(
    ("kind", "case"),
    [
        pytest.param(kind, case, id=f"new_order:{kind}:{case['label']}")
        for kind, case in itertools.product(("alphabetical", "numerical"), CASES["new_order"])
    ],
)
def test_new_order(kind: str, case: dict[str, Any]) -> None:
    spec = {kind: {"order": case["order"]}}
    if case["error"]:
        with pytest.raises(InvalidSpec, match="invalid order argument provided") as info:
            compile_policy(spec)
        assert info.value.reason == REASON_INVALID_POLICY
    else:
        assert compile_policy(spec).order == (case["order"] or "ASC")


@pytest.mark.parametrize(
    ("kind", "case"),
    [
        pytest.param("alphabetical", c, id=f"alphabetical:{c['label']}")
        for c in CASES["alphabetical_latest"]
    ]
    + [
        pytest.param("numerical", c, id=f"numerical:{c['label']}")
        for c in CASES["numerical_latest"]
    ],
)
def test_ordered_latest(kind: str, case: dict[str, Any]) -> None:
    policy = compile_policy({kind: {"order": case.get("order", "")}})
    for versions in orders(case["versions"]):
        if case.get("error"):
            with pytest.raises(ConveyorError) as info:
                policy.latest(versions)
            assert info.value.reason == REASON_FAILURE
        else:
            assert policy.latest(versions) == case["expected"]


@pytest.mark.parametrize("case", cases("regex_filter"))
def test_regex_filter(case: dict[str, Any]) -> None:
    tag_filter = compile_filter({"pattern": case["pattern"], "extract": case["extract"]})
    values, _ = tag_filter.columns(case["tags"])
    assert sorted(set(values)) == case["expected"]


@pytest.mark.parametrize("case", cases("factory"))
def test_factory(case: dict[str, Any]) -> None:
    if case["error"]:
        with pytest.raises(InvalidSpec) as info:
            compile_policy(case["policy"])
        assert info.value.reason == REASON_INVALID_POLICY
    else:
        assert compile_policy(case["policy"]).kind in case["policy"]


# ------------------------------------------------------------------- internal/controller


@pytest.mark.parametrize("case", cases("apply_policy", "name"))
def test_apply_policy(case: dict[str, Any]) -> None:
    tags = case["tags"] or []
    for ordered in orders(tags):
        if case.get("error"):
            with pytest.raises((InvalidSpec, DependencyNotReady)):
                select_latest(ordered, case["policy"], case.get("filter"))
        else:
            assert select_latest(ordered, case["policy"], case.get("filter")) == case["result"]


@pytest.mark.parametrize("case", cases("calculate_image_from_repo_tags", "name"))
def test_calculate_image_from_repo_tags(case: dict[str, Any]) -> None:
    if "tag" in case:
        assert select_latest(case["versions"], case["policy"]) == case["tag"]
    else:
        with pytest.raises(InvalidSpec) as info:
            select_latest(case["versions"], case["policy"])
        assert info.value.reason == case["ready_reason"]


@pytest.mark.parametrize("case", cases("filter_tags", "name"))
def test_filter_tags(case: dict[str, Any]) -> None:
    policy = {"semver": {"range": ">=0.x"}}
    if "tag" in case:
        assert select_latest(case["versions"], policy, case["filter"]) == case["tag"]
    else:
        with pytest.raises(InvalidSpec) as info:
            select_latest(case["versions"], policy, case["filter"])
        assert case["ready_message_contains"] in str(info.value)


@pytest.mark.parametrize("case", cases("ready_message", "name"))
def test_compose_ready_message(case: dict[str, Any]) -> None:
    previous = ImageRef(**case["previous"]) if "previous" in case else None
    assert ready_message(ImageRef(**case["latest"]), previous) == case["message"]
