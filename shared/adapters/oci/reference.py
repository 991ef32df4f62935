"""Image references as Docker normalizes them (pure: no I/O).

A Flux ImageRepository's ``spec.image`` names a repository, never a tag or digest::

    nginx                       -> index.docker.io/library/nginx   (API host registry-1.docker.io)
    pythops/gitops              -> index.docker.io/pythops/gitops
    docker.io/library/nginx     -> index.docker.io/library/nginx
    ghcr.io/fluxcd/flux-cli     -> ghcr.io/fluxcd/flux-cli
    localhost/app, host:5000/a  -> explicit registry hosts

The first path component is a registry host when it contains ``.`` or ``:``, is ``localhost``,
or has an upper-case letter (Docker's rule); otherwise the image lives on Docker Hub.
``docker.io``, ``index.docker.io`` and ``registry-1.docker.io`` all mean Docker Hub, whose
canonical name is ``index.docker.io`` (as Flux's ``status.canonicalImageName`` writes it) and
whose API is served from ``registry-1.docker.io``. Repository paths must be lower case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from conveyor.shared.errors import InvalidSpec

DOCKER_HUB = "index.docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
NAME_TOTAL_LENGTH_MAX = 255

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_RE = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
)
_PATH_COMPONENT_RE = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
TAG_RE = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)  # the OCI tag grammar


def valid_tag(tag: object) -> bool:
    """Whether ``tag`` is a tag by the OCI grammar (what a registry may hold)."""
    return isinstance(tag, str) and TAG_RE.fullmatch(tag) is not None


def valid_repository(path: object) -> bool:
    """Whether ``path`` is a repository path (``team/app``) by the OCI grammar."""
    return (
        isinstance(path, str)
        and 0 < len(path) <= NAME_TOTAL_LENGTH_MAX
        and all(_PATH_COMPONENT_RE.fullmatch(c) for c in path.split("/"))
    )


@dataclass(frozen=True)
class ImageRef:
    """A normalized image repository: registry host (``host[:port]``) and repository path."""

    registry: str
    repository: str

    @property
    def canonical(self) -> str:
        """``registry/repository``, e.g. ``index.docker.io/library/nginx``."""
        return f"{self.registry}/{self.repository}"

    @property
    def api_host(self) -> str:
        """The host serving the ``/v2/`` API (Docker Hub's differs from its canonical name)."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    def __str__(self) -> str:
        return self.canonical


def normalize_registry(host: str) -> str:
    """Lower-case a registry host and fold Docker Hub's aliases into ``index.docker.io``."""
    host = host.lower()
    return DOCKER_HUB if host in DOCKER_HUB_ALIASES else host


def parse_image(image: str) -> ImageRef:
    """Normalize ``spec.image`` as Docker does; :class:`InvalidSpec` when it is not a repository.

    Rejects schemes, tags (``nginx:1.25``), digests (``nginx@sha256:…``), upper-case paths and
    names longer than 255 characters; the message quotes the image and says why.
    """
    original = image
    image = image.strip()
    if not image:
        raise InvalidSpec("spec.image is empty")
    if "://" in image:
        raise InvalidSpec(
            f"spec.image {original!r} must not include a scheme: "
            "write host/repository (use spec.insecure for plain HTTP)"
        )
    if "@" in image:
        raise InvalidSpec(
            f"spec.image {original!r} must not include a digest: "
            "an ImageRepository names a repository, tags are chosen by an ImagePolicy"
        )
    first, slash, rest = image.partition("/")
    if not slash or (
        not any(c in first for c in ".:") and first != "localhost" and first == first.lower()
    ):
        registry, path = DOCKER_HUB, image
    else:
        registry, path = first, rest
    if ":" in path:
        raise InvalidSpec(
            f"spec.image {original!r} must not include a tag: "
            "an ImageRepository names a repository, tags are chosen by an ImagePolicy"
        )
    if not _DOMAIN_RE.fullmatch(registry):
        raise InvalidSpec(f"spec.image {original!r}: {registry!r} is not a valid registry host")
    registry = normalize_registry(registry)
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if path != path.lower():
        raise InvalidSpec(f"spec.image {original!r}: repository name must be lowercase")
    for component in path.split("/"):
        if not _PATH_COMPONENT_RE.fullmatch(component):
            raise InvalidSpec(
                f"spec.image {original!r}: invalid repository path component {component!r} "
                "(lower-case letters, digits and single separators . _ __ -)"
            )
    ref = ImageRef(registry=registry, repository=path)
    if len(ref.canonical) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidSpec(
            f"spec.image {original!r}: name longer than {NAME_TOTAL_LENGTH_MAX} characters"
        )
    return ref
