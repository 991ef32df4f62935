"""TLS against the real registry, serving a certificate from a CA the test generates."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conveyor.services.demo.oci import push_tags, ssl_context
from conveyor.shared.adapters.oci.auth import Credentials
from conveyor.shared.adapters.oci.client import RegistryClient, RegistryOptions
from conveyor.shared.adapters.oci.reference import ImageRef
from conveyor.shared.errors import InvalidSpec, PermanentError
from tests.fixtures.registries import Registry
from tests.fixtures.tls import TestCA

USER, PASSWORD = "bob", "tls-Pa55word"
CREDS = Credentials(USER, PASSWORD)
TAGS = ["a", "b"]


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    with Registry(tls=True, htpasswd=(USER, PASSWORD)) as registry:
        assert registry.ca_pem is not None
        push_tags(
            registry.url,
            "secure/app",
            TAGS,
            auth=(USER, PASSWORD),
            verify=ssl_context(registry.ca_pem),
        )
        yield registry


def scan(registry: Registry, **options: object) -> RegistryClient:
    opts = RegistryOptions(credentials=CREDS, timeout=10.0, **options)  # type: ignore[arg-type]
    return RegistryClient(ImageRef(registry.host, "secure/app"), opts)


def test_ca_from_cert_secret_ref_verifies_the_server(registry: Registry) -> None:
    with scan(registry, ca_pem=registry.ca_pem) as c:
        assert sorted(c.list_tags()) == TAGS
        assert c.requests_made == 2  # 401 Basic challenge, then 200


def test_without_the_ca_verification_fails_clearly(registry: Registry) -> None:
    with scan(registry) as c, pytest.raises(PermanentError) as info:
        c.list_tags()
    error = info.value
    assert error.reason == "CertificateVerificationFailed"
    assert registry.host in str(error) and "secure/app" in str(error)
    assert "certSecretRef" in str(error) and "spec.insecure" in str(error)
    assert c.requests_made == 1  # not retried
    assert PASSWORD not in str(error)


def test_a_ca_that_does_not_match_fails(registry: Registry) -> None:
    other_ca = TestCA("another CA").cert_pem
    with scan(registry, ca_pem=other_ca) as c, pytest.raises(PermanentError) as info:
        c.list_tags()
    assert info.value.reason == "CertificateVerificationFailed"


def test_insecure_skips_verification_and_stays_on_https(registry: Registry) -> None:
    with scan(registry, insecure=True) as c:
        assert sorted(c.list_tags()) == TAGS
        assert c.requests_made == 2  # no http fallback: https answered


def test_client_certificate_is_loaded(registry: Registry) -> None:
    assert registry.ca is not None
    cert, key = registry.ca.issue(common_name="scanner", dns_names=(), ips=(), client=True)
    with scan(registry, ca_pem=registry.ca_pem, client_cert_pem=cert, client_key_pem=key) as c:
        assert sorted(c.list_tags()) == TAGS


@pytest.mark.parametrize(
    ("options", "words"),
    [
        pytest.param({"ca_pem": b"not a certificate"}, "ca.crt", id="bad-ca"),
        pytest.param({"ca_pem": b"\xff\xfe"}, "ca.crt", id="binary-ca"),
        pytest.param({"client_cert_pem": b"x"}, "together", id="cert-without-key"),
        pytest.param({"client_key_pem": b"x"}, "together", id="key-without-cert"),
        pytest.param({"client_cert_pem": b"x", "client_key_pem": b"y"}, "tls.key", id="bad-pair"),
        pytest.param({"page_size": 0}, "page size", id="page-size"),
        pytest.param({"timeout": 0.0}, "timeout", id="timeout"),
    ],
)
def test_bad_options_are_invalid_spec(options: dict[str, object], words: str) -> None:
    with pytest.raises(InvalidSpec, match=words):
        RegistryClient(ImageRef("ghcr.io", "x/y"), RegistryOptions(**options))  # type: ignore[arg-type]


def test_mismatched_client_key_is_invalid_spec() -> None:
    ca = TestCA()
    cert, _ = ca.issue(client=True)
    _, other_key = ca.issue(client=True)
    options = RegistryOptions(client_cert_pem=cert, client_key_pem=other_key)
    with pytest.raises(InvalidSpec, match=r"tls\.crt/tls\.key"):
        RegistryClient(ImageRef("ghcr.io", "x/y"), options)


def test_a_registry_that_requires_client_certificates() -> None:
    """certSecretRef's tls.crt/tls.key are presented; without them the handshake fails."""
    with Registry(client_certs=True) as reg:
        assert reg.ca_pem and reg.client_cert_pem and reg.client_key_pem
        context = ssl_context(reg.ca_pem)
        context.load_cert_chain(reg.dir / "client.crt", reg.dir / "client.key")
        push_tags(reg.url, "mtls/app", TAGS, verify=context)
        ref = ImageRef(reg.host, "mtls/app")
        with_cert = RegistryOptions(
            ca_pem=reg.ca_pem,
            client_cert_pem=reg.client_cert_pem,
            client_key_pem=reg.client_key_pem,
            timeout=10.0,
        )
        with RegistryClient(ref, with_cert) as client:
            assert sorted(client.list_tags()) == TAGS
        with (
            pytest.raises(PermanentError) as err,
            RegistryClient(ref, RegistryOptions(ca_pem=reg.ca_pem, timeout=10.0)) as client,
        ):
            client.list_tags()
        assert reg.host in str(err.value)
        assert "BEGIN" not in str(err.value)  # no key material in the message
