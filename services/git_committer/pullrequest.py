"""Pull-request mode (beyond Flux): an automation pushes to its ``spec.git.push.branch`` as
always, then opens, or updates, one pull request from that branch into the checkout branch
through the forge's API (``conveyor.shared.adapters.forge``).

Its settings are annotations on the ImageUpdateAutomation (Flux's CRD schemas prune a field
they do not have), each refused by name when it cannot be used:

- ``conveyor.dev/pull-request``: ``github``, ``gitlab``, ``gitea`` (``forgejo`` is the same API)
  or ``auto`` (the forge told by the Git URL's host): turns the mode on;
- ``conveyor.dev/pull-request-api``: the API's base URL (default: the forge's own on the Git
  URL's host: ``https://api.github.com`` or ``https://HOST/api/v3``, ``…/api/v4``, ``…/api/v1``);
- ``conveyor.dev/pull-request-repository``: the repository on the forge, ``owner/name`` (GitLab:
  ``group/…/project``; default: the Git URL's path);
- ``conveyor.dev/pull-request-labels``, ``conveyor.dev/pull-request-reviewers``: comma-separated
  (a reviewer ``org/team`` is a team, on GitHub and Gitea), given when one is opened;
- ``conveyor.dev/pull-request-auto-merge``: ``"true"`` asks the forge to merge it once its checks
  pass (at once when there are none);
- ``conveyor.dev/pull-request-secret``: a Secret of the namespace whose ``token`` is used
  (and ``ca.crt``, if any); default: the GitRepository's Secret's ``bearerToken`` or
  ``password``.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from conveyor.shared.adapters.forge import (
    FORGES,
    Proposal,
    default_api,
    guess,
    title_and_body,
)
from conveyor.shared.adapters.git import Workspace
from conveyor.shared.errors import InvalidSpec, PermanentError
from conveyor.shared.models import GitRepository, ImageUpdateAutomation
from conveyor.shared.runtime import Context
from conveyor.shared.secretrefs import PULL_REQUEST_SECRET

PULL_REQUEST = "conveyor.dev/pull-request"
API = "conveyor.dev/pull-request-api"
REPOSITORY = "conveyor.dev/pull-request-repository"
LABELS = "conveyor.dev/pull-request-labels"
REVIEWERS = "conveyor.dev/pull-request-reviewers"
AUTO_MERGE = "conveyor.dev/pull-request-auto-merge"
SECRET = PULL_REQUEST_SECRET
SETTINGS = (API, REPOSITORY, LABELS, REVIEWERS, AUTO_MERGE, SECRET)
KINDS = ("github", "gitlab", "gitea", "forgejo", "auto")
REASON = "InvalidPullRequestConfig"

MAX_ITEMS = 20
_LABEL = re.compile(r"[^\x00-\x1f\x7f,]{1,50}")
_REVIEWER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}(/[A-Za-z0-9][A-Za-z0-9._-]{0,99})?")
_SEGMENT = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]{0,99}")
_SECRET_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")


@dataclass(frozen=True)
class Config:
    """An automation's pull-request settings, checked."""

    kind: str  # a key of FORGES
    api: str
    repository: str
    labels: tuple[str, ...]
    reviewers: tuple[str, ...]
    auto_merge: bool
    secret: str | None


def _refuse(owner: str, annotation: str, value: str, why: str) -> InvalidSpec:
    return InvalidSpec(f"{owner}: annotation {annotation}: {value[:100]!r} {why}", reason=REASON)


def _git_location(url: str) -> tuple[str, str, str]:
    """The scheme, host and repository path of a Git URL (``scp``-like ``git@host:path`` too)."""
    if "://" not in url and ":" in url.split("/", 1)[0]:  # git@host:owner/repo.git
        host_part, _, path = url.partition(":")
        return "ssh", host_part.rpartition("@")[2], path
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.path


def _repository_path(path: str, api_path: str) -> str:
    path = path.strip("/").removesuffix(".git")
    prefix = api_path.partition("/api/")[0].strip("/")  # a forge served below a path
    if prefix and path.startswith(prefix + "/"):
        path = path[len(prefix) + 1 :]
    return path


def _items(owner: str, annotation: str, value: str, pattern: re.Pattern[str]) -> tuple[str, ...]:
    items = tuple(v.strip() for v in value.split(",") if v.strip())
    if len(items) > MAX_ITEMS:
        raise _refuse(owner, annotation, value, f"names more than {MAX_ITEMS}")
    for item in items:
        if not pattern.fullmatch(item):
            raise _refuse(owner, annotation, item, "is not a valid name")
    return items


