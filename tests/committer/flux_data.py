"""Flux's data for commit message tests: a repository as Flux's docs picture it, the changes
its setters make (computed as a run computes them), and the templates of Flux's docs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from conveyor.services.git_committer.message import Update, commit_message
from conveyor.services.git_committer.reconcile import compute_updates, update_root
from conveyor.services.git_committer.setters import Latest

# A repository as Flux's docs picture it: a Deployment, a HelmRelease with name and tag
# markers, and a kustomization.yaml (no metadata: an ObjectIdentifier with no name).
FILES = {
    "clusters/prod/apps/podinfo.yaml": """\
---
apiVersion: v1
kind: Namespace
metadata:
  name: apps
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
  namespace: apps
spec:
  template:
    spec:
      containers:
        - name: podinfod
          image: ghcr.io/stefanprodan/podinfo:5.0.2 # {"$imagepolicy": "flux-system:podinfo"}
""",
    "clusters/prod/apps/redis.yaml": """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: redis
  namespace: apps
spec:
  values:
    image:
      repository: docker.io/bitnami/redis # {"$imagepolicy": "flux-system:redis:name"}
      tag: 7.2.3 # {"$imagepolicy": "flux-system:redis:tag"}
""",
    "clusters/prod/kustomization.yaml": """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - apps/podinfo.yaml
  - apps/redis.yaml
images:
  - name: ghcr.io/stefanprodan/podinfo
    newTag: 5.0.2 # {"$imagepolicy": "flux-system:podinfo:tag"}
