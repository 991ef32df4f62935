"""The status page at ``/``: page.py's pure parts (pipelines, traces, hostile text escaped), and
the page of a running ``conveyor run`` on the seed scenario loaded in a real headless browser
(Debian's chromium-headless-shell): its screenshot, and the DOM it built."""

from __future__ import annotations

import json
import struct
import subprocess
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from conveyor.services.demo.scenario import FLUX_MANIFESTS, Demo, ci_tags
from conveyor.services.receiver import page
from conveyor.shared.manifests import parse_manifests
from conveyor.shared.models import FluxObject
from tests.cli.helpers import cli_env, conveyor_run, wait_for
from tests.conftest import git_out, push
from tests.e2e.test_seed_pipeline import RECEIVER
from tests.fixtures.registries import Registry, free_port

CHROMIUM = "/usr/bin/chromium-headless-shell"
WIDTH, HEIGHT = 1280, 2000

# A Kustomization whose source does not exist: in no pipeline.
LONE = """
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: lone
  namespace: flux-system
spec:
  interval: 1h
  sourceRef:
    kind: GitRepository
    name: no-such-source
  path: ./
"""

SEED = ("ImageRepository", "ImagePolicy", "ImageUpdateAutomation", "GitRepository",
        "Kustomization")
PIPELINE = "ImageRepository/flux-system/gitops-demo-app"


class Dom(HTMLParser):
    """What the page's DOM holds: each card with the group it sits in (a pipeline's head, or
    ``others``), each trace with its hops, every element and attribute name."""

    def __init__(self) -> None:
        super().__init__()
        self.group: str | None = None
        self.cards: dict[tuple[str | None, str], str] = {}  # (group, key) -> Ready
        self.traces: list[list[dict[str, str]]] = []
        self.tags: set[str] = set()
        self.attributes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        self.tags.add(tag)
        self.attributes.update(found)
        classes = found.get("class", "").split()
        if tag == "section":
            self.group = found.get("data-head") or found.get("id")
        elif "card" in classes:
            self.cards[(self.group, found["data-key"])] = found["data-ready"]
        elif "trace" in classes:
            self.traces.append([])
        elif "hop" in classes and self.traces:
            self.traces[-1].append(found)

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.group = None


def dom(text: str) -> Dom:
    parsed = Dom()
    parsed.feed(text)
    parsed.close()
    return parsed


# --- page.py, pure ------------------------------------------------------------------------


def objects(extra: str = "") -> list[FluxObject]:
    seed = FLUX_MANIFESTS.format(url="https://git.example.com/app.git", image="r.example/app")
    return parse_manifests(seed + extra)


def status(state: str, message: str, reason: str = "Succeeded") -> str:
    return json.dumps(
        {"conditions": [{"type": "Ready", "status": state, "reason": reason, "message": message}]}
    )


def render(objs: list[FluxObject], statuses: dict[str, str], markers: dict[str, set[str]],
           journal: list[Any]) -> str:
    cards = {o.key: page.card(o, statuses.get(o.key)) for o in objs if o.kind != "Secret"}
    groups, others = page.pipelines(objs, markers)
    drawn, left_out = page.shown(page.traces(journal))
    return page.render(cards, groups, others, drawn, left_out, 1_700_000_000.0)


OTHER_NAMESPACE = """
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: apps-policy
  namespace: apps
spec:
  imageRepositoryRef:
    name: gitops-demo-app
    namespace: flux-system
  policy:
    semver:
      range: ">=1.0.0"
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata:
  name: marks-it
  namespace: elsewhere
spec:
  interval: 1h
  sourceRef:
    kind: GitRepository
    name: apps-source
  git:
    commit:
      author:
        email: bot@example.com
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata:
  name: marks-another
  namespace: apps
spec:
  interval: 1h
  sourceRef:
    kind: GitRepository
    name: apps-source
  git:
    commit:
      author:
        email: bot@example.com
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: apps-source
  namespace: elsewhere
spec:
  interval: 1h
  url: https://git.example.com/apps.git
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: plain
  namespace: web
spec:
  interval: 1h
  url: https://git.example.com/web.git
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: web
  namespace: web
spec:
  interval: 1h
  sourceRef:
    kind: GitRepository
    name: plain
"""


