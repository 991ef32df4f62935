"""Credentials from docker config Secrets, and WWW-Authenticate challenges (pure)."""

from __future__ import annotations

import base64
import json

import pytest

from conveyor.shared.adapters.oci.auth import (
    Challenge,
    Credentials,
    config_key_host,
    credentials_from_dockerconfigjson,
    parse_www_authenticate,
)
from conveyor.shared.errors import InvalidSpec


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def config(auths: dict[str, object]) -> str:
    return json.dumps({"auths": auths})


HUB_CONFIG = config({"https://index.docker.io/v1/": {"auth": b64("hubuser:hubpass")}})

CONFIG_CASES = [
    # id, data, registry, expected (username, password) or None
    ("hub-v1-key", HUB_CONFIG, "index.docker.io", ("hubuser", "hubpass")),
    ("hub-v1-key-docker.io", HUB_CONFIG, "docker.io", ("hubuser", "hubpass")),
    ("hub-v1-key-registry-1", HUB_CONFIG, "registry-1.docker.io", ("hubuser", "hubpass")),
    (
        "hub-bare-docker.io-key",
        config({"docker.io": {"username": "u", "password": "p"}}),
        "index.docker.io",
        ("u", "p"),
    ),
    (
        "hub-exact-key-wins",
        config(
            {
                "docker.io": {"username": "other", "password": "x"},
                "https://index.docker.io/v1/": {"username": "hub", "password": "y"},
            }
        ),
        "index.docker.io",
        ("hub", "y"),
    ),
    ("hub-key-not-for-ghcr", HUB_CONFIG, "ghcr.io", None),
    (
        "ghcr-username-password",
        config({"ghcr.io": {"username": "octo", "password": "ghp_x"}}),
        "ghcr.io",
        ("octo", "ghp_x"),
    ),
    (
        "scheme-and-path-stripped",
        config({"https://registry.example.com/v2/": {"auth": b64("a:b")}}),
        "registry.example.com",
        ("a", "b"),
    ),
    (
        "http-scheme-stripped",
        config({"http://127.0.0.1:5000": {"auth": b64("a:b")}}),
        "127.0.0.1:5000",
        ("a", "b"),
    ),
    (
        "port-must-match",
        config({"registry.example.com:5000": {"auth": b64("a:b")}}),
        "registry.example.com",
        None,
    ),
    (
        "port-matches",
        config({"registry.example.com:5000": {"auth": b64("a:b")}}),
        "registry.example.com:5000",
        ("a", "b"),
    ),
    (
        "host-case-insensitive",
        config({"Registry.Example.com": {"auth": b64("a:b")}}),
        "registry.example.com",
        ("a", "b"),
    ),
    (
        "password-with-colons",
        config({"ghcr.io": {"auth": b64("user:pa:ss:word")}}),
        "ghcr.io",
        ("user", "pa:ss:word"),
    ),
    (
        "auth-wins-over-username",
        config({"ghcr.io": {"auth": b64("from-auth:1"), "username": "u", "password": "p"}}),
        "ghcr.io",
        ("from-auth", "1"),
    ),
    (
        "identitytoken-only-ignored",
        config({"ghcr.io": {"identitytoken": "tok"}}),
        "ghcr.io",
        None,
    ),
    ("empty-auths", config({}), "ghcr.io", None),
    (
        "legacy-dockercfg",
        json.dumps({"quay.io": {"auth": b64("q:r"), "email": "x@y"}}),
        "quay.io",
        ("q", "r"),
    ),
    (
        "bytes-input",
        config({"ghcr.io": {"auth": b64("a:b")}}).encode(),
        "ghcr.io",
        ("a", "b"),
    ),
]


@pytest.mark.parametrize(
    ("data", "registry", "expected"),
    [pytest.param(*row[1:], id=row[0]) for row in CONFIG_CASES],
)
def test_credentials_from_dockerconfigjson(
    data: str | bytes, registry: str, expected: tuple[str, str] | None
) -> None:
    creds = credentials_from_dockerconfigjson(data, registry)
    assert (None if creds is None else (creds.username, creds.password)) == expected


