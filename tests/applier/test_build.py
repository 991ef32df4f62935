"""The build: Flux's generated kustomization.yaml and overlay, through ``kubectl kustomize``."""

from __future__ import annotations

import io
import random
import tarfile
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from conveyor.services.applier import build
from conveyor.shared.errors import InvalidSpec, PermanentError
from conveyor.shared.models import KustomizationSpec


def spec(**fields: Any) -> KustomizationSpec:
    return KustomizationSpec.model_validate(
        {"sourceRef": {"kind": "GitRepository", "name": "s"}, "interval": "1m", **fields}
    )


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text).lstrip("\n"))


CM = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
data: {{k: v}}
"""


def names(objects: list[dict[str, Any]]) -> list[str]:
    return [f"{o['kind']}/{o['metadata'].get('namespace', '')}/{o['metadata']['name']}"
            for o in objects]


def test_generated_kustomization_lists_files_and_stops_at_nested_kustomizations(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        {
            "app/a.yaml": CM.format(name="a"),
            "app/sub/b.yml": CM.format(name="b"),
            "app/sub/notes.txt": "not yaml",
            "app/base/kustomization.yaml": "resources: [c.yaml]\nnamePrefix: base-\n",
            "app/base/c.yaml": CM.format(name="c"),
            "app/base/ignored.yaml": CM.format(name="ignored"),
        },
    )
    objects = build.build(tmp_path, spec(path="./app"), "Kustomization x/y")
    assert sorted(names(objects)) == ["ConfigMap//a", "ConfigMap//b", "ConfigMap//base-c"]
    generated = yaml.safe_load((tmp_path / "app" / "kustomization.yaml").read_text())
    assert generated["resources"] == ["./a.yaml", "./base", "./sub/b.yml"]


def test_overlay_as_flux_generator(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "k/kustomization.yaml": """
                namespace: from-file
                namePrefix: file-
                resources: [d.yaml]
                images:
                  - {name: nginx, newTag: "1.0"}
                  - {name: redis, newTag: "6"}
                """,
            "k/d.yaml": """
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: web}
                spec:
                  selector: {matchLabels: {app: web}}
                  template:
                    metadata: {labels: {app: web}}
                    spec:
                      containers:
                        - {name: a, image: nginx}
                        - {name: b, image: redis}
                """,
        },
    )
    objects = build.build(
        tmp_path,
        spec(
            path="k",
            targetNamespace="target",
            namePrefix="flux-",
            nameSuffix="-x",
            images=[{"name": "nginx", "newTag": "2.0"}],
            patchesStrategicMerge=[
                {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                 "spec": {"replicas": 4}}
            ],
            patchesJson6902=[
                {"target": {"kind": "Deployment", "name": "web"},
                 "patch": [{"op": "add", "path": "/metadata/annotations",
                            "value": {"patched": "yes"}}]}
            ],
        ),
        "Kustomization x/y",
    )
    [dep] = objects
    assert dep["metadata"]["namespace"] == "target"  # targetNamespace overrides the file
    assert dep["metadata"]["name"] == "flux-web-x"  # the spec's prefix replaces the file's
    images = [c["image"] for c in dep["spec"]["template"]["spec"]["containers"]]
    assert images == ["nginx:2.0", "redis:6"]  # the spec's newTag replaces the same name's
    assert dep["spec"]["replicas"] == 4
    assert dep["metadata"]["annotations"] == {"patched": "yes"}


@pytest.mark.parametrize(
    ("files", "path", "error", "kind"),
    [
        pytest.param({"a/x.yaml": CM.format(name="x")}, "../elsewhere", "leaves the source",
                     InvalidSpec, id="path-escapes"),
        pytest.param({"a/x.yaml": CM.format(name="x")}, "./missing", "not found in the source",
                     PermanentError, id="path-missing"),
        pytest.param({"a/x.yaml": "key: [unclosed"}, "./a", "failed to decode Kubernetes YAML",
                     PermanentError, id="bad-yaml"),
        pytest.param({"a/x.yaml": "just: data\n"}, "./a", "missing kind", PermanentError,
                     id="not-an-object"),
        pytest.param({"a/kustomization.yaml": "resources: [nope.yaml]\n"}, "./a",
                     "kustomize build failed", PermanentError, id="kustomize-error"),
        pytest.param({"a/kustomization.yaml": "configMapGenerator:\n- name: c\n  files: "
                                               "[/etc/hostname]\n"},
                     "./a", "kustomize build failed", PermanentError,
                     id="no-files-outside-the-kustomization"),
    ],
)
def test_build_errors(
    tmp_path: Path, files: dict[str, str], path: str, error: str, kind: type[Exception]
) -> None:
    write(tmp_path, files)
    with pytest.raises(kind, match=error) as caught:
        build.build(tmp_path, spec(path=path), "Kustomization x/y")
    assert str(tmp_path) not in str(caught.value)
    if isinstance(caught.value, PermanentError) and not isinstance(caught.value, InvalidSpec):
        assert caught.value.reason in ("BuildFailed", "ArtifactFailed")


def artifact(members: list[tuple[str, bytes | None, str | None]]) -> bytes:
    """A tar.gz of (name, file content or None, link target or None), as `git archive`."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, content, target in members:
            info = tarfile.TarInfo(name)
            if target is not None:
                info.type, info.linkname = tarfile.SYMTYPE, target
                tar.addfile(info)
            else:
                data = content or b""
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_extract_unpacks_files_and_links_inside_the_source(tmp_path: Path) -> None:
    data = artifact(
        [("kustomize/a.yaml", CM.format(name="a").encode(), None),
         ("kustomize/b.yaml", None, "a.yaml")]
    )
    build.extract(data, tmp_path, owner="Kustomization x/y")
    assert (tmp_path / "kustomize" / "b.yaml").read_text() == CM.format(name="a")


@pytest.mark.parametrize(
    ("target", "words"),
    [
        pytest.param("/etc/passwd", "is a link to an absolute path (/etc/passwd)", id="absolute"),
        pytest.param("../../etc/passwd", "is a link out of the source", id="outside"),
    ],
)
def test_extract_refuses_links_out_of_the_source(
    tmp_path: Path, target: str, words: str
) -> None:
    data = artifact(
        [("kustomize/ok.yaml", CM.format(name="ok").encode(), None),
         ("kustomize/x.yaml", None, target)]
    )
    started = time.monotonic()
    with pytest.raises(PermanentError) as caught:
        build.extract(data, tmp_path / "root", owner="Kustomization x/y")
    assert time.monotonic() - started < 5
    assert type(caught.value) is PermanentError
    assert caught.value.reason == "ArtifactFailed"
    message = str(caught.value)
    assert message.startswith("Kustomization x/y: the source's kustomize/x.yaml ")
    assert words in message and message.endswith("refused")
    assert str(tmp_path) not in message
    assert isinstance(caught.value.__cause__, tarfile.FilterError)


def test_extract_refuses_an_artifact_that_is_no_tar_gz(tmp_path: Path) -> None:
    good = artifact([("kustomize/a.bin", random.Random(0).randbytes(100_000), None)])
    for data in (b"not a tarball", good[: len(good) // 2]):
        with pytest.raises(PermanentError, match=r"not a valid tar\.gz") as caught:
            build.extract(data, tmp_path, owner="Kustomization x/y")
        assert caught.value.reason == "ArtifactFailed"
