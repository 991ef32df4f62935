"""Pull requests through a forge's REST API: GitHub (pull request), GitLab (merge request),
Gitea and Forgejo (pull request). The only module that speaks to a forge's API.

One small class per forge says how each step is asked; :meth:`Forge.propose` is the one
decision, the same for all: the open pull request from ``head`` to ``base`` is updated (title,
body; auto-merge asked again); when none is open, one that was merged or closed with this very
head commit is left alone (never reopened), else one is opened (with labels, reviewers and
auto-merge when asked). A forge that refuses to open a second one from the same branch (each
of the three does) is answered by updating the one that is open: no duplicate, even when two
processes race (the git-committer serializes pushes and proposals per branch as well).

Requests and answers, as each forge documents them:

- GitHub REST (``Accept: application/vnd.github+json``, ``X-GitHub-Api-Version: 2022-11-28``,
  ``Authorization: Bearer``): ``GET /repos/{o}/{r}/pulls?state=open|closed&head=o:branch&base=``,
  ``POST /repos/{o}/{r}/pulls`` (422 when one is open already), ``PATCH .../pulls/{n}``,
  ``POST /repos/{o}/{r}/issues/{n}/labels``, ``POST .../pulls/{n}/requested_reviewers``
  (``org/team`` entries as ``team_reviewers``); auto-merge is GraphQL's
  ``enablePullRequestAutoMerge`` (``/graphql``, or ``/api/graphql`` beside GitHub Enterprise's
  ``/api/v3``), and a pull request GitHub calls "clean" (nothing left to wait for) is merged at
  once (``PUT .../pulls/{n}/merge``), as GitLab and Gitea do in that case.
- GitLab REST v4 (``PRIVATE-TOKEN``): ``GET /projects/{path}/merge_requests?state=&source_branch=
  &target_branch=``, ``POST .../merge_requests`` (``labels``, ``reviewer_ids`` from
  ``GET /users?username=``; 409 when one is open), ``PUT .../merge_requests/{iid}``,
  ``PUT .../merge_requests/{iid}/merge`` with ``merge_when_pipeline_succeeds`` (and its name
  since 17.11, ``auto_merge``) and ``sha``.
- Gitea/Forgejo API v1 (``Authorization: token``): ``GET /repos/{o}/{r}/pulls?state=&base_branch=
  &sort=recentupdate`` (filtered by head branch here: the list has no head filter),
  ``POST .../pulls`` (409 when one is open), ``PATCH .../pulls/{n}``, ``POST
  .../issues/{n}/labels`` (names), ``POST .../pulls/{n}/requested_reviewers``, ``POST
  .../pulls/{n}/merge`` with ``merge_when_checks_succeed`` and ``head_commit_id``.

Errors, all ``TransientError`` with reason ``PullRequestFailed`` (retried with backoff): the
network, a timeout, any status the step does not expect (the forge's own message is quoted,
cut short, with the token taken out), an answer that is not the documented JSON or over
``MAX_BODY`` bytes. The token travels in a header to the API's own origin only (redirects are
not followed), never in a URL or a message.
"""

from __future__ import annotations

import json
import re
import ssl
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from conveyor.shared.deadline import waiting
from conveyor.shared.errors import InvalidSpec, TransientError

REASON = "PullRequestFailed"
MAX_BODY = 4 * 1024 * 1024  # one answer (a page of 100 pull requests is ~1 MB on GitHub)
MAX_TITLE = 250  # GitHub takes 256 characters, GitLab 255
MAX_DESCRIPTION = 60_000  # GitHub takes 65,536
USER_AGENT = "conveyor"
_WEB_URL = re.compile(r"https?://[!-~]{1,500}")  # what a forge's answer may put in a message


@dataclass(frozen=True)
class PullRequest:
    """A pull (merge) request as a forge answers about it."""

    number: int  # GitHub's and Gitea's number, GitLab's iid
    url: str  # the page a person opens
    state: str  # "open", "closed" or "merged"
    head_sha: str
    title: str = ""
    body: str = ""
    node_id: str = ""  # GitHub's GraphQL id (auto-merge)


