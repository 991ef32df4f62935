"""What a stage needs to reach a Git remote or a registry for a Flux object: credentials from
the Secrets it names, TLS material, the shared per-host request budget.

The git-committer and the source-fetcher reach a GitRepository's remote alike, the
registry-scanner and the policy-evaluator (digests) an ImageRepository's registry alike: these
functions are the one way each is done.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from conveyor.shared import metrics
from conveyor.shared.errors import NotFound, PermanentError, TransientError
from conveyor.shared.models import GitRepository, ImageRepository
from conveyor.shared.runtime import Context

if TYPE_CHECKING:  # each adapter is imported where it is used: a worker loads only its own
    from conveyor.shared.adapters.git import GitAuth
    from conveyor.shared.adapters.oci.auth import Credentials
    from conveyor.shared.adapters.oci.client import RegistryOptions
    from conveyor.shared.adapters.oci.reference import ImageRef

DEFAULT_REGISTRY_TIMEOUT = 60.0


def source_auth(source: GitRepository, ctx: Context, owner: str) -> GitAuth | None:
    """Credentials for a GitRepository's remote, from the Secret its ``secretRef`` names."""
    from conveyor.shared.adapters.git import GitAuth

    if source.spec.secret_ref is None:
        return None
    secret = ctx.secret(source.namespace, source.spec.secret_ref.name, owner=owner)
    return GitAuth.from_secret(secret.data)


def service_account_credentials(
    repo: ImageRepository, registry: str, ctx: Context
) -> Credentials | None:
    """Credentials from the imagePullSecrets of ``spec.serviceAccountName`` in the cluster."""
    from conveyor.shared.adapters.kube import (
        ApiRejected,
        ApiUnavailable,
        configured_target,
        connect,
        pull_secret_configs,
    )
    from conveyor.shared.adapters.oci.auth import credentials_from_dockerconfigjson

    owner = f"ImageRepository {repo.namespace}/{repo.name}"
    account = repo.spec.service_account_name or ""
    target = configured_target(ctx.settings.kubeconfig, ctx.settings.in_cluster)
    if target is None:
        raise PermanentError(
            f"{owner}: spec.serviceAccountName needs a cluster (set KUBECONFIG)",
            reason="ClusterNotConfigured",
        )
    try:
        configs = pull_secret_configs(connect(target), repo.namespace, account)
    except ApiRejected as exc:
        if exc.not_found:
            raise NotFound(f"{owner}: ServiceAccount {repo.namespace}/{account} not found") from exc
        raise PermanentError(f"{owner}: reading spec.serviceAccountName: {exc}") from exc
    except ApiUnavailable as exc:
        raise TransientError(f"{owner}: reading spec.serviceAccountName: {exc}") from exc
    for config in configs:
        found = credentials_from_dockerconfigjson(config, registry)
        if found is not None:
            return found
    return None


def registry_options(repo: ImageRepository, ref: ImageRef, ctx: Context) -> RegistryOptions:
    """How to reach ``repo``'s registry: credentials (``secretRef``, else the pull secrets of
    ``serviceAccountName``), ``certSecretRef``, ``insecure``, ``timeout``."""
    from conveyor.shared.adapters.oci.auth import Credentials, credentials_from_dockerconfigjson
    from conveyor.shared.adapters.oci.client import RegistryOptions

    spec = repo.spec
    owner = f"ImageRepository {repo.namespace}/{repo.name}"
    credentials: Credentials | None = None
    if spec.secret_ref is not None:
        secret = ctx.secret(repo.namespace, spec.secret_ref.name, owner=owner)
        config = secret.data.get(".dockerconfigjson")
        if config is not None:
            credentials = credentials_from_dockerconfigjson(config, ref.registry)
        elif "username" in secret.data:
            credentials = Credentials(secret.text("username") or "", secret.text("password") or "")
    if credentials is None and spec.service_account_name:
        credentials = service_account_credentials(repo, ref.registry, ctx)
    ca = cert = key = None
    if spec.cert_secret_ref is not None:
        certs = ctx.secret(repo.namespace, spec.cert_secret_ref.name, owner=owner)
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
        timeout=spec.timeout or DEFAULT_REGISTRY_TIMEOUT,
        scratch=ctx.settings.scratch,
    )


def request_budget(ctx: Context) -> Callable[[str], None]:
    """Wait for the registry host's shared per-second budget before each request."""

    def wait(host: str) -> None:
        rate = ctx.settings.rps_for(host)
        while (delay := ctx.store.take_budget(f"registry:{host}", rate)) > 0:
            metrics.count("conveyor_rate_budget_waits_total", host=host)
            metrics.count("conveyor_rate_budget_wait_seconds_total", delay, host=host)
            time.sleep(delay)

    return wait
