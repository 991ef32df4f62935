"""Newest build: an ImagePolicy's candidates ordered by their images' creation time (pure).

Flux's ImagePolicy orders tags by their names only (``semver``, ``alphabetical``,
``numerical``). conveyor can order them by when each image was built, read from the ``created``
field of its config blob. It is a conveyor-only setting, so an annotation carries it, never a
spec field (Flux's CRD schema would prune one):

- ``conveyor.dev/order-by: build-time`` orders by creation time; ``policy`` (the default) is
  Flux's ordering by ``spec.policy``. Any other value is refused by name (Stalled,
  ``InvalidPolicy``).
- ``conveyor.dev/build-platform: os/arch[/variant]`` (default ``linux/amd64``): for an image
  index (a multi-arch image), whose manifest's config is read. Without a variant, the entry
  without one (``arm64``'s ``v8`` counts as none) is preferred, else the first of that
  os/arch in the index. An image manifest (one platform) is read whatever its platform. Set
  without ``order-by: build-time`` it would be ignored, so it is refused.

``spec.policy`` is still required (Flux's CRD requires it) and keeps a meaning:

- Candidates: the tags ``spec.filterTags.pattern`` keeps; with ``semver``, only those whose
  version (the value ``extract`` gives, as Flux ranks) is in ``semver.range``. ``numerical``
  and ``alphabetical`` do not narrow them. No candidate: Flux's ``Failure`` messages.
- Order: the newest ``created`` wins (compared to the nanosecond, time zones resolved).
- Ties (builds of the same instant, often one image under several tags): ``spec.policy``
  picks among the tied tags as it would among them alone; where it gives no answer
  (``numerical`` over tags that are no numbers) the greatest tag name wins.
- No build time: a config without ``created``, with one that is not RFC 3339, or at or before
  ``1980-01-01T00:00:01Z`` (the fixed time of reproducible builds: the Unix epoch of ko,
  Bazel, Nix and apko, Buildpacks' 1980-01-01T00:00:01Z); an index without the platform; a
  manifest or config that is not the JSON it should be, is larger than its bound
  (``MAX_MANIFEST_BYTES``, ``MAX_CONFIG_BYTES``), does not match its digest or is missing:
  the candidate is skipped, and the Ready message names it with the reason. When every
  candidate is skipped the policy fails (``Failure``, retried).

The Ready message is Flux's, followed by how it was ordered and what was skipped.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conveyor.services.policy_evaluator.policy import (
    EMPTY_LIST,
    NO_VERSION,
    REASON_FAILURE,
    REASON_INVALID_POLICY,
    CompiledPolicy,
)
from conveyor.shared import semver
from conveyor.shared.errors import InvalidSpec, TransientError
from conveyor.shared.goregexp import TagFilter
from conveyor.shared.models import BUILD_PLATFORM, ORDER_BY

BUILD_TIME = "build-time"
ORDERS = ("policy", BUILD_TIME)  # the first is the default: Flux's
DEFAULT_PLATFORM = "linux/amd64"
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # Distribution's own limit on a manifest it accepts
MAX_CONFIG_BYTES = 1024 * 1024  # an image config is a few KB; hundreds of layers stay far below
SHOWN_SKIPPED = 5  # skipped candidates named in the Ready message; the rest counted

INDEX_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)
IMAGE_TYPES = frozenset(
    {
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    }
)
CONFIG_TYPES = frozenset(
    {
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.docker.container.image.v1+json",
    }
)

_PLATFORM_RE = re.compile(r"([a-z0-9]{1,32})/([a-z0-9_]{1,32})(?:/([a-z0-9]{1,32}))?")
_DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}")
_RFC3339_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))",
    re.ASCII,  # \d: 0-9 only
)
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_SECOND = datetime.timedelta(seconds=1)
ZERO_TIME_NS = 315_532_801 * 10**9  # 1980-01-01T00:00:01Z: at or before it, no build time


class Unusable(Exception):
    """What a manifest or config holds gives no build time (the message says why); a fact of
    its bytes, so it is cached under its digest."""


@dataclass(frozen=True)
class Built:
    """An image's build time: ``created`` as its config writes it, and in nanoseconds."""

    created: str
    ns: int


Build = Built | str  # a build time, or why there is none


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int


# ------------------------------------------------------------------------------ settings


def _invalid(message: str) -> InvalidSpec:
    return InvalidSpec(message, reason=REASON_INVALID_POLICY)


