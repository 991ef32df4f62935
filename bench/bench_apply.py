"""Apply 200 objects with the applier and with ``kubectl apply --server-side``, same API server.

The set: 5 namespaces x (14 ConfigMaps, 13 Services, 13 Deployments) = 200 objects. Each
round applies it into fresh namespaces, once with the applier
(``conveyor.services.applier.manager``: server-side dry run of the whole set, then
server-side apply of what changed, the path every reconcile takes) and once with kubectl,
then re-applies it unchanged with the applier (the interval's drift check), also without its
no-op proofs (a dry run of every object, as Flux).
kubectl runs twice per round: with its defaults (client-side schema validation from the
OpenAPI document, the slow part) and with ``--validate=false`` (the API server still
validates); the applier is held to the faster of the two.

    python bench/bench_apply.py                 # starts etcd + kube-apiserver (tools/envtest)
    python bench/bench_apply.py --kubeconfig K  # an API server you already have

Targets: first apply within 1.5x of kubectl; no-change re-apply under 1 s.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conveyor.services.applier.manager import Manager
from conveyor.services.applier.objects import owner_labels, with_metadata
from conveyor.shared.adapters import kube as cluster_module
from conveyor.shared.adapters.kube import Target, connect

NAMESPACES = 5
CONFIGMAPS, SERVICES, DEPLOYMENTS = 14, 13, 13


def objects(prefix: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for n in range(NAMESPACES):
        ns = f"{prefix}-{n}"
        for i in range(CONFIGMAPS):
            out.append(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": f"config-{i}", "namespace": ns},
                    "data": {"index": str(i), "payload": "x" * 200},
                }
            )
        for i in range(SERVICES):
            out.append(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": f"svc-{i}", "namespace": ns},
                    "spec": {
                        # headless: the test control plane's service range has 254 addresses
                        "clusterIP": "None",
                        "selector": {"app": f"app-{i}"},
                        "ports": [{"port": 80, "targetPort": 8080}],
                    },
                }
            )
        for i in range(DEPLOYMENTS):
            labels = {"app": f"app-{i}"}
            out.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": f"app-{i}", "namespace": ns},
                    "spec": {
                        "replicas": 2,
                        "selector": {"matchLabels": labels},
                        "template": {
                            "metadata": {"labels": labels},
                            "spec": {
                                "containers": [
                                    {
                                        "name": "app",
                                        "image": f"registry.example/app-{i}:1.0.{i}",
                                        "ports": [{"containerPort": 8080}],
                                        "env": [{"name": "CONFIG", "value": f"config-{i}"}],
                                    }
                                ]
                            },
                        },
                    },
                }
            )
    return out


def kubectl(kubeconfig: Path, *args: str) -> None:
    subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), *args],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def make_namespaces(kubeconfig: Path, prefix: str, workdir: Path) -> None:
    docs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"{prefix}-{n}"}}
        for n in range(NAMESPACES)
    ]
    path = workdir / f"{prefix}-namespaces.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    kubectl(kubeconfig, "apply", "-f", str(path))


def time_kubectl(kubeconfig: Path, prefix: str, workdir: Path, *flags: str) -> float:
    make_namespaces(kubeconfig, prefix, workdir)
    path = workdir / f"{prefix}.yaml"
    path.write_text(yaml.safe_dump_all(objects(prefix)))
    started = time.perf_counter()
    kubectl(kubeconfig, "apply", "--server-side", *flags, "-f", str(path))
    return time.perf_counter() - started


def time_applier(
    kubeconfig: Path, prefix: str, workdir: Path
) -> tuple[float, float, float, int]:
    """(first apply, no-change re-apply, the same dry-running every object, objects the
    re-applies wrote); times in seconds."""
    make_namespaces(kubeconfig, prefix, workdir)
    path = workdir / f"{prefix}.yaml"
    path.write_text(yaml.safe_dump_all(objects(prefix)))
    cluster_module._clients.clear()  # a cold start: no connection, no discovery cached
    started = time.perf_counter()
    docs = [d for d in yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader) if d]
    desired = with_metadata(docs, owner_labels("bench", "bench"), {})
    manager = Manager(connect(Target(kubeconfig=str(kubeconfig))), "bench", "bench")
    changes = manager.apply(desired)
    first = time.perf_counter() - started
    assert sum(c.action == "created" for c in changes) == len(desired), changes
    started = time.perf_counter()
    again = manager.apply(desired)
    second = time.perf_counter() - started
    manager.noop_proofs = False
    started = time.perf_counter()
    dry = manager.apply(desired)
    third = time.perf_counter() - started
    written = sum(c.action != "unchanged" for c in [*again, *dry])
    return first, second, third, written


@contextlib.contextmanager
def api_server(kubeconfig: str | None) -> Iterator[Path]:
    if kubeconfig:
        yield Path(kubeconfig)
        return
    from tests.fixtures.controlplane import ControlPlane

    with ControlPlane() as cp:
        yield cp.kubeconfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", default=os.environ.get("BENCH_KUBECONFIG"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tag = f"{os.getpid() % 10000}"
    with api_server(args.kubeconfig) as kubeconfig, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        kubectl(kubeconfig, "get", "namespaces")  # warm both sides' first connection
        connect(Target(kubeconfig=str(kubeconfig))).resource_for("v1", "Namespace")
        rows: dict[str, list[float]] = {
            "kubectl": [], "kubectl-novalidate": [], "applier": [], "reapply": [],
            "reapply-dry": [],
        }
        written = 0
        for r in range(args.rounds):
            rows["kubectl"].append(time_kubectl(kubeconfig, f"k{tag}r{r}", workdir))
            rows["kubectl-novalidate"].append(
                time_kubectl(kubeconfig, f"v{tag}r{r}", workdir, "--validate=false")
            )
            first, second, third, wrote = time_applier(kubeconfig, f"a{tag}r{r}", workdir)
            rows["applier"].append(first)
            rows["reapply"].append(second)
            rows["reapply-dry"].append(third)
            written += wrote
        med = {k: statistics.median(v) for k, v in rows.items()}
        total = NAMESPACES * (CONFIGMAPS + SERVICES + DEPLOYMENTS)
        print(f"apply {total} objects ({NAMESPACES} namespaces), median of {args.rounds} rounds")
        for key, label in (
            ("kubectl", "kubectl apply --server-side"),
            ("kubectl-novalidate", "kubectl apply --server-side --validate=false"),
            ("applier", "applier, first apply (dry run + apply)"),
            ("reapply", "applier, no-change re-apply"),
            ("reapply-dry", "  the same, dry-running every object (Flux)"),
        ):
            values = " ".join(f"{v:.2f}" for v in rows[key])
            print(f"  {label:48s} {med[key]:6.2f} s   ({values})")
        best = min(med["kubectl"], med["kubectl-novalidate"])
        ratio = med["applier"] / best
        print(
            f"  ratio applier / fastest kubectl: {ratio:.2f} (target <= 1.5); "
            f"vs kubectl defaults: {med['applier'] / med['kubectl']:.2f}"
        )
        print(
            f"  no-change re-apply: {med['reapply']:.2f} s (target < 1 s), "
            f"objects written: {written}"
        )


if __name__ == "__main__":
    main()
