"""Log lines: JSON with Flux's keys on request, what a line is about from the run's context."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from conveyor.services.demo.scenario import Demo, ci_tags
from conveyor.shared import logs
from tests.conftest import conveyor, push
from tests.fixtures.registries import Registry


def _logged(log_format: str, *lines: tuple[int, str]) -> str:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        logs.JsonFormatter("applier") if log_format == "json" else logs.TextFormatter()
    )
    logger = logging.getLogger("conveyor.test-logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        with logs.context(name="app", namespace="apps", trace_id="abc123"):
            with logs.context(reconcileID="r-1"):
                for level, text in lines:
                    logger.log(level, text)
            logger.warning("outside the inner context")
        logger.error("outside every context")
    finally:
        logger.removeHandler(handler)
    return out.getvalue()


def test_json_lines_carry_flux_keys_and_the_context_they_were_logged_in() -> None:
    text = _logged("json", (logging.INFO, 'applied "x"\nsecond line'), (logging.DEBUG, "d"))
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 4  # a message's newline stays inside its JSON string
    first = lines[0]
    assert first["level"] == "info" and first["msg"] == 'applied "x"\nsecond line'
    assert first["ts"].endswith("Z") and len(first["ts"]) == len("2026-01-01T00:00:00.000Z")
    assert first["service"] == "applier"
    assert (first["name"], first["namespace"], first["reconcileID"], first["trace_id"]) == (
        "app", "apps", "r-1", "abc123"
    )
    assert lines[1]["level"] == "debug"
    assert lines[2]["level"] == "warn" and "reconcileID" not in lines[2]
    assert lines[2]["trace_id"] == "abc123"
    assert lines[3]["level"] == "error" and "name" not in lines[3] and "trace_id" not in lines[3]


def test_text_lines_name_their_trace() -> None:
    text = _logged("text", (logging.INFO, "applied"))
    first, *_, last = text.splitlines()
    assert first.endswith("applied [trace abc123]") and " INFO conveyor.test-logs " in first
    assert last.endswith("outside every context")


def test_a_run_logs_json_lines_naming_each_object_and_its_trace(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    push(registry, demo, ci_tags(2))
    monkeypatch.setenv("CONVEYOR_LOG_LEVEL", "INFO")
    run = conveyor(
        "run", "--manifests", str(demo.manifests), "--once", "--log-format", "json",
        data=tmp_path / "data", redis_url=redis_url,
    )
    lines = [json.loads(line) for line in run.stderr.splitlines() if line.strip()]
    assert lines, run.stderr
    ran = [line for line in lines if "reconcileID" in line]
    kinds = {line["controllerKind"] for line in ran}
    assert {"GitRepository", "ImageRepository", "ImagePolicy", "ImageUpdateAutomation"} <= kinds
    for line in ran:
        assert line["controller"] == line["controllerKind"].lower()
        assert line["controllerGroup"].endswith(".toolkit.fluxcd.io")
        assert line["namespace"] == "flux-system" and line["name"]
        assert len(line["trace_id"]) == 16 and line["level"] in ("info", "warn", "error")
    policy = [line for line in ran if line["controllerKind"] == "ImagePolicy"]
    assert any("Ready=True" in line["msg"] for line in policy), policy
    assert len({line["reconcileID"] for line in ran}) >= len(kinds)  # one per run
