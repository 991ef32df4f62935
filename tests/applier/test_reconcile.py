"""Health checks, dependsOn, postBuild substitution and suspend, on the real API server.

There is no kubelet and no controller-manager: a Deployment never gets ready by itself, so the
tests write the status a controller would, through the status subresource.
"""

from __future__ import annotations

import base64
import threading
import time

import yaml

from tests.applier.conftest import Kube, Pipeline, Source, body, git_repository, kustomization
from tests.applier.test_apply import config_map, deployment, revision

# --- health ----------------------------------------------------------------------------------


def test_wait_fails_naming_the_unready_object_then_passes_once_it_is_ready(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    ns = kube.namespace()
    kube.create_namespace(ns)
    commit = source.commit(
        {"d/app.yaml": deployment("web", "nginx", replicas=2, ns=ns)
         + config_map(ns, "settings", {"k": "v"})}
    )
    pipeline.write(git_repository(source.url) + kustomization("wait", "./d", wait=True,
                                                             timeout="2s"))
    started = time.monotonic()
    assert pipeline.run() == 1
    assert time.monotonic() - started >= 2.0  # it waited the whole timeout
    ready = pipeline.ready("wait")
    assert (ready.status, ready.reason) == ("False", "HealthCheckFailed")
    assert f"Deployment/{ns}/web status: 'InProgress': Replicas: 0/2" in ready.message
    assert "ConfigMap" not in ready.message  # healthy objects are not named
    status = pipeline.status("wait")
    # applied (and in the inventory), but not "applied" until healthy, as Flux
    assert kube.deployment(ns, "web") is not None
    assert status.inventory is not None and len(status.inventory.entries) == 2
    assert status.last_applied_revision is None
    assert status.last_attempted_revision == revision(commit)

    kube.deployment_ready(ns, "web", replicas=2)
    assert pipeline.run() == 0, pipeline.output[-1]
    assert pipeline.ready("wait").reason == "ReconciliationSucceeded"
    assert pipeline.status("wait").last_applied_revision == revision(commit)


def test_wait_returns_as_soon_as_the_status_turns_ready(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    ns = kube.namespace()
    kube.create_namespace(ns)
    source.commit({"d/app.yaml": deployment("web", "nginx", ns=ns)})
    pipeline.write(git_repository(source.url) + kustomization("patient", "./d", wait=True,
                                                             timeout="60s"))

    seen: list[str] = []

    def controller() -> None:  # what the deployment controller would do, a moment later
        deadline = time.monotonic() + 30
        while kube.deployment(ns, "web") is None and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        reconciling = pipeline.status("patient").condition("Reconciling")
        seen.append(f"{reconciling.status} {reconciling.reason}" if reconciling else "none")
        kube.deployment_ready(ns, "web")

    thread = threading.Thread(target=controller)
    thread.start()
    started = time.monotonic()
    code = pipeline.run()
    took = time.monotonic() - started
    thread.join()
    assert code == 0, pipeline.output[-1]
    assert took < 20, f"took {took:.1f}s: it should return once the Deployment is ready"
    assert seen == ["True Progressing"]  # while it waited, the status said so
    assert pipeline.ready("patient").reason == "ReconciliationSucceeded"
    assert pipeline.status("patient").condition("Reconciling") is None


def test_health_checks_job_and_custom_resource_with_ready_condition(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    ns = kube.namespace()
    group = f"{ns}.example.com"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"databases.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "databases", "singular": "database", "kind": "Database"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate", "namespace": ns},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "m", "image": "migrate:1"}],
                }
            }
        },
    }
    db = {"apiVersion": f"{group}/v1", "kind": "Database", "metadata": {"name": "db",
                                                                        "namespace": ns}}
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
    source.commit({"d/all.yaml": yaml.safe_dump_all([namespace, crd, job, db])})
    checks = [
        {"apiVersion": "batch/v1", "kind": "Job", "name": "migrate", "namespace": ns},
        {"apiVersion": f"{group}/v1", "kind": "Database", "name": "db", "namespace": ns},
    ]
    pipeline.write(
        git_repository(source.url)
        + kustomization("checks", "./d", healthChecks=checks, timeout="1s")
    )
    assert pipeline.run() == 1
    message = pipeline.ready("checks").message
    assert f"Job/{ns}/migrate status: 'InProgress': Job in progress" in message
    # kstatus: a custom resource that reports no status at all counts as current
    assert "Database" not in message

    kube.batch.patch_namespaced_job_status("migrate", ns, job_finished("Complete"))
    kube.custom.patch_namespaced_custom_object_status(
        group, "v1", ns, "databases", "db",
        {"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Booting",
                                    "message": "replaying the WAL"}]}},
    )
    assert pipeline.run() == 1
    message = pipeline.ready("checks").message
    assert "Job/" not in message
    assert f"Database/{ns}/db status: 'InProgress': replaying the WAL" in message

    kube.custom.patch_namespaced_custom_object_status(
        group, "v1", ns, "databases", "db",
        {"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Up",
                                    "message": "accepting connections"}]}},
    )
    assert pipeline.run() == 0, pipeline.output[-1]

    # a failed Job fails the check at once, without waiting for the timeout
    broken = {**job, "metadata": {"name": "broken", "namespace": ns}}
    kube.batch.create_namespaced_job(ns, body(broken))
    kube.batch.patch_namespaced_job_status("broken", ns, job_finished("Failed"))
    source.commit({"e/job.yaml": yaml.safe_dump(broken)})
    check = [{"apiVersion": "batch/v1", "kind": "Job", "name": "broken", "namespace": ns}]
    pipeline.write(
        git_repository(source.url)
        + kustomization("checks", "./d", healthChecks=checks, timeout="1s")
        + kustomization("failing", "./e", healthChecks=check, timeout="60s")
    )
    started = time.monotonic()
    assert pipeline.run() == 1
    assert time.monotonic() - started < 30
    message = pipeline.ready("failing").message
    assert f"failed: [Job/{ns}/broken status: 'Failed': Job Failed. failed: 1/1]" in message


