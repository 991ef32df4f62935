"""Signature verification of an ImagePolicy's candidates: only a tag whose image is signed as
required is chosen (conveyor's own; Flux's ImagePolicy has no such field).

Flux verifies cosign signatures on an OCIRepository (``spec.verify``: provider cosign, a
``secretRef`` whose ``*.pub`` keys are trusted, ``matchOIDCIdentity`` issuer and subject
regexps for keyless). An ImagePolicy has no ``verify`` field, and a field Flux's CRD does not
have would be pruned in a cluster, so the same settings are annotations of the ImagePolicy:

- ``conveyor.dev/verify-secret: NAME``: a Secret of the policy's namespace. Its ``*.pub`` keys
  (PEM public keys, e.g. ``cosign.pub`` from ``cosign generate-key-pair``): a signature by any
  of them verifies. Without one, keyless: its ``ca.crt`` holds the trusted root certificates
  (a private Fulcio's, or any CA that issues code-signing certificates), and optionally
  ``rekor.pub`` the transparency log's key, whose signed entry timestamps are then required.
- ``conveyor.dev/verify-identity`` and ``conveyor.dev/verify-issuer`` (keyless, both
  required): Go regexps, unanchored (as Flux's ``matchOIDCIdentity.subject`` and ``issuer``),
  over the certificate's subject alternative names and its OIDC issuer. Anchor them
  (``^https://github\\.com/org/repo/\\.github/workflows/release\\.yml@refs/heads/main$``).

What is verified, and what is not, offline: ``conveyor.services.policy_evaluator.cosign``.
Where the signatures are read (the ``.sig`` tag, OCI 1.1 referrers):
``conveyor.shared.adapters.oci.signatures``.

The candidates are tried newest first, in the policy's own order (``spec.policy``,
``filterTags``): the tag it picks is resolved to its digest and that image's signatures
verified; if none verifies the tag is skipped, and the policy picks again among the rest. The
first verified is chosen and its digest, the one verified, is ``latestRef.digest`` whenever
``digestReflectionPolicy`` is not ``Never``. The Ready message says who signed it, and which
newer tags were skipped and why (``SHOWN_SKIPPED`` of them). When none of the candidates
verifies (at most ``MAX_TRIED`` are tried in a run), the policy is Ready=False, reason
``VerificationError`` (Flux's reason for a failed cosign verification), naming the newest
skipped and why; it is retried, as a signature may be pushed after its image.

Work in proportion: only the candidates tried are read, through the ImageRepository's
credentials, TLS options and request budget. Verdicts are cached in the store by the Secret's
material and the image digest: a verified image is not read again (for ``VERIFIED_TTL``); a
refused one is looked at again each run (its signature manifests, a request or two), and its
signatures verified again only when they changed. A tag is resolved to its digest at every
run (tags move). A registry that fails to answer, or refuses the repository's credentials, fails
the run (retried): no older tag is chosen for want of reading a newer one's signatures.

Refused (Stalled, ``InvalidPolicy``): an identity or issuer without a Secret, a value that is
no Secret's name, a bad regexp, a Secret whose ``*.pub`` is not a public key cosign signs
with, a keyed Secret with an identity or issuer (they would be ignored), a keyless one
without both, and ``conveyor.dev/order-by: build-time`` together with verification (not
supported yet).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from conveyor.services.policy_evaluator.policy import (
    REASON_INVALID_POLICY,
    compile_filter,
    compile_policy,
    latest_tag,
)
from conveyor.shared.credentials import registry_options, request_budget
from conveyor.shared.errors import InvalidSpec, PermanentError, TransientError
from conveyor.shared.models import ImagePolicy, ImageRepository
from conveyor.shared.runtime import Context
from conveyor.shared.secretrefs import VERIFY_SECRET

if TYPE_CHECKING:  # cryptography and httpx load only for the policies that verify
    from conveyor.services.policy_evaluator.cosign import Trust
    from conveyor.shared.adapters.oci.client import RegistryClient
    from conveyor.shared.adapters.oci.signatures import SignatureManifest

VERIFY_IDENTITY = "conveyor.dev/verify-identity"
VERIFY_ISSUER = "conveyor.dev/verify-issuer"
REASON_FAILED = "VerificationError"
MAX_TRIED = 20  # candidates tried in one run
MAX_SIGNATURES = 32  # signatures (layers) verified for one image
SHOWN_SKIPPED = 5  # skipped tags named in a message; the rest counted
VERIFIED_TTL = 24 * 3600.0
REFUSED_TTL = 24 * 3600.0
_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")


@dataclass(frozen=True)
class Request:
    """What the annotations ask: the Secret, and for keyless the identity and issuer."""

    secret: str
    identity: str | None = None
    issuer: str | None = None


def _invalid(message: str) -> InvalidSpec:
    return InvalidSpec(message, reason=REASON_INVALID_POLICY)


def requested(annotations: Mapping[str, str], *, ordered: bool = False) -> Request | None:
    """The verification an ImagePolicy's annotations ask for (None: none); refused by name
    when they cannot be used (``ordered``: the policy orders by build time, not supported
    together yet)."""
    secret = annotations.get(VERIFY_SECRET)
    identity = annotations.get(VERIFY_IDENTITY)
    issuer = annotations.get(VERIFY_ISSUER)
    if secret is None:
        given = [n for n, v in ((VERIFY_IDENTITY, identity), (VERIFY_ISSUER, issuer)) if v]
        if given:
            raise _invalid(f"{' and '.join(given)} needs {VERIFY_SECRET} (the trusted root)")
        return None
    if not _NAME.fullmatch(secret):
        raise _invalid(f"{VERIFY_SECRET}: {secret[:80]!r} is not a Secret's name")
    if ordered:
        raise _invalid(
            f"{VERIFY_SECRET} together with conveyor.dev/order-by: build-time is not supported"
        )
    return Request(secret, identity, issuer)


def trust_of(obj: ImagePolicy, request: Request, ctx: Context) -> Trust:
    """The keys or root of the Secret the policy names (a missing Secret: ``NotFound``)."""
    from conveyor.services.policy_evaluator.cosign import trust_from

    owner = f"ImagePolicy {obj.namespace}/{obj.name}"
    secret = ctx.secret(obj.namespace, request.secret, owner=owner)
    where = f"Secret {obj.namespace}/{request.secret}"
    return trust_from(secret.data, request.identity, request.issuer, where)


@dataclass(frozen=True)
class Verified:
    """The chosen tag, its verified digest, who signed it, and the newer tags skipped."""

    tag: str
    digest: str
    signer: str
    skipped: tuple[tuple[str, str], ...] = ()

    def note(self, secret: str) -> str:
        """What the Ready message says after Flux's words."""
        text = f"; verified ({VERIFY_SECRET}: {secret}): signed by {self.signer}"
        if self.skipped:
            text += f"; skipped {len(self.skipped)} newer: {describe(self.skipped)}"
        return text


