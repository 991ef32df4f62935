"""`conveyor run --once` on the seed as Flux exports it (with the defaults Flux's API server
writes into every object), beside objects of each kind that set a field conveyor refuses: those
are Stalled with reason UnsupportedField naming the field, the seed runs as ever."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conveyor.services.demo.scenario import Demo, ci_tags
from tests.conftest import git_out, push, run_once_json
from tests.fixtures.registries import Registry

# what `flux export` prints of the seed's objects beyond what they set: the CRDs' defaults
# (timeout, gitImplementation, force, provider, exclusionList) and the references in full
AS_EXPORTED = [
    (
        "  interval: 30s\n  url:",
        "  interval: 30s\n  gitImplementation: go-git\n  timeout: 60s\n  url:",
    ),
    ("  prune: true\n", "  prune: true\n  force: false\n"),
    (
        "  imageRepositoryRef:\n    name: gitops-demo-app\n",
        "  imageRepositoryRef:\n    name: gitops-demo-app\n    namespace: flux-system\n",
    ),
    (
        "  insecure: true\n",
        "  insecure: true\n  provider: generic\n  exclusionList: ['^.*\\.sig$']\n",
    ),
    (
        "  sourceRef:\n    kind: GitRepository\n    name: gitops-demo-app\n  git:",
        "  sourceRef:\n    apiVersion: source.toolkit.fluxcd.io/v1beta1\n"
        "    kind: GitRepository\n    name: gitops-demo-app\n    namespace: flux-system\n  git:",
    ),
]

REFUSED = """\
apiVersion: v1
kind: Secret
metadata: {{name: hook-token, namespace: flux-system}}
stringData: {{token: webhook-token-0123456789}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: refused-git, namespace: flux-system}}
spec:
  interval: 1m
  url: {url}
  ref: {{branch: master}}
  provider: azure
  proxySecretRef: {{name: proxy}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: refused-image, namespace: flux-system}}
spec:
  image: {image}
  interval: 1m
  insecure: true
  accessFrom:
    namespaceSelectors: [{{matchLabels: {{team: a}}}}]
  exclusionLst: ['^x']
---
apiVersion: image.toolkit.fluxcd.io/v1beta1
kind: ImagePolicy
metadata: {{name: refused-policy, namespace: flux-system}}
spec:
  imageRepositoryRef: {{name: gitops-demo-app}}
  filterTag: {{pattern: '^master-'}}
  policy: {{alphabetical: {{order: asc}}}}
---
apiVersion: image.toolkit.fluxcd.io/v1beta1
kind: ImageUpdateAutomation
metadata: {{name: refused-automation, namespace: flux-system}}
spec:
  interval: 1m
  sourceRef: {{kind: GitRepository, name: gitops-demo-app}}
  git:
    checkout: {{ref: {{branch: master}}}}
    commit: {{author: {{email: bot@example.com, name: bot}}}}
    push: {{branch: master, force: true}}
  update: {{path: ./kustomize, strategy: Setters}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: refused-ks, namespace: flux-system}}
spec:
  interval: 1m
  sourceRef: {{kind: GitRepository, name: gitops-demo-app}}
  path: ./kustomize
  prune: true
  decryption: {{provider: sops, secretRef: {{name: sops-age}}}}
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {{name: refused-receiver, namespace: flux-system}}
spec:
  type: generic
  secretRef: {{name: hook-token}}
  resources: [{{kind: GitRepository, name: gitops-demo-app}}]
  event: [push]
"""

MESSAGES = {
    "GitRepository": "spec.provider: 'azure' is not supported by conveyor (only 'generic'); "
    "spec.proxySecretRef is not supported by conveyor",
    "ImageRepository": "spec.accessFrom is not supported by conveyor; "
    "spec.exclusionLst is not a field of ImageRepository image.toolkit.fluxcd.io/v1",
    "ImagePolicy": "spec.filterTag is not a field of ImagePolicy image.toolkit.fluxcd.io/v1beta1",
    # every field of Flux's is implemented: one Flux does not have (a push that would force)
    "ImageUpdateAutomation": (
        "spec.git.push.force is not a field of ImageUpdateAutomation "
        "image.toolkit.fluxcd.io/v1beta1"
    ),
    "Kustomization": "spec.decryption is not supported by conveyor",
    "Receiver": "spec.event is not a field of Receiver notification.toolkit.fluxcd.io/v1",
}


def condition(row: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in row["status"].get("conditions", []) if c["type"] == kind), None)


def test_the_seed_as_flux_exports_it_runs_beside_objects_refused_by_name(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    seed = demo.manifests / "gitops-demo-app.yaml"
    text = seed.read_text()
    for old, new in AS_EXPORTED:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    seed.write_text(text)
    (demo.manifests / "refused.yaml").write_text(
        REFUSED.format(url=demo.remote.as_uri(), image=demo.image)
    )
    tags = ci_tags(3)
    push(registry, demo, tags)
    before = git_out(demo.remote, "rev-parse", "master").strip()

    code, printed = run_once_json(demo, tmp_path / "data", redis_url)
    rows = {(r["kind"], r["name"]): r for r in printed if "status" in r}
    assert not [r for r in printed if "status" not in r], printed  # no manifest errors
    for kind, text in MESSAGES.items():
        row = rows[(kind, f"refused-{kind_name(kind)}")]
        ready, stalled = condition(row, "Ready"), condition(row, "Stalled")
        assert ready is not None and stalled is not None, row
        assert (ready["status"], ready["reason"], ready["message"]) == (
            "False", "UnsupportedField", text
        )
        assert (stalled["status"], stalled["reason"]) == ("True", "UnsupportedField")
    assert "artifact" not in rows[("GitRepository", "refused-git")]["status"]
    assert "lastScanResult" not in rows[("ImageRepository", "refused-image")]["status"]
    assert "webhookPath" not in rows[("Receiver", "refused-receiver")]["status"]

    # the seed, as exported, ran as ever: one commit, from its own automation
    after = git_out(demo.remote, "rev-parse", "master").strip()
    assert git_out(demo.remote, "rev-parse", "master~1").strip() == before
    assert f":{tags[-1]} #" in git_out(demo.remote, "show", "master:kustomize/deployment.yaml")
    seed_rows = {
        k: r for (k, name), r in rows.items() if name in ("gitops-demo-app", "image-repo-policy")
    }
    assert len(seed_rows) == 5
    assert seed_rows["ImageUpdateAutomation"]["status"]["lastPushCommit"] == after
    for kind, row in seed_rows.items():
        ready = condition(row, "Ready")
        assert ready is not None and condition(row, "Stalled") is None, row
        expected = "ClusterNotConfigured" if kind == "Kustomization" else None
        assert ready["status"] == ("False" if expected else "True"), row
        assert expected is None or ready["reason"] == expected
    assert code == 1  # not all Ready


def kind_name(kind: str) -> str:
    return {
        "GitRepository": "git",
        "ImageRepository": "image",
        "ImagePolicy": "policy",
        "ImageUpdateAutomation": "automation",
        "Kustomization": "ks",
        "Receiver": "receiver",
    }[kind]
