"""spec.git.commit.signingKey with ``type: ssh``: commits signed with the SSH key of a Flux
``identity``/``password`` Secret (Flux's documented example), verified by git against the public
key; a wrong password, a key Flux's signer does not take, commit nothing and say why."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conveyor.services.demo.scenario import Demo, ci_tags
from conveyor.services.runner import once
from conveyor.shared.runtime import Settings
from conveyor.shared.sources import ManifestSource
from conveyor.shared.status import ImageUpdateAutomationStatus
from conveyor.shared.store import Store
from tests.conftest import git_out, push
from tests.fixtures.registries import Registry

KEY = "ImageUpdateAutomation/flux-system/gitops-demo-app"
PASSWORD = "a passphrase with spaces"


def keypair(directory: Path, kind: str, bits: str, password: str) -> tuple[str, str]:
    key = directory / f"key-{kind}-{bits}"
    args = ["ssh-keygen", "-q", "-t", kind, "-C", "flux", "-N", password, "-f", str(key)]
    subprocess.run([*args, *(["-b", bits] if bits else [])], check=True, capture_output=True)
    return key.read_text(), Path(f"{key}.pub").read_text()


def sign_with(demo: Demo, identity: str, password: str) -> None:
    """Flux's documented SSH signing example: ``type: ssh`` and its Secret."""
    path = demo.manifests / "gitops-demo-app.yaml"
    text = path.read_text().replace(
        "    commit:\n      author:",
        "    commit:\n      signingKey:\n        type: ssh\n        secretRef:\n"
        "          name: signing-key\n      author:",
    )
    text = text.replace(  # signingKey.type is a field of v1
        "apiVersion: image.toolkit.fluxcd.io/v1beta1\nkind: ImageUpdateAutomation",
        "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageUpdateAutomation",
    )
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "signing-key", "namespace": "flux-system"},
        "stringData": {"identity": identity, "password": password},
    }
    path.write_text(text + "\n---\n" + json.dumps(secret) + "\n")


def run(demo: Demo, redis_url: str, tmp_path: Path) -> ImageUpdateAutomationStatus:
    store, settings = Store.from_url(redis_url), Settings(data_dir=tmp_path / "data")
    once(store, settings, ManifestSource(demo.manifests))
    return store.get_status(KEY, ImageUpdateAutomationStatus)


def test_commits_are_signed_with_the_ssh_key(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    identity, public = keypair(tmp_path, "ed25519", "", PASSWORD)
    sign_with(demo, identity, PASSWORD)
    push(registry, demo, ci_tags(2))
    status = run(demo, redis_url, tmp_path)
    head = git_out(demo.remote, "rev-parse", "master").strip()
    assert status.ready is not None and status.ready.status == "True", status.ready
    assert status.last_push_commit == head
    raw = git_out(demo.remote, "cat-file", "commit", head)
    assert "gpgsig -----BEGIN SSH SIGNATURE-----" in raw
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"fluxcdbot@users.noreply.github.com {public}")
    verified = subprocess.run(
        [
            "git",
            "--git-dir",
            str(demo.remote),
            "-c",
            f"gpg.ssh.allowedSignersFile={allowed}",
            "verify-commit",
            head,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr
    assert 'Good "git" signature for fluxcdbot@users.noreply.github.com' in verified.stderr


@pytest.mark.parametrize(
    ("kind", "bits", "password", "said"),
    [
        pytest.param("ed25519", "", "not-the-passphrase", "password is wrong", id="wrong-password"),
        pytest.param("rsa", "1024", "", "RSA key size 1024 bits", id="small-rsa"),
    ],
)
def test_a_key_that_cannot_sign_commits_nothing_and_says_why(
    kind: str,
    bits: str,
    password: str,
    said: str,
    demo: Demo,
    registry: Registry,
    redis_url: str,
    tmp_path: Path,
) -> None:
    identity, _ = keypair(tmp_path, kind, bits, PASSWORD if password else "")
    sign_with(demo, identity, password)
    before = git_out(demo.remote, "rev-parse", "master").strip()
    push(registry, demo, ci_tags(2))
    status = run(demo, redis_url, tmp_path)
    assert status.ready is not None and status.ready.status == "False"
    assert status.ready.reason == "InvalidSigningKey" and said in status.ready.message
    assert PASSWORD not in status.ready.message
    assert git_out(demo.remote, "rev-parse", "master").strip() == before


def test_a_secret_without_identity_is_named(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    sign_with(demo, "", "")
    path = demo.manifests / "gitops-demo-app.yaml"
    path.write_text(path.read_text().replace('"identity": "", ', ""))
    push(registry, demo, ci_tags(2))
    status = run(demo, redis_url, tmp_path)
    assert status.ready is not None and status.ready.status == "False"
    assert "does not contain an 'identity' key" in status.ready.message
