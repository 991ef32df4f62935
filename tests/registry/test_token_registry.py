"""The Bearer token flow against the REAL registry configured with ``auth: token``.

The Distribution registry (Debian ``docker-registry`` 2.8, HTTPS with its own test CA) checks
every token itself: signature, ``x5c`` chain to ``rootcertbundle``, issuer, audience, expiry.
Only the token service is written for the test (:mod:`tests.fixtures.token_server`, a stand-in
for Docker Hub's or Harbor's); it serves HTTPS too, so the scanner runs without ``insecure``.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterator

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from conveyor.services.demo.oci import push_tags, ssl_context
from conveyor.shared.adapters.oci.auth import Credentials
from conveyor.shared.adapters.oci.client import RegistryClient, RegistryOptions, RetryPolicy
from conveyor.shared.adapters.oci.reference import ImageRef
from conveyor.shared.errors import PermanentError
from tests.fixtures.registries import Registry
from tests.fixtures.tls import TestCA
from tests.fixtures.token_server import BearerAuth, Issued, TokenServer, jwt_claims, sign_jwt

USER, PASSWORD = "alice", "c0rrect-H0rse-Battery"
WRONG = "wr0ng-Passw0rd-Guess"
PRIVATE, PUBLIC = "private/app", "public/tool"
PRIVATE_TAGS, PUBLIC_TAGS = ["v1", "v2", "v3"], ["1.0", "1.1"]
FAST = RetryPolicy(base=0.01, cap=0.02)


class World:
    def __init__(self, tokens: TokenServer, registry: Registry, digest: str, push: BearerAuth):
        self.tokens, self.registry, self.digest, self.push = tokens, registry, digest, push
        assert registry.ca_pem is not None
        self.ca_pem = registry.ca_pem + tokens.root_pem  # the registry's CA and the realm's

    def client(
        self,
        repository: str,
        credentials: Credentials | None = None,
        clock: FakeClock | None = None,
    ) -> RegistryClient:
        options = RegistryOptions(credentials=credentials, ca_pem=self.ca_pem, timeout=10.0)
        return RegistryClient(
            ImageRef(self.registry.host, repository),
            options,
            retry=FAST,
            clock=clock or time.monotonic,
        )

    def issued_since(self, mark: int) -> list[Issued]:
        return self.tokens.issued[mark:]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    bundle = tmp_path_factory.mktemp("token-auth") / "rootcertbundle.pem"
    tokens = TokenServer(users={USER: PASSWORD}, tls=True)
    registry = Registry(tls=True, auth_token=tokens.registry_auth_config(bundle))
    with tokens, registry:
        assert registry.ca_pem is not None
        verify = ssl_context(registry.ca_pem + tokens.root_pem)
        push = BearerAuth(USER, PASSWORD)
        digest = push_tags(registry.url, PRIVATE, PRIVATE_TAGS, auth=push, verify=verify)
        push_tags(registry.url, PUBLIC, PUBLIC_TAGS, auth=push, verify=verify)
        yield World(tokens, registry, digest, push)


@pytest.fixture(autouse=True)
def reset(world: World) -> Iterator[None]:
    yield
    world.tokens.lifetime, world.tokens.clock_offset = 300, 0.0


def secrets_absent(error: BaseException, texts: list[str], secrets: list[str]) -> None:
    chain: list[BaseException] = []
    cur: BaseException | None = error
    while cur is not None and cur not in chain:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    for exc in chain:
        texts += [str(exc), repr(exc), repr(exc.args)]
    for text in texts:
        for secret in secrets:
            assert secret not in text


# -- the registry really checks tokens -----------------------------------------------------------


def test_the_registry_challenges_and_verifies_signatures_itself(world: World) -> None:
    verify = ssl_context(world.ca_pem)
    url = f"{world.registry.url}/v2/{PRIVATE}/tags/list"
    bare = httpx.get(url, verify=verify)
    assert bare.status_code == 401
    challenge = bare.headers["WWW-Authenticate"]
    assert challenge.startswith(f'Bearer realm="{world.tokens.realm}"')
    assert f'scope="repository:{PRIVATE}:pull"' in challenge
    # A token with the right claims, signed by a key the bundle does not vouch for: rejected.
    rogue_cert, rogue_key_pem = TestCA("rogue CA").issue("rogue signer", dns_names=(), ips=())
    rogue_key = serialization.load_pem_private_key(rogue_key_pem, password=None)
    assert isinstance(rogue_key, ec.EllipticCurvePrivateKey)
    answer = httpx.get(
        world.tokens.realm,
        params={"service": world.tokens.service, "scope": f"repository:{PRIVATE}:pull"},
        auth=(USER, PASSWORD),
        verify=verify,
    )
    genuine = answer.json()["token"]
    assert answer.json()["access_token"] == genuine and answer.json()["expires_in"] == 300
    accepted = httpx.get(url, verify=verify, headers={"Authorization": f"Bearer {genuine}"})
    assert accepted.status_code == 200 and sorted(accepted.json()["tags"]) == PRIVATE_TAGS
    forged = sign_jwt(jwt_claims(genuine), rogue_key, rogue_cert)
    rejected = httpx.get(url, verify=verify, headers={"Authorization": f"Bearer {forged}"})
    assert rejected.status_code == 401
    assert 'error="invalid_token"' in rejected.headers["WWW-Authenticate"]


def test_push_went_through_the_token_flow_with_push_access(world: World) -> None:
    pushes = [i for i in world.tokens.issued if "push" in i.actions(PRIVATE)]
    assert pushes and all(i.subject == USER for i in pushes)
    assert world.push.tokens >= 2  # pull for the blob HEAD, then pull,push for the upload
    claims = jwt_claims(pushes[0].token)
    assert claims["iss"] == world.tokens.issuer and claims["aud"] == world.tokens.service
    assert {"exp", "nbf", "iat", "jti", "sub", "access"} <= claims.keys()


# -- scanning ------------------------------------------------------------------------------------


def test_credentials_list_tags_and_the_token_is_cached(world: World) -> None:
    mark = len(world.tokens.issued)
    with world.client(PRIVATE, Credentials(USER, PASSWORD)) as client:
        assert sorted(client.list_tags()) == PRIVATE_TAGS
        assert sorted(client.list_tags()) == PRIVATE_TAGS
        assert client.head_digest("v1") == world.digest
        assert client.head_digest("v3") == world.digest
        assert sorted(client.list_tags()) == PRIVATE_TAGS
        # 401 + token + retry, then the other four straight through with the cached token
        assert client.requests_made == 7
    (issued,) = world.issued_since(mark)
    assert issued.subject == USER
    assert issued.access == (("repository", PRIVATE, ("pull",)),)  # a scanner only pulls


def test_anonymous_pull_of_a_public_repository(world: World) -> None:
    mark = len(world.tokens.issued)
    with world.client(PUBLIC) as client:
        assert sorted(client.list_tags()) == PUBLIC_TAGS
        assert client.head_digest("1.0") == world.digest
    (issued,) = world.issued_since(mark)
    assert issued.subject == "" and issued.actions(PUBLIC) == ("pull",)


def test_anonymous_pull_of_a_private_repository_is_denied(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mark = len(world.tokens.issued)
    with world.client(PRIVATE) as client, pytest.raises(PermanentError) as info:
        client.list_tags()
    error = info.value
    assert error.reason == "AuthenticationFailed"
    host = world.registry.host
    assert f"registry {host} denied anonymous access to {host}/{PRIVATE}" in str(error)
    # the token service gave a token without access; the registry itself refused it
    (issued,) = world.issued_since(mark)
    assert issued.actions(PRIVATE) == ()
    secrets_absent(error, [caplog.text], [issued.token])


def test_wrong_password_is_authentication_failed_and_leaks_nothing(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mark, refused = len(world.tokens.issued), world.tokens.refused
    with (
        world.client(PRIVATE, Credentials(USER, WRONG)) as client,
        pytest.raises(PermanentError) as info,
    ):
        client.list_tags()
    error = info.value
    assert error.reason == "AuthenticationFailed"
    assert "rejected the credentials of user 'alice'" in str(error)
    assert f"{world.registry.host}/{PRIVATE}" in str(error)
    assert world.tokens.refused == refused + 1 and world.issued_since(mark) == []
    basic = base64.b64encode(f"{USER}:{WRONG}".encode()).decode()
    known_tokens = [i.token for i in world.tokens.issued]
    secrets_absent(error, [caplog.text], [WRONG, basic, *known_tokens])


def test_expired_token_is_renewed_before_use(world: World) -> None:
    world.tokens.lifetime = 1
    clock = FakeClock()
    mark = len(world.tokens.issued)
    with world.client(PRIVATE, Credentials(USER, PASSWORD), clock) as client:
        assert sorted(client.list_tags()) == PRIVATE_TAGS
        assert client.requests_made == 3
        clock.now += 1.5  # past expires_in: a new token first, no 401 round trip
        assert sorted(client.list_tags()) == PRIVATE_TAGS
        assert client.requests_made == 5
    first, second = world.issued_since(mark)
    assert first.token != second.token


def test_token_the_registry_rejects_as_expired_is_fetched_again(world: World) -> None:
    """The registry's own expiry check: tokens stamped 60 s in the past (its leeway) with a 2 s
    lifetime expire at the registry 1-2 s from now, while the client's clock (frozen) still
    trusts its cached token: the 401 ``invalid_token`` makes it fetch a new one."""
    world.tokens.lifetime, world.tokens.clock_offset = 2, -60.0
    mark = len(world.tokens.issued)
    with world.client(PRIVATE, Credentials(USER, PASSWORD), FakeClock()) as client:
        assert sorted(client.list_tags()) == PRIVATE_TAGS
        (stale,) = world.issued_since(mark)
        time.sleep(max(0.0, stale.expires_at + 60 + 0.3 - time.time()))
        shown = httpx.get(
            f"{world.registry.url}/v2/{PRIVATE}/tags/list",
            verify=ssl_context(world.ca_pem),
            headers={"Authorization": f"Bearer {stale.token}"},
        )
        assert shown.status_code == 401  # expired in the registry's eyes
        world.tokens.clock_offset = 0.0
        assert sorted(client.list_tags()) == PRIVATE_TAGS
        assert client.requests_made == 3 + 3  # stale token -> 401, new token, retry
    assert len(world.issued_since(mark)) == 2
