"""ImageRepository spec.serviceAccountName: pull credentials from the ServiceAccount's
imagePullSecrets, read from a real kube-apiserver, against a registry with htpasswd auth."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

from conveyor.services.demo.oci import push_tags
from conveyor.services.registry_scanner.reconcile import STAGE
from conveyor.shared.bus import InlineDispatcher
from conveyor.shared.events import ReconcileRequested
from conveyor.shared.manifests import parse_manifests
from conveyor.shared.runtime import Context, Settings, handle
from conveyor.shared.store import Store
from tests.fixtures.controlplane import ControlPlane
from tests.fixtures.registries import Registry


def kubectl(cp: ControlPlane, *args: str, stdin: str = "") -> None:
    subprocess.run(
        ["kubectl", "--kubeconfig", str(cp.kubeconfig), *args],
        input=stdin,
        text=True,
        check=True,
        capture_output=True,
    )


def test_pull_secrets_of_the_service_account(
    control_plane: ControlPlane, redis_url: str, tmp_path: Path
) -> None:
    with Registry(htpasswd=("puller", "pull-s3cret")) as registry:
        push_tags(registry.url, "private/app", ["1.0.0", "1.1.0"], auth=("puller", "pull-s3cret"))
        config = {"auths": {registry.host: {"username": "puller", "password": "pull-s3cret"}}}
        kubectl(control_plane, "create", "namespace", "scan-sa")
        kubectl(
            control_plane,
            "-n",
            "scan-sa",
            "create",
            "secret",
            "generic",
            "regcred",
            "--type=kubernetes.io/dockerconfigjson",
            f"--from-literal=.dockerconfigjson={json.dumps(config)}",
        )
        kubectl(
            control_plane,
            "-n",
            "scan-sa",
            "apply",
            "-f",
            "-",
            stdin=(
                "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: scanner}\n"
                "imagePullSecrets: [{name: regcred}]\n"
            ),
        )
        store = Store.from_url(redis_url)
        for name, account in (("app", "scanner"), ("nobody", "missing")):
            store.put_object(
                parse_manifests(
                    "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\n"
                    f"metadata: {{name: {name}, namespace: scan-sa}}\n"
                    f"spec: {{image: {registry.host}/private/app, interval: 1m, insecure: true,"
                    f" serviceAccountName: {account}}}\n"
                )[0]
            )
        settings = Settings(data_dir=tmp_path, kubeconfig=str(control_plane.kubeconfig))
        ctx = Context(store, InlineDispatcher(), settings)
        for name in ("app", "nobody"):
            event = ReconcileRequested(kind="ImageRepository", namespace="scan-sa", name=name)
            handle(STAGE, event.to_message(), ctx)
    assert sorted(store.get_tags("ImageRepository/scan-sa/app") or []) == ["1.0.0", "1.1.0"]
    missing = store.get_status("ImageRepository/scan-sa/nobody").ready
    assert missing is not None and missing.status == "False"
    assert "ServiceAccount scan-sa/missing not found" in missing.message
    everything = json.dumps(
        [store.get_status(f"ImageRepository/scan-sa/{n}").wire() for n in ("app", "nobody")]
    )
    assert "pull-s3cret" not in everything
    assert base64.b64encode(b"puller:pull-s3cret").decode() not in everything
