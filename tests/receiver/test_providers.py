"""Each Provider type against a real HTTP server on loopback that records what it receives
(tests/fixtures/notify_servers.py), the payload checked against the format the provider
documents and notification-controller v1.9.3 sends: Flux's event JSON (generic, signed for
generic-hmac), Slack's attachments, MS Teams' Adaptive Card, Discord's and Rocket.Chat's
Slack-compatible messages, Google Chat's card; and the commit statuses of GitHub, GitLab,
Gitea and Bitbucket Cloud against stand-ins of their APIs, through a proxy and a private CA
where the Provider says so."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator

import pytest

from conveyor.services.receiver import alerts, providers
from conveyor.services.receiver.gojson import marshal
from conveyor.services.receiver.webhooks import verify
from conveyor.shared.adapters.webhook import DeliveryFailed
from conveyor.shared.manifests import parse_manifests
from conveyor.shared.models import Alert, Provider, SecretSpec
from conveyor.shared.notices import Notice
from tests.fixtures.loopback import LoopbackServer, Reply
from tests.fixtures.notify_servers import Call, Hook, Proxy, StatusForge
from tests.fixtures.tls import TestCA
from tests.receiver.test_webhooks import NoGoogleKeys

KS = "kustomize.toolkit.fluxcd.io"
SHA = "0123456789abcdef0123456789abcdef01234567"
REVISION = f"main@sha1:{SHA}"
UPDATE = {f"{KS}/revision": REVISION, f"{KS}/commit_status": "update"}


def provider(spec: str, version: str = "v1beta3", name: str = "p") -> Provider:
    [obj] = parse_manifests(
        f"apiVersion: notification.toolkit.fluxcd.io/{version}\nkind: Provider\n"
        f"metadata: {{name: {name}, namespace: apps, uid: 8e71c1b6-bd6c-4c1a-9a57-7e0b1cb2}}\n"
        f"spec:\n{spec}"
    )
    assert isinstance(obj, Provider) and obj.unsupported == (), obj.unsupported
    return obj


def secret(**data: str | bytes) -> SecretSpec:
    return SecretSpec(data={k: v.encode() if isinstance(v, str) else v for k, v in data.items()})


def secret_of(**named: SecretSpec) -> providers.SecretOf:
    def find(name: str) -> SecretSpec:
        return named[name]

    return find


def event(
    severity: str = "info",
    message: str = "Reconciliation finished in 2s, next run in 10m",
    metadata: dict[str, str] | None = None,
    reason: str = "ReconciliationSucceeded",
    summary: str = "",
) -> alerts.Event:
    notice = Notice(
        kind="Kustomization", namespace="apps", name="app", api_version=f"{KS}/v1", uid="",
        severity=severity, reason=reason, message=message, metadata=metadata or {},
        controller="kustomize-controller", timestamp=1_700_000_000.0,
    )
    [plain] = parse_manifests(
        "apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\n"
        "metadata: {name: a, namespace: apps}\nspec:\n  providerRef: {name: p}\n"
        "  eventSources: [{kind: Kustomization, name: '*'}]\n"
        + (f"  summary: {summary}\n" if summary else "")
    )
    assert isinstance(plain, Alert)
    return alerts.for_alert(alerts.flux_event(notice, "conveyor-0"), plain)


def deliver(p: Provider, e: alerts.Event, **secrets: SecretSpec) -> None:
    status = ""
    if p.spec.type in alerts.COMMIT_STATUS_TYPES:
        status = alerts.commit_status_id(providers.default_uid(p), e)
    providers.send(providers.resolve(p, secret_of(**secrets), commit_status=status), e)


@pytest.fixture
def hook() -> Iterator[Hook]:
    with Hook() as server:
        yield server


def test_generic_posts_flux_s_event_with_the_secret_s_headers(hook: Hook) -> None:
    e = event(metadata={f"{KS}/revision": REVISION})
    deliver(provider(f"  type: generic\n  address: {hook.url}/from-spec\n"), e)
    # the Secret's address wins over spec.address; its headers are sent (and may replace ours)
    headers = "Authorization: Bearer abc-123\nX-Team: web\nContent-Type: application/json\n"
    deliver(
        provider(f"  type: generic\n  address: {hook.url}/from-spec\n  secretRef: {{name: s}}\n"),
        e, s=secret(address=f"  {hook.url}/from-secret \n", headers=headers),
    )
    first, second = hook.wait_for(2)
    assert [first.path, second.path] == ["/from-spec", "/from-secret"]
    assert first.method == "POST" and first.body == marshal(e) == second.body
    assert json.loads(first.body)["metadata"] == {"revision": REVISION}
    assert first.headers["content-type"] == "application/json"
    assert first.headers["gotk-component"] == "kustomize-controller"
    assert "x-signature" not in first.headers and "authorization" not in first.headers
    assert second.headers["authorization"] == "Bearer abc-123"
    assert second.headers["x-team"] == "web"


def test_generic_hmac_signs_the_body_as_the_receiver_checks_it(hook: Hook) -> None:
    token = "hmac-token-0123456789"
    e = event(message="héllo <world>")
    deliver(provider("  type: generic-hmac\n  secretRef: {name: s}\n"), e,
            s=secret(address=hook.url, token=token))
    [seen] = hook.wait_for(1)
    expected = hmac.new(token.encode(), seen.body, hashlib.sha256).hexdigest()
    assert seen.headers["x-signature"] == f"sha256={expected}"
    # conveyor's (Flux's) generic-hmac Receiver accepts it, and refuses another key
    headers = {"X-Signature": seen.headers["x-signature"]}
    assert verify("generic-hmac", {"token": token}, headers, seen.body, [], NoGoogleKeys())
    with pytest.raises(Exception, match="unable to validate HMAC signature"):
        verify("generic-hmac", {"token": "another-token"}, headers, seen.body, [], NoGoogleKeys())


def test_slack_offers_buttons_for_a_change_awaiting_approval(hook: Hook) -> None:
    e = event(reason="AwaitingApproval", message="podinfo:1.0 -> podinfo:1.1 waits",
              metadata={f"{KS}/approval": "c0ffee12"})
    deliver(provider(f"  type: slack\n  address: {hook.url}/hook\n"), e)
    deliver(provider(f"  type: slack\n  address: {hook.url}/hook\n"), event())
    asked, plain = (json.loads(r.body)["attachments"][0] for r in hook.wait_for(2))
    assert asked["callback_id"] == "conveyor-approval:c0ffee12"
    assert [(a["text"], a["value"]) for a in asked["actions"]] == [
        ("Approve", "approve:c0ffee12"), ("Reject", "reject:c0ffee12")
    ]  # the values the receiver's /api/v1/approvals/slack takes
    assert "actions" not in plain and "callback_id" not in plain


def test_slack_attachments_with_channel_username_and_token(hook: Hook) -> None:
    e = event(severity="error", message="Health check failed\nafter 30s",
              metadata={f"{KS}/revision": REVISION}, summary="cluster A")
    deliver(
        provider("  type: slack\n  channel: general\n  username: flux-bot\n"
                 "  secretRef: {name: s}\n"),
        e, s=secret(address=f"{hook.url}/services/T0/B0/xyz", token="xoxb-123"),
    )
    deliver(provider(f"  type: slack\n  address: {hook.url}/hook\n"), event())
    first, second = hook.wait_for(2)
    assert first.headers["authorization"] == "Bearer xoxb-123"
    assert json.loads(first.body) == {
        "channel": "general",
        "username": "flux-bot",
        "icon_url": "",
        "icon_emoji": "",
        "attachments": [{
            "fallback": "kustomization/app.apps: Health check failed",
            "color": "danger",
            "author_name": "kustomization/app.apps",
            "text": "Health check failed\nafter 30s",
            "mrkdwn_in": ["text"],
            "fields": [
                {"title": "revision", "value": REVISION, "short": False},
                {"title": "summary", "value": "cluster A", "short": False},
            ],
        }],
    }
    plain = json.loads(second.body)
    assert "authorization" not in second.headers
    assert plain["username"] == "kustomize-controller"  # no username: the controller's
    assert plain["channel"] == "" and plain["attachments"][0]["color"] == "good"
    assert plain["attachments"][0]["fields"] == []


def test_each_type_s_payload(hook: Hook) -> None:
    e = event(severity="error", message="apply failed",
              metadata={f"{KS}/revision": REVISION}, summary="prod")
    deliver(provider(f"  type: msteams\n  address: {hook.url}/teams\n"), e)
    deliver(provider(f"  type: discord\n  address: {hook.url}/api/webhooks/1/t\n"
                     "  username: bot\n  channel: ignored\n"), e)
    deliver(provider(f"  type: discord\n  address: {hook.url}/api/webhooks/2/t/slack\n"), e)
    deliver(provider(f"  type: rocket\n  address: {hook.url}/rocket\n  channel: ops\n"), e)
    deliver(provider(f"  type: googlechat\n  address: {hook.url}/chat\n"), e)
    teams, discord, discord2, rocket, chat = hook.wait_for(5)
    assert json.loads(teams.body) == {
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [{"type": "Container", "items": [
                    {"type": "TextBlock", "text": "kustomization/app.apps", "size": "large",
                     "weight": "bolder", "wrap": True},
                    {"type": "TextBlock", "text": "apply failed", "color": "attention",
                     "wrap": True},
                    {"type": "FactSet", "facts": [  # summary first, then by key
                        {"title": "summary", "value": "prod"},
                        {"title": "revision", "value": REVISION},
                    ]},
                ]}],
                "msteams": {"width": "Full"},
            },
        }],
    }
    assert [discord.path, discord2.path] == ["/api/webhooks/1/t/slack", "/api/webhooks/2/t/slack"]
    assert json.loads(discord.body) == {
        "channel": "", "username": "bot", "icon_url": "", "icon_emoji": "",
        "attachments": [{
            "fallback": "", "color": "danger", "author_name": "kustomization/app.apps",
            "text": "apply failed", "mrkdwn_in": ["text"],
            "fields": [{"title": "revision", "value": REVISION, "short": False},
                       {"title": "summary", "value": "prod", "short": False}],
        }],
    }
    assert json.loads(discord2.body)["username"] == "kustomize-controller"
    sent = json.loads(rocket.body)
    assert (sent["channel"], sent["username"]) == ("ops", "")  # Rocket: no default username
    assert sent["attachments"][0]["color"] == "#FF0000"
    assert json.loads(chat.body) == {"cards": [{
        "header": {"title": "kustomization/app.apps", "subtitle": "kustomize-controller",
                   "imageUrl": None, "imageStyle": None},
        "sections": [
            {"header": "", "widgets": [{
                "textParagraph": {"text": '<font color="#ff0000">apply failed</font>'},
                "keyValue": None}]},
            {"header": "", "widgets": [
                {"textParagraph": None, "keyValue": {
                    "topLabel": key, "content": value, "contentMultiline": False,
                    "bottomLabel": None, "icon": None}}
                for key, value in (("revision", REVISION), ("summary", "prod"))
            ]},
        ],
    }]}
    # the retired Office 365 connector (a host under .webhook.office.com) gets a MessageCard
    card = providers.msteams_payload(event(), connector=True)
    assert card["@type"] == "MessageCard" and card["themeColor"] == "0076D7"
    assert card["sections"][0]["activitySubtitle"] == "kustomization/app.apps"


@pytest.mark.parametrize("kind", ["github", "gitlab", "gitea"])
def test_commit_statuses_on_the_applied_revision(kind: str) -> None:
    """GitHub (Enterprise's /api/v3 on this host), GitLab and Gitea: the status id is the
    object and the Provider's uid, set from the commit_status update; the same again is not
    set twice; an error fails it; a progressing event sets none (Gitea: pending)."""
    forge = StatusForge(kind, "forge-token")
    with LoopbackServer(forge) as server:
        p = provider(f"  type: {kind}\n  address: {server.url}/org/app.git\n"
                     "  secretRef: {name: s}\n")
        s = secret(token="forge-token")
        deliver(p, event(metadata=UPDATE), s=s)
        deliver(p, event(metadata=UPDATE), s=s)  # the same: not set again
        deliver(p, event(severity="error", message="apply failed", reason="BuildFailed",
                         metadata=UPDATE), s=s)
        deliver(p, event(reason="Progressing", metadata=UPDATE), s=s)
    ok, failed = {"github": ("success", "failure"), "gitlab": ("success", "failed"),
                  "gitea": ("success", "failure")}[kind]
    state = "status" if kind in ("gitlab", "gitea") else "state"
    ident = "kustomization/app/8e71c1b6"
    name = "name" if kind == "gitlab" else "context"
    created = [(s[state], s["description"], s[name]) for s in forge.created]
    expected = [(ok, "reconciliation succeeded", ident), (failed, "build failed", ident)]
    if kind == "gitea":
        expected.append(("pending", "progressing", ident))
    assert created == expected
    assert set(forge.statuses) == {SHA}


def test_commit_status_api_paths_and_bodies() -> None:
    """The requests as each forge documents them."""
    for kind, token, address in (
        ("github", "t", "https://github.com/org/app"),
        ("gitlab", "t", "https://gitlab.example.test/group/sub/app.git"),
    ):
        forge = StatusForge(kind, token)
        seen: list[Call] = []

        def answer(call: Call, forge: StatusForge = forge, seen: list[Call] = seen) -> Reply:
            seen.append(call)
            return forge(call.seen)

        ca = TestCA()
        with Proxy(answer, ca) as proxy:
            p = provider(f"  type: {kind}\n  address: {address}\n  secretRef: {{name: s}}\n"
                         "  certSecretRef: {name: ca}\n")
            with pytest.MonkeyPatch.context() as env:
                env.setenv("HTTPS_PROXY", proxy.url)  # GitHub's and GitLab's clients: no proxy
                deliver(p, event(metadata=UPDATE), s=secret(token=token),
                        ca=secret(**{"ca.crt": ca.cert_pem}))
        listed, created = seen
        if kind == "github":
            assert listed.host == "api.github.com:443"
            assert (listed.seen.path, listed.seen.query) == (
                f"/repos/org/app/commits/{SHA}/statuses", {"per_page": ["50"]})
            assert created.seen.path == f"/repos/org/app/statuses/{SHA}"
            assert created.seen.headers["accept"] == "application/vnd.github.v3+json"
            assert json.loads(created.seen.body) == {
                "state": "success", "description": "reconciliation succeeded",
                "context": "kustomization/app/8e71c1b6"}
        else:
            assert listed.host == "gitlab.example.test:443"
            assert listed.seen.path == (
                f"/api/v4/projects/group%2Fsub%2Fapp/repository/commits/{SHA}/statuses")
            assert listed.seen.query == {"name": ["kustomization/app/8e71c1b6"]}
            assert created.seen.path == f"/api/v4/projects/group%2Fsub%2Fapp/statuses/{SHA}"
            assert json.loads(created.seen.body) == {
                "state": "success", "name": "kustomization/app/8e71c1b6",
                "description": "reconciliation succeeded"}


def test_bitbucket_through_the_environment_s_proxy() -> None:
    """Bitbucket Cloud's API host is fixed (api.bitbucket.org): reached here through the
    environment's HTTPS_PROXY, its TLS checked against certSecretRef's CA."""
    forge = StatusForge("bitbucket", "user:app-password")
    calls: list[Call] = []

    def answer(call: Call) -> Reply:
        calls.append(call)
        return forge(call.seen)

    ca = TestCA()
    p = provider("  type: bitbucket\n  address: ssh://git@bitbucket.org/team/app.git\n"
                 "  secretRef: {name: s}\n  certSecretRef: {name: ca}\n")
    s, cas = secret(token="user:app-password"), secret(**{"ca.crt": ca.cert_pem})
    with Proxy(answer, ca) as proxy, pytest.MonkeyPatch.context() as env:
        env.setenv("HTTPS_PROXY", proxy.url)
        deliver(p, event(metadata=UPDATE), s=s, ca=cas)
        deliver(p, event(metadata=UPDATE), s=s, ca=cas)  # the same state: only looked up
    key = hashlib.sha1(b"kustomization/app/8e71c1b6").hexdigest()
    base = f"/2.0/repositories/team/app/commit/{SHA}/statuses/build"
    assert [(c.host, c.seen.method, c.seen.path) for c in calls] == [
        ("api.bitbucket.org:443", "GET", f"{base}/{key}"),
        ("api.bitbucket.org:443", "POST", base),
        ("api.bitbucket.org:443", "GET", f"{base}/{key}"),
    ]
    assert json.loads(calls[1].seen.body) == {
        "key": key, "url": "https://bitbucket.org", "state": "SUCCESSFUL",
        "name": "kustomization/app", "description": "reconciliation succeeded"}


def test_cert_secret_ref_and_proxy_secret_ref_reach_gitea() -> None:
    forge = StatusForge("gitea", "gitea-token")
    calls: list[Call] = []

    def answer(call: Call) -> Reply:
        calls.append(call)
        return forge(call.seen)

    ca = TestCA()
    spec = ("  type: gitea\n  address: https://gitea.example.test/org/app\n"
            "  secretRef: {name: s}\n  proxySecretRef: {name: proxy}\n")
    with Proxy(answer, ca) as proxy:
        through = secret(address=proxy.url, username="proxy-user", password="proxy-pass")
        s = secret(token="gitea-token")
        with pytest.raises(DeliveryFailed, match="TLS certificate not trusted"):
            deliver(provider(spec), event(metadata=UPDATE), s=s, proxy=through)
        deliver(provider(spec + "  certSecretRef: {name: ca}\n"), event(metadata=UPDATE),
                s=s, proxy=through, ca=secret(**{"ca.crt": ca.cert_pem}))
    listed, created = calls
    basic = base64.b64encode(b"proxy-user:proxy-pass").decode()
    assert listed.tunneled and listed.host == "gitea.example.test:443"
    assert listed.proxy_authorization == f"Basic {basic}"
    assert listed.seen.path == f"/api/v1/repos/org/app/commits/{SHA}/statuses"
    assert created.seen.path == f"/api/v1/repos/org/app/statuses/{SHA}"
    assert created.seen.headers["authorization"] == "token gitea-token"
    assert json.loads(created.seen.body) == {
        "state": "success", "target_url": "", "description": "reconciliation succeeded",
        "context": "kustomization/app/8e71c1b6"}


def test_the_deprecated_proxy_field_and_secret_key() -> None:
    """spec.proxy (deprecated by Flux for proxySecretRef), and the Secret's ``proxy`` key,
    which wins over it: the hook's host does not resolve, only the proxy answers."""
    def answer(call: Call) -> Reply:
        return 200, {}, b"ok"

    ca = TestCA()
    with Proxy(answer, ca) as first, Proxy(answer, ca) as second:
        deliver(provider(f"  type: generic\n  address: http://hooks.example.test/a\n"
                         f"  proxy: {first.url}\n"), event())
        deliver(provider(f"  type: generic\n  address: http://hooks.example.test/b\n"
                         f"  proxy: {first.url}\n  secretRef: {{name: s}}\n"),
                event(), s=secret(proxy=second.url))
    [(a)], [(b)] = first.calls, second.calls
    assert (a.host, a.seen.path, a.tunneled) == ("hooks.example.test", "/a", False)
    assert (b.host, b.seen.path) == ("hooks.example.test", "/b")


def test_retries_with_backoff_after_a_500_then_success() -> None:
    with Hook(script=(500, 503)) as hook:
        deliver(provider(f"  type: generic\n  address: {hook.url}\n"), event())
        tries = hook.wait_for(3)
    assert [t.body for t in tries] == [marshal(event())] * 3
    with Hook(script=(400,)) as refused:  # a 4xx is not tried again
        with pytest.raises(DeliveryFailed, match="request failed with status code 400: failed"):
            deliver(provider(f"  type: generic\n  address: {refused.url}\n"), event())
        assert len(refused.requests) == 1


@pytest.mark.parametrize(
    ("spec", "data", "message"),
    [
        ("  type: generic\n", {}, "invalid hook URL"),
        ("  type: generic-hmac\n  address: http://h.test/\n", {}, "HMAC key is empty"),
        ("  type: gitlab\n  address: https://gitlab.com/g/p\n", {}, "gitlab token cannot be"),
        ("  type: gitea\n  address: https://gitea.test/only-owner\n", {"token": "t"},
         "invalid repository id 'only-owner'"),
        ("  type: bitbucket\n  address: https://bitbucket.org/t/a\n", {"token": "no-colon"},
         "invalid token format, expected to be <user>:<password>"),
        ("  type: github\n  address: https://github.com/o/r\n", {"githubAppID": "1"},
         "GitHub App authentication .githubAppID. is not supported by conveyor"),
        ("  type: slack\n  address: not a url\n", {}, "invalid Slack hook URL"),
    ],
)
def test_what_a_provider_cannot_send_is_named(spec: str, data: dict[str, str],
                                              message: str) -> None:
    p = provider(spec + "  secretRef: {name: s}\n")
    with pytest.raises(providers.ProviderError, match=message):
        providers.resolve(p, secret_of(s=secret(**data)), commit_status="x")


def test_partial_basic_auth_reads_no_credentials_as_flux() -> None:
    p = provider("  type: generic\n  address: http://h.test/\n  secretRef: {name: s}\n")
    half = providers.resolve(p, secret_of(s=secret(username="u", token="t")))
    assert (half.token, half.username, half.password) == ("", "", "")
    whole = providers.resolve(p, secret_of(s=secret(username="u", password="pw", token="t")))
    assert (whole.token, whole.username, whole.password) == ("t", "u", "pw")
    assert set(whole.secrets) >= {"http://h.test/"} and "pw" not in whole.secrets  # too short
