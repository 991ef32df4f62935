"""Every Receiver type of Flux's v1 API, through the real receiver app on a real Redis: an
authentic delivery wakes the Receiver's resources, a forged one or an event not in
``spec.events`` is refused with Flux's 400 and wakes nothing (notification-controller v1.9's
``validate``).

The providers cannot call us here; each request is built as its provider documents it (a
stand-in for GitHub, GitLab, Bitbucket, Harbor, Docker Hub, Quay, Nexus, ACR, Pub/Sub and a
CDEvents producer, not for our server). Google's certificate endpoints cannot be reached here
either: ``LocalGoogleKeys`` stands in for them, with keys made by the test; every check of the
token (signature, audience, expiry, issuer, email) runs for real.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from fastapi.testclient import TestClient

from conveyor.services.receiver.app import create_app
from conveyor.services.receiver.googleid import IAP_CERTS, SERVICE_ACCOUNT_CERTS
from conveyor.services.receiver.webhooks import webhook_path
from conveyor.shared.bus import InlineDispatcher
from conveyor.shared.manifests import parse_manifests
from conveyor.shared.runtime import Context
from conveyor.shared.store import Store

TOKEN = "receiver-token-5b1d0c9e"
EMAIL = "pubsub-push@my-project.iam.gserviceaccount.com"
AUDIENCE = "https://flux-webhook.example.com/hook/gcr"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class LocalGoogleKeys:
    """Stands in for Google's certificate endpoints (``oauth2/v3/certs`` for RS256, IAP's
    ``public_key-jwk`` for ES256), which cannot be reached from here: it publishes the public
    halves of keys this test made, in the same JWK form."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.asked: list[tuple[str, str]] = []

    def key(self, url: str, kid: str) -> dict[str, Any] | None:
        self.asked.append((url, kid))
        if url == SERVICE_ACCOUNT_CERTS and kid == "rsa-1":
            numbers = self.rsa.public_key().public_numbers()
            n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
            return {"kid": kid, "kty": "RSA", "alg": "RS256", "n": b64url(n), "e": "AQAB"}
        if url == IAP_CERTS and kid == "ec-1":
            point = self.ec.public_key().public_numbers()
            return {
                "kid": kid,
                "kty": "EC",
                "crv": "P-256",
                "x": b64url(point.x.to_bytes(32, "big")),
                "y": b64url(point.y.to_bytes(32, "big")),
            }
        return None

    def token(self, alg: str = "RS256", kid: str | None = None, **overrides: Any) -> str:
        claims: dict[str, Any] = {
            "iss": "https://accounts.google.com",
            "aud": AUDIENCE,
            "azp": "1234567890",
            "email": EMAIL,
            "email_verified": True,
            "exp": int(time.time()) + 3600,
            "iat": int(time.time()),
            "sub": "1234567890",
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        header = {"alg": alg, "kid": kid or ("rsa-1" if alg == "RS256" else "ec-1"), "typ": "JWT"}
        signed = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        if alg == "ES256":
            der = self.ec.sign(signed.encode(), ec.ECDSA(hashes.SHA256()))
            r, s = decode_dss_signature(der)
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        else:
            signature = self.rsa.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signed}.{b64url(signature)}"


RECEIVERS = {  # name: (type, events, resources)
    "generic-receiver": ("generic", [], "git"),
    "generic-hmac-receiver": ("generic-hmac", [], "git"),
    "github-receiver": ("github", ["ping", "push"], "git"),
    "gitlab-receiver": ("gitlab", ["Push Hook", "Tag Push Hook"], "git"),
    "bitbucket-receiver": ("bitbucket", ["repo:refs_changed"], "git"),
    "bitbucket-cloud-receiver": ("bitbucket", ["repo:push"], "git"),
    "harbor-receiver": ("harbor", [], "image"),
    "dockerhub-receiver": ("dockerhub", [], "image"),
    "quay-receiver": ("quay", [], "image"),
    "nexus-receiver": ("nexus", [], "image"),
    "acr-receiver": ("acr", [], "image"),
    "gcr-receiver": ("gcr", [], "image"),
    "cdevents-receiver": ("cdevents", ["dev.cdevents.change.merged.0.2.0"], "git"),
}

