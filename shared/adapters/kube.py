"""The Kubernetes adapter: the only module that imports the kubernetes client.

A ``Cluster`` speaks the API server's REST protocol through the client's ``ApiClient`` (its
kubeconfig loading, TLS, token refresh and connection pool) but sends and reads JSON itself:
objects stay plain dicts, and a request costs what the HTTP round trip costs. Discovery is
per group/version, cached for the life of the ``Cluster``; ``connect`` keeps one ``Cluster`` per
target (kubeconfig, impersonated user) so reconciles reuse connections and discovery.

Every failure leaves this module as ``ApiRejected`` (the API server said no: 4xx but 429) or
``ApiUnavailable`` (no answer, 5xx, 429), carrying the server's status, reason and message.

The client (with requests, oauthlib, urllib3 and websocket: about 7 MB a process) is imported
when a cluster is first connected, not with this module: an applier whose Kustomizations apply
nowhere (``conveyor run`` on a manifest folder, no cluster) never carries it.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import yaml

from conveyor.shared.deadline import current_run, spent, waiting
from conveyor.shared.errors import PermanentError, TransientError

if TYPE_CHECKING:
    from kubernetes import client

FIELD_MANAGER = "conveyor"  # the field manager of every server-side apply
REQUEST_TIMEOUT = 30.0  # each request; inside a run, never past the run's deadline
POOL_SIZE = 32  # reconciles run in parallel, each with its own pool of requests
_CACHE_SIZE = 8

Obj = dict[str, Any]


@dataclass(frozen=True)
class Target:
    """Where to apply and as whom: a kubeconfig file, a kubeconfig's text (a remote cluster's
    Secret), or the pod's in-cluster credentials; optionally impersonating a user."""

    kubeconfig: str | None = None
    kubeconfig_data: str | None = None
    in_cluster: bool = False
    impersonate: str | None = None


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None, name: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced:
            if not namespace:
                raise ValueError(f"{self.kind} is namespaced: a namespace is required")
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        return base + (f"/{quote(name, safe='')}" if name else "")


# --- errors ------------------------------------------------------------------------------


class _ApiError:
    """What the API server said: HTTP status, its ``reason`` (Invalid, Forbidden, NotFound...)
    and its message, verbatim."""

    status: int
    api_reason: str
    api_message: str

    def _init_api(self, status: int, api_reason: str, api_message: str) -> None:
        self.status, self.api_reason, self.api_message = status, api_reason, api_message

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def immutable(self) -> bool:
        """A change to an immutable field (what ``force`` recreates the object for)."""
        text = self.api_message.lower()
        return self.status in (409, 422) and ("is immutable" in text or "immutable field" in text)


class ApiRejected(_ApiError, PermanentError):
    reason = "ReconciliationFailed"

    def __init__(self, message: str, *, status: int, api_reason: str, api_message: str) -> None:
        super().__init__(message)
        self._init_api(status, api_reason, api_message)


class ApiUnavailable(_ApiError, TransientError):
    reason = "ReconciliationFailed"

    def __init__(self, message: str, *, status: int, api_reason: str, api_message: str) -> None:
        super().__init__(message)
        self._init_api(status, api_reason, api_message)




def _status_message(status: int, data: bytes) -> tuple[str, str]:
    """(reason, message) of an API server error response (a meta/v1 Status, usually)."""
    try:
        body = json.loads(data)
    except ValueError:
        return "", data.decode("utf-8", "replace").strip()[:500] or f"HTTP {status}"
    if isinstance(body, dict):
        return str(body.get("reason", "")), str(body.get("message", "")) or f"HTTP {status}"
    return "", f"HTTP {status}"