def test_objects_are_grouped_by_pipeline() -> None:
    objs = objects(OTHER_NAMESPACE + LONE + RECEIVER)
    markers = {
        # its files mark a policy of another namespace: that is what it updates
        "ImageUpdateAutomation/elsewhere/marks-it": {"ImagePolicy/apps/apps-policy"},
        # its files mark nothing of this repository's policies, though one is in its namespace
        "ImageUpdateAutomation/apps/marks-another": {"ImagePolicy/apps/no-such-policy"},
    }
    groups, others = page.pipelines(objs, markers)
    stages = {p.head: dict(p.stages) for p in groups}
    assert list(stages) == [PIPELINE, "GitRepository/web/plain"]
    assert stages[PIPELINE] == {
        "ImageRepository": (PIPELINE,),
        "ImagePolicy": ("ImagePolicy/apps/apps-policy",
                        "ImagePolicy/flux-system/image-repo-policy"),
        # markers unknown for the seed's automation: the policies of its namespace
        "ImageUpdateAutomation": ("ImageUpdateAutomation/elsewhere/marks-it",
                                  "ImageUpdateAutomation/flux-system/gitops-demo-app"),
        "GitRepository": ("GitRepository/elsewhere/apps-source",
                          "GitRepository/flux-system/gitops-demo-app"),
        "Kustomization": ("Kustomization/flux-system/gitops-demo-app",),
    }
    assert stages["GitRepository/web/plain"] == {
        "GitRepository": ("GitRepository/web/plain",), "Kustomization": ("Kustomization/web/web",)
    }
    assert others == ["ImageUpdateAutomation/apps/marks-another",
                      "Kustomization/flux-system/lone", "Receiver/flux-system/registry-push"]

    html = render(objs, {}, markers, [])
    parsed = dom(html)
    assert parsed.cards[(PIPELINE, "ImagePolicy/apps/apps-policy")] == "Unknown"  # no status
    assert parsed.cards[("others", "Receiver/flux-system/registry-push")] == "Unknown"
    assert "Secret/" not in html and "s3cr3t-webhook-token" not in html


def test_a_selector_keeps_the_policies_it_does_not_select_out() -> None:
    text = FLUX_MANIFESTS.format(url="https://git.example.com/app.git", image="r.example/app")
    text = text.replace("  update:\n", "  policySelector:\n    matchLabels:\n      team: a\n"
                        "  update:\n")
    selected = parse_manifests(text)
    groups, others = page.pipelines(selected, {})
    assert dict(groups[0].stages)["ImageUpdateAutomation"] == ()
    assert others == ["ImageUpdateAutomation/flux-system/gitops-demo-app"]


HOSTILE = '<script>alert("x")</script>" onmouseover="alert(1)'


def test_hostile_names_messages_and_journal_entries_are_escaped() -> None:
    lone = LONE.replace("namespace: flux-system", f"namespace: '{HOSTILE}'")
    objs = objects(lone)
    statuses = {
        o.key: status("False", f"{HOSTILE} from https://user:hunter22@git.example.com/x.git",
                      reason=HOSTILE)
        for o in objs
    }
    journal: list[Any] = [
        {"type": HOSTILE, "trace_id": HOSTILE, "emitted_at": 10.0, "started_at": 10.5,
         "service": HOSTILE, "namespace": HOSTILE, "name": HOSTILE},
        {"type": "Notice", "trace_id": HOSTILE, "emitted_at": 10.2, "reason": HOSTILE,
         "message": HOSTILE, "severity": HOSTILE, "kind": HOSTILE, "namespace": HOSTILE,
         "name": "x"},
        # not entries of a trace: left out, not a failure
        "not a dict", {"type": "X", "trace_id": "t", "emitted_at": "soon"},
        {"type": "X", "trace_id": ["t"], "emitted_at": 1.0}, {"type": "X", "emitted_at": 1.0},
        {"type": "X", "trace_id": "t2", "emitted_at": float("nan")},
    ]
    html = render(objs, statuses, {}, journal)
    assert "<script" not in html.lower()
    assert "hunter22" not in html
    assert "&lt;script&gt;" in html  # shown, as text
    parsed = dom(html)
    assert "script" not in parsed.tags
    assert not any(a.startswith("on") for a in parsed.attributes)
    assert len(parsed.traces) == 1 and len(parsed.traces[0]) == 2
    assert parsed.cards[("others", f"Kustomization/{HOSTILE}/lone")] == "False"


