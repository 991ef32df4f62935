"""cosign's signatures of an image, verified offline (pure: bytes in, who signed out).

What cosign stores for ``cosign sign`` (its "simple signing" format, cosign v2's default) is
one layer per signature: the payload (JSON naming the image's digest) as the blob, and in the
layer's annotations the signature over it (``dev.cosignproject.cosign/signature``, base64),
and for a signature made with a certificate the certificate, its chain and the Rekor bundle.
:func:`check` verifies one such layer for one image digest against a :class:`Trust`, the
material a user gives in a Secret, as ``cosign verify`` does offline:

- **Payload** (at most ``MAX_PAYLOAD`` bytes): a JSON object whose
  ``critical.type`` is ``cosign container image signature`` and whose
  ``critical.image.docker-manifest-digest`` is the image's digest (a signature of another
  image copied next to this one says so). ``critical.identity.docker-reference`` is not
  compared, as cosign does not (an image signed before it was copied elsewhere verifies).
- **Key** (the Secret holds ``*.pub`` keys, Flux's OCIRepository ``verify.secretRef``): the
  signature verifies over the payload with one of them: ECDSA (P-256, P-384, P-521) over
  SHA-256 as ``cosign verify --key`` and Flux check it, or over the curve's own hash as
  ``cosign sign`` makes it with a P-384 or P-521 key; RSA PKCS#1 v1.5 with SHA-256; Ed25519
  (pure; the Ed25519ph that ``cosign sign`` makes with an Ed25519 key is not verified: the
  ``cryptography`` package has no Ed25519ph). A certificate or bundle on the signature is not
  looked at (Flux verifies keyed signatures with the transparency log ignored).
- **Keyless** (the Secret holds the trusted root, ``ca.crt``): the certificate
  (``dev.sigstore.cosign/certificate``) chains, through the certificates of
  ``dev.sigstore.cosign/chain`` (untrusted, for the path only), to a certificate of
  ``ca.crt``, as of the certificate's own ``notBefore`` (cosign treats it as trusted forever
  and checks the signing time apart); it allows code signing (extended key usage); the
  signature verifies with its key; one of its subject alternative names (email, URI, DNS,
  IP, Fulcio's username) matches the identity regexp and its OIDC issuer (Fulcio's extension
  1.3.6.1.4.1.57264.1.8, else the older 1.3.6.1.4.1.57264.1.1) matches the issuer regexp:
  Go regexps, unanchored, as Flux's ``matchOIDCIdentity`` and cosign's
  ``--certificate-identity-regexp``.
- **Time, keyless**: with a Rekor bundle (``dev.sigstore.cosign/bundle``) its entry must be
  of this signature (the signature, the certificate and the payload's SHA-256 in its body) and
  its ``integratedTime`` within the certificate's validity. The bundle's signed entry
  timestamp (SET) is verified only when the Secret holds the log's key (``rekor.pub``); then a
  bundle is required, from that log. Without ``rekor.pub`` the integrated time is taken as the
  bundle says. Without a bundle the certificate must be valid now (cosign's rule when the log
  is ignored).

Not checked offline: the transparency log itself (inclusion proofs, a query to Rekor), the
certificate's embedded SCT (no CT log key), RFC 3161 timestamps, revocation, and the new
Sigstore bundle format (cosign v3's default, ``--new-bundle-format``).

Every value is hostile: sizes are bounded before parsing, base64 and PEM are parsed strictly,
and whatever is wrong with one signature refuses that signature only (:class:`Refused`, a
short reason without secrets).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from conveyor.shared.errors import InvalidSpec
from conveyor.shared.goregexp import GoRegexp, GoRegexpError

SIGNATURE = "dev.cosignproject.cosign/signature"
CERTIFICATE = "dev.sigstore.cosign/certificate"
CHAIN = "dev.sigstore.cosign/chain"
BUNDLE = "dev.sigstore.cosign/bundle"
SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"  # the layer's media type
COSIGN_TYPE = "cosign container image signature"

ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")  # the issuer's bytes, as they are
ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")  # a DER UTF8String
FULCIO_USERNAME = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.7")  # an otherName SAN

MAX_PAYLOAD = 64 * 1024  # a payload is a few hundred bytes; optional claims stay far below
MAX_ANNOTATION = 64 * 1024  # a signature, a certificate, a chain or a bundle
MAX_CHAIN = 10  # certificates in a chain annotation, or in ca.crt
MAX_KEY = 16 * 1024  # a *.pub of the Secret (RSA 8192 in PEM is under 2 KB)
MAX_KEYS = 32
MAX_REGEXP = 1024

KEY_SUFFIX = ".pub"  # Flux's: every key of the Secret ending in .pub is a trusted key
ROOTS = "ca.crt"
REKOR_KEY = "rekor.pub"
REASON = "InvalidPolicy"  # an unusable verification setting (Stalled until it changes)

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey


class Refused(Exception):
    """One signature does not verify; ``str()`` says why, in a few words."""


@dataclass(frozen=True)
class Trust:
    """What a signature must verify against: keys (by their names in the Secret), or a root
    with an identity and an issuer (Go regexps); ``fingerprint`` tells two settings apart
    (verdicts are cached under it)."""

    keys: tuple[tuple[str, PublicKey], ...] = ()
    roots: tuple[x509.Certificate, ...] = ()
    identity: GoRegexp | None = None
    issuer: GoRegexp | None = None
    rekor_keys: tuple[tuple[str, ec.EllipticCurvePublicKey], ...] = ()  # (log id, key)
    fingerprint: str = field(default="", compare=False)

    @property
    def keyless(self) -> bool:
        return not self.keys


def _invalid(message: str) -> InvalidSpec:
    return InvalidSpec(message, reason=REASON)


def _regexp(value: str | None, what: str) -> GoRegexp | None:
    if value is None:
        return None
    if len(value) > MAX_REGEXP:
        raise _invalid(f"{what}: longer than {MAX_REGEXP} characters")
    try:
        return GoRegexp(value)
    except GoRegexpError as exc:
        raise _invalid(f"{what}: invalid regular expression {value[:80]!r}: {exc}") from None


def _public_key(data: bytes, what: str) -> PublicKey:
    if len(data) > MAX_KEY:
        raise _invalid(f"{what} is larger than {MAX_KEY} bytes")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise _invalid(f"{what} is not a PEM public key") from None
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
        raise _invalid(f"{what}: RSA keys of fewer than 2048 bits are refused")
    if isinstance(key, ec.EllipticCurvePublicKey) and not isinstance(
        key.curve, ec.SECP256R1 | ec.SECP384R1 | ec.SECP521R1
    ):
        raise _invalid(f"{what}: curve {key.curve.name} is not one cosign signs with")
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise _invalid(f"{what}: a {type(key).__name__} is not a key cosign signs with")
    return key


def _log_id(key: ec.EllipticCurvePublicKey) -> str:
    """Rekor's log id: the SHA-256 of the key's DER SubjectPublicKeyInfo, in hex."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def trust_from(
    data: Mapping[str, bytes], identity: str | None, issuer: str | None, where: str
) -> Trust:
    """The :class:`Trust` a Secret's ``data`` gives (``where`` names the Secret in messages):
    its ``*.pub`` keys; else its ``ca.crt`` (and ``rekor.pub``) with the identity and issuer
    regexps, both required. Raises :class:`InvalidSpec` (reason ``InvalidPolicy``)."""
    names = sorted(k for k in data if k.endswith(KEY_SUFFIX) and k != REKOR_KEY)
    if len(names) > MAX_KEYS:
        raise _invalid(f"{where} holds more than {MAX_KEYS} public keys")
    digest = hashlib.sha256()
    for name in sorted(data):
        if name.endswith(KEY_SUFFIX) or name == ROOTS:
            digest.update(f"{name}\0{len(data[name])}\0".encode() + data[name])
    if names:
        if identity is not None or issuer is not None:
            raise _invalid(
                f"the identity and issuer are for keyless verification; {where} holds public "
                f"keys ({', '.join(names[:5])}), which verify without them"
            )
        keys = tuple((n, _public_key(data[n], f"{where}: {n}")) for n in names)
        return Trust(keys=keys, fingerprint="key:" + digest.hexdigest()[:24])
    if ROOTS not in data:
        raise _invalid(
            f"{where} holds no public key (*{KEY_SUFFIX}) nor trusted root ({ROOTS})"
        )
    if identity is None or issuer is None:
        raise _invalid(
            f"keyless verification against {where}: {ROOTS} needs both an identity and an "
            "issuer to match"
        )
    roots = _certificates(data[ROOTS])
    if roots is None or not roots:
        raise _invalid(f"{where}: {ROOTS} is not PEM certificates (at most {MAX_CHAIN})")
    rekor: tuple[tuple[str, ec.EllipticCurvePublicKey], ...] = ()
    if REKOR_KEY in data:
        key = _public_key(data[REKOR_KEY], f"{where}: {REKOR_KEY}")
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise _invalid(f"{where}: {REKOR_KEY} must be an ECDSA key (Rekor's)")
        rekor = ((_log_id(key), key),)
    digest.update(f"\0identity\0{identity}\0issuer\0{issuer}".encode())
    if REKOR_KEY in data:
        digest.update(b"\0rekor\0" + data[REKOR_KEY])
    return Trust(
        roots=tuple(roots),
        identity=_regexp(identity, "identity"),
        issuer=_regexp(issuer, "issuer"),
        rekor_keys=rekor,
        fingerprint="keyless:" + digest.hexdigest()[:24],
    )


