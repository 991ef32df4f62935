"""The Git adapter against real remotes: paths, file://, smart HTTP with Basic auth, SSH."""

from __future__ import annotations

import base64
import io
import os
import re
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from conveyor.shared.adapters import git as git_adapter
from conveyor.shared.adapters.git import (
    GitAuth,
    Workspace,
    fetch_mirror,
    tree_tar,
    without_credentials,
)
from conveyor.shared.errors import (
    ConveyorError,
    NotFound,
    PermanentError,
    TransientError,
    scrub,
)
from tests.fixtures.git_remotes import (
    SilentRemote,
    SmartHTTPRemote,
    SSHRemote,
    advance,
    git,
    git_out,
    init_bare,
    keypair,
    processes_mentioning,
)

USER, PASSWORD = "flux", "Tr0ub4dor-and-3"
WRONG = "n0t-the-Passw0rd"
TIMEOUT = 15.0
SEED = {"kustomize/deployment.yaml": "image: app:v1\n", "README.md": "seed\n"}


@pytest.fixture(scope="module")
def http_remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmartHTTPRemote]:
    with SmartHTTPRemote(tmp_path_factory.mktemp("http-root"), USER, PASSWORD) as remote:
        yield remote


@pytest.fixture(scope="module")
def ssh_remote() -> Iterator[SSHRemote]:
    with SSHRemote() as remote:
        yield remote


@dataclass(frozen=True)
class Repo:
    url: str
    bare: Path
    auth: GitAuth | None
    sha: str


@dataclass(frozen=True)
class Site:
    """One transport: where bare repositories live and how their URLs are spelled."""

    kind: str
    root: Path
    url_of: Callable[[Path], str]
    auth: GitAuth | None

    def new(self, files: Mapping[str, str | bytes] | None = None, branch: str = "main") -> Repo:
        bare = self.root / f"{uuid.uuid4().hex[:12]}.git"
        sha = init_bare(bare, files or SEED, branch)
        return Repo(self.url_of(bare), bare, self.auth, sha)

    def missing(self) -> str:
        return self.url_of(self.root / "no-such-repo.git")


def http_auth(password: str = PASSWORD) -> GitAuth:
    return GitAuth.from_secret({"username": USER.encode(), "password": password.encode()})


def ssh_auth(remote: SSHRemote, known_hosts: bytes | None = None) -> GitAuth:
    return GitAuth.from_secret(
        {"identity": remote.identity, "known_hosts": known_hosts or remote.known_hosts}
    )


