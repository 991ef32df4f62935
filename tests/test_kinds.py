"""The registry of kinds is the one place each kind is described: parsing, the store, the
events, the stages and the workers all read it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conveyor.services.runner import load_stage
from conveyor.shared.events import ReconcileRequested, route
from conveyor.shared.kinds import BY_NAME, KINDS, REPORTED, SERVICES, STAGE_SERVICES
from conveyor.shared.manifests import parse_manifests
from conveyor.shared.models import FluxObject, Secret
from conveyor.shared.store import Store, object_from_json

ONE_OF_EACH = """
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: app, namespace: ns}
spec: {url: https://example.com/app.git, interval: 1m, ref: {branch: main}}
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageRepository
metadata: {name: app, namespace: ns}
spec: {image: example.com/app, interval: 1m}
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata: {name: app, namespace: ns, labels: {team: a}}
spec: {imageRepositoryRef: {name: app}, policy: {semver: {range: '>=1.0.0'}}}
---
apiVersion: image.toolkit.fluxcd.io/v1beta1
kind: ImageUpdateAutomation
metadata: {name: app, namespace: ns}
spec:
  interval: 5m
  sourceRef: {kind: GitRepository, name: app}
  git: {commit: {author: {name: bot, email: bot@example.com}}}
  update: {path: ./deploy}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: app, namespace: ns}
spec: {interval: 10m, retryInterval: 30s, path: ./deploy, prune: true,
       sourceRef: {kind: GitRepository, name: app}}
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: app, namespace: ns}
spec: {type: generic, secretRef: {name: token},
       resources: [{kind: ImageRepository, name: app}]}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {name: chat, namespace: ns}
spec: {type: slack, channel: general, secretRef: {name: token}}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Alert
metadata: {name: app, namespace: ns}
spec: {providerRef: {name: chat}, eventSeverity: error,
       eventSources: [{kind: Kustomization, name: '*', matchLabels: {team: a}}]}