def _certificates(pem: bytes) -> list[x509.Certificate] | None:
    """The PEM certificates of ``pem`` (None: not that, or more than ``MAX_CHAIN``)."""
    if len(pem) > MAX_ANNOTATION or pem.count(b"-----BEGIN") > MAX_CHAIN:
        return None
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError:
        return None


# ------------------------------------------------------------------------- one signature


def check(
    payload: bytes,
    annotations: Mapping[str, str],
    digest: str,
    trust: Trust,
    now: datetime.datetime,
) -> str:
    """Who signed ``payload`` for the image ``digest`` (a key's name, or the certificate's
    identity and issuer), if the layer's ``annotations`` verify against ``trust``; else
    :class:`Refused` says why."""
    signature = _signature(annotations)
    if trust.keyless:
        signer = _check_keyless(payload, signature, annotations, trust, now)
    else:
        signer = _check_keys(payload, signature, trust.keys)
    claimed = claimed_digest(payload)
    if claimed != digest:
        raise Refused(f"signed by {signer} for another image ({claimed[:19]}…)")
    return signer


def claimed_digest(payload: bytes) -> str:
    """The image digest a simple-signing payload names (:class:`Refused` if it is not one)."""
    if len(payload) > MAX_PAYLOAD:
        raise Refused(f"its payload is larger than {MAX_PAYLOAD} bytes")
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError):
        raise Refused("its payload is not JSON") from None
    critical = body.get("critical") if isinstance(body, dict) else None
    if not isinstance(critical, dict) or critical.get("type") != COSIGN_TYPE:
        raise Refused("its payload is not a cosign container image signature")
    image = critical.get("image")
    claimed = image.get("docker-manifest-digest") if isinstance(image, dict) else None
    if not isinstance(claimed, str) or not claimed:
        raise Refused("its payload names no image digest")
    return claimed


