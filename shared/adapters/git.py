"""The Git adapter: every git process conveyor starts, run from here (the git CLI, no Python
Git library: GitPython cost each process that imported it 2.4 MB and a process per read).

Remotes over file paths, file://, smart HTTP(S) (basic auth from a Secret's
``username``/``password``) and SSH (``identity`` and ``known_hosts`` from a Secret). Credentials
travel in environment variables and temporary files, never in URLs, arguments or messages.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from conveyor.shared.deadline import current_run, spent, waiting
from conveyor.shared.errors import (
    ConveyorError,
    InvalidSpec,
    NotFound,
    PermanentError,
    TransientError,
    scrub,
)

# A keyring directory at most this long keeps gpg-agent's socket paths (+ "/S.gpg-agent.extra")
# within the 108 bytes of a unix socket address.
GPG_HOME_MAX = 80

log = logging.getLogger("conveyor.git")

GIT_FAILED = "GitOperationFailed"
GIT_LOCAL_TIMEOUT = 60.0  # seconds for a git command on a local repository (no network)


class GitCommandError(Exception):
    """A git process that failed: its exit status and what it wrote; ``timed_out``, the
    seconds after which it was killed (None: it ended by itself)."""

    def __init__(
        self, status: int, stdout: str, stderr: str, timed_out: float | None = None
    ) -> None:
        super().__init__(f"git exited {status}: {stderr.strip()[-300:]}")
        self.status, self.stdout, self.stderr, self.timed_out = status, stdout, stderr, timed_out


def _git_bytes(
    args: Sequence[str],
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> bytes:
    """``git ARGS`` in ``cwd`` (None: this process's), with ``env`` over this process's
    environment and git's messages in English (what :func:`_fail` reads); its stdout, or a
    :class:`GitCommandError` when it fails or outlives ``timeout`` seconds: then it is killed
    with every process it started (its helpers: ``git remote-http``, ssh), a group of its own."""
    with subprocess.Popen(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **(env or {}), "LANGUAGE": "C", "LC_ALL": "C"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            _, err = proc.communicate()
            raise GitCommandError(-9, "", err.decode("utf-8", "replace"), timeout) from None
    if proc.returncode != 0:
        raise GitCommandError(
            proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
        )
    return out


def _git(
    args: Sequence[str],
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> str:
    """:func:`_git_bytes` as text, less the one newline that ends it."""
    out = _git_bytes(args, cwd=cwd, env=env, timeout=timeout)
    return out.decode("utf-8", "replace").removesuffix("\n")


def _is_git_dir(path: Path) -> bool:
    """Whether ``path`` looks like a repository's git directory (what git itself checks)."""
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()


_OID = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")


def _packed_refs(git_dir: Path) -> dict[str, str]:
    refs: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in (git_dir / "packed-refs").read_text(errors="replace").splitlines():
            oid, _, name = line.partition(" ")
            if _OID.fullmatch(oid):
                refs[name] = oid
    return refs


def resolve_ref(git_dir: Path, ref: str) -> str:
    """The object id ``ref`` (``HEAD``, ``refs/heads/main``) names in ``git_dir``, symbolic
    refs followed, read from the files (loose, then packed): no process. ValueError when it
    names none."""
    for _ in range(5):
        if ref.startswith("/") or ".." in ref.split("/"):
            raise ValueError(f"invalid ref {ref!r}")
        try:
            value = (git_dir / ref).read_text(errors="replace").strip()
        except OSError:
            value = _packed_refs(git_dir).get(ref, "")
        if value.startswith("ref:"):
            ref = value[4:].strip()
            continue
        if _OID.fullmatch(value):
            return value
        raise ValueError(f"{ref} names no object")
    raise ValueError(f"symbolic refs nest too deep at {ref!r}")


# After a fetch or a commit git checks, in a process of its own (``git maintenance run
# --auto``, 5-10 ms), whether the repository wants housekeeping; by default that is gc's test:
# more loose objects than gc.auto's 6,700 (estimated, as git estimates them, from the
# ``objects/17`` directory alone) or more packs than gc.autoPackLimit's 50. The fetches and
# commits on an event's path skip that process and make the same test here, on the files;
# when it passes, git's maintenance runs as it would have, deciding by its own configuration.
_LOOSE_IN_17 = (6700 + 255) // 256
_PACKS = 50


def _needs_maintenance(git_dir: Path) -> bool:
    objects = git_dir / "objects"
    try:
        loose = sum(
            1 for e in os.scandir(objects / "17") if len(e.name) >= 38 and e.name.isalnum()
        )
    except OSError:
        loose = 0
    try:
        packs = sum(1 for e in os.scandir(objects / "pack") if e.name.endswith(".pack"))
    except OSError:
        packs = 0
    return loose > _LOOSE_IN_17 or packs > _PACKS


def _maintain(git_dir: Path, cwd: Path) -> None:
    """``git maintenance run --auto`` in ``cwd`` when :func:`_needs_maintenance`; a failure
    is logged, never the run's (the repository still works unpacked)."""
    if not _needs_maintenance(git_dir):
        return
    try:
        _git(["maintenance", "run", "--auto", "--quiet"], cwd=cwd, timeout=GIT_LOCAL_TIMEOUT)
    except (GitCommandError, OSError) as exc:
        log.warning("%s: git maintenance failed: %s", git_dir, scrub(str(exc)))


def _local_branches(git_dir: Path) -> set[str]:
    """The names of ``git_dir``'s local branches (loose and packed)."""
    heads = git_dir / "refs" / "heads"
    found = {
        str(f.relative_to(heads))
        for f in heads.rglob("*")
        if f.is_file() and not f.name.endswith(".lock")
    }
    packed = _packed_refs(git_dir)
    return found | {r.removeprefix("refs/heads/") for r in packed if r.startswith("refs/heads/")}


@dataclass(frozen=True)
class GitAuth:
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    identity: bytes | None = field(default=None, repr=False)
    known_hosts: bytes | None = None
    bearer_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_secret(cls, data: dict[str, bytes]) -> GitAuth:
        def text(key: str) -> str | None:
            value = data.get(key)
            return value.decode() if value is not None else None

        return cls(
            username=text("username"),
            password=text("password"),
            bearer_token=text("bearerToken"),
            identity=data.get("identity"),
            known_hosts=data.get("known_hosts"),
        )


@contextlib.contextmanager
def _environment(auth: GitAuth | None, scratch: Path | None) -> Iterator[dict[str, str]]:
    env = {
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "/bin/false",
        "SSH_ASKPASS": "/bin/false",
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes",
    }
    header = None
    if auth is not None and auth.bearer_token is not None:
        header = f"Authorization: Bearer {auth.bearer_token}"
    elif auth is not None and auth.password is not None:
        basic = base64.b64encode(f"{auth.username or 'git'}:{auth.password}".encode())
        header = f"Authorization: Basic {basic.decode()}"
    if header is not None:  # in the environment, never in argv or the URL
        env.update(
            GIT_CONFIG_COUNT="1",
            GIT_CONFIG_KEY_0="http.extraHeader",
            GIT_CONFIG_VALUE_0=header,
        )
    if auth is None or auth.identity is None:  # no key files: no directory for them
        yield env
        return
    with tempfile.TemporaryDirectory(prefix="conveyor-git-", dir=scratch) as tmp:
        key = Path(tmp, "identity")
        key.write_bytes(auth.identity if auth.identity.endswith(b"\n") else auth.identity + b"\n")
        key.chmod(stat.S_IRUSR | stat.S_IWUSR)
        known = Path(tmp, "known_hosts")
        known.write_bytes(auth.known_hosts or b"")
        # quoted for the shell git runs this through, and for ssh's own option parser
        known_option = shlex.quote(f'UserKnownHostsFile="{known}"')
        env["GIT_SSH_COMMAND"] = (
            f"ssh -F /dev/null -i {shlex.quote(str(key))} -o IdentitiesOnly=yes "
            f"-o BatchMode=yes -o {known_option} "
            f"-o StrictHostKeyChecking={'yes' if auth.known_hosts else 'accept-new'}"
        )
        yield env


# What git says when the local repository, not the remote, is at fault.
_LOCAL_DAMAGE = (
    "corrupt",
    "bad object",
    "unable to read",
    "index file",
    "not a git repository",
    "cannot lock ref",
    "unable to create",
    "is empty",
    "loose object",
    "broken link",
    "did not send all necessary objects",
)


def _local_damage(message: str) -> bool:
    return any(s in message.lower() for s in _LOCAL_DAMAGE)


def _fail(action: str, url: str, exc: GitCommandError) -> ConveyorError:
    stderr = scrub(exc.stderr).strip().replace("\n", " ")
    if exc.timed_out is not None:
        run = current_run()
        if run is not None and run.remaining() < 0.5:  # killed at the run's deadline
            stderr = f"timed out ({spent(run)})"
        else:
            stderr = f"timed out after {round(exc.timed_out, 1):g}s"
    message = f"{action} {scrub(url)} failed: {stderr or exc.status}"
    not_found = (
        "does not appear to be a git repository",
        "not found",
        "couldn't find remote ref",
        "not our ref",  # a commit the remote does not have
    )
    if any(s in stderr for s in not_found):
        return NotFound(message, reason="GitOperationFailed")
    denied = (
        "Authentication failed",
        "Permission denied",
        "could not read Username",
        "Host key verification failed",
        "returned error: 401",
        "returned error: 403",
    )
    if any(s in stderr for s in denied):  # not retried with backoff: the Secret must change
        return PermanentError(message, reason="AuthenticationFailed")
    return TransientError(message, reason="GitOperationFailed")


def _check_url(url: str) -> None:
    if not url or url.startswith("-"):
        raise InvalidSpec(f"invalid Git URL {scrub(url)!r}")


def without_credentials(url: str, auth: GitAuth | None) -> tuple[str, GitAuth | None]:
    """``url`` with no secret in it, and the auth to use: a password (or a token as the user
    name) written into an http(s) URL moves to the auth (sent as a header, never in argv), and
    a password in any other URL is dropped; a Secret's credentials win over the URL's."""
    parts = urlsplit(url)
    if "@" not in parts.netloc or "://" not in url:
        return url, auth
    userinfo, _, host = parts.netloc.rpartition("@")
    user, has_password, password = userinfo.partition(":")
    http = parts.scheme in ("http", "https")
    if not http and not has_password:
        return url, auth  # ssh://git@host/...: a user name, not a secret
    clean = urlunsplit(parts._replace(netloc=host if http else f"{user}@{host}"))
    if http and (auth is None or (auth.password is None and auth.bearer_token is None)):
        found = (unquote(user), unquote(password)) if has_password else ("git", unquote(user))
        base = auth or GitAuth()
        auth = GitAuth(
            username=found[0],
            password=found[1],
            identity=base.identity,
            known_hosts=base.known_hosts,
        )
    return clean, auth


def clear_stale_locks(git_dir: Path) -> list[str]:
    """Remove the ``*.lock`` files a killed git left in ``git_dir`` (the caller holds the
    object's lock, so no git of ours runs there); return what was removed."""
    removed = []
    for lock in [*git_dir.glob("*.lock"), *git_dir.glob("refs/**/*.lock")]:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
            removed.append(str(lock.relative_to(git_dir)))
    return removed


def fetch_mirror(
    url: str,
    path: Path,
    ref: str,
    auth: GitAuth | None,
    timeout: float,
    scratch: Path | None = None,
) -> str:
    """Fetch ``ref`` (``refs/heads/main``, ``refs/tags/v1``, or a commit id) of ``url`` into
    the bare repo at ``path``. Returns the commit it points at (tags peeled). Key files live
    for the fetch under ``scratch`` (None: the system's temporary directory)."""
    _check_url(url)
    url, auth = without_credentials(url, auth)
    path.mkdir(parents=True, exist_ok=True)
    clear_stale_locks(path)
    if (path / "HEAD").exists() and not _is_git_dir(path):  # a broken mirror: anew
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
    if not (path / "HEAD").exists():
        _git(["init", "--bare", "-q"], cwd=path)
    local = ref if ref.startswith("refs/") else "refs/conveyor/fetched"
    with _environment(auth, scratch) as env:
        try:
            _git(
                ["fetch", "--force", "--no-tags", "--depth=1", "--no-auto-maintenance",
                 "--", url, f"+{ref}:{local}"],
                cwd=path,
                env=env,
                timeout=waiting(f"fetch of {url}", timeout, reason=GIT_FAILED),
            )  # fmt: skip
        except GitCommandError as exc:
            raise _fail("fetch of", url, exc) from exc
    _maintain(path, path)
    if local.startswith("refs/heads/"):  # a branch names a commit: read it, no process
        with contextlib.suppress(ValueError):
            return resolve_ref(path, local)
    return _git(["rev-parse", f"{local}^{{commit}}"], cwd=path)


def remote_tags(
    url: str, auth: GitAuth | None, timeout: float, scratch: Path | None = None
) -> dict[str, str]:
    """Every tag of ``url`` with the commit it points at (annotated tags peeled)."""
    _check_url(url)
    url, auth = without_credentials(url, auth)
    with _environment(auth, scratch) as env:
        try:
            out = _git(
                ["ls-remote", "--tags", "--", url],
                env=env,
                timeout=waiting(f"listing tags of {url}", timeout, reason=GIT_FAILED),
            )
        except GitCommandError as exc:
            raise _fail("listing tags of", url, exc) from exc
    tags: dict[str, str] = {}
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        name = ref.removeprefix("refs/tags/")
        if name.endswith("^{}"):
            tags[name[:-3]] = sha  # the peeled commit wins over the tag object
        else:
            tags.setdefault(name, sha)
    return tags


MAX_CHANGED_PATHS = 10_000


def changed_paths(path: Path, old: str, new: str) -> list[str] | None:
    """The files that differ between commits ``old`` and ``new`` of the repository at
    ``path``; None when that cannot be told (a commit is missing) or the list is too long
    to be worth keeping (more than ``MAX_CHANGED_PATHS``)."""
    if not _is_git_dir(path):
        return None
    try:
        out = _git(["diff", "--no-renames", "--name-only", "-z", old, new, "--"], cwd=path)
    except GitCommandError:
        return None
    paths = [p for p in out.split("\0") if p]
    return paths if len(paths) <= MAX_CHANGED_PATHS else None


# A tree for source-controller's artifact holds each blob's bytes as go-git writes them: no
# attribute of the repository applies (no end-of-line conversion, filter, ident, export-*).
_AS_STORED = "* -text -eol -ident -filter -working-tree-encoding -export-ignore -export-subst\n"

MAX_TREE_BYTES = 512 * 1024 * 1024  # the uncompressed tree of one commit


def tree_tar(mirror: Path, commit: str, timeout: float) -> bytes:
    """The files of ``commit`` of the bare repository ``mirror`` as an uncompressed tar
    (``git archive``), each blob as stored; over ``MAX_TREE_BYTES`` it is refused."""
    attributes = mirror / "info" / "attributes"
    if not attributes.is_file() or attributes.read_text() != _AS_STORED:
        attributes.parent.mkdir(exist_ok=True)
        attributes.write_text(_AS_STORED)
    with subprocess.Popen(
        ["git", "--git-dir", str(mirror), "archive", "--format=tar", commit],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        timer = threading.Timer(waiting(f"archive of {commit}", timeout), proc.kill)
        timer.start()
        try:
            data = proc.stdout.read(MAX_TREE_BYTES + 1)
            if len(data) > MAX_TREE_BYTES:
                proc.kill()
                raise PermanentError(
                    f"the tree of {commit} is over {MAX_TREE_BYTES} bytes",
                    reason="ArchiveOperationFailed",
                )
            error = proc.stderr.read()
        finally:
            timer.cancel()
            proc.wait()
    if proc.returncode != 0:
        detail = scrub(error.decode("utf-8", "replace")).strip()[-300:]
        raise TransientError(f"archive of {commit} failed: {detail or proc.returncode}")
    return data


def check_out(
    mirror: Path,
    commit: str,
    dest: Path,
    url: str,
    auth: GitAuth | None,
    timeout: float,
    scratch: Path | None = None,
) -> None:
    """Check ``commit`` of the bare repository ``mirror`` out into the new directory ``dest``
    (a repository, ``dest/.git``, borrowing the mirror's objects) with its submodules,
    recursively, from their URLs (a relative one against ``url``, the mirror's remote), the
    credentials of ``auth`` sent to ``url``'s host alone; ``file://`` submodules only when
    ``url`` is local itself."""
    _check_url(url)
    # the repository made by hand (what `git init` makes, less its templates): no process
    git_dir = dest / ".git"
    for sub in ("objects/info", "refs", "info"):
        (git_dir / sub).mkdir(parents=True)
    (git_dir / "HEAD").write_text("ref: refs/heads/main\n")
    (git_dir / "config").write_text("[core]\n\trepositoryformatversion = 0\n\tbare = false\n")
    (git_dir / "objects/info/alternates").write_text(f"{(mirror / 'objects').resolve()}\n")
    (git_dir / "info/attributes").write_text(_AS_STORED)
    try:
        _git(["read-tree", "--reset", "-u", commit], cwd=dest)
    except GitCommandError as exc:
        detail = scrub(exc.stderr).strip()[-300:]
        raise TransientError(f"checkout of {commit} failed: {detail}") from exc
    _update_submodules(dest, commit, url, auth, timeout, scratch)


def _update_submodules(
    dest: Path,
    commit: str,
    url: str,
    auth: GitAuth | None,
    timeout: float,
    scratch: Path | None,
) -> None:
    url, auth = without_credentials(url, auth)
    parts = urlsplit(url)
    local = parts.scheme in ("", "file")
    with _environment(auth, scratch) as base:
        env = dict(base)
        count = int(env.get("GIT_CONFIG_COUNT", "0"))
        if count and env.get("GIT_CONFIG_KEY_0") == "http.extraHeader":  # to this host only
            host = parts.netloc.rpartition("@")[2]
            env["GIT_CONFIG_KEY_0"] = f"http.{parts.scheme}://{host}/.extraHeader"
        if local:
            env[f"GIT_CONFIG_KEY_{count}"] = "protocol.file.allow"
            env[f"GIT_CONFIG_VALUE_{count}"] = "always"
            count += 1
        env["GIT_CONFIG_COUNT"] = str(count)
        try:
            _git(["update-ref", "--no-deref", "HEAD", commit], cwd=dest)
            _git(["config", "remote.origin.url", url], cwd=dest)
            _git(
                ["submodule", "--quiet", "update", "--init", "--recursive"],
                cwd=dest,
                env=env,
                timeout=waiting(f"submodule update of {url}", timeout, reason=GIT_FAILED),
            )
        except GitCommandError as exc:
            raise _fail("submodule update of", url, exc) from exc


def read_object(path: Path, rev: str) -> tuple[str, str, bytes] | None:
    """The type (``commit``, ``tag``), id and raw content of the object ``rev`` names in the
    repository at ``path``; None when there is no such object. One ``git cat-file --batch``
    (GitPython's object database starts two processes a repository)."""
    if "\n" in rev:
        return None
    try:
        done = subprocess.run(
            ["git", "-C", str(path), "cat-file", "--batch"],
            input=rev.encode() + b"\n",
            capture_output=True,
            timeout=waiting(f"read of {rev}", GIT_LOCAL_TIMEOUT, reason=GIT_FAILED),
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    header, _, rest = done.stdout.partition(b"\n")
    fields = header.decode(errors="replace").split()
    if done.returncode != 0 or len(fields) != 3 or not fields[2].isdigit():
        return None  # "<rev> missing", or not a repository
    oid, kind, size = fields
    return kind, oid, rest[: int(size)]


@dataclass(frozen=True)
class SigningKey:
    """A private key and its passphrase: OpenPGP (``kind`` gpg: armored, as in a Flux ``git.asc``
    Secret) or SSH (``kind`` ssh: as in a Flux ``identity`` Secret)."""

    armored: bytes = field(repr=False)
    passphrase: str | None = field(default=None, repr=False)
    kind: str = "gpg"


# What Flux's SSH signer takes (fluxcd/pkg git/signature): the key types, RSA of 2048 bits or more
SSH_SIGNING_TYPES = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
)
SSH_RSA_MIN_BITS = 2048


def _private_file(path: Path, data: bytes) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path


@contextlib.contextmanager
def _ssh_signing(
    signing: SigningKey, scratch: Path | None
) -> Iterator[tuple[list[str], dict[str, str]]]:
    """``git -c`` options and environment that sign with the SSH key ``signing`` as git does
    (``ssh-keygen -Y sign``, namespace ``git``, SHA-512, as Flux's signer), from a private
    temporary directory; the passphrase reaches ssh-keygen through an askpass program that
    reads it from a file there, never through arguments."""
    with tempfile.TemporaryDirectory(prefix="cv-sshsig-", dir=scratch) as home:
        os.chmod(home, 0o700)
        identity = signing.armored if signing.armored.endswith(b"\n") else signing.armored + b"\n"
        key = _private_file(Path(home, "key"), identity)
        env = {"SSH_ASKPASS_REQUIRE": "never"}
        if signing.passphrase:
            secret = _private_file(Path(home, "passphrase"), signing.passphrase.encode())
            askpass = Path(home, "askpass")
            askpass.write_text(f"#!/bin/sh\nexec cat {shlex.quote(str(secret))}\n")
            askpass.chmod(0o700)
            env = {"SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force"}
        public = subprocess.run(
            ["ssh-keygen", "-y", "-f", str(key)],
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # no terminal to ask a passphrase on
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        kind = public.stdout.split()[0] if public.returncode == 0 and public.stdout else None
        if kind is None:
            raise PermanentError(
                "the signing key is not an SSH private key (identity)"
                + (", or its password is wrong" if signing.passphrase else " without a password"),
                reason="InvalidSigningKey",
            )
        if kind not in SSH_SIGNING_TYPES:
            raise PermanentError(
                f"unsupported SSH signing key algorithm: {kind[:40]}", reason="InvalidSigningKey"
            )
        if kind == "ssh-rsa":
            pub = Path(home, "key.pub")
            pub.write_text(public.stdout)
            listed = subprocess.run(
                ["ssh-keygen", "-l", "-f", str(pub)],
                capture_output=True,
                text=True,
                check=False,
                timeout=60,
            )
            bits = int(listed.stdout.split()[0]) if listed.stdout[:1].isdigit() else 0
            if bits < SSH_RSA_MIN_BITS:
                raise PermanentError(
                    f"RSA key size {bits} bits is below the minimum supported; "
                    f"must be at least {SSH_RSA_MIN_BITS}",
                    reason="InvalidSigningKey",
                )
        options = ["-c", "commit.gpgSign=true", "-c", "gpg.format=ssh"]
        yield [*options, "-c", f"user.signingKey={key}"], env


@contextlib.contextmanager
def _gpg(
    signing: SigningKey | None, scratch: Path | None
) -> Iterator[tuple[list[str], dict[str, str]]]:
    """``git -c`` options and environment that sign with ``signing`` from a private, temporary
    keyring; options that do not sign without a key. The keyring goes under ``scratch`` unless
    its path is too long for the agent's sockets (108 bytes), then in the system's temp dir."""
    if signing is None:
        yield ["-c", "commit.gpgSign=false"], {}
        return
    if signing.kind == "ssh":
        with _ssh_signing(signing, scratch) as ssh:
            yield ssh
        return
    short = scratch if scratch is not None and len(str(scratch)) <= GPG_HOME_MAX - 16 else None
    with tempfile.TemporaryDirectory(prefix="cv-gpg-", dir=short) as home:
        os.chmod(home, 0o700)
        env = {**os.environ, "GNUPGHOME": home}
        base = ["gpg", "--batch", "--no-tty", "--pinentry-mode", "loopback"]
        pass_file = Path(home, "passphrase")
        fd = os.open(pass_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(signing.passphrase or "")
        try:
            imported = subprocess.run(
                [*base, "--passphrase-file", str(pass_file), "--import"],
                input=signing.armored,
                env=env,
                capture_output=True,
                check=False,
                timeout=60,
            )
            listing = subprocess.run(
                ["gpg", "--batch", "--with-colons", "--list-secret-keys"],
                env=env,
                capture_output=True,
                text=True,
                check=False,
                timeout=60,
            )
            fingerprint = next(
                (
                    line.split(":")[9]
                    for line in listing.stdout.splitlines()
                    if line.startswith("fpr:")
                ),
                None,
            )
            if imported.returncode != 0 or fingerprint is None:
                raise PermanentError(
                    "the signing key is not an OpenPGP private key (git.asc)",
                    reason="InvalidSigningKey",
                )
            wrapper = Path(home, "gpg-sign")
            wrapper.write_text(
                "#!/bin/sh\n"
                f"exec gpg --batch --no-tty --pinentry-mode loopback "
                f'--passphrase-file {shlex.quote(str(pass_file))} "$@"\n'
            )
            wrapper.chmod(0o700)
            options = [
                "-c",
                "commit.gpgSign=true",
                "-c",
                f"gpg.program={wrapper}",
                "-c",
                f"user.signingKey={fingerprint}",
            ]
            yield options, {"GNUPGHOME": home}
        finally:
            subprocess.run(
                ["gpgconf", "--kill", "gpg-agent"],
                env=env,
                capture_output=True,
                check=False,
                timeout=30,
            )


class Workspace:
    """A working clone for the git-committer: check out, edit files, commit, push (with
    ``push_options``, Git push options sent as ``key=value``, sorted)."""

    def __init__(
        self,
        path: Path,
        url: str,
        auth: GitAuth | None,
        timeout: float,
        scratch: Path | None = None,
        push_options: Mapping[str, str] | None = None,
    ) -> None:
        _check_url(url)
        url, auth = without_credentials(url, auth)
        self.path, self.url, self.auth, self.timeout = path, url, auth, timeout
        self.scratch = scratch
        self.push_options = [f"{k}={v}" for k, v in sorted((push_options or {}).items())]
        for option in self.push_options:
            if "\n" in option or "\0" in option:
                raise InvalidSpec(
                    f"push option {option.partition('=')[0][:100]!r}: a push option is one line"
                )
        self.options_dropped = False  # a push went without them: the remote takes none
        self.warm = False  # the last checkout found the work tree at the head it was told
        self.git_dir = path / ".git"
        if self.git_dir.is_dir():
            clear_stale_locks(self.git_dir)
        if not _is_git_dir(self.git_dir):
            self._init()

    def _init(self) -> None:
        """A new, empty working clone (what a missing or broken one is replaced with)."""
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.mkdir(parents=True)
        _git(["init", "-q"], cwd=self.path)

    def _git(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """``git ARGS`` in the work tree, a local command (no remote, no timeout)."""
        return _git(args, cwd=self.path, env=env)

    def _run(self, args: list[str], action: str) -> str:
        timeout = waiting(f"{action} {self.url}", self.timeout, reason=GIT_FAILED)
        with _environment(self.auth, self.scratch) as env:
            try:
                return _git(args, cwd=self.path, env=env, timeout=timeout)
            except GitCommandError as exc:
                raise _fail(action, self.url, exc) from exc

    def remote_head(self, branch: str) -> str | None:
        """The commit ``branch`` of the remote points at (None: no such branch), without
        fetching anything: one request."""
        out = self._run(["ls-remote", "--heads", "--", self.url, f"refs/heads/{branch}"], "list of")
        sha, _, ref = out.partition("\t")
        return sha.strip() if ref.strip() == f"refs/heads/{branch}" else None

    def checkout(
        self, branch: str, local: str | None = None, known_head: str | None = None
    ) -> str:
        """Reset the work tree to the remote ``branch`` (as local branch ``local``, default the
        same name), discarding anything local. A clone that git finds broken (a run killed
        half-way) is made anew once. With ``known_head`` (the remote branch's head as known
        elsewhere, e.g. from the last fetch of the source): when the last run left the work
        tree a clean checkout of exactly that (:meth:`settle`), no process runs at all."""
        name = local or branch
        settled = self._take_settled()
        self.warm = (
            known_head is not None
            and settled == (self.url, name, known_head)
            and self._head(name) == known_head
        )
        if self.warm and known_head is not None:
            return known_head
        return self._recovering(lambda: self._checkout(branch, local))

    def checkout_ref(self, ref: str, local: str) -> str:
        """Reset the work tree to ``ref`` of the remote (a full ref name such as
        ``refs/tags/v1.0.0`` or ``refs/pull/1/head``, or a commit id), as local branch
        ``local``; return the commit (a tag peeled)."""
        if ref.startswith("-"):
            raise InvalidSpec(f"invalid Git reference {ref!r}")
        self._take_settled()
        self.warm = False

        def fetch_and_check_out() -> str:
            dest = "refs/conveyor/checkout"
            fetch = ["fetch", "--force", "--no-tags", "--", self.url, f"+{ref}:{dest}"]
            self._run(fetch, "fetch of")
            return self._switch(local, f"{dest}^{{commit}}")

        return self._recovering(fetch_and_check_out)

    def _recovering(self, checkout: Callable[[], str]) -> str:
        """``checkout()``, made again once on a new clone if git finds this one broken."""
        try:
            return checkout()
        except (TransientError, GitCommandError, ValueError) as exc:
            if isinstance(exc, TransientError) and not _local_damage(str(exc)):
                raise  # the remote's fault (network): the clone is fine
            log.warning("%s: the working clone is broken (%s): cloning anew", self.path, exc)
            self._init()
            return checkout()

    def settle(self, local: str, commit: str) -> None:
        """Record that the work tree is a clean checkout of ``commit``, the head of the remote's
        branch ``local`` (nothing edited since a checkout, or just pushed): the next
        :meth:`checkout` of that head skips its fetch. Taken back by any checkout, so a run
        that dies half-way leaves none behind."""
        self._settled_file().write_text(f"{self.url}\n{local}\n{commit}\n")

    def _settled_file(self) -> Path:
        return self.path / ".git" / "conveyor-settled"

    def _take_settled(self) -> tuple[str, str, str] | None:
        path = self._settled_file()
        try:
            url, local, commit = path.read_text().splitlines()[:3]
        except (OSError, ValueError):
            return None
        path.unlink(missing_ok=True)
        return url, local, commit

    def _head(self, local: str) -> str | None:
        """The commit of local branch ``local`` if HEAD is on it, read from the files."""
        try:
            if (self.git_dir / "HEAD").read_text().strip() != f"ref: refs/heads/{local}":
                return None
            return resolve_ref(self.git_dir, "HEAD")
        except (ValueError, OSError):
            return None

    def _checkout(self, branch: str, local: str | None) -> str:
        ref = f"refs/remotes/origin/{branch}"
        self._run(
            ["fetch", "--force", "--no-tags", "--", self.url, f"+refs/heads/{branch}:{ref}"],
            "fetch of",
        )
        return self._switch(local or branch, ref)

    def _switch(self, local: str, start: str) -> str:
        """Local branch ``local`` at ``start``, checked out clean; no other local branch is
        kept (a push refspec never sends what an earlier run left)."""
        self._git("checkout", "-q", "-B", local, start, "--force")
        self._git("clean", "-q", "-fdx")
        stale = sorted(_local_branches(self.git_dir) - {local})
        if stale:
            self._git("branch", "-q", "-D", "--", *stale)
        return resolve_ref(self.git_dir, "HEAD")

    def commit(
        self,
        files: list[str],
        message: str,
        name: str,
        email: str,
        signing: SigningKey | None = None,
    ) -> str | None:
        """Commit ``files`` (relative paths) if they changed, signed with ``signing`` when
        given; return the new commit or None. One ``git commit -- files`` stages and commits
        them (tracked files, the usual case); a file Git does not know yet is added first."""
        env = {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }
        with (
            tempfile.NamedTemporaryFile(
                "w", prefix="conveyor-msg-", suffix=".txt", dir=self.scratch
            ) as msg,
            _gpg(signing, self.scratch) as (sign, sign_env),
        ):
            msg.write(message)
            msg.flush()
            command = [
                *sign, "-c", "maintenance.auto=false", "commit", "--no-verify", "-q",
                "--cleanup=verbatim",
            ]  # fmt: skip
            env.update(sign_env)
            try:
                try:
                    self._git(*command, "-F", msg.name, "--", *files, env=env)
                except GitCommandError as exc:
                    if "did not match any file(s) known to git" not in exc.stderr:
                        raise
                    self._git("add", "--", *files)
                    self._git(*command, "-F", msg.name, env=env)
            except GitCommandError as exc:
                said = exc.stdout + exc.stderr
                if any(n in said for n in ("nothing to commit", "nothing added", "no changes")):
                    return None  # the files are as they were
                detail = scrub(exc.stderr).strip()[-300:]
                if signing is not None:
                    raise PermanentError(
                        f"signing the commit failed: {detail}", reason="InvalidSigningKey"
                    ) from exc
                raise TransientError(f"commit failed: {detail}") from exc
        _maintain(self.git_dir, self.path)
        return resolve_ref(self.git_dir, "HEAD")

    def push(self, local_branch: str, remote_branch: str, force: bool = False) -> None:
        """Push local ``local_branch`` to the remote's ``remote_branch`` (replacing it when
        ``force``)."""
        self.push_refspec(f"refs/heads/{local_branch}:refs/heads/{remote_branch}", force)

    def push_refspec(self, refspec: str, force: bool = False) -> None:
        """Push with a refspec as given (``HEAD:refs/for/main`` for Gerrit, say), forced when
        ``force``. A remote that does not take push options gets the push without them, as
        Flux's Git client sends it (``options_dropped`` says so)."""
        if not refspec or refspec.startswith("-"):
            raise InvalidSpec(f"invalid push refspec {refspec!r}")
        if force and not refspec.startswith("+"):
            refspec = "+" + refspec
        options = [f"--push-option={o}" for o in self.push_options]
        try:
            self._run(["push", "--porcelain", *options, "--", self.url, refspec], "push to")
        except TransientError as exc:
            if not options or "does not support push options" not in str(exc):
                raise
            log.info("%s takes no push options: pushed without them", scrub(self.url))
            self._run(["push", "--porcelain", "--", self.url, refspec], "push to")
            self.options_dropped = True

    def same_change(self, a: str, b: str) -> bool:
        """Whether commits ``a`` and ``b`` (both here) make the same tree on the same parent."""

        def tree_and_parent(rev: str) -> str | None:
            try:
                return self._git("rev-parse", f"{rev}^{{tree}}", f"{rev}^")
            except GitCommandError:
                return None

        found = tree_and_parent(a)
        return found is not None and found == tree_and_parent(b)

    def holds(self, rev: str, parent: str) -> bool:
        """Whether commit ``rev`` (here) sits on ``parent`` with the tree the work tree's tracked
        files have now, edits included: the commit :meth:`commit` would make, made already."""
        try:
            if self._git("rev-parse", f"{rev}^") != parent:
                return False
            self._git("diff", "--quiet", "--no-ext-diff", rev, "--")
        except GitCommandError:  # no parent, or a difference (exit 1)
            return False
        return True

    def diff(self, file: str) -> str:
        """``git diff`` of ``file`` (relative path) in the work tree against the checkout: a
        unified diff with ``a/``/``b/`` paths from the repository's root, whatever the user's
        Git configuration says about colour, prefixes or external diff tools."""
        out = _git_bytes(
            ["diff", "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames",
             "--src-prefix=a/", "--dst-prefix=b/", "--", file],
            cwd=self.path,
        )  # fmt: skip
        return out.decode("utf-8", errors="replace")

    def fetch_branch(self, branch: str) -> str | None:
        """Fetch the remote's ``branch`` (kept as ``refs/remotes/origin/<branch>``) and return
        its commit; None when the remote has no such branch."""
        ref = f"refs/remotes/origin/{branch}"
        try:
            self._run(
                ["fetch", "--force", "--no-tags", "--", self.url, f"+refs/heads/{branch}:{ref}"],
                "fetch of",
            )
        except NotFound:
            return None
        return resolve_ref(self.git_dir, ref)

    def contains(self, branch: str, commit: str) -> bool:
        """Whether the remote's ``branch`` (fetched) holds ``commit``; False when the remote
        has no such branch."""
        head = self.fetch_branch(branch)
        if head is None:
            return False
        try:
            self._git("merge-base", "--is-ancestor", commit, head)
        except GitCommandError:  # exit 1: not an ancestor
            return False
        return True

    def message_of(self, commit: str) -> str:
        """The whole message of ``commit`` (here), as written."""
        out = _git_bytes(["show", "-s", "--format=%B", commit, "--"], cwd=self.path)
        return out.decode("utf-8", "replace").removesuffix("\n")

    def reset_to(self, commit: str) -> None:
        self._git("reset", "-q", "--hard", commit)
