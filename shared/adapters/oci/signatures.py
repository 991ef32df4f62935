"""cosign's signatures of an image as a registry holds them: found and read, bounded; not
verified (``conveyor.services.policy_evaluator.cosign`` verifies them).

cosign stores the signatures of the image ``sha256:<hex>`` in one of two ways, both read here:

- its default: an OCI image manifest tagged ``sha256-<hex>.sig`` in the image's repository,
  one layer per signature (``cosign sign`` again adds a layer);
- OCI 1.1 (``cosign sign --registry-referrers-mode=oci-1-1``): an image manifest whose
  ``subject`` is the image and whose ``artifactType`` (and config media type) is
  ``application/vnd.dev.cosign.artifact.sig.v1+json``, listed by the referrers API
  (``GET /v2/<name>/referrers/<digest>?artifactType=…``) or, where the registry has none
  (it answers 404: Distribution v3.0 and Debian's 2.8 do), by the index tagged
  ``sha256-<hex>`` (the referrers tag schema, which go-containerregistry updates when it pushes
  such a manifest to a registry without the API).

Every manifest is at most ``MAX_MANIFEST`` bytes and checked against its digest by the client;
at most ``MAX_REFERRERS`` referrers (the last listed, as cosign takes the last) and
``MAX_LAYERS`` layers of each manifest are read. What is wrong with one manifest or layer
(missing, too large, bytes that are not its digest's, not the JSON it should be) is a
``problem`` of that signature; errors that concern the whole repository (credentials, TLS) and
transient ones are raised, as the client raises them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from conveyor.shared.adapters.oci.client import (
    DIGEST_MISMATCH,
    TOO_LARGE,
    Manifest,
    RegistryClient,
)
from conveyor.shared.errors import InvalidSpec, PermanentError

SIG_ARTIFACT_TYPE = "application/vnd.dev.cosign.artifact.sig.v1+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
MAX_MANIFEST = 1024 * 1024
MAX_REFERRERS = 8
MAX_LAYERS = 32
MAX_PAYLOAD = 64 * 1024  # a layer larger than that is refused unread

_DIGEST = re.compile(r"sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}")
_UNREADABLE = {  # the client's reasons of one object the registry sent wrong, or lacks
    "ManifestNotFound": "not found",
    "BlobNotFound": "not found",
    TOO_LARGE: "over its size bound",
    DIGEST_MISMATCH: "does not match its digest",
}


class Unreadable(Exception):
    """One manifest or layer of a signature cannot be read; ``str()`` says why."""


@dataclass(frozen=True)
class Layer:
    """One signature: its payload blob (``digest``, ``size``) and its layer's annotations."""

    source: str  # where it was found: ".sig" (the tag), or "referrer sha256:…"
    digest: str
    size: int
    media_type: str
    annotations: dict[str, str]


@dataclass(frozen=True)
class SignatureManifest:
    """A manifest holding signatures: where it was found, its digest, its layers (or what is
    wrong with it)."""

    source: str
    digest: str
    layers: tuple[Layer, ...] = ()
    problem: str | None = None


def signature_tag(digest: str) -> str:
    """cosign's tag for the signatures of ``digest``: ``sha256-<hex>.sig``."""
    return digest.replace(":", "-", 1) + ".sig"


def referrers_tag(digest: str) -> str:
    """The referrers tag schema's tag for ``digest``: ``sha256-<hex>``."""
    return digest.replace(":", "-", 1)


def _readable(exc: PermanentError, what: str) -> Unreadable:
    if exc.reason not in _UNREADABLE:
        raise exc  # the repository's (credentials, TLS): the caller's failure, not a signature's
    return Unreadable(f"{what} {_UNREADABLE[exc.reason]}")


def _json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        return None


def find(client: RegistryClient, digest: str) -> list[SignatureManifest]:
    """The manifests holding cosign signatures of the image ``digest``: its ``.sig`` tag's,
    then its referrers of cosign's signature type; none when it has no signature."""
    found: list[SignatureManifest] = []
    try:
        manifest = client.get_manifest(signature_tag(digest), limit=MAX_MANIFEST)
        found.append(_parse(".sig", manifest))
    except PermanentError as exc:
        if exc.reason != "ManifestNotFound":
            problem = str(_readable(exc, "its .sig manifest"))
            found.append(SignatureManifest(".sig", "", problem=problem))
    for listed in _referrers(client, digest):
        source = f"referrer {listed[:19]}…"  # a digest (checked by _referrers)
        try:
            manifest = client.get_manifest(listed, limit=MAX_MANIFEST)
        except PermanentError as exc:
            found.append(SignatureManifest(source, listed, problem=str(_readable(exc, source))))
            continue
        found.append(_parse(source, manifest))
    return found


def _referrers(client: RegistryClient, digest: str) -> list[str]:
    """The digests of the referrers of ``digest`` of cosign's signature type (the last
    ``MAX_REFERRERS``), from the referrers API or, without one, the referrers tag."""
    try:
        index = client.get_referrers(digest, artifact_type=SIG_ARTIFACT_TYPE, limit=MAX_MANIFEST)
        if index is None:  # no referrers API: the tag schema
            index = client.get_manifest(referrers_tag(digest), limit=MAX_MANIFEST).content
    except PermanentError as exc:
        if exc.reason == "ManifestNotFound":
            return []
        raise _readable(exc, "the referrers index") from exc
    body = _json(index)
    entries = body.get("manifests") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        return []  # not an index: no referrer can be read from it
    listed: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        kind = entry.get("artifactType")
        child = entry.get("digest")
        if (
            kind == SIG_ARTIFACT_TYPE
            and isinstance(child, str)
            and _DIGEST.fullmatch(child)
            and child not in listed
        ):
            listed.append(child)
    return listed[-MAX_REFERRERS:]


def _parse(source: str, manifest: Manifest) -> SignatureManifest:
    """A signature manifest's layers (at most ``MAX_LAYERS``), each with its annotations."""
    body = _json(manifest.content)
    entries = body.get("layers") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        problem = f"{source}: not a manifest"
        return SignatureManifest(source, manifest.digest, problem=problem)
    layers: list[Layer] = []
    for entry in entries[:MAX_LAYERS]:
        if not isinstance(entry, dict):
            continue
        digest, size = entry.get("digest"), entry.get("size")
        notes = entry.get("annotations")
        if (
            not isinstance(digest, str)
            or isinstance(size, bool)
            or not isinstance(size, int)
            or size < 0
        ):
            continue
        annotations = (
            {k: v for k, v in notes.items() if isinstance(k, str) and isinstance(v, str)}
            if isinstance(notes, dict)
            else {}
        )
        media_type = entry.get("mediaType")
        layers.append(
            Layer(
                source,
                digest,
                size,
                media_type if isinstance(media_type, str) else "",
                annotations,
            )
        )
    return SignatureManifest(source, manifest.digest, tuple(layers))


def payload(client: RegistryClient, layer: Layer) -> bytes:
    """The payload blob of ``layer`` (at most ``MAX_PAYLOAD`` bytes, checked against its
    digest); :class:`Unreadable` when the registry cannot give it."""
    if layer.size > MAX_PAYLOAD:
        raise Unreadable(f"its payload is larger than {MAX_PAYLOAD} bytes")
    try:
        # the bound, not the size it declares: a registry's 404 says more than a tiny blob
        return client.get_blob(layer.digest, limit=MAX_PAYLOAD)
    except InvalidSpec:
        raise Unreadable("its payload's digest is malformed") from None
    except PermanentError as exc:
        raise _readable(exc, "its payload") from exc
