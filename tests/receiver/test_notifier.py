"""The notifier (services/receiver/notifier.py) on a real Redis, delivering to real HTTP
servers on loopback: the notices stream read by a consumer group, Alerts matched, events
signed, duplicates dropped across replicas, a dead endpoint holding nobody up, nothing lost
when a reader dies, failures recorded without secrets, and the statuses of Providers and
Alerts."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.services.receiver.notifier import GROUP, Notifier, refresh_notifications
from conveyor.services.receiver.webhooks import verify
from conveyor.shared.bus import InlineDispatcher
from conveyor.shared.manifests import parse_manifests
from conveyor.shared.notices import Notice
from conveyor.shared.runtime import Context, Settings
from conveyor.shared.status import AlertStatus, ProviderStatus, Status
from conveyor.shared.store import Store
from tests.fixtures.loopback import LoopbackServer
from tests.fixtures.notify_servers import Hook, StatusForge
from tests.receiver.test_webhooks import NoGoogleKeys

KS = "kustomize.toolkit.fluxcd.io"
SHA = "0123456789abcdef0123456789abcdef01234567"
REVISION = f"main@sha1:{SHA}"
TOKEN = "hmac-token-0123456789"


@pytest.fixture
def ctx(redis_url: str, tmp_path: Path) -> Context:
    return Context(Store.from_url(redis_url), InlineDispatcher(), Settings(data_dir=tmp_path))


@pytest.fixture
def hook() -> Iterator[Hook]:
    with Hook() as server:
        yield server


def put(ctx: Context, text: str) -> None:
    for obj in parse_manifests(text):
        ctx.store.put_object(obj)


def secret(name: str, **data: str) -> str:
    values = "".join(f"  {k}: {json.dumps(v)}\n" for k, v in data.items())
    return (f"---\napiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: apps}}\n"
            f"stringData:\n{values}")


def provider(name: str, spec: str, version: str = "v1beta3") -> str:
    return (f"---\napiVersion: notification.toolkit.fluxcd.io/{version}\nkind: Provider\n"
            f"metadata: {{name: {name}, namespace: apps}}\nspec:\n{spec}")


def alert(name: str, provider_name: str, extra: str = "",
          sources: str = "[{kind: Kustomization, name: '*'}]") -> str:
    return (f"---\napiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\n"
            f"metadata: {{name: {name}, namespace: apps}}\nspec:\n"
            f"  providerRef: {{name: {provider_name}}}\n  eventSources: {sources}\n{extra}")


def hmac_setup(ctx: Context, url: str, extra: str = "") -> None:
    put(ctx, secret("hook", address=url, token=TOKEN)
        + provider("hook", "  type: generic-hmac\n  secretRef: {name: hook}\n" + extra)
        + alert("all", "hook"))


def record(
    ctx: Context,
    message: str = "Reconciliation finished in 2s, next run in 10m",
    *,
    kind: str = "Kustomization",
    name: str = "app",
    namespace: str = "apps",
    severity: str = "info",
    metadata: dict[str, str] | None = None,
    reason: str = "ReconciliationSucceeded",
) -> None:
    group = KS if kind == "Kustomization" else "source.toolkit.fluxcd.io"
    ctx.store.record_notice(Notice(
        kind=kind, namespace=namespace, name=name, api_version=f"{group}/v1", uid="",
        severity=severity, reason=reason, message=message,
        metadata=metadata if metadata is not None else {f"{group}/revision": REVISION},
        controller="kustomize-controller",
    ).journal_entry())


def notifier(ctx: Context, **kwargs: float | str) -> Notifier:
    n = Notifier(ctx, **kwargs)  # type: ignore[arg-type]
    n.join()
    return n


def test_a_generic_hmac_alert_delivers_the_signed_event(ctx: Context, hook: Hook) -> None:
    hmac_setup(ctx, hook.url)
    n = notifier(ctx)
    record(ctx)
    record(ctx, "stored artifact", kind="GitRepository", name="app")  # no source names it
    record(ctx, "elsewhere", namespace="other")  # another namespace
    assert n.drain(30)
    [seen] = hook.wait_for(1)
    sent = json.loads(seen.body)
    assert sent["involvedObject"] == {"kind": "Kustomization", "namespace": "apps",
                                      "name": "app", "apiVersion": f"{KS}/v1"}
    assert sent["metadata"] == {"revision": REVISION}
    assert sent["message"] == "Reconciliation finished in 2s, next run in 10m"
    # checked as the receiving side checks it: conveyor's (Flux's) generic-hmac Receiver
    headers = {"X-Signature": seen.headers["x-signature"]}
    assert verify("generic-hmac", {"token": TOKEN}, headers, seen.body, [], NoGoogleKeys())
    # every notice read was acknowledged: nothing pending
    assert ctx.store.read_notices(GROUP, n.consumer, pending=True) == []


def test_metadata_conflicts_are_a_warning_about_the_alert(ctx: Context, hook: Hook) -> None:
    put(ctx, provider("hook", f"  type: generic\n  address: {hook.url}\n")
        + alert("meta", "hook", "  eventMetadata: {revision: mine, env: prod}\n"))
    n = notifier(ctx)
    record(ctx)
    assert n.drain(30)
    [sent] = hook.bodies()
    assert sent["metadata"] == {"env": "prod", "revision": REVISION}  # the object's wins
    [warning] = [e for e in ctx.store.journal() if e.get("kind") == "Alert"]
    assert (warning["severity"], warning["reason"]) == ("error", "MetadataAppendFailed")
    assert warning["metadata"] == {
        "revision": "Alert object .spec.eventMetadata, involved object controller metadata"}


def test_a_dead_endpoint_does_not_delay_another_alert(ctx: Context, hook: Hook) -> None:
    with Hook(hang=True) as dead:
        put(ctx, provider("dead", f"  type: generic\n  address: {dead.url}\n  timeout: 90s\n")
            + provider("live", f"  type: generic\n  address: {hook.url}\n")
            + alert("a-dead", "dead") + alert("b-live", "live"))
        n = notifier(ctx)
        record(ctx)
        n.poll()
        dead.wait_for(1)
        hook.wait_for(1, timeout=60)  # while the dead endpoint still holds its request
        assert not dead.released.is_set() and not n.idle()
        dead.released.set()
        assert n.drain(60)
    assert len(hook.requests) == 1


def test_duplicates_are_rate_limited_as_flux_does(ctx: Context, hook: Hook) -> None:
    """The same event within the window is dropped, by every replica (the window is in
    Redis); another revision or message is not a duplicate; after the window it is sent."""
    hmac_setup(ctx, hook.url)
    first = notifier(ctx, consumer="replica-1", rate_interval=2.0)
    second = notifier(ctx, consumer="replica-2", rate_interval=2.0)
    record(ctx)
    first.poll()
    record(ctx)  # a duplicate, read by the other replica
    second.poll()
    record(ctx, metadata={f"{KS}/revision": "main@sha1:" + "b" * 40})
    record(ctx, "Reconciliation finished in 3s, next run in 10m")
    assert first.drain(30) and second.drain(30)
    sent = [(b["message"], b["metadata"]["revision"]) for b in hook.bodies()]
    assert sorted(sent) == sorted([
        ("Reconciliation finished in 2s, next run in 10m", REVISION),
        ("Reconciliation finished in 2s, next run in 10m", "main@sha1:" + "b" * 40),
        ("Reconciliation finished in 3s, next run in 10m", REVISION),
    ])
    time.sleep(2.1)  # the window passes
    record(ctx)
    assert first.drain(30) and second.drain(30)
    assert len(hook.wait_for(4)) == 4


def test_nothing_is_lost_when_a_reader_dies(ctx: Context, hook: Hook) -> None:
    hmac_setup(ctx, hook.url)
    ctx.store.join_notices(GROUP)
    record(ctx, "taken by a reader that died")
    record(ctx, "taken by a reader that restarts")
    [(gone_id, _)] = ctx.store.read_notices(GROUP, "gone", count=1)  # and never acknowledged
    [(kept_id, _)] = ctx.store.read_notices(GROUP, "restarted", count=1)
    assert gone_id != kept_id and hook.requests == []
    restarted = Notifier(ctx, consumer="restarted")
    assert restarted.poll(pending=True) == 1  # its own, read again as it starts
    assert restarted.drain(30)
    other = Notifier(ctx, consumer="other", claim_idle=0.2)
    time.sleep(0.3)
    assert other.claim() == 1  # the dead reader's, taken over
    assert other.drain(30)
    assert sorted(b["message"] for b in hook.bodies()) == [
        "taken by a reader that died", "taken by a reader that restarts",
    ]
    for consumer in ("gone", "restarted", "other"):
        assert ctx.store.read_notices(GROUP, consumer, pending=True) == []


def test_a_suspended_alert_or_provider_sends_nothing(ctx: Context, hook: Hook) -> None:
    put(ctx, provider("running", f"  type: generic\n  address: {hook.url}/running\n")
        + provider("paused", f"  type: generic\n  address: {hook.url}/paused\n"
                             "  suspend: true\n")
        + alert("to-paused", "paused") + alert("paused", "running", "  suspend: true\n")
        + alert("running", "running"))
    n = notifier(ctx)
    record(ctx)
    assert n.drain(30)
    assert hook.paths() == ["/running"]


def test_a_provider_reads_its_secrets_at_each_delivery(ctx: Context, hook: Hook) -> None:
    """v1beta2's ``interval`` (how often Flux re-read the Secret) has nothing to wait for."""
    hmac_setup(ctx, hook.url, "  interval: 1h\n")
    n = notifier(ctx)
    record(ctx, "first")
    assert n.drain(30)
    put(ctx, secret("hook", address=hook.url, token="a-new-token-9876"))
    record(ctx, "second")
    assert n.drain(30)
    first, second = hook.wait_for(2)
    for seen, token in ((first, TOKEN), (second, "a-new-token-9876")):
        headers = {"X-Signature": seen.headers["x-signature"]}
        assert verify("generic-hmac", {"token": token}, headers, seen.body, [], NoGoogleKeys())