def config(obj: ImageUpdateAutomation, source: GitRepository, owner: str) -> Config | None:
    """The pull-request settings of ``obj`` (None: the mode is off), refused by name when one
    cannot be used."""
    notes = obj.metadata.annotations
    chosen = notes.get(PULL_REQUEST)
    if chosen is None:
        stray = [a for a in SETTINGS if a in notes]
        if stray:
            raise InvalidSpec(
                f"{owner}: annotation {stray[0]} is set without {PULL_REQUEST}", reason=REASON
            )
        return None
    kind = chosen.strip().lower()
    if kind not in KINDS:
        raise _refuse(owner, PULL_REQUEST, chosen, "is not one of " + ", ".join(KINDS))
    scheme, host, path = _git_location(source.spec.url)
    if kind == "auto":
        found = guess(host)
        if found is None:
            raise _refuse(
                owner, PULL_REQUEST, chosen,
                f"cannot tell the forge of host {host[:100]!r}: name it (github, gitlab, gitea)",
            )
        kind = found
    kind = "gitea" if kind == "forgejo" else kind
    if not host and API not in notes:
        raise _refuse(owner, PULL_REQUEST, chosen, f"needs {API}: spec.url names no host")
    api = notes.get(API) or default_api(kind, scheme, host)
    parts = urllib.parse.urlsplit(api)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.query
        or parts.fragment
        or len(api) > 500
    ):
        raise _refuse(owner, API, api, "is not an http(s) URL without credentials or query")
    repository = notes.get(REPOSITORY) or _repository_path(path, parts.path if API in notes else "")
    segments = repository.split("/")
    if (
        len(segments) < 2
        or (kind != "gitlab" and len(segments) != 2)
        or not all(_SEGMENT.fullmatch(s) and s not in (".", "..") for s in segments)
    ):
        raise _refuse(
            owner, REPOSITORY, repository,
            "is not a repository path (owner/name" + (", group/…/project)" if kind == "gitlab"
                                                      else ")"),
        )
    reviewers = _items(owner, REVIEWERS, notes.get(REVIEWERS, ""), _REVIEWER)
    if kind == "gitlab" and any("/" in r for r in reviewers):
        raise _refuse(owner, REVIEWERS, notes[REVIEWERS], "names a team: GitLab takes users")
    auto = notes.get(AUTO_MERGE, "false").strip().lower()
    if auto not in ("true", "false"):
        raise _refuse(owner, AUTO_MERGE, notes[AUTO_MERGE], "is not \"true\" or \"false\"")
    secret = notes.get(SECRET)
    if secret is not None and not _SECRET_NAME.fullmatch(secret):
        raise _refuse(owner, SECRET, secret, "is not a Secret's name")
    return Config(
        kind=kind,
        api=api.rstrip("/"),
        repository=repository,
        labels=_items(owner, LABELS, notes.get(LABELS, ""), _LABEL),
        reviewers=reviewers,
        auto_merge=auto == "true",
        secret=secret,
    )


class Proposer:
    """Proposes the push branch into the checkout branch, as ``Config`` says, with a token."""

    def __init__(
        self, cfg: Config, token: str, ca: bytes | None, head: str, base: str, timeout: float
    ) -> None:
        self.cfg, self._token, self.ca = cfg, token, ca
        self.head, self.base, self.timeout = head, base, timeout

    def propose(self, commit: str, message: str) -> str:
        """Open or update the pull request for ``commit`` (pushed to the push branch); what was
        done, for the Ready message (``opened pull request #3: https://…``)."""
        title, body = title_and_body(message)
        cfg = self.cfg
        proposal = Proposal(
            head=self.head,
            base=self.base,
            commit=commit,
            title=title,
            body=body,
            labels=cfg.labels,
            reviewers=cfg.reviewers,
            auto_merge=cfg.auto_merge,
        )
        forge = FORGES[cfg.kind](cfg.api, cfg.repository, self._token, self.timeout, self.ca)
        with forge:
            return forge.propose(proposal).describe()

    def again(self, workspace: Workspace, commit: str) -> str:
        """Propose the push branch's head ``commit`` again (a run that pushed nothing after one
        whose proposal failed), unless the checkout branch holds it already."""
        if workspace.contains(self.base, commit):
            return ""
        return self.propose(commit, workspace.message_of(commit))


def proposer(
    obj: ImageUpdateAutomation,
    source: GitRepository,
    head: str,
    base: str | None,
    ctx: Context,
    owner: str,
) -> Proposer | None:
    """The automation's proposer (None: not in pull-request mode), with its token, checked
    before any Git work."""
    cfg = config(obj, source, owner)
    if cfg is None:
        return None
    if base is None:
        raise InvalidSpec(
            f"{owner}: annotation {PULL_REQUEST}: a pull request goes into a branch, and the "
            "checkout ref is not one (a tag, semver, name or commit)",
            reason=REASON,
        )
    if head == base:
        raise InvalidSpec(
            f"{owner}: annotation {PULL_REQUEST}: set spec.git.push.branch to a branch other "
            f"than the checkout branch {base!r}, which the pull request goes into",
            reason=REASON,
        )
    if cfg.secret is not None:
        secret = ctx.secret(obj.namespace, cfg.secret, owner=owner)
        token, where = secret.text("token"), f"Secret {obj.namespace}/{cfg.secret} ({SECRET})"
        wanted = "'token'"
    elif source.spec.secret_ref is not None:
        name = source.spec.secret_ref.name
        secret = ctx.secret(source.namespace, name, owner=owner)
        token = secret.text("bearerToken") or secret.text("password")
        where = f"the GitRepository's Secret {source.namespace}/{name}"
        wanted = "'password' or 'bearerToken'"
    else:
        raise PermanentError(
            f"{owner}: pull-request mode needs a token: the GitRepository has no secretRef; "
            f"name a Secret with a 'token' in annotation {SECRET}",
            reason=REASON,
        )
    if not token or not token.strip():
        raise PermanentError(f"{owner}: {where} has no {wanted} for the forge's API", reason=REASON)
    return Proposer(cfg, token.strip(), secret.data.get("ca.crt"), head, base, source.spec.timeout)