BAD_CONFIGS = [
    ("not-json", "{not json topsecret"),
    ("not-object", "[1, 2]"),
    ("auths-not-object", json.dumps({"auths": ["topsecret"]})),
    ("auth-not-base64", config({"ghcr.io": {"auth": "%%%topsecret%%%"}})),
    ("auth-without-colon", config({"ghcr.io": {"auth": b64("topsecret")}})),
    ("entry-not-object", config({"ghcr.io": "topsecret"})),
    ("password-not-string", config({"ghcr.io": {"username": "u", "password": 7}})),
]


@pytest.mark.parametrize("data", [pytest.param(d, id=i) for i, d in BAD_CONFIGS])
def test_bad_dockerconfigjson_is_invalid_spec_without_secret(data: str) -> None:
    with pytest.raises(InvalidSpec) as info:
        credentials_from_dockerconfigjson(data, "ghcr.io")
    assert "topsecret" not in str(info.value)
    assert info.value.__cause__ is None  # a decoder's exception would carry the document


@pytest.mark.parametrize(
    ("key", "host"),
    [
        pytest.param("https://index.docker.io/v1/", "index.docker.io", id="hub-v1"),
        pytest.param("docker.io", "index.docker.io", id="docker.io"),
        pytest.param("http://host:5000/v2/x", "host:5000", id="http-path"),
        pytest.param("HTTPS://GHCR.IO", "ghcr.io", id="upper"),
    ],
)
def test_config_key_host(key: str, host: str) -> None:
    assert config_key_host(key) == host


def test_credentials_repr_hides_password() -> None:
    creds = Credentials("alice", "hunter2")
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert "hunter2" not in text
        assert "alice" in text
    assert creds.basic_header() == "Basic " + b64("alice:hunter2")


CHALLENGES = [
    (
        "docker-hub",
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/nginx:pull"',
        [
            Challenge(
                "bearer",
                {
                    "realm": "https://auth.docker.io/token",
                    "service": "registry.docker.io",
                    "scope": "repository:library/nginx:pull",
                },
            )
        ],
    ),
    (
        "comma-in-quoted-scope",
        'Bearer realm="https://t/token", scope="repository:a:pull,push"',
        [Challenge("bearer", {"realm": "https://t/token", "scope": "repository:a:pull,push"})],
    ),
    ("basic", 'Basic realm="conveyor-test"', [Challenge("basic", {"realm": "conveyor-test"})]),
    ("basic-unquoted", "Basic realm=registry", [Challenge("basic", {"realm": "registry"})]),
    (
        "scheme-and-keys-case-folded",
        'BEARER Realm="r",Service="s"',
        [Challenge("bearer", {"realm": "r", "service": "s"})],
    ),
    (
        "two-challenges",
        'Basic realm="a", Bearer realm="b",error="invalid_token"',
        [
            Challenge("basic", {"realm": "a"}),
            Challenge("bearer", {"realm": "b", "error": "invalid_token"}),
        ],
    ),
    ("escaped-quote", r'Basic realm="say \"hi\""', [Challenge("basic", {"realm": 'say "hi"'})]),
    ("no-params", "Bearer", [Challenge("bearer", {})]),
    ("empty", "", []),
    ("garbage", ",,, ", []),
]


@pytest.mark.parametrize(
    ("header", "expected"), [pytest.param(*row[1:], id=row[0]) for row in CHALLENGES]
)
def test_parse_www_authenticate(header: str, expected: list[Challenge]) -> None:
    assert parse_www_authenticate(header) == expected


def test_challenge_properties() -> None:
    (c,) = parse_www_authenticate('Bearer realm="r",service="s",scope="x"')
    assert (c.realm, c.service, c.scope) == ("r", "s", "x")
