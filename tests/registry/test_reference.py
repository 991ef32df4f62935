"""Image reference normalization, Docker's rules (pure)."""

from __future__ import annotations

import pytest

from conveyor.shared.adapters.oci.reference import ImageRef, parse_image
from conveyor.shared.errors import InvalidSpec, PermanentError

VALID = [
    # id, image, registry, repository, api_host
    (
        "hub-user-repo",
        "pythops/gitops",
        "index.docker.io",
        "pythops/gitops",
        "registry-1.docker.io",
    ),
    ("hub-official", "nginx", "index.docker.io", "library/nginx", "registry-1.docker.io"),
    (
        "hub-docker.io",
        "docker.io/nginx",
        "index.docker.io",
        "library/nginx",
        "registry-1.docker.io",
    ),
    (
        "hub-docker.io-library",
        "docker.io/library/nginx",
        "index.docker.io",
        "library/nginx",
        "registry-1.docker.io",
    ),
    (
        "hub-index",
        "index.docker.io/fluxcd/flux",
        "index.docker.io",
        "fluxcd/flux",
        "registry-1.docker.io",
    ),
    (
        "hub-registry-1",
        "registry-1.docker.io/library/alpine",
        "index.docker.io",
        "library/alpine",
        "registry-1.docker.io",
    ),
    ("hub-nested", "org/team/app", "index.docker.io", "org/team/app", "registry-1.docker.io"),
    ("ghcr", "ghcr.io/fluxcd/flux-cli", "ghcr.io", "fluxcd/flux-cli", "ghcr.io"),
    ("ghcr-single", "ghcr.io/app", "ghcr.io", "app", "ghcr.io"),
    ("host-port", "registry.local:5000/team/app", "registry.local:5000", "team/app", None),
    ("ip-port", "127.0.0.1:5000/app", "127.0.0.1:5000", "app", "127.0.0.1:5000"),
    ("localhost", "localhost/app", "localhost", "app", "localhost"),
    ("localhost-port", "localhost:5000/a/b", "localhost:5000", "a/b", "localhost:5000"),
    ("ipv6", "[::1]:5000/app", "[::1]:5000", "app", "[::1]:5000"),
    ("host-upper-folded", "Registry.Example.COM/app", "registry.example.com", "app", None),
    ("separators", "gcr.io/p/a.b_c__d-e--f", "gcr.io", "p/a.b_c__d-e--f", "gcr.io"),
    (
        "whitespace-stripped",
        "  nginx\n",
        "index.docker.io",
        "library/nginx",
        "registry-1.docker.io",
    ),
    (
        "bare-dotted-name-is-hub",
        "ghcr.io",
        "index.docker.io",
        "library/ghcr.io",
        "registry-1.docker.io",
    ),
]


@pytest.mark.parametrize(
    ("image", "registry", "repository", "api_host"),
    [pytest.param(*row[1:], id=row[0]) for row in VALID],
)
def test_parse_image_normalizes(
    image: str, registry: str, repository: str, api_host: str | None
) -> None:
    ref = parse_image(image)
    assert ref == ImageRef(registry, repository)
    assert ref.canonical == f"{registry}/{repository}"
    assert str(ref) == ref.canonical
    assert ref.api_host == (api_host or registry)


INVALID = [
    # id, image, words the message must contain
    ("empty", "", "empty"),
    ("blank", "   ", "empty"),
    ("tag", "nginx:1.25", "tag"),
    ("tag-on-host-port", "localhost:5000/app:v1", "tag"),
    ("tag-on-ghcr", "ghcr.io/x/y:latest", "tag"),
    ("digest", "nginx@sha256:" + "a" * 64, "digest"),
    ("scheme", "https://ghcr.io/x/y", "scheme"),
    ("uppercase-repo", "ghcr.io/Org/App", "lowercase"),
    ("uppercase-hub-user", "pythops/GitOps", "lowercase"),
    ("double-slash", "ghcr.io//app", "invalid repository path"),
    ("trailing-slash", "ghcr.io/app/", "invalid repository path"),
    ("leading-separator", "ghcr.io/-app", "invalid repository path"),
    ("bad-host", "bad_host.io/app", "registry host"),
    ("bad-port", "host:port/app", "registry host"),
    ("space-inside", "ghcr.io/my app", "invalid repository path"),
    ("too-long", "ghcr.io/" + "a" * 260, "longer than 255"),
]


@pytest.mark.parametrize(("image", "words"), [pytest.param(*row[1:], id=row[0]) for row in INVALID])
def test_parse_image_rejects(image: str, words: str) -> None:
    with pytest.raises(InvalidSpec) as info:
        parse_image(image)
    assert words in str(info.value)
    assert isinstance(info.value, PermanentError)
    assert info.value.reason == "InvalidSpec"


def test_image_ref_is_frozen_and_hashable() -> None:
    ref = parse_image("nginx")
    assert {ref: 1}[ImageRef("index.docker.io", "library/nginx")] == 1
    with pytest.raises(AttributeError):
        ref.registry = "x"  # type: ignore[misc]
