"""The seed scenario as files: the app's ``kustomize/`` folder in a bare Git repository, and the
Flux manifests of the walkthrough pointed at that repository and a registry of the caller's.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

IMAGE_REPOSITORY = "pythops/gitops"

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: gitops-demo-app
  labels:
    app: gitops-demo-app
spec:
  replicas: 1
  selector:
    matchLabels:
      app: gitops-demo-app
  template:
    metadata:
      labels:
        app: gitops-demo-app
    spec:
      containers:
        - name: gitops-demo-app
          image: {image}:latest # {{"$imagepolicy": "flux-system:image-repo-policy"}}
          ports:
            - containerPort: 5000
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: gitops-demo-app
spec:
  selector:
    app: gitops-demo-app
  ports:
    - port: 80
      targetPort: 5000
"""

KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
  - service.yaml
"""

# The walkthrough's manifests, verbatim but for the Git URL, the image and `insecure` (the
# registry is plain HTTP on loopback): a field of v1beta2, which that ImageRepository is.
FLUX_MANIFESTS = """\
apiVersion: source.toolkit.fluxcd.io/v1beta1
kind: GitRepository
metadata:
  name: gitops-demo-app
  namespace: flux-system
spec:
  interval: 30s
  url: {url}
  ref:
    branch: master
---
apiVersion: kustomize.toolkit.fluxcd.io/v1beta2
kind: Kustomization
metadata:
  name: gitops-demo-app
  namespace: flux-system
spec:
  interval: 30s
  sourceRef:
    kind: GitRepository
    name: gitops-demo-app
  path: ./kustomize
  prune: true
  targetNamespace: default
---
apiVersion: image.toolkit.fluxcd.io/v1beta1
kind: ImagePolicy
metadata:
  name: image-repo-policy
  namespace: flux-system
spec:
  imageRepositoryRef:
    name: gitops-demo-app
  filterTags:
    pattern: "^master-[a-f0-9]+-(?P<ts>[0-9]+)"
    extract: "$ts"
  policy:
    numerical:
      order: asc
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageRepository
metadata:
  name: gitops-demo-app
  namespace: flux-system
spec:
  image: {image}
  interval: 1m
  insecure: true
---
apiVersion: image.toolkit.fluxcd.io/v1beta1
kind: ImageUpdateAutomation
metadata:
  name: gitops-demo-app
  namespace: flux-system
spec:
  interval: 1m
  sourceRef:
    kind: GitRepository
    name: gitops-demo-app
  git:
    checkout:
      ref:
        branch: master
    commit:
      author:
        email: fluxcdbot@users.noreply.github.com
        name: fluxcdbot
      messageTemplate: |
        Automated image updated by Flux
        [ci skip]
    push:
      branch: master
  update:
    path: ./kustomize
    strategy: Setters
"""

MESSAGE = "Automated image updated by Flux\n[ci skip]\n"
AUTHOR = ("fluxcdbot", "fluxcdbot@users.noreply.github.com")


@dataclass(frozen=True)
class Demo:
    root: Path
    remote: Path  # the bare repository
    manifests: Path  # the Flux manifests directory
    image: str  # registry host + repository


def _git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def create(root: Path, registry_host: str, repository: str = IMAGE_REPOSITORY) -> Demo:
    """Lay out the demo under ``root``: a bare repo with one commit on master, and manifests."""
    root.mkdir(parents=True, exist_ok=True)
    image = f"{registry_host}/{repository}"
    remote = root / "gitops-demo-app.git"
    _git("init", "--bare", "-q", "-b", "master", str(remote), cwd=root)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        _git("init", "-q", "-b", "master", cwd=work)
        (work / "kustomize").mkdir()
        (work / "kustomize" / "deployment.yaml").write_text(DEPLOYMENT.format(image=image))
        (work / "kustomize" / "service.yaml").write_text(SERVICE)
        (work / "kustomize" / "kustomization.yaml").write_text(KUSTOMIZATION)
        (work / "app.py").write_text("print('hello')\n")
        _git("add", "-A", cwd=work)
        _git(
            "-c",
            "user.name=dev",
            "-c",
            "user.email=dev@example.com",
            "commit",
            "-qm",
            "Initial commit",
            cwd=work,
        )
        _git("push", "-q", str(remote), "master", cwd=work)
    manifests = root / "flux"
    manifests.mkdir(exist_ok=True)
    (manifests / "gitops-demo-app.yaml").write_text(
        FLUX_MANIFESTS.format(url=remote.as_uri(), image=image)
    )
    return Demo(root=root, remote=remote, manifests=manifests, image=image)


def ci_tags(count: int, start: int = 1_640_370_014, branch: str = "master") -> list[str]:
    """Tags as the walkthrough's CI makes them: ``<branch>-<8 hex>-<unix ts>``."""
    import hashlib

    return [
        f"{branch}-{hashlib.sha1(str(i).encode()).hexdigest()[:8]}-{start + 60 * i}"
        for i in range(count)
    ]