RESOURCES = {
    "git": "    - {apiVersion: source.toolkit.fluxcd.io/v1, kind: GitRepository, name: webapp}",
    "image": "    - {apiVersion: image.toolkit.fluxcd.io/v1, kind: ImageRepository, name: webapp}",
}
WOKEN = {"git": "GitRepository/default/webapp", "image": "ImageRepository/default/webapp"}


def manifests(image: str) -> str:
    docs = [
        f"""apiVersion: v1
kind: Secret
metadata: {{name: webhook-token, namespace: default}}
type: Opaque
stringData: {{token: {TOKEN}}}""",
        f"""apiVersion: v1
kind: Secret
metadata: {{name: gcr-webhook-token, namespace: default}}
type: Opaque
stringData: {{token: {TOKEN}, email: {EMAIL}, audience: "{AUDIENCE}"}}""",
        """apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: webapp, namespace: default}
spec: {url: /nowhere, interval: 1m}""",
        f"""apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: webapp, namespace: default}}
spec: {{image: "{image}", interval: 1m}}""",
    ]
    for name, (kind, events, resources) in RECEIVERS.items():
        secret = "gcr-webhook-token" if kind == "gcr" else "webhook-token"
        docs.append(
            f"""apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {{name: {name}, namespace: default}}
spec:
  type: {kind}
  events: {json.dumps(events)}
  secretRef: {{name: {secret}}}
  resources:
{RESOURCES[resources]}"""
        )
    return "\n---\n".join(docs)


class Hooks:
    def __init__(self, store: Store, image: str) -> None:
        store.put_objects(parse_manifests(manifests(image)))
        self.dispatcher = InlineDispatcher()
        self.keys = LocalGoogleKeys()
        ctx = Context(store=store, dispatcher=self.dispatcher)
        self.http = TestClient(create_app(ctx, google_keys=self.keys))

    def post(self, receiver: str, body: bytes, headers: dict[str, str]) -> Any:
        return self.http.post(
            webhook_path(TOKEN, receiver, "default"), content=body, headers=headers
        )

    def woken(self) -> list[tuple[str, tuple[str, ...]]]:
        return [(m["name"], tuple(m["tags"])) for _, m in self.dispatcher.queue]


def hub(body: bytes, algo: str = "sha256") -> str:
    return f"{algo}=" + hmac.new(TOKEN.encode(), body, getattr(hashlib, algo)).hexdigest()


def hooks_for(redis_url: str, image: str = "ghcr.io/org/webapp") -> Hooks:
    return Hooks(Store.from_url(redis_url), image)


def accepts(hooks: Hooks, receiver: str, body: bytes, headers: dict[str, str]) -> Any:
    answer = hooks.post(receiver, body, headers)
    assert answer.status_code == 200, answer.text
    kind = RECEIVERS[receiver][2]
    assert answer.json()["accepted"] == [WOKEN[kind]]
    return answer


def refuses(hooks: Hooks, receiver: str, body: bytes, headers: dict[str, str]) -> str:
    queued = len(hooks.dispatcher.queue)
    answer = hooks.post(receiver, body, headers)
    assert answer.status_code == 400, answer.text
    assert TOKEN not in answer.text
    assert len(hooks.dispatcher.queue) == queued  # nothing woken
    return str(answer.json()["detail"])


# --- Git providers ---------------------------------------------------------------------------

GITHUB_PUSH = json.dumps(
    {
        "ref": "refs/heads/main",
        "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "after": "0000000000000000000000000000000000000000",
        "repository": {"id": 186853002, "full_name": "org/webapp", "private": False},
        "pusher": {"name": "octocat", "email": "octocat@github.com"},
    }
).encode()


def test_github_push_and_ping_wake_a_forged_or_unlisted_event_does_not(redis_url: str) -> None:
    hooks = hooks_for(redis_url)
    github = {"Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/044aadd"}
    headers = {
        **github,
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-Hub-Signature-256": hub(GITHUB_PUSH),
    }
    assert "not authorised" in refuses(
        hooks, "github-receiver", GITHUB_PUSH, {**headers, "X-GitHub-Event": "issues"}
    )
    assert "signature" in refuses(
        hooks, "github-receiver", GITHUB_PUSH, {**headers, "X-Hub-Signature-256": hub(b"{}")}
    )
    accepts(hooks, "github-receiver", GITHUB_PUSH, headers)
    ping = b'{"zen": "Keep it logically awesome.", "hook_id": 1}'
    accepts(
        hooks,
        "github-receiver",
        ping,
        {**github, "X-GitHub-Event": "ping", "X-Hub-Signature-256": hub(ping)},
    )
    assert hooks.woken() == [("webapp", ())]  # the ping's request merged with the one queued


