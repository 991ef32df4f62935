"""``k8s/`` on a real API server: each service's ServiceAccount can do what the service does and
nothing else, and every pod meets the PodSecurity ``restricted`` level, which the namespace
enforces."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.controlplane import ControlPlane

ROOT = Path(__file__).resolve().parents[2]
NS = "conveyor"


def _kubectl(
    cp: ControlPlane, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(cp.kubeconfig), *args],
        input=stdin, capture_output=True, text=True, timeout=60, check=False,
    )


def _dry_run(cp: ControlPlane, obj: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return _kubectl(cp, "create", "--dry-run=server", "-f", "-", stdin=json.dumps(obj))


def _built() -> list[dict[str, Any]]:
    out = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "k8s")], capture_output=True, text=True, check=True
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.fixture(scope="module")
def installed(control_plane: ControlPlane) -> Iterator[list[dict[str, Any]]]:
    docs = _built()
    text = yaml.safe_dump_all(docs)
    done = _kubectl(control_plane, "apply", "--server-side", "-f", "-", stdin=text)
    assert done.returncode == 0, done.stderr
    yield docs
    _kubectl(control_plane, "delete", "--ignore-not-found", "--wait=false", "-f", "-", stdin=text)


def _can(cp: ControlPlane, account: str, verb: str, resource: str, *extra: str) -> bool:
    """What the API server's authorizer answers for ``account`` (a SubjectAccessReview, as
    ``kubectl auth can-i --as`` makes, without needing the resource's CRD installed)."""
    plural, _, group = resource.partition(".")
    attributes: dict[str, str] = {"verb": verb, "resource": plural, "group": group}
    args = list(extra)
    if "-n" in args:
        attributes["namespace"] = args[args.index("-n") + 1]
    for arg in args:
        if arg.startswith("--subresource="):
            attributes["subresource"] = arg.split("=", 1)[1]
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": f"system:serviceaccount:{NS}:{account}",
            "groups": [
                "system:serviceaccounts",
                f"system:serviceaccounts:{NS}",
                "system:authenticated",
            ],
            "resourceAttributes": attributes,
        },
    }
    done = _kubectl(cp, "create", "-o", "json", "-f", "-", stdin=json.dumps(review))
    assert done.returncode == 0, done.stderr
    return bool(json.loads(done.stdout)["status"].get("allowed"))


FLUX = [
    "gitrepositories.source.toolkit.fluxcd.io",
    "imagerepositories.image.toolkit.fluxcd.io",
    "imagepolicies.image.toolkit.fluxcd.io",
    "imageupdateautomations.image.toolkit.fluxcd.io",
    "kustomizations.kustomize.toolkit.fluxcd.io",
    "receivers.notification.toolkit.fluxcd.io",
]

# (verb, resource, extra args): what each service's account must be allowed, and refused
ALLOWED: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    "receiver": [
        *[(v, r, ("-A",)) for r in FLUX for v in ("get", "list", "watch")],
        *[("patch", r, ("--subresource=status", "-n", "apps")) for r in FLUX],
        ("list", "secrets", ("-A",)),
        ("list", "configmaps", ("-A",)),
        ("create", "events", ("-n", "apps")),
        ("patch", "events", ("-n", "apps")),
    ],
    "registry-scanner": [
        ("get", "serviceaccounts", ("-n", "apps")),
        ("get", "secrets", ("-n", "apps")),
    ],
    "applier": [("impersonate", "serviceaccounts", ("-n", "apps"))],
    "source-fetcher": [],
    "policy-evaluator": [],
    "git-committer": [],
}
REFUSED: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    "receiver": [
        *[("patch", r, ("-n", "apps")) for r in FLUX],  # the spec is the user's
        *[("delete", r, ("-n", "apps")) for r in FLUX],
        ("create", "deployments.apps", ("-n", "apps")),
        ("create", "secrets", ("-n", "apps")),
        ("impersonate", "serviceaccounts", ("-n", "apps")),
        ("delete", "events", ("-n", "apps")),
    ],
    "registry-scanner": [
        ("list", "secrets", ("-n", "apps")),  # only the Secrets it is pointed at, by name
        ("watch", "secrets", ("-n", "apps")),
        ("list", FLUX[1], ("-A",)),
        ("create", "deployments.apps", ("-n", "apps")),
    ],
    "applier": [
        # it writes nothing as itself: only as the Kustomization's ServiceAccount
        ("create", "deployments.apps", ("-n", "apps")),
        ("patch", "deployments.apps", ("-n", "apps")),
        ("delete", "configmaps", ("-n", "apps")),
        ("get", "secrets", ("-n", "apps")),
        ("impersonate", "users", ()),
        ("impersonate", "groups", ()),
        ("create", "clusterrolebindings.rbac.authorization.k8s.io", ()),
    ],
    **{
        quiet: [
            ("get", "secrets", ("-n", "apps")),
            ("list", FLUX[0], ("-A",)),
            ("create", "deployments.apps", ("-n", "apps")),
        ]
        for quiet in ("source-fetcher", "policy-evaluator", "git-committer")
    },
}


