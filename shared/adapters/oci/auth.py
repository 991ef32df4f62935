"""Registry credentials and auth challenges (pure: no I/O).

- :class:`Credentials`: username and password; ``repr`` never shows the password.
- :func:`credentials_from_dockerconfigjson`: the entry of a ``kubernetes.io/dockerconfigjson``
  (or legacy ``.dockercfg``) Secret that applies to a registry, matched as Docker does.
- :func:`parse_www_authenticate`: the challenges of a ``WWW-Authenticate`` header
  (``Bearer realm="…",service="…",scope="…"``, ``Basic realm="…"``).

Errors raised here never quote the Secret's content.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from conveyor.shared.adapters.oci.reference import DOCKER_HUB, normalize_registry
from conveyor.shared.errors import InvalidSpec

DOCKER_HUB_CONFIG_KEY = "https://index.docker.io/v1/"


@dataclass(frozen=True, repr=False)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password='***')"

    __str__ = __repr__

    def basic_header(self) -> str:
        """The ``Authorization`` header value for HTTP Basic."""
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


def config_key_host(key: str) -> str:
    """The registry host of a config key: scheme and path stripped, Docker Hub folded.

    ``https://index.docker.io/v1/`` -> ``index.docker.io``; ``http://host:5000/v2`` ->
    ``host:5000``; ``docker.io`` -> ``index.docker.io``.
    """
    host = key.strip()
    for scheme in ("http://", "https://"):
        if host.lower().startswith(scheme):
            host = host[len(scheme) :]
            break
    host = host.split("/", 1)[0]
    return normalize_registry(host)


def credentials_from_dockerconfigjson(data: bytes | str, registry: str) -> Credentials | None:
    """The credentials a Docker config JSON holds for ``registry`` (``host[:port]``), or None.

    ``data`` is the Secret's ``.dockerconfigjson`` (``{"auths": {KEY: ENTRY}}``) or a legacy
    ``.dockercfg`` (``{KEY: ENTRY}``). A KEY matches when its host (scheme and path stripped,
    port kept) equals the registry's; Docker Hub is ``https://index.docker.io/v1/`` and also
    answers to ``index.docker.io``, ``docker.io`` and ``registry-1.docker.io``. The exact key
    (``host:port``, or Docker Hub's URL) wins over other spellings of the same host. An ENTRY
    has ``auth`` (base64 of ``user:password``, which wins as in Docker) or ``username`` and
    ``password``. Entries with neither (``identitytoken``, credential helpers) are ignored.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        doc = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        # ``from None``: the decoder's exception carries the document, secrets included.
        raise InvalidSpec("docker config secret is not valid JSON") from None
    if not isinstance(doc, dict):
        raise InvalidSpec("docker config secret must be a JSON object")
    auths: Any = doc.get("auths", doc)
    if not isinstance(auths, dict):
        raise InvalidSpec("docker config secret: 'auths' must be an object")
    target = normalize_registry(registry)
    preferred_key = DOCKER_HUB_CONFIG_KEY if target == DOCKER_HUB else target
    matches = [
        (key, entry)
        for key, entry in auths.items()
        if isinstance(key, str) and config_key_host(key) == target
    ]
    matches.sort(key=lambda kv: kv[0].strip().lower() != preferred_key)
    for key, entry in matches:
        creds = _entry_credentials(entry, config_key_host(key))
        if creds is not None:
            return creds
    return None


def _entry_credentials(entry: object, host: str) -> Credentials | None:
    if not isinstance(entry, dict):
        raise InvalidSpec(f"docker config secret: entry for {host} must be an object")
    auth = entry.get("auth")
    if auth:
        if not isinstance(auth, str):
            raise InvalidSpec(f"docker config secret: 'auth' of {host} must be a string")
        try:
            decoded = base64.b64decode(auth.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidSpec(
                f"docker config secret: 'auth' of {host} is not base64 of user:password"
            ) from None
        username, sep, password = decoded.partition(":")
        if not sep:
            raise InvalidSpec(
                f"docker config secret: 'auth' of {host} is not base64 of user:password"
            )
        return Credentials(username, password.strip("\n"))
    user, secret = entry.get("username"), entry.get("password")
    if user is None and secret is None:
        return None
    if not isinstance(user, str) or not isinstance(secret, str):
        raise InvalidSpec(
            f"docker config secret: entry for {host} needs string 'username' and 'password'"
        )
    if not user and not secret:
        return None
    return Credentials(user, secret)


@dataclass(frozen=True)
class Challenge:
    """One auth challenge: scheme in lower case (``bearer``, ``basic``), params by lower key."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict, hash=False)

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        return self.params.get("service")

    @property
    def scope(self) -> str | None:
        return self.params.get("scope")


_TCHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def parse_www_authenticate(header: str) -> list[Challenge]:
    """Parse ``WWW-Authenticate`` into challenges (RFC 7235, leniently).

    Handles quoted values with commas and escapes (``scope="repository:a:pull,push"``),
    unquoted values, several challenges in one header, and stray whitespace. Never raises;
    what does not parse is skipped.
    """
    challenges: list[Challenge] = []
    n, i = len(header), 0

    def skip(chars: str) -> None:
        nonlocal i
        while i < n and header[i] in chars:
            i += 1

    def token() -> str:
        nonlocal i
        start = i
        while i < n and header[i] in _TCHARS:
            i += 1
        return header[start:i]

    def value() -> str:
        nonlocal i
        if i < n and header[i] == '"':
            i += 1
            out: list[str] = []
            while i < n and header[i] != '"':
                if header[i] == "\\" and i + 1 < n:
                    i += 1
                out.append(header[i])
                i += 1
            i += 1  # closing quote
            return "".join(out)
        start = i
        while i < n and header[i] not in ", \t":
            i += 1
        return header[start:i]

    while i < n:
        skip(" \t,")
        scheme = token()
        if not scheme:
            i += 1  # not a token character: skip it
            continue
        params: dict[str, str] = {}
        while True:
            skip(" \t")
            mark = i
            key = token()
            skip(" \t")
            if not key or i >= n or header[i] != "=":
                i = mark  # the next challenge starts here
                break
            i += 1
            skip(" \t")
            params[key.lower()] = value()
            skip(" \t")
            if i < n and header[i] == ",":
                i += 1
                continue
            break
        challenges.append(Challenge(scheme.lower(), params))
    return challenges
