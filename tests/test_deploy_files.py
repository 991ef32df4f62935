"""The docker-compose stack and the cluster manifests, checked statically (no Docker here)."""

from __future__ import annotations

import re
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
        # the password from the environment (or ./.env): compose refuses to start without it
        assert svc["environment"]["REDIS_URL"] == (
            "redis://:${REDIS_PASSWORD:?set REDIS_PASSWORD, e.g. in ./.env}@redis:6379/0")
        assert svc["depends_on"]["redis"]["condition"] == "service_healthy"
    redis = services["redis"]
    assert "requirepass $$REDIS_PASSWORD" in redis["command"][-1]  # stdin, not an argument
    assert set(redis["environment"]) == {"REDIS_PASSWORD", "REDISCLI_AUTH"}
    assert services["receiver"]["ports"] == ["${CONVEYOR_PORT:-9292}:9292"]  # 9292 by default
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


def _dockerfile_args(text: str) -> dict[str, str]:
    return dict(re.findall(r"^ARG (\w+)=(.*)$", text, flags=re.MULTILINE))


def test_dockerfile_base_image_is_pinned_to_a_multi_arch_index_digest() -> None:
    """The base is the official python:3.11-slim-bookworm by the digest of its image index
    (docker-library/repo-info lists it as application/vnd.oci.image.index.v1+json with
    linux/amd64 and linux/arm64/v8), a build argument so a build can bring another base."""
    text = (ROOT / "Dockerfile").read_text()
    assert re.findall(r"^FROM .*$", text, flags=re.MULTILINE) == ["FROM ${BASE_IMAGE}"]
    base = _dockerfile_args(text)["BASE_IMAGE"]
    assert re.fullmatch(r"python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", base), base


def test_dockerfile_checks_kubectl_by_the_published_checksum_of_each_arch() -> None:
    """kubectl v1.34.1's published sha256 for linux/amd64 and linux/arm64 are the defaults;
    TARGETARCH picks one, any other architecture is refused, and the file is checked before it
    is installed (tests/deploy/test_compose.py runs each case in a real build)."""
    text = (ROOT / "Dockerfile").read_text()
    args = _dockerfile_args(text)
    assert args["KUBECTL_VERSION"] == "v1.34.1"
    assert args["KUBECTL_SHA256_AMD64"] == (
        "7721f265e18709862655affba5343e85e1980639395d5754473dafaadcaa69e3")
    assert args["KUBECTL_SHA256_ARM64"] == (
        "420e6110e3ba7ee5a3927b5af868d18df17aae36b720529ffa4e9e945aa95450")
    assert re.search(r"^ARG TARGETARCH$", text, flags=re.MULTILINE)
    assert 'amd64) published="$KUBECTL_SHA256_AMD64"' in text
    assert 'arm64) published="$KUBECTL_SHA256_ARM64"' in text
    assert "*) echo \"kubectl: no published checksum for architecture $arch\" >&2; exit 1" in text
    download = text.index('curl -fsSLo /tmp/kubectl "$url"')
    check = text.index('echo "$sha256  /tmp/kubectl" | sha256sum -c -')
    install = text.index("install -m 0755 /tmp/kubectl /usr/local/bin/kubectl")
    assert download < check < install
    # nothing else is downloaded (apt-get checks its packages' signatures itself)
    assert len(re.findall(r"\b(?:curl|wget) -", text)) == 1 and "ADD " not in text


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
