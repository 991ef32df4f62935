"""Pull-request mode against stand-ins of the GitHub and GitLab APIs (``tests.fixtures.
forge_standins``: those services cannot run here; Gitea, which can, is tested for real in
``test_pull_requests_gitea``), the pushes going to a real Git remote over smart HTTP: a tag
opens one pull request from the push branch into the checkout branch with the commit message as
title and body; a newer tag updates that one; a merged one is not reopened; a proposal that
fails after its push is retried; two runs racing make one; labels, reviewers and auto-merge are
asked as each forge documents it; the token is sent in its header alone. And the annotations,
each refused by name when it cannot be used."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.services.git_committer import pullrequest
from conveyor.services.git_committer.reconcile import push_target
from conveyor.shared.adapters.forge import GitHub, GitLab, Proposal
from conveyor.shared.errors import InvalidSpec
from conveyor.shared.manifests import parse_manifests
from conveyor.shared.models import GitRepository, ImageUpdateAutomation
from tests.committer.pull_scenario import (
    PUSH_BRANCH,
    Scenario,
    manifests,
    ready,
    scenario,
    title,
)
from tests.committer.pull_scenario import repository_files as files
from tests.fixtures.forge_standins import GitHubStandIn, GitLabStandIn, StandIn
from tests.fixtures.git_remotes import SmartHTTPRemote, advance, git_out, init_bare

TOKEN = "ghp-not-a-real-token-0123456789"
REPO = "acme/app"  # GitHub's owner/name; GitLab's group/project


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[SmartHTTPRemote]:
    init_bare(tmp_path / "git" / "acme" / "app.git", files())
    with SmartHTTPRemote(tmp_path / "git", "gitbot", TOKEN) as served:
        yield served


@pytest.fixture(params=["github", "gitlab"])
def forge(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StandIn]:
    kind = GitHubStandIn if request.param == "github" else GitLabStandIn
    with kind(tmp_path / "git" / "acme" / "app.git", REPO, TOKEN) as standin:
        yield standin


def api_of(forge: StandIn) -> str:
    return forge.api if isinstance(forge, GitLabStandIn) else forge.url


def setup(
    forge: StandIn, remote: SmartHTTPRemote, redis_url: str, tmp_path: Path,
    more: dict[str, str] | None = None, names: tuple[str, ...] = ("auto",),
) -> Scenario:
    kind = "gitlab" if isinstance(forge, GitLabStandIn) else "github"
    notes = {"conveyor.dev/pull-request": kind, "conveyor.dev/pull-request-api": api_of(forge),
             **(more or {})}
    text = manifests(remote.url_for("acme/app.git"), TOKEN, notes, names)
    return scenario(redis_url, tmp_path, text)


def pushed_image(forge: StandIn, branch: str = PUSH_BRANCH) -> str:
    return git_out(forge.bare, "show", f"{branch}:deploy/app.yaml").split("image: ")[1].split()[0]


def web_url(forge: StandIn, number: int) -> str:
    if isinstance(forge, GitLabStandIn):
        return f"https://gitlab.example/{REPO}/-/merge_requests/{number}"
    return f"https://github.example/{REPO}/pull/{number}"


def words(forge: StandIn) -> tuple[str, str]:
    return ("merge request", "!") if isinstance(forge, GitLabStandIn) else ("pull request", "#")


def test_a_tag_opens_one_pull_request_and_a_newer_tag_updates_it(
    forge: StandIn, remote: SmartHTTPRemote, redis_url: str, tmp_path: Path
) -> None:
    s = setup(forge, remote, redis_url, tmp_path)
    main = git_out(forge.bare, "rev-parse", "main")
    noun, sign = words(forge)
    s.choose("1.1.0")
    status = s.run()
    head = git_out(forge.bare, "rev-parse", PUSH_BRANCH)
    [pull] = forge.pulls
    assert (pull.head, pull.base, pull.state) == (PUSH_BRANCH, "main", "open")
    message = git_out(forge.bare, "show", "-s", "--format=%B", head)
    assert pull.title == title("1.1.0") == message.splitlines()[0]
    assert pull.body.strip() == message.strip() and "Automation: flux-system/auto" in pull.body
    assert git_out(forge.bare, "rev-parse", "main") == main  # main is the pull request's
    assert pushed_image(forge).endswith(":1.1.0")
    url = web_url(forge, 1)
    assert ready(status) == (
        "True", "Succeeded",
        f"pushed commit '{head[:7]}' to branch '{PUSH_BRANCH}' and opened {noun} "
        f"{sign}1: {url}",
    )
    assert status.last_push_commit == head
    # the summary of what happened, as Flux's event: the pull request named there too
    entries = json.dumps(s.store.journal())
    assert f"opened {noun} {sign}1" in entries and TOKEN not in entries

    s.choose("1.2.0")
    status = s.run()
    newer = git_out(forge.bare, "rev-parse", PUSH_BRANCH)
    assert newer != head and git_out(forge.bare, "rev-parse", f"{newer}^") == head
    assert len(forge.pulls) == 1 and forge.pulls[0].state == "open"
    assert forge.pulls[0].title == title("1.2.0")
    assert forge.sha(forge.pulls[0]) == newer and pushed_image(forge).endswith(":1.2.0")
    assert ready(status)[2].endswith(f"and updated {noun} {sign}1: {url}")
    # the token went in its header, never in a URL
    assert all(TOKEN not in r.path and TOKEN not in json.dumps(r.query) for r in forge.requests)
    assert TOKEN not in json.dumps(status.model_dump(mode="json"))


def test_a_merged_pull_request_is_not_reopened(
    forge: StandIn, remote: SmartHTTPRemote, redis_url: str, tmp_path: Path
) -> None:
    s = setup(forge, remote, redis_url, tmp_path)
    s.choose("1.1.0")
    s.run()
    forge.merge(1)
    assert git_out(forge.bare, "rev-parse", "main") == git_out(forge.bare, "rev-parse",
                                                               PUSH_BRANCH)
    before = len(forge.requests)
    status = s.run()  # nothing changed: nothing asked of the forge
    assert ready(status)[0] == "True" and len(forge.requests) == before
    s.choose("1.2.0")
    status = s.run()
    assert [p.state for p in forge.pulls] == ["merged", "open"]
    assert forge.pulls[1].title == title("1.2.0")
    noun, sign = words(forge)
    assert f"opened {noun} {sign}2" in ready(status)[2]
    # the merged one was never edited
    edits = [r for r in forge.requests if r.method in ("PATCH", "PUT") and r.path.endswith("/1")]
    assert edits == []


@pytest.mark.parametrize("state", ["merged", "closed"])
def test_one_merged_or_closed_with_the_commit_is_left_alone(
    forge: StandIn, remote: SmartHTTPRemote, redis_url: str, tmp_path: Path, state: str
) -> None:
    s = setup(forge, remote, redis_url, tmp_path)
    s.choose("1.1.0")
    s.run()
    head = git_out(forge.bare, "rev-parse", PUSH_BRANCH)
    forge.merge(1) if state == "merged" else forge.close(1)
    client = (GitLab if isinstance(forge, GitLabStandIn) else GitHub)(api_of(forge), REPO, TOKEN)
    with client:
        done = client.propose(Proposal(PUSH_BRANCH, "main", head, "t", "b"))
    assert (done.action, done.pull.number) == (state, 1)
    noun, sign = words(forge)
    assert done.describe() == (
        f"{noun} {sign}1 holding this commit was {state}, not reopened: {web_url(forge, 1)}")
    assert len(forge.pulls) == 1 and forge.pulls[0].state == state


def test_a_proposal_that_fails_after_its_push_is_retried(
    forge: StandIn, remote: SmartHTTPRemote, redis_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = setup(forge, remote, redis_url, tmp_path)
    handle = forge.handle
    monkeypatch.setattr(forge, "handle", lambda seen: (
        (502, {}, b'{"message": "Server Error"}') if seen.method == "POST"
        else handle(seen)))
    s.choose("1.1.0")
    status = s.run()
    head = git_out(forge.bare, "rev-parse", PUSH_BRANCH)
    flag, reason, message = ready(status)
    assert (flag, reason) == ("False", "PullRequestFailed")
    assert "answered 502" in message and TOKEN not in message
    assert status.last_push_commit == head and forge.pulls == []
    monkeypatch.setattr(forge, "handle", handle)
    status = s.run()  # the push is there: only the proposal is made again
    assert git_out(forge.bare, "rev-parse", PUSH_BRANCH) == head
    [pull] = forge.pulls
    assert pull.title == title("1.1.0") and forge.sha(pull) == head
    noun, _ = words(forge)
    flag, _, message = ready(status)
    assert flag == "True"
    assert message.startswith(f"repository up-to-date at {PUSH_BRANCH}@sha1:{head}; opened {noun}")


def test_two_runs_racing_while_one_is_open_end_with_one_holding_the_newest(
    forge: StandIn, remote: SmartHTTPRemote, redis_url: str, tmp_path: Path
) -> None:
    """Two automations on one push branch, each woken by a newer tag, run at once."""
    s = setup(forge, remote, redis_url, tmp_path, names=("auto", "other"))
    s.choose("1.1.0")
    s.run("auto")
    assert len(forge.pulls) == 1
    s.choose("1.2.0")
    first = threading.Thread(target=s.run, args=("auto",))
    first.start()
    s.choose("1.3.0")
    second = threading.Thread(target=s.run, args=("other",))
    second.start()
    first.join()
    second.join()
    assert len(forge.pulls) == 1 and forge.pulls[0].state == "open"
    assert pushed_image(forge).endswith(":1.3.0")
    assert forge.pulls[0].title == title("1.3.0")
    assert forge.sha(forge.pulls[0]) == git_out(forge.bare, "rev-parse", PUSH_BRANCH)


def test_the_forge_refusing_a_duplicate_is_answered_by_updating(
    forge: StandIn, remote: SmartHTTPRemote, redis_url: str, tmp_path: Path
) -> None:
    """Two processes proposing at the same moment, with no lock between them: the forge
    refuses the second as a duplicate, and that one updates the first."""
    s = setup(forge, remote, redis_url, tmp_path)
    s.choose("1.1.0")
    s.run()
    forge.close(1)
    head = advance(forge.bare, PUSH_BRANCH, {"README.md": "more\n"})  # a new change to propose
    client_kind = GitLab if isinstance(forge, GitLabStandIn) else GitHub
    barrier = threading.Barrier(2)
    done: list[str] = []

    def propose(title: str) -> None:
        with client_kind(api_of(forge), REPO, TOKEN) as client:
            barrier.wait()
            done.append(client.propose(Proposal(PUSH_BRANCH, "main", head, title, "")).action)

    threads = [threading.Thread(target=propose, args=(t,)) for t in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(done) == ["opened", "updated"]
    [pull] = forge.open()
    assert pull.number == 2 and forge.sha(pull) == head


def test_labels_reviewers_and_auto_merge_are_asked_as_documented(
    forge: StandIn, remote: SmartHTTPRemote, redis_url: str, tmp_path: Path
) -> None:
    reviewers = "alice" if isinstance(forge, GitLabStandIn) else "alice,acme/platform"
    s = setup(forge, remote, redis_url, tmp_path, {
        "conveyor.dev/pull-request-labels": "images, automated",
        "conveyor.dev/pull-request-reviewers": reviewers,
        "conveyor.dev/pull-request-auto-merge": "true",
    })
    s.choose("1.1.0")
    status = s.run()
    assert ready(status)[0] == "True", ready(status)
    head = git_out(forge.bare, "rev-parse", PUSH_BRANCH)
    [pull] = forge.pulls
    assert pull.labels == ["images", "automated"] and pull.auto_merge
    bodies = {(r.method, r.path): json.loads(r.body or b"null") for r in forge.requests}
    if isinstance(forge, GitLabStandIn):
        assert pull.reviewers == ["alice"]
        create = bodies[("POST", "/api/v4/projects/acme%2Fapp/merge_requests")]
        assert create["labels"] == "images,automated" and create["reviewer_ids"] == [7]
        merge = bodies[("PUT", "/api/v4/projects/acme%2Fapp/merge_requests/1/merge")]
        assert merge == {"merge_when_pipeline_succeeds": True, "auto_merge": True, "sha": head}
    else:
        assert (pull.reviewers, pull.team_reviewers) == (["alice"], ["platform"])
        assert bodies[("POST", "/repos/acme/app/issues/1/labels")] == {
            "labels": ["images", "automated"]}
        graphql = bodies[("POST", "/graphql")]
        assert "enablePullRequestAutoMerge" in graphql["query"]
        assert graphql["variables"] == {"id": "PR_node1"}
    # a newer tag: auto-merge asked again, labels and reviewers not
    s.choose("1.2.0")
    before = len(forge.requests)
    s.run()
    later = [(r.method, r.path) for r in forge.requests[before:]]
    assert not any("labels" in p or "reviewers" in p for _, p in later)
    assert any(p.endswith("/merge") or p == "/graphql" for _, p in later)


def test_github_merges_at_once_what_has_nothing_to_wait_for(
    remote: SmartHTTPRemote, redis_url: str, tmp_path: Path
) -> None:
    standin = GitHubStandIn(tmp_path / "git" / "acme" / "app.git", REPO, TOKEN)
    standin.clean = True
    with standin as forge:
        s = setup(forge, remote, redis_url, tmp_path,
                  {"conveyor.dev/pull-request-auto-merge": "true"})
        s.choose("1.1.0")
        status = s.run()
        assert ready(status)[0] == "True"
        assert forge.pulls[0].state == "merged"
        assert git_out(forge.bare, "rev-parse", "main") == git_out(
            forge.bare, "rev-parse", PUSH_BRANCH)


def test_a_token_from_a_named_secret(
    remote: SmartHTTPRemote, redis_url: str, tmp_path: Path
) -> None:
    standin = GitLabStandIn(tmp_path / "git" / "acme" / "app.git", REPO, "glpat-other")
    with standin as forge:
        notes = {"conveyor.dev/pull-request": "gitlab",
                 "conveyor.dev/pull-request-api": standin.api,
                 "conveyor.dev/pull-request-secret": "forge-token"}
        text = manifests(remote.url_for("acme/app.git"), TOKEN, notes,
                         secrets={"forge-token": {"token": "glpat-other"}})
        s = scenario(redis_url, tmp_path, text)
        s.choose("1.1.0")
        assert ready(s.run())[0] == "True"
        assert len(forge.pulls) == 1
        assert {r.headers.get("private-token") for r in forge.requests} == {"glpat-other"}


# --- the annotations, refused by name --------------------------------------------------------

SOURCE = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: repo, namespace: ns}
spec: {interval: 1m, url: "URL", ref: {branch: main}}
"""