def describe(skipped: Sequence[tuple[str, str]]) -> str:
    shown = ", ".join(f"{tag} ({why})" for tag, why in skipped[:SHOWN_SKIPPED])
    more = len(skipped) - SHOWN_SKIPPED
    return shown + (f" and {more} more" if more > 0 else "")


def verified_latest(
    obj: ImagePolicy, repo: ImageRepository, tags: list[str], request: Request, ctx: Context
) -> Verified:
    """The newest candidate, in the policy's order, whose image verifies."""
    policy = compile_policy(obj.spec.policy.model_dump(exclude_none=True))
    filter_tags = obj.spec.filter_tags
    tag_filter = compile_filter(filter_tags.model_dump()) if filter_tags else None
    trust = trust_of(obj, request, ctx)

    def pick(remaining: list[str]) -> str:
        return latest_tag(remaining, policy, tag_filter)

    return choose(pick, tags, trust, repo, request.secret, ctx)


def choose(
    pick: Callable[[list[str]], str],
    tags: list[str],
    trust: Trust,
    repo: ImageRepository,
    secret: str,
    ctx: Context,
) -> Verified:
    """The first of the tags ``pick`` gives, newest first, whose image verifies."""
    from conveyor.shared.adapters.oci.client import RegistryClient
    from conveyor.shared.adapters.oci.reference import parse_image

    ref = parse_image(repo.spec.image)
    remaining = list(tags)
    skipped: list[tuple[str, str]] = []
    with RegistryClient(
        ref, registry_options(repo, ref, ctx), throttle=request_budget(ctx)
    ) as client:
        checker = _Checker(client, trust, ctx)
        for _ in range(MAX_TRIED):
            try:
                tag = pick(remaining)
            except TransientError:
                if not skipped:
                    raise  # the policy's own failure: no candidate at all
                break
            digest, signer, why = checker.of_tag(tag)
            if signer is not None:
                return Verified(tag, digest, signer, tuple(skipped))
            skipped.append((tag, why))
            remaining.remove(tag)
        else:
            tried = f"the {MAX_TRIED} newest candidates"
            raise TransientError(_failure(skipped, secret, tried), reason=REASON_FAILED)
    raise TransientError(_failure(skipped, secret, "no candidate"), reason=REASON_FAILED)


