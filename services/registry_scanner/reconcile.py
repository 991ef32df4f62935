"""ImageRepository: list the tags, drop excluded ones, store them, announce a changed set."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable

from services.applier.errors import ApiRejected, ApiUnavailable
from services.registry_scanner.auth import Credentials, credentials_from_dockerconfigjson
from services.registry_scanner.reference import ImageRef, parse_image
from services.registry_scanner.registry import RegistryClient, RegistryOptions
from shared.errors import InvalidSpec, NotFound, PermanentError, TransientError
from shared.events import Event, TagsScanned
from shared.goregexp import GoRegexp, GoRegexpError
from shared.models import FluxObject, ImageRepositorySpec
from shared.runtime import Context, Outcome, Stage
from shared.status import ImageRepositoryStatus, ScanResult, Status

LATEST_TAGS = 10
DEFAULT_TIMEOUT = 60.0


def exclude(tags: list[str], patterns: list[str], owner: str) -> list[str]:
    """Tags that match none of ``patterns`` (Go regexp syntax, like Flux's exclusionList)."""
    compiled = []
    for i, pattern in enumerate(patterns):
        try:
            compiled.append(GoRegexp(pattern))
        except GoRegexpError as exc:
            raise InvalidSpec(f"{owner}: spec.exclusionList[{i}]: invalid pattern: {exc}") from exc
    return [t for t in tags if not any(c.find_submatch_index(t) is not None for c in compiled)]


def tag_set_revision(tags: list[str]) -> str:
    """A stable hash of the tag set: the same tags in any order give the same revision."""
    return hashlib.sha256("\n".join(sorted(set(tags))).encode()).hexdigest()[:16]


def service_account_credentials(obj: FluxObject, registry: str, ctx: Context) -> Credentials | None:
    """Credentials from the imagePullSecrets of ``spec.serviceAccountName`` in the cluster."""
    from services.applier.cluster import configured_target, connect

    spec: ImageRepositorySpec = obj.spec
    owner = f"ImageRepository {obj.namespace}/{obj.name}"
    target = configured_target(ctx.settings.kubeconfig, ctx.settings.in_cluster)
    if target is None:
        raise PermanentError(
            f"{owner}: spec.serviceAccountName needs a cluster (set KUBECONFIG)",
            reason="ClusterNotConfigured",
        )
    cluster = connect(target)
    try:
        account = cluster.request(
            "GET", f"/api/v1/namespaces/{obj.namespace}/serviceaccounts/{spec.service_account_name}"
        )
        if account is None:
            raise NotFound(
                f"{owner}: ServiceAccount {obj.namespace}/{spec.service_account_name} not found"
            )
        for ref in account.get("imagePullSecrets") or []:
            secret = cluster.request(
                "GET", f"/api/v1/namespaces/{obj.namespace}/secrets/{ref.get('name')}"
            )
            data = (secret or {}).get("data") or {}
            if ".dockerconfigjson" in data:
                found = credentials_from_dockerconfigjson(
                    base64.b64decode(data[".dockerconfigjson"]), registry
                )
                if found is not None:
                    return found
    except ApiRejected as exc:
        raise PermanentError(f"{owner}: reading spec.serviceAccountName: {exc}") from exc
    except ApiUnavailable as exc:
        raise TransientError(f"{owner}: reading spec.serviceAccountName: {exc}") from exc
    return None


def registry_options(obj: FluxObject, ref: ImageRef, ctx: Context) -> RegistryOptions:
    spec: ImageRepositorySpec = obj.spec
    owner = f"ImageRepository {obj.namespace}/{obj.name}"
    credentials: Credentials | None = None
    if spec.secret_ref is not None:
        secret = ctx.secret(obj.namespace, spec.secret_ref.name, owner=owner)
        config = secret.data.get(".dockerconfigjson")
        if config is not None:
            credentials = credentials_from_dockerconfigjson(config, ref.registry)
        elif "username" in secret.data:
            credentials = Credentials(secret.text("username") or "", secret.text("password") or "")
    if credentials is None and spec.service_account_name:
        credentials = service_account_credentials(obj, ref.registry, ctx)
    ca = cert = key = None
    if spec.cert_secret_ref is not None:
        certs = ctx.secret(obj.namespace, spec.cert_secret_ref.name, owner=owner)
        ca, cert, key = (
            certs.data.get("ca.crt") or certs.data.get("caFile"),
            certs.data.get("tls.crt") or certs.data.get("certFile"),
            certs.data.get("tls.key") or certs.data.get("keyFile"),
        )
    return RegistryOptions(
        insecure=spec.insecure,
        credentials=credentials,
        ca_pem=ca,
        client_cert_pem=cert,
        client_key_pem=key,
        timeout=spec.timeout or DEFAULT_TIMEOUT,
    )


def request_budget(ctx: Context) -> Callable[[str], None]:
    """Wait for the registry host's shared per-second budget before each request."""

    def wait(host: str) -> None:
        rate = ctx.settings.rps_for(host)
        while (delay := ctx.store.take_budget(f"registry:{host}", rate)) > 0:
            time.sleep(delay)

    return wait


def reconcile(obj: FluxObject, status: Status, ctx: Context, event: Event) -> Outcome:
    assert isinstance(status, ImageRepositoryStatus)
    spec: ImageRepositorySpec = obj.spec
    owner = f"ImageRepository {obj.namespace}/{obj.name}"
    try:
        ref = parse_image(spec.image)
    except InvalidSpec as exc:
        raise InvalidSpec(f"{owner}: spec.image: {exc}") from exc
    options = registry_options(obj, ref, ctx)
    with RegistryClient(ref, options, throttle=request_budget(ctx)) as client:
        tags = client.list_tags()
    tags = exclude(tags, spec.exclusion_list, owner)
    revision = tag_set_revision(tags)
    previous = status.last_scan_result.revision if status.last_scan_result else None
    stored = ctx.store.get_tags(obj.key) is not None
    ctx.store.put_tags(obj.key, tags)
    status.canonical_image_name = ref.canonical
    status.observed_exclusion_list = list(spec.exclusion_list)
    status.last_scan_result = ScanResult(
        revision=revision,
        tag_count=len(tags),
        latest_tags=sorted(tags, reverse=True)[:LATEST_TAGS],
    )
    status.mark_ready(
        "Succeeded", f"successful scan: found {len(tags)} tags", obj.metadata.generation
    )
    events: list[Event] = []
    if revision != previous or not stored:
        events.append(
            event.follow(
                TagsScanned,
                namespace=obj.namespace,
                name=obj.name,
                revision=revision,
                tag_count=len(tags),
            )
        )
    return Outcome(status, events)


def targets(event: Event, ctx: Context) -> list[str]:
    return []


STAGE = Stage(
    service="registry-scanner", kind="ImageRepository", reconcile=reconcile, targets=targets
)