@pytest.fixture(params=["path", "file", "http", "ssh"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Site:
    kind: str = request.param
    if kind == "path":
        return Site(kind, tmp_path / "remotes", str, None)
    if kind == "file":
        return Site(kind, tmp_path / "remotes", lambda p: p.as_uri(), None)
    if kind == "http":
        http: SmartHTTPRemote = request.getfixturevalue("http_remote")
        root = http.root / uuid.uuid4().hex[:8]
        return Site(
            kind, root, lambda p: http.url_for(p.relative_to(http.root).as_posix()), http_auth()
        )
    ssh: SSHRemote = request.getfixturevalue("ssh_remote")
    return Site(kind, tmp_path / "remotes", ssh.url_for, ssh_auth(ssh))


def secrets_of(auth: GitAuth | None) -> list[str]:
    """Every string that must never show up in a message or an argument list."""
    out: list[str] = []
    if auth is not None and auth.password:
        out.append(auth.password)
        out.append(base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode())
    if auth is not None and auth.identity:
        body = [ln for ln in auth.identity.decode().splitlines() if ln and "-----" not in ln]
        assert body, "an identity without key lines"
        out.extend(body)
        out.append("PRIVATE KEY")
    return out


def assert_clean(text: str, auth: GitAuth | None) -> None:
    for secret in secrets_of(auth):
        assert secret not in text
    for url in re.findall(r"[a-z+]+://\S+", text):
        assert urlsplit(url.strip("'\"")).password is None, url


# ---------------------------------------------------------------------------------------------
# Fetch, read the tree, commit, push on every transport


def test_fetch_mirror_returns_the_branch_sha_and_follows_it(site: Site, tmp_path: Path) -> None:
    repo = site.new()
    mirror = tmp_path / "mirror"
    assert fetch_mirror(repo.url, mirror, "refs/heads/main", repo.auth, TIMEOUT) == repo.sha

    with tarfile.open(fileobj=io.BytesIO(tree_tar(mirror, repo.sha, TIMEOUT))) as tar:
        member = tar.extractfile("kustomize/deployment.yaml")
        assert member is not None and member.read() == b"image: app:v1\n"

    newer = advance(repo.bare, "main", {"kustomize/deployment.yaml": "image: app:v2\n"})
    assert newer != repo.sha
    assert fetch_mirror(repo.url, mirror, "refs/heads/main", repo.auth, TIMEOUT) == newer


def test_workspace_push_lands_the_commit_with_the_author(site: Site, tmp_path: Path) -> None:
    repo = site.new()
    ws = Workspace(tmp_path / "ws", repo.url, repo.auth, TIMEOUT)
    assert ws.checkout("main") == repo.sha
    assert ws.commit(["kustomize/deployment.yaml"], "nothing", "Bot", "bot@example.org") is None

    (tmp_path / "ws/kustomize/deployment.yaml").write_text("image: app:v2\n")
    message = "Update image to v2\n\n[ci skip]\n"
    commit = ws.commit(["kustomize/deployment.yaml"], message, "Flux Bot", "flux@example.org")
    assert commit is not None and commit != repo.sha
    ws.push("main", "main")

    assert git_out(repo.bare, "rev-parse", "refs/heads/main") == commit
    people = git_out(repo.bare, "log", "-1", "--format=%an|%ae|%cn|%ce", commit)
    assert people == "Flux Bot|flux@example.org|Flux Bot|flux@example.org"
    assert git("--git-dir", str(repo.bare), "log", "-1", "--format=%B", commit) == message + "\n"
    assert git_out(repo.bare, "show", f"{commit}:kustomize/deployment.yaml") == "image: app:v2"
    assert git_out(repo.bare, "rev-parse", f"{commit}^") == repo.sha

    # pushing to another branch creates it
    ws.push("main", "automation")
    assert git_out(repo.bare, "rev-parse", "refs/heads/automation") == commit


def test_missing_repository_is_not_found(site: Site, tmp_path: Path) -> None:
    site.root.mkdir(parents=True, exist_ok=True)
    url = site.missing()
    with pytest.raises(NotFound) as fetched:
        fetch_mirror(url, tmp_path / "mirror", "refs/heads/main", site.auth, TIMEOUT)
    assert scrub(url) in str(fetched.value)
    assert_clean(str(fetched.value), site.auth)

    ws = Workspace(tmp_path / "ws", url, site.auth, TIMEOUT)
    with pytest.raises(NotFound):
        ws.checkout("main")


def test_missing_branch_is_not_found(site: Site, tmp_path: Path) -> None:
    repo = site.new()
    with pytest.raises(NotFound) as excinfo:
        fetch_mirror(repo.url, tmp_path / "mirror", "refs/heads/nope", repo.auth, TIMEOUT)
    assert "nope" in str(excinfo.value)
    assert_clean(str(excinfo.value), repo.auth)


def test_rejected_push_is_transient_and_the_next_checkout_recovers(
    site: Site, tmp_path: Path
) -> None:
    repo = site.new()
    ws = Workspace(tmp_path / "ws", repo.url, repo.auth, TIMEOUT)
    ws.checkout("main")
    (tmp_path / "ws/kustomize/deployment.yaml").write_text("image: app:mine\n")
    mine = ws.commit(["kustomize/deployment.yaml"], "mine", "Bot", "bot@example.org")
    assert mine is not None

    theirs = advance(repo.bare, "main", {"other.txt": "someone else\n"})
    with pytest.raises(TransientError) as excinfo:
        ws.push("main", "main")
    assert not isinstance(excinfo.value, NotFound)
    assert "push to" in str(excinfo.value) and scrub(repo.url) in str(excinfo.value)
    assert_clean(str(excinfo.value), repo.auth)
    assert git_out(repo.bare, "rev-parse", "refs/heads/main") == theirs

    # the next checkout is the remote's head, with nothing of the rejected commit left
    assert ws.checkout("main") == theirs
    assert (tmp_path / "ws/kustomize/deployment.yaml").read_text() == "image: app:v1\n"
    assert (tmp_path / "ws/other.txt").read_text() == "someone else\n"
    (tmp_path / "ws/kustomize/deployment.yaml").write_text("image: app:v3\n")
    again = ws.commit(["kustomize/deployment.yaml"], "again", "Bot", "bot@example.org")
    ws.push("main", "main")
    assert git_out(repo.bare, "rev-parse", "refs/heads/main") == again
    assert git_out(repo.bare, "rev-parse", f"{again}^") == theirs

    ws.reset_to(theirs)
    assert git_out(tmp_path / "ws/.git", "rev-parse", "HEAD") == theirs


# ---------------------------------------------------------------------------------------------
# Smart HTTP: Basic auth, wrong passwords, credentials out of URLs and argument lists


def test_wrong_http_password_names_the_url_and_not_the_password(
    http_remote: SmartHTTPRemote, tmp_path: Path
) -> None:
    init_bare(http_remote.root / "private.git", SEED)
    url = http_remote.url_for("private.git")
    seen = len(http_remote.requests)
    with pytest.raises(PermanentError) as excinfo:
        fetch_mirror(url, tmp_path / "mirror", "refs/heads/main", http_auth(WRONG), TIMEOUT)
    message = str(excinfo.value)
    assert excinfo.value.reason == "AuthenticationFailed"  # not retried until the Secret changes
    assert url in message
    assert WRONG not in message and PASSWORD not in message
    assert_clean(message, http_auth(WRONG))
    # the server did refuse it: a 401, nothing authorized
    refused = http_remote.requests[seen:]
    assert refused and all(r.status == 401 and not r.authorized for r in refused)

    ws = Workspace(tmp_path / "ws", url, http_auth(WRONG), TIMEOUT)
    with pytest.raises(PermanentError) as pushed:
        ws.checkout("main")
    assert url in str(pushed.value) and WRONG not in str(pushed.value)

    with pytest.raises(PermanentError):
        fetch_mirror(url, tmp_path / "anon", "refs/heads/main", None, TIMEOUT)


def test_userinfo_in_the_url_is_scrubbed_from_errors(
    http_remote: SmartHTTPRemote, tmp_path: Path
) -> None:
    init_bare(http_remote.root / "userinfo.git", SEED)
    url = http_remote.url_for("userinfo.git").replace("://", f"://{USER}:{WRONG}@")
    with pytest.raises(PermanentError) as excinfo:
        fetch_mirror(url, tmp_path / "mirror", "refs/heads/main", None, TIMEOUT)
    message = str(excinfo.value)
    assert http_remote.url_for("userinfo.git") in message
    assert WRONG not in message and f"{USER}:" not in message

    missing = http_remote.url_for("gone.git").replace("://", f"://{USER}:{PASSWORD}@")
    with pytest.raises(NotFound) as gone:
        Workspace(tmp_path / "ws", missing, None, TIMEOUT).checkout("main")
    assert http_remote.url_for("gone.git") in str(gone.value)
    assert PASSWORD not in str(gone.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "fatal: unable to access 'https://bob:hunter2@git.example.com/a.git/': 403",
            "fatal: unable to access 'https://git.example.com/a.git/': 403",
        ),
        ("to http://x:y@h:1/r and ssh://git@h/r.git", "to http://h:1/r and ssh://h/r.git"),
        ("https://tok3n@github.com/o/r", "https://github.com/o/r"),
        ("no url here: /srv/git/r.git", "no url here: /srv/git/r.git"),
    ],
    ids=["https-userinfo", "two-urls", "token-only", "no-url"],
)
def test_scrub_removes_userinfo(text: str, expected: str) -> None:
    assert scrub(text) == expected


