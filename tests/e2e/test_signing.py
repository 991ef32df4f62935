"""spec.git.commit.signingKey: commits signed with the OpenPGP key of a Flux `git.asc` Secret."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.services.demo.scenario import Demo, ci_tags
from tests.conftest import git_out, push, run_once_json
from tests.fixtures.registries import Registry

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A GNUPGHOME with a new signing key; the key exported armored, passphrase-protected."""
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    gpg = ["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", PASSPHRASE]
    subprocess.run(
        [
            *gpg,
            "--quick-gen-key",
            "Flux Bot <fluxcdbot@users.noreply.github.com>",
            "ed25519",
            "sign",
            "never",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    armored = subprocess.run(
        [*gpg, "--armor", "--export-secret-keys"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    yield home, armored
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, check=False)


def sign_with(demo: Demo, armored: str, passphrase: str) -> None:
    path = demo.manifests / "gitops-demo-app.yaml"
    text = path.read_text().replace(
        "    commit:\n      author:",
        "    commit:\n      signingKey:\n        secretRef:\n          name: signing-key\n"
        "      author:",
    )
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "signing-key", "namespace": "flux-system"},
        "stringData": {"git.asc": armored, "passphrase": passphrase},
    }
    path.write_text(text + "\n---\n" + json.dumps(secret) + "\n")


def test_commits_are_signed(
    keyring: tuple[Path, str], demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    home, armored = keyring
    sign_with(demo, armored, PASSPHRASE)
    push(registry, demo, ci_tags(2))
    _, rows = run_once_json(demo, tmp_path / "data", redis_url)
    head = git_out(demo.remote, "rev-parse", "master").strip()
    automation = next(r for r in rows if r.get("kind") == "ImageUpdateAutomation")
    assert automation["status"].get("lastPushCommit") == head, automation
    env = {**os.environ, "GNUPGHOME": str(home)}
    verified = subprocess.run(
        ["git", "--git-dir", str(demo.remote), "verify-commit", head],
        env=env,
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0, verified.stderr
    assert "Good signature" in verified.stderr


def test_a_wrong_passphrase_commits_nothing_and_says_why(
    keyring: tuple[Path, str], demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    _, armored = keyring
    sign_with(demo, armored, "not the passphrase")
    push(registry, demo, ci_tags(2))
    before = git_out(demo.remote, "rev-parse", "master")
    code, rows = run_once_json(demo, tmp_path / "data", redis_url)
    ready = next(r for r in rows if r.get("kind") == "ImageUpdateAutomation")["status"][
        "conditions"
    ][0]
    assert code == 1
    assert ready["status"] == "False" and ready["reason"] == "InvalidSigningKey"
    assert git_out(demo.remote, "rev-parse", "master") == before
    assert "not the passphrase" not in json.dumps(rows)
    assert "PRIVATE KEY" not in json.dumps(rows)