def build_order(annotations: Mapping[str, str]) -> Platform | None:
    """The platform whose build times order the candidates, or None: Flux's order. Raises
    :class:`InvalidSpec` (``InvalidPolicy``) for a value it does not know."""
    order = annotations.get(ORDER_BY, ORDERS[0])
    platform = annotations.get(BUILD_PLATFORM)
    if order not in ORDERS:
        raise _invalid(f"annotation {ORDER_BY}: {order[:100]!r} is not one of: {', '.join(ORDERS)}")
    if order != BUILD_TIME:
        if platform is not None:
            raise _invalid(
                f"annotation {BUILD_PLATFORM} is set, but only {ORDER_BY}: {BUILD_TIME} reads it"
            )
        return None
    return parse_platform(DEFAULT_PLATFORM if platform is None else platform)


def parse_platform(text: str) -> Platform:
    match = _PLATFORM_RE.fullmatch(text)
    if match is None:
        raise _invalid(
            f"annotation {BUILD_PLATFORM}: {text[:100]!r} is not os/architecture[/variant] "
            "(e.g. linux/arm64)"
        )
    return Platform(match.group(1), match.group(2), match.group(3))


# ------------------------------------------------------------------------------ candidates


def candidates(
    tags: Sequence[str], policy: CompiledPolicy, tag_filter: TagFilter | None
) -> list[str]:
    """The tags that may be chosen: those the pattern keeps, and with ``semver`` those in its
    range; raises Flux's ``Failure`` when there is none."""
    values, originals = tag_filter.columns(tags) if tag_filter else (list(tags), list(tags))
    if not originals:
        raise TransientError(EMPTY_LIST, reason=REASON_FAILURE)
    if policy.kind != "semver":
        return originals
    assert policy.constraints is not None
    kept = [t for v, t in zip(values, originals, strict=True) if _in_range(v, policy)]
    if not kept:
        raise TransientError(NO_VERSION, reason=REASON_FAILURE)
    return kept


def _in_range(value: str, policy: CompiledPolicy) -> bool:
    try:
        version = semver.parse_tag(value)
    except semver.SemverError:
        return False
    assert policy.constraints is not None
    return policy.constraints.check(version)


# ------------------------------------------------------------------------------ the bytes


def _json_object(content: bytes, what: str) -> dict[str, Any]:
    try:
        body = json.loads(content)
    except (ValueError, RecursionError):  # RecursionError: nesting past the parser's depth
        raise Unusable(f"{what} is not valid JSON") from None
    if not isinstance(body, dict):
        raise Unusable(f"{what} is not a JSON object")
    return body


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


def descriptor(value: object, what: str) -> Descriptor:
    """An OCI descriptor, validated: a media type, a sha256/sha512 digest, a size."""
    if not isinstance(value, dict):
        raise Unusable(f"{what} is not a descriptor")
    media_type, digest, size = value.get("mediaType"), value.get("digest"), value.get("size")
    if not isinstance(digest, str) or not _DIGEST_RE.fullmatch(digest):
        raise Unusable(f"{what} has no valid digest")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise Unusable(f"{what} has no valid size")
    return Descriptor(media_type if isinstance(media_type, str) else "", digest, size)


def read_manifest(content: bytes, content_type: str) -> tuple[bool, dict[str, Any]]:
    """(whether it is an index, its body): an OCI or Docker image index or image manifest."""
    body = _json_object(content, "its manifest")
    media_type = body.get("mediaType")
    if not isinstance(media_type, str) or not media_type:
        media_type = content_type
    if media_type in INDEX_TYPES:
        return True, body
    if media_type in IMAGE_TYPES:
        return False, body
    if media_type in ("", "application/json"):  # no type said: by its shape
        if isinstance(body.get("manifests"), list):
            return True, body
        if isinstance(body.get("config"), dict):
            return False, body
    raise Unusable(f"its manifest is of type {_short(media_type)}, not an image")


def _no_variant(architecture: str, variant: str | None) -> str | None:
    return None if architecture == "arm64" and variant == "v8" else variant


def platform_manifest(index: Mapping[str, Any], platform: Platform) -> Descriptor:
    """The descriptor of ``platform``'s image manifest in an image index."""
    entries = index.get("manifests")
    if not isinstance(entries, list):
        raise Unusable("its index has no manifests")
    want = _no_variant(platform.architecture, platform.variant)
    chosen: Any = None  # the entry of the very variant, else (none asked) the first of os/arch
    for entry in entries:
        found = entry.get("platform") if isinstance(entry, dict) else None
        if not isinstance(found, dict):
            continue  # no platform: an attestation, say
        if (found.get("os"), found.get("architecture")) != (platform.os, platform.architecture):
            continue
        variant = found.get("variant")
        if _no_variant(platform.architecture, variant if variant else None) == want:
            chosen = entry
            break
        if want is None and chosen is None:
            chosen = entry
    if chosen is None:
        raise Unusable(f"its index has no {platform} manifest")
    found_desc = descriptor(chosen, f"the {platform} entry of its index")
    if found_desc.media_type not in IMAGE_TYPES:
        raise Unusable(
            f"the {platform} entry of its index is of type {_short(found_desc.media_type)}, "
            "not an image manifest"
        )
    return found_desc


