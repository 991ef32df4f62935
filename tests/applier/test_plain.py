"""The in-process build of a plain kustomization gives what ``kubectl kustomize`` gives: the
same objects in the same order; what it is not sure of, it leaves to kubectl."""

from __future__ import annotations

import random
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from conveyor.services.applier import build
from conveyor.services.applier.plain import build_plain
from conveyor.shared.errors import PermanentError
from conveyor.shared.models import KustomizationSpec


def kubectl(directory: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        ["kubectl", "kustomize", str(directory)], capture_output=True, text=True, check=True
    )
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def kustomization(directory: Path) -> dict[str, Any]:
    loaded = yaml.safe_load((directory / "kustomization.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def layout(directory: Path, files: dict[str, str], extra: str = "") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(textwrap.dedent(text).lstrip("\n"))
    listed = "".join(f"  - {name}\n" for name in files)
    (directory / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources:\n{listed}{extra}"
    )


# kinds of every rank: first, last, in between; with and without a group; a Namespace kind of
# another group (kustomize orders those two against each other its own way)
KINDS = [
    ("v1", "Namespace"), ("example.com/v1", "Namespace"), ("v1", "ConfigMap"),
    ("v1", "Secret"), ("v1", "Service"), ("apps/v1", "Deployment"), ("batch/v1", "CronJob"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"), ("rbac.authorization.k8s.io/v1",
    "ClusterRole"), ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"),
    ("example.com/v1", "Widget"), ("example.com/v2", "Widget"), ("alpha.io/v1", "Gadget"),
    ("v1", "Pod"), ("networking.k8s.io/v1", "Ingress"),
]  # fmt: skip
NAMESPACES = [None, "a", "a-b", "default", "z", "ab"]
NAMES = ["app", "app-1", "b", "a.b", "zz", "a-1", "app.x", "c", "m-n", "q", "r0", "r-0", "s"]


def test_random_sets_build_as_kubectl_builds_them(tmp_path: Path) -> None:
    """Sets of every kind and rank, in several files: where kubectl builds them, the same
    objects in the same order; where it refuses (one id twice), not plain either."""
    built = 0
    for seed in range(12):
        built += random_set(tmp_path / str(seed), random.Random(seed))
    assert built >= 8


def random_set(directory: Path, rng: random.Random) -> bool:
    chosen: set[tuple[str, str, str | None, str]] = set()
    while len(chosen) < 20:
        api, kind = rng.choice(KINDS)
        namespace = None if kind == "Namespace" else rng.choice(NAMESPACES)
        chosen.add((api, kind, "default" if namespace is None else namespace, rng.choice(NAMES)))
    files: dict[str, list[str]] = {}
    for api, kind, namespace, name in rng.sample(sorted(chosen), len(chosen)):
        ns = "" if namespace == "default" and rng.random() < 0.5 else f"  namespace: {namespace}\n"
        if kind == "Namespace":
            ns = ""
        doc = f"apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\n{ns}"
        files.setdefault(f"f{rng.randrange(4)}.yaml", []).append(doc)
    layout(directory, {n: "---\n".join(docs) for n, docs in files.items()})
    plain = build_plain(kustomization(directory), directory)
    try:
        expected = kubectl(directory)
    except subprocess.CalledProcessError:
        assert plain is None
        return False
    if plain is not None:
        assert plain == expected
    return plain is not None


VALUES = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: values
  labels: {{app: demo, tier: "1"}}
data:
{data}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: app
          image: reg.example:5000/app:main-abc-1 # {{"$imagepolicy": "flux-system:app"}}
          args: ["--x=1", "--flag", '--q="s"']
          resources: {{limits: {{cpu: 0.5, memory: 64Mi}}}}
"""
# plain scalars YAML 1.1 (PyYAML) and 1.2 (kustomize) read alike, and those they do not
ALIKE = [
    "1", "-7", "+12", "1.5", "-0.5", "2.0", "null", "~", "", "true", "False", "'quoted: yes'",
    '"tab\\tand é"', "|\n    two\n    lines", ">\n    folded\n    text", "''", "y", "N",
    "yes", "On", "off", "NO", "=x", "1.2.3", "100m", "0.5Gi", "8080/TCP", "v1", "_x",
    '"1:20"', '"2001-12-14"', "'0777'", "0.0000015",
]
UNLIKE = [
    "1e3", "0x1F", "0777", "2001-12-14", "2001-12-14T10:00:00Z", "1:20", "0o17", "1_000",
    ".5", "1.", "12.0e+3", "089", ".inf", "-.Inf", ".NaN", "0b101", "0.0000001", "1e21",
    "99999999999999999999",
]


def test_scalars_read_as_kubectl_reads_them(tmp_path: Path) -> None:
    """Each scalar alone in a ConfigMap, built both ways; those both YAML versions read alike
    are built in this process."""
    data = "\n".join(f"  k{i}: {v}" for i, v in enumerate(ALIKE))
    layout(tmp_path / "alike", {"all.yaml": VALUES.format(data=data)}, extra="namespace: apps\n")
    plain = build_plain(kustomization(tmp_path / "alike"), tmp_path / "alike")
    assert plain is not None
    assert plain == kubectl(tmp_path / "alike")
    assert {o["metadata"]["namespace"] for o in plain} == {"apps"}
    spec = KustomizationSpec.model_validate(
        {"sourceRef": {"kind": "GitRepository", "name": "s"}, "interval": "1m", "path": "."}
    )
    for i, value in enumerate(UNLIKE):
        directory = tmp_path / f"unlike{i}"
        layout(directory, {"a.yaml": VALUES.format(data=f"  k: {value}")})
        assert build_plain(kustomization(directory), directory) is None, value
        try:
            expected = kubectl(directory)
        except subprocess.CalledProcessError:  # kustomize cannot write an infinity in JSON
            with pytest.raises(PermanentError, match="kustomize build failed"):
                build.build(directory, spec, "Kustomization t/t")
            continue
        assert build.build(directory, spec, "Kustomization t/t") == expected, value


CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n{rest}"


@pytest.mark.parametrize(
    ("files", "extra"),
    [
        ({"a.yaml": CM.format(name="a", rest="data: {k: 1e3}\n")}, ""),  # read unlike
        ({"a.yaml": CM.format(name="a", rest="data: &d {k: v}\n")}, ""),  # anchor
        ({"a.yaml": CM.format(name="a", rest="data:\n  k: !!str 1\n")}, ""),  # tag
        ({"a.yaml": CM.format(name="a", rest="data:\n  k: v\n  k: w\n")}, ""),  # duplicate key
        ({"a.yaml": "apiVersion: v1\nkind: List\nitems:\n- " + CM.format(name="a", rest="")
          .replace("\n", "\n  ")}, ""),  # a List, which kustomize expands
        ({"a.yaml": CM.format(name="a", rest=""),
          "b.yaml": CM.format(name="a", rest="  namespace: default\n")}, ""),  # one id twice
        ({"a.yaml": CM.format(name="a", rest="")}, "namePrefix: p-\n"),  # a transformer
        ({"a.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n"
          "metadata:\n  name: r\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, "
          "name: r}\nsubjects:\n- {kind: ServiceAccount, name: default, namespace: x}\n"},
         "namespace: apps\n"),  # the namespace transformer touches more than metadata
    ],
    ids=["unlike", "anchor", "tag", "duplicate-key", "list", "same-id", "prefix",
         "rolebinding-namespace"],
)
def test_what_it_is_not_sure_of_goes_to_kubectl(
    tmp_path: Path, files: dict[str, str], extra: str
) -> None:
    layout(tmp_path, files, extra)
    assert build_plain(kustomization(tmp_path), tmp_path) is None
    spec = KustomizationSpec.model_validate(
        {"sourceRef": {"kind": "GitRepository", "name": "s"}, "interval": "1m", "path": "."}
    )
    try:
        expected = kubectl(tmp_path)
    except subprocess.CalledProcessError:
        with pytest.raises(Exception, match="kustomize build failed"):
            build.build(tmp_path, spec, "Kustomization t/t")
        return
    assert build.build(tmp_path, spec, "Kustomization t/t") == expected


def test_a_resource_out_of_the_directory_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "secret.yaml").write_text(CM.format(name="outside", rest=""))
    app = tmp_path / "app"
    layout(app, {"a.yaml": CM.format(name="a", rest="")})
    (app / "kustomization.yaml").write_text("resources:\n  - a.yaml\n  - ../secret.yaml\n")
    assert build_plain(kustomization(app), app) is None
    (app / "link.yaml").symlink_to(tmp_path / "secret.yaml")
    (app / "kustomization.yaml").write_text("resources:\n  - a.yaml\n  - link.yaml\n")
    assert build_plain(kustomization(app), app) is None


def test_the_seed_layout_is_built_in_process(tmp_path: Path, monkeypatch: Any) -> None:
    """The walkthrough's app (two files, ``targetNamespace``) needs no kubectl."""
    from conveyor.services.demo import scenario

    layout(tmp_path, {"deployment.yaml": scenario.DEPLOYMENT.format(image="r:5000/app"),
                      "service.yaml": scenario.SERVICE})
    expected = kubectl_with_namespace(tmp_path, "default")

    def no_kubectl(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("kubectl started")

    monkeypatch.setattr(subprocess, "run", no_kubectl)
    spec = KustomizationSpec.model_validate(
        {"sourceRef": {"kind": "GitRepository", "name": "s"}, "interval": "1m", "path": ".",
         "targetNamespace": "default"}
    )
    assert build.build(tmp_path, spec, "Kustomization t/t") == expected


def kubectl_with_namespace(directory: Path, namespace: str) -> list[dict[str, Any]]:
    copy = directory.parent / (directory.name + "-kubectl")
    copy.mkdir()
    for path in directory.iterdir():
        (copy / path.name).write_text(path.read_text())
    with (copy / "kustomization.yaml").open("a") as f:
        f.write(f"namespace: {namespace}\n")
    return kubectl(copy)
