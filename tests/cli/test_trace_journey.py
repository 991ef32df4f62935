"""``conveyor trace``'s reading of a journal (``journey``), on entries as the stages write them:
what the policy and the automation said joins their hops; merged runs are followed."""

from __future__ import annotations

from typing import Any

from conveyor.services.ctl.trace import find_trace, journey

IMAGE = "registry.test/app"


def entry(type_: str, at: float, trace: str = "a" * 16, **fields: Any) -> dict[str, Any]:
    return {"type": type_, "trace_id": trace, "emitted_at": at, "namespace": "apps", **fields}


def notice(kind: str, name: str, at: float, message: str, trace: str = "a" * 16,
           **fields: Any) -> dict[str, Any]:  # a stage's notice (shared/notices.py)
    return entry("Notice", at, trace, kind=kind, name=name, message=message, severity="info",
                 reason="Succeeded", **fields)


JOURNAL = [
    entry("ReconcileRequested", 10.0, kind="ImageRepository", name="app", reason="webhook",
          tags=["1.1"], service="registry-scanner", started_at=10.1),
    entry("TagsScanned", 10.5, name="app", tag_count=3, service="policy-evaluator",
          started_at=10.6),
    notice("ImagePolicy", "app", 10.8, "Latest image tag for registry.test/app resolved to 1.1; "
           "skipped 1 newer: 1.2 (no signature)"),
    entry("PolicyChanged", 10.8, name="app", image=IMAGE, tag="1.1",
          service="git-committer", started_at=11.0),
    notice("ImageUpdateAutomation", "app", 12.0, "pushed commit 'abc1234' to branch 'main'\n"
           "Update app to 1.1\n\nApproved-by: alice\nApproved-by: bob\nApproval-Id: x"),
    entry("CommitPushed", 12.0, name="app", source_namespace="apps", source_name="repo",
          branch="main", commit="abc1234" + "0" * 33, service="source-fetcher", started_at=12.1),
    # fetched and applied in another trace's runs (merged): followed by the commit
    entry("SourceUpdated", 12.5, "b" * 16, name="repo",
          revision="main@sha1:abc1234" + "0" * 33, service="applier", started_at=12.6),
    notice("Kustomization", "app", 13.0, "Deployment/apps/app configured", "b" * 16,
           metadata={"kustomize.toolkit.fluxcd.io/revision": "main@sha1:abc1234" + "0" * 33}),
]


def test_the_hops_carry_what_the_policy_and_the_automation_said() -> None:
    trace, image = find_trace(JOURNAL, f"{IMAGE}:1.1")
    assert (trace, image) == ("a" * 16, f"{IMAGE}:1.1")
    hops = journey(JOURNAL, trace)
    assert [h.hop for h in hops] == ["pushed", "scanned", "chosen", "committed", "fetched",
                                     "applied"]
    by_hop = {h.hop: h for h in hops}
    assert by_hop["pushed"].detail == "a Receiver's webhook: pushed tag 1.1"
    assert by_hop["chosen"].detail == f"{IMAGE}:1.1 (skipped 1 newer: 1.2 (no signature))"
    assert by_hop["committed"].detail.endswith(", approved by alice, bob")
    assert by_hop["applied"].trace_id == "b" * 16  # merged into another trace's run
    assert by_hop["applied"].detail.endswith("Deployment/apps/app configured")
    assert [h.at for h in hops] == sorted(h.at for h in hops)
    assert by_hop["scanned"].queued is not None and abs(by_hop["scanned"].queued - 0.1) < 1e-9


def test_a_plain_choice_and_commit_say_nothing_more() -> None:
    plain = [e for e in JOURNAL if e["type"] != "Notice" or e["kind"] == "Kustomization"]
    by_hop = {h.hop: h for h in journey(plain, "a" * 16)}
    assert by_hop["chosen"].detail == f"{IMAGE}:1.1"
    assert "approved" not in by_hop["committed"].detail