def test_a_failed_delivery_is_a_warning_event_about_the_alert(ctx: Context) -> None:
    with Hook(script=(400,)) as refusing:
        put(ctx, secret("s", address=f"{refusing.url}/hooks/s3cr3t-path-0123", token="t0k3n-xyz")
            + provider("slack", "  type: slack\n  secretRef: {name: s}\n")
            + alert("chat", "slack") + alert("lost", "no-such-provider"))
        n = notifier(ctx)
        record(ctx, "apply failed: t0k3n-xyz", severity="error", reason="BuildFailed")
        assert n.drain(30)
    failures = {e["name"]: e for e in ctx.store.journal() if e.get("kind") == "Alert"}
    chat, lost = failures["chat"], failures["lost"]
    for entry in (chat, lost):
        assert (entry["severity"], entry["reason"]) == ("error", "NotificationDispatchFailed")
        assert entry["controller"] == "notification-controller"
    assert chat["message"].startswith(
        "failed to send notification for Kustomization/apps/app: postMessage failed: "
        "request failed with status code 400")
    assert lost["message"] == (
        "failed to dispatch notification for Kustomization/apps/app: failed to read "
        "provider: Provider 'apps/no-such-provider' not found")
    text = json.dumps(failures)
    assert "s3cr3t" not in text and "t0k3n" not in text