def _text(annotations: Mapping[str, str], name: str) -> str | None:
    value = annotations.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_ANNOTATION:
        raise Refused(f"its {name.rsplit('/', 1)[-1]} annotation is too large or not text")
    return value


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise Refused(f"its {what} is not base64") from None


def _signature(annotations: Mapping[str, str]) -> bytes:
    value = _text(annotations, SIGNATURE)
    if not value:
        raise Refused("the layer carries no signature")
    signature = _b64(value, "signature")
    if not signature:
        raise Refused("its signature is empty")
    return signature


def _verifies(key: PublicKey, signature: bytes, payload: bytes, *, curve_hash: bool) -> bool:
    """Whether ``signature`` is ``key``'s over ``payload`` (cosign's algorithms)."""
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, payload)
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, payload, padding.PKCS1v15(), hashes.SHA256())
        else:
            choices: list[hashes.HashAlgorithm] = [hashes.SHA256()]
            if curve_hash and isinstance(key.curve, ec.SECP384R1):
                choices.append(hashes.SHA384())
            if curve_hash and isinstance(key.curve, ec.SECP521R1):
                choices.append(hashes.SHA512())
            for algorithm in choices:
                try:
                    key.verify(signature, payload, ec.ECDSA(algorithm))
                    return True
                except InvalidSignature:
                    continue
            return False
    except InvalidSignature:
        return False
    return True


def _check_keys(
    payload: bytes, signature: bytes, keys: Sequence[tuple[str, PublicKey]]
) -> str:
    for name, key in keys:
        if _verifies(key, signature, payload, curve_hash=True):
            return name
    names = ", ".join(name for name, _ in keys[:3]) + (" …" if len(keys) > 3 else "")
    raise Refused(f"its signature does not verify with {names}")


# ------------------------------------------------------------------------------ keyless


def _code_signing(_policy: object, _cert: x509.Certificate, usage: object) -> None:
    if not isinstance(usage, x509.ExtendedKeyUsage) or (
        ExtendedKeyUsageOID.CODE_SIGNING not in usage
    ):
        raise ValueError("the certificate is not for code signing")


