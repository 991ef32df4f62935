"""Secrets encrypted at rest in Redis: AES-256-GCM with the key of ``CONVEYOR_SECRET_KEY``.

The store seals a Secret's JSON before writing it and opens it when read
(``conveyor.shared.store``); each sealing takes a random 96-bit nonce, and the object's key is
authenticated with it (a sealed Secret moved under another key does not open). The key is 32
random bytes in base64 (``head -c 32 /dev/urandom | base64``); ``conveyor run`` on its
embedded Redis makes one in the data directory (``secret.key``, mode 0600) when none is set.
``cryptography`` loads only when a key is used.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from pathlib import Path

from conveyor.shared.errors import UsageError

SETTING = "CONVEYOR_SECRET_KEY"
PREFIX = "sealed:v1:"  # a sealed value, as stored; a Secret's plain JSON starts with "{"
KEY_FILE = "secret.key"


class SecretKeyError(UsageError):
    """A sealed Secret that the configured key cannot open, or no key to open it with."""


class Sealer:
    """Seals and opens the values of one key."""

    def __init__(self, text: str) -> None:
        self.text = text.strip()
        self._key = parse_key(self.text)

    def seal(self, plain: str, bound_to: str) -> str:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(12)
        sealed = AESGCM(self._key).encrypt(nonce, plain.encode(), bound_to.encode())
        return PREFIX + base64.b64encode(nonce + sealed).decode()

    def open(self, stored: str, bound_to: str) -> str:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            raw = base64.b64decode(stored.removeprefix(PREFIX), validate=True)
            return AESGCM(self._key).decrypt(raw[:12], raw[12:], bound_to.encode()).decode()
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise SecretKeyError(
                f"{bound_to} is encrypted in Redis with another key than {SETTING}'s: "
                f"give every conveyor process the same {SETTING}"
            ) from exc

    def digest(self, text: str) -> str:
        """A keyed digest of ``text`` (to see that a Secret changed without storing a plain
        hash of its values)."""
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()[:16]


def parse_key(text: str) -> bytes:
    """The 32 bytes of a key in base64 (standard or URL-safe); a clear error otherwise."""
    try:
        key = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise SecretKeyError(
            f"{SETTING} must be 32 random bytes in base64 (head -c 32 /dev/urandom | base64)"
        )
    return key


def opened_without_key(bound_to: str) -> SecretKeyError:
    return SecretKeyError(f"{bound_to} is encrypted in Redis: set {SETTING} to its key")


def key_file(data_dir: Path) -> str:
    """The key of ``data_dir/secret.key``, made (32 random bytes, mode 0600) if missing."""
    path = data_dir / KEY_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    text = base64.b64encode(os.urandom(32)).decode()
    draft = data_dir / f".{KEY_FILE}.{os.getpid()}"
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text + "\n")
    try:
        os.link(draft, path)  # whole or not at all; another process's key wins a race
    except FileExistsError:
        text = path.read_text().strip()
    finally:
        draft.unlink()
    return text