def hop(trace: str, kind: str, service: str, emitted: float, started: float) -> dict[str, Any]:
    return {"type": kind, "trace_id": trace, "emitted_at": emitted, "started_at": started,
            "service": service, "namespace": "flux-system", "name": "app"}


def test_traces_newest_first_with_their_hops_and_notices() -> None:
    journal = [
        hop("old", "ReconcileRequested", "registry-scanner", 100.0, 100.1),
        hop("old", "TagsScanned", "policy-evaluator", 101.0, 101.2),
        hop("tick", "ReconcileRequested", "applier", 150.0, 150.0),  # one hop
        hop("new", "PolicyChanged", "git-committer", 200.0, 200.5),
        {"type": "Notice", "trace_id": "new", "emitted_at": 201.0, "reason": "NewArtifact",
         "severity": "info", "kind": "GitRepository", "namespace": "flux-system", "name": "app",
         "message": "stored artifact"},
        hop("new", "CommitPushed", "source-fetcher", 202.0, 202.25),
        hop("new", "SourceUpdated", "applier", 203.0, 204.0),
    ]
    found = page.traces(journal)
    assert [t.trace_id for t in found] == ["new", "tick", "old"]
    assert found[0].end - found[0].start == 4.0
    drawn, left_out = page.shown(found)
    assert [t.trace_id for t in drawn] == ["new", "old"] and left_out == 1
    parsed = dom(page.render({}, [], [], drawn, left_out, 300.0))
    lanes = parsed.traces[0]
    assert [lane.get("data-service") for lane in lanes] == [
        "git-committer", None, "source-fetcher", "applier"
    ]
    assert lanes[1]["data-type"] == "Notice"
    assert [float(lane["data-offset"]) for lane in lanes if "data-offset" in lane] == [
        0.5, 2.25, 4.0
    ]
    html = page.render_trace(drawn[0])
    assert "NewArtifact GitRepository flux-system/app" in html
    assert "left:75.00%;width:25.00%" in html  # SourceUpdated: emitted at 3 s, started at 4 s
    assert "total <b>4.00 s</b>" in html


def test_traces_are_bounded() -> None:
    journal = [hop(f"t{i}", "TagsScanned", "policy-evaluator", float(i), float(i))
               for i in range(30) for _ in range(2)]
    journal += [hop("long", "SourceUpdated", "applier", 50.0, 50.0 + i) for i in range(100)]
    drawn, _ = page.shown(page.traces(journal))
    assert len(drawn) == page.MAX_TRACES
    parsed = dom(page.render_trace(drawn[0]))
    assert len(parsed.traces[0]) == page.MAX_HOPS
    assert f"and {100 - page.MAX_HOPS} more" in page.render_trace(drawn[0])


# --- in a real browser ----------------------------------------------------------------------