def test_gitlab_push_hook_with_its_token(redis_url: str) -> None:
    hooks = hooks_for(redis_url)
    body = json.dumps(
        {
            "object_kind": "push",
            "event_name": "push",
            "ref": "refs/heads/main",
            "checkout_sha": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
            "project": {"path_with_namespace": "org/webapp"},
        }
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Gitlab-Event": "Push Hook",
        "X-Gitlab-Token": TOKEN,
        "X-Gitlab-Event-UUID": "13792a34-cac6-4fda-95a8-c58e00a3954e",
    }
    assert "X-Gitlab-Token" in refuses(
        hooks, "gitlab-receiver", body, {**headers, "X-Gitlab-Token": TOKEN + "x"}
    )
    assert "not authorised" in refuses(
        hooks, "gitlab-receiver", body, {**headers, "X-Gitlab-Event": "Merge Request Hook"}
    )
    accepts(hooks, "gitlab-receiver", body, {**headers, "X-Gitlab-Event": "tag push hook"})


BITBUCKET_SERVER_PUSH = json.dumps(
    {
        "eventKey": "repo:refs_changed",
        "date": "2017-09-19T09:58:11+1000",
        "actor": {"name": "admin", "emailAddress": "admin@example.com", "id": 1},
        "repository": {"slug": "webapp", "id": 84, "project": {"key": "PROJ"}},
        "changes": [
            {
                "ref": {"id": "refs/heads/main", "displayId": "main", "type": "BRANCH"},
                "refId": "refs/heads/main",
                "fromHash": "ecddabb624f6f5ba43816f5926e580a5f680a932",
                "toHash": "178864a7d521b6f5e720b386b2c2b0ef8563e0dc",
                "type": "UPDATE",
            }
        ],
    }
).encode()


def test_bitbucket_server_refs_changed_signed_in_x_hub_signature(redis_url: str) -> None:
    hooks = hooks_for(redis_url)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "X-Event-Key": "repo:refs_changed",
        "X-Request-Id": "f2ad1e4e-0a0f-4a08-9e8f-1c3c4c5b6d7e",
        "X-Hub-Signature": hub(BITBUCKET_SERVER_PUSH),
    }
    assert "signature" in refuses(
        hooks, "bitbucket-receiver", BITBUCKET_SERVER_PUSH, {**headers, "X-Hub-Signature": ""}
    )
    assert "not authorised" in refuses(
        hooks, "bitbucket-receiver", BITBUCKET_SERVER_PUSH, {**headers, "X-Event-Key": "pr:opened"}
    )
    assert "Content-Type" in refuses(
        hooks, "bitbucket-receiver", BITBUCKET_SERVER_PUSH, {**headers, "Content-Type": ""}
    )
    accepts(hooks, "bitbucket-receiver", BITBUCKET_SERVER_PUSH, headers)


def test_bitbucket_cloud_repo_push(redis_url: str) -> None:
    hooks = hooks_for(redis_url)
    body = json.dumps(
        {
            "actor": {"display_name": "Dev", "type": "user"},
            "repository": {"full_name": "team/webapp", "type": "repository"},
            "push": {"changes": [{"new": {"type": "branch", "name": "main"}, "created": False}]},
        }
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Event-Key": "repo:push",
        "X-Request-UUID": "a7c3a5f0-6b1d-4bd8-8c55-38a07f2f0b1e",
        "X-Hook-UUID": "d2c8e8a5-3f5c-4c0e-9b6a-6e9c1b8c2f11",
        "X-Hub-Signature": hub(body),
    }
    assert "not authorised" in refuses(
        hooks, "bitbucket-cloud-receiver", body, {**headers, "X-Event-Key": "repo:fork"}
    )
    accepts(hooks, "bitbucket-cloud-receiver", body, headers)
    # Bitbucket retries a delivery it saw fail with the same request id: taken once
    again = hooks.post("bitbucket-cloud-receiver", body, headers)
    assert again.json() == {"accepted": [], "duplicate": True}