def _chains(leaf: x509.Certificate, intermediates: list[x509.Certificate], trust: Trust) -> None:
    verifier = (
        PolicyBuilder()
        .store(Store(list(trust.roots)))
        .time(leaf.not_valid_before_utc)  # cosign's: the signing time is checked apart
        .max_chain_depth(MAX_CHAIN)
        .extension_policies(
            ca_policy=ExtensionPolicy.webpki_defaults_ca(),
            ee_policy=ExtensionPolicy.permit_all().require_present(
                x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _code_signing
            ),
        )
        .build_client_verifier()
    )
    try:
        verifier.verify(leaf, intermediates)
    except VerificationError as exc:
        detail = "not for code signing" if "code signing" in str(exc) else "no path"
        raise Refused(f"its certificate does not chain to the trusted root ({detail})") from None


def _utf8_der(value: bytes) -> str | None:
    """A DER UTF8String's text (None: not one)."""
    if len(value) < 2 or value[0] != 0x0C:
        return None
    size, start = value[1], 2
    if size & 0x80:
        count = size & 0x7F
        if count == 0 or count > 2 or len(value) < 2 + count:
            return None
        size, start = int.from_bytes(value[2 : 2 + count], "big"), 2 + count
    if len(value) != start + size:
        return None
    try:
        return value[start:].decode()
    except UnicodeDecodeError:
        return None