@dataclass
class Served:
    demo: Demo
    url: str
    objects: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def served(demo: Demo, registry: Registry, tmp_path: Path) -> Iterator[Served]:
    """``conveyor run`` (the embedded Redis, no cluster) on the seed scenario with a Receiver
    and a lone Kustomization, its receiver on a free port, once the new tag is committed and
    the Kustomization tried it."""
    manifest = demo.manifests / "gitops-demo-app.yaml"
    text = manifest.read_text().replace("interval: 30s", "interval: 1h")
    manifest.write_text(text.replace("interval: 1m", "interval: 1h") + RECEIVER + LONE)
    push(registry, demo, ci_tags(3))
    env = cli_env(tmp_path / "data")  # the embedded Redis, no cluster
    port = free_port()
    served = Served(demo, f"http://127.0.0.1:{port}/")
    with conveyor_run(demo.manifests, env, port, tmp_path / "run.log"):
        def settled() -> bool:
            try:
                served.objects = httpx.get(f"{served.url}api/v1/objects", timeout=5).json()
            except httpx.HTTPError:
                return False
            head = git_out(demo.remote, "rev-parse", "master").strip()
            tried = {o["name"]: o["status"].get("lastAttemptedRevision", "")
                     for o in served.objects if o["kind"] == "Kustomization"}
            return (
                git_out(demo.remote, "log", "-1", "--format=%s").startswith("Automated")
                and tried.get("gitops-demo-app", "").endswith(head)
                and all(
                    any(c["type"] == "Ready" for c in o["status"].get("conditions", []))
                    for o in served.objects
                )
            )

        wait_for("the new tag committed and tried", settled, timeout=180)
        yield served


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [CHROMIUM, "--no-sandbox", "--headless", "--disable-gpu",
         f"--user-data-dir={tmp_path / 'chromium'}", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def png_rows(data: bytes, rows: int) -> tuple[int, int, list[bytes]]:
    """A PNG's width and height, and its first ``rows`` rows of pixels as RGB(A) bytes
    (8 bits per channel, not interlaced: what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks: dict[bytes, list[bytes]] = {}
    at = 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length:at + 12 + length])
        assert zlib.crc32(kind + body) == crc
        chunks.setdefault(kind, []).append(body)
        at += 12 + length
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"][0])
    assert (depth, interlace) == (8, 0) and color in (2, 6)
    channels = 3 if color == 2 else 4
    stride = width * channels
    raw = zlib.decompressobj().decompress(b"".join(chunks[b"IDAT"]), (stride + 1) * rows)
    out: list[bytes] = []
    previous = bytearray(stride)
    for y in range(rows):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = previous[x]
            c = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + a) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + b) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        out.append(bytes(line))
        previous = line
    return width, height, out


def near(pixels: set[tuple[int, ...]], rgb: tuple[int, int, int]) -> bool:
    return any(all(abs(p[i] - rgb[i]) <= 8 for i in range(3)) for p in pixels)


def test_the_page_in_a_headless_browser(served: Served, tmp_path: Path) -> None:
    shot = tmp_path / "page.png"
    chromium(tmp_path, f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}", served.url)
    width, height, rows = png_rows(shot.read_bytes(), 160)
    assert (width, height) == (WIDTH, HEIGHT)
    channels = len(rows[0]) // width
    pixels = {tuple(row[x:x + 3]) for row in rows for x in range(0, len(row), channels)}
    assert len(pixels) > 20  # text and badges, not a blank page
    # the summary's badges as the page's CSS colours them: Ready True, False, Unknown
    assert near(pixels, (0x1A, 0x7F, 0x37)) and near(pixels, (0xCF, 0x22, 0x2E))

    text = chromium(tmp_path, "--dump-dom", served.url).stdout
    parsed = dom(text)
    ready = {(o["kind"], o["name"]): next(c["status"] for c in o["status"]["conditions"]
                                           if c["type"] == "Ready")
             for o in served.objects}
    for kind in SEED:
        key = f"{kind}/flux-system/gitops-demo-app".replace(
            "ImagePolicy/flux-system/gitops-demo-app", "ImagePolicy/flux-system/image-repo-policy")
        name = key.rsplit("/", 1)[1]
        assert parsed.cards[(PIPELINE, key)] == ready[(kind, name)], (key, parsed.cards)
    # no cluster: the seed's Kustomization tried the commit and says why it is not applied
    assert ready[("Kustomization", "gitops-demo-app")] == "False"
    assert all(ready[(k, n)] == "True" for k, n in ready if k not in ("Kustomization",))
    assert parsed.cards[("others", "Receiver/flux-system/registry-push")] == "True"
    assert parsed.cards[("others", "Kustomization/flux-system/lone")] == "False"
    assert len(parsed.cards) == len(served.objects)  # each once: in one pipeline or others
    assert "s3cr3t-webhook-token" not in text and "Secret/" not in text

    # the push's trace: the commit's hops, each after the one before
    services = [[lane.get("data-service") for lane in t] for t in parsed.traces]
    assert any({"git-committer", "source-fetcher", "applier"} <= set(s) for s in services), (
        services
    )
    for lanes in parsed.traces:
        offsets = [float(lane["data-offset"]) for lane in lanes if "data-offset" in lane]
        assert offsets == sorted(offsets)
