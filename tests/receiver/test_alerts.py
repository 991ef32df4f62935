"""Which Alerts an event goes to and what it says there (services/receiver/alerts.py), as
notification-controller v1.9.3's event server decides it: sources, severity, labels,
inclusion and exclusion lists, metadata, duplicates' key, and what each Provider type gets."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from conveyor.services.receiver import alerts
from conveyor.services.receiver.gojson import marshal
from conveyor.shared.manifests import parse_manifests
from conveyor.shared.models import Alert
from conveyor.shared.notices import Notice

KS_GROUP = "kustomize.toolkit.fluxcd.io"
REVISION = "main@sha1:" + "a" * 40


def alert(spec: str, namespace: str = "apps") -> Alert:
    [obj] = parse_manifests(
        "apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\n"
        f"metadata: {{name: a, namespace: {namespace}}}\nspec:\n"
        "  providerRef: {name: p}\n" + spec
    )
    assert isinstance(obj, Alert) and obj.unsupported == (), obj.unsupported
    return obj


def notice(
    kind: str = "Kustomization",
    name: str = "app",
    namespace: str = "apps",
    severity: str = "info",
    message: str = "Reconciliation finished",
    metadata: dict[str, str] | None = None,
    api_version: str = f"{KS_GROUP}/v1",
    reason: str = "ReconciliationSucceeded",
) -> Notice:
    return Notice(
        kind=kind, namespace=namespace, name=name, api_version=api_version, uid="",
        severity=severity, reason=reason, message=message, metadata=metadata or {},
        controller="kustomize-controller", timestamp=1_700_000_000.0,
    )


def event(**kwargs: Any) -> alerts.Event:
    return alerts.flux_event(notice(**kwargs), "conveyor-0")


def no_labels(kind: str, namespace: str, name: str) -> dict[str, str] | None:
    return None


def sends(a: Alert, e: alerts.Event, labels: alerts.Labels = no_labels) -> bool:
    return alerts.matches(a, alerts.Lists(a), e, labels)


def test_event_sources_by_kind_name_and_namespace() -> None:
    a = alert(
        "  eventSources:\n"
        "    - {kind: Kustomization, name: app}\n"
        "    - {kind: GitRepository, name: '*', namespace: flux-system}\n"
        "    - {apiVersion: image.toolkit.fluxcd.io/v1beta2, kind: ImagePolicy, name: web}\n"
    )
    assert sends(a, event())  # the Alert's namespace, by name
    assert not sends(a, event(name="other"))
    assert not sends(a, event(namespace="flux-system"))  # another namespace: only if named
    assert sends(a, event(kind="GitRepository", name="any", namespace="flux-system",
                          api_version="source.toolkit.fluxcd.io/v1"))
    assert not sends(a, event(kind="GitRepository", name="any"))
    # apiVersion is not matched on, as in Flux
    assert sends(a, event(kind="ImagePolicy", name="web", api_version="image.toolkit.fluxcd.io/v1"))
    assert not sends(a, event(kind="ImageRepository", name="web"))
    suspended = alert("  suspend: true\n  eventSources: [{kind: Kustomization, name: '*'}]\n")
    assert not sends(suspended, event())


def test_error_severity_sends_only_errors() -> None:
    info = alert("  eventSources: [{kind: Kustomization, name: '*'}]\n")
    errors = alert("  eventSeverity: error\n  eventSources: [{kind: Kustomization, name: '*'}]\n")
    assert info.spec.event_severity == "info"  # the default takes every event
    assert sends(info, event()) and sends(info, event(severity="error"))
    assert not sends(errors, event()) and sends(errors, event(severity="error"))


def test_match_labels_read_the_labels_of_the_stored_object() -> None:
    stored = {("Kustomization", "apps", "app"): {"team": "a", "tier": "web"},
              ("Kustomization", "apps", "bare"): {}}

    def labels(kind: str, namespace: str, name: str) -> dict[str, str] | None:
        return stored.get((kind, namespace, name))

    team = alert("  eventSources: [{kind: Kustomization, name: '*', matchLabels: {team: a}}]\n")
    assert sends(team, event(), labels)
    assert not sends(team, event(name="bare"), labels)
    assert not sends(team, event(name="gone"), labels)  # no such object: no match
    anything = alert("  eventSources: [{kind: Kustomization, name: '*', matchLabels: {}}]\n")
    assert anything.spec.event_sources[0].match_labels == {}
    assert sends(anything, event(name="bare"), labels)  # an empty selector takes every object
    assert not sends(anything, event(name="gone"), labels)  # that exists
    invalid = alert("  eventSources: [{kind: Kustomization, name: '*', "
                    "matchLabels: {'bad key!': a}}]\n")
    assert alerts.label_selector_error({"bad key!": "a"}) == "invalid label key 'bad key!'"
    assert not sends(invalid, event(), lambda *_: {"bad key!": "a"})


def test_inclusion_and_exclusion_lists_are_go_regexps() -> None:
    a = alert(
        "  eventSources: [{kind: Kustomization, name: '*'}]\n"
        "  inclusionList: ['(?P<verb>finished|failed)', '^Health check']\n"
        "  exclusionList: ['(a+)+$', 'in \\d+ms', '(unclosed']\n"
    )
    lists = alerts.Lists(a)
    assert lists.errors == ["failed to compile exclusion regex: (unclosed"]
    assert sends(a, event(message="Reconciliation finished in 3s"))
    assert sends(a, event(message="Health check passed"))
    assert not sends(a, event(message="stored artifact for commit"))  # not included
    assert not sends(a, event(message="Reconciliation finished in 300ms"))  # excluded
    # a pattern that backtracks exponentially in other engines is linear in RE2
    assert sends(a, event(message="Reconciliation failed " + "a" * 50_000 + "!"))
    assert not sends(a, event(message="Reconciliation failed " + "a" * 50_000))
    only_excluded = alert("  eventSources: [{kind: Kustomization, name: '*'}]\n"
                          "  exclusionList: ['^Dependencies do not meet']\n")
    assert sends(only_excluded, event(message="anything"))
    assert not sends(only_excluded, event(message="Dependencies do not meet ready condition"))


def test_event_metadata_and_summary_merge_as_flux_does() -> None:
    e = event(metadata={
        f"{KS_GROUP}/revision": REVISION,
        f"{KS_GROUP}/digest": "sha256:dropped",
        f"{KS_GROUP}/token": "dropped",
        f"{alerts.EVENT_GROUP}/summary": "the event group's",
        f"{alerts.EVENT_GROUP}/region": "eu",
        "other.example.com/key": "dropped",
    })
    assert e["metadata"] == {  # cleaned as the event server cleans it
        f"{alerts.EVENT_GROUP}/region": "eu",
        f"{alerts.EVENT_GROUP}/summary": "the event group's",
        f"{KS_GROUP}/revision": REVISION,
        f"{KS_GROUP}/token": "dropped",  # kept for the duplicates' key, never sent
    }
    a = alert(
        "  eventSources: [{kind: Kustomization, name: '*'}]\n"
        "  summary: cluster A\n"
        "  eventMetadata: {env: prod, region: us, revision: overridden}\n"
    )
    # lowest first: event group, eventMetadata, summary, the object's group
    assert alerts.metadata_for(e, a) == {
        "env": "prod", "region": "us", "revision": REVISION, "summary": "cluster A",
    }
    assert alerts.metadata_conflicts(e, a) == {  # what Flux warns of, on the Alert
        "region": "involved object annotations, Alert object .spec.eventMetadata",
        "revision": "Alert object .spec.eventMetadata, involved object controller metadata",
        "summary": "involved object annotations, Alert object .spec.summary",
    }
    sent = alerts.for_alert(e, a)
    assert list(sent) == ["involvedObject", "severity", "timestamp", "message", "reason",
                          "metadata", "reportingController", "reportingInstance"]
    plain = alert("  eventSources: [{kind: Kustomization, name: '*'}]\n")
    assert "metadata" not in alerts.for_alert(event(), plain)


def test_the_event_is_flux_s_json() -> None:
    e = event(message="<b> & é\u2028", metadata={f"{KS_GROUP}/revision": REVISION})
    body = marshal(e)
    assert body == (
        b'{"involvedObject":{"kind":"Kustomization","namespace":"apps","name":"app",'
        b'"apiVersion":"kustomize.toolkit.fluxcd.io/v1"},"severity":"info",'
        b'"timestamp":"2023-11-14T22:13:20Z","message":"\\u003cb\\u003e \\u0026 '
        + "é".encode() + b'\\u2028","reason":"ReconciliationSucceeded","metadata":'
        b'{"kustomize.toolkit.fluxcd.io/revision":"' + REVISION.encode() + b'"},'
        b'"reportingController":"kustomize-controller","reportingInstance":"conveyor-0"}'
    )
    assert json.loads(body) == e


def test_the_duplicate_key_is_flux_s() -> None:
    e = event(metadata={f"{KS_GROUP}/revision": REVISION, f"{KS_GROUP}/originRevision": "o",
                        f"{KS_GROUP}/token": "t1"})
    text = ("event/name=app/namespace=apps/kind=Kustomization/message=Reconciliation finished"
            f"/originRevision=o/revision={REVISION}/token=t1")
    assert alerts.rate_key(e) == hashlib.sha256(text.encode()).hexdigest()
    assert alerts.rate_key(event()) != alerts.rate_key(e)
    assert alerts.rate_key(event(message="other")) != alerts.rate_key(event())


UPDATE = {f"{KS_GROUP}/commit_status": "update", f"{KS_GROUP}/revision": REVISION}


@pytest.mark.parametrize(
    ("provider", "kwargs", "skipped"),
    [
        ("slack", {"metadata": UPDATE}, True),  # commit status updates: not to chat tools
        ("generic", {"metadata": UPDATE}, False),  # generic types get everything
        ("generic-hmac", {"metadata": UPDATE}, False),
        ("github", {"metadata": UPDATE}, False),
        ("github", {"metadata": {f"{KS_GROUP}/revision": REVISION}}, True),  # no update
        ("gitlab", {"severity": "error"}, False),  # errors always
        ("gitea", {"metadata": {f"{alerts.EVENT_GROUP}/commit": "a" * 40}}, False),
        ("slack", {"severity": "error"}, False),
        ("bitbucket", {}, True),
    ],
)
def test_what_each_provider_type_is_sent(provider: str, kwargs: Any, skipped: bool) -> None:
    assert alerts.skipped(provider, event(**kwargs)) is skipped


def test_commit_status_id_revision_and_description() -> None:
    e = event(reason="ReconciliationSucceeded")
    uid = "8e71c1b6-bd6c-4c1a-9a57-7e0b1cb2e6b0"
    assert alerts.commit_status_id(uid, e) == "kustomization/app/8e71c1b6"
    assert alerts.name_and_description(e) == ("kustomization/app", "reconciliation succeeded")
    assert alerts.split_camel("PDFLoader") == ["PDF", "Loader"]
    assert alerts.split_camel("HealthCheckFailed2x") == ["Health", "Check", "Failed", "2", "x"]
    sha = "b" * 40
    for revision in (f"main@sha1:{sha}", f"sha1:{sha}", f"main/{sha}", f"feature/x/{sha}", sha):
        assert alerts.commit_of(revision) == sha
    with pytest.raises(ValueError, match="failed to extract commit hash from 'main@sha1:abc'"):
        alerts.commit_of("main@sha1:abc")
    assert alerts.revision_of({"revision": "r", "originRevision": "o"}) == "o"
    assert alerts.revision_of({"revision": "r", "commit": "c"}) == "c"
    assert alerts.revision_of({}) is None