def objects(
    notes: dict[str, str], url: str = "https://github.com/acme/app.git",
    git: str = "checkout: {ref: {branch: main}}, push: {branch: flux/update}",
) -> tuple[ImageUpdateAutomation, GitRepository]:
    pairs = ", ".join(f"{k}: {v!r}" for k, v in notes.items())
    [source] = parse_manifests(SOURCE.replace("URL", url))
    [obj] = parse_manifests(f"""\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {{name: auto, namespace: ns, annotations: {{{pairs}}}}}
spec:
  interval: 1m
  sourceRef: {{kind: GitRepository, name: repo}}
  git: {{commit: {{author: {{name: bot, email: bot@example.com}}}}, {git}}}
""")
    assert isinstance(obj, ImageUpdateAutomation) and isinstance(source, GitRepository)
    return obj, source


@pytest.mark.parametrize(
    ("url", "kind", "api", "repository"),
    [
        ("https://github.com/acme/app.git", "github", "https://api.github.com", "acme/app"),
        ("ssh://git@github.com/acme/app", "github", "https://api.github.com", "acme/app"),
        ("git@github.com:acme/app.git", "github", "https://api.github.com", "acme/app"),
        ("https://gitlab.com/g/sub/app.git", "gitlab", "https://gitlab.com/api/v4", "g/sub/app"),
        ("https://gitea.example.org/acme/app", "gitea", "https://gitea.example.org/api/v1",
         "acme/app"),
        ("https://codeberg.org/acme/app.git", "gitea", "https://codeberg.org/api/v1",
         "acme/app"),
    ],
)
def test_auto_reads_the_forge_from_the_url(
    url: str, kind: str, api: str, repository: str
) -> None:
    obj, source = objects({"conveyor.dev/pull-request": "auto"}, url)
    cfg = pullrequest.config(obj, source, "owner")
    assert cfg is not None and (cfg.kind, cfg.api, cfg.repository) == (kind, api, repository)


