"""Push a tiny real OCI image to a registry over the Distribution HTTP API, no Docker needed.

``push_tags`` uploads one config blob and one layer blob (monolithic upload: ``POST`` to open a
session, ``PUT ?digest=`` with the bytes), then ``PUT``s one OCI image manifest under every tag,
all on one keep-alive connection (or a few, with ``workers``), so 10,000 tags take seconds.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import ssl
import tarfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

AuthArg = httpx.Auth | tuple[str, str] | None
VerifyArg = ssl.SSLContext | bool


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tiny_image(content: str = "hello from conveyor\n") -> tuple[bytes, bytes, bytes]:
    """Return ``(config, layer, manifest)`` bytes for a one-file image; deterministic."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        data = content.encode()
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        tar.addfile(info, io.BytesIO(data))
    layer_tar = raw.getvalue()
    layer = gzip.compress(layer_tar, mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [sha256_digest(layer_tar)]},
        },
        sort_keys=True,
    ).encode()
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


def push_tags(
    base_url: str,
    repository: str,
    tags: Iterable[str],
    auth: AuthArg = None,
    verify: VerifyArg = True,
    *,
    content: str = "hello from conveyor\n",
    workers: int = 1,
) -> str:
    """Push one tiny image under every tag of ``tags``; return the manifest digest.

    ``base_url`` is ``http(s)://host:port``; ``auth`` is anything httpx takes (``(user, pw)``
    for htpasswd registries); ``verify`` is ``True``/``False`` or an ``ssl.SSLContext`` (see
    ``ssl_context``). ``workers`` > 1 puts the manifests over that many connections.
    """
    config, layer, manifest = tiny_image(content)
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
            r = client.put(
                f"/v2/{repository}/manifests/{tag}",
                content=manifest,
                headers={"Content-Type": OCI_MANIFEST},
            )
            if r.status_code != 201:
                raise RuntimeError(f"manifest {tag}: HTTP {r.status_code} {r.text[:200]}")
            got = r.headers.get("Docker-Content-Digest")
            if got is not None and got != digest:
                raise RuntimeError(f"manifest {tag}: registry says {got}, expected {digest}")

        if workers <= 1:
            for tag in tag_list:
                put(tag)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for _ in pool.map(put, tag_list):
                    pass
    return digest