def test_commit_statuses_go_to_git_providers_and_not_to_chat(ctx: Context, hook: Hook) -> None:
    forge = StatusForge("github", "gh-token")
    with LoopbackServer(forge) as github:
        put(ctx, secret("gh", token="gh-token")
            + provider("github", f"  type: github\n  address: {github.url}/org/app\n"
                                 "  secretRef: {name: gh}\n")
            + provider("slack", f"  type: slack\n  address: {hook.url}\n")
            + alert("status", "github") + alert("chat", "slack"))
        n = notifier(ctx)
        record(ctx, "Deployment/apps/web configured")  # the change set: to chat only
        record(ctx, metadata={f"{KS}/revision": REVISION, f"{KS}/commit_status": "update"})
        record(ctx, "health check failed", severity="error", reason="HealthCheckFailed")
        assert n.drain(30)
    texts = sorted(b["attachments"][0]["text"] for b in hook.bodies())
    assert texts == ["Deployment/apps/web configured", "health check failed"]
    assert sorted((s["state"], s["description"]) for s in forge.created) == [
        ("failure", "health check failed"), ("success", "reconciliation succeeded"),
    ]
    assert {s["context"] for s in forge.created} == {
        f"kustomization/app/{_uid_part(ctx)}"}


def _uid_part(ctx: Context) -> str:
    from conveyor.services.receiver.providers import default_uid
    from conveyor.shared.models import Provider

    found = ctx.store.get_object("Provider/apps/github", Provider)
    assert found is not None
    return default_uid(found).split("-")[0]


def ready(status: Status) -> tuple[str, str, str]:
    cond = status.ready
    assert cond is not None
    stalled = status.condition("Stalled")
    return cond.status, cond.reason, cond.message + (" [stalled]" if stalled else "")


