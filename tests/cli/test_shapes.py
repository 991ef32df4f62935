"""The Day-2 verbs' pure parts against what they copy: kinds spelled as Flux's CRDs and the
``flux`` CLI spell them, flux's table, hex truncation and request token, Kubernetes' human
ages, the verdict on a reconcile request, the journal as events, the inventory as a tree;
and a command line that starts without what only the verbs need."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conveyor.services.ctl import kinds as ctl_kinds
from conveyor.services.ctl.backends import journal_events, kube_event
from conveyor.services.ctl.commands import default_data_dir
from conveyor.services.ctl.instance import find, recorded
from conveyor.services.ctl.output import human_duration, table, truncate_hex
from conveyor.services.ctl.reconcile import FAILED, OK, WAIT, request_token, verdict
from conveyor.services.ctl.tree import Node
from conveyor.shared import kinds as shared_kinds
from conveyor.shared.errors import UsageError
from conveyor.shared.runtime import default_data_dir as runtime_data_dir
from conveyor.shared.status import ObjRef
from tests.fixtures.controlplane import REPO_ROOT

CRDS = REPO_ROOT / "crds" / "flux" / "2.9"


def crd_names() -> dict[str, dict[str, Any]]:
    out = {}
    for path in CRDS.glob("*.yaml"):
        names = yaml.safe_load(path.read_text())["spec"]["names"]
        out[names["kind"]] = names
    return out


def test_every_reported_kind_is_spelled_as_its_crd_and_in_conveyors_order() -> None:
    reported = [k for k in shared_kinds.KINDS if k.reported]
    assert [k.name for k in ctl_kinds.KINDS] == [k.name for k in reported]
    crds = crd_names()
    for ctl, shared in zip(ctl_kinds.KINDS, reported, strict=True):
        assert ctl.api_versions() == shared.api_versions
        assert ctl.service == shared.service
        names = crds[ctl.name]
        assert ctl.plural == names["plural"] and ctl.singular == names["singular"]
        assert set(ctl.short_names) == set(names.get("shortNames") or [])
        for word in (names["kind"], names["plural"], names["singular"],
                     *(names.get("shortNames") or []), f"{names['plural']}.{ctl.group}",
                     names["kind"].upper()):
            assert ctl_kinds.resolve(word) is ctl, word


def test_an_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(UsageError, match="'helmrelease' is not a kind conveyor knows: one of "
                                         "gitrepository, imagerepository"):
        ctl_kinds.resolve("helmrelease")


def test_the_default_data_directory_is_the_runtimes() -> None:
    assert default_data_dir() == runtime_data_dir()


def test_table_is_flux_s_padded_cells_and_a_tab() -> None:
    out = io.StringIO()
    table(["Name", "Ready", "Message"], [["a", "True", "ok"], ["longer", "False", "x\ny"]], out)
    assert out.getvalue() == (
        "NAME  \tREADY\tMESSAGE\n"
        "a     \tTrue \tok\n"
        "longer\tFalse\tx y\n"
    )


@pytest.mark.parametrize(("text", "cut"), [
    ("main@sha1:" + "a" * 40, "main@sha1:aaaaaaaa"),
    ("sha256:" + "0123456789abcdef" * 4, "sha256:01234567"),
    ("stored artifact for revision 'main@sha1:" + "b" * 40 + "'",
     "stored artifact for revision 'main@sha1:bbbbbbbb'"),
    ("short abc123 and " + "c" * 39, "short abc123 and " + "c" * 39),  # under 40: kept
    ("x" + "d" * 40, "x" + "d" * 40),  # not a word of its own
])
def test_truncate_hex_as_flux(text: str, cut: str) -> None:
    assert truncate_hex(text) == cut


@pytest.mark.parametrize(("seconds", "shown"), [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (119, "119s"), (120, "2m"), (150, "2m30s"),
    (599, "9m59s"), (600, "10m"), (179 * 60, "179m"), (180 * 60, "3h"), (3 * 3600 + 60, "3h1m"),
    (8 * 3600, "8h"), (47 * 3600, "47h"), (48 * 3600, "2d"), (50 * 3600, "2d2h"),
    (8 * 86400, "8d"), (730 * 86400, "2y"), (731 * 86400, "2y1d"), (8 * 365 * 86400, "8y"),
])
def test_human_duration_is_kubernetes(seconds: int, shown: str) -> None:
    assert human_duration(seconds) == shown


def test_request_token_is_rfc3339_with_nanoseconds() -> None:
    assert request_token(1_700_000_000.5) == "2023-11-14T22:13:20.5Z"
    assert request_token(1_700_000_000.0) == "2023-11-14T22:13:20Z"
    assert request_token(1_700_000_000.000000001).startswith("2023-11-14T22:13:20")


def obj(conditions: list[dict[str, Any]], *, handled: str | None = "t1", generation: int = 2,
        observed: int | None = 2) -> dict[str, Any]:
    status: dict[str, Any] = {"conditions": conditions}
    if handled is not None:
        status["lastHandledReconcileAt"] = handled
    if observed is not None:
        status["observedGeneration"] = observed
    return {"metadata": {"generation": generation}, "status": status}


def cond(type_: str, status: str, reason: str = "R", message: str = "m",
         generation: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type_, "status": status, "reason": reason, "message": message}
    if generation is not None:
        out["observedGeneration"] = generation
    return out


@pytest.mark.parametrize(("case", "token", "expected"), [
    (obj([cond("Ready", "True")], handled="t0"), "t1", (WAIT, "")),  # not answered yet
    (obj([cond("Ready", "True")]), "t1", (OK, "")),
    (obj([cond("Ready", "True", generation=1)]), "t1", (WAIT, "")),  # an older spec's verdict
    (obj([cond("Ready", "True"), cond("Reconciling", "True", "Progressing")]), "t1", (WAIT, "")),
    (obj([cond("Ready", "False", message="no tags"),
          cond("Reconciling", "True", "ProgressingWithRetry")]), "t1", (FAILED, "no tags")),
    (obj([cond("Ready", "False", message="bad"), cond("Stalled", "True", message="bad spec")]),
     "t1", (FAILED, "bad spec")),
    (obj([cond("Ready", "False", message="boom")]), "t1", (FAILED, "boom")),
    (obj([]), "t1", (WAIT, "")),
    (obj([cond("Ready", "True")], handled=None, observed=1), None, (WAIT, "")),  # resume
    (obj([cond("Ready", "True", generation=2)], handled=None, observed=None), None, (OK, "")),
])
def test_verdict(case: dict[str, Any], token: str | None, expected: tuple[str, str]) -> None:
    assert verdict(case, token) == expected


def test_the_journal_as_events_one_line_per_event_with_its_services_and_trace() -> None:
    pushed = {"type": "CommitPushed", "trace_id": "t", "emitted_at": 10.0, "namespace": "ns",
              "name": "auto", "source_namespace": "ns", "source_name": "repo",
              "branch": "main", "commit": "f" * 40}
    updated = {"type": "SourceUpdated", "trace_id": "t", "emitted_at": 11.0, "namespace": "ns",
               "name": "repo", "revision": "main@sha1:" + "f" * 40}
    entries = [
        {**pushed, "service": "source-fetcher", "started_at": 10.1},
        {**updated, "service": "applier", "started_at": 11.1},
        {**updated, "service": "git-committer", "started_at": 11.2},
        {"type": "ReconcileRequested", "trace_id": "u", "emitted_at": 12.0, "kind": "Secret",
         "namespace": "ns", "name": "s", "service": "x"},  # not a Flux kind: not shown
        {"type": "ReconcileRequested", "trace_id": "v", "emitted_at": 13.0,
         "kind": "ImageRepository", "namespace": "other", "name": "app", "reason": "webhook",
         "tags": ["1.0"], "service": "registry-scanner"},
    ]
    shown = journal_events(entries, "ns")
    assert [(e.reason, e.kind, e.name) for e in shown] == [
        ("CommitPushed", "ImageUpdateAutomation", "auto"),
        ("SourceUpdated", "GitRepository", "repo"),
    ]
    assert shown[0].message == (
        "pushed commit ffffffff to branch main of GitRepository/ns/repo → source-fetcher "
        "[trace t]"
    )
    assert shown[1].message == (
        "new artifact revision main@sha1:ffffffff → applier, git-committer [trace t]"
    )
    everywhere = journal_events(entries, None)
    assert everywhere[-1].message == (
        "reconcile requested (webhook), tags 1.0 → registry-scanner [trace v]"
    )


def test_a_kubernetes_event_as_flux_reads_its_times() -> None:
    item = {
        "metadata": {"name": "e", "namespace": "ns", "uid": "u1"},
        "involvedObject": {"kind": "ImagePolicy", "name": "p"},
        "type": "Normal", "reason": "Succeeded", "message": "ok",
        "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:10:00Z",
        "count": 3,
    }
    event = kube_event(item)
    assert event is not None and event.count == 3
    assert event.time - event.first == 600
    assert kube_event({**item, "involvedObject": {"kind": "Pod", "name": "p"}}) is None


def test_the_tree_is_flux_s() -> None:
    root = Node(ObjRef("kustomize.toolkit.fluxcd.io", "Kustomization", "flux-system", "root"))
    root.add(ObjRef("", "Namespace", "", "apps"))
    nested = root.add(ObjRef("kustomize.toolkit.fluxcd.io", "Kustomization", "flux-system",
                             "infra"))
    nested.add(ObjRef("", "Namespace", "", "cert-manager"))
    nested.add(ObjRef("apps", "Deployment", "cert-manager", "cm"))
    root.add(ObjRef("source.toolkit.fluxcd.io", "GitRepository", "flux-system", "repo"))
    assert root.text() == (
        "Kustomization/flux-system/root\n"
        "├── Namespace/apps\n"
        "├── Kustomization/flux-system/infra\n"
        "│   ├── Namespace/cert-manager\n"
        "│   └── Deployment/cert-manager/cm\n"
        "└── GitRepository/flux-system/repo\n"
    )
    data = json.loads(json.dumps(root.data()))
    assert data["resource"] == {"Namespace": "flux-system", "Name": "root", "GroupKind": {
        "Group": "kustomize.toolkit.fluxcd.io", "Kind": "Kustomization"}}
    assert "resources" not in data["resources"][0]  # omitted when empty, as Go's omitempty
    assert len(data["resources"][1]["resources"]) == 2


def test_the_run_record_names_a_live_process_only(tmp_path: Path) -> None:
    assert find(tmp_path) is None
    with recorded(tmp_path, redis_url="redis://:secret@127.0.0.1:1/0", listen="127.0.0.1:1",
                  manifests=tmp_path, kubeconfig=None):
        found = find(tmp_path)
        assert found is not None and found.pid == os.getpid()
        assert found.redis is None  # a URL with a password is not written down
        assert "secret" not in (tmp_path / "instances" / f"{os.getpid()}.json").read_text()
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout.strip()
        (tmp_path / "instances" / f"{dead}.json").write_text(json.dumps(
            {"pid": int(dead), "redis": "unix:///x", "listen": "", "source": "manifests",
             "started": 9e12}))
        found = find(tmp_path)  # the newer record's process is gone: not it
        assert found is not None and found.pid == os.getpid()
    assert not (tmp_path / "instances" / f"{os.getpid()}.json").exists()
    with recorded(tmp_path, redis_url=None, listen="", manifests=None, kubeconfig=None):
        found = find(tmp_path)
        assert found is not None and found.source == "cluster"
        assert found.redis == f"unix://{tmp_path / 'redis' / 'redis.sock'}"


def test_the_command_line_starts_without_the_verbs_modules() -> None:
    """``conveyor --help`` builds every parser, and loads none of what the verbs use."""
    probe = (
        "import sys; from conveyor.services import cli; cli.parser(); "
        "print([m for m in sys.modules if m.startswith(('conveyor.services.ctl', 'redis', "
        "'kubernetes', 'argcomplete', 'celery', 'pydantic', 'yaml'))])"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