def job_finished(how: str) -> dict[str, object]:
    """A Job's status as the job controller writes it when the Job is done."""
    now = "2026-01-01T00:00:00Z"
    if how == "Complete":
        conditions = [("SuccessCriteriaMet", "CompletionsReached"), ("Complete", "Done")]
        counts = {"succeeded": 1, "completionTime": now}
    else:
        conditions = [("FailureTarget", "BackoffLimitExceeded"), ("Failed", "BackoffLimitExceeded")]
        counts = {"failed": 1}
    return {
        "status": {
            "startTime": now,
            **counts,
            "conditions": [
                {"type": t, "status": "True", "reason": r, "lastTransitionTime": now}
                for t, r in conditions
            ],
        }
    }


# --- dependsOn -------------------------------------------------------------------------------


def test_depends_on_waits_for_the_dependency_then_follows_it(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    ns = kube.namespace()
    namespace = f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n"
    commit = source.commit(
        {"infra/ns.yaml": namespace, "apps/app.yaml": config_map(ns, "app", {"k": "v"})}
    )
    # "apps" sorts (and so runs) before "infra": it must wait, then follow when infra is Ready
    pipeline.write(
        git_repository(source.url)
        + kustomization("infra", "./infra")
        + kustomization("apps", "./apps", dependsOn=[{"name": "infra"}])
    )
    assert pipeline.run() == 0, pipeline.output[-1]
    assert kube.config_map(ns, "app") is not None
    assert pipeline.status("apps").last_applied_revision == revision(commit)
    waited = [
        e for e in pipeline.store.journal()
        if e["type"] == "ReconcileRequested" and e.get("reason") == "dependency ready"
    ]
    assert [(e["name"], e["service"]) for e in waited] == [("apps", "applier")]

    # the dependency fails: the dependent says so and applies nothing new
    source.commit(
        {
            "infra/bad.yaml": deployment("bad", "x", replicas=-1, ns=ns),
            "apps/app.yaml": config_map(ns, "app", {"k": "changed"}),
        }
    )
    assert pipeline.run() == 1
    ready = pipeline.ready("apps")
    assert (ready.status, ready.reason) == ("False", "DependencyNotReady")
    # apps ran first (it sorts first): infra was still at the old revision, then failed
    assert ready.message in (
        "dependency 'flux-system/infra' is not ready",
        "dependency 'flux-system/infra' revision is not up to date",
    )
    assert kube.config_map(ns, "app")["data"] == {"k": "v"}  # type: ignore[index]


def test_a_missing_dependency_is_named(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    source.commit({"apps/app.yaml": config_map("default", kube.namespace(), {})})
    pipeline.write(
        git_repository(source.url)
        + kustomization("apps", "./apps", dependsOn=[{"name": "nope", "namespace": "infra"}])
    )
    assert pipeline.run() == 1
    ready = pipeline.ready("apps")
    assert (ready.reason, ready.message) == (
        "DependencyNotReady", "dependency 'infra/nope' not found"
    )


# --- postBuild -------------------------------------------------------------------------------


def test_post_build_substitution_from_inline_configmap_and_secret(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    ns = kube.namespace()
    kube.create_namespace(ns)
    source.commit(
        {
            "d/app.yaml": f"""
                apiVersion: apps/v1
                kind: Deployment
                metadata:
                  name: ${{app_name}}
                  namespace: {ns}
                  labels:
                    env: ${{cluster_env:=dev}}
                    region: ${{region}}
                spec:
                  replicas: ${{replicas}}
                  selector: {{matchLabels: {{app: web}}}}
                  template:
                    metadata: {{labels: {{app: web}}}}
                    spec:
                      containers:
                        - name: app
                          image: nginx:${{tag:=latest}}
                          args: ["$${{HOME}}", "$PATH", "${{missing}}x"]
                          env:
                            - {{name: TOKEN, value: "${{token}}"}}
                """,
            "d/raw.yaml": f"""
                apiVersion: v1
                kind: ConfigMap
                metadata:
                  name: script
                  namespace: {ns}
                  annotations:
                    kustomize.toolkit.fluxcd.io/substitute: disabled
                data:
                  run.sh: echo ${{app_name}}
                """,
        }
    )
    extra = f"""
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cluster-vars
  namespace: flux-system
data:
  region: eu-central-1
  replicas: "3"
  app_name: from-configmap
---
apiVersion: v1
kind: Secret
metadata:
  name: cluster-secrets
  namespace: flux-system
data:
  token: {base64.b64encode(b"s3cr3t").decode()}
"""
    post_build = {
        "substitute": {"app_name": "web", "tag": "1.25"},
        "substituteFrom": [
            {"kind": "ConfigMap", "name": "cluster-vars"},
            {"kind": "Secret", "name": "cluster-secrets"},
            {"kind": "ConfigMap", "name": "optional-vars", "optional": True},
        ],
    }
    pipeline.write(
        git_repository(source.url) + extra + kustomization("vars", "./d", postBuild=post_build)
    )
    assert pipeline.run() == 0, pipeline.output[-1]
    dep = kube.deployment(ns, "web")  # inline substitute wins over the ConfigMap's app_name
    assert dep is not None
    assert dep["spec"]["replicas"] == 3  # substituted as YAML: a number
    assert dep["metadata"]["labels"]["env"] == "dev"
    assert dep["metadata"]["labels"]["region"] == "eu-central-1"
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.25"
    assert container["args"] == ["${HOME}", "$PATH", "x"]
    assert container["env"] == [{"name": "TOKEN", "value": "s3cr3t"}]
    script = kube.config_map(ns, "script")
    assert script is not None and script["data"] == {"run.sh": "echo ${app_name}"}

    # a required source that does not exist fails the build, naming it
    post_build["substituteFrom"].append({"kind": "Secret", "name": "absent"})  # type: ignore[attr-defined]
    pipeline.write(
        git_repository(source.url) + extra + kustomization("vars", "./d", postBuild=post_build)
    )
    assert pipeline.run() == 1
    ready = pipeline.ready("vars")
    assert ready.reason == "BuildFailed"
    assert "substitute from 'Secret/absent' error: not found" in ready.message


# --- suspend ---------------------------------------------------------------------------------


def test_suspend_stops_applying_and_drift_correction(
    kube: Kube, source: Source, pipeline: Pipeline
) -> None:
    ns = kube.namespace()
    kube.create_namespace(ns)
    source.commit({"d/cm.yaml": config_map(ns, "c", {"k": "1"})})
    flux = git_repository(source.url)
    pipeline.write(flux + kustomization("sus", "./d"))
    assert pipeline.run() == 0
    kube.core.patch_namespaced_config_map("c", ns, {"data": {"k": "hand"}})
    source.commit({"d/cm2.yaml": config_map(ns, "c2", {})})
    pipeline.write(flux + kustomization("sus", "./d", suspend=True))
    pipeline.run()
    assert kube.config_map(ns, "c")["data"] == {"k": "hand"}  # type: ignore[index]
    assert kube.config_map(ns, "c2") is None
    pipeline.write(flux + kustomization("sus", "./d", suspend=False))
    assert pipeline.run() == 0
    assert kube.config_map(ns, "c")["data"] == {"k": "1"}  # type: ignore[index]
    assert kube.config_map(ns, "c2") is not None


# --- Stalled and retryInterval ---------------------------------------------------------------


def test_a_path_outside_the_source_stalls_until_the_spec_changes(
    source: Source, pipeline: Pipeline
) -> None:
    source.commit({"d/cm.yaml": config_map("default", "x", {})})
    pipeline.write(git_repository(source.url) + kustomization("escape", "../../etc"))
    assert pipeline.run() == 1
    status = pipeline.status("escape")
    stalled = status.condition("Stalled")
    assert stalled is not None and stalled.status == "True" and stalled.reason == "InvalidSpec"
    assert "spec.path '../../etc' leaves the source" in pipeline.ready("escape").message


def test_retries_back_off_up_to_the_retry_interval(pipeline: Pipeline, source: Source) -> None:
    """A transient failure (here: a dependency not ready) is retried with backoff capped at
    ``retryInterval``, not ``interval``."""
    from typing import Any

    from conveyor.services.runner import load_stage
    from conveyor.shared.events import ReconcileRequested
    from conveyor.shared.runtime import Context, reconcile_one

    class Recorder:
        def __init__(self) -> None:
            self.sent: list[tuple[str, dict[str, Any], float]] = []

        def send(self, service: str, message: dict[str, Any], countdown: float = 0.0) -> None:
            self.sent.append((service, message, countdown))

    source.commit({"d/cm.yaml": config_map("default", "x", {})})
    pipeline.write(
        git_repository(source.url)
        + kustomization("retry", "./d", interval="10m", retryInterval="2s",
                        dependsOn=[{"name": "absent"}])
    )
    assert pipeline.run() == 1
    recorder = Recorder()
    ctx = Context(store=pipeline.store, dispatcher=recorder, settings=pipeline.settings)
    for _ in range(5):  # each retry is a new request (an older one would be coalesced)
        event = ReconcileRequested(kind="Kustomization", namespace="flux-system", name="retry")
        reconcile_one(load_stage("applier"), "Kustomization/flux-system/retry", event, ctx)
    delays = [countdown for service, message, countdown in recorder.sent
              if message["type"] == "ReconcileRequested" and message["reason"] == "retry"]
    assert len(delays) == 5
    assert max(delays) <= 2.0 * 1.2  # capped by retryInterval (2s, with jitter), not 10m
    assert pipeline.ready("retry").reason == "DependencyNotReady"
