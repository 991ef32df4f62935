"""An automation in pull-request mode over a real Git remote, its policy's result set by hand
(no registry: what is under test is what happens after the policy chose), for the tests of
pull-request mode against real Gitea and against the GitHub and GitLab stand-ins."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from conveyor.services.runner import load_stage
from conveyor.shared.bus import InlineDispatcher
from conveyor.shared.events import ReconcileRequested
from conveyor.shared.runtime import Context, Settings, reconcile_one
from conveyor.shared.sources import ManifestSource
from conveyor.shared.status import ImagePolicyStatus, ImageRef, ImageUpdateAutomationStatus
from conveyor.shared.store import Store

NS = "flux-system"
POLICY = f"ImagePolicy/{NS}/app"
IMAGE = "registry.example/team/app"
PUSH_BRANCH = "flux/update"

APP = f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app, namespace: default}}
spec:
  template:
    spec:
      containers:
        - name: app
          image: {IMAGE}:1.0.0 # {{"$imagepolicy": "{NS}:app"}}
"""

MESSAGE_TEMPLATE = (
    "Update app to {{range .Changed.Changes}}{{.NewValue}}{{end}}\n\n"
    "Automation: {{.AutomationObject}}\n"
)


def title(tag: str) -> str:
    """The first line of the commit message (the pull request's title) for ``tag``."""
    return f"Update app to {IMAGE}:{tag}"


def repository_files() -> dict[str, str]:
    return {"deploy/app.yaml": APP, "README.md": "the app\n"}


def manifests(
    url: str,
    password: str,
    annotations: dict[str, str],
    names: tuple[str, ...] = ("auto",),
    secrets: dict[str, dict[str, str]] | None = None,
) -> str:
    """The Flux objects: the GitRepository (Basic auth with ``password``), the policy, one
    automation per name with ``annotations``, and ``secrets``."""
    notes = "".join(f"\n    {k}: {v!r}" for k, v in annotations.items())
    docs = [
        f"""\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: repo, namespace: {NS}}}
spec:
  interval: 1h
  url: {url}
  ref: {{branch: main}}
  secretRef: {{name: git-auth}}
""",
        f"""\
apiVersion: v1
kind: Secret
metadata: {{name: git-auth, namespace: {NS}}}
stringData: {{username: gitbot, password: {password!r}}}
""",
        f"""\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {{name: app, namespace: {NS}}}
spec:
  imageRepositoryRef: {{name: app}}
  policy: {{semver: {{range: ">=0.0.0"}}}}
""",
    ]
    for name in names:
        docs.append(
            f"""\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata:
  name: {name}
  namespace: {NS}
  annotations:{notes or " {}"}
spec:
  interval: 1h
  sourceRef: {{kind: GitRepository, name: repo}}
  git:
    checkout: {{ref: {{branch: main}}}}
    commit:
      author: {{name: fluxbot, email: fluxbot@example.com}}
      messageTemplate: {json.dumps(MESSAGE_TEMPLATE)}
    push: {{branch: {PUSH_BRANCH}}}
  update: {{path: ./deploy, strategy: Setters}}
"""
        )
    for name, data in (secrets or {}).items():
        pairs = ", ".join(f"{k}: {v!r}" for k, v in data.items())
        docs.append(
            f"apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {NS}}}\n"
            f"stringData: {{{pairs}}}\n"
        )
    return "---\n".join(docs)


@dataclass
class Scenario:
    ctx: Context
    folder: Path

    @property
    def store(self) -> Store:
        return self.ctx.store

    def choose(self, tag: str) -> None:
        """The policy's result is now ``tag`` (as the policy-evaluator would store it)."""
        status = self.store.get_status(POLICY, ImagePolicyStatus)
        status.latest_ref = ImageRef(name=IMAGE, tag=tag)
        self.store.put_status(POLICY, status)

    def run(self, name: str = "auto") -> ImageUpdateAutomationStatus:
        """One run of the automation, as a worker runs it (its object lock included)."""
        key = f"ImageUpdateAutomation/{NS}/{name}"
        request = ReconcileRequested(kind="ImageUpdateAutomation", namespace=NS, name=name)
        reconcile_one(load_stage("git-committer"), key, request, self.ctx)
        return self.store.get_status(key, ImageUpdateAutomationStatus)


def scenario(redis_url: str, tmp_path: Path, text: str) -> Scenario:
    """The objects of ``text`` in a fresh store, the policy at 1.0.0."""
    folder = tmp_path / "flux"
    folder.mkdir()
    (folder / "all.yaml").write_text(text)
    store = Store.from_url(redis_url)
    errors = ManifestSource(folder).refresh(store, force=True)
    assert not errors, errors
    settings = Settings(data_dir=tmp_path / "data", retry_base=0)
    found = Scenario(Context(store, InlineDispatcher(), settings), folder)
    found.choose("1.0.0")
    return found


def ready(status: ImageUpdateAutomationStatus) -> tuple[str, str, str]:
    condition = status.ready
    assert condition is not None
    return condition.status, condition.reason, condition.message