def test_http_password_travels_in_the_environment_not_argv(
    http_remote: SmartHTTPRemote,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    init_bare(http_remote.root / "env.git", SEED)
    url = http_remote.url_for("env.git")
    auth = http_auth()
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    calls: list[tuple[list[str], dict[str, str]]] = []
    original = git_adapter._git_bytes

    def spy(command: Any, *args: Any, **kwargs: Any) -> Any:
        argv = [str(a) for a in command]
        calls.append((argv, dict(kwargs.get("env") or {})))
        return original(command, *args, **kwargs)

    monkeypatch.setattr(git_adapter, "_git_bytes", spy)
    trace = tmp_path / "trace.log"
    monkeypatch.setenv("GIT_TRACE", str(trace))  # every process git starts, with its argv

    seen = len(http_remote.requests)
    fetch_mirror(url, tmp_path / "mirror", "refs/heads/main", auth, TIMEOUT)
    ws = Workspace(tmp_path / "ws", url, auth, TIMEOUT)
    ws.checkout("main")
    (tmp_path / "ws/README.md").write_text("changed\n")
    ws.commit(["README.md"], "change", "Bot", "bot@example.org")
    ws.push("main", "main")

    network = [(argv, env) for argv, env in calls if url in argv]
    assert len(network) == 3  # fetch_mirror, checkout's fetch, push
    for argv, env in network:
        assert all(PASSWORD not in a and token not in a for a in argv)
        assert all(urlsplit(a).username is None for a in argv if "://" in a)
        headers = {
            env.get(f"GIT_CONFIG_KEY_{i}"): env.get(f"GIT_CONFIG_VALUE_{i}")
            for i in range(int(env.get("GIT_CONFIG_COUNT", "0")))
        }
        assert headers.get("http.extraHeader") == f"Authorization: Basic {token}"
    for argv, _ in calls:
        assert all(PASSWORD not in a and token not in a for a in argv)

    traced = trace.read_text()
    assert "remote-http" in traced and url in traced  # the trace saw the helper's argv
    assert_clean(traced, auth)
    assert "@127.0.0.1" not in traced

    used = http_remote.requests[seen:]
    assert {r.path for r in used} >= {"/env.git/info/refs", "/env.git/git-receive-pack"}
    assert all(r.authorization == f"Basic {token}" and r.user == USER for r in used)


def test_http_remote_speaks_basic_gzip_and_chunked(
    http_remote: SmartHTTPRemote, tmp_path: Path
) -> None:
    url = http_remote.url_for("fixture.git")
    bare = http_remote.root / "fixture.git"
    init_bare(bare, SEED)

    request = urllib.request.Request(f"{url}/info/refs?service=git-upload-pack")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 401
    assert refused.value.headers["WWW-Authenticate"].startswith("Basic ")

    # many branches: the clone's request body is over 1 KiB, which git sends gzip'd
    for i in range(40):
        git("--git-dir", str(bare), "branch", f"b{i:02d}", "main")
    seen = len(http_remote.requests)
    git(
        "-c",
        f"http.extraHeader=Authorization: {http_remote.basic}",
        "clone",
        "-q",
        "--mirror",
        url,
        str(tmp_path / "clone.git"),
    )
    assert git_out(tmp_path / "clone.git", "rev-parse", "b39") == git_out(bare, "rev-parse", "main")
    gzipped = [r for r in http_remote.requests[seen:] if r.content_encoding == "gzip"]
    assert gzipped and all(r.status == 200 for r in gzipped)

    # a push over http.postBuffer (1 MiB) goes chunked
    ws = Workspace(tmp_path / "ws", url, http_auth(), TIMEOUT)
    ws.checkout("main")
    (tmp_path / "ws/noise.bin").write_bytes(os.urandom(2_000_000))  # does not compress
    big = ws.commit(["noise.bin"], "big", "Bot", "bot@example.org")
    seen = len(http_remote.requests)
    ws.push("main", "main")
    assert git_out(bare, "rev-parse", "main") == big
    chunked = [r for r in http_remote.requests[seen:] if r.chunked]
    assert chunked and chunked[-1].status == 200 and chunked[-1].body_length > 1_000_000


# ---------------------------------------------------------------------------------------------
# SSH: host keys and identities


def test_ssh_wrong_host_key_fails_without_key_material(
    ssh_remote: SSHRemote, tmp_path: Path
) -> None:
    bare = tmp_path / "r.git"
    init_bare(bare, SEED)
    auth = ssh_auth(ssh_remote, known_hosts=ssh_remote.wrong_known_hosts)
    with pytest.raises(PermanentError) as excinfo:
        fetch_mirror(
            ssh_remote.url_for(bare), tmp_path / "mirror", "refs/heads/main", auth, TIMEOUT
        )
    message = str(excinfo.value)
    assert "Host key verification failed" in message
    assert str(bare) in message
    assert_clean(message, auth)
    for entry in (ssh_remote.known_hosts, ssh_remote.wrong_known_hosts):
        assert entry.split()[2].decode() not in message  # neither public key blob

    ws = Workspace(tmp_path / "ws", ssh_remote.url_for(bare), auth, TIMEOUT)
    with pytest.raises(PermanentError, match="Host key verification failed"):
        ws.checkout("main")


def test_ssh_unknown_identity_is_refused(ssh_remote: SSHRemote, tmp_path: Path) -> None:
    bare = tmp_path / "r.git"
    init_bare(bare, SEED)
    stranger, _ = keypair(tmp_path, "stranger")
    auth = GitAuth(identity=stranger, known_hosts=ssh_remote.known_hosts)
    with pytest.raises(ConveyorError) as excinfo:
        fetch_mirror(
            ssh_remote.url_for(bare), tmp_path / "mirror", "refs/heads/main", auth, TIMEOUT
        )
    assert "Permission denied" in str(excinfo.value)
    assert_clean(str(excinfo.value), auth)


def test_ssh_identity_travels_in_a_temporary_file_not_argv(
    ssh_remote: SSHRemote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = tmp_path / "r.git"
    sha = init_bare(bare, SEED)
    auth = ssh_auth(ssh_remote)
    trace = tmp_path / "trace.log"
    monkeypatch.setenv("GIT_TRACE", str(trace))
    assert (
        fetch_mirror(ssh_remote.url_for(bare), tmp_path / "m", "refs/heads/main", auth, TIMEOUT)
        == sha
    )

    traced = trace.read_text()
    assert "ssh -F /dev/null -i " in traced  # the trace saw ssh's command line
    assert_clean(traced, auth)
    key_files = re.findall(r"-i (\S+)", traced)
    assert key_files and not any(Path(f).exists() for f in key_files)  # removed afterwards


def test_ssh_works_when_the_temporary_directory_has_a_space(
    ssh_remote: SSHRemote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = tmp_path / "r.git"
    sha = init_bare(bare, SEED)
    spaced = tmp_path / "tmp with space"
    spaced.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spaced))
    url = ssh_remote.url_for(bare)
    # StrictHostKeyChecking=yes: this only passes if ssh read the known_hosts file
    assert fetch_mirror(url, tmp_path / "m", "refs/heads/main", ssh_auth(ssh_remote), 10) == sha
    wrong = ssh_auth(ssh_remote, known_hosts=ssh_remote.wrong_known_hosts)
    with pytest.raises(PermanentError, match="Host key verification failed"):
        fetch_mirror(url, tmp_path / "m2", "refs/heads/main", wrong, TIMEOUT)


@pytest.mark.parametrize("scheme", ["http", "ssh"])
def test_a_silent_remote_times_out_and_leaves_no_process(scheme: str, tmp_path: Path) -> None:
    with SilentRemote() as silent:
        url = f"{scheme}://git@127.0.0.1:{silent.port}/r.git"
        auth = GitAuth(username="u", password="p") if scheme == "http" else None
        started = time.monotonic()
        with pytest.raises(TransientError) as excinfo:
            fetch_mirror(url, tmp_path / "m", "refs/heads/main", auth, 1.0)
        assert time.monotonic() - started < 10
        assert f"127.0.0.1:{silent.port}/r.git" in str(excinfo.value)
        assert "git@" not in str(excinfo.value)
        deadline = time.monotonic() + 5
        while processes_mentioning(f"127.0.0.1:{silent.port}") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_mentioning(f"127.0.0.1:{silent.port}") == []


# ---------------------------------------------------------------------------------------------
# Credentials written into a URL; a clone a killed run left behind
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "auth", "clean", "user", "password"),
    [
        ("https://bob:s3cret@h/r.git", None, "https://h/r.git", "bob", "s3cret"),
        ("https://t0ken@h/r.git", None, "https://h/r.git", "git", "t0ken"),
        ("http://a%40b:p%3Aw@h:8/r", None, "http://h:8/r", "a@b", "p:w"),
        ("https://bob:s3cret@h/r.git", GitAuth(username="u", password="p"), "https://h/r.git",
         "u", "p"),
        ("ssh://git@h/r.git", None, "ssh://git@h/r.git", None, None),
        ("ssh://git:pw@h/r.git", None, "ssh://git@h/r.git", None, None),
        ("https://h/r.git", None, "https://h/r.git", None, None),
        ("/srv/git/r.git", None, "/srv/git/r.git", None, None),
    ],
    ids=["user-password", "token", "escaped", "secret-wins", "ssh-user", "ssh-password",
         "none", "path"],
)
def test_credentials_leave_the_url(
    url: str, auth: GitAuth | None, clean: str, user: str | None, password: str | None
) -> None:
    got_url, got_auth = without_credentials(url, auth)
    assert got_url == clean
    assert (got_auth.username if got_auth else None) == user
    assert (got_auth.password if got_auth else None) == password