@dataclass(frozen=True)
class Proposal:
    """What to propose: ``head`` (the pushed branch, at ``commit``) into ``base``."""

    head: str
    base: str
    commit: str
    title: str
    body: str
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    auto_merge: bool = False


@dataclass(frozen=True)
class Proposed:
    """What :meth:`Forge.propose` did: ``opened``, ``updated``, or left alone a ``merged`` or
    ``closed`` one that holds the commit already."""

    action: str
    pull: PullRequest
    noun: str = "pull request"
    sign: str = "#"

    def describe(self) -> str:
        """``opened pull request #3: https://…`` and the like, for the Ready message."""
        url = self.pull.url if _WEB_URL.fullmatch(self.pull.url) else "(the forge gave no URL)"
        name = f"{self.noun} {self.sign}{self.pull.number}"
        if self.action in ("opened", "updated"):
            return f"{self.action} {name}: {url}"
        return f"{name} holding this commit was {self.action}, not reopened: {url}"


def title_and_body(message: str) -> tuple[str, str]:
    """A commit message as a pull request's title (its first line) and body (all of it)."""
    first = message.strip().splitlines()[0] if message.strip() else "Update images"
    return first.strip()[:MAX_TITLE], message[:MAX_DESCRIPTION]


def tls_context(ca_pem: bytes | None) -> ssl.SSLContext:
    """The system CAs, and ``ca_pem`` too when given."""
    ctx = ssl.create_default_context()
    if ca_pem is not None:
        try:
            ctx.load_verify_locations(cadata=ca_pem.decode("ascii"))
        except (ssl.SSLError, UnicodeDecodeError, ValueError):
            raise InvalidSpec("ca.crt is not a valid PEM certificate") from None
    return ctx


@dataclass
class _Answer:
    status: int
    data: Any
    text: str


