"""The registry clients of a process share one connection pool per TLS setting.

Against the real Distribution registry over TLS, seen through a TCP forwarder that counts the
connections the clients open (``tests.fixtures.loopback.TCPForwarder``: it passes the bytes on
untouched, TLS included).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator

import pytest

from conveyor.services.demo.oci import push_tags, ssl_context
from conveyor.shared.adapters.oci import client as client_module
from conveyor.shared.adapters.oci.auth import Credentials
from conveyor.shared.adapters.oci.client import RegistryClient, RegistryOptions
from conveyor.shared.adapters.oci.reference import ImageRef
from conveyor.shared.errors import PermanentError
from tests.fixtures.loopback import LoopbackServer, Reply, Seen, TCPForwarder
from tests.fixtures.registries import Registry

USER, PASSWORD = "pool", "pool-Pa55word"
REPOSITORY = "reuse/app"
TAGS = ["1.0.0", "1.1.0", "2.0.0"]


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    with Registry(tls=True, htpasswd=(USER, PASSWORD)) as registry:
        assert registry.ca_pem is not None
        push_tags(
            registry.url,
            REPOSITORY,
            TAGS,
            auth=(USER, PASSWORD),
            verify=ssl_context(registry.ca_pem),
        )
        yield registry


@pytest.fixture
def forwarder(registry: Registry) -> Iterator[TCPForwarder]:
    """A new port per test: no connection of an earlier test is in the pool for it."""
    with TCPForwarder(registry.host) as forwarder:
        yield forwarder


def verified(registry: Registry) -> RegistryOptions:
    return RegistryOptions(
        ca_pem=registry.ca_pem, credentials=Credentials(USER, PASSWORD), timeout=10.0
    )


def scan(forwarder: TCPForwarder, options: RegistryOptions) -> RegistryClient:
    """A scan as the scanner runs one: a new client, its tags, the client closed."""
    with RegistryClient(ImageRef(forwarder.host, REPOSITORY), options) as client:
        assert sorted(client.list_tags()) == TAGS
    return client


def test_consecutive_clients_reuse_one_connection(
    registry: Registry, forwarder: TCPForwarder
) -> None:
    first = scan(forwarder, verified(registry))
    second = scan(forwarder, verified(registry))
    assert forwarder.accepted == 1  # one TCP connection and TLS session for both scans
    assert first.requests_made == second.requests_made == 2  # 401 Basic challenge, then 200


def test_clients_with_other_tls_settings_do_not_share(
    registry: Registry, forwarder: TCPForwarder
) -> None:
    assert registry.ca is not None
    cert, key = registry.ca.issue(common_name="scanner", dns_names=(), ips=(), client=True)
    creds = Credentials(USER, PASSWORD)
    settings = [
        verified(registry),
        RegistryOptions(insecure=True, credentials=creds, timeout=10.0),
        RegistryOptions(
            ca_pem=registry.ca_pem,
            client_cert_pem=cert,
            client_key_pem=key,
            credentials=creds,
            timeout=10.0,
        ),
    ]
    for opened, options in enumerate(settings, start=1):
        scan(forwarder, options)
        assert forwarder.accepted == opened  # a connection of its own
    for options in settings:  # and each setting reuses its own
        scan(forwarder, options)
    assert forwarder.accepted == len(settings)


def test_a_connection_with_a_client_certificate_is_not_lent_to_a_client_without_one() -> None:
    """A connection authenticated by certSecretRef's certificate stays with that setting: a
    client without the certificate opens its own, which the registry refuses."""
    with Registry(client_certs=True) as reg, TCPForwarder(reg.host) as forwarder:
        assert reg.ca_pem and reg.client_cert_pem and reg.client_key_pem
        context = ssl_context(reg.ca_pem)
        context.load_cert_chain(reg.dir / "client.crt", reg.dir / "client.key")
        push_tags(reg.url, REPOSITORY, TAGS, verify=context)
        with_cert = RegistryOptions(
            ca_pem=reg.ca_pem,
            client_cert_pem=reg.client_cert_pem,
            client_key_pem=reg.client_key_pem,
            timeout=10.0,
        )
        scan(forwarder, with_cert)
        assert forwarder.accepted == 1
        ref = ImageRef(forwarder.host, REPOSITORY)
        with (
            pytest.raises(PermanentError),
            RegistryClient(ref, RegistryOptions(ca_pem=reg.ca_pem, timeout=10.0)) as client,
        ):
            client.list_tags()
        assert forwarder.accepted == 2
        scan(forwarder, with_cert)  # the authenticated connection is still there for its own
        assert forwarder.accepted == 2


def test_a_connection_the_registry_closed_is_not_used_again(
    registry: Registry, forwarder: TCPForwarder
) -> None:
    scan(forwarder, verified(registry))
    forwarder.drop()  # as a registry closes an idle keep-alive connection, or restarts
    scan(forwarder, verified(registry))  # the scan does not fail
    assert forwarder.accepted == 2


def test_scans_on_several_threads_share_the_pool(
    registry: Registry, forwarder: TCPForwarder
) -> None:
    threads, scans = 4, 5
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(scans):
                scan(forwarder, verified(registry))
        except BaseException as exc:  # reported by the test's thread
            failures.append(exc)

    started = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join(timeout=60)
    assert failures == []
    assert 1 <= forwarder.accepted <= threads  # at most one connection in use per thread


def test_a_forked_child_opens_its_own_connection(
    registry: Registry, forwarder: TCPForwarder
) -> None:
    """A kept-alive connection of the parent is never written to by a forked child: two
    processes on one TLS session would corrupt it for both."""
    scan(forwarder, verified(registry))
    pid = os.fork()
    if pid == 0:  # the child: scan, and report by the exit status alone
        code = 1
        try:
            scan(forwarder, verified(registry))
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert forwarder.accepted == 2  # the child's own
    scan(forwarder, verified(registry))  # the parent's connection is intact, and reused
    assert forwarder.accepted == 2


def test_proxies_from_the_environment_still_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    """``http_proxy`` routes the request through the proxy, as httpx does for a client it
    builds the transport of. The proxy is a LoopbackServer double: it answers in the
    registry's place the request it was sent in absolute form."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)

    def handler(seen: Seen) -> Reply:
        body = {"name": "team/app", "tags": TAGS}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    with LoopbackServer(handler) as proxy:
        monkeypatch.setenv("http_proxy", proxy.url)
        host = "registry.invalid:5000"  # resolved by nobody but the proxy
        monkeypatch.setitem(client_module._SCHEMES, host, "http")  # known to speak http
        options = RegistryOptions(insecure=True, timeout=10.0)
        with RegistryClient(ImageRef(host, "team/app"), options) as client:
            assert sorted(client.list_tags()) == TAGS
        assert proxy.paths() == ["/v2/team/app/tags/list"]
        assert proxy.requests[0].headers["host"] == host