---
apiVersion: v1
kind: Secret
metadata: {name: token, namespace: ns}
data: {token: c2VjcmV0, binary: /wD+}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: vars, namespace: ns}
data: {cluster: prod}
"""


def test_every_kind_parses_into_its_own_model_and_survives_the_store(redis_url: str) -> None:
    objects = parse_manifests(ONE_OF_EACH)
    assert [o.kind for o in objects] == [k.name for k in KINDS]
    store = Store.from_url(redis_url)
    for obj in objects:
        kind = BY_NAME[obj.kind]
        assert type(obj) is kind.model  # typed: obj.spec is the kind's own spec model
        assert object_from_json(obj.to_json()) == obj
        store.put_object(obj)
        again = store.get_object(obj.key, kind.model)
        assert again is not None and again.spec == obj.spec
        assert isinstance(store.get_status(obj.key), kind.status)
        assert store.list_objects(kind.model) == [again]
    secret = store.get_object("Secret/ns/token", Secret)
    assert secret is not None
    assert secret.spec.data == {"token": b"secret", "binary": b"\xff\x00\xfe"}
    assert store.get_object("Secret/ns/token", FluxObject) == secret
    assert store.get_object("Secret/ns/token", BY_NAME["ConfigMap"].model) is None


def test_each_queued_kind_goes_to_the_service_whose_stage_reconciles_it() -> None:
    for kind in KINDS:
        event = ReconcileRequested(kind=kind.name, namespace="ns", name="x")
        if kind.service in STAGE_SERVICES:
            assert route(event) == (kind.service,)
            assert load_stage(kind.service).kind is kind
        else:
            assert route(event) == ()  # read (Secret, ConfigMap) or served in place (Receiver)
    assert (*STAGE_SERVICES, "receiver") == SERVICES
    assert [k.name for k in REPORTED] == [k.name for k in KINDS if k.flux]


@pytest.mark.parametrize("service", STAGE_SERVICES)
def test_a_worker_imports_its_own_stage_and_no_other(service: str) -> None:
    probe = (
        "import json, sys\n"
        "from conveyor.services.runner import load_stage\n"
        f"load_stage({service!r})\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('conveyor.services.'))))"
    )
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        ).stdout
    )
    stages = {s.replace("-", "_") for s in SERVICES}
    imported = {m.split(".")[2] for m in loaded} & stages
    assert imported == {service.replace("-", "_")}


def test_the_command_line_starts_without_the_models() -> None:
    """``conveyor --help`` lists the services from ``shared.names``, the kinds' own list."""
    from conveyor.shared import names

    assert names.SERVICES == SERVICES
    probe = (
        "import sys\n"
        "from conveyor.services.cli import parser\n"
        "parser()\n"
        "print('conveyor.shared.models' in sys.modules, 'pydantic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# Libraries a few objects need, and what loads them: a worker or a receiver whose objects do not
# use them never carries them (each several MB a process).
ON_DEMAND = {
    "celpy": "a Kustomization's healthCheckExprs",
    "cel_expr_python": "a Receiver's resourceFilter or resources[].filter",
    "jsonschema": "a cdevents Receiver's request",
    # (redis-py imports the bare package to learn whether it is there)
    "cryptography.hazmat.primitives.asymmetric.rsa": "a gcr Receiver's request",
    "kubernetes": "a cluster (--from-cluster, an ImageRepository's serviceAccountName, "
    "a Kustomization's apply)",
    "rich": "nothing: httpx's command-line tool",
}


@pytest.mark.parametrize("service", [*STAGE_SERVICES, "receiver"])
def test_a_service_loads_what_few_objects_need_only_when_one_does(service: str) -> None:
    load = (
        "from conveyor.services.receiver.app import create_app\n"
        if service == "receiver"
        else f"from conveyor.services.runner import load_stage\nload_stage({service!r})\n"
    )
    probe = (
        "import json, sys\n"
        "import conveyor.services.runner\n"
        f"{load}"
        f"print(json.dumps([m for m in {sorted(ON_DEMAND)!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    assert loaded == [], {m: ON_DEMAND[m] for m in loaded}


def test_a_committer_loads_the_http_client_only_for_pull_requests() -> None:
    probe = (
        "import sys\n"
        "from conveyor.services.runner import load_stage\n"
        "load_stage('git-committer')\n"
        "print('httpx' in sys.modules)\n"
        "from conveyor.shared.adapters.forge import FORGES\n"
        "FORGES['gitea']('http://127.0.0.1:9/api/v1', 'o/r', 't').__exit__()\n"
        "print('httpx' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_a_committer_loads_re2_only_for_a_template_that_uses_regex_or_semver() -> None:
    probe = (
        "import sys\n"
        "from conveyor.services.runner import load_stage\n"
        "from conveyor.services.git_committer import template\n"
        "load_stage('git-committer')\n"
        "print(template.render('Update from image update automation', {}), 're2' in sys.modules)\n"
        "print(template.render('{{ regexMatch \"^a+$\" \"aaa\" }}', {}), 're2' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [
        "Update from image update automation False",
        "true True",
    ]


def test_the_receiver_loads_re2_only_for_an_alert_with_event_lists() -> None:
    alert = (
        "apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\n"
        "metadata: {name: a, namespace: ns}\n"
        "spec: {providerRef: {name: p}, eventSources: [{kind: Kustomization, name: '*'}]%s}\n"
    )
    probe = (
        "import sys\n"
        "from conveyor.services.receiver.app import create_app\n"
        "from conveyor.services.receiver.alerts import Lists\n"
        "from conveyor.shared.manifests import parse_manifests\n"
        f"plain = parse_manifests({alert % ''!r})[0]\n"
        f"listed = parse_manifests({alert % ', exclusionList: [^skip]'!r})[0]\n"
        "Lists(plain)\n"
        "print('re2' in sys.modules)\n"
        "print(Lists(listed).allows('skip this'), Lists(listed).allows('keep'))\n"
        "print('re2' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "True", "True"]
