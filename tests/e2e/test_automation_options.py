"""ImageUpdateAutomation options beyond the seed, end to end (``conveyor run --once``) on real Git
remotes: a push branch, a push refspec, push options, what an existing push branch starts from,
and spec.policySelector."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conveyor.services.demo.scenario import Demo, ci_tags
from tests.committer.push_hooks import pushes, record_pushes
from tests.conftest import commit_files, conveyor, git_out, push, run_once_json
from tests.fixtures.registries import Registry

# Flux's documented example of push options (GitLab), the push part verbatim
GITLAB_PUSH = """    push:
      branch: dev
      options:
        merge_request.create: ""
        merge_request.target: release
"""
# Flux's documented Gitea / Forgejo example (AGit), the git part verbatim
GITEA_GIT = """  git:
    checkout:
      ref:
        branch: master
    push:
      branch: flux-updates
      refspec: refs/heads/flux-updates:refs/for/main
      options:
        topic: flux-updates
        title: Flux Image Update
        description: |-
          This PR is automatically opened by the fluxcd *image-automation-controller*
    commit:
      author:
        email: flux@eaample.com
        name: fluxcd
      messageTemplate: '{{range .Changed.Changes}}{{print .OldValue}} -> {{println
        .NewValue}}{{end}}'
"""


def edit(demo: Demo, old: str, new: str) -> None:
    path = demo.manifests / "gitops-demo-app.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def count(demo: Demo, ref: str) -> int:
    return int(git_out(demo.remote, "rev-list", "--count", ref))


def head(demo: Demo, ref: str) -> str:
    return git_out(demo.remote, "rev-parse", ref).strip()


def deployment(demo: Demo, ref: str) -> str:
    return git_out(demo.remote, "show", f"{ref}:kustomize/deployment.yaml")


def automation(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return next(r for r in rows if r.get("kind") == "ImageUpdateAutomation")


def ready(rows: list[dict[str, Any]]) -> dict[str, Any]:
    row = automation(rows)
    return next(c for c in row["status"]["conditions"] if c["type"] == "Ready")


def test_push_branch_is_created_then_built_upon(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    """Flux's default (its GitAllBranchReferences gate on): the push branch is made from the
    checkout branch, then each update goes on top of the push branch's own head."""
    edit(demo, "    push:\n      branch: master", "    push:\n      branch: image-updates")
    tags = ci_tags(3)
    push(registry, demo, tags[:2])
    run_once_json(demo, tmp_path / "data", redis_url)
    assert count(demo, "master") == 1  # the checkout branch is untouched
    assert count(demo, "image-updates") == 2
    assert f":{tags[1]} #" in deployment(demo, "image-updates")

    run_once_json(demo, tmp_path / "data", redis_url)  # nothing new: no second commit
    assert count(demo, "image-updates") == 2

    # someone adds to the push branch, and the checkout branch moves on: built upon the former
    pushed_before = head(demo, "image-updates")
    commit_files(demo.remote, {"app.py": "print('moved on')\n"}, "master moves on")
    push(registry, demo, tags[2:])
    run_once_json(demo, tmp_path / "data", redis_url)
    assert count(demo, "image-updates") == 3  # on top of the push branch, not master
    assert head(demo, "image-updates^") == pushed_before
    assert f":{tags[2]} #" in deployment(demo, "image-updates")
    assert ":latest #" in deployment(demo, "master")