def test_a_forge_below_a_path_and_github_enterprise() -> None:
    obj, source = objects(
        {"conveyor.dev/pull-request": "gitea", "conveyor.dev/pull-request-api":
         "https://git.example.org/gitea/api/v1"}, "https://git.example.org/gitea/acme/app.git")
    cfg = pullrequest.config(obj, source, "owner")
    assert cfg is not None and cfg.repository == "acme/app"
    obj, source = objects({"conveyor.dev/pull-request": "github"},
                          "https://ghe.example.org/acme/app.git")
    cfg = pullrequest.config(obj, source, "owner")
    assert cfg is not None and cfg.api == "https://ghe.example.org/api/v3"


@pytest.mark.parametrize(
    ("notes", "url", "said"),
    [
        ({"conveyor.dev/pull-request": "bitbucket"}, None, "'bitbucket' is not one of"),
        ({"conveyor.dev/pull-request": "gitea"}, "file:///srv/git/app.git",
         "needs conveyor.dev/pull-request-api: spec.url names no host"),
        ({"conveyor.dev/pull-request-labels": "a"}, None,
         "conveyor.dev/pull-request-labels is set without conveyor.dev/pull-request"),
        ({"conveyor.dev/pull-request": "auto"}, "https://git.example.org/a/b.git",
         "cannot tell the forge of host 'git.example.org'"),
        ({"conveyor.dev/pull-request": "github",
          "conveyor.dev/pull-request-api": "https://user:pw@api.example"}, None,
         "is not an http(s) URL without credentials"),
        ({"conveyor.dev/pull-request": "github",
          "conveyor.dev/pull-request-repository": "acme/../app"}, None,
         "is not a repository path"),
        ({"conveyor.dev/pull-request": "github",
          "conveyor.dev/pull-request-labels": ",".join(str(i) for i in range(21))}, None,
         "names more than 20"),
        ({"conveyor.dev/pull-request": "github",
          "conveyor.dev/pull-request-reviewers": "alice; rm -rf"}, None, "is not a valid name"),
        ({"conveyor.dev/pull-request": "gitlab",
          "conveyor.dev/pull-request-reviewers": "g/team"}, None, "GitLab takes users"),
        ({"conveyor.dev/pull-request": "github",
          "conveyor.dev/pull-request-auto-merge": "yes"}, None, "is not \"true\" or \"false\""),
        ({"conveyor.dev/pull-request": "github",
          "conveyor.dev/pull-request-secret": "Not_A_Name"}, None, "is not a Secret's name"),
    ],
)
def test_an_annotation_that_cannot_be_used_is_refused_by_name(
    notes: dict[str, str], url: str | None, said: str
) -> None:
    obj, source = objects(notes, url or "https://github.com/acme/app.git")
    with pytest.raises(InvalidSpec, match=said.replace("(", r"\(").replace(")", r"\)")):
        pullrequest.config(obj, source, "owner")


