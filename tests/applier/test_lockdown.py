"""Flux's multi-tenancy lockdown: with a default ServiceAccount configured
(``CONVEYOR_DEFAULT_SERVICE_ACCOUNT``, Flux's ``--default-service-account``), a Kustomization that
names no ``spec.serviceAccountName`` is applied as that account of its own namespace, never as
conveyor itself; on a real API server."""

from __future__ import annotations

import dataclasses

from conveyor.shared.runtime import Settings
from tests.applier.conftest import Kube, Pipeline, Source, body, git_repository, kustomization
from tests.applier.test_apply import config_map


def _grant_config_maps(kube: Kube, ns: str, account: str) -> None:
    kube.rbac.create_namespaced_role(
        ns,
        body(
            {
                "metadata": {"name": f"{account}-configmaps"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}],
            }
        ),
    )
    kube.rbac.create_namespaced_role_binding(
        ns,
        body(
            {
                "metadata": {"name": f"{account}-configmaps"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": f"{account}-configmaps",
                },
                "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": ns}],
            }
        ),
    )


def test_the_environment_names_the_default_account() -> None:
    settings = Settings.from_environment({"CONVEYOR_DEFAULT_SERVICE_ACCOUNT": "default"})
    assert settings.default_service_account == "default"
    assert Settings.from_environment({}).default_service_account is None


def test_without_an_account_of_its_own_a_kustomization_applies_as_the_default_one(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    ns = kube.namespace()
    kube.create_namespace(ns)
    for account in ("default", "deployer"):
        kube.core.create_namespaced_service_account(ns, body({"metadata": {"name": account}}))
    source.commit({"a/cm.yaml": config_map(ns, "a", {"k": "v"})})
    source.commit({"b/cm.yaml": config_map(ns, "b", {"k": "v"})})
    pipeline.settings = dataclasses.replace(pipeline.settings, default_service_account="default")
    pipeline.write(
        git_repository(source.url, namespace=ns)
        + kustomization("plain", "./a", namespace=ns)
        + kustomization("own", "./b", namespace=ns, serviceAccountName="deployer")
    )
    _grant_config_maps(kube, ns, "deployer")
    assert pipeline.run() == 1
    plain = pipeline.ready("plain", ns)
    assert (plain.status, plain.reason) == ("False", "ReconciliationFailed")
    assert f'User "system:serviceaccount:{ns}:default" cannot patch resource "configmaps"' in (
        plain.message
    )
    assert kube.config_map(ns, "a") is None
    # one that names its own account is applied as that one
    assert pipeline.ready("own", ns).status == "True"
    assert kube.config_map(ns, "b") is not None

    _grant_config_maps(kube, ns, "default")  # the tenant grants its default account
    assert pipeline.run() == 0, pipeline.output[-1]
    assert kube.config_map(ns, "a") is not None
