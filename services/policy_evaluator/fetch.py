"""The build times of an ImagePolicy's candidates, read from the registry, cached by digest.

A candidate tag's manifest digest is kept per ImageRepository (``Store.tag_digests``), and a
digest's build time in one bounded cache shared by every policy (``Store.get_builds``: a
manifest's digest, an index's with the platform). Both are facts of content-addressed bytes
(every manifest and config is checked against its digest), so a run reads from the registry
only the tags it has not seen: ``GET`` the tag's manifest (its digest comes with it), for an
index the platform's manifest, then the config blob; a digest met before costs nothing.

Requests go through the ImageRepository's credentials and TLS options and the shared
per-host budget, within the run's deadline. What they learn is stored even when the run
fails half-way (a timeout, a 5xx), so the next run goes on from there.

Tags are taken as immutable: a tag moved to another image after it was read keeps its first
build time until it leaves the scanned tags (the scan's tag set does not change either, so
Flux would not evaluate the policy again for it).

What fails one candidate (it is skipped and named): what :class:`~builds.Unusable` says of its
bytes (cached), and a manifest or config the registry does not have, sends over its bound or
with bytes that do not match its digest (not cached: asked again next run). What fails the
policy (retried): a transient error, and the errors that concern the whole repository (its
credentials, TLS, plain HTTP), so that no older build is chosen for want of reading a newer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from conveyor.services.policy_evaluator.builds import (
    MAX_MANIFEST_BYTES,
    Build,
    Built,
    Platform,
    Unusable,
    config_descriptor,
    decode,
    encode,
    platform_manifest,
    read_config,
    read_manifest,
)
from conveyor.shared.adapters.oci.client import (
    DIGEST_MISMATCH,
    TOO_LARGE,
    Manifest,
    RegistryClient,
)
from conveyor.shared.adapters.oci.reference import parse_image
from conveyor.shared.credentials import registry_options, request_budget
from conveyor.shared.errors import PermanentError, TransientError
from conveyor.shared.models import ImageRepository, object_key
from conveyor.shared.runtime import Context

log = logging.getLogger(__name__)

# PermanentErrors that concern the repository, not one candidate: the policy fails
REPOSITORY_WIDE = frozenset(
    {
        "AuthenticationFailed",
        "CertificateVerificationFailed",
        "TLSHandshakeFailed",
        "PlainHTTPNotAllowed",
    }
)
_REFUSED = {
    "ManifestNotFound": "not found",
    "BlobNotFound": "not found",
    TOO_LARGE: "over its size bound",
    DIGEST_MISMATCH: "does not match its digest",
}


class _Skip(Exception):
    """The registry failed one candidate in a way its bytes do not decide (not cached)."""


def build_times(
    pool: Sequence[str],
    tags: Sequence[str],
    repo: ImageRepository,
    platform: Platform,
    ctx: Context,
) -> dict[str, Build]:
    """The build time of each tag of ``pool`` (or why it has none); ``tags`` is every scanned
    tag, to forget the digests of those that are gone."""
    store = ctx.store
    repo_key = object_key("ImageRepository", repo.namespace, repo.name)
    known = store.tag_digests(repo_key)
    current = set(tags)
    gone = [t for t in known if t not in current]
    digests = {known[t] for t in pool if t in known}
    cached = store.get_builds(sorted(digests | {f"{d} {platform}" for d in digests}))
    found: dict[str, Build] = {}
    missing: list[str] = []
    for tag in pool:
        digest = known.get(tag)
        raw = (cached.get(digest) or cached.get(f"{digest} {platform}")) if digest else None
        build = decode(raw) if raw else None
        if build is None:
            missing.append(tag)
        else:
            found[tag] = build
    if not missing:
        store.put_tag_digests(repo_key, {}, gone)
        return found
    ref = parse_image(repo.spec.image)
    reader = _Reader(platform, ctx)
    try:
        with RegistryClient(
            ref, registry_options(repo, ref, ctx), throttle=request_budget(ctx)
        ) as client:
            reader.client = client
            for tag in missing:
                try:
                    found[tag] = reader.of_tag(tag, known.get(tag))
                except (PermanentError, TransientError) as exc:  # the policy fails: say where
                    cls = TransientError if isinstance(exc, TransientError) else PermanentError
                    raise cls(f"build time of {tag}: {exc}", reason=exc.reason) from exc
    finally:  # what was learnt stays, even when a request failed the run
        store.put_tag_digests(repo_key, reader.digests, gone)
        store.put_builds({key: encode(build) for key, build in reader.learnt.items()})
    return found


class _Reader:
    """Reads build times through one client; remembers what it learnt, for the store."""

    client: RegistryClient

    def __init__(self, platform: Platform, ctx: Context) -> None:
        self.platform = platform
        self.store = ctx.store
        self.digests: dict[str, str] = {}  # tag -> manifest digest, newly resolved
        self.learnt: dict[str, Build] = {}  # cache key -> build, newly read

    def of_tag(self, tag: str, digest: str | None) -> Build:
        try:
            manifest = self._manifest(digest or tag, "its manifest")
        except _Skip as exc:
            return str(exc)
        if digest is None:
            self.digests[tag] = manifest.digest
        try:
            return self._of_manifest(manifest)
        except _Skip as exc:
            return str(exc)

    def _cached(self, *keys: str) -> Build | None:
        for key in keys:
            if key in self.learnt:
                return self.learnt[key]
        found = self.store.get_builds(list(keys))
        for key in keys:
            build = decode(found[key]) if key in found else None
            if build is not None:
                return build
        return None

    def _keep(self, key: str, build: Build) -> Build:
        self.learnt[key] = build
        return build

    def _of_manifest(self, manifest: Manifest) -> Build:
        index_key = f"{manifest.digest} {self.platform}"
        hit = self._cached(manifest.digest, index_key)
        if hit is not None:
            return hit
        try:
            is_index, body = read_manifest(manifest.content, manifest.media_type)
        except Unusable as exc:
            return self._keep(manifest.digest, str(exc))
        if not is_index:
            return self._keep(manifest.digest, self._of_image(body))
        try:
            entry = platform_manifest(body, self.platform)
        except Unusable as exc:
            return self._keep(index_key, str(exc))
        build = self._cached(entry.digest)
        if build is None:
            inner = self._manifest(entry.digest, f"its {self.platform} manifest")
            try:
                is_index, body = read_manifest(inner.content, inner.media_type)
                if is_index:
                    raise Unusable("its manifest is an index, not an image")
            except Unusable as exc:
                build = self._keep(entry.digest, str(exc))
            else:
                build = self._keep(entry.digest, self._of_image(body))
        if not isinstance(build, Built):
            build = f"{self.platform}: {build}"
        return self._keep(index_key, build)

    def _of_image(self, body: dict[str, object]) -> Build:
        try:
            config = config_descriptor(body)
        except Unusable as exc:
            return str(exc)
        try:
            content = self.client.get_blob(config.digest, limit=max(config.size, 1))
        except PermanentError as exc:
            raise self._skip(exc, "its config") from exc
        try:
            return read_config(content)
        except Unusable as exc:
            return str(exc)

    def _manifest(self, reference: str, what: str) -> Manifest:
        try:
            return self.client.get_manifest(reference, limit=MAX_MANIFEST_BYTES)
        except PermanentError as exc:
            raise self._skip(exc, what) from exc

    def _skip(self, exc: PermanentError, what: str) -> _Skip:
        if exc.reason in REPOSITORY_WIDE:
            raise exc
        log.info("build time: %s", exc)
        return _Skip(f"{what} {_REFUSED.get(exc.reason, 'refused by the registry')}")