def _failure(skipped: Sequence[tuple[str, str]], secret: str, tried: str) -> str:
    newest, why = skipped[0]
    message = f"{tried} verified ({VERIFY_SECRET}: {secret}): newest {newest} skipped: {why}"
    if len(skipped) > 1:
        message += f"; also skipped {describe(skipped[1:])}"
    return message


class _Checker:
    """Verifies images through one client; verdicts cached in the store."""

    def __init__(self, client: RegistryClient, trust: Trust, ctx: Context) -> None:
        self.client = client
        self.trust = trust
        self.store = ctx.store
        self.now = datetime.datetime.now(datetime.UTC)

    def of_tag(self, tag: str) -> tuple[str, str | None, str]:
        """(digest, who signed it or None, why not)."""
        try:
            digest = self.client.head_digest(tag)
        except PermanentError as exc:
            if exc.reason != "ManifestNotFound":
                raise
            return "", None, "its manifest is gone"
        signer, why = self.of_digest(digest)
        return digest, signer, why

    def of_digest(self, digest: str) -> tuple[str | None, str]:
        from conveyor.shared.adapters.oci import signatures

        verified = f"{self.trust.fingerprint} {digest}"
        hit = _decode(self.store.signature_verdicts([verified]).get(verified))
        if hit is not None and hit[0] is not None:
            return hit
        found = signatures.find(self.client, digest)
        seen = " ".join(f"{m.source}={m.digest}" for m in found)
        refused = f"{verified} {hashlib.sha256(seen.encode()).hexdigest()[:16]}"
        hit = _decode(self.store.signature_verdicts([refused]).get(refused))
        if hit is not None:
            return hit
        signer, why, settled = self._verify(found, digest)
        if signer is not None:
            self.store.put_signature_verdicts({verified: _encode(signer, "")}, VERIFIED_TTL)
        elif settled:
            self.store.put_signature_verdicts({refused: _encode(None, why)}, REFUSED_TTL)
        return signer, why

    def _verify(
        self, found: Sequence[SignatureManifest], digest: str
    ) -> tuple[str | None, str, bool]:
        """(who signed, why not, whether the refusal is the signatures' own: cacheable)."""
        from conveyor.services.policy_evaluator.cosign import Refused, check
        from conveyor.shared.adapters.oci.signatures import Unreadable, payload

        if not found:
            return None, "no cosign signature", True
        reasons: list[str] = []
        settled = True
        layers = [layer for m in found for layer in m.layers][:MAX_SIGNATURES]
        for manifest in found:
            if manifest.problem is not None:
                reasons.append(manifest.problem)
                settled = False
        for layer in layers:
            try:
                content = payload(self.client, layer)
            except Unreadable as exc:
                reasons.append(f"{layer.source}: {exc}")
                settled = False
                continue
            try:
                return check(content, layer.annotations, digest, self.trust, self.now), "", True
            except Refused as exc:
                reasons.append(str(exc))
        if not reasons:
            return None, "no cosign signature", True
        why = reasons[0] + (f" (and {len(reasons) - 1} more refused)" if len(reasons) > 1 else "")
        return None, why, settled


def _encode(signer: str | None, why: str) -> str:
    return json.dumps({"signer": signer, "why": why})


def _decode(raw: str | None) -> tuple[str | None, str] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
        signer, why = value["signer"], value["why"]
    except (ValueError, TypeError, KeyError):
        return None
    if (signer is not None and not isinstance(signer, str)) or not isinstance(why, str):
        return None
    return signer, why
