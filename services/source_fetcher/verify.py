"""``spec.verify``: the signature of the fetched commit and/or of the tag that names it, checked
as source-controller checks it (``verifySignature``, fluxcd/pkg/git/signature).

The keys are the values of the Secret ``spec.verify.secretRef``: one ending in ``.sshpub``
holds SSH public keys (authorized_keys format), every other one an armored OpenPGP key ring.
The signature is read from the raw Git object (a commit's ``gpgsig`` header, the block at the
end of a tag) and its type from its armor: an OpenPGP one is checked with ``gpg`` against a
temporary keyring holding only the Secret's keys, an SSH one with ``ssh-keygen -Y verify``
(namespace ``git``) against those keys alone. Success names the key: the OpenPGP primary key's
ID, or the SSH key's SHA256 fingerprint. Messages are Flux's.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PGP_SUFFIX = ".asc"
SSH_SUFFIX = ".sshpub"
_ARMOR = {
    "-----BEGIN PGP SIGNATURE-----": "openpgp",
    "-----BEGIN SSH SIGNATURE-----": "ssh",
    "-----BEGIN SIGNED MESSAGE-----": "x509",
}
_TIMEOUT = 60.0
_HOME_MAX = 64  # a short GNUPGHOME: gpg's socket paths must fit a unix socket address


class VerificationFailed(Exception):
    """The signature does not verify; the message is Flux's inner error."""


@dataclass(frozen=True)
class Signed:
    """A Git object split as Git signs it: what was signed, and the signature."""

    payload: bytes
    signature: str

    @property
    def type(self) -> str:
        """Flux's signature type: ``openpgp``, ``ssh``, ``x509``, ``empty`` or ``unknown``."""
        text = self.signature.strip()
        if not self.signature:
            return "empty"
        return next((t for armor, t in _ARMOR.items() if text.startswith(armor)), "unknown")


def split_commit(raw: bytes) -> Signed:
    """A raw commit without its ``gpgsig`` header (what was signed), and that header's value."""
    head, sep, message = raw.partition(b"\n\n")
    kept: list[bytes] = []
    signature: list[bytes] = []
    in_signature = False
    for line in head.split(b"\n"):
        if line.startswith(b" ") and in_signature:
            signature.append(line[1:])
            continue
        in_signature = line.startswith(b"gpgsig ")
        if in_signature:
            signature.append(line[len(b"gpgsig ") :])
        else:
            kept.append(line)
    payload = b"\n".join(kept) + sep + message
    text = b"\n".join(signature).decode("utf-8", "replace") if signature else ""
    return Signed(payload, text)


def split_tag(raw: bytes) -> Signed:
    """A raw annotated tag without the signature block at the end of its message."""
    head, sep, message = raw.partition(b"\n\n")
    start = -1
    for armor in _ARMOR:
        found = message.rfind(armor.encode())
        while found > 0 and message[found - 1 : found] != b"\n":
            found = message.rfind(armor.encode(), 0, found)
        start = max(start, found)
    if start < 0:
        return Signed(raw, "")
    offset = len(head) + len(sep) + start
    return Signed(raw[:offset], raw[offset:].decode("utf-8", "replace"))


def tag_name(raw: bytes) -> str:
    """The ``tag`` header of a raw annotated tag."""
    for line in raw.partition(b"\n\n")[0].split(b"\n"):
        if line.startswith(b"tag "):
            return line[4:].decode("utf-8", "replace")
    return ""


def split_keys(data: dict[str, bytes]) -> tuple[list[bytes], list[bytes]]:
    """(OpenPGP key rings, SSH authorized keys) of a Secret's data, in key order."""
    rings = [v for k, v in sorted(data.items()) if not k.endswith(SSH_SUFFIX)]
    authorized = [v for k, v in sorted(data.items()) if k.endswith(SSH_SUFFIX)]
    return rings, authorized


def verify(
    signed: Signed, what: str, rings: list[bytes], authorized: list[bytes], scratch: Path
) -> str:
    """The key that made ``signed``'s signature (``what``: ``commit`` or ``tag``), or
    :class:`VerificationFailed` with Flux's message."""
    kind = signed.type
    if kind == "openpgp":
        if not rings:
            raise VerificationFailed(
                "PGP signature detected but no PGP public keys found in secret "
                f"(keys with {PGP_SUFFIX} suffix)"
            )
        try:
            return _verify_pgp(signed, rings, scratch)
        except VerificationFailed as exc:
            raise VerificationFailed(f"unable to verify Git {what}: {exc}") from exc
    if kind == "ssh":
        if not authorized:
            raise VerificationFailed(
                "SSH signature detected but no SSH public keys found in secret "
                f"(keys with {SSH_SUFFIX} suffix)"
            )
        try:
            return _verify_ssh(signed, authorized, scratch)
        except VerificationFailed as exc:
            raise VerificationFailed(f"unable to verify Git {what} SSH signature: {exc}") from exc
    raise VerificationFailed(f"unsupported signature type: {kind}")