def test_generic_hmac_with_each_hash_openssl_makes(redis_url: str) -> None:
    hooks = hooks_for(redis_url)
    for n, algo in enumerate(("sha1", "sha256", "sha512")):
        body = json.dumps({"build": n}).encode()
        accepts(hooks, "generic-hmac-receiver", body, {"X-Signature": hub(body, algo)})
    body = b'{"build": 9}'
    assert "HMAC" in refuses(hooks, "generic-hmac-receiver", body, {"X-Signature": hub(b"x")})


def test_generic_takes_any_request_to_its_path(redis_url: str) -> None:
    hooks = hooks_for(redis_url)
    accepts(hooks, "generic-receiver", b"", {})
    other = hooks.http.post(webhook_path("another-token", "generic-receiver", "default"))
    assert other.status_code == 404


CHANGE_MERGED = json.dumps(
    {
        "context": {
            "version": "0.4.1",
            "id": "271069a8-fc18-44f1-b38f-9d70a1695819",
            "source": "/event/source/123",
            "type": "dev.cdevents.change.merged.0.2.0",
            "timestamp": "2023-03-20T14:27:05.315384Z",
        },
        "subject": {
            "id": "myChange123",
            "source": "/event/source/123",
            "type": "change",
            "content": {"repository": {"id": "cdevents/service1", "source": "my-git.example"}},
        },
    }
).encode()


def test_cdevents_change_merged_validated_and_filtered_by_its_type(redis_url: str) -> None:
    hooks = hooks_for(redis_url)
    headers = {
        "Content-Type": "application/json",
        "Ce-Specversion": "1.0",
        "Ce-Id": "271069a8-fc18-44f1-b38f-9d70a1695819",
        "Ce-Source": "/event/source/123",
        "Ce-Type": "dev.cdevents.change.merged.0.2.0",
    }
    assert "not authorised" in refuses(
        hooks, "cdevents-receiver", CHANGE_MERGED,
        {**headers, "Ce-Type": "dev.cdevents.change.created.0.3.0"},
    )
    invalid = json.loads(CHANGE_MERGED)
    invalid["subject"]["type"] = "build"  # not the subject of a change event
    assert "CDEvent" in refuses(hooks, "cdevents-receiver", json.dumps(invalid).encode(), headers)
    unknown = json.loads(CHANGE_MERGED)
    unknown["context"]["type"] = "dev.cdevents.change.merged.1.0.0"
    assert "unknown event type" in refuses(
        hooks, "cdevents-receiver", json.dumps(unknown).encode(), headers
    )
    accepts(hooks, "cdevents-receiver", CHANGE_MERGED, headers)


# --- registries ------------------------------------------------------------------------------


def test_harbor_push_artifact_with_its_auth_header(redis_url: str) -> None:
    hooks = hooks_for(redis_url, image="harbor.example.com/library/webapp")
    body = json.dumps(
        {
            "type": "PUSH_ARTIFACT",
            "occur_at": 1680501893,
            "operator": "harbor-jobservice",
            "event_data": {
                "resources": [
                    {
                        "digest": "sha256:954b378c375d852eb3c63ab88978f640"
                        "b4348b01c1b3456a024a81536dafbbf4",
                        "tag": "v1.2.3",
                        "resource_url": "harbor.example.com/library/webapp:v1.2.3",
                    }
                ],
                "repository": {
                    "name": "webapp",
                    "namespace": "library",
                    "repo_full_name": "library/webapp",
                    "repo_type": "public",
                },
            },
        }
    ).encode()
    assert "Authorization" in refuses(hooks, "harbor-receiver", body, {"Authorization": "x"})
    accepts(hooks, "harbor-receiver", body, {"Authorization": TOKEN})
    assert hooks.woken() == [("webapp", ("v1.2.3",))]


def test_dockerhub_push_decoded_as_flux_decodes_it(redis_url: str) -> None:
    hooks = hooks_for(redis_url, image="svendowideit/testhook")
    body = json.dumps(
        {
            "callback_url": "https://registry.hub.docker.com/u/svendowideit/testhook/hook/2141b5bi5i5b02bec211i4eeih0242eg11000a/",
            "push_data": {"pushed_at": 1417566161, "pusher": "trustedbuilder", "tag": "latest"},
            "repository": {
                "repo_name": "svendowideit/testhook",
                "repo_url": "https://registry.hub.docker.com/u/svendowideit/testhook/",
                "status": "Active",
            },
        }
    ).encode()
    assert "DockerHub" in refuses(hooks, "dockerhub-receiver", b'{"push_data": []}', {})
    accepts(hooks, "dockerhub-receiver", body, {"Content-Type": "application/json"})
    assert hooks.woken() == [("webapp", ("latest",))]


