"""cosign signatures verified offline (the pure core, ``policy_evaluator/cosign.py``): the
signatures are made here with the ``cryptography`` package, in cosign's formats (its
simple-signing payload, its layer annotations, a Rekor bundle of a test log key), and the
certificates by the test CA, as Fulcio issues them. The same checks against signatures made by
cosign itself and stored in the real registry: ``test_signatures.py``."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from conveyor.services.policy_evaluator.cosign import (
    BUNDLE,
    CERTIFICATE,
    CHAIN,
    COSIGN_TYPE,
    SIGNATURE,
    Refused,
    Trust,
    check,
    trust_from,
)
from conveyor.shared.errors import InvalidSpec
from tests.fixtures.tls import TestCA

DIGEST = "sha256:" + "ab" * 32
OTHER_DIGEST = "sha256:" + "cd" * 32
ISSUER = "https://token.actions.example.com"
IDENTITY = "https://git.example.com/org/app/.github/workflows/release.yml@refs/heads/main"
NOW = datetime.datetime.now(datetime.UTC)


def payload(digest: str = DIGEST, kind: str = COSIGN_TYPE) -> bytes:
    return json.dumps(
        {
            "critical": {
                "identity": {"docker-reference": "127.0.0.1:5000/app"},
                "image": {"docker-manifest-digest": digest},
                "type": kind,
            },
            "optional": None,
        }
    ).encode()


def pem(key: Any) -> bytes:
    return bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def sign(key: Any, data: bytes, algorithm: hashes.HashAlgorithm | None = None) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(algorithm or hashes.SHA256()))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return bytes(key.sign(data))


def keyed(*keys: tuple[str, Any]) -> Trust:
    return trust_from({name: pem(key) for name, key in keys}, None, None, "Secret ns/keys")


# ---------------------------------------------------------------------------------- keys


@pytest.mark.parametrize(
    ("key", "algorithm"),
    [
        (ec.generate_private_key(ec.SECP256R1()), None),
        (ec.generate_private_key(ec.SECP384R1()), hashes.SHA384()),  # as cosign sign makes it
        (ec.generate_private_key(ec.SECP384R1()), None),  # as cosign verify --key checks it
        (ec.generate_private_key(ec.SECP521R1()), hashes.SHA512()),
        (rsa.generate_private_key(public_exponent=65537, key_size=2048), None),
        (ed25519.Ed25519PrivateKey.generate(), None),
    ],
    ids=["p256", "p384-sha384", "p384-sha256", "p521-sha512", "rsa2048", "ed25519"],
)
def test_a_signature_by_a_trusted_key_verifies(key: Any, algorithm: Any) -> None:
    trust = keyed(("a.pub", ec.generate_private_key(ec.SECP256R1())), ("cosign.pub", key))
    body = payload()
    notes = {SIGNATURE: b64(sign(key, body, algorithm))}
    assert check(body, notes, DIGEST, trust, NOW) == "cosign.pub"


def test_a_signature_by_another_key_or_over_other_bytes_is_refused() -> None:
    key, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    trust = keyed(("cosign.pub", key))
    body = payload()
    with pytest.raises(Refused, match=r"does not verify with cosign\.pub"):
        check(body, {SIGNATURE: b64(sign(other, body))}, DIGEST, trust, NOW)
    with pytest.raises(Refused, match="does not verify"):
        check(body + b" ", {SIGNATURE: b64(sign(key, body))}, DIGEST, trust, NOW)


def test_a_valid_signature_of_another_image_is_refused() -> None:
    """A payload signed for one image, copied beside another (the tampered case)."""
    key = ec.generate_private_key(ec.SECP256R1())
    body = payload(OTHER_DIGEST)
    with pytest.raises(Refused, match=r"signed by cosign.pub for another image \(sha256:cdcd"):
        check(body, {SIGNATURE: b64(sign(key, body))}, DIGEST, keyed(("cosign.pub", key)), NOW)


@pytest.mark.parametrize(
    ("body", "notes", "why"),
    [
        (payload(), {}, "carries no signature"),
        (payload(), {SIGNATURE: "not base64!"}, "not base64"),
        (payload(), {SIGNATURE: ""}, "carries no signature"),
        (payload(), {SIGNATURE: "A" * 70_000}, "too large"),
        (b"{" * 50, None, "not JSON"),
        (b"[" * 40_000 + b"]" * 40_000, None, "larger than"),
        (b"[" * 30_000 + b"]" * 30_000, None, "not JSON"),
        (b"\xff\xfe", None, "not JSON"),
        (payload(kind="something else"), None, "not a cosign container image signature"),
        (json.dumps({"critical": {"type": COSIGN_TYPE}}).encode(), None, "names no image"),
        (json.dumps({"critical": {"type": COSIGN_TYPE, "image": []}}).encode(), None, "no image"),
        (json.dumps([1, 2]).encode(), None, "not a cosign"),
    ],
    ids=[
        "no-signature", "bad-base64", "empty", "huge-annotation", "not-json", "huge-payload",
        "deep-json", "bad-utf8", "wrong-type", "no-digest", "digest-not-object", "a-list",
    ],
)
def test_hostile_layers_are_refused_with_a_reason(
    body: bytes, notes: dict[str, str] | None, why: str
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    notes = notes if notes is not None else {SIGNATURE: b64(sign(key, body))}
    with pytest.raises(Refused, match=why):
        check(body, notes, DIGEST, keyed(("cosign.pub", key)), NOW)


def rsa_pem(bits: int) -> bytes:
    return pem(rsa.generate_private_key(public_exponent=65537, key_size=bits))


@pytest.mark.parametrize(
    ("data", "identity", "why"),
    [
        ({}, None, "holds no public key"),
        ({"token": b"x"}, None, r"no public key \(\*.pub\) nor trusted root \(ca.crt\)"),
        ({"cosign.pub": b"-----BEGIN PUBLIC KEY-----\nxx\n"}, None, "cosign.pub is not a PEM"),
        ({"cosign.pub": rsa_pem(1024)}, None, "fewer than 2048 bits"),
        ({"cosign.pub": pem(ec.generate_private_key(ec.SECP256K1()))}, None, "secp256k1"),
        ({"cosign.pub": b"k" * 20_000}, None, "larger than"),
        (
            {"cosign.pub": pem(ec.generate_private_key(ec.SECP256R1()))},
            IDENTITY,
            "identity and issuer are for keyless",
        ),
        ({"ca.crt": TestCA().cert_pem}, None, "needs both an identity and an issuer"),
        ({"ca.crt": b"not a certificate"}, IDENTITY, "ca.crt is not PEM certificates"),
        ({"ca.crt": TestCA().cert_pem, "rekor.pub": rsa_pem(2048)}, IDENTITY, "must be an ECDSA"),
    ],
    ids=[
        "empty", "no-key", "bad-pem", "small-rsa", "k1-curve", "huge-key", "identity-with-keys",
        "keyless-no-identity", "bad-root", "rsa-rekor",
    ],
)
def test_unusable_secrets_are_refused_by_name(
    data: dict[str, bytes], identity: str | None, why: str
) -> None:
    with pytest.raises(InvalidSpec, match=why) as caught:
        trust_from(data, identity, ISSUER if identity else None, "Secret ns/keys")
    assert caught.value.reason == "InvalidPolicy"
    assert "Secret ns/keys" in str(caught.value) or "identity" in str(caught.value)


def test_a_bad_identity_regexp_is_refused() -> None:
    with pytest.raises(InvalidSpec, match=r"identity: invalid regular expression '\(unclosed'"):
        trust_from({"ca.crt": TestCA().cert_pem}, "(unclosed", ISSUER, "Secret ns/keys")


def test_the_fingerprint_follows_the_material() -> None:
    a, b = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    assert keyed(("cosign.pub", a)).fingerprint == keyed(("cosign.pub", a)).fingerprint
    assert keyed(("cosign.pub", a)).fingerprint != keyed(("cosign.pub", b)).fingerprint
    root = TestCA().cert_pem
    one = trust_from({"ca.crt": root}, "^a$", ISSUER, "s").fingerprint
    assert one != trust_from({"ca.crt": root}, "^b$", ISSUER, "s").fingerprint
    assert one.startswith("keyless:")


# ------------------------------------------------------------------------------ keyless


class Keyless:
    """A test root, a leaf issued as Fulcio issues them, and signatures by its key."""

    def __init__(
        self, identity: str = IDENTITY, issuer: str = ISSUER, **issue: Any
    ) -> None:
        self.ca = TestCA("conveyor test Fulcio", days_valid_before=7)
        # valid from before NOW, the time the checks are made at (taken when the module was
        # collected, maybe long before this test runs)
        issue.setdefault("not_before", NOW - datetime.timedelta(minutes=5))
        self.cert_pem, key_pem = self.ca.issue_code_signing(identity, issuer, **issue)
        key = serialization.load_pem_private_key(key_pem, None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        self.key = key

    def trust(
        self, identity: str = "^" + IDENTITY.replace(".", r"\.") + "$",
        issuer: str = "^" + ISSUER.replace(".", r"\.") + "$",
        rekor: bytes | None = None,
    ) -> Trust:
        data = {"ca.crt": self.ca.cert_pem}
        if rekor is not None:
            data["rekor.pub"] = rekor
        return trust_from(data, identity, issuer, "Secret n/r")

    def notes(self, body: bytes, **extra: str) -> dict[str, str]:
        return {
            SIGNATURE: b64(sign(self.key, body)),
            CERTIFICATE: self.cert_pem.decode(),
            CHAIN: self.ca.cert_pem.decode(),
            **extra,
        }


def test_a_keyless_signature_verifies_by_identity_and_issuer() -> None:
    signer = Keyless()
    body = payload()
    who = check(body, signer.notes(body), DIGEST, signer.trust(), NOW)
    assert who == f"{IDENTITY} ({ISSUER})"
    # the chain annotation is for the path only: without it the root still anchors the leaf
    notes = signer.notes(body)
    del notes[CHAIN]
    assert check(body, notes, DIGEST, signer.trust(), NOW) == who
    # unanchored, as Go's MatchString: a prefix matches
    assert check(body, notes, DIGEST, signer.trust(identity="^https://git.example.com/org/"), NOW)


def test_an_email_identity_and_the_v1_issuer_extension() -> None:
    signer = Keyless("dev@example.com", "https://accounts.example.com")
    body = payload()
    trust = signer.trust("^dev@example\\.com$", "^https://accounts\\.example\\.com$")
    assert check(body, signer.notes(body), DIGEST, trust, NOW).startswith("dev@example.com")


@pytest.mark.parametrize(
    ("trust", "why"),
    [
        (("^https://git.example.com/org/other/", "."), "its identity https://git.exa"),
        ((".", "^https://accounts\\.google\\.com$"), "its issuer https://token.actions"),
    ],
    ids=["identity", "issuer"],
)
def test_a_keyless_signature_of_another_identity_is_refused(
    trust: tuple[str, str], why: str
) -> None:
    signer = Keyless()
    body = payload()
    with pytest.raises(Refused, match=why):
        check(body, signer.notes(body), DIGEST, signer.trust(trust[0], trust[1]), NOW)


def test_a_keyless_signature_under_another_root_is_refused() -> None:
    signer, other = Keyless(), Keyless()
    body = payload()
    trust = other.trust()
    with pytest.raises(Refused, match="does not chain to the trusted root"):
        check(body, signer.notes(body), DIGEST, trust, NOW)
    # the signer's own root in the chain annotation does not make it trusted
    notes = signer.notes(body)
    with pytest.raises(Refused, match="does not chain"):
        check(body, notes, DIGEST, trust, NOW)


def test_a_certificate_not_for_code_signing_is_refused() -> None:
    signer = Keyless(code_signing=False)
    body = payload()
    with pytest.raises(Refused, match=r"does not chain to the trusted root \(not for code"):
        check(body, signer.notes(body), DIGEST, signer.trust(), NOW)


@pytest.mark.parametrize(
    ("notes", "why"),
    [
        ({CERTIFICATE: ""}, "no certificate on the signature"),
        ({CERTIFICATE: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
         "not one"),
        ({CHAIN: "garbage"}, "chain is not PEM"),
        ({CHAIN: TestCA().cert_pem.decode() * 11}, "chain is not PEM"),
        ({SIGNATURE: b64(b"\x30\x06\x02\x01\x01\x02\x01\x01")}, "does not verify with its cert"),
    ],
    ids=["no-cert", "bad-cert", "bad-chain", "long-chain", "bad-signature"],
)
def test_hostile_keyless_layers_are_refused(notes: dict[str, str], why: str) -> None:
    signer = Keyless()
    body = payload()
    with pytest.raises(Refused, match=why):
        check(body, {**signer.notes(body), **notes}, DIGEST, signer.trust(), NOW)


def test_without_a_bundle_the_certificate_must_be_valid_now() -> None:
    past = NOW - datetime.timedelta(days=3)
    signer = Keyless(not_before=past, valid_for=datetime.timedelta(minutes=10))
    body = payload()
    with pytest.raises(Refused, match="not valid now and no Rekor bundle"):
        check(body, signer.notes(body), DIGEST, signer.trust(), NOW)


class Log:
    """A transparency log's key and the bundles it would sign (Rekor's formats)."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.log_id = hashlib.sha256(der).hexdigest()

    def bundle(
        self, signer: Keyless, body: bytes, when: datetime.datetime, *,
        signature: bytes | None = None, set_key: ec.EllipticCurvePrivateKey | None = None,
        kind: str = "hashedrekord", tamper: int = 0,
    ) -> tuple[str, str]:
        """(the signature's base64, the bundle's JSON)."""
        sig = signature or sign(signer.key, body)
        entry_body = {
            "apiVersion": "0.0.1",
            "kind": kind,
            "spec": {
                "data": {
                    "hash": {"algorithm": "sha256", "value": hashlib.sha256(body).hexdigest()}
                },
                "signature": {"content": b64(sig), "publicKey": {"content": b64(signer.cert_pem)}},
            },
        }
        logged = int(when.timestamp())
        entry: dict[str, object] = {
            "body": b64(json.dumps(entry_body).encode()),
            "integratedTime": logged,
            "logID": self.log_id,
            "logIndex": 42,
        }
        canonical = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
        signed = (set_key or self.key).sign(canonical, ec.ECDSA(hashes.SHA256()))
        entry["integratedTime"] = logged + tamper
        bundle = {"SignedEntryTimestamp": b64(signed), "Payload": entry}
        return b64(sig), json.dumps(bundle)

    @property
    def public_pem(self) -> bytes:
        return pem(self.key)