class Forge:
    """The API of one repository on one forge, with one token."""

    name: ClassVar[str] = "forge"
    noun: ClassVar[str] = "pull request"
    sign: ClassVar[str] = "#"

    def __init__(
        self,
        api: str,
        repository: str,
        token: str,
        timeout: float = 30.0,
        ca_pem: bytes | None = None,
    ) -> None:
        self.api = api.rstrip("/")
        self.repository = repository
        self.timeout = timeout
        self._token = token
        import httpx  # with the first forge (pull-request mode), not with every committer

        self._client = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            verify=tls_context(ca_pem),
            headers={"User-Agent": USER_AGENT, **self.auth_headers(token)},
        )

    def __enter__(self) -> Forge:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def auth_headers(self, token: str) -> dict[str, str]:
        raise NotImplementedError

    # -- the decision, the same for every forge -------------------------------------------------
    def propose(self, p: Proposal) -> Proposed:
        """Open, update, or leave alone (see the module's docstring)."""
        pull = self.open_pull(p.head, p.base)
        if pull is None:
            done = [q for q in self.closed_pulls(p.head, p.base) if q.head_sha == p.commit]
            if done:
                return self._said(done[0].state, done[0])
            created = self.create(p)
            if created is not None:
                if p.auto_merge:
                    created = self.auto_merge(created, p)
                return self._said("opened", created)
            pull = self.open_pull(p.head, p.base)  # another process opened it meanwhile
            if pull is None:
                raise self._error(
                    f"the {self.noun} from {p.head!r} to {p.base!r} was refused as a "
                    "duplicate, yet none is open"
                )
        if (pull.title, pull.body) != (p.title, p.body):
            pull = self.edit(pull, p)
        if p.auto_merge:
            pull = self.auto_merge(pull, p)
        return self._said("updated", pull)

    def _said(self, action: str, pull: PullRequest) -> Proposed:
        return Proposed(action, pull, self.noun, self.sign)

    # -- the steps, per forge ---------------------------------------------------------------------
    def open_pull(self, head: str, base: str) -> PullRequest | None:
        raise NotImplementedError

    def closed_pulls(self, head: str, base: str) -> list[PullRequest]:
        """The merged or closed ones from ``head`` into ``base``, the latest first."""
        raise NotImplementedError

    def create(self, p: Proposal) -> PullRequest | None:
        """The new one, or None when the forge refused it as a duplicate of an open one."""
        raise NotImplementedError

    def edit(self, pull: PullRequest, p: Proposal) -> PullRequest:
        raise NotImplementedError

    def auto_merge(self, pull: PullRequest, p: Proposal) -> PullRequest:
        raise NotImplementedError

    # -- HTTP -------------------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
        ok: tuple[int, ...] = (200,),
        also: tuple[int, ...] = (),
        url: str | None = None,
    ) -> _Answer:
        """One request to the API; an answer with a status in ``ok`` (its JSON) or ``also``
        (returned as is), else ``TransientError`` quoting the forge."""
        target = url or self.api + path
        timeout = waiting(f"{what}: {method} {target}", self.timeout, reason=REASON)
        import httpx  # loaded already: __init__

        content = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if content is not None:
            headers["Content-Type"] = "application/json"
        try:
            request = self._client.build_request(
                method, target, params=params, content=content, headers=headers, timeout=timeout
            )
            resp = self._client.send(request, stream=True)
            try:
                raw = bytearray()
                for chunk in resp.iter_bytes():
                    raw += chunk
                    if len(raw) > MAX_BODY:
                        raise self._error(f"{what}: an answer over {MAX_BODY} bytes")
                status = resp.status_code
            finally:
                resp.close()
        except httpx.HTTPError as exc:
            raise self._error(f"{what}: {type(exc).__name__}: {exc}") from exc
        text = raw.decode("utf-8", errors="replace")
        if status not in ok:
            if status in also:
                return _Answer(status, None, text)
            raise self._error(f"{what}: {self.name} answered {status}{self._said_by(text)}")
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError as exc:
            raise self._error(f"{what}: {self.name} answered {status} with no JSON") from exc
        return _Answer(status, data, text)

    def _said_by(self, text: str) -> str:
        """The forge's own words about a refusal, cut short."""
        try:
            data = json.loads(text)
        except ValueError:
            return ""
        said: Any = data.get("message") if isinstance(data, dict) else None
        if isinstance(data, dict) and isinstance(data.get("errors"), list):
            said = f"{said or ''} {json.dumps(data['errors'])[:200]}"
        if not said:
            return ""
        return f": {str(said).strip()[:300]}"

    def _error(self, message: str) -> TransientError:
        said = f"{self.name} API of {self.repository}: {message}"
        return TransientError(said.replace(self._token, "***") if self._token else said,
                              reason=REASON)