def test_quay_repository_push(redis_url: str) -> None:
    hooks = hooks_for(redis_url, image="quay.io/mynamespace/repository")
    body = json.dumps(
        {
            "name": "repository",
            "repository": "mynamespace/repository",
            "namespace": "mynamespace",
            "docker_url": "quay.io/mynamespace/repository",
            "homepage": "https://quay.io/repository/mynamespace/repository",
            "updated_tags": ["latest"],
        }
    ).encode()
    assert "Quay" in refuses(hooks, "quay-receiver", b'{"updated_tags": [1]}', {})
    accepts(hooks, "quay-receiver", body, {"Content-Type": "application/json"})
    assert hooks.woken() == [("webapp", ("latest",))]


def test_nexus_signed_in_its_own_header(redis_url: str) -> None:
    hooks = hooks_for(redis_url)
    body = json.dumps(
        {
            "timestamp": "2016-11-10T23:57:49.664+0000",
            "nodeId": "52905B51-085CCABB-CEBBEAAD-16795588-FC927D93",
            "initiator": "admin/127.0.0.1",
            "repositoryName": "docker-hosted",
            "action": "CREATED",
            "component": {"format": "docker", "name": "webapp", "version": "v2"},
        }
    ).encode()
    signature = hmac.new(TOKEN.encode(), body, hashlib.sha1).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Nexus-Webhook-Id": "rm:repository:component",
        "X-Nexus-Webhook-Delivery": "7f69ea3c-ad5f-4e48-8b95-7ea9f4d1f6d3",
    }
    assert "missing" in refuses(hooks, "nexus-receiver", body, headers)
    assert "invalid Nexus" in refuses(
        hooks, "nexus-receiver", body, {**headers, "X-Nexus-Webhook-Signature": "0" * 40}
    )
    accepts(hooks, "nexus-receiver", body, {**headers, "X-Nexus-Webhook-Signature": signature})


ACR_PUSH = {
    "id": "cb8c3971-9adc-488b-xxxx-43cbb4974ff5",
    "timestamp": "2017-11-17T16:52:01.343145347Z",
    "action": "push",
    "target": {
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "size": 524,
        "digest": "sha256:80f0d5c8786bb9e621a45ece0db56d11cdc624ad20da9fe62e9d25490f331d7d",
        "length": 524,
        "repository": "hello-world",
        "tag": "v1",
    },
    "request": {
        "id": "3cbb6949-7549-4fa1-xxxx-a6d5451dffc7",
        "host": "myregistry.azurecr.io",
        "method": "PUT",
        "useragent": "docker/17.09.0-ce go/go1.8.3 git-commit/afdb6d4 kernel/4.10.0-27-generic",
    },
}


def test_acr_push_wakes_the_image_repository_with_its_tag(redis_url: str) -> None:
    hooks = hooks_for(redis_url, image="myregistry.azurecr.io/hello-world")
    assert "ACR" in refuses(hooks, "acr-receiver", b'{"target": "hello-world"}', {})
    accepts(hooks, "acr-receiver", json.dumps(ACR_PUSH).encode(), {})
    assert hooks.woken() == [("webapp", ("v1",))]
    other = {**ACR_PUSH, "target": {**ACR_PUSH["target"], "repository": "other"}}  # type: ignore[dict-item]
    answer = hooks.post("acr-receiver", json.dumps(other).encode(), {})
    assert answer.status_code == 200 and answer.json()["accepted"] == []  # not this image


def pubsub(event: dict[str, str], message_id: str = "2070443601311540") -> bytes:
    data = base64.b64encode(json.dumps(event).encode()).decode()
    return json.dumps(
        {
            "message": {
                "attributes": {"key": "value"},
                "data": data,
                "messageId": message_id,
                "message_id": message_id,
                "publishTime": "2021-02-26T19:13:55.749Z",
                "publish_time": "2021-02-26T19:13:55.749Z",
            },
            "subscription": "projects/my-project/subscriptions/flux-gar",
        }
    ).encode()


