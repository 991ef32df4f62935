"""Push a tiny real OCI image to a registry over the Distribution HTTP API, no Docker needed.

``push_tags`` uploads one config blob and one layer blob (monolithic upload: ``POST`` to open a
session, ``PUT ?digest=`` with the bytes), then ``PUT``s one OCI image manifest under every tag,
all on one keep-alive connection (or a few, with ``workers``), so 10,000 tags take seconds.
``created`` writes the config's build time; ``config`` puts any bytes in its place (what a
hostile registry may hold). ``push_index`` pushes a multi-arch image: one image per platform,
each with its own config (and build time), under an OCI image index.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import ssl
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

AuthArg = httpx.Auth | tuple[str, str] | None
VerifyArg = ssl.SSLContext | bool


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tiny_image(
    content: str = "hello from conveyor\n",
    *,
    created: str | None = None,
    platform: str = "linux/amd64",
    config: bytes | None = None,
) -> tuple[bytes, bytes, bytes]:
    """Return ``(config, layer, manifest)`` bytes for a one-file image; deterministic. The
    config says ``platform`` (``os/arch[/variant]``) and, if given, ``created``; ``config``
    replaces it with any bytes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        data = content.encode()
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        tar.addfile(info, io.BytesIO(data))
    layer_tar = raw.getvalue()
    layer = gzip.compress(layer_tar, mtime=0)
    os_name, architecture, *variant = platform.split("/")
    fields: dict[str, object] = {
        "architecture": architecture,
        "os": os_name,
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [sha256_digest(layer_tar)]},
    }
    if variant:
        fields["variant"] = variant[0]
    if created is not None:
        fields["created"] = created
    if config is None:
        config = json.dumps(fields, sort_keys=True).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": OCI_CONFIG,
                "digest": sha256_digest(config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": OCI_LAYER, "digest": sha256_digest(layer), "size": len(layer)}
            ],
        },
        sort_keys=True,
    ).encode()
    return config, layer, manifest


def ssl_context(ca_pem: bytes) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.load_verify_locations(cadata=ca_pem.decode())
    return ctx


def _upload_blob(client: httpx.Client, repository: str, data: bytes) -> None:
    digest = sha256_digest(data)
    head = client.head(f"/v2/{repository}/blobs/{digest}")
    if head.status_code == 200:
        return
    start = client.post(f"/v2/{repository}/blobs/uploads/")
    if start.status_code != 202:
        raise RuntimeError(f"blob upload start: HTTP {start.status_code} {start.text[:200]}")
    location = client.base_url.join(start.headers["Location"])
    put = client.put(
        location.copy_merge_params({"digest": digest}),
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    if put.status_code != 201:
        raise RuntimeError(f"blob upload: HTTP {put.status_code} {put.text[:200]}")


def _put_manifest(
    client: httpx.Client, repository: str, reference: str, manifest: bytes, media_type: str
) -> None:
    r = client.put(
        f"/v2/{repository}/manifests/{reference}",
        content=manifest,
        headers={"Content-Type": media_type},
    )
    if r.status_code != 201:
        raise RuntimeError(f"manifest {reference}: HTTP {r.status_code} {r.text[:200]}")
    got = r.headers.get("Docker-Content-Digest")
    if got is not None and got != sha256_digest(manifest):
        raise RuntimeError(f"manifest {reference}: registry says {got}, not its digest")


def push_tags(
    base_url: str,
    repository: str,
    tags: Iterable[str],
    auth: AuthArg = None,
    verify: VerifyArg = True,
    *,
    content: str = "hello from conveyor\n",
    workers: int = 1,
    created: str | None = None,
    config: bytes | None = None,
) -> str:
    """Push one tiny image under every tag of ``tags``; return the manifest digest.

    ``base_url`` is ``http(s)://host:port``; ``auth`` is anything httpx takes (``(user, pw)``
    for htpasswd registries); ``verify`` is ``True``/``False`` or an ``ssl.SSLContext`` (see
    ``ssl_context``). ``workers`` > 1 puts the manifests over that many connections.
    ``created`` is the build time its config says (none by default); ``config`` replaces the
    config with any bytes.
    """
    config, layer, manifest = tiny_image(content, created=created, config=config)
    digest = sha256_digest(manifest)
    tag_list: Sequence[str] = list(tags)
    limits = httpx.Limits(
        max_connections=max(1, workers), max_keepalive_connections=max(1, workers)
    )
    with httpx.Client(
        base_url=base_url, auth=auth, verify=verify, timeout=30.0, limits=limits
    ) as client:
        _upload_blob(client, repository, config)
        _upload_blob(client, repository, layer)

        def put(tag: str) -> None:
            _put_manifest(client, repository, tag, manifest, OCI_MANIFEST)

        if workers <= 1:
            for tag in tag_list:
                put(tag)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for _ in pool.map(put, tag_list):
                    pass
    return digest


def push_index(
    base_url: str,
    repository: str,
    tags: Iterable[str],
    platforms: Mapping[str, str | None],
    auth: AuthArg = None,
    verify: VerifyArg = True,
    *,
    content: str = "hello from conveyor\n",
) -> str:
    """Push a multi-arch image under every tag of ``tags``: for each ``os/arch[/variant]`` of
    ``platforms`` an image whose config says that platform and its build time (the value;
    None: no ``created``), all under one OCI image index; return the index's digest."""
    entries: list[dict[str, object]] = []
    with httpx.Client(base_url=base_url, auth=auth, verify=verify, timeout=30.0) as client:
        for platform, created in platforms.items():
            config, layer, manifest = tiny_image(
                f"{content}{platform}\n", created=created, platform=platform
            )
            _upload_blob(client, repository, config)
            _upload_blob(client, repository, layer)
            digest = sha256_digest(manifest)
            _put_manifest(client, repository, digest, manifest, OCI_MANIFEST)
            os_name, architecture, *variant = platform.split("/")
            entry_platform = {"os": os_name, "architecture": architecture}
            if variant:
                entry_platform["variant"] = variant[0]
            entries.append(
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": digest,
                    "size": len(manifest),
                    "platform": entry_platform,
                }
            )
        index = json.dumps(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}, sort_keys=True
        ).encode()
        for tag in tags:
            _put_manifest(client, repository, tag, index, OCI_INDEX)
    return sha256_digest(index)