def test_statuses_name_what_cannot_be_used(ctx: Context) -> None:
    put(ctx, secret("s", address="https://hooks.example.test/x", token="t")
        + provider("ok", "  type: generic-hmac\n  secretRef: {name: s}\n")
        + provider("telegram", "  type: telegram\n  channel: x\n")
        + provider("no-secret", "  type: slack\n  secretRef: {name: missing}\n", "v1beta2")
        + provider("no-token", "  type: gitlab\n  address: https://gitlab.com/g/p\n")
        + alert("fine", "ok") + alert("lost", "nowhere") + alert("refused", "telegram")
        + alert("regex", "ok", "  exclusionList: ['(unclosed']\n")
        + alert("kind", "ok", sources="[{kind: Deployment, name: web}]"))
    refresh_notifications(ctx)

    def provider_status(name: str) -> ProviderStatus:
        return ctx.store.get_status(f"Provider/apps/{name}", ProviderStatus)

    def alert_status(name: str) -> AlertStatus:
        return ctx.store.get_status(f"Alert/apps/{name}", AlertStatus)

    assert ready(provider_status("ok")) == ("True", "Succeeded", "Initialized")
    status, reason, message = ready(provider_status("telegram"))
    assert (status, reason) == ("False", "UnsupportedField")
    assert message.startswith("spec.type: 'telegram' is not supported by conveyor (only "
                              "'generic', 'generic-hmac', 'slack'")
    assert message.endswith("[stalled]")
    assert ready(provider_status("no-secret")) == (
        "False", "ValidationFailed", "Provider apps/no-secret: secret apps/missing not found")
    assert ready(provider_status("no-token")) == (
        "False", "ValidationFailed", "gitlab token cannot be empty")
    assert ready(alert_status("fine")) == ("True", "Succeeded", "Initialized")
    assert ready(alert_status("lost")) == (
        "False", "Failed", "failed to get provider 'apps/nowhere': Provider 'nowhere' not found")
    assert ready(alert_status("refused")) == (
        "False", "Failed", "provider apps/telegram is not ready")
    assert ready(alert_status("regex")) == (
        "False", "InvalidConfig", "failed to compile exclusion regex: (unclosed")
    assert ready(alert_status("kind"))[2].startswith(
        "spec.eventSources[0].kind: 'Deployment' is not supported by conveyor")
    # Flux's v1beta3 kinds have no status: none is written to a cluster; v1beta2's Ready is
    assert provider_status("ok").served_as("v1beta3") == {}
    assert provider_status("ok").served_as("v1beta2")["conditions"][0]["type"] == "Ready"


def test_get_prints_flux_s_columns_for_providers_and_alerts() -> None:
    """``flux get alerts`` / ``alert-providers``: a v1beta3 object read from a cluster has no
    status, and flux prints every one Ready; conveyor prints its own verdict where it has one."""
    from conveyor.services.ctl.get import headers, row
    from conveyor.services.ctl.kinds import resolve

    bare = {"kind": "Alert", "metadata": {"name": "a", "namespace": "apps"},
            "spec": {"providerRef": {"name": "p"}, "suspend": True}}
    assert resolve("alerts").name == "Alert" and resolve("alert-providers").name == "Provider"
    assert headers(resolve("alert"), False, True) == [
        "Name", "Suspended", "Ready", "Message", "Provider"]
    assert row(bare, False, False, True) == ["a", "True", "True", "Alert is Ready", "p"]
    provider = {"kind": "Provider", "metadata": {"name": "p", "namespace": "apps"},
                "spec": {"type": "telegram"},
                "status": {"conditions": [{"type": "Ready", "status": "False",
                                           "message": "spec.type: 'telegram' is not supported"}]}}
    assert headers(resolve("providers"), True, False) == ["Namespace", "Name", "Ready", "Message"]
    assert row(provider, True, True, False) == [
        "apps", "provider/p", "False", "spec.type: 'telegram' is not supported"]
    assert row({**provider, "status": {}}, False, False, False) == [
        "p", "True", "Provider is Ready"]


def test_the_notifier_loads_httpx_only_to_send() -> None:
    """The receiver's process runs the notifier whether or not there are Alerts: httpx (and
    what it imports) is loaded by the first delivery, not before."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from conveyor.services.receiver import notifier, providers\n"
        "print('httpx' in sys.modules)\n"
        "from conveyor.shared.adapters.webhook import Transport, WebClient\n"
        "WebClient(Transport()).close()\n"
        "print('httpx' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "True"]