def config_descriptor(manifest: Mapping[str, Any]) -> Descriptor:
    """The config descriptor of an image manifest, of an image config's type and bound."""
    config = descriptor(manifest.get("config"), "the config of its manifest")
    if config.media_type not in CONFIG_TYPES:
        raise Unusable(f"its config is of type {_short(config.media_type)}, not an image's")
    if config.size > MAX_CONFIG_BYTES:
        raise Unusable(f"its config of {config.size} bytes is over {MAX_CONFIG_BYTES}")
    return config


def read_config(content: bytes) -> Built:
    """The build time an image config gives (``created``), validated."""
    created = _json_object(content, "its config").get("created")
    if created is None:
        raise Unusable("its config has no created")
    if not isinstance(created, str):
        raise Unusable(f"its config's created is not a string: {_short(created)}")
    ns = parse_created(created)
    if ns <= ZERO_TIME_NS:
        raise Unusable(f"its config's created {created} is a reproducible build's fixed time")
    return Built(created, ns)


def parse_created(text: str) -> int:
    """Nanoseconds since the Unix epoch of an RFC 3339 time (``T``, at most 9 fractional
    digits, ``Z`` or an offset)."""
    match = _RFC3339_RE.fullmatch(text)
    if match is None:
        raise Unusable(f"its config's created {_short(text)} is not an RFC 3339 time")
    year, month, day, hour, minute, second = (int(g) for g in match.group(1, 2, 3, 4, 5, 6))
    fraction, zulu, sign, off_hours, off_minutes = match.group(7, 8, 9, 10, 11)
    try:
        offset = datetime.timedelta(
            hours=0 if zulu else int(off_hours), minutes=0 if zulu else int(off_minutes)
        )
        if offset >= datetime.timedelta(days=1) or (off_minutes and int(off_minutes) > 59):
            raise ValueError("offset out of range")
        zone = datetime.timezone(-offset if sign == "-" else offset)
        when = datetime.datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError:
        raise Unusable(f"its config's created {_short(text)} is not a valid time") from None
    seconds = (when - _EPOCH) // _SECOND
    return seconds * 10**9 + int((fraction or "0").ljust(9, "0"))


# ------------------------------------------------------------------------------ the cache


def encode(build: Build) -> str:
    """A build as the store keeps it (``{"created": …}`` or ``{"skip": …}``)."""
    if isinstance(build, Built):
        return json.dumps({"created": build.created, "ns": build.ns})
    return json.dumps({"skip": build})


def decode(raw: str) -> Build | None:
    """A stored build, or None when it does not read as one (then it is read again)."""
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    created, ns, skip = body.get("created"), body.get("ns"), body.get("skip")
    if isinstance(created, str) and isinstance(ns, int) and not isinstance(ns, bool):
        return Built(created, ns)
    return skip if isinstance(skip, str) else None


# ------------------------------------------------------------------------------ the choice


def newest(
    pool: Sequence[str], builds: Mapping[str, Build], tie_break: Callable[[list[str]], str]
) -> tuple[str, Built, list[tuple[str, str]]]:
    """(the chosen tag, its build, the skipped candidates with why, greatest first)."""
    best: Built | None = None
    tied: list[str] = []
    skipped: list[tuple[str, str]] = []
    for tag in pool:
        build = builds.get(tag, "no build time was read")
        if isinstance(build, str):
            skipped.append((tag, build))
        elif best is None or build.ns > best.ns:
            best, tied = build, [tag]
        elif build.ns == best.ns:
            tied.append(tag)
    skipped.sort(reverse=True)
    if best is None:
        raise TransientError(
            "no candidate has a build time: " + describe_skipped(skipped),
            reason=REASON_FAILURE,
        )
    return (tied[0] if len(tied) == 1 else tie_break(tied)), best, skipped


def describe_skipped(skipped: Sequence[tuple[str, str]]) -> str:
    shown = ", ".join(f"{tag} ({why})" for tag, why in skipped[:SHOWN_SKIPPED])
    more = len(skipped) - SHOWN_SKIPPED
    return shown + (f" and {more} more" if more > 0 else "")


def ready_note(built: Built, platform: Platform, skipped: Sequence[tuple[str, str]]) -> str:
    """What the Ready message says after Flux's words: the order, and what was skipped."""
    note = f"; newest build ({ORDER_BY}: {BUILD_TIME}, {platform}): created {built.created}"
    if skipped:
        note += f"; skipped {len(skipped)} without a build time: {describe_skipped(skipped)}"
    return note