GAR_INSERT = {
    "action": "INSERT",
    "digest": "us-east1-docker.pkg.dev/my-project/my-repo/hello-world@sha256:6ec128e26cd5",
    "tag": "us-east1-docker.pkg.dev/my-project/my-repo/hello-world:1.1",
}
GAR_IMAGE = "us-east1-docker.pkg.dev/my-project/my-repo/hello-world"


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_gcr_pubsub_push_with_a_google_id_token(redis_url: str, alg: str) -> None:
    hooks = hooks_for(redis_url, image=GAR_IMAGE)
    token = hooks.keys.token(alg)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    accepts(hooks, "gcr-receiver", pubsub(GAR_INSERT), headers)
    assert hooks.woken() == [("webapp", ("1.1",))]
    assert hooks.keys.asked[-1][0] == (SERVICE_ACCOUNT_CERTS if alg == "RS256" else IAP_CERTS)
    # Pub/Sub delivers at least once: the same message again is the same delivery
    again = hooks.post("gcr-receiver", pubsub(GAR_INSERT), headers)
    assert again.json() == {"accepted": [], "duplicate": True}


@pytest.mark.parametrize(
    "claims, expected",
    [
        pytest.param({"aud": "https://elsewhere.example.com/"}, "audience", id="audience"),
        pytest.param({"aud": None}, "audience", id="no-audience"),
        pytest.param({"exp": int(time.time()) - 1}, "expired", id="expired"),
        pytest.param({"iss": "https://evil.example.com"}, "issuer", id="issuer"),
        pytest.param({"email": "someone@evil.iam.gserviceaccount.com"}, "email", id="email"),
        pytest.param({"email_verified": False}, "not verified", id="email-not-verified"),
        pytest.param({"email_verified": "true"}, "not verified", id="email-verified-a-string"),
    ],
)
def test_gcr_refuses_a_token_not_for_it(
    redis_url: str, claims: dict[str, Any], expected: str
) -> None:
    hooks = hooks_for(redis_url, image=GAR_IMAGE)
    token = hooks.keys.token(**claims)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    assert expected in refuses(hooks, "gcr-receiver", pubsub(GAR_INSERT), headers)


def test_gcr_refuses_a_forged_or_malformed_token(redis_url: str) -> None:
    hooks = hooks_for(redis_url, image=GAR_IMAGE)
    body = pubsub(GAR_INSERT)
    good = hooks.keys.token()
    header, payload, signature = good.split(".")
    forged_claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged_claims["email"] = "attacker@evil.iam.gserviceaccount.com"
    forged = f"{header}.{b64url(json.dumps(forged_claims).encode())}.{signature}"
    none = b64url(json.dumps({"alg": "none", "kid": "rsa-1"}).encode())
    unsigned = f"{none}.{payload}."
    for authorization, expected in [
        (f"Bearer {forged}", "signature not valid"),
        (f"Bearer {unsigned}", "RS256 or ES256"),
        (f"Bearer {hooks.keys.token(kid='rotated-away')}", "matching cert"),
        (f"Bearer {header}.{payload}", "three segments"),
        (f"bearer {good}", "missing or malformed"),
        ("", "missing or malformed"),
    ]:
        headers = {"Content-Type": "application/json", "Authorization": authorization}
        assert expected in refuses(hooks, "gcr-receiver", body, headers)
    # authentic, but no registry event inside the Pub/Sub message
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {good}"}
    not_json = b'{"message": {"data": "bm90IGpzb24="}}'
    assert "GCR" in refuses(hooks, "gcr-receiver", not_json, headers)


def test_gcr_needs_email_and_audience_in_its_secret(redis_url: str) -> None:
    store = Store.from_url(redis_url)
    hooks = Hooks(store, GAR_IMAGE)
    (secret,) = parse_manifests(
        f"""apiVersion: v1
kind: Secret
metadata: {{name: gcr-webhook-token, namespace: default}}
stringData: {{token: {TOKEN}, audience: "{AUDIENCE}"}}"""
    )
    store.put_object(secret)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {hooks.keys.token()}"}
    assert "'email'" in refuses(hooks, "gcr-receiver", pubsub(GAR_INSERT), headers)
