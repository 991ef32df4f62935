"""``healthCheckExprs`` on the real API server: Flux's documented SealedSecret example verbatim,
with the status a controller would write (there is no sealed-secrets controller here)."""

from __future__ import annotations

import time
from typing import Any

import yaml
from kubernetes import client

from tests.applier.conftest import Kube, Pipeline, Source, body, git_repository, kustomization

GROUP = "bitnami.com"

# docs/spec/v1/kustomizations.md, "Health check expressions", verbatim
DOCUMENTED = """
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: sealed-secrets
  namespace: flux-system
spec:
  interval: 5m
  path: ./path/to/sealed/secrets
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
  timeout: 1m
  wait: true # Tells the controller to wait for all resources to be ready by performing health checks.
  healthCheckExprs:
    - apiVersion: bitnami.com/v1alpha1
      kind: SealedSecret
      failed: status.conditions.filter(e, e.type == 'Synced').all(e, e.status == 'False')
      current: status.conditions.filter(e, e.type == 'Synced').all(e, e.status == 'True')
"""  # noqa: E501 (the documentation's own line)


def sealed_secret_crd(kube: Kube) -> None:
    """SealedSecret's CRD (schema left open), once per control plane."""
    api = client.ApiextensionsV1Api(kube.api)
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"sealedsecrets.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": "sealedsecrets", "singular": "sealedsecret",
                      "kind": "SealedSecret"},
            "versions": [{
                "name": "v1alpha1", "served": True, "storage": True,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object",
                                               "x-kubernetes-preserve-unknown-fields": True}},
            }],
        },
    }
    try:
        api.create_custom_resource_definition(body(crd))
    except client.ApiException as exc:
        if exc.status != 409:
            raise
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = api.read_custom_resource_definition(f"sealedsecrets.{GROUP}")
        conditions = (found.status.conditions or []) if found.status else []
        if any(c.type == "Established" and c.status == "True" for c in conditions):
            return
        time.sleep(0.1)
    raise AssertionError("the SealedSecret CRD was not established")


def synced(kube: Kube, ns: str, value: str) -> None:
    """What the sealed-secrets controller writes once it has (or has not) unsealed."""
    current: Any = kube.custom.get_namespaced_custom_object(
        GROUP, "v1alpha1", ns, "sealedsecrets", "creds"
    )
    kube.custom.patch_namespaced_custom_object_status(
        GROUP, "v1alpha1", ns, "sealedsecrets", "creds",
        {"status": {"observedGeneration": current["metadata"]["generation"],
                    "conditions": [{"type": "Synced", "status": value,
                                    "reason": "x", "message": "unsealing"}]}},
    )


def test_health_check_exprs_of_flux_s_documentation_on_the_api_server(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    sealed_secret_crd(kube)
    ns = kube.namespace()
    kube.create_namespace(ns)
    secret = {"apiVersion": f"{GROUP}/v1alpha1", "kind": "SealedSecret",
              "metadata": {"name": "creds", "namespace": ns},
              "spec": {"encryptedData": {"password": "AgBy3i4OJSWK"}}}
    source.commit({"path/to/sealed/secrets/creds.yaml": yaml.safe_dump(secret)})
    documented = yaml.safe_load(DOCUMENTED)
    documented["spec"]["timeout"] = "2s"  # the documented 1m, shortened for the test
    pipeline.write(git_repository(source.url, name="flux-system") + "---\n"
                   + yaml.safe_dump(documented))

    # applied, no status yet: the expressions cannot be evaluated, it waits to the timeout
    assert pipeline.run() == 1
    ready = pipeline.ready("sealed-secrets")
    assert (ready.status, ready.reason) == ("False", "HealthCheckFailed")
    failed = documented["spec"]["healthCheckExprs"][0]["failed"]
    assert (
        f"timeout waiting for: [SealedSecret/{ns}/creds status: 'Unknown': failed to evaluate "
        f"the CEL expression '{failed}': no such attribute(s): status]"
    ) in ready.message

    synced(kube, ns, "False")  # failed: at once, not at the timeout
    documented["spec"]["timeout"] = "60s"
    pipeline.write(git_repository(source.url, name="flux-system") + "---\n"
                   + yaml.safe_dump(documented))
    started = time.monotonic()
    assert pipeline.run() == 1
    assert time.monotonic() - started < 30
    assert f"failed: [SealedSecret/{ns}/creds status: 'Failed']" in (
        pipeline.ready("sealed-secrets").message
    )

    synced(kube, ns, "True")
    assert pipeline.run() == 0, pipeline.output[-1]
    assert pipeline.ready("sealed-secrets").reason == "ReconciliationSucceeded"


def test_an_invalid_expression_stalls_before_anything_is_applied(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    ns = kube.namespace()
    kube.create_namespace(ns)
    source.commit({"d/cm.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
                                f"  namespace: {ns}\n"})
    exprs = [{"apiVersion": "example.com/v1", "kind": "Thing", "current": "status.ready =="}]
    pipeline.write(git_repository(source.url)
                   + kustomization("bad", "./d", wait=True, healthCheckExprs=exprs))
    assert pipeline.run() == 1
    status = pipeline.status("bad")
    stalled = status.condition("Stalled")
    assert stalled is not None and stalled.status == "True"
    ready = pipeline.ready("bad")
    assert ready.reason == "InvalidCELExpression"
    assert ready.message.startswith(
        "Kustomization flux-system/bad: Reconciliation failed terminally due to configuration "
        "error: failed to create custom status evaluator for healthchecks[0]: failed to parse "
        "the expression Current: failed to parse the CEL expression 'status.ready =='"
    )
    assert kube.config_map(ns, "c") is None
