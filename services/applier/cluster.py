"""The Kubernetes adapter: the only module that imports the kubernetes client."""

from __future__ import annotations

from typing import Any

from kubernetes import client, config, dynamic
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError

from shared.errors import PermanentError, TransientError

FIELD_MANAGER = "conveyor"


def _client(kubeconfig: str) -> dynamic.DynamicClient:
    try:
        api = config.new_client_from_config(config_file=kubeconfig)
    except Exception as exc:  # the loader raises several unrelated types
        raise PermanentError(f"cannot load kubeconfig: {exc}", reason="KubeConfigInvalid") from exc
    return dynamic.DynamicClient(api)


def _describe(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata", {})
    ns = meta.get("namespace")
    return f"{obj.get('kind')}/{ns + '/' if ns else ''}{meta.get('name')}"


def apply(objects: list[dict[str, Any]], kubeconfig: str, owner: str) -> int:
    """Server-side apply every object (Namespaces and CRDs first); the number applied."""
    dyn = _client(kubeconfig)
    first = ("CustomResourceDefinition", "Namespace")
    ordered = sorted(
        objects, key=lambda o: first.index(o["kind"]) if o.get("kind") in first else len(first)
    )
    for obj in ordered:
        try:
            resource = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
            resource.server_side_apply(
                body=obj,
                name=obj["metadata"]["name"],
                namespace=obj["metadata"].get("namespace") if resource.namespaced else None,
                field_manager=FIELD_MANAGER,
                force_conflicts=True,
            )
        except ResourceNotFoundError as exc:
            raise PermanentError(
                f"{owner}: {_describe(obj)}: no such kind on the cluster", reason="ApplyFailed"
            ) from exc
        except (DynamicApiError, ApiException) as exc:
            status = getattr(exc, "status", 0) or 0
            cls = PermanentError if 400 <= status < 500 and status != 429 else TransientError
            detail = exc.summary() if isinstance(exc, DynamicApiError) else str(exc.reason)
            raise cls(f"{owner}: {_describe(obj)}: {detail}", reason="ApplyFailed") from exc
    return len(ordered)


__all__ = ["apply", "client"]