@pytest.mark.parametrize(
    ("git", "said"),
    [
        ("checkout: {ref: {branch: main}}", "set spec.git.push.branch to a branch other than"),
        ("checkout: {ref: {tag: v1}}, push: {branch: flux/update}", "the checkout ref is not"),
    ],
)
def test_a_pull_request_needs_two_branches(git: str, said: str) -> None:
    obj, source = objects({"conveyor.dev/pull-request": "github"}, git=git)
    target = push_target(obj, source, "owner")
    with pytest.raises(InvalidSpec, match=said):
        pullrequest.proposer(obj, source, target.push_branch, target.branch, None, "owner")  # type: ignore[arg-type]


def test_no_token_is_refused_before_any_git_work(redis_url: str, tmp_path: Path) -> None:
    text = manifests("https://github.com/a/b", "", {"conveyor.dev/pull-request": "github"})
    s = scenario(redis_url, tmp_path, text)
    status = s.run()
    flag, reason, message = ready(status)
    assert (flag, reason) == ("False", "InvalidPullRequestConfig")
    assert message == (
        "ImageUpdateAutomation flux-system/auto: the GitRepository's Secret "
        "flux-system/git-auth has no 'password' or 'bearerToken' for the forge's API"
    )
    assert status.last_push_commit is None  # refused before anything was pushed
