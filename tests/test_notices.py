"""Which runs make which of Flux's events (``conveyor.shared.notices.notices_of``)."""

from __future__ import annotations

from conveyor.shared.notices import About, Draft, Notice, notices_of
from conveyor.shared.status import ImagePolicyStatus, KustomizationStatus, Status

ABOUT = About(
    kind="Kustomization", namespace="apps", name="app",
    api_version="kustomize.toolkit.fluxcd.io/v1", uid="u-1",
    group="kustomize.toolkit.fluxcd.io", controller="kustomize-controller",
)


def _status(ready: bool | None, message: str = "", cls: type[Status] = Status) -> Status:
    status = cls()
    if ready is not None:
        status.set_condition("Ready", ready, "Succeeded" if ready else "HealthCheckFailed",
                             message, 1)
    return status


def test_a_failure_is_a_warning_with_ready_s_reason_and_the_revision_it_failed_on() -> None:
    failed = _status(False, "timeout waiting for Deployment/apps/app", KustomizationStatus)
    assert isinstance(failed, KustomizationStatus)
    failed.last_attempted_revision = "main@sha1:abc"
    (notice,) = notices_of(ABOUT, _status(True, "ok"), failed, [Draft("ignored")], "t1")
    assert (notice.severity, notice.event_type, notice.reason) == ("error", "Warning",
                                                                   "HealthCheckFailed")
    assert notice.metadata == {"kustomize.toolkit.fluxcd.io/revision": "main@sha1:abc"}
    assert notice.trace_id == "t1" and notice.controller == "kustomize-controller"
    # every failure says so again (Flux's controllers do; Kubernetes counts them)
    assert len(notices_of(ABOUT, failed, failed, [], "t2")) == 1


def test_successes_speak_on_recovery_or_a_new_message_only() -> None:
    before, same = _status(True, "latest tag 1.0"), _status(True, "latest tag 1.0")
    assert notices_of(ABOUT, before, same, [], "t") == []  # idle means idle
    (changed,) = notices_of(ABOUT, before, _status(True, "latest tag 1.1"), [], "t")
    assert (changed.severity, changed.message) == ("info", "latest tag 1.1")
    (recovered,) = notices_of(ABOUT, _status(False, "down"), same, [], "t")
    assert recovered.event_type == "Normal" and recovered.reason == "Succeeded"
    (first,) = notices_of(ABOUT, _status(None, cls=ImagePolicyStatus), same, [], "t")
    assert first.message == "latest tag 1.0"
    assert notices_of(ABOUT, Status(), Status(), [], "t") == []  # no Ready: nothing to say


def test_what_a_stage_says_happened_takes_its_own_reason_and_flux_s_metadata_keys() -> None:
    drafts = [
        Draft("Deployment/apps/app configured", metadata={"revision": "main@sha1:abc"}),
        Draft("stored artifact", reason="NewArtifact"),
    ]
    said = notices_of(ABOUT, _status(True, "x"), _status(True, "x"), drafts, "t")
    assert [n.reason for n in said] == ["Succeeded", "NewArtifact"]
    assert said[0].metadata == {"kustomize.toolkit.fluxcd.io/revision": "main@sha1:abc"}
    wire = said[0].wire()
    assert wire["involvedObject"] == {
        "kind": "Kustomization", "namespace": "apps", "name": "app",
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "uid": "u-1",
    }
    assert wire["reportingController"] == "kustomize-controller"
    assert wire["timestamp"].endswith("Z") and wire["severity"] == "info"
    assert Notice.from_entry(said[0].journal_entry()) == said[0]


def test_a_long_message_is_cut() -> None:
    (notice,) = notices_of(ABOUT, _status(True, "a"), _status(False, "e" * 10_000), [], "t")
    assert len(notice.message) == 4096
