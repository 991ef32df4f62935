"""The verbs on conveyor's Redis (a real redis-server) with nothing reconciling: what a request
and a suspension write, how a manifest folder read again keeps a suspension until resume, what
an object read from a cluster refuses, and what a request that no run answers says."""

from __future__ import annotations

import os
from pathlib import Path

from conveyor.shared.manifests import parse_manifests
from conveyor.shared.models import ImageRepository
from conveyor.shared.sources import ManifestSource
from conveyor.shared.status import ImageRepositoryStatus
from conveyor.shared.store import Store
from tests.cli.helpers import ctl

REPOSITORY = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: app, namespace: apps}
spec: {image: example.com/app, interval: 1h}
"""
KEY = "ImageRepository/apps/app"


def env_for(redis_url: str, tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "REDIS_URL": redis_url, "CONVEYOR_DATA": str(tmp_path / "data")}
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST"):
        env.pop(name, None)
    return env


def stored(store: Store) -> ImageRepository:
    obj = store.get_object(KEY, ImageRepository)
    assert obj is not None
    return obj


def test_a_request_no_run_answers_and_a_suspension_held_across_reloads(
    redis_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "flux"
    folder.mkdir()
    (folder / "app.yaml").write_text(REPOSITORY)
    store = Store.from_url(redis_url)
    source = ManifestSource(folder)
    assert source.refresh(store) == []
    status = ImageRepositoryStatus()
    status.mark_ready("Succeeded", "successful scan: found 7 tags", 1)
    store.put_status(KEY, status)
    env = env_for(redis_url, tmp_path)

    shown = ctl(env, "get", "imagerepository", "-n", "apps")
    assert shown.returncode == 0
    assert shown.stdout.splitlines()[1].split("\t")[0].strip() == "app"
    assert "successful scan: found 7 tags" in shown.stdout

    waited = ctl(env, "reconcile", "imgrepo", "app", "-n", "apps", "--timeout", "1s")
    assert waited.returncode == 1
    assert waited.stderr.splitlines()[-1] == (
        "✗ ImageRepository reconciliation failed: 'timeout waiting for ImageRepository "
        "apps/app after 1s: no run answered (is conveyor running, with its registry-scanner? "
        "conveyor get imagerepository app -n apps)'"
    )
    token = stored(store).metadata.reconcile_request
    assert token is not None and token.endswith("Z")
    assert store.take_due("registry-scanner") == [KEY]  # due at once, for the next tick
    bad = ctl(env, "reconcile", "imgrepo", "app", "-n", "apps", "--timeout", "soon")
    assert bad.returncode == 2 and "--timeout: invalid duration 'soon'" in bad.stderr

    assert ctl(env, "suspend", "imagerepository", "app", "-n", "apps").returncode == 0
    assert store.suspended() == {KEY}
    assert stored(store).spec.suspend is True
    # the folder changes and is read again: the suspension stays
    (folder / "app.yaml").write_text(REPOSITORY.replace("interval: 1h", "interval: 2h"))
    os.utime(folder / "app.yaml", (1, 1))  # a new stamp, whatever the clock's resolution
    source.refresh(store)
    assert stored(store).spec.interval == 7200
    assert stored(store).spec.suspend is True

    resumed = ctl(env, "resume", "imagerepository", "app", "-n", "apps", "--no-wait")
    assert resumed.returncode == 0, resumed.stderr
    assert store.suspended() == set()
    assert stored(store).spec.suspend is False


def test_an_object_read_from_a_cluster_is_changed_there(redis_url: str, tmp_path: Path) -> None:
    store = Store.from_url(redis_url)
    (obj,) = parse_manifests(REPOSITORY, file="cluster:ImageRepository/apps/app")
    store.put_object(obj.model_copy(update={"source": "cluster:ImageRepository/apps/app"}))
    env = env_for(redis_url, tmp_path)
    refused = ctl(env, "suspend", "imagerepository", "app", "-n", "apps")
    assert refused.returncode == 2
    assert "ImageRepository apps/app lives in the cluster: change it there, with --from-cluster" \
        in refused.stderr
    assert store.suspended() == set()