class Cluster:
    """One API server, as one identity."""

    def __init__(self, api: client.ApiClient, label: str) -> None:
        import urllib3  # loaded with the client that built ``api``
        from kubernetes.client.exceptions import ApiException

        self.api = api
        self.label = label
        # what the client raises when a request gets no answer
        self._unanswered = (urllib3.exceptions.HTTPError, OSError, ApiException)
        self._discovery: dict[str, dict[str, Resource]] = {}
        self._lock = threading.Lock()

    # --- transport ---------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Obj | None:
        """One request; the decoded JSON answer, or None on 404."""
        headers = {"Accept": "application/json", "Content-Type": content_type}
        run = current_run()
        if run is not None and run.remaining() <= 0:
            raise ApiUnavailable(
                f"{self.label}: {method} {path}: timed out ({spent(run)})",
                status=0,
                api_reason="Timeout",
                api_message=spent(run),
            )
        timeout = waiting(f"{method} {path} on {self.label}", REQUEST_TIMEOUT)
        try:
            m, url, hdrs, _, _ = self.api.param_serialize(
                method,
                path,
                query_params=query or [],
                header_params=headers,
                auth_settings=["BearerToken"],
            )
            # a dict body is sent as JSON (the client serialises JSON and +yaml bodies alike)
            response = self.api.call_api(m, url, hdrs, body, _request_timeout=timeout)
            raw = response.read()
        except self._unanswered as exc:
            raise ApiUnavailable(
                f"{self.label}: {method} {path}: {type(exc).__name__}: {exc}",
                status=0,
                api_reason="",
                api_message=str(exc),
            ) from exc
        status = int(response.status)
        if 200 <= status < 300:
            return dict(json.loads(raw)) if raw else {}
        if status == 404 and method == "GET":
            return None
        reason, message = _status_message(status, raw)
        cls = ApiUnavailable if status >= 500 or status == 429 else ApiRejected
        if message.startswith("failed to create typed patch object"):
            cls = ApiRejected  # a patch that does not fit the schema (custom resources: a 500)
        raise cls(
            f"({reason or status}) {message}",
            status=status,
            api_reason=reason,
            api_message=message,
        )

    # --- discovery ---------------------------------------------------------------------

    def resource_for(self, api_version: str, kind: str) -> Resource | None:
        """How the API server serves ``kind`` of ``api_version``; None if it does not."""
        with self._lock:
            known = self._discovery.get(api_version, {}).get(kind)
        if known is not None:
            return known
        group, _, version = api_version.rpartition("/")
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        listing = self.request("GET", path) or {}
        found: dict[str, Resource] = {}
        for item in listing.get("resources") or []:
            name = str(item.get("name", ""))
            if "/" in name:  # a subresource (status, scale...)
                continue
            found[str(item.get("kind"))] = Resource(
                group=group,
                version=version,
                kind=str(item.get("kind")),
                plural=name,
                namespaced=bool(item.get("namespaced")),
            )
        with self._lock:
            self._discovery[api_version] = found
        return found.get(kind)

    # --- objects -----------------------------------------------------------------------

    def get(self, res: Resource, namespace: str | None, name: str) -> Obj | None:
        return self.request("GET", res.path(namespace, name))

    def list(self, res: Resource, namespace: str | None, label_selector: str = "") -> list[Obj]:
        query = [("labelSelector", label_selector)] if label_selector else []
        answer = self.request("GET", res.path(namespace), query=query) or {}
        items = []
        for item in answer.get("items") or []:
            item.setdefault("apiVersion", res.api_version)
            item.setdefault("kind", res.kind)
            items.append(item)
        return items

    def apply(self, res: Resource, obj: Obj, *, dry_run: bool = False, force: bool = True) -> Obj:
        """Server-side apply ``obj`` as field manager ``conveyor`` (taking over conflicting
        fields, as Flux does); with ``dry_run`` nothing is persisted."""
        meta = obj.get("metadata") or {}
        query = [("fieldManager", FIELD_MANAGER)]
        if force:
            query.append(("force", "true"))
        if dry_run:
            query.append(("dryRun", "All"))
        path = res.path(meta.get("namespace") if res.namespaced else None, str(meta["name"]))
        answer = self.request(
            "PATCH", path, query=query, body=obj, content_type="application/apply-patch+yaml"
        )
        return answer or {}

    def delete(self, res: Resource, namespace: str | None, name: str) -> bool:
        """Delete in the background (dependents are garbage-collected); False if it was gone."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        try:
            self.request("DELETE", res.path(namespace, name), body=body)
        except ApiRejected as exc:
            if exc.not_found:
                return False
            raise
        return True


# --- connections ------------------------------------------------------------------------------

_clients: OrderedDict[tuple[Any, ...], Cluster] = OrderedDict()
_clients_lock = threading.Lock()


def _configuration() -> client.Configuration:
    from kubernetes import client

    cfg = client.Configuration()
    cfg.connection_pool_maxsize = POOL_SIZE
    return cfg


def _new_client(target: Target) -> client.ApiClient:
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    cfg = _configuration()
    try:
        if target.kubeconfig_data is not None:
            data = yaml.safe_load(target.kubeconfig_data)
            if not isinstance(data, dict):
                raise ConfigException("the kubeconfig is not a YAML mapping")
            api: client.ApiClient = config.new_client_from_config_dict(
                data, persist_config=False, client_configuration=cfg
            )
            return api
        if target.kubeconfig:
            api = config.new_client_from_config(
                config_file=target.kubeconfig, persist_config=False, client_configuration=cfg
            )
            return api
        if target.in_cluster:
            config.load_incluster_config(client_configuration=cfg)
            return client.ApiClient(cfg)
    except (ConfigException, yaml.YAMLError, OSError, ValueError, TypeError, KeyError) as exc:
        raise PermanentError(
            f"failed to build kube client: {exc}", reason="ReconciliationFailed"
        ) from exc
    raise PermanentError("failed to build kube client: no cluster configured")


def _key(target: Target) -> tuple[Any, ...]:
    stamp = 0.0
    if target.kubeconfig and target.kubeconfig_data is None:
        try:
            stamp = os.stat(target.kubeconfig).st_mtime
        except OSError:
            stamp = -1.0
    return (target, stamp)


def configured_target(
    kubeconfig: str | None, in_cluster: bool, impersonate: str | None = None
) -> Target | None:
    """The cluster conveyor runs against (``KUBECONFIG``, else the pod's own credentials), or
    None when there is none."""
    if kubeconfig:
        return Target(kubeconfig=kubeconfig, impersonate=impersonate)
    if in_cluster:
        return Target(in_cluster=True, impersonate=impersonate)
    return None


def connect(target: Target) -> Cluster:
    """The ``Cluster`` for ``target``, reused across reconciles (a changed kubeconfig file, or
    another identity, gets a new one)."""
    key = _key(target)
    with _clients_lock:
        found = _clients.get(key)
        if found is not None:
            _clients.move_to_end(key)
            return found
    api = _new_client(target)
    label = "cluster" if target.kubeconfig_data is None else "remote cluster"
    if target.impersonate:
        api.set_default_header("Impersonate-User", target.impersonate)
    cluster = Cluster(api, label)
    with _clients_lock:
        _clients[key] = cluster
        while len(_clients) > _CACHE_SIZE:
            _clients.popitem(last=False)
    return cluster


# --- image pull secrets -----------------------------------------------------------------------


def pull_secret_configs(cluster: Cluster, namespace: str, service_account: str) -> list[bytes]:
    """The ``.dockerconfigjson`` of each ``imagePullSecrets`` entry of a ServiceAccount, in
    order (a missing Secret is passed over). Raises ``ApiRejected`` with ``not_found`` when the
    ServiceAccount does not exist."""
    base = f"/api/v1/namespaces/{quote(namespace, safe='')}"
    account = cluster.request("GET", f"{base}/serviceaccounts/{quote(service_account, safe='')}")
    if account is None:
        raise ApiRejected(
            f"ServiceAccount {namespace}/{service_account} not found",
            status=404,
            api_reason="NotFound",
            api_message="not found",
        )
    configs = []
    for ref in account.get("imagePullSecrets") or []:
        name = quote(str(ref.get("name", "")), safe="")
        secret = cluster.request("GET", f"{base}/secrets/{name}")
        data = (secret or {}).get("data") or {}
        if ".dockerconfigjson" in data:
            configs.append(base64.b64decode(data[".dockerconfigjson"]))
    return configs
