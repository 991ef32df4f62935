"""Which objects a delivery wakes, as notification-controller v1.9's requestReconciliation
and its CEL resource filters decide: ``spec.resourceFilter`` and ``spec.resources[].filter``
(the examples of Flux's Receiver documentation, verbatim), ``matchLabels`` with ``name: "*"``,
``apiVersion``, and Flux's answers when something cannot be woken (500, the rest woken) or the
Receiver is not ready (an invalid expression: Stalled, 503).

Through the real receiver app on a real Redis; the Pub/Sub pushes are built as Google
documents them, with a token signed by ``LocalGoogleKeys`` (see test_provider_types).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conveyor.services.receiver.app import create_app
from conveyor.services.receiver.reconcile import refresh_receivers
from conveyor.services.receiver.webhooks import webhook_path
from conveyor.shared.adapters.cel import EvaluationError, Expression, InvalidExpression
from conveyor.shared.bus import InlineDispatcher
from conveyor.shared.manifests import parse_manifests
from conveyor.shared.runtime import Context
from conveyor.shared.status import ReceiverStatus
from conveyor.shared.store import Store
from tests.receiver.test_provider_types import AUDIENCE, EMAIL, GAR_INSERT, LocalGoogleKeys, pubsub

TOKEN = "filter-token-0c9e5b1d"

SECRET = f"""apiVersion: v1
kind: Secret
metadata: {{name: flux-gar-token, namespace: apps}}
stringData: {{token: {TOKEN}, email: {EMAIL}, audience: "{AUDIENCE}"}}
"""


def image_repository(name: str, labels: dict[str, str], annotations: dict[str, str] | None = None,
                     namespace: str = "apps") -> str:
    """An ImageRepository of the image the notifications below name (a push notification wakes
    only the ImageRepositories of the image it names: here the filters decide alone)."""
    return f"""---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata:
  name: {name}
  namespace: {namespace}
  labels: {json.dumps(labels)}
  annotations: {json.dumps(annotations or {})}
spec: {{image: us-east1-docker.pkg.dev/my-project/my-repo/hello-world, interval: 1m}}
"""


IMAGES = (
    image_repository("hello-world", {"registry": "gar", "environment": "production"},
                     {"update-image": "hello-world"})
    + image_repository("podinfo", {"registry": "gar", "environment": "production"},
                       {"update-image": "hello-world"})
    + image_repository("hello-world-staging", {"registry": "gar", "environment": "staging"})
    + image_repository("hello-world-elsewhere", {"registry": "ghcr", "environment": "production"})
)

# Flux's documentation, "Filtering reconciled objects with CEL", verbatim.
GAR_RECEIVER = """---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata:
  name: gar-receiver
  namespace: apps
spec:
  type: gcr
  secretRef:
    name: flux-gar-token
  resources:
    - apiVersion: image.toolkit.fluxcd.io/v1
      kind: ImageRepository
      name: "*"
      matchLabels:
        registry: gar
"""
GAR_FILTERED = GAR_RECEIVER + "  resourceFilter: 'req.tag.contains(res.metadata.name)'\n"
GAR_ANNOTATION = GAR_RECEIVER + (
    """  resourceFilter: has(res.metadata.annotations) && req.tag.split('/').last().value()"""
    """.split(":").first().value() == res.metadata.annotations['update-image']\n"""
)
# "Per-resource filtering", verbatim.
GAR_PER_RESOURCE = """---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata:
  name: gar-receiver
  namespace: apps
spec:
  type: gcr
  secretRef:
    name: flux-gar-token
  resourceFilter: req.tag.contains(res.metadata.name)
  resources:
    - apiVersion: image.toolkit.fluxcd.io/v1
      kind: ImageRepository
      name: "*"
      matchLabels:
        registry: gar
      filter: res.metadata.labels['environment'] == 'production'
