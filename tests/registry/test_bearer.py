"""The Bearer token flow, against a token server and a registry written for the test.

Both servers are test doubles (:class:`LoopbackServer`): a token service in the style of
Docker Hub's (``GET realm?service=…&scope=…``, optional Basic auth, JSON ``token`` and
``expires_in``) and a fake registry that challenges with ``Bearer`` and checks the tokens.
These doubles cover edge cases a real registry will not produce on demand; the real
Distribution registry with ``auth: token`` (checking signed JWTs itself) is exercised in
test_token_registry.py.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conveyor.shared.adapters.oci.auth import Credentials
from conveyor.shared.adapters.oci.client import RegistryClient, RegistryOptions, RetryPolicy
from conveyor.shared.adapters.oci.reference import ImageRef
from conveyor.shared.errors import PermanentError
from tests.fixtures.loopback import LoopbackServer, Reply, Seen
from tests.fixtures.tls import TestCA

PASSWORD = "s3cret-Pa55"
DIGEST = "sha256:" + "ab" * 32
FAST = RetryPolicy(base=0.01, cap=0.02)


@dataclass
class TokenWorld:
    """Token server + registry; ``users`` empty means anonymous tokens are given out."""

    users: dict[str, str] = field(default_factory=dict)
    expires_in: int | None = 300
    token_field: str = "token"
    private: bool = False  # anonymous tokens do not grant pull
    valid: dict[str, str] = field(default_factory=dict)  # token -> subject
    token_requests: list[Seen] = field(default_factory=list)
    registry_auth: list[str | None] = field(default_factory=list)
    link_to: str | None = None  # absolute URL for a Link next on the first page

    def token(self, seen: Seen) -> Reply:
        self.token_requests.append(seen)
        subject = "anonymous"
        header = seen.headers.get("authorization")
        if header:
            user, _, password = base64.b64decode(header.split()[1]).decode().partition(":")
            if self.users.get(user) != password:
                return 401, {"Content-Type": "application/json"}, b'{"details":"bad creds"}'
            subject = user
        elif self.users and not self.private:
            return 401, {}, b""
        token = secrets.token_urlsafe(16)
        self.valid[token] = subject
        body: dict[str, object] = {self.token_field: token}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    def registry(self, realm: str, tls: ssl.SSLContext | None = None) -> LoopbackServer:
        def handle(seen: Seen) -> Reply:
            header = seen.headers.get("authorization")
            self.registry_auth.append(header)
            subject = (
                self.valid.get(header[7:]) if header and header.startswith("Bearer ") else None
            )
            if subject is None or (self.private and subject == "anonymous"):
                challenge = (
                    f'Bearer realm="{realm}",service="fake-registry",'
                    'scope="repository:team/app:pull"'
                )
                if subject is not None:
                    challenge += ',error="insufficient_scope"'
                body = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
                return 401, {"WWW-Authenticate": challenge}, body
            if seen.path.endswith("/tags/list"):
                headers = {"Content-Type": "application/json"}
                if self.link_to:
                    headers["Link"] = f'<{self.link_to}>; rel="next"'
                return 200, headers, json.dumps({"tags": ["v1", "v2"]}).encode()
            if "/manifests/" in seen.path:
                return 200, {"Docker-Content-Digest": DIGEST}, b""
            return 404, {}, b""

        return LoopbackServer(handle, tls=tls)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world() -> TokenWorld:
    return TokenWorld()


@pytest.fixture
def servers(world: TokenWorld) -> Iterator[tuple[LoopbackServer, LoopbackServer]]:
    token_server = LoopbackServer(world.token)
    with token_server, world.registry(f"{token_server.url}/token") as registry:
        yield token_server, registry


def make_client(
    registry: LoopbackServer,
    credentials: Credentials | None = None,
    clock: Clock | None = None,
) -> RegistryClient:
    options = RegistryOptions(insecure=True, credentials=credentials, timeout=5.0)
    return RegistryClient(
        ImageRef(registry.host, "team/app"),
        options,
        retry=FAST,
        clock=clock or Clock(),
    )


def test_anonymous_token_is_fetched_and_cached(
    world: TokenWorld, servers: tuple[LoopbackServer, LoopbackServer]
) -> None:
    _, registry = servers
    with make_client(registry) as client:
        assert client.list_tags() == ["v1", "v2"]
        assert client.list_tags() == ["v1", "v2"]
        assert client.head_digest("v1") == DIGEST
    (request,) = world.token_requests
    assert request.query == {"service": ["fake-registry"], "scope": ["repository:team/app:pull"]}
    assert "authorization" not in request.headers
    # first call: 401, then with the token; the next two go straight through with it
    assert world.registry_auth[0] is None
    assert all(h and h.startswith("Bearer ") for h in world.registry_auth[1:])
    assert len(world.registry_auth) == 4


def test_access_token_field_and_default_expiry(
    world: TokenWorld, servers: tuple[LoopbackServer, LoopbackServer]
) -> None:
    world.token_field, world.expires_in = "access_token", None
    clock = Clock()
    with make_client(servers[1], clock=clock) as client:
        client.list_tags()
        clock.now += 30  # within the default 60 s
        client.list_tags()
        assert len(world.token_requests) == 1
        clock.now += 31  # past it: renewed before asking, without a 401 round trip
        client.list_tags()
        assert len(world.token_requests) == 2
    assert world.registry_auth.count(None) == 1


def test_expired_token_is_renewed(
    world: TokenWorld, servers: tuple[LoopbackServer, LoopbackServer]
) -> None:
    world.expires_in = 120
    clock = Clock()
    with make_client(servers[1], clock=clock) as client:
        client.list_tags()
        clock.now += 119  # inside the renewal margin (10% of the lifetime)
        client.list_tags()
    assert len(world.token_requests) == 2


def test_token_revoked_by_the_server_is_fetched_again(
    world: TokenWorld, servers: tuple[LoopbackServer, LoopbackServer]
) -> None:
    with make_client(servers[1]) as client:
        client.list_tags()
        world.valid.clear()  # the registry no longer accepts the cached token
        assert client.list_tags() == ["v1", "v2"]
    assert len(world.token_requests) == 2


def test_credentials_are_sent_to_the_token_service(
    world: TokenWorld, servers: tuple[LoopbackServer, LoopbackServer]
) -> None:
    world.users = {"alice": PASSWORD}
    with make_client(servers[1], Credentials("alice", PASSWORD)) as client:
        assert client.list_tags() == ["v1", "v2"]
    (request,) = world.token_requests
    expected = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    assert request.headers["authorization"] == expected
    assert set(world.valid.values()) == {"alice"}


def test_wrong_password_fails_without_leaking_it(
    world: TokenWorld,
    servers: tuple[LoopbackServer, LoopbackServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    world.users = {"alice": "the-right-one"}
    _, registry = servers
    with (
        make_client(registry, Credentials("alice", PASSWORD)) as client,
        pytest.raises(PermanentError) as info,
    ):
        client.list_tags()
    error = info.value
    assert error.reason == "AuthenticationFailed"
    assert registry.host in str(error) and f"{registry.host}/team/app" in str(error)
    assert "rejected the credentials of user 'alice'" in str(error)
    encoded = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    for text in (str(error), repr(error), caplog.text, repr(error.__cause__)):
        assert PASSWORD not in text and encoded not in text


def test_anonymous_refused_by_token_service(
    world: TokenWorld, servers: tuple[LoopbackServer, LoopbackServer]
) -> None:
    world.users = {"alice": PASSWORD}
    with make_client(servers[1]) as client, pytest.raises(PermanentError) as info:
        client.list_tags()
    assert info.value.reason == "AuthenticationFailed"
    assert "credentials are required" in str(info.value)


def test_anonymous_token_without_pull_access_is_denied(
    world: TokenWorld, servers: tuple[LoopbackServer, LoopbackServer]
) -> None:
    world.private = True
    with make_client(servers[1]) as client, pytest.raises(PermanentError) as info:
        client.list_tags()
    assert info.value.reason == "AuthenticationFailed"
    assert "denied anonymous access" in str(info.value)
    assert len(world.token_requests) == 1  # a fresh token that does not work is not retried


def test_tokens_are_not_sent_to_another_host(world: TokenWorld) -> None:
    with (
        LoopbackServer(world.token) as token_server,
        LoopbackServer(lambda seen: (200, {}, b'{"tags": ["v3"]}')) as other,
        world.registry(f"{token_server.url}/token") as registry,
    ):
        world.link_to = f"{other.url}/v2/team/app/tags/list?last=v2"
        with make_client(registry) as client:
            assert client.list_tags() == ["v1", "v2", "v3"]
        (seen,) = other.requests
        assert "authorization" not in seen.headers


def test_plain_http_token_realm_is_refused_without_insecure(world: TokenWorld) -> None:
    ca = TestCA()
    token_server = LoopbackServer(world.token)
    realm = f"{token_server.url}/token"  # http://
    with token_server, world.registry(realm, tls=server_context(ca)) as https_registry:
        options = RegistryOptions(ca_pem=ca.cert_pem, timeout=5.0)
        ref = ImageRef(https_registry.host, "team/app")
        with (
            RegistryClient(ref, options, retry=FAST) as client,
            pytest.raises(PermanentError) as info,
        ):
            client.list_tags()
    assert info.value.reason == "PlainHTTPNotAllowed"
    assert "spec.insecure" in str(info.value)
    assert world.token_requests == []


def server_context(ca: TestCA) -> ssl.SSLContext:
    cert, key = ca.issue()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "tls.crt").write_bytes(cert)
        Path(tmp, "tls.key").write_bytes(key)
        ctx.load_cert_chain(Path(tmp, "tls.crt"), Path(tmp, "tls.key"))
    return ctx
