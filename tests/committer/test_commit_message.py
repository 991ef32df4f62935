"""The commit message of a run, end to end: real registry, bare Git remote and Redis.

An ``image.toolkit.fluxcd.io/v1`` automation with ``messageTemplateValues`` and Sprig functions
commits the message Flux would write; one whose template reads the removed ``.Updated``, or
renders nothing, stops (Stalled, with the reason and a message that says what to change) and
pushes nothing; the seed's ``v1beta1`` automation keeps ``.Updated``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.services.demo.scenario import MESSAGE, Demo, ci_tags
from conveyor.services.runner import once
from conveyor.shared.runtime import Settings
from conveyor.shared.sources import ManifestSource
from conveyor.shared.status import ImageUpdateAutomationStatus
from conveyor.shared.store import Store
from tests.conftest import git_out, push
from tests.fixtures.registries import Registry

KEY = "ImageUpdateAutomation/flux-system/gitops-demo-app"
SEED_TEMPLATE = (
    "      messageTemplate: |\n        Automated image updated by Flux\n        [ci skip]\n"
)


def automation(demo: Demo, api: str, commit: str) -> None:
    """Give the demo's ImageUpdateAutomation apiVersion ``api`` and ``commit``'s lines in place
    of its message template (YAML under ``spec.git.commit``, indented by six)."""
    manifest = demo.manifests / "gitops-demo-app.yaml"
    text = manifest.read_text()
    head = "apiVersion: image.toolkit.fluxcd.io/v1beta1\nkind: ImageUpdateAutomation\n"
    assert head in text and SEED_TEMPLATE in text
    text = text.replace(
        head, f"apiVersion: image.toolkit.fluxcd.io/{api}\nkind: ImageUpdateAutomation\n"
    )
    manifest.write_text(text.replace(SEED_TEMPLATE, commit))


def run(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> ImageUpdateAutomationStatus:
    push(registry, demo, ci_tags(2))
    store = Store.from_url(redis_url)
    once(store, Settings(data_dir=tmp_path / "data"), ManifestSource(demo.manifests))
    return store.get_status(KEY, ImageUpdateAutomationStatus)


def head_message(demo: Demo) -> str:
    """The message of the branch's head, byte for byte (``git log`` would add a newline)."""
    return git_out(demo.remote, "cat-file", "commit", "master").split("\n\n", 1)[1]


def test_a_v1_template_with_values_and_sprig_functions(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    automation(
        demo,
        "v1",
        "      messageTemplate: |-\n"
        "        Automated image update by Flux for cluster {{ .Values.cluster }}.\n"
        "\n"
        "        {{ range $resource, $changes := .Changed.Objects -}}\n"
        "        - {{ $resource.Kind | lower }} {{ $resource.Name }} in {{ $.AutomationObject }}\n"
        "        {{ end -}}\n"
        "        {{- range .Changed.Changes }}\n"
        '        {{ .Setter }}: {{ .NewValue | splitList "-" | last }}\n'
        "        {{- end }}\n"
        "      messageTemplateValues:\n"
        "        cluster: prod\n",
    )
    status = run(demo, registry, redis_url, tmp_path)
    assert status.ready is not None and status.ready.status == "True", status.ready
    newest = ci_tags(2)[-1].rsplit("-", 1)[-1]
    assert head_message(demo) == (
        "Automated image update by Flux for cluster prod.\n"
        "\n"
        "- deployment gitops-demo-app in flux-system/gitops-demo-app\n"
        "\n"
        f"flux-system:image-repo-policy: {newest}"
    )


def test_updated_on_v1_stalls_naming_its_replacement(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    before = git_out(demo.remote, "rev-parse", "master")
    automation(
        demo,
        "v1",
        "      messageTemplate: '{{range .Updated.Images}}{{println .}}{{end}}'\n",
    )
    status = run(demo, registry, redis_url, tmp_path)
    stalled = status.condition("Stalled")
    assert stalled is not None and stalled.status == "True"
    assert stalled.reason == "RemovedTemplateField"
    assert "removed '.Updated' field. Please use '.Changed' instead" in stalled.message
    assert git_out(demo.remote, "rev-parse", "master") == before  # nothing pushed


def test_updated_on_v1beta1_is_still_there(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    automation(
        demo,
        "v1beta1",
        "      messageTemplate: '{{range .Updated.Images}}{{println .}}{{end}}'\n",
    )
    status = run(demo, registry, redis_url, tmp_path)
    assert status.ready is not None and status.ready.status == "True", status.ready
    assert head_message(demo) == f"{demo.image}:{ci_tags(2)[-1]}\n"


def test_an_empty_message_stalls_instead_of_retrying(
    demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    before = git_out(demo.remote, "rev-parse", "master")
    automation(demo, "v1", "      messageTemplate: '{{ if false }}never{{ end }}'\n")
    status = run(demo, registry, redis_url, tmp_path)
    stalled = status.condition("Stalled")
    assert stalled is not None and stalled.status == "True"
    assert stalled.reason == "EmptyCommitMessage"
    assert git_out(demo.remote, "rev-parse", "master") == before


@pytest.mark.parametrize("api", ["v1beta1", "v1"])
def test_the_seed_template_is_committed_as_written(
    api: str, demo: Demo, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    automation(demo, api, SEED_TEMPLATE)
    status = run(demo, registry, redis_url, tmp_path)
    assert status.ready is not None and status.ready.status == "True", status.ready
    assert head_message(demo) == MESSAGE