"""


class Hook:
    def __init__(self, redis_url: str, manifests: str) -> None:
        self.store = Store.from_url(redis_url)
        self.store.put_objects(parse_manifests(manifests))
        self.dispatcher = InlineDispatcher()
        self.keys = LocalGoogleKeys()
        self.ctx = Context(store=self.store, dispatcher=self.dispatcher)
        self.http = TestClient(create_app(self.ctx, google_keys=self.keys))

    def post(self, name: str, body: bytes, headers: dict[str, str] | None = None) -> Any:
        return self.http.post(
            webhook_path(TOKEN, name, "apps"), content=body, headers=headers or {}
        )

    def gar(self, event: dict[str, str] = GAR_INSERT) -> Any:
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self.keys.token()}",
        }
        return self.post("gar-receiver", pubsub(event), headers)

    def status(self, name: str) -> ReceiverStatus:
        refresh_receivers(self.ctx)
        return self.store.get_status(f"Receiver/apps/{name}", ReceiverStatus)


def test_match_labels_alone_wakes_every_labelled_object(redis_url: str) -> None:
    hook = Hook(redis_url, SECRET + IMAGES + GAR_RECEIVER)
    answer = hook.gar()
    assert answer.status_code == 200
    assert answer.json()["accepted"] == [  # in name order, as Flux lists them
        "ImageRepository/apps/hello-world",
        "ImageRepository/apps/hello-world-staging",
        "ImageRepository/apps/podinfo",
    ]


def test_the_documented_resource_filter_wakes_what_the_tag_names(redis_url: str) -> None:
    hook = Hook(redis_url, SECRET + IMAGES + GAR_FILTERED)
    assert hook.gar().json()["accepted"] == ["ImageRepository/apps/hello-world"]
    assert [m["tags"] for _, m in hook.dispatcher.queue] == [["1.1"]]


def test_the_documented_annotation_filter(redis_url: str) -> None:
    hook = Hook(redis_url, SECRET + IMAGES + GAR_ANNOTATION)
    # podinfo asks for hello-world's image by its annotation; staging has no annotations
    accepted = hook.gar().json()["accepted"]
    assert accepted == ["ImageRepository/apps/hello-world", "ImageRepository/apps/podinfo"]


def test_the_documented_per_resource_filter_stacks_with_the_top_one(redis_url: str) -> None:
    hook = Hook(redis_url, SECRET + IMAGES + GAR_PER_RESOURCE)
    assert hook.gar().json()["accepted"] == ["ImageRepository/apps/hello-world"]
    assert hook.status("gar-receiver").ready is not None


GENERIC = SECRET + """---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: webapp, namespace: apps, labels: {team: a}}
spec: {url: /nowhere, interval: 1m}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: other, namespace: apps, labels: {team: b}}
spec: {url: /nowhere, interval: 1m}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: webapp, namespace: apps}
spec: {path: ./, interval: 1m, prune: true, sourceRef: {kind: GitRepository, name: webapp}}
"""


def receiver(name: str, resources: str, extra: str = "") -> str:
    return f"""---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {{name: {name}, namespace: apps}}
spec:
  type: generic
  secretRef: {{name: flux-gar-token}}
{extra}  resources:
{resources}"""


def test_the_body_is_req_only_when_it_is_json(redis_url: str) -> None:
    filtered = receiver(
        "by-body",
        "    - {kind: GitRepository, name: '*', matchLabels: {}}\n",
        "  resourceFilter: has(req.team) && res.metadata.labels.team == req.team\n",
    )
    hook = Hook(redis_url, GENERIC + filtered)
    body = b'{"team": "b"}'
    as_json = hook.post("by-body", body, {"Content-Type": "application/json; charset=utf-8"})
    assert as_json.json() == {"accepted": ["GitRepository/apps/other"]}
    as_text = hook.post("by-body", body + b" ", {"Content-Type": "text/plain"})
    assert as_text.json() == {"accepted": []}  # req is {}: has(req.team) is false
    array = hook.post("by-body", b"[1]", {"Content-Type": "application/json"})
    assert array.status_code == 500 and "JSON" in array.json()["errors"][0]


def test_what_cannot_be_woken_answers_500_and_the_rest_is_woken(redis_url: str) -> None:
    resources = (
        "    - {kind: GitRepository, name: '*'}\n"  # Flux: "*" needs matchLabels
        "    - {kind: Kustomization, name: webapp}\n"  # no default apiVersion for it
        "    - {apiVersion: source.toolkit.fluxcd.io/v1, kind: GitRepository, name: gone}\n"
        "    - {apiVersion: image.toolkit.fluxcd.io/v1, kind: GitRepository, name: webapp}\n"
        "    - {apiVersion: kustomize.toolkit.fluxcd.io/v1, kind: Kustomization, name: webapp}\n"
        "    - {kind: GitRepository, name: '*', matchLabels: {team: b}}\n"
    )
    hook = Hook(redis_url, GENERIC + receiver("mixed", resources))
    answer = hook.post("mixed", b"")
    assert answer.status_code == 500
    assert answer.json()["accepted"] == ["Kustomization/apps/webapp", "GitRepository/apps/other"]
    errors = answer.json()["errors"]
    assert [e.split(" ")[0] for e in errors] == ["matchLabels", "apiVersion", "unable", "no"]
    assert len(hook.dispatcher.queue) == 2


def test_an_expression_that_fails_on_an_object_ends_its_entry(redis_url: str) -> None:
    """Flux's "handling errors when parsing the CEL expression results": 500."""
    failing = receiver(
        "failing",
        "    - {kind: GitRepository, name: '*', matchLabels: {}}\n"
        "    - {apiVersion: kustomize.toolkit.fluxcd.io/v1, kind: Kustomization, name: webapp}\n",
        "  resourceFilter: res.name == \"test-resource-1\"\n",
    )
    hook = Hook(redis_url, GENERIC + failing)
    answer = hook.post("failing", b"{}", {"Content-Type": "application/json"})
    assert answer.status_code == 500
    assert answer.json()["accepted"] == []
    assert len(answer.json()["errors"]) == 2  # one per entry: the first object ends each
    assert not hook.dispatcher.queue


