"""The data of Flux's commit message templates, built as a run builds it.

The data comes the way it does in a run: YAML files with ``$imagepolicy`` markers under
``spec.update.path``, the setters' changes (``compute_updates``), then ``commit_message`` with the
automation's API version (``flux_data``). The templates of Flux's documentation, verbatim, are
in ``test_template.py::test_flux_documentation_templates``.

The expected messages are Go's: each was checked against Go 1.26's text/template with Sprig
v3.3.0 over the same ``TemplateData`` (image-automation-controller's ``update.Result`` of v1.2.1
and ``update.ResultV2`` of v0.41.2, built with their ``AddChange``). Where Go ranges over a map
(``.Changed.Changes``, ``.Updated.Images``, the Gerrit Change-Id built from them) Flux's order
varies from run to run; conveyor's is the files in sorted order, then their objects in sorted
order, and the expected message is that one, which is among the messages Go produced.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.services.git_committer.govalues import GoMap
from conveyor.services.git_committer.message import (
    DEFAULT_TEMPLATE,
    REMOVED_IMAGE_RESULT,
    REMOVED_UPDATED,
    NamespacedName,
    Update,
    image_ref,
    object_identifier,
    template_data,
)
from conveyor.services.git_committer.reconcile import compute_updates, update_root
from conveyor.services.git_committer.setters import Latest
from conveyor.services.git_committer.template import render
from conveyor.shared.errors import InvalidSpec
from tests.committer.flux_data import described, message


@pytest.fixture
def changes(tmp_path: Path) -> list[Update]:
    """What the setters changed under ``clusters/prod``, as a run computes it."""
    return described(tmp_path)


# ------------------------------------------------------------------ the data itself

V1_DATA = [
    pytest.param(
        "{{ .AutomationObject }} {{ .AutomationObject.Namespace }} {{ .AutomationObject.Name }} "
        "{{ typeOf .AutomationObject }} {{ toJson .AutomationObject }}",
        "flux-system/flux-system flux-system flux-system types.NamespacedName "
        '{"Namespace":"flux-system","Name":"flux-system"}',
        id="automation-object-is-a-namespaced-name",
    ),
    pytest.param(
        "{{ range $file, $objects := .Changed.FileChanges }}{{ $file }};{{ end }}",
        "apps/podinfo.yaml;apps/redis.yaml;kustomization.yaml;",
        id="files-are-named-from-the-update-path",
    ),
    pytest.param(
        "{{ range $o, $changes := .Changed.Objects }}"
        "{{ $o.APIVersion }} {{ $o.Kind }} {{ $o.Name }} {{ $o.Namespace }} {{ len $changes }};"
        "{{ end }}",
        "apps/v1 Deployment podinfo apps 1;helm.toolkit.fluxcd.io/v2 HelmRelease redis apps 2;"
        "kustomize.config.k8s.io/v1beta1 Kustomization   1;",
        id="objects-in-go-order-apiversion-kind-name-namespace",
    ),
    pytest.param(
        "{{ range $o, $_ := .Changed.Objects }}{{ $o }}|{{ toJson $o }}|{{ end }}",
        "{{{apps/v1 Deployment} {podinfo apps}}}|"
        '{"apiVersion":"apps/v1","kind":"Deployment","name":"podinfo","namespace":"apps"}|'
        "{{{helm.toolkit.fluxcd.io/v2 HelmRelease} {redis apps}}}|"
        '{"apiVersion":"helm.toolkit.fluxcd.io/v2","kind":"HelmRelease","name":"redis",'
        '"namespace":"apps"}|'
        "{{{kustomize.config.k8s.io/v1beta1 Kustomization} { }}}|"
        '{"apiVersion":"kustomize.config.k8s.io/v1beta1","kind":"Kustomization"}|',
        id="an-object-prints-and-marshals-as-kyamls-identifier",
    ),
    pytest.param(
        "{{ range .Changed.Changes }}{{ .Setter }}={{ .OldValue }}>{{ .NewValue }};{{ end }}",
        "flux-system:podinfo=ghcr.io/stefanprodan/podinfo:5.0.2>ghcr.io/stefanprodan/podinfo:5.0.3;"
        "flux-system:redis:name=docker.io/bitnami/redis>registry.example.com/bitnami/redis;"
        "flux-system:redis:tag=7.2.3>7.2.4;flux-system:podinfo:tag=5.0.2>5.0.3;",
        id="changes-name-their-setter",
    ),
    pytest.param(
        "{{ typeOf .Changed }} {{ typeOf .Changed.FileChanges }} {{ typeOf .Changed.Objects }} "
        "{{ typeOf .Changed.Changes }} {{ typeOf .Values }}",
        "update.Result map[string]update.ObjectChanges update.ObjectChanges []update.Change "
        "map[string]string",
        id="go-types",
    ),
    pytest.param(
        "{{ .Values }} {{ .Values.cluster }} {{ .Values.missing }}",
        "map[cluster:prod] prod <no value>",
        id="values",
    ),
    pytest.param(
        "{{ range $o, $_ := .Changed.Objects }}{{ $o.Kind | lower | trunc 4 }}{{ end }} "
        "{{ .Changed.Changes | len | add1 }}",
        "deplhelmkust 5",
        id="sprig-over-the-data",
    ),
    pytest.param(
        '{{ index .Changed.FileChanges "apps/redis.yaml" }}',
        "map[{{{helm.toolkit.fluxcd.io/v2 HelmRelease} {redis apps}}}:"
        "[{docker.io/bitnami/redis registry.example.com/bitnami/redis flux-system:redis:name} "
        "{7.2.3 7.2.4 flux-system:redis:tag}]]",
        id="file-changes-of-one-file",
    ),
]


@pytest.mark.parametrize(("template", "expected"), V1_DATA)
def test_v1_data(template: str, expected: str, changes: list[Update]) -> None:
    assert message(template, changes, cluster="prod") == expected


OLDER_DATA = [
    pytest.param(
        "{{ range $f, $r := .Updated.Files }}{{ $f }}: {{ $r.Objects }};{{ end }}",
        "apps/podinfo.yaml: map[{{{apps/v1 Deployment} {podinfo apps}}}:"
        "[ghcr.io/stefanprodan/podinfo:5.0.3]];"
        "apps/redis.yaml: map[{{{helm.toolkit.fluxcd.io/v2 HelmRelease} {redis apps}}}:"
        "[registry.example.com/bitnami/redis:7.2.4]];"
        "kustomization.yaml: map[{{{kustomize.config.k8s.io/v1beta1 Kustomization} { }}}:"
        "[ghcr.io/stefanprodan/podinfo:5.0.3]];",
        id="updated-files",
    ),
    pytest.param(
        "{{ range .Updated.Images }}{{ . }} {{ .Name }} {{ .Repository }} {{ .Registry }} "
        "{{ .Identifier }} {{ .Policy }};{{ end }}",
        "ghcr.io/stefanprodan/podinfo:5.0.3 ghcr.io/stefanprodan/podinfo:5.0.3 "
        "stefanprodan/podinfo ghcr.io 5.0.3 flux-system/podinfo;"
        "registry.example.com/bitnami/redis:7.2.4 registry.example.com/bitnami/redis:7.2.4 "
        "bitnami/redis registry.example.com 7.2.4 flux-system/redis;",
        id="updated-images",
    ),
    pytest.param(
        "{{ range $o, $images := .Updated.Objects }}{{ $o.Kind }}={{ $images }};{{ end }}",
        "Deployment=[ghcr.io/stefanprodan/podinfo:5.0.3];"
        "HelmRelease=[registry.example.com/bitnami/redis:7.2.4];"
        "Kustomization=[ghcr.io/stefanprodan/podinfo:5.0.3];",
        id="updated-objects",
    ),
    pytest.param(
        "{{ eq (toString .Changed.ImageResult) (toString .Updated) }}",
        "true",
        id="changed-image-result-is-updated",
    ),
    pytest.param(
        "{{ typeOf .Updated }} {{ typeOf .Changed }} {{ typeOf .Updated.Images }} "
        "{{ typeOf .Updated.Objects }} {{ typeOf .Updated.Files }}",
        "update.Result update.ResultV2 []update.ImageRef "
        "map[update.ObjectIdentifier][]update.ImageRef map[string]update.FileResult",
        id="go-types",
    ),
    pytest.param(
        "{{ range $o, $c := .Changed.Objects }}{{ $o.Kind }}={{ len $c }};{{ end }} "
        "{{ len .Changed.Changes }}",
        "Deployment=1;HelmRelease=2;Kustomization=1; 4",
        id="changed-as-in-v1",
    ),
]


@pytest.mark.parametrize("api", ["v1beta2", "v1beta1", "v1alpha2"])
@pytest.mark.parametrize(("template", "expected"), OLDER_DATA)
def test_older_apis_keep_updated(
    template: str, expected: str, api: str, changes: list[Update]
) -> None:
    assert message(template, changes, api) == expected


@pytest.mark.parametrize(
    ("template", "removed"),
    [
        pytest.param("{{ range .Updated.Images }}{{ . }}{{ end }}", REMOVED_UPDATED, id="Updated"),
        pytest.param("{{ .Changed.ImageResult.Files }}", REMOVED_IMAGE_RESULT, id="ImageResult"),
    ],
)
def test_v1_refuses_the_removed_fields_naming_their_replacement(
    template: str, removed: str, changes: list[Update]
) -> None:
    with pytest.raises(InvalidSpec) as info:
        message("Update\n" + template, changes)
    assert info.value.reason == "RemovedTemplateField"  # Flux's reason; Stalled
    assert str(info.value) == removed
    assert "Please use '.Changed" in removed


def test_a_removed_field_that_never_runs_is_no_error(changes: list[Update]) -> None:
    """As in Go, a field is looked up when the template reaches it."""
    assert message("{{ if false }}{{ .Updated }}{{ end }}ok", changes) == "ok"


def test_an_unknown_field_is_an_error_naming_it(changes: list[Update]) -> None:
    with pytest.raises(
        InvalidSpec, match=r"can't evaluate field Nope in type source\.TemplateData"
    ):
        message("{{ .Nope }}", changes)


def test_the_default_message(changes: list[Update]) -> None:
    assert message(None, changes) == message("", changes) == DEFAULT_TEMPLATE


def test_an_empty_message_stops_the_automation(changes: list[Update]) -> None:
    with pytest.raises(InvalidSpec) as info:
        message("{{ if false }}never{{ end }}", changes)
    assert info.value.reason == "EmptyCommitMessage"
    assert "renders an empty commit message" in str(info.value)
    assert message(" ", changes) == " "  # git takes a blank message verbatim, as given


def kustomization(tag: str) -> str:
    return (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n"
        f'  - name: podinfo\n    newTag: {tag} # {{"$imagepolicy": "flux-system:podinfo:tag"}}\n'
    )


def test_an_object_in_two_files_as_each_api_merges_it(tmp_path: Path) -> None:
    """Two kustomization.yaml files name the same object (no metadata): v1's ``Objects``
    keeps the changes of both, v0.41's (v1beta2) the last file's."""
    for folder, tag in (("prod", "5.0.1"), ("dev", "5.0.2")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "kustomization.yaml").write_text(kustomization(tag))
    latest = {"flux-system:podinfo": Latest("ghcr.io/stefanprodan/podinfo", "5.0.3")}
    updates = compute_updates(tmp_path, tmp_path, lambda refs: latest, "flux-system")
    template = "{{ range $o, $c := .Changed.Objects }}{{ $c }}{{ end }}|{{ .Changed.Changes }}"
    both = "[{5.0.2 5.0.3 flux-system:podinfo:tag} {5.0.1 5.0.3 flux-system:podinfo:tag}]"
    assert message(template, updates.described) == f"{both}|{both}"
    last = "[{5.0.1 5.0.3 flux-system:podinfo:tag}]"
    assert message(template, updates.described, "v1beta2") == f"{last}|{both}"


def test_an_update_path_that_is_a_file_names_it_alone(tmp_path: Path) -> None:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "kustomization.yaml").write_text(kustomization("5.0.2"))
    root = update_root(tmp_path, "deploy/kustomization.yaml", "test")
    latest = {"flux-system:podinfo": Latest("ghcr.io/stefanprodan/podinfo", "5.0.3")}
    updates = compute_updates(root, tmp_path, lambda refs: latest, "flux-system")
    template = "{{ range $f, $_ := .Changed.FileChanges }}{{ $f }}{{ end }}"
    assert message(template, updates.described) == "kustomization.yaml"


@pytest.mark.parametrize(
    ("document", "identifier"),
    [
        pytest.param(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: b}\n",
            "{{{v1 ConfigMap} {a b}}}",
            id="flow-mapping",
        ),
        pytest.param(
            "apiVersion: 1\nkind: true\nmetadata:\n  name: 0x10\n  namespace: ~\n",
            "{{{1 true} {0x10 }}}",
            id="scalars-as-written-null-as-absent",
        ),
        pytest.param("image: nginx # marker\n", "{{{ } { }}}", id="no-metadata"),
        pytest.param("metadata: [a]\nkind: K\n", "{{{ K} { }}}", id="metadata-not-a-map"),
        pytest.param("{{ not yaml", "{{{ } { }}}", id="unparsable"),
    ],
)
def test_the_object_of_a_change_as_kyaml_reads_it(document: str, identifier: str) -> None:
    assert render("{{ . }}", object_identifier(document)) == identifier


@pytest.mark.parametrize(
    ("image", "printed"),
    [
        pytest.param(
            "nginx:1.25",
            "nginx:1.25 index.docker.io/library/nginx:1.25 library/nginx index.docker.io 1.25",
            id="docker-hub-library",
        ),
        pytest.param(
            "docker.io/bitnami/redis:7.2.4",
            "docker.io/bitnami/redis:7.2.4 index.docker.io/bitnami/redis:7.2.4 bitnami/redis "
            "index.docker.io 7.2.4",
            id="docker-io-alias",
        ),
        pytest.param(
            "localhost:5000/app:1",
            "localhost:5000/app:1 localhost:5000/app:1 app localhost:5000 1",
            id="registry-with-port",
        ),
        pytest.param(
            "nginx:1.25.1@sha256:" + "2" * 64,
            f"nginx:1.25.1@sha256:{'2' * 64} index.docker.io/library/nginx@sha256:{'2' * 64} "
            f"library/nginx index.docker.io sha256:{'2' * 64}",
            id="digest",
        ),
    ],
)
def test_v1beta_images_parse_as_go_containerregistry_does(image: str, printed: str) -> None:
    ref = image_ref(image, NamespacedName("flux-system", "p"))
    template = "{{ . }} {{ .Name }} {{ .Repository }} {{ .Registry }} {{ .Identifier }}"
    assert render(template, ref) == printed


def test_values_absent_are_an_empty_map(changes: list[Update]) -> None:
    data = template_data("image.toolkit.fluxcd.io/v1", "ns", "name", changes, None)
    assert render("{{ .Values }} {{ len .Values }}", data) == "map[] 0"
    assert isinstance(data.Values, GoMap)
