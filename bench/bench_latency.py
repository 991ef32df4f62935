"""Push → Deployment latency on one app, through the real registry's push notifications to a real
API server, and where the time goes.

Starts etcd + kube-apiserver (tools/envtest), the Distribution registry with a notification
endpoint pointing at a ``generic`` Receiver, the seed scenario's bare repository and manifests,
and ``conveyor run`` (embedded Redis, every stage in its one process). Then pushes ``--pushes``
new tags one after another and, for each, measures the time from the registry accepting the
manifest to the Deployment in the API server carrying the tag; and, from the journal (every
event with its trace id, when it was emitted and when the next stage started on it), each hop
and each stage.

    python bench/bench_latency.py [--pushes 20]

Target (issue "Fleet scale"): p50 ≤ 0.3 s, p99 ≤ 1 s (Flux with registry and Git webhooks:
0.65 s median, measured before on this machine).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from conveyor.services.demo.oci import push_tags
from conveyor.services.demo.scenario import ci_tags, create
from tests.fixtures.controlplane import ControlPlane
from tests.fixtures.registries import (
    Registry,
    free_port,
    notification_hook,
    notification_receiver,
)

TOKEN = "bench-latency-token"


def image_watch(kubeconfig: Path) -> Any:
    """A function that returns the Deployment's image, polling through one kept connection."""
    from conveyor.shared.adapters.kube import Target, connect

    cluster = connect(Target(kubeconfig=str(kubeconfig)))
    path = "/apis/apps/v1/namespaces/default/deployments/gitops-demo-app"

    def image() -> str:
        found = cluster.request("GET", path) or {}
        containers = found.get("spec", {}).get("template", {}).get("spec", {}).get(
            "containers", [{}]
        )
        return str(containers[0].get("image", ""))

    return image


EMITTED_BY = {
    "TagsScanned": "registry-scanner",
    "PolicyChanged": "policy-evaluator",
    "CommitPushed": "git-committer",
    "SourceUpdated": "source-fetcher",
}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def journal(data: Path) -> list[dict[str, Any]]:
    """The runs in the journal (not the notices journaled beside them: no ``started_at``)."""
    client = redis.Redis(unix_socket_path=str(data / "redis" / "redis.sock"))
    entries = (json.loads(e) for e in client.lrange("conveyor:journal", 0, -1))
    return [e for e in entries if "started_at" in e]


def hops_of(entries: list[dict[str, Any]], tag: str) -> dict[str, float]:
    """The hops of the trace that carried ``tag``: event → the stage that started on it."""
    changed = [e for e in entries if e["type"] == "PolicyChanged" and e.get("tag") == tag]
    if not changed:
        return {}
    trace = changed[0]["trace_id"]
    chain = sorted((e for e in entries if e["trace_id"] == trace), key=lambda e: e["started_at"])
    out: dict[str, float] = {}
    for entry in chain:
        name = f"{entry['type']} → {entry['service']}"
        out.setdefault(name, entry["started_at"] - entry["emitted_at"])
    return out


def stages_of(
    entries: list[dict[str, Any]], tag: str, pushed: float, seen: float
) -> dict[str, float]:
    """Where the time of the trace that carried ``tag`` went: the registry's notification
    (manifest accepted → the webhook's request emitted), each stage (started on an event →
    emitted the next), and the applier (started → the Deployment seen with the tag)."""
    changed = [e for e in entries if e["type"] == "PolicyChanged" and e.get("tag") == tag]
    if not changed:
        return {}
    trace = changed[0]["trace_id"]
    chain = sorted((e for e in entries if e["trace_id"] == trace), key=lambda e: e["started_at"])
    out: dict[str, float] = {"notification → receiver": chain[0]["emitted_at"] - pushed}
    for entry in chain:  # a stage ran from starting on its event to emitting the next
        emitter = EMITTED_BY.get(entry["type"])
        began = [e for e in chain if e["service"] == emitter]
        if emitter and began:
            out.setdefault(emitter, entry["emitted_at"] - began[0]["started_at"])
    applied = [e for e in chain if e["service"] == "applier"]
    if applied:
        out["applier (until the Deployment is seen)"] = seen - applied[0]["started_at"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=20)
    args = parser.parse_args()
    tags = ci_tags(args.pushes + 1)
    port = free_port()
    hook = notification_hook(port, TOKEN)
    with (
        tempfile.TemporaryDirectory(prefix="conveyor-latency-") as tmp,
        ControlPlane() as cp,
        Registry(notifications=[hook]) as registry,
    ):
        root = Path(tmp)
        demo = create(root / "demo", registry.host)
        (demo.manifests / "receiver.yaml").write_text(notification_receiver(TOKEN))
        repository = demo.image.split("/", 1)[1]
        push_tags(registry.url, repository, tags[:1])
        env = {**os.environ, "KUBECONFIG": str(cp.kubeconfig)}
        env.pop("REDIS_URL", None)
        data = root / "data"
        log = open(root / "conveyor.log", "wb")  # noqa: SIM115 - closed below
        proc = subprocess.Popen(
            ["conveyor", "run", "--manifests", str(demo.manifests), "--data", str(data),
             "--listen", f"127.0.0.1:{port}"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        latencies: list[float] = []
        clock: dict[str, tuple[float, float]] = {}  # tag: (pushed, seen), wall clock
        hops: dict[str, list[float]] = {}
        stages: dict[str, list[float]] = {}
        try:
            image = image_watch(cp.kubeconfig)
            deadline = time.monotonic() + 120
            while not image().endswith(f":{tags[0]}"):
                if time.monotonic() > deadline:
                    raise SystemExit("the first tag never reached the Deployment")
                time.sleep(0.1)
            time.sleep(2)  # let the start-up runs settle
            for tag in tags[1:]:
                push_tags(registry.url, repository, [tag])
                pushed, wall = time.monotonic(), time.time()
                while not image().endswith(f":{tag}"):
                    if time.monotonic() - pushed > 30:
                        raise SystemExit(f"{tag} did not reach the Deployment in 30 s")
                    time.sleep(0.002)
                latencies.append(time.monotonic() - pushed)
                clock[tag] = (wall, time.time())
                time.sleep(0.5)  # one push at a time: what a team pushing sees
            entries = journal(data)
            for tag in tags[1:]:
                for name, value in hops_of(entries, tag).items():
                    hops.setdefault(name, []).append(value)
                for name, value in stages_of(entries, tag, *clock[tag]).items():
                    stages.setdefault(name, []).append(value)
        except SystemExit:
            log.flush()
            print((root / "conveyor.log").read_text()[-4000:], file=sys.stderr)
            raise
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(60)
            log.close()
    print(f"== push → Deployment, {len(latencies)} pushes through the registry's notifications "
          "to a real API server")
    print(f"   p50 {statistics.median(latencies):.3f} s, p90 {percentile(latencies, 0.9):.3f} s, "
          f"p99 {percentile(latencies, 0.99):.3f} s, max {max(latencies):.3f} s "
          "(target p50 ≤ 0.3 s, p99 ≤ 1 s)")
    print("== hops (event emitted → next stage started), median ms")
    for name, values in sorted(hops.items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"   {name:40s} {1000 * statistics.median(values):7.1f}")
    print("== stages (started on an event → emitted the next), median ms")
    for name, values in sorted(stages.items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"   {name:40s} {1000 * statistics.median(values):7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