def _obj(value: Any, what: str, err: Callable[[str], Exception]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise err(f"{what}: the answer is not a JSON object")
    return value


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _int(data: Mapping[str, Any], key: str, err: Callable[[str], Exception]) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise err(f"the answer has no valid {key!r}")
    return value


def _list(value: Any, what: str, err: Callable[[str], Exception]) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise err(f"{what}: the answer is not a JSON list")
    return [v for v in value if isinstance(v, dict)]


def _quoted(path: str) -> str:
    return "/".join(urllib.parse.quote(part, safe="") for part in path.split("/"))


class _RepoPulls(Forge):
    """What GitHub's API and Gitea's (modelled on it) share: the repository's path, the open and
    closed pull requests of a branch (``_list``), a pull request's title and body edited, labels
    (as an issue's) and reviewers requested."""

    @property
    def _repo(self) -> str:
        return "/repos/" + _quoted(self.repository)

    def _pull(self, data: Any, what: str) -> PullRequest:
        raise NotImplementedError

    def _list(self, state: str, head: str, base: str) -> list[PullRequest]:
        """Those in ``state`` (``open``, ``closed``) from ``head`` into ``base``, latest first."""
        raise NotImplementedError

    def open_pull(self, head: str, base: str) -> PullRequest | None:
        found = self._list("open", head, base)
        return found[0] if found else None

    def closed_pulls(self, head: str, base: str) -> list[PullRequest]:
        return self._list("closed", head, base)

    def edit(self, pull: PullRequest, p: Proposal) -> PullRequest:
        what = f"update pull request #{pull.number}"
        answer = self._request(
            "PATCH",
            f"{self._repo}/pulls/{pull.number}",
            what,
            body={"title": p.title, "body": p.body},
            ok=(200, 201),
        )
        return self._pull(answer.data, what)

    def _labels_and_reviewers(self, pull: PullRequest, p: Proposal) -> None:
        if p.labels:
            self._request(
                "POST",
                f"{self._repo}/issues/{pull.number}/labels",
                "add labels",
                body={"labels": list(p.labels)},
            )
        if p.reviewers:
            users = [r for r in p.reviewers if "/" not in r]
            teams = [r.split("/", 1)[1] for r in p.reviewers if "/" in r]
            self._request(
                "POST",
                f"{self._repo}/pulls/{pull.number}/requested_reviewers",
                "request reviewers",
                body={"reviewers": users, "team_reviewers": teams},
                ok=(200, 201),
            )


class GitHub(_RepoPulls):
    """github.com (API ``https://api.github.com``) and GitHub Enterprise (``https://HOST/api/v3``)."""

    name = "GitHub"

    def auth_headers(self, token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "X-GitHub-Api-Version": "2022-11-28",
            "Accept": "application/vnd.github+json",
        }

    @property
    def _owner(self) -> str:
        return self.repository.split("/", 1)[0]

    def _pull(self, data: Any, what: str) -> PullRequest:
        pr = _obj(data, what, self._error)
        head = pr.get("head")
        state = "merged" if pr.get("merged_at") else _str(pr, "state")
        return PullRequest(
            number=_int(pr, "number", self._error),
            url=_str(pr, "html_url"),
            state=state,
            head_sha=_str(head, "sha") if isinstance(head, dict) else "",
            title=_str(pr, "title"),
            body=_str(pr, "body"),
            node_id=_str(pr, "node_id"),
        )

    def _list(self, state: str, head: str, base: str) -> list[PullRequest]:
        what = f"list {state} pull requests"
        answer = self._request(
            "GET",
            self._repo + "/pulls",
            what,
            params={
                "state": state,
                "head": f"{self._owner}:{head}",
                "base": base,
                "sort": "updated",
                "direction": "desc",
                "per_page": 100,
            },
        )
        return [self._pull(p, what) for p in _list(answer.data, what, self._error)]

    def create(self, p: Proposal) -> PullRequest | None:
        what = "open a pull request"
        answer = self._request(
            "POST",
            self._repo + "/pulls",
            what,
            body={"title": p.title, "body": p.body, "head": p.head, "base": p.base},
            ok=(201,),
            also=(422,),
        )
        if answer.status == 422:
            if "already exists" in answer.text:
                return None
            raise self._error(f"{what}: GitHub answered 422{self._said_by(answer.text)}")
        pull = self._pull(answer.data, what)
        self._labels_and_reviewers(pull, p)
        return pull

    def _graphql_url(self) -> str:
        if self.api.endswith("/api/v3"):  # GitHub Enterprise Server
            return self.api.removesuffix("/v3") + "/graphql"
        return self.api + "/graphql"

    def auto_merge(self, pull: PullRequest, p: Proposal) -> PullRequest:
        what = f"enable auto-merge of pull request #{pull.number}"
        if not pull.node_id:
            raise self._error(f"{what}: the pull request has no node_id")
        answer = self._request(
            "POST",
            "",
            what,
            url=self._graphql_url(),
            body={
                "query": "mutation($id: ID!) { enablePullRequestAutoMerge(input: "
                "{pullRequestId: $id}) { pullRequest { number } } }",
                "variables": {"id": pull.node_id},
            },
        )
        data = _obj(answer.data, what, self._error)
        errors = data.get("errors")
        if not errors:
            return pull
        said = "; ".join(
            str(e.get("message", ""))[:200] for e in errors if isinstance(e, dict)
        ) or json.dumps(errors)[:200]
        if "already" in said.lower() and "auto" in said.lower():  # enabled by an earlier run
            return pull
        if "clean status" not in said:
            raise self._error(f"{what}: {said}")
        # nothing to wait for: merged now, as GitLab and Gitea do in that case
        self._request(
            "PUT",
            f"{self._repo}/pulls/{pull.number}/merge",
            f"merge pull request #{pull.number}",
            body={"sha": p.commit},
        )
        return PullRequest(pull.number, pull.url, "merged", pull.head_sha, pull.title, pull.body,
                           pull.node_id)


class GitLab(Forge):
    """gitlab.com and self-managed GitLab (API ``https://HOST/api/v4``): merge requests."""

    name = "GitLab"
    noun = "merge request"
    sign = "!"

    def auth_headers(self, token: str) -> dict[str, str]:
        return {"PRIVATE-TOKEN": token}

    @property
    def _project(self) -> str:
        return "/projects/" + urllib.parse.quote(self.repository, safe="")

    def _pull(self, data: Any, what: str) -> PullRequest:
        mr = _obj(data, what, self._error)
        state = _str(mr, "state")
        return PullRequest(
            number=_int(mr, "iid", self._error),
            url=_str(mr, "web_url"),
            state="open" if state == "opened" else state,  # merged, closed, locked
            head_sha=_str(mr, "sha"),
            title=_str(mr, "title"),
            body=_str(mr, "description"),
        )

    def _list(self, state: str, head: str, base: str) -> list[PullRequest]:
        what = f"list {state} merge requests"
        answer = self._request(
            "GET",
            self._project + "/merge_requests",
            what,
            params={
                "state": state,
                "source_branch": head,
                "target_branch": base,
                "order_by": "updated_at",
                "sort": "desc",
                "per_page": 100,
            },
        )
        return [self._pull(m, what) for m in _list(answer.data, what, self._error)]

    def open_pull(self, head: str, base: str) -> PullRequest | None:
        found = self._list("opened", head, base)
        return found[0] if found else None

    def closed_pulls(self, head: str, base: str) -> list[PullRequest]:
        return [m for m in self._list("all", head, base) if m.state != "open"]

    def _user_id(self, username: str) -> int:
        what = f"find reviewer {username!r}"
        answer = self._request("GET", "/users", what, params={"username": username})
        users = _list(answer.data, what, self._error)
        if not users:
            raise self._error(f"{what}: no such user")
        return _int(users[0], "id", self._error)

    def create(self, p: Proposal) -> PullRequest | None:
        what = "open a merge request"
        body: dict[str, Any] = {
            "source_branch": p.head,
            "target_branch": p.base,
            "title": p.title,
            "description": p.body,
        }
        if p.labels:
            body["labels"] = ",".join(p.labels)
        if p.reviewers:
            body["reviewer_ids"] = [self._user_id(r) for r in p.reviewers]
        answer = self._request(
            "POST", self._project + "/merge_requests", what, body=body, ok=(201,), also=(409,)
        )
        if answer.status == 409:
            return None
        return self._pull(answer.data, what)

    def edit(self, pull: PullRequest, p: Proposal) -> PullRequest:
        what = f"update merge request !{pull.number}"
        answer = self._request(
            "PUT",
            f"{self._project}/merge_requests/{pull.number}",
            what,
            body={"title": p.title, "description": p.body},
        )
        return self._pull(answer.data, what)

    def auto_merge(self, pull: PullRequest, p: Proposal) -> PullRequest:
        what = f"merge !{pull.number} when its pipeline succeeds"
        answer = self._request(
            "PUT",
            f"{self._project}/merge_requests/{pull.number}/merge",
            what,
            # auto_merge since GitLab 17.11, which deprecates the other (still taken)
            body={"merge_when_pipeline_succeeds": True, "auto_merge": True, "sha": p.commit},
        )
        return self._pull(answer.data, what)


class Gitea(_RepoPulls):
    """Gitea and Forgejo (API ``https://HOST/api/v1``)."""

    name = "Gitea"

    def auth_headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"token {token}"}

    def _pull(self, data: Any, what: str) -> PullRequest:
        pr = _obj(data, what, self._error)
        head = pr.get("head")
        return PullRequest(
            number=_int(pr, "number", self._error),
            url=_str(pr, "html_url"),
            state="merged" if pr.get("merged") else _str(pr, "state"),
            head_sha=_str(head, "sha") if isinstance(head, dict) else "",
            title=_str(pr, "title"),
            body=_str(pr, "body"),
        )

    def _list(self, state: str, head: str, base: str) -> list[PullRequest]:
        what = f"list {state} pull requests"
        answer = self._request(
            "GET",
            self._repo + "/pulls",
            what,
            params={"state": state, "base_branch": base, "sort": "recentupdate", "limit": 50},
        )
        found = []
        for pr in _list(answer.data, what, self._error):
            ref = pr.get("head")
            if isinstance(ref, dict) and ref.get("ref") == head and self._same_repo(ref):
                found.append(self._pull(pr, what))
        return found

    def _same_repo(self, ref: dict[str, Any]) -> bool:
        repo = ref.get("repo")
        if not isinstance(repo, dict):
            return True  # a head repository that is gone: its branch is ours by name
        return str(repo.get("full_name", "")).lower() == self.repository.lower()

    def create(self, p: Proposal) -> PullRequest | None:
        what = "open a pull request"
        answer = self._request(
            "POST",
            self._repo + "/pulls",
            what,
            body={"head": p.head, "base": p.base, "title": p.title, "body": p.body},
            ok=(201,),
            also=(409,),
        )
        if answer.status == 409:
            return None
        pull = self._pull(answer.data, what)
        self._labels_and_reviewers(pull, p)
        return pull

    def auto_merge(self, pull: PullRequest, p: Proposal) -> PullRequest:
        what = f"merge pull request #{pull.number} when its checks succeed"
        answer = self._request(
            "POST",
            f"{self._repo}/pulls/{pull.number}/merge",
            what,
            body={"Do": "merge", "merge_when_checks_succeed": True, "head_commit_id": p.commit},
            ok=(200, 201),
            also=(409,),
        )
        if answer.status == 409 and "already scheduled" not in answer.text.lower():
            raise self._error(f"{what}: Gitea answered 409{self._said_by(answer.text)}")
        if answer.status == 200:  # nothing to wait for: merged now
            return PullRequest(pull.number, pull.url, "merged", pull.head_sha, pull.title,
                               pull.body)
        return pull


FORGES: dict[str, type[Forge]] = {"github": GitHub, "gitlab": GitLab, "gitea": Gitea}



def guess(host: str) -> str | None:
    """The forge a Git host is, by its name: github.com, a host named ``gitlab…``, ``gitea…``,
    ``forgejo…`` or codeberg.org; None when the name does not say."""
    host = host.lower()
    if host == "github.com" or host.endswith(".github.com"):
        return "github"
    first = host.split(".", 1)[0]
    if host == "gitlab.com" or first.startswith("gitlab"):
        return "gitlab"
    if host == "codeberg.org" or first.startswith(("gitea", "forgejo")):
        return "gitea"
    return None


def default_api(kind: str, scheme: str, host: str) -> str:
    """The API's base URL on ``host`` as each forge serves it."""
    if kind == "github":
        return "https://api.github.com" if host == "github.com" else f"https://{host}/api/v3"
    scheme = scheme if scheme in ("http", "https") else "https"
    return f"{scheme}://{host}/api/v4" if kind == "gitlab" else f"{scheme}://{host}/api/v1"