@pytest.mark.parametrize("service", sorted(ALLOWED))
def test_each_service_account_can_do_what_its_service_does_and_nothing_else(
    control_plane: ControlPlane, installed: list[dict[str, Any]], service: str
) -> None:
    for verb, resource, extra in ALLOWED[service]:
        assert _can(control_plane, service, verb, resource, *extra), (service, verb, resource)
    for verb, resource, extra in REFUSED[service]:
        assert not _can(control_plane, service, verb, resource, *extra), (service, verb, resource)


def test_the_applier_writes_through_a_tenant_account_only(
    control_plane: ControlPlane, installed: list[dict[str, Any]]
) -> None:
    """As itself the applier is refused; impersonating a tenant's ServiceAccount (which its
    tenant granted what its Kustomizations apply) the same write goes through."""
    _kubectl(control_plane, "create", "namespace", "tenant-a")
    _kubectl(control_plane, "-n", "tenant-a", "create", "serviceaccount", "deployer")
    _kubectl(
        control_plane, "-n", "tenant-a", "create", "role", "deployer",
        "--verb=get,list,create,patch,update,delete", "--resource=configmaps",
    )
    _kubectl(
        control_plane, "-n", "tenant-a", "create", "rolebinding", "deployer",
        "--role=deployer", "--serviceaccount=tenant-a:deployer",
    )
    configmap = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "app", "namespace": "tenant-a"},
        }
    )
    applier = f"system:serviceaccount:{NS}:applier"
    alone = _kubectl(control_plane, "apply", "--as", applier, "-f", "-", stdin=configmap)
    assert alone.returncode != 0 and "forbidden" in alone.stderr.lower(), alone
    # the applier's own identity impersonates the tenant: kubectl's --as is one impersonation,
    # so the second hop is checked with an access review made as the applier
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": applier,
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{NS}"],
            "resourceAttributes": {
                "verb": "impersonate", "resource": "serviceaccounts",
                "namespace": "tenant-a", "name": "deployer",
            },
        },
    }
    answer = _kubectl(control_plane, "create", "-o", "json", "-f", "-", stdin=json.dumps(review))
    assert json.loads(answer.stdout)["status"]["allowed"] is True, answer.stderr
    tenant = "system:serviceaccount:tenant-a:deployer"
    through = _kubectl(control_plane, "apply", "--as", tenant, "-f", "-", stdin=configmap)
    assert through.returncode == 0, through.stderr


def test_every_pod_meets_the_restricted_level_the_namespace_enforces(
    control_plane: ControlPlane, installed: list[dict[str, Any]]
) -> None:
    namespace = next(d for d in installed if d["kind"] == "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    deployments = [d for d in installed if d["kind"] == "Deployment"]
    assert len(deployments) == 7  # redis and the six services
    for deployment in deployments:
        template = deployment["spec"]["template"]
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"check-{deployment['metadata']['name']}", "namespace": NS},
            "spec": template["spec"],
        }
        done = _dry_run(control_plane, pod)
        assert done.returncode == 0, (deployment["metadata"]["name"], done.stderr)
        for container in template["spec"]["containers"]:
            assert ("livenessProbe" in container and "readinessProbe" in container) or (
                "livenessProbe" in container and deployment["metadata"]["name"] != "receiver"
            )
            assert container["resources"]["limits"]["memory"]
    # the control: the same namespace refuses a pod that runs as it pleases
    loose = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "loose", "namespace": NS},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    refused = _dry_run(control_plane, loose)
    assert refused.returncode != 0 and "restricted" in refused.stderr, refused.stderr


def test_only_the_receiver_is_reachable_and_redis_only_from_conveyor(
    installed: list[dict[str, Any]],
) -> None:
    policies = {d["metadata"]["name"]: d["spec"] for d in installed if d["kind"] == "NetworkPolicy"}
    assert policies["default-deny-ingress"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    assert policies["receiver"]["ingress"] == [{"ports": [{"port": 9292, "protocol": "TCP"}]}]
    (redis_rule,) = policies["redis"]["ingress"]
    assert redis_rule["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "conveyor"}}}
    ]
    services = [
        d for d in installed
        if d["kind"] == "Deployment" and d["metadata"]["name"] != "redis"
    ]
    for deployment in services:  # every service may reach Redis
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "conveyor"
    (redis,) = (
        d for d in installed if d["kind"] == "Deployment" and d["metadata"]["name"] == "redis"
    )
    assert redis["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] != "conveyor"