@pytest.mark.parametrize(
    "extra, message",
    [
        pytest.param("  resourceFilter: 'req.tag'\n", "expected bool", id="not-a-bool"),
        pytest.param("  resourceFilter: 'req.tag ==== 1'\n", "parse", id="syntax"),
        pytest.param("  resourceFilter: 'claims.sub == \"x\"'\n", "claims", id="claims-undeclared"),
    ],
)
def test_an_invalid_expression_stalls_the_receiver_and_it_answers_503(
    redis_url: str, extra: str, message: str
) -> None:
    bad = receiver("bad", "    - {kind: GitRepository, name: webapp}\n", extra)
    hook = Hook(redis_url, GENERIC + bad)
    status = hook.status("bad")
    stalled = status.condition("Stalled")
    assert stalled is not None and stalled.reason == "InvalidCELExpression"
    assert message in stalled.message and status.webhook_path is None
    assert hook.post("bad", b"{}").status_code == 503
    assert not hook.dispatcher.queue


def test_an_invalid_per_resource_filter_is_named_by_its_entry(redis_url: str) -> None:
    bad = receiver(
        "bad-entry",
        "    - {kind: GitRepository, name: webapp}\n"
        "    - {kind: GitRepository, name: other, filter: 'res.metadata.name +'}\n",
    )
    hook = Hook(redis_url, GENERIC + bad)
    stalled = hook.status("bad-entry").condition("Stalled")
    assert stalled is not None
    assert "resources[1] (kind='GitRepository', name='other')" in stalled.message


def test_generic_oidc_is_refused_by_name(redis_url: str) -> None:
    oidc = """---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: oidc, namespace: apps}
spec:
  type: generic-oidc
  resources:
    - {kind: GitRepository, name: webapp}
"""
    hook = Hook(redis_url, GENERIC + oidc)
    stalled = hook.status("oidc").condition("Stalled")
    assert stalled is not None and "generic-oidc" in stalled.message


def test_flux_cel_environment() -> None:
    """Flux's pkg/runtime/cel environment: Struct variables whose numbers are doubles,
    optional types, the strings, sets and encoders extensions."""
    data = {"res": {"metadata": {"generation": 3, "labels": {"a": "b"}}},
            "req": {"tags": ["v1", "v2"], "n": 1}}
    for source in (
        "res.metadata.generation > 2 && type(req.n) == double",
        "res.metadata.?annotations.orValue({}).size() == 0",
        "'a,b'.split(',').join('-') == 'a-b' && 'X'.lowerAscii() == 'x'",
        "sets.contains(req.tags, ['v2']) && sets.intersects(req.tags, ['v3', 'v1'])",
        "base64.encode(b'flux') == 'Zmx1eA=='",
    ):
        assert Expression(source, ("res", "req")).evaluate(data) is True, source
    with pytest.raises(EvaluationError, match=r"Key not found"):
        Expression("res.metadata.labels['c'] == 'd'", ("res", "req")).evaluate(data)
    with pytest.raises(InvalidExpression, match="undeclared"):
        Expression("claims.sub == 'x'", ("res", "req"))