def test_a_password_in_the_url_is_never_an_argument(
    http_remote: SmartHTTPRemote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``https://user:password@host/…`` as a GitRepository's URL: git is given the URL without
    them (a process's arguments are visible to every user of the machine) and authenticates
    with a header from the environment."""
    init_bare(http_remote.root / "inurl.git", SEED)
    url = http_remote.url_for("inurl.git").replace("://", f"://{USER}:{PASSWORD}@")
    trace = tmp_path / "trace.log"
    monkeypatch.setenv("GIT_TRACE", str(trace))  # every process git starts, with its argv
    sha = fetch_mirror(url, tmp_path / "mirror", "refs/heads/main", None, TIMEOUT)
    ws = Workspace(tmp_path / "ws", url, None, TIMEOUT)
    assert ws.checkout("main") == sha
    traced = trace.read_text()
    assert http_remote.url_for("inurl.git") in traced
    assert PASSWORD not in traced and f"{USER}:" not in traced


def test_stale_git_locks_of_a_killed_run_are_cleared(site: Site, tmp_path: Path) -> None:
    repo = site.new()
    ws = Workspace(tmp_path / "ws", repo.url, repo.auth, TIMEOUT)
    ws.checkout("main")
    for lock in ("index.lock", "HEAD.lock", "refs/heads/main.lock"):
        (tmp_path / "ws/.git" / lock).write_text("")  # what a kill -9 mid-commit leaves
    (tmp_path / "mirror").mkdir()
    fetch_mirror(repo.url, tmp_path / "mirror", "refs/heads/main", repo.auth, TIMEOUT)
    (tmp_path / "mirror/shallow.lock").write_text("")  # a kill -9 mid-fetch
    again = Workspace(tmp_path / "ws", repo.url, repo.auth, TIMEOUT)
    assert again.checkout("main") == repo.sha
    (tmp_path / "ws/README.md").write_text("after the kill\n")
    assert again.commit(["README.md"], "after", "Bot", "bot@example.org") is not None
    fetched = fetch_mirror(repo.url, tmp_path / "mirror", "refs/heads/main", repo.auth, TIMEOUT)
    assert fetched == repo.sha


@pytest.mark.parametrize("damage", ["head", "index", "objects", "no-git"])
def test_a_broken_working_clone_is_cloned_anew(damage: str, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    sha = init_bare(remote, SEED)
    ws = Workspace(tmp_path / "ws", str(remote), None, TIMEOUT)
    ws.checkout("main")
    dot_git = tmp_path / "ws/.git"
    if damage == "head":
        (dot_git / "HEAD").write_text("garbage\n")
    elif damage == "index":
        (dot_git / "index").write_bytes(b"DIRC\0\0\0\2broken")
    elif damage == "objects":
        for obj in (dot_git / "objects").rglob("*"):
            if obj.is_file() and obj.parent.name != "info":
                obj.chmod(0o600)
                obj.write_bytes(b"x")
    else:
        (dot_git / "config").unlink()
    again = Workspace(tmp_path / "ws", str(remote), None, TIMEOUT)
    assert again.checkout("main") == sha
    assert (tmp_path / "ws/kustomize/deployment.yaml").read_text() == "image: app:v1\n"
