"""Where an automation's run starts and pushes, read from its spec as Flux's source manager reads
it (checkout ref, push branch, refspec, options), and what is refused before any Git work: a
missing ``spec.git``, a label selector Kubernetes would not take, an empty author name."""

from __future__ import annotations

import pytest

from conveyor.services.git_committer.reconcile import (
    PUSH_BRANCH_BASE,
    check_spec,
    push_target,
    selector_problem,
)
from conveyor.shared.errors import InvalidSpec, PermanentError
from conveyor.shared.manifests import parse_manifests
from conveyor.shared.models import GitRepository, ImageUpdateAutomation, LabelSelector

SOURCE = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: repo, namespace: flux-system}
spec: {interval: 1m, url: "file:///nowhere", ref: {branch: main}}
"""


def automation(git: str, annotations: str = "") -> ImageUpdateAutomation:
    text = f"""\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {{name: auto, namespace: flux-system{annotations}}}
spec:
  interval: 1m
  sourceRef: {{kind: GitRepository, name: repo}}
  git: {git}
"""
    [obj] = parse_manifests(text)
    assert isinstance(obj, ImageUpdateAutomation)
    return obj


def source() -> GitRepository:
    [obj] = parse_manifests(SOURCE)
    assert isinstance(obj, GitRepository)
    return obj


AUTHOR = "commit: {author: {name: bot, email: bot@example.com}}"


@pytest.mark.parametrize(
    ("git", "push_branch", "switch", "refspec", "options"),
    [
        pytest.param(f"{{{AUTHOR}}}", "main", False, None, {}, id="the-source-branch"),
        pytest.param(
            f"{{{AUTHOR}, checkout: {{ref: {{branch: dev}}}}}}", "dev", False, None, {},
            id="the-checkout-branch",
        ),
        pytest.param(
            f"{{{AUTHOR}, push: {{branch: auto}}}}", "auto", True, None, {}, id="a-push-branch"
        ),
        pytest.param(
            f"{{{AUTHOR}, push: {{refspec: 'HEAD:refs/for/main'}}}}",
            "main",
            False,
            "HEAD:refs/for/main",
            {},
            id="a-refspec-alone-pushes-the-checkout-branch-too",
        ),
        pytest.param(
            f"{{{AUTHOR}, checkout: {{ref: {{tag: v1}}}}, push: {{branch: main}}}}",
            "main",
            True,
            None,
            {},
            id="a-tag-has-no-branch",
        ),
        pytest.param(
            f"{{{AUTHOR}, push: {{branch: dev, options: {{merge_request.create: '', a: b}}}}}}",
            "dev",
            True,
            None,
            {"merge_request.create": "", "a": "b"},
            id="options",
        ),
    ],
)
def test_push_target(
    git: str, push_branch: str, switch: bool, refspec: str | None, options: dict[str, str]
) -> None:
    target = push_target(automation(git), source(), "owner")
    assert (target.push_branch, target.switch, target.refspec, target.options) == (
        push_branch,
        switch,
        refspec,
        options,
    )
    assert not target.overwrite


@pytest.mark.parametrize(
    ("git", "overwrite"),
    [
        pytest.param(f"{{{AUTHOR}, push: {{branch: auto}}}}", True, id="its-own-push-branch"),
        pytest.param(f"{{{AUTHOR}}}", False, id="never-the-checkout-branch"),
    ],
)
def test_the_checkout_base_applies_to_a_push_branch_of_its_own(git: str, overwrite: bool) -> None:
    obj = automation(git, f", annotations: {{{PUSH_BRANCH_BASE}: checkout}}")
    assert push_target(obj, source(), "owner").overwrite is overwrite


def test_an_unknown_push_branch_base_is_refused_by_name() -> None:
    obj = automation(f"{{{AUTHOR}}}", f", annotations: {{{PUSH_BRANCH_BASE}: merge}}")
    with pytest.raises(InvalidSpec, match=f"{PUSH_BRANCH_BASE}: 'merge' is not one of"):
        push_target(obj, source(), "owner")


@pytest.mark.parametrize(
    "ref",
    ["{tag: v1}", "{semver: '>=1'}", "{name: refs/pull/1/head}", "{branch: main, commit: abc}"],
)
def test_a_pinned_checkout_without_a_push_branch_is_refused_as_flux_refuses_it(ref: str) -> None:
    obj = automation(f"{{{AUTHOR}, checkout: {{ref: {ref}}}}}")
    with pytest.raises(PermanentError, match="push spec not provided") as raised:
        push_target(obj, source(), "owner")
    assert raised.value.reason == "SourceManagerFailed"
    assert not isinstance(raised.value, InvalidSpec)  # the GitRepository may change: not stalled


def test_a_pinned_commit_on_its_own_push_branch_is_refused() -> None:
    obj = automation(
        f"{{{AUTHOR}, checkout: {{ref: {{branch: main, commit: abc}}}}, push: {{branch: main}}}}"
    )
    with pytest.raises(InvalidSpec, match="also the push branch"):
        push_target(obj, source(), "owner")


@pytest.mark.parametrize(
    ("selector", "problem"),
    [
        pytest.param({}, None, id="empty-selects-all"),
        pytest.param({"matchLabels": {"team": "a", "example.com/tier": ""}}, None, id="labels"),
        pytest.param(
            {"matchExpressions": [{"key": "team", "operator": "In", "values": ["a", "b"]}]},
            None,
            id="in",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "team", "operator": "In"}]},
            "values set can't be empty",
            id="in-without-values",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "team", "operator": "Exists", "values": ["a"]}]},
            "values set must be empty",
            id="exists-with-values",
        ),
        pytest.param({"matchLabels": {"bad key": "a"}}, "not a valid label key", id="key"),
        pytest.param({"matchLabels": {"team": "a b"}}, "not a valid label value", id="value"),
        pytest.param({"matchLabels": {"team": "a" * 64}}, "not a valid label value", id="long"),
        pytest.param({"matchLabels": {"Bad_Domain/x": "a"}}, "not a valid label key", id="prefix"),
    ],
)
def test_label_selectors_as_kubernetes_takes_them(
    selector: dict[str, object], problem: str | None
) -> None:
    found = selector_problem(LabelSelector.model_validate(selector))
    assert found == problem if problem is None else problem in (found or "")


def test_an_invalid_policy_selector_stalls_as_in_flux() -> None:
    text = (
        "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageUpdateAutomation\n"
        "metadata: {name: auto, namespace: flux-system}\n"
        "spec:\n  interval: 1m\n  sourceRef: {kind: GitRepository, name: repo}\n"
        f"  git: {{{AUTHOR}}}\n"
        "  policySelector: {matchExpressions: [{key: team, operator: NotIn}]}\n"
    )
    [obj] = parse_manifests(text)
    assert isinstance(obj, ImageUpdateAutomation)
    with pytest.raises(InvalidSpec, match="failed to parse policy selector") as raised:
        check_spec(obj, "owner")
    assert raised.value.reason == "InvalidPolicySelector"


def test_an_automation_without_git_stalls_as_in_flux() -> None:
    text = (
        "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageUpdateAutomation\n"
        "metadata: {name: auto, namespace: flux-system}\n"
        "spec: {interval: 1m, sourceRef: {kind: GitRepository, name: repo}}\n"
    )
    [obj] = parse_manifests(text)
    assert isinstance(obj, ImageUpdateAutomation)
    with pytest.raises(InvalidSpec, match=r"necessitates field \.spec\.git") as raised:
        check_spec(obj, "owner")
    assert raised.value.reason == "InvalidSourceConfiguration"


def test_an_empty_author_name_is_refused_by_name() -> None:
    obj = automation("{commit: {author: {email: bot@example.com}}}")
    with pytest.raises(InvalidSpec, match=r"spec\.git\.commit\.author\.name") as raised:
        check_spec(obj, "owner")
    assert raised.value.reason == "UnsupportedField"


def test_an_author_without_email_does_not_load() -> None:
    with pytest.raises(PermanentError, match="email"):
        automation("{commit: {author: {name: bot}}}")
