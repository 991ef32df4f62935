"""Basic auth against the real registry with a bcrypt htpasswd file."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator

import pytest

from conveyor.services.demo.oci import push_tags
from conveyor.shared.adapters.oci.auth import Credentials, credentials_from_dockerconfigjson
from conveyor.shared.adapters.oci.client import RegistryClient, RegistryOptions
from conveyor.shared.adapters.oci.reference import ImageRef
from conveyor.shared.errors import PermanentError
from tests.fixtures.registries import Registry

USER, PASSWORD = "alice", "c0rrect-H0rse-Battery"
WRONG = "wr0ng-Passw0rd-Guess"
TAGS = ["v1", "v2", "v3"]


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    with Registry(htpasswd=(USER, PASSWORD)) as registry:
        push_tags(registry.url, "private/app", TAGS, auth=(USER, PASSWORD))
        yield registry


def scan(registry: Registry, credentials: Credentials | None) -> RegistryClient:
    options = RegistryOptions(insecure=True, credentials=credentials, timeout=10.0)
    return RegistryClient(ImageRef(registry.host, "private/app"), options)


def test_right_password_lists_tags_and_sends_basic_from_then_on(registry: Registry) -> None:
    with scan(registry, Credentials(USER, PASSWORD)) as c:
        assert sorted(c.list_tags()) == TAGS
        assert sorted(c.list_tags()) == TAGS
        # failed https attempt, 401 with the Basic challenge, 200, then 200 straight away
        assert c.requests_made == 4


def test_wrong_password_is_authentication_failed_without_the_password(
    registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with scan(registry, Credentials(USER, WRONG)) as c, pytest.raises(PermanentError) as info:
        c.list_tags()
    error = info.value
    assert error.reason == "AuthenticationFailed"
    assert f"registry {registry.host} rejected the credentials of user 'alice'" in str(error)
    assert f"{registry.host}/private/app" in str(error)
    encoded = base64.b64encode(f"{USER}:{WRONG}".encode()).decode()
    for text in (str(error), repr(error), caplog.text, repr(error.__cause__)):
        assert WRONG not in text and encoded not in text


def test_no_credentials_says_they_are_required(registry: Registry) -> None:
    with scan(registry, None) as c, pytest.raises(PermanentError) as info:
        c.list_tags()
    assert info.value.reason == "AuthenticationFailed"
    assert "requires credentials" in str(info.value) and "secretRef" in str(info.value)


def test_credentials_from_a_dockerconfigjson_secret(registry: Registry) -> None:
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    secret = json.dumps(
        {
            "auths": {
                "https://index.docker.io/v1/": {"auth": "aHViOmh1Yg=="},
                f"http://{registry.host}": {"auth": auth},
            }
        }
    ).encode()
    ref = ImageRef(registry.host, "private/app")
    creds = credentials_from_dockerconfigjson(secret, ref.registry)
    assert creds == Credentials(USER, PASSWORD)
    with scan(registry, creds) as c:
        assert sorted(c.list_tags()) == TAGS
