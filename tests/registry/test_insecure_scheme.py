"""``insecure: true`` on a registry that serves https: a failed first https attempt does not
make the client settle on plain http.

Against the real Distribution registry over TLS, behind a TCP forwarder that closes the first
connection as soon as it is accepted (``tests.fixtures.loopback.TCPForwarder``'s
``close_first``), as a registry restarting does. The client then tries plain http, which the
registry's Go server answers on its TLS port with ``400`` "Client sent an HTTP request to an
HTTPS server."; that answer means https: the https attempt is retried, and "http" is never
kept for the host (``_SCHEMES``), where it would fail every later scan. The same behind
nginx's TLS (``tests.fixtures.nginx``), which answers with a page of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from conveyor.services.demo.oci import push_tags, ssl_context
from conveyor.shared.adapters.oci import client as client_module
from conveyor.shared.adapters.oci.auth import Credentials
from conveyor.shared.adapters.oci.client import RegistryClient, RegistryOptions
from conveyor.shared.adapters.oci.reference import ImageRef
from tests.fixtures.loopback import TCPForwarder
from tests.fixtures.nginx import TLSProxy
from tests.fixtures.registries import Registry

USER, PASSWORD = "scheme", "scheme-Pa55word"
REPOSITORY = "scheme/app"
TAGS = ["1.0.0", "1.1.0"]
INSECURE = RegistryOptions(insecure=True, credentials=Credentials(USER, PASSWORD), timeout=10.0)
FALLBACK = "insecure: trying plain http"


@pytest.fixture(scope="module")
def registry() -> Iterator[tuple[Registry, str]]:
    with Registry(tls=True, htpasswd=(USER, PASSWORD)) as registry:
        assert registry.ca_pem is not None
        digest = push_tags(
            registry.url,
            REPOSITORY,
            TAGS,
            auth=(USER, PASSWORD),
            verify=ssl_context(registry.ca_pem),
        )
        yield registry, digest


@pytest.fixture
def flaky(registry: tuple[Registry, str]) -> Iterator[TCPForwarder]:
    """The registry behind a new port whose first connection is closed at once; no scheme is
    known for that port, as in a new process."""
    with TCPForwarder(registry[0].host, close_first=1) as forwarder:
        client_module._SCHEMES.pop(forwarder.host, None)
        try:
            yield forwarder
        finally:
            client_module._SCHEMES.pop(forwarder.host, None)


@pytest.fixture(autouse=True)
def fallback_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=client_module.__name__)


def scan(forwarder: TCPForwarder) -> RegistryClient:
    """A scan as the scanner runs one: a new client, its tags, the client closed."""
    with RegistryClient(ImageRef(forwarder.host, REPOSITORY), INSECURE) as client:
        assert sorted(client.list_tags()) == TAGS
    return client


def test_a_failed_first_https_attempt_stays_on_https(
    flaky: TCPForwarder, caplog: pytest.LogCaptureFixture
) -> None:
    first = scan(flaky)
    assert flaky.closed == 1
    assert FALLBACK in caplog.text  # plain http was tried, and answered by the TLS port
    # https closed, http refused by the TLS port (400), https again: 401 Basic, then 200
    assert first.requests_made == 4
    assert client_module._SCHEMES.get(flaky.host) == "https"

    again = scan(flaky)  # the next scan of the process: https at once, on the kept connection
    assert again.requests_made == 2
    assert client_module._SCHEMES.get(flaky.host) == "https"
    assert flaky.closed == 1 and flaky.accepted == 2  # the plain-http one, then one for https


def test_a_first_head_request_stays_on_https(
    registry: tuple[Registry, str], flaky: TCPForwarder, caplog: pytest.LogCaptureFixture
) -> None:
    """A HEAD (a digest, e.g. of a pushed tag) as a client's first request: the refusal's body
    is read from a GET of the same URL, since a HEAD's answer carries none."""
    _, digest = registry
    with RegistryClient(ImageRef(flaky.host, REPOSITORY), INSECURE) as client:
        assert client.head_digest("1.0.0") == digest
    assert flaky.closed == 1
    assert FALLBACK in caplog.text
    # https closed, http HEAD 400, its GET 400 with Go's text, https again: 401, then 200
    assert client.requests_made == 5
    assert client_module._SCHEMES.get(flaky.host) == "https"
    assert scan(flaky).requests_made == 2


@pytest.fixture(scope="module")
def fronted() -> Iterator[str]:
    """A plain-HTTP registry behind nginx's TLS, as registries are often served: the host of
    nginx."""
    with Registry() as registry, TLSProxy(registry.host) as nginx:
        push_tags(registry.url, REPOSITORY, TAGS)
        yield nginx.host


def test_nginx_s_refusal_of_plain_http_on_its_tls_port_stays_on_https(
    fronted: str, caplog: pytest.LogCaptureFixture
) -> None:
    """nginx answers plain http on its TLS port with 400 and its own page for it (not Go's
    text): that too means https, for a scan and for a HEAD as a client's first request."""
    for first_request in ("scan", "head"):
        with TCPForwarder(fronted, close_first=1) as forwarder:
            client_module._SCHEMES.pop(forwarder.host, None)
            if first_request == "scan":
                # https closed, http refused by nginx (400), https again: 200
                assert scan(forwarder).requests_made == 3
            else:
                with RegistryClient(ImageRef(forwarder.host, REPOSITORY), INSECURE) as client:
                    assert client.head_digest("1.0.0").startswith("sha256:")
                assert client.requests_made == 4  # the HEAD's 400 asked again with GET
            assert forwarder.closed == 1
            assert client_module._SCHEMES.get(forwarder.host) == "https"
            assert scan(forwarder).requests_made == 1  # the next scan: https at once
            client_module._SCHEMES.pop(forwarder.host, None)
    assert caplog.text.count(FALLBACK) == 2  # plain http was tried, and refused, each time