""",
}
POLICIES = {
    "flux-system:podinfo": Latest("ghcr.io/stefanprodan/podinfo", "5.0.3"),
    "flux-system:redis": Latest("registry.example.com/bitnami/redis", "7.2.4"),
}


def described(work: Path) -> list[Update]:
    """What the setters change under ``clusters/prod`` of ``FILES`` written into ``work``."""
    for rel, text in FILES.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)
    root = update_root(work, "clusters/prod", "test")
    updates = compute_updates(
        root, work, lambda refs: {r: POLICIES[r] for r in refs}, "flux-system"
    )
    assert len(updates.texts) == 3
    return updates.described


def message(template: str | None, changes: list[Update], api: str = "v1", **values: str) -> str:
    return commit_message(
        template,
        values or None,
        f"image.toolkit.fluxcd.io/{api}",
        "flux-system",
        "flux-system",
        changes,
    )


def template_of(block: str) -> tuple[str, dict[str, str] | None]:
    """``messageTemplate`` (and ``messageTemplateValues``) of a docs YAML block."""

    def find(node: Any) -> dict[str, Any] | None:
        if isinstance(node, dict):
            if "messageTemplate" in node:
                return node
            for value in node.values():
                if (found := find(value)) is not None:
                    return found
        return None

    found = next(f for doc in yaml.safe_load_all(block) if (f := find(doc)) is not None)
    return found["messageTemplate"], found.get("messageTemplateValues")


# Every YAML block of the docs that sets a messageTemplate, verbatim in flux_docs/<name>.yaml
# (named after its first place: docs/spec/<version>/imageupdateautomations.md:<line of the
# opening fence>), with every place it is printed and the API versions whose docs print it.
# The expected messages are flux_docs/expected/<name>.<version>.txt (.error: Flux fails too).
DOCS = Path(__file__).parent / "flux_docs"
SOURCES: dict[str, tuple[list[str], list[str]]] = {
    "v1-412": (
        [
            "image-automation-controller v1.2.1 docs/spec/v1/imageupdateautomations.md:412",
        ],
        ["v1"],
    ),
    "v1-486": (
        [
            "image-automation-controller v1.2.1 docs/spec/v1/imageupdateautomations.md:486",
            "image-automation-controller v1.2.1 docs/spec/v1beta2/imageupdateautomations.md:438",
            "image-automation-controller v0.41.2 docs/spec/v1beta2/imageupdateautomations.md:438",
        ],
        ["v1", "v1beta2"],
    ),
    "v1-512": (
        [
            "image-automation-controller v1.2.1 docs/spec/v1/imageupdateautomations.md:512",
            "image-automation-controller v1.2.1 docs/spec/v1beta2/imageupdateautomations.md:464",
            "image-automation-controller v0.41.2 docs/spec/v1beta2/imageupdateautomations.md:464",
        ],
        ["v1", "v1beta2"],
    ),
    "v1-547": (
        [
            "image-automation-controller v1.2.1 docs/spec/v1/imageupdateautomations.md:547",
        ],
        ["v1"],
    ),
    "v1-959": (
        [
            "image-automation-controller v1.2.1 docs/spec/v1/imageupdateautomations.md:959",
            "image-automation-controller v1.2.1 docs/spec/v1beta2/imageupdateautomations.md:911",
            "image-automation-controller v0.41.2 docs/spec/v1beta2/imageupdateautomations.md:905",
        ],
        ["v1", "v1beta2"],
    ),
    "v1-1023": (
        [
            "image-automation-controller v1.2.1 docs/spec/v1/imageupdateautomations.md:1023",
        ],
        ["v1"],
    ),
    "v1beta2-364": (
        [
            "image-automation-controller v1.2.1 docs/spec/v1beta2/imageupdateautomations.md:364",
            "image-automation-controller v0.41.2 docs/spec/v1beta2/imageupdateautomations.md:364",
        ],
        ["v1beta2"],
    ),
    "v1beta2-499": (
        [
            "image-automation-controller v1.2.1 docs/spec/v1beta2/imageupdateautomations.md:499",
            "image-automation-controller v0.41.2 docs/spec/v1beta2/imageupdateautomations.md:499",
        ],
        ["v1beta2"],
    ),
    "v1beta2-975": (
        [
            "image-automation-controller v1.2.1 docs/spec/v1beta2/imageupdateautomations.md:975",
        ],
        ["v1beta2"],
    ),
    "v1beta1-251": (
        [
            "image-automation-controller v1.2.1 docs/spec/v1beta1/imageupdateautomations.md:251",
            "image-automation-controller v1.2.1 docs/spec/v1alpha2/imageupdateautomations.md:194",
        ],
        ["v1beta1", "v1alpha2"],
    ),
    "v1beta1-339": (
        [
            "image-automation-controller v1.2.1 docs/spec/v1beta1/imageupdateautomations.md:339",
            "image-automation-controller v1.2.1 docs/spec/v1alpha2/imageupdateautomations.md:282",
            "image-automation-controller v1.2.1 docs/spec/v1alpha1/imageupdateautomations.md:272",
        ],
        ["v1beta1", "v1alpha2"],
    ),
    "v1beta1-366": (
        [
            "image-automation-controller v1.2.1 docs/spec/v1beta1/imageupdateautomations.md:366",
        ],
        ["v1beta1"],
    ),
    "v1beta1-515": (
        [
            "image-automation-controller v1.2.1 docs/spec/v1beta1/imageupdateautomations.md:515",
        ],
        ["v1beta1"],
    ),
    "v1beta1-683": (
        [
            "image-automation-controller v1.2.1 docs/spec/v1beta1/imageupdateautomations.md:683",
            "image-automation-controller v1.2.1 docs/spec/v1alpha2/imageupdateautomations.md:444",
        ],
        ["v1beta1", "v1alpha2"],
    ),
    "v1beta1-754": (
        [
            "image-automation-controller v1.2.1 docs/spec/v1beta1/imageupdateautomations.md:754",
            "image-automation-controller v1.2.1 docs/spec/v1alpha2/imageupdateautomations.md:515",
        ],
        ["v1beta1", "v1alpha2"],
    ),
    "v1beta1-803": (
        [
            "image-automation-controller v1.2.1 docs/spec/v1beta1/imageupdateautomations.md:803",
        ],
        ["v1beta1"],
    ),
    "v1alpha2-564": (
        [
            "image-automation-controller v1.2.1 docs/spec/v1alpha2/imageupdateautomations.md:564",
        ],
        ["v1alpha2"],
    ),
}