def test_checkout_base_overwrites_an_existing_push_branch(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    """With the annotation ``conveyor.dev/push-branch-base: checkout`` (Flux with its
    GitAllBranchReferences gate off): each run starts the push branch from the checkout branch
    and force-pushes it; a branch that holds that very update already is left alone."""
    edit(demo, "    push:\n      branch: master", "    push:\n      branch: image-updates")
    edit(
        demo,
        "kind: ImageUpdateAutomation\nmetadata:\n  name: gitops-demo-app\n",
        "kind: ImageUpdateAutomation\nmetadata:\n  name: gitops-demo-app\n"
        "  annotations:\n    conveyor.dev/push-branch-base: checkout\n",
    )
    # a push branch that exists already, with a commit of its own
    commit_files(demo.remote, {"stale.txt": "old\n"}, "an old update")
    git_out(demo.remote, "update-ref", "refs/heads/image-updates", head(demo, "master"))
    git_out(demo.remote, "update-ref", "refs/heads/master", head(demo, "master^"))
    tags = ci_tags(3)
    push(registry, demo, tags[:2])
    _, rows = run_once_json(demo, tmp_path / "data", redis_url)
    assert ready(rows)["status"] == "True", ready(rows)
    first = head(demo, "image-updates")
    assert head(demo, "image-updates^") == head(demo, "master")  # the old commit is gone
    assert f":{tags[1]} #" in deployment(demo, "image-updates")

    run_once_json(demo, tmp_path / "data", redis_url)  # the same update: nothing pushed
    assert head(demo, "image-updates") == first

    commit_files(demo.remote, {"app.py": "print('moved on')\n"}, "master moves on")
    push(registry, demo, tags[2:])
    run_once_json(demo, tmp_path / "data", redis_url)
    assert head(demo, "image-updates^") == head(demo, "master")  # from master's new head
    assert count(demo, "image-updates") == count(demo, "master") + 1
    assert f":{tags[2]} #" in deployment(demo, "image-updates")


def test_an_unknown_push_branch_base_stalls(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    edit(
        demo,
        "kind: ImageUpdateAutomation\nmetadata:\n  name: gitops-demo-app\n",
        "kind: ImageUpdateAutomation\nmetadata:\n  name: gitops-demo-app\n"
        "  annotations:\n    conveyor.dev/push-branch-base: rebase\n",
    )
    push(registry, demo, ci_tags(2))
    _, rows = run_once_json(demo, tmp_path / "data", redis_url)
    assert ready(rows)["status"] == "False"
    assert "conveyor.dev/push-branch-base" in ready(rows)["message"]
    assert "'rebase'" in ready(rows)["message"]
    assert count(demo, "master") == 1


def test_push_refspec(demo: Demo, registry: Registry, redis_url: str, tmp_path: Path) -> None:
    """Only a refspec: as Flux, the commit goes to the checkout branch and to the refspec."""
    edit(
        demo,
        "    push:\n      branch: master",
        "    push:\n      refspec: HEAD:refs/heads/for-review",
    )
    push(registry, demo, ci_tags(2))
    _, rows = run_once_json(demo, tmp_path / "data", redis_url)
    pushed = head(demo, "for-review")
    assert automation(rows)["status"]["lastPushCommit"] == pushed
    assert head(demo, "master") == pushed and count(demo, "master") == 2
    assert ready(rows)["message"] == (
        f"pushed commit '{pushed[:7]}' to branch 'master' and refspecs "
        "'HEAD:refs/heads/for-review'"
    )
    run_once_json(demo, tmp_path / "data", redis_url)  # nothing new: no second commit
    assert head(demo, "for-review") == pushed == head(demo, "master")


def test_push_options_reach_the_remote(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    """Flux's GitLab example: the push options go with the push, as ``key=value``."""
    log = record_pushes(demo.remote)
    edit(demo, "    push:\n      branch: master\n", GITLAB_PUSH)
    push(registry, demo, ci_tags(2))
    _, rows = run_once_json(demo, tmp_path / "data", redis_url)
    assert ready(rows)["status"] == "True", ready(rows)
    assert pushes(log) == [
        {
            "options": ["merge_request.create=", "merge_request.target=release"],
            "refs": {"refs/heads/dev": head(demo, "dev")},
        }
    ]


def test_the_gitea_example_pushes_branch_then_refspec_with_its_options(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    log = record_pushes(demo.remote)
    path = demo.manifests / "gitops-demo-app.yaml"
    text = path.read_text()
    start = text.index("  git:\n", text.index("kind: ImageUpdateAutomation"))
    end = text.index("  update:\n", start)
    path.write_text(text[:start] + GITEA_GIT + text[end:])
    tags = ci_tags(2)
    push(registry, demo, tags)
    _, rows = run_once_json(demo, tmp_path / "data", redis_url)
    assert ready(rows)["status"] == "True", ready(rows)
    pushed = head(demo, "flux-updates")
    options = [
        "description=This PR is automatically opened by the fluxcd "
        "*image-automation-controller*",
        "title=Flux Image Update",
        "topic=flux-updates",
    ]
    assert pushes(log) == [
        {"options": options, "refs": {"refs/heads/flux-updates": pushed}},
        {"options": options, "refs": {"refs/for/main": pushed}},
    ]
    message = git_out(demo.remote, "cat-file", "commit", pushed).split("\n\n", 1)[1]
    assert message == f"{demo.image}:latest -> {demo.image}:{tags[1]}\n"  # the template's


def test_a_remote_that_takes_no_push_options_gets_the_push_without_them(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    """As Flux's Git client (go-git) does: the options are sent only where they are taken."""
    log = record_pushes(demo.remote, advertise=False)
    edit(demo, "    push:\n      branch: master\n", GITLAB_PUSH)
    push(registry, demo, ci_tags(2))
    _, rows = run_once_json(demo, tmp_path / "data", redis_url)
    assert ready(rows)["status"] == "True", ready(rows)
    [received] = pushes(log)
    assert not received["options"] and received["refs"] == {"refs/heads/dev": head(demo, "dev")}
    assert ready(rows)["message"].endswith("the remote takes no push options: sent without")


def test_policy_selector_leaves_unselected_markers_alone(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    edit(
        demo,
        "  update:\n    path: ./kustomize",
        "  policySelector:\n    matchLabels:\n      team: payments\n"
        "  update:\n    path: ./kustomize",
    )
    edit(  # a field of v1beta2 and v1 (v1beta1 has none: Flux's API server refuses it)
        demo,
        "apiVersion: image.toolkit.fluxcd.io/v1beta1\nkind: ImageUpdateAutomation",
        "apiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImageUpdateAutomation",
    )
    push(registry, demo, ci_tags(2))
    run_once_json(demo, tmp_path / "data", redis_url)
    assert count(demo, "master") == 1  # the seed policy has no team label: not selected

    edit(
        demo,
        "  name: image-repo-policy\n  namespace: flux-system\n",
        "  name: image-repo-policy\n  namespace: flux-system\n  labels:\n    team: payments\n",
    )
    run = conveyor(
        "run",
        "--manifests",
        str(demo.manifests),
        "--once",
        data=tmp_path / "data",
        redis_url=redis_url,
    )
    assert count(demo, "master") == 2, run.stdout
