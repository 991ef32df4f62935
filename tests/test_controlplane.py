"""End-to-end check of the test control plane (tests/fixtures/controlplane.py).

Needs the binaries from ``tools/envtest/build.sh`` and kubectl on PATH (or at
/usr/bin/kubectl).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

from tests.fixtures.controlplane import ControlPlane, kubernetes_version

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"

NAMESPACE = "conveyor-controlplane-test"
FIELD_MANAGER = "conveyor-test"


def kubectl(
    cp: ControlPlane, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(cp.kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def kubectl_ok(cp: ControlPlane, *args: str, stdin: str | None = None) -> str:
    res = kubectl(cp, *args, stdin=stdin)
    assert res.returncode == 0, f"kubectl {' '.join(args)} failed:\n{res.stderr}"
    return res.stdout


MANIFEST = f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: {NAMESPACE}
data:
  image: ghcr.io/example/app:1.2.3
"""


def test_server_version_is_pinned_release(control_plane: ControlPlane) -> None:
    info: dict[str, Any] = json.loads(kubectl_ok(control_plane, "get", "--raw", "/version"))
    assert info["gitVersion"] == kubernetes_version()


def test_server_side_apply_roundtrip(control_plane: ControlPlane) -> None:
    out = kubectl_ok(
        control_plane,
        "apply",
        "--server-side",
        f"--field-manager={FIELD_MANAGER}",
        "-f",
        "-",
        stdin=MANIFEST,
    )
    assert f"namespace/{NAMESPACE} serverside-applied" in out
    assert "configmap/settings serverside-applied" in out

    cm: dict[str, Any] = json.loads(
        kubectl_ok(
            control_plane,
            "get",
            "configmap",
            "settings",
            "-n",
            NAMESPACE,
            "-o",
            "json",
            "--show-managed-fields",
        )
    )
    assert cm["data"] == {"image": "ghcr.io/example/app:1.2.3"}
    managers = {(m["manager"], m["operation"]) for m in cm["metadata"]["managedFields"]}
    assert (FIELD_MANAGER, "Apply") in managers

    # Re-applying a changed manifest updates the object in place.
    kubectl_ok(
        control_plane,
        "apply",
        "--server-side",
        f"--field-manager={FIELD_MANAGER}",
        "-f",
        "-",
        stdin=MANIFEST.replace("1.2.3", "1.2.4"),
    )
    image = kubectl_ok(
        control_plane,
        "get",
        "configmap",
        "settings",
        "-n",
        NAMESPACE,
        "-o",
        "jsonpath={.data.image}",
    )
    assert image == "ghcr.io/example/app:1.2.4"


def test_rbac_is_enforced(control_plane: ControlPlane) -> None:
    # The admin (system:masters) may do anything ...
    admin = kubectl(control_plane, "auth", "can-i", "create", "deployments")
    assert admin.stdout.strip() == "yes", admin.stderr
    # ... an unprivileged user may not: RBAC, not AlwaysAllow, is in charge.
    nobody = kubectl(control_plane, "auth", "can-i", "create", "deployments", "--as=nobody")
    assert nobody.stdout.strip() == "no", nobody.stderr
    assert nobody.returncode == 1
    denied = kubectl(control_plane, "get", "configmaps", "-n", NAMESPACE, "--as=nobody")
    assert denied.returncode != 0
    assert "forbidden" in denied.stderr.lower()
