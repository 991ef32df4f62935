"""``spec.verify``: a GitRepository whose commit (or tag) is not signed by a key of its Secret is
``SourceVerified=False`` and its revision is not used; real signed, unsigned, tampered and
foreign commits and tags on a real remote, OpenPGP keys made by gpg, SSH keys by ssh-keygen."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.git_remotes import AUTHOR, git_out, init_bare
from tests.git.pipeline import (
    NS,
    Pipeline,
    built,
    config_map,
    git_repository,
    kustomization,
    ready,
)


@dataclass(frozen=True)
class Key:
    home: Path  # the GNUPGHOME holding the secret key
    fingerprint: str
    public: str  # armored

    @property
    def key_id(self) -> str:
        return self.fingerprint[-16:]


def make_key(home: Path, uid: str) -> Key:
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    gpg = ["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", ""]
    subprocess.run(
        [*gpg, "--quick-gen-key", uid, "ed25519", "sign", "never"],
        env=env,
        check=True,
        capture_output=True,
    )
    listing = subprocess.run(
        ["gpg", "--batch", "--with-colons", "--list-keys"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line[:4] == "fpr:")
    public = subprocess.run(
        ["gpg", "--batch", "--armor", "--export", fingerprint],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return Key(home, fingerprint, public)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Key, Key]]:
    """Alice, whose key the Secret holds, and Mallory, whose key it does not."""
    root = tmp_path_factory.mktemp("keys")
    alice = make_key(root / "alice", "Alice <alice@example.org>")
    mallory = make_key(root / "mallory", "Mallory <mallory@example.org>")
    yield alice, mallory
    for key in (alice, mallory):
        env = {**os.environ, "GNUPGHOME": str(key.home)}
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, check=False)


def run_git(work: Path, *args: str, home: Path | None = None, signing: Sequence[str] = ()) -> str:
    name, email = AUTHOR
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL="/dev/null",
        GIT_AUTHOR_NAME=name,
        GIT_AUTHOR_EMAIL=email,
        GIT_COMMITTER_NAME=name,
        GIT_COMMITTER_EMAIL=email,
    )
    if home is not None:
        env["GNUPGHOME"] = str(home)
    return subprocess.run(
        ["git", *signing, *args], cwd=work, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def pgp(key: Key) -> list[str]:
    return ["-c", "gpg.format=openpgp", "-c", f"user.signingKey={key.fingerprint}"]


class Remote:
    """A bare repository on disk and a working clone to push signed (or not) commits from."""

    def __init__(self, root: Path) -> None:
        self.bare = root / "app.git"
        init_bare(self.bare, {"deploy/app.yaml": config_map("v0")})
        self.work = root / "work"
        run_git(root, "clone", "-q", str(self.bare), str(self.work))
        self.count = 0

    def commit(self, key: Key | None = None, signing: Sequence[str] = ()) -> str:
        """A commit of a new ConfigMap pushed to main, signed with ``key`` (OpenPGP) or as
        ``signing`` says (git -c options), or not signed."""
        self.count += 1
        (self.work / "deploy" / f"cm{self.count}.yaml").write_text(config_map(f"cm{self.count}"))
        run_git(self.work, "add", "-A")
        sign = (pgp(key) if key is not None else list(signing)) or ["-c", "commit.gpgSign=false"]
        flag = ["-S"] if key is not None or signing else []
        home = key.home if key is not None else None
        message = f"commit {self.count}"
        run_git(self.work, "commit", "-q", *flag, "-m", message, home=home, signing=sign)
        run_git(self.work, "push", "-q", "origin", "HEAD:main")
        return run_git(self.work, "rev-parse", "HEAD")

    def tamper(self, key: Key) -> str:
        """A commit signed by ``key`` whose message was changed after signing, pushed."""
        signed = self.commit(key)
        raw = run_git(self.work, "cat-file", "commit", signed) + "\n"
        forged = raw.replace(f"commit {self.count}", f"commit {self.count} (edited)")
        with tempfile.NamedTemporaryFile("w", dir=self.work.parent, delete=False) as fh:
            fh.write(forged)
        sha = run_git(self.work, "hash-object", "-t", "commit", "-w", fh.name)
        os.unlink(fh.name)
        run_git(self.work, "push", "-q", "--force", "origin", f"{sha}:refs/heads/main")
        run_git(self.work, "reset", "-q", "--hard", sha)
        return sha


@pytest.fixture
def pipeline(redis_url: str, tmp_path: Path) -> Pipeline:
    return Pipeline(redis_url, tmp_path / "data")


def secret(name: str, data: dict[str, str]) -> str:
    body = "".join(
        f"  {key}: |\n" + "".join(f"    {line}\n" for line in value.splitlines())
        for key, value in data.items()
    )
    meta = f"metadata: {{name: {name}, namespace: {NS}}}"
    return f"apiVersion: v1\nkind: Secret\n{meta}\nstringData:\n{body}---\n"


def verify(mode: str = "HEAD", keys: str = "keys") -> str:
    return f"  verify: {{mode: {mode}, secretRef: {{name: {keys}}}}}\n"


def test_verify_head_accepts_signed_refuses_the_rest(
    pipeline: Pipeline, keys: tuple[Key, Key], tmp_path: Path
) -> None:
    alice, mallory = keys
    remote = Remote(tmp_path)
    signed = remote.commit(alice)
    pipeline.load(
        secret("keys", {"alice.asc": alice.public})
        + git_repository("app", remote.bare.as_uri(), verify())
        + kustomization("app", "app")
    )
    pipeline.reconcile("app")
    source = pipeline.source("app")
    assert ready(source).status == "True", source.conditions
    verified = source.condition("SourceVerified")
    assert verified is not None and verified.status == "True" and verified.reason == "Succeeded"
    assert verified.message == (
        f"verified signature of\n\t- commit '{signed}' with key '{alice.key_id}'"
    )
    assert source.source_verification_mode == "HEAD"
    assert built(pipeline.kustomization("app")) == 2
    good = pipeline.files("app")

    def refused(commit: str, reason: str, detail: str) -> None:
        pipeline.reconcile("app")
        status = pipeline.source("app")
        condition = status.condition("SourceVerified")
        assert condition is not None and condition.status == "False", status.conditions
        assert condition.reason == reason
        assert condition.message == (
            f"signature verification of commit '{commit}' failed: {detail}"
        )
        assert ready(status).status == "False" and ready(status).reason == reason
        # the revision is not used: the artifact is still the signed commit's
        assert status.artifact is not None
        assert status.artifact.revision == f"main@sha1:{signed}"
        assert pipeline.files("app") == good
        assert built(pipeline.kustomization("app")) == 2

    no_match = (
        "unable to verify Git commit: unable to verify payload with any of the given key "
        "rings: no matching key"
    )
    refused(remote.commit(), "InvalidCommitSignature", "unsupported signature type: empty")
    refused(remote.tamper(alice), "InvalidCommitSignature", no_match)
    refused(remote.commit(mallory), "InvalidCommitSignature", no_match)

    # signed again: used
    newest = remote.commit(alice)
    pipeline.reconcile("app")
    source = pipeline.source("app")
    assert ready(source).status == "True", source.conditions
    assert source.artifact is not None and source.artifact.revision == f"main@sha1:{newest}"
    assert built(pipeline.kustomization("app")) == 1 + remote.count  # and the first file
    assert git_out(remote.bare, "rev-parse", "main") == newest

    # keys of another Secret: a verification error; no Secret at all: the same
    pipeline.load(
        secret("others", {"mallory.asc": mallory.public})
        + git_repository("foreign", remote.bare.as_uri(), verify(keys="others"))
        + git_repository("nokeys", remote.bare.as_uri(), verify(keys="missing"))
    )
    pipeline.reconcile("foreign")
    foreign = pipeline.source("foreign").condition("SourceVerified")
    assert foreign is not None and foreign.reason == "InvalidCommitSignature"
    assert foreign.message.endswith(no_match)
    pipeline.reconcile("nokeys")
    nokeys = pipeline.source("nokeys")
    assert ready(nokeys).reason == "VerificationError"
    assert "public keys secret error" in ready(nokeys).message
    assert nokeys.artifact is None


def test_verify_tag_modes(pipeline: Pipeline, keys: tuple[Key, Key], tmp_path: Path) -> None:
    alice, _ = keys
    remote = Remote(tmp_path)
    head = remote.commit(alice)
    run_git(
        remote.work, "tag", "-s", "-m", "release", "v1.0.0", home=alice.home, signing=pgp(alice)
    )
    run_git(remote.work, "tag", "light")
    run_git(remote.work, "push", "-q", "origin", "v1.0.0", "light")
    tag_object = git_out(remote.bare, "rev-parse", "refs/tags/v1.0.0")
    url = remote.bare.as_uri()

    def source(name: str, ref: str, mode: str) -> str:
        return git_repository(name, url, verify(mode)).replace("{branch: main}", ref)

    legacy = (
        git_repository("legacy", url, "  verify: {mode: head, secretRef: {name: keys}}\n")
        .replace("source.toolkit.fluxcd.io/v1", "source.toolkit.fluxcd.io/v1beta2")
    )
    pipeline.load(
        secret("keys", {"alice.asc": alice.public})
        + source("tag", "{tag: v1.0.0}", "Tag")
        + source("both", "{tag: v1.0.0}", "TagAndHEAD")
        + source("semver", "{semver: '>=1.0.0'}", "Tag")
        + source("light", "{tag: light}", "Tag")
        + source("branch", "{branch: main}", "Tag")
        + legacy
    )
    for name in ("tag", "both", "semver", "light", "branch", "legacy"):
        pipeline.reconcile(name)

    tag_line = f"\t- tag 'v1.0.0@{tag_object}' with key '{alice.key_id}'"
    commit_line = f"\t- commit '{head}' with key '{alice.key_id}'"
    expected = {
        "tag": f"verified signature of\n{tag_line}",
        "both": f"verified signature of\n{tag_line}\n{commit_line}",
        "semver": f"verified signature of\n{tag_line}",
        "legacy": f"verified signature of\n{commit_line}",
    }
    for name, message in expected.items():
        status = pipeline.source(name)
        assert ready(status).status == "True", (name, status.conditions)
        condition = status.condition("SourceVerified")
        assert condition is not None and condition.message == message, name
    assert pipeline.source("both").source_verification_mode == "TagAndHEAD"
    assert pipeline.source("legacy").source_verification_mode == "HEAD"

    light = pipeline.source("light")
    assert ready(light).reason == "InvalidGitObject"
    assert ready(light).message == "cannot verify signature of tag 'light' since it is not signed"
    assert light.artifact is None

    branch = pipeline.source("branch")
    assert ready(branch).reason == "InvalidVerificationMode"
    assert branch.condition("Stalled") is not None
    assert ready(branch).message == (
        "cannot verify tag object's signature if a tag reference is not specified"
    )


def test_verify_ssh_signed_commit(pipeline: Pipeline, tmp_path: Path) -> None:
    key = tmp_path / "signer"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "signer", "-f", str(key)],
        check=True,
        capture_output=True,
    )
    fingerprint = subprocess.run(
        ["ssh-keygen", "-l", "-f", f"{key}.pub"], check=True, capture_output=True, text=True
    ).stdout.split()[1]
    remote = Remote(tmp_path)
    commit = remote.commit(signing=["-c", "gpg.format=ssh", "-c", f"user.signingKey={key}"])
    public = Path(f"{key}.pub").read_text()
    pipeline.load(
        secret("ssh", {"author.sshpub": public})
        + secret("pgp-only", {"other.asc": "not a key"})
        + git_repository("app", remote.bare.as_uri(), verify(keys="ssh"))
        + git_repository("wrong", remote.bare.as_uri(), verify(keys="pgp-only"))
    )
    pipeline.reconcile("app")
    pipeline.reconcile("wrong")

    source = pipeline.source("app")
    assert ready(source).status == "True", source.conditions
    condition = source.condition("SourceVerified")
    assert condition is not None
    assert condition.message == (
        f"verified signature of\n\t- commit '{commit}' with key '{fingerprint}'"
    )
    wrong = pipeline.source("wrong").condition("SourceVerified")
    assert wrong is not None and wrong.status == "False"
    assert wrong.message.endswith(
        "SSH signature detected but no SSH public keys found in secret (keys with .sshpub suffix)"
    )