@contextmanager
def _home(scratch: Path) -> Iterator[Path]:
    short = scratch if len(str(scratch)) <= _HOME_MAX else None
    with tempfile.TemporaryDirectory(prefix="cv-verify-", dir=short) as home:
        os.chmod(home, 0o700)
        yield Path(home)


def _run(args: list[str], home: Path, data: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        args,
        input=data,
        env={**os.environ, "GNUPGHOME": str(home)},
        capture_output=True,
        check=False,
        timeout=_TIMEOUT,
    )


_GPG = ["gpg", "--batch", "--no-tty", "--no-autostart", "--status-fd", "1"]


def _verify_pgp(signed: Signed, rings: list[bytes], scratch: Path) -> str:
    with _home(scratch) as home:
        unreadable = None
        imported = False
        for ring in rings:
            result = _run([*_GPG, "--import"], home, ring)
            if b"-----BEGIN PGP" in ring and b"[GNUPG:] IMPORT_OK" in result.stdout:
                imported = True
            elif unreadable is None:
                said = result.stderr.decode("utf-8", "replace").strip().splitlines()
                detail = said[-1].removeprefix("gpg: ") if said else "no armored data found"
                if b"-----BEGIN PGP" not in ring:
                    detail = "no armored data found"
                unreadable = f"unable to read armored key ring: {detail}"
        if not imported:
            raise VerificationFailed(unreadable or "no key ring")
        signature = Path(home, "signature.asc")
        payload = Path(home, "payload")
        signature.write_text(signed.signature)
        payload.write_bytes(signed.payload)
        result = _run(
            [*_GPG, "--trust-model", "always", "--verify", str(signature), str(payload)], home
        )
        status = result.stdout.decode("utf-8", "replace").splitlines()
        codes = {line.split()[1] for line in status if line.startswith("[GNUPG:] ")}
        valid = [line.split() for line in status if line.startswith("[GNUPG:] VALIDSIG ")]
        if result.returncode != 0 or "GOODSIG" not in codes or "PLAINTEXT" in codes or not valid:
            raise VerificationFailed(
                "unable to verify payload with any of the given key rings: no matching key"
            )
        primary = valid[0][-1]
        return primary[-16:].upper()


_KEY = re.compile(r"(?:^|\s)((?:ssh|ecdsa|sk)-[A-Za-z0-9@.-]+)\s+([A-Za-z0-9+/]+={0,2})(?:\s|$)")


def _authorized_keys(values: list[bytes]) -> list[str]:
    """Each key of the authorized_keys values as ``type base64``; a value with a line that is
    no key is left out whole (Flux's ParseAuthorizedKeys fails it)."""
    keys: list[str] = []
    unreadable = None
    for value in values:
        found: list[str] = []
        for raw in value.decode("utf-8", "replace").splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            match = _KEY.search(line)
            if match is None:
                unreadable = f"unable to parse authorized keys: no key found in {line[:40]!r}"
                found = []
                break
            found.append(f"{match.group(1)} {match.group(2)}")
        keys.extend(found)
    if not keys:
        raise VerificationFailed(unreadable or "unable to parse authorized keys: no key")
    return keys


def _verify_ssh(signed: Signed, authorized: list[bytes], scratch: Path) -> str:
    keys = _authorized_keys(authorized)
    with _home(scratch) as home:
        allowed = Path(home, "allowed_signers")
        allowed.write_text("".join(f"git {key}\n" for key in keys))
        signature = Path(home, "signature")
        signature.write_text(signed.signature.strip() + "\n")
        args = ["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", "git", "-n", "git"]
        result = _run([*args, "-s", str(signature)], home, signed.payload)
        said = result.stdout.decode("utf-8", "replace")
        found = re.search(r"with \S+ key (SHA256:\S+)", said)
        if result.returncode != 0 or found is None:
            raise VerificationFailed(
                "unable to verify payload with any of the given authorized keys: no matching key"
            )
        return found.group(1)
