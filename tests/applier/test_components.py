"""``spec.components`` and ``spec.ignoreMissingComponents`` (Flux's generator), built with
``kubectl kustomize``; and ``spec.images`` merged into the kustomization's own entry as Flux's
generator (fluxcd/pkg/kustomize 1.35) merges it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conveyor.services.applier import build
from conveyor.shared.errors import PermanentError
from tests.applier.test_build import CM, names, spec, write

COMPONENT = """
apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
resources: [{file}]
patches:
  - target: {{kind: ConfigMap, name: app}}
    patch: |
      - op: add
        path: /data/{key}
        value: "on"
"""


def app(root: Path) -> None:
    """Flux's documented layout: an overlay at ./app, components beside it."""
    write(
        root,
        {
            "app/cm.yaml": CM.format(name="app"),
            "ingress/kustomization.yaml": COMPONENT.format(file="ing.yaml", key="ingress"),
            "ingress/ing.yaml": CM.format(name="ingress"),
            "tls/kustomization.yaml": COMPONENT.format(file="tls.yaml", key="tls"),
            "tls/tls.yaml": CM.format(name="tls"),
        },
    )


def test_components_relative_to_the_path_are_added_to_the_generated_kustomization(
    tmp_path: Path,
) -> None:
    app(tmp_path)
    objects = build.build(tmp_path, spec(path="./app", components=["../ingress", "../tls"]),
                          "Kustomization x/y")
    assert names(objects) == ["ConfigMap//app", "ConfigMap//ingress", "ConfigMap//tls"]
    assert objects[0]["data"] == {"k": "v", "ingress": "on", "tls": "on"}


def test_components_are_appended_to_those_of_an_existing_kustomization(tmp_path: Path) -> None:
    app(tmp_path)
    write(tmp_path, {"app/kustomization.yaml": "resources: [cm.yaml]\ncomponents: [../tls]\n"})
    objects = build.build(tmp_path, spec(path="./app", components=["../ingress"]),
                          "Kustomization x/y")
    assert names(objects) == ["ConfigMap//app", "ConfigMap//ingress", "ConfigMap//tls"]
    laid = yaml.safe_load((tmp_path / "app/kustomization.yaml").read_text())
    assert laid["components"] == ["../tls", "../ingress"]


def test_a_missing_component_fails_the_build_unless_ignored(tmp_path: Path) -> None:
    app(tmp_path / "one")
    with pytest.raises(PermanentError) as failed:
        build.build(tmp_path / "one", spec(path="./app", components=["../ingress", "../absent"]),
                    "Kustomization x/y")
    assert failed.value.reason == "BuildFailed"
    assert "absent" in str(failed.value)

    app(tmp_path / "two")  # each build has a fresh copy of the source, as in the applier
    objects = build.build(
        tmp_path / "two",
        spec(path="./app", components=["../ingress", "../absent"], ignoreMissingComponents=True),
        "Kustomization x/y",
    )
    assert names(objects) == ["ConfigMap//app", "ConfigMap//ingress"]


@pytest.mark.parametrize(
    "component",
    [
        "https://github.com/org/repo//components/tls",
        "git@github.com:org/repo.git",
        "github.com/org/repo",
        "/etc",
        "file:///etc",
    ],
)
def test_a_remote_or_absolute_component_is_refused_as_flux_refuses_it(
    tmp_path: Path, component: str
) -> None:
    app(tmp_path)
    with pytest.raises(PermanentError) as failed:
        build.build(
            tmp_path,
            spec(path="./app", components=[component], ignoreMissingComponents=True),
            "Kustomization x/y",
        )
    assert str(failed.value) == (
        f"Kustomization x/y: component path '{component}' must be local and relative"
    )


def test_a_component_out_of_the_source_is_refused_or_left_out(tmp_path: Path) -> None:
    """kustomize would load a component directory anywhere on the machine; Flux's filesystem
    stops at the source's root, and so does conveyor."""
    outside = tmp_path / "outside"
    write(outside, {"kustomization.yaml": COMPONENT.format(file="x.yaml", key="x"),
                    "x.yaml": CM.format(name="stolen")})
    root = tmp_path / "src"
    app(root)
    with pytest.raises(PermanentError) as failed:
        build.build(root, spec(path="./app", components=["../../outside"]), "Kustomization x/y")
    assert str(failed.value) == (
        "Kustomization x/y: component path '../../outside' is not in or below the source"
    )
    # with ignoreMissingComponents Flux's generator finds nothing there, and leaves it out
    root = tmp_path / "again"
    app(root)
    objects = build.build(
        root, spec(path="./app", components=["../../outside"], ignoreMissingComponents=True),
        "Kustomization x/y",
    )
    assert names(objects) == ["ConfigMap//app"]


def test_images_merge_into_the_kustomization_entry_of_the_same_name(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "app/kustomization.yaml": """
                resources: [dep.yaml]
                images:
                  - {name: web, newName: registry/web, newTag: "1.0"}
                  - {name: db, newTag: "9", digest: "sha256:%s"}
                  - {name: cache, newName: registry/cache, newTag: "2.0"}
                """,
            "app/dep.yaml": """
                apiVersion: v1
                kind: Pod
                metadata: {name: p}
                spec:
                  containers:
                    - {name: a, image: web}
                    - {name: b, image: db}
                    - {name: c, image: cache}
                    - {name: d, image: new}
                """,
        },
    )
    kustomization = tmp_path / "app/kustomization.yaml"
    kustomization.write_text(kustomization.read_text() % ("0" * 64))
    images = [
        {"name": "web", "newTag": "1.1"},  # newName kept from the file
        {"name": "db", "newTag": "10"},  # the file's digest goes with its tag
        {"name": "cache", "newName": "mirror/cache"},  # the file's tag kept
        {"name": "new", "newName": "registry/new", "newTag": "3"},
    ]
    objects = build.build(tmp_path, spec(path="./app", images=images), "Kustomization x/y")
    got = [c["image"] for c in objects[0]["spec"]["containers"]]
    assert got == ["registry/web:1.1", "db:10", "mirror/cache:2.0", "registry/new:3"]