def test_a_bundle_dates_the_signature_within_the_certificate() -> None:
    """A Fulcio-like certificate of ten minutes, long expired: its bundle's time says it was
    signed while it was valid."""
    issued = NOW - datetime.timedelta(days=3)
    signer = Keyless(not_before=issued, valid_for=datetime.timedelta(minutes=10))
    log, body = Log(), payload()
    sig, bundle = log.bundle(signer, body, issued + datetime.timedelta(minutes=2))
    notes = signer.notes(body, **{SIGNATURE: sig, BUNDLE: bundle})
    assert check(body, notes, DIGEST, signer.trust(), NOW) == f"{IDENTITY} ({ISSUER})"
    # with the log's key, its signed entry timestamp verifies too
    trusted = signer.trust(rekor=log.public_pem)
    assert check(body, notes, DIGEST, trusted, NOW)
    # logged after the certificate expired
    sig, late = log.bundle(signer, body, issued + datetime.timedelta(minutes=20))
    with pytest.raises(Refused, match="outside its certificate's validity"):
        check(body, {**notes, SIGNATURE: sig, BUNDLE: late}, DIGEST, signer.trust(), NOW)


def test_the_log_key_makes_the_bundle_required_and_checked() -> None:
    issued = NOW - datetime.timedelta(minutes=5)
    signer = Keyless(not_before=issued)
    log, body = Log(), payload()
    trusted = signer.trust(rekor=log.public_pem)
    with pytest.raises(Refused, match=r"no Rekor bundle \(rekor.pub requires one\)"):
        check(body, signer.notes(body), DIGEST, trusted, NOW)
    when = issued + datetime.timedelta(minutes=1)
    sig, forged = log.bundle(signer, body, when, set_key=ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(Refused, match="signed entry timestamp does not verify"):
        check(body, signer.notes(body, **{SIGNATURE: sig, BUNDLE: forged}), DIGEST, trusted, NOW)
    sig, moved = log.bundle(signer, body, when, tamper=60)  # its time changed after signing
    with pytest.raises(Refused, match="signed entry timestamp does not verify"):
        check(body, signer.notes(body, **{SIGNATURE: sig, BUNDLE: moved}), DIGEST, trusted, NOW)
    sig, other_log = Log().bundle(signer, body, when)
    with pytest.raises(Refused, match="from another log"):
        check(body, signer.notes(body, **{SIGNATURE: sig, BUNDLE: other_log}), DIGEST, trusted, NOW)


@pytest.mark.parametrize(
    ("bundle", "why"),
    [
        ("{not json", "bundle is not JSON"),
        ("[]", "has no entry"),
        (json.dumps({"Payload": {"body": 1}}), "malformed"),
        (json.dumps({"Payload": {"body": "!!", "integratedTime": 1, "logIndex": 1, "logID": "a"}}),
         "Rekor entry is not base64"),
        (json.dumps({"Payload": {"body": b64(b'{"kind":"intoto"}'), "integratedTime": 1,
                                 "logIndex": 1, "logID": "a"}}), "not a rekord"),
        (json.dumps({"Payload": {"body": "e30=", "integratedTime": True, "logIndex": 1,
                                 "logID": "a"}}), "malformed"),
    ],
    ids=["not-json", "not-object", "bad-body", "body-not-b64", "intoto", "bool-time"],
)
def test_hostile_bundles_are_refused(bundle: str, why: str) -> None:
    signer = Keyless()
    body = payload()
    with pytest.raises(Refused, match=why):
        check(body, signer.notes(body, **{BUNDLE: bundle}), DIGEST, signer.trust(), NOW)


def test_a_bundle_of_another_signature_is_refused() -> None:
    signer = Keyless()
    log, body = Log(), payload()
    _, bundle = log.bundle(signer, body, NOW, signature=sign(signer.key, payload(OTHER_DIGEST)))
    with pytest.raises(Refused, match="Rekor entry is of another signature"):
        check(body, signer.notes(body, **{BUNDLE: bundle}), DIGEST, signer.trust(), NOW)
