"""A Secret's value is never in Redis: `conveyor run` on its embedded Redis (its own key file,
handed to the stage workers in their environment) with the seed over SSH — a referenced Git
credentials Secret and an unreferenced Secret beside it — then every key of Redis read, of
every type, and neither Secret's values found, raw, in base64 or line by line; while the
credentials worked (the commit landed)."""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
import subprocess
import time
from pathlib import Path
from typing import Any, cast

import redis

from conveyor.services.demo.scenario import Demo, ci_tags
from tests.conftest import git_out, push
from tests.fixtures.git_remotes import SSHRemote
from tests.fixtures.registries import Registry

UNUSED_TOKEN = secrets.token_hex(24)
UNUSED_NOTE = f"first line {secrets.token_hex(12)}\nsecond line {secrets.token_hex(12)}\n"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def manifests(remote: SSHRemote, known_hosts: bytes) -> str:
    return f"""
---
apiVersion: v1
kind: Secret
metadata:
  name: ssh-credentials
  namespace: flux-system
type: Opaque
data:
  identity: {b64(remote.identity)}
  known_hosts: {b64(known_hosts)}
---
apiVersion: v1
kind: Secret
metadata:
  name: unused
  namespace: flux-system
stringData:
  token: {UNUSED_TOKEN}
data:
  note: {b64(UNUSED_NOTE.encode())}
"""


def needles(values: list[bytes]) -> list[bytes]:
    """Each value raw and in base64, and each of its lines (PEM armour lines aside)."""
    found: list[bytes] = []
    for value in values:
        found += [value.strip(), base64.b64encode(value)]
        found += [
            line.strip()
            for line in value.splitlines()
            if len(line.strip()) >= 12 and not line.startswith(b"-----")
        ]
    return found


def everything(client: Any) -> list[bytes]:
    """Every key of Redis and all it holds, whatever its type; a Celery message's base64 body
    decoded as well."""
    out: list[bytes] = []
    for key in client.scan_iter(count=1000):
        out.append(key)
        kind = client.type(key).decode()
        if kind == "string":
            out.append(client.get(key) or b"")
        elif kind == "hash":
            for field, value in client.hgetall(key).items():
                out += [field, value]
        elif kind == "list":
            out += client.lrange(key, 0, -1)
        elif kind == "set":
            out += list(client.smembers(key))
        elif kind == "zset":
            out += [member for member, _ in client.zrange(key, 0, -1, withscores=True)]
        elif kind == "stream":
            for _, entry in client.xrange(key):
                for field, value in entry.items():
                    out += [field, value]
        else:
            raise AssertionError(f"{key!r}: a Redis type this test does not read: {kind}")
    for item in list(out):
        try:
            body = json.loads(item).get("body")
            out.append(base64.b64decode(body))
        except (ValueError, AttributeError, TypeError):
            pass
    return out


def test_no_secret_value_in_redis(demo: Demo, registry: Registry, tmp_path: Path) -> None:
    push(registry, demo, ci_tags(3))
    before = git_out(demo.remote, "rev-parse", "master").strip()
    data = tmp_path / "data"
    env = {**os.environ, "CONVEYOR_DATA": str(data)}
    for name in ("REDIS_URL", "KUBECONFIG", "KUBERNETES_SERVICE_HOST", "CONVEYOR_SECRET_KEY"):
        env.pop(name, None)
    with SSHRemote() as remote:
        manifest = demo.manifests / "gitops-demo-app.yaml"
        text = manifest.read_text().replace(
            f"  url: {demo.remote.as_uri()}\n",
            f"  url: {remote.url_for(demo.remote)}\n  secretRef:\n    name: ssh-credentials\n",
        )
        manifest.write_text(text + manifests(remote, remote.known_hosts))
        proc = subprocess.Popen(
            ["conveyor", "run", "--manifests", str(demo.manifests)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 90
            while git_out(demo.remote, "rev-parse", "master").strip() == before:
                assert proc.poll() is None, "conveyor run exited"
                assert time.monotonic() < deadline, "no commit within 90 s"
                time.sleep(0.2)
            # the credentials worked: pushed over SSH by a stage worker, which opened them
            assert git_out(demo.remote, "log", "-1", "--format=%s").startswith("Automated image")
            client = redis.Redis(unix_socket_path=str(data / "redis" / "redis.sock"))
            stored = everything(client)
            sealed = cast(
                bytes | None, client.hget("conveyor:obj:Secret/flux-system/ssh-credentials", "json")
            )
            unused = client.exists("conveyor:obj:Secret/flux-system/unused")
        finally:
            proc.terminate()
            proc.wait(60)
    key_file = data / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(base64.b64decode(key_file.read_text())) == 32
    assert sealed is not None and sealed.startswith(b"sealed:v1:")  # kept, encrypted
    assert not unused  # never stored: nothing references it
    values = [remote.identity, remote.known_hosts, UNUSED_TOKEN.encode(), UNUSED_NOTE.encode()]
    assert len(stored) > 50  # the pipeline's state is there to search
    for needle in needles(values):
        hits = [item[:80] for item in stored if needle in item]
        assert not hits, (needle[:40], hits)
