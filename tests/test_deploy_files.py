"""The docker-compose stack and the cluster manifests, checked statically (no Docker here)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from conveyor.services.cli import parser
from conveyor.shared.kinds import STAGE_SERVICES as SERVICES

ROOT = Path(__file__).resolve().parent.parent


def test_compose_runs_redis_and_one_container_per_service() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services: dict[str, Any] = compose["services"]
    assert set(services) == {"redis", "receiver", *SERVICES}
    for name in [*SERVICES, "receiver"]:
        svc = services[name]
        args = parser().parse_args(svc["command"])
        assert args.command == "worker" and args.service == name
        assert svc["environment"]["REDIS_URL"] == "redis://redis:6379/0"
        assert svc["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["receiver"]["ports"] == ["9292:9292"]
    assert "--manifests" in services["receiver"]["command"]


def test_dockerfile_installs_the_package_and_runs_conveyor() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["conveyor"]' in text
    copied = ("COPY conveyor ./conveyor", "COPY shared ./shared", "COPY services ./services")
    for line in (*copied, "RUN pip install"):
        assert line in text
    assert "kubectl" in text and "git" in text
    # the data directory exists and belongs to the user the image runs as (a volume mounted
    # there takes its owner from the image)
    assert "USER 65532" in text
    assert "install -d -o 65532 -g 65532 /var/lib/conveyor" in text


def test_k8s_builds_with_kustomize_and_runs_every_service() -> None:
    out = subprocess.run(["kubectl", "kustomize", str(ROOT / "k8s")], capture_output=True,
                         text=True, check=True).stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert set(deployments) == {"redis", "receiver", *SERVICES}
    for name in [*SERVICES, "receiver"]:
        container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        args = parser().parse_args(container["args"])
        assert args.service == name
        assert container["image"] == "conveyor:dev"
        env = {e["name"]: e for e in container["env"]}
        # Redis's password from the Secret, into the URL by the kubelet: in no file, no argument
        assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "conveyor-redis", "key": "password"}
        assert env["REDIS_URL"]["value"] == "redis://:$(REDIS_PASSWORD)@redis:6379/0"
        assert [e["name"] for e in container["env"]].index("REDIS_PASSWORD") < list(
            env).index("REDIS_URL")  # $(VAR) expands only variables defined before it
        assert deployments[name]["metadata"]["namespace"] == "conveyor"
        # the key Secrets are sealed with in Redis: from a Secret the user creates, no value
        assert env["CONVEYOR_SECRET_KEY"]["valueFrom"]["secretKeyRef"] == {
            "name": "conveyor-secret-key", "key": "key"}
        assert "value" not in env["CONVEYOR_SECRET_KEY"]
    redis = deployments["redis"]["spec"]["template"]["spec"]["containers"][0]
    script = redis["command"][-1]
    assert "exec redis-server -" in script and "requirepass $REDIS_PASSWORD" in script  # stdin
    secret_env = {e["name"] for e in redis["env"] if "secretKeyRef" in e.get("valueFrom", {})}
    assert secret_env == {"REDIS_PASSWORD", "REDISCLI_AUTH"}  # the server's, the probe's
    receiver = deployments["receiver"]["spec"]["template"]["spec"]
    assert "--from-cluster" in receiver["containers"][0]["args"]  # Flux's own resources
    accounts = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ServiceAccount"}
    for name in [*SERVICES, "receiver"]:  # each service as its own account
        assert deployments[name]["spec"]["template"]["spec"]["serviceAccountName"] == name
        assert name in accounts
    # no binding to a built-in role (cluster-admin, admin, edit): each its own, narrow one
    # (tests/deploy/test_cluster_manifests.py checks on an API server what each can do)
    for binding in (d for d in docs if d["kind"] in ("ClusterRoleBinding", "RoleBinding")):
        assert binding["roleRef"]["name"].startswith("conveyor-"), binding