def _extension(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> bytes | None:
    try:
        ext = cert.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None
    value = ext.value
    return value.value if isinstance(value, x509.UnrecognizedExtension) else None


def issuer_of(cert: x509.Certificate) -> str | None:
    """The OIDC issuer Fulcio wrote into ``cert``: the v2 extension, else the v1 one."""
    v2 = _extension(cert, ISSUER_V2)
    if v2 is not None:
        return _utf8_der(v2)
    v1 = _extension(cert, ISSUER_V1)
    if v1 is None:
        return None
    try:
        return v1.decode()
    except UnicodeDecodeError:
        return None


def identities_of(cert: x509.Certificate) -> list[str]:
    """The subject alternative names cosign matches an identity against."""
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    found: list[str] = []
    for name in sans:
        if isinstance(name, x509.RFC822Name | x509.DNSName | x509.UniformResourceIdentifier):
            found.append(name.value)
        elif isinstance(name, x509.IPAddress):
            found.append(str(name.value))
        elif isinstance(name, x509.OtherName) and name.type_id == FULCIO_USERNAME:
            text = _utf8_der(name.value)
            if text is not None:
                found.append(text)
    return found


def _matches(pattern: GoRegexp | None, value: str) -> bool:
    return pattern is not None and pattern.find_submatch_index(value) is not None


def _check_keyless(
    payload: bytes,
    signature: bytes,
    annotations: Mapping[str, str],
    trust: Trust,
    now: datetime.datetime,
) -> str:
    pem = _text(annotations, CERTIFICATE)
    if not pem:
        raise Refused("no certificate on the signature (keyless verification)")
    found = _certificates(pem.encode())
    if not found or len(found) != 1:
        raise Refused("its certificate is not one PEM certificate")
    leaf = found[0]
    chain_pem = _text(annotations, CHAIN)
    chain = _certificates(chain_pem.encode()) if chain_pem else []
    if chain is None:
        raise Refused("its certificate chain is not PEM certificates")
    _chains(leaf, chain, trust)
    try:
        key = leaf.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise Refused("its certificate's key is not one cosign signs with") from None
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise Refused("its certificate's key is not one cosign signs with")
    # cosign verifies a certificate's signature with SHA-256 whatever the curve
    if not _verifies(key, signature, payload, curve_hash=False):
        raise Refused("its signature does not verify with its certificate")
    sans = identities_of(leaf)
    issuer = issuer_of(leaf)
    who = f"{sans[0] if sans else '(no identity)'} ({issuer or 'no issuer'})"
    if not any(_matches(trust.identity, san) for san in sans):
        raise Refused(f"its identity {', '.join(sans[:3]) or '(none)'} does not match")
    if issuer is None or not _matches(trust.issuer, issuer):
        raise Refused(f"its issuer {issuer or '(none)'} does not match")
    _check_time(leaf, payload, signature, _text(annotations, BUNDLE), trust, now)
    return who


# ------------------------------------------------------------------------------- time


def _check_time(
    leaf: x509.Certificate,
    payload: bytes,
    signature: bytes,
    bundle_text: str | None,
    trust: Trust,
    now: datetime.datetime,
) -> None:
    if not bundle_text:
        if trust.rekor_keys:
            raise Refused(f"no Rekor bundle ({REKOR_KEY} requires one)")
        if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
            raise Refused("its certificate is not valid now and no Rekor bundle dates it")
        return
    entry = _bundle(bundle_text)
    _of_this_signature(entry.body, leaf, payload, signature)
    if trust.rekor_keys:
        _check_set(entry, trust)
    signed = datetime.datetime.fromtimestamp(entry.integrated_time, datetime.UTC)
    if not leaf.not_valid_before_utc <= signed <= leaf.not_valid_after_utc:
        raise Refused(
            f"logged at {signed:%Y-%m-%dT%H:%M:%SZ}, outside its certificate's validity"
        )


@dataclass(frozen=True)
class _Entry:
    """A Rekor bundle's entry (``Payload``) and its signed entry timestamp."""

    body: str
    integrated_time: int
    log_index: int
    log_id: str
    signed: object  # the SET's base64, as the bundle has it

    def canonical(self) -> bytes:
        """What the log signed: RFC 8785 canonical JSON of the entry (keys sorted; the values
        are ASCII strings and integers, which ``json.dumps`` writes as RFC 8785 does)."""
        entry = {
            "body": self.body,
            "integratedTime": self.integrated_time,
            "logID": self.log_id,
            "logIndex": self.log_index,
        }
        return json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()


def _bundle(text: str) -> _Entry:
    """The Rekor bundle's entry: body, integratedTime, logIndex, logID and the SET."""
    try:
        bundle = json.loads(text)
    except (ValueError, RecursionError):
        raise Refused("its Rekor bundle is not JSON") from None
    entry = bundle.get("Payload") if isinstance(bundle, dict) else None
    if not isinstance(entry, dict):
        raise Refused("its Rekor bundle has no entry")
    body, when = entry.get("body"), entry.get("integratedTime")
    index, log_id = entry.get("logIndex"), entry.get("logID")
    if (
        not isinstance(body, str)
        or not isinstance(log_id, str)
        or isinstance(when, bool)
        or not isinstance(when, int)
        or not 0 <= when < 2**40
        or isinstance(index, bool)
        or not isinstance(index, int)
        or not body.isascii()
        or not log_id.isascii()
    ):
        raise Refused("its Rekor bundle's entry is malformed")
    return _Entry(body, when, index, log_id, bundle.get("SignedEntryTimestamp"))


def _of_this_signature(
    body_b64: str, leaf: x509.Certificate, payload: bytes, signature: bytes
) -> None:
    """The bundle's log entry (``rekord`` or ``hashedrekord``) records this signature, this
    certificate and this payload's SHA-256 (cosign's ``compareSigs``, ``comparePublicKey``,
    ``bundleHash``)."""
    try:
        body = json.loads(_b64(body_b64, "Rekor entry"))
    except (ValueError, RecursionError):
        raise Refused("its Rekor entry is not JSON") from None
    spec = body.get("spec") if isinstance(body, dict) else None
    if not isinstance(spec, dict) or body.get("kind") not in ("hashedrekord", "rekord"):
        raise Refused("its Rekor entry is not a rekord or hashedrekord")
    sig = spec.get("signature")
    data = spec.get("data")
    content = sig.get("content") if isinstance(sig, dict) else None
    key = sig.get("publicKey") if isinstance(sig, dict) else None
    key_content = key.get("content") if isinstance(key, dict) else None
    digest = data.get("hash") if isinstance(data, dict) else None
    if not isinstance(content, str) or _b64(content, "logged signature") != signature:
        raise Refused("its Rekor entry is of another signature")
    if not isinstance(key_content, str):
        raise Refused("its Rekor entry records no certificate")
    logged = _certificates(_b64(key_content, "logged certificate"))
    if not logged or logged[0] != leaf:
        raise Refused("its Rekor entry is of another certificate")
    if (
        not isinstance(digest, dict)
        or digest.get("algorithm") != "sha256"
        or digest.get("value") != hashlib.sha256(payload).hexdigest()
    ):
        raise Refused("its Rekor entry is of another payload")


def _check_set(entry: _Entry, trust: Trust) -> None:
    """The log's signature over the entry (ECDSA with SHA-256 over its canonical JSON), by
    the log the Secret's ``rekor.pub`` is (cosign's ``VerifySET``)."""
    key = dict(trust.rekor_keys).get(entry.log_id)
    if key is None:
        raise Refused("its Rekor bundle is from another log than rekor.pub's")
    if not isinstance(entry.signed, str):
        raise Refused("its Rekor bundle has no signed entry timestamp")
    signed = _b64(entry.signed, "signed entry timestamp")
    try:
        key.verify(signed, entry.canonical(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise Refused("its Rekor bundle's signed entry timestamp does not verify") from None
