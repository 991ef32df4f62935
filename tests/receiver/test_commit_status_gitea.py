"""A ``gitea`` Provider's commit statuses on a real Gitea (built from its Go module:
tests/fixtures/gitea.py): the status Flux's notification-controller sets on the revision a
Kustomization applied, read back through Gitea's own API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.git_remotes import init_bare
from tests.fixtures.gitea import Gitea
from tests.receiver.test_providers import KS, deliver, event, provider, secret


@pytest.fixture(scope="module")
def gitea(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gitea]:
    with Gitea(tmp_path_factory.mktemp("gitea-status")) as served:
        yield served


def test_a_gitea_provider_sets_the_applied_commit_s_status(gitea: Gitea, tmp_path: Path) -> None:
    sha = init_bare(tmp_path / "app.git", {"deploy.yaml": "kind: ConfigMap\n"})
    gitea.create_repo("status-app")
    gitea.push(tmp_path / "app.git", "status-app", "main")
    update = {f"{KS}/revision": f"main@sha1:{sha}", f"{KS}/commit_status": "update"}
    p = provider(f"  type: gitea\n  address: {gitea.url}/{gitea.user}/status-app\n"
                 "  secretRef: {name: s}\n")
    s = secret(token=gitea.token)

    def statuses() -> list[dict[str, str]]:
        found = gitea.api("GET", f"/repos/{gitea.user}/status-app/statuses/{sha}")
        newest_first = sorted(found, key=lambda x: -int(x["id"]))
        return [{k: str(x[k]) for k in ("status", "context", "description")}
                for x in newest_first]

    deliver(p, event(metadata=update), s=s)
    assert statuses() == [{"status": "success", "context": "kustomization/app/8e71c1b6",
                           "description": "reconciliation succeeded"}]
    deliver(p, event(metadata=update), s=s)  # the same again: not set twice
    assert len(statuses()) == 1
    deliver(p, event(severity="error", message="health check failed", reason="HealthCheckFailed",
                     metadata=update), s=s)
    newest = statuses()[0]
    assert (newest["status"], newest["description"]) == ("failure", "health check failed")
    assert len(statuses()) == 2
