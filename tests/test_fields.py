"""Every field of Flux's CRDs is implemented or refused by name (``conveyor.shared.fields``).

The schema walk reads every version of every CRD vendored in ``crds/flux/*/``; the table must
hold exactly their spec field paths, each with the versions whose schema has it, and every test
it names must exist. Then: what is refused and how it is named, that objects as Flux's API server
defaults them are accepted, that a refused object is Stalled while the others run, and the
tests of the fields whose other tests show only their mechanism.
"""

from __future__ import annotations

import ast
import base64
import copy
import io
import json
import re
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from conveyor.services.applier import build
from conveyor.services.applier.reconcile import cluster_target
from conveyor.services.receiver.app import create_app
from conveyor.services.receiver.reconcile import refresh_receivers
from conveyor.services.receiver.webhooks import webhook_path
from conveyor.services.runner import diff, load_stage
from conveyor.shared.adapters.oci.reference import parse_image
from conveyor.shared.bus import InlineDispatcher
from conveyor.shared.credentials import registry_options
from conveyor.shared.errors import UnsupportedField
from conveyor.shared.events import ReconcileRequested
from conveyor.shared.fields import FIELDS, OLDER_SCHEMAS, OWN_NAMESPACE, check, message, refusals
from conveyor.shared.kinds import BY_NAME, KINDS
from conveyor.shared.manifests import parse_manifests
from conveyor.shared.models import FluxObject, ImageRepository, ImageUpdateAutomation, Kustomization
from conveyor.shared.runtime import Context, Settings, handle
from conveyor.shared.sources import ManifestSource
from conveyor.shared.status import Artifact, GitRepositoryStatus, Status
from conveyor.shared.store import Store
from tests.fixtures.controlplane import REPO_ROOT

CRDS = REPO_ROOT / "crds" / "flux"
NOT_READ: set[str] = set()  # Flux kinds of the vendored CRDs conveyor does not read
FLUX_KINDS = [k for k in KINDS if k.flux]


# --- the schema walk -------------------------------------------------------------------------


def _walk(node: dict[str, Any], path: str, version: str, out: dict[str, set[str]]) -> None:
    """Every field path below ``node`` (an openAPIV3Schema), with ``version`` added to its set.
    An array's items are ``path[]``; a map or a free-form value ends the path."""
    if node.get("type") == "array":
        node = node.get("items") or {}
        path += "[]"
        assert node.get("type") != "array", f"{path}: arrays of arrays are not walked"
    properties = node.get("properties") or {}
    if properties:  # the walker of conveyor reads a key under an object as a field
        assert not node.get("additionalProperties"), path
        assert not node.get("x-kubernetes-preserve-unknown-fields"), path
    for key, child in properties.items():
        out[f"{path}.{key}"].add(version)
        _walk(child, f"{path}.{key}", version, out)


def schemas() -> dict[str, tuple[set[str], dict[str, set[str]]]]:
    """For each kind of the vendored CRDs: its versions, and each spec field path with the
    versions (of any release) whose schema has it."""
    found: dict[str, tuple[set[str], dict[str, set[str]]]] = {}
    files = sorted(CRDS.glob("*/*.yaml"))
    assert len(files) >= 3 * 6, files
    for file in files:
        doc = yaml.safe_load(file.read_text())
        kind = doc["spec"]["names"]["kind"]
        versions, paths = found.setdefault(kind, (set(), defaultdict(set)))
        for version in doc["spec"]["versions"]:
            versions.add(version["name"])
            spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
            _walk(spec, "spec", version["name"], paths)
    return found


SCHEMAS = schemas()


def test_the_table_has_every_kind_conveyor_reads_and_no_other() -> None:
    assert set(FIELDS) == {k.name for k in FLUX_KINDS}
    assert set(SCHEMAS) == set(FIELDS) | NOT_READ


@pytest.mark.parametrize("kind", sorted(FIELDS))
def test_every_field_of_every_schema_is_in_the_table_with_its_versions(kind: str) -> None:
    versions, paths = SCHEMAS[kind]
    table = FIELDS[kind]
    missing = sorted(set(paths) - set(table))
    assert not missing, f"{kind}: not in the table: {missing}"
    for path, has in paths.items():
        listed = set(table[path].versions) or versions
        assert listed == has, f"{kind} {path}: the table says {sorted(listed)}, the CRDs {has}"


@pytest.mark.parametrize("kind", sorted(FIELDS))
def test_every_path_of_the_table_is_in_a_schema(kind: str) -> None:
    extra = sorted(set(FIELDS[kind]) - set(SCHEMAS[kind][1]))
    assert not extra, f"{kind}: in no schema of crds/flux: {extra}"


@pytest.mark.parametrize("kind", FLUX_KINDS, ids=lambda k: k.name)
def test_every_version_conveyor_accepts_has_a_schema(kind: Any) -> None:
    versions = SCHEMAS[kind.name][0]
    for version in kind.versions:
        assert OLDER_SCHEMAS.get(version, version) in versions, (kind.name, version)
    assert versions <= set(kind.versions), f"{kind.name}: Flux serves {versions}"


def _functions(file: Path) -> set[str]:
    tree = ast.parse(file.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names |= {
                f"{node.name}::{n.name}"
                for n in node.body
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
            }
    return names


def test_each_implemented_field_names_a_test_that_exists() -> None:
    defined: dict[str, set[str]] = {}
    for kind, table in FIELDS.items():
        for path, field in table.items():
            if not field.implemented:
                continue
            file, sep, name = field.test.partition("::")
            assert sep and file.startswith("tests/") and name.startswith(
                ("test_", "Test")
            ), f"{kind} {path}: {field.test!r} is not tests/<file>.py::<test>"
            if file not in defined:
                assert (REPO_ROOT / file).is_file(), f"{kind} {path}: no file {file}"
                defined[file] = _functions(REPO_ROOT / file)
            assert name in defined[file], f"{kind} {path}: no test {field.test}"


def test_values_accepted_include_what_flux_defaults_a_field_to() -> None:
    """An unsupported field with a CRD default accepts that default (the API server writes it
    into every object), so a refusal of it would refuse every object read back."""
    for file in sorted(CRDS.glob("*/*.yaml")):
        doc = yaml.safe_load(file.read_text())
        kind = doc["spec"]["names"]["kind"]
        if kind in NOT_READ:
            continue
        for version in doc["spec"]["versions"]:
            spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
            for path, default in _defaults(spec, "spec"):
                parent = path.rpartition(".")[0].removesuffix("[]")
                if parent != "spec" and not FIELDS[kind][parent].implemented:
                    continue  # defaulted only inside a field refused anyway
                field = FIELDS[kind][path]
                if not field.implemented or field.values:
                    assert default in field.values, f"{file}: {kind} {path} defaults to {default!r}"


def _defaults(node: dict[str, Any], path: str) -> list[tuple[str, Any]]:
    if node.get("type") == "array":
        node, path = node.get("items") or {}, path + "[]"
    out = []
    for key, child in (node.get("properties") or {}).items():
        if "default" in child:
            out.append((f"{path}.{key}", child["default"]))
        out += _defaults(child, f"{path}.{key}")
    return out


def test_a_receiver_wakes_the_kinds_conveyor_reconciles() -> None:
    wakes = FIELDS["Receiver"]["spec.resources[].kind"].values
    assert set(wakes) == {k.name for k in FLUX_KINDS if k.queued}


# --- what is refused, and how it is named ----------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "version", "spec", "refused"),
    [
        pytest.param(
            "Kustomization", "kustomize.toolkit.fluxcd.io/v1",
            {"dependsOn": [{"name": "a", "readyExpr": "true"}]},
            ["spec.dependsOn[0].readyExpr is not supported by conveyor"],
            id="nested-unsupported",
        ),
        pytest.param(
            "GitRepository", "source.toolkit.fluxcd.io/v1",
            {"url": "x", "interval": "1m", "proxySecretRef": {"name": "p"},
             "serviceAccountName": "sa"},
            ["spec.proxySecretRef is not supported by conveyor",
             "spec.serviceAccountName is not supported by conveyor"],
            id="each-path-named-and-not-below-it",
        ),
        pytest.param(
            "Kustomization", "kustomize.toolkit.fluxcd.io/v1",
            {"dependsOn": [{"name": "a"}, {"name": "b", "readyExpr": "true"}]},
            ["spec.dependsOn[1].readyExpr is not supported by conveyor"],
            id="array-item-by-index",
        ),
        pytest.param(
            "ImagePolicy", "image.toolkit.fluxcd.io/v1",
            {"filterTags": {"patern": "x"}, "polcy": {}},
            ["spec.filterTags.patern is not a field of ImagePolicy image.toolkit.fluxcd.io/v1",
             "spec.polcy is not a field of ImagePolicy image.toolkit.fluxcd.io/v1"],
            id="typos",
        ),
        pytest.param(
            "ImageRepository", "image.toolkit.fluxcd.io/v1beta1",
            {"image": "x", "insecure": True},
            ["spec.insecure is not a field of ImageRepository image.toolkit.fluxcd.io/v1beta1 "
             "(it is in v1beta2, v1)"],
            id="a-field-of-another-version",
        ),
        pytest.param(
            "Kustomization", "kustomize.toolkit.fluxcd.io/v1",
            {"patchesStrategicMerge": [{"kind": "x"}]},
            ["spec.patchesStrategicMerge is not a field of Kustomization "
             "kustomize.toolkit.fluxcd.io/v1 (it is in v1beta1, v1beta2)"],
            id="removed-in-v1",
        ),
        pytest.param(
            "ImageRepository", "image.toolkit.fluxcd.io/v1", {"provider": "aws"},
            ["spec.provider: 'aws' is not supported by conveyor (only 'generic')"],
            id="unless-default",
        ),
        pytest.param(
            "Kustomization", "kustomize.toolkit.fluxcd.io/v1",
            {"sourceRef": {"kind": "OCIRepository", "name": "x"}},
            ["spec.sourceRef.kind: 'OCIRepository' is not supported by conveyor "
             "(only 'GitRepository')"],
            id="implemented-for-some-values",
        ),
        pytest.param(
            "ImagePolicy", "image.toolkit.fluxcd.io/v1",
            {"imageRepositoryRef": {"name": "x", "namespace": "other"}},
            ["spec.imageRepositoryRef.namespace: 'other' is not supported by conveyor "
             "(only the object's own namespace)"],
            id="another-namespace",
        ),
        pytest.param(
            "GitRepository", "source.toolkit.fluxcd.io/v1",
            {"provider": 0},
            ["spec.provider: 0 is not supported by conveyor (only 'generic')"],
            id="a-default-of-another-type",
        ),
        pytest.param(
            "ImagePolicy", "image.toolkit.fluxcd.io/v1alpha2",
            {"imageRepositoryRef": {"name": "x"}, "digestReflectionPolicy": "Always"},
            ["spec.digestReflectionPolicy is not a field of ImagePolicy "
             "image.toolkit.fluxcd.io/v1alpha2 (it is in v1beta2, v1)"],
            id="v1alpha2-read-as-v1beta1",
        ),
        pytest.param(
            "GitRepository", "source.toolkit.fluxcd.io/v1",
            {"ignore": None, "include": [], "sparseCheckout": [], "recurseSubmodules": False,
             "provider": "generic", "ref": {"tag": None}},
            [],
            id="null-empty-and-defaults-are-not-set",
        ),
        pytest.param(
            "Receiver", "notification.toolkit.fluxcd.io/v1",
            {"resources": [{"kind": "HelmRelease", "name": "x"}]},
            ["spec.resources[0].kind: 'HelmRelease' is not supported by conveyor (only "
             "'GitRepository', 'ImageRepository', 'ImagePolicy', 'ImageUpdateAutomation', "
             "'Kustomization')"],
            id="a-kind-conveyor-does-not-reconcile",
        ),
        pytest.param(
            "Kustomization", "kustomize.toolkit.fluxcd.io/v1",
            {"postBuild": {"substitute": {"any": "key"}, "substituteFrom": []},
             "commonMetadata": {"labels": {"a.b/c": "d"}}},
            [],
            id="map-keys-are-data",
        ),
        pytest.param(
            "Kustomization", "kustomize.toolkit.fluxcd.io/v1beta2",
            {"patchesJson6902": [{"patch": [{"op": "add", "path": "/x", "value": {"y": 1}}]}]},
            [],
            id="free-form-values-are-data",
        ),
    ],
)
def test_refusals(kind: str, version: str, spec: dict[str, Any], refused: list[str]) -> None:
    assert list(refusals(kind, version, spec, "ns")) == refused


def test_a_hostile_spec_is_named_within_bounds() -> None:
    spec = {f"field{i}": i for i in range(1000)}
    spec["x" * 10_000] = 1
    spec["line\nbreak"] = 2
    refused = refusals("GitRepository", "source.toolkit.fluxcd.io/v1", spec, "ns")
    assert len(refused) == 1002
    text = message(refused)
    assert len(text) < 2000 and text.endswith("; and 992 more")
    assert all(len(r) < 200 for r in refused)
    assert any("'line\\nbreak'" in r for r in refused)
    with pytest.raises(UnsupportedField, match=r"^spec\.field0 is not a field") as raised:
        check(refused)
    assert raised.value.reason == "UnsupportedField"
    check(())  # nothing refused: nothing raised


def one(text: str) -> FluxObject:
    [obj] = parse_manifests(text)
    return obj


def test_a_refused_object_is_parsed_and_carries_what_is_refused() -> None:
    kustomization = (
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: a, namespace: ns}\n"
        "spec:\n  interval: 1m\n  prune: true\n  sourceRef: {kind: GitRepository, name: s}\n"
    )
    obj = one(kustomization + "  dependsOn: [{name: b, readyExpr: 'true'}]\n")
    assert obj.unsupported == ("spec.dependsOn[0].readyExpr is not supported by conveyor",)
    plain = one(kustomization + "  dependsOn: [{name: b}]\n")
    assert plain.unsupported == ()
    assert obj.spec_hash() != plain.spec_hash()  # dropping the field is a spec change
    secret = one("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {odd: x}\n")
    assert secret.unsupported == ()  # core kinds are not Flux's


# --- objects as Flux writes them -------------------------------------------------------------


MINIMAL: dict[str, list[dict[str, Any]]] = {
    "GitRepository": [{"url": "https://example.com/r.git", "interval": "1m"}],
    "ImageRepository": [{"image": "example.com/app", "interval": "1m"}],
    "ImagePolicy": [
        {"imageRepositoryRef": {"name": "app"}, "policy": {"numerical": {}}},
        {"imageRepositoryRef": {"name": "app"}, "policy": {"alphabetical": {}}},
        {"imageRepositoryRef": {"name": "app"}, "policy": {"semver": {"range": ">=1.0.0"}}},
    ],
    "ImageUpdateAutomation": [
        {
            "interval": "1m",
            "sourceRef": {"kind": "GitRepository", "name": "app"},
            "git": {"commit": {"author": {"email": "bot@example.com"}}},
        }
    ],
    "Kustomization": [
        {
            "interval": "1m",
            "sourceRef": {"kind": "GitRepository", "name": "app"},
            "prune": True,
            "postBuild": {"substituteFrom": [{"kind": "ConfigMap", "name": "vars"}]},
        }
    ],
    "Receiver": [
        {
            "type": "github",
            "secretRef": {"name": "token"},
            "resources": [{"kind": "GitRepository", "name": "app"}],
        }
    ],
    "Provider": [
        {"type": "slack", "channel": "general", "secretRef": {"name": "slack-url"}},
        {"type": "github", "address": "https://github.com/org/app", "secretRef": {"name": "t"}},
    ],
    "Alert": [
        {
            "providerRef": {"name": "slack"},
            "eventSources": [{"kind": "Kustomization", "name": "*"}],
        }
    ],
}


def defaulted(node: dict[str, Any], value: Any) -> Any:
    """``value`` with the defaults of ``node`` (an openAPIV3Schema) filled in, as the API
    server fills them into what it stores: at every level that is present."""
    if node.get("type") == "array" and isinstance(value, list):
        return [defaulted(node.get("items") or {}, item) for item in value]
    if not isinstance(value, dict):
        return value
    out = dict(value)
    for key, child in (node.get("properties") or {}).items():
        if key not in out and "default" in child:
            out[key] = copy.deepcopy(child["default"])
        if key in out:
            out[key] = defaulted(child, out[key])
    return out


def test_objects_as_flux_defaults_them_are_accepted() -> None:
    """Each kind at each version of each release, as its API server stores it (the CRD's
    defaults filled in, as ``flux export`` then prints it): nothing refused, and it parses."""
    seen = 0
    for file in sorted(CRDS.glob("*/*.yaml")):
        doc = yaml.safe_load(file.read_text())
        kind, group = doc["spec"]["names"]["kind"], doc["spec"]["group"]
        if kind in NOT_READ:
            continue
        for version in doc["spec"]["versions"]:
            node = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
            for spec in MINIMAL[kind]:
                full = defaulted(node, spec)
                api_version = f"{group}/{version['name']}"
                obj = BY_NAME[kind].model.model_validate(
                    {"apiVersion": api_version, "kind": kind, "metadata": {"name": "a"},
                     "spec": full}
                )
                assert obj is not None
                assert refusals(kind, api_version, full, "default") == (), (file, full)
                seen += 1
    assert seen >= 3 * 8


EXPORTED = """\
apiVersion: source.toolkit.fluxcd.io/v1beta2
kind: GitRepository
metadata: {name: app, namespace: flux-system}
spec:
  gitImplementation: go-git
  interval: 1m0s
  ref: {branch: main}
  timeout: 60s
  url: ssh://git@github.com/org/app
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: app, namespace: flux-system}
spec:
  exclusionList: ['^.*\\\\.sig$']
  image: ghcr.io/org/app
  interval: 5m0s
  provider: generic
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: app, namespace: flux-system}
spec:
  digestReflectionPolicy: Never
  imageRepositoryRef: {name: app, namespace: flux-system}
  policy:
    semver: {range: '>=1.0.0'}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {name: app, namespace: flux-system}
spec:
  git:
    checkout: {ref: {branch: main}}
    commit:
      author: {email: fluxcdbot@users.noreply.github.com, name: fluxcdbot}
      signingKey: {secretRef: {name: key}, type: gpg}
    push: {branch: main}
  interval: 30m0s
  sourceRef: {kind: GitRepository, name: app}
  update: {path: ./clusters/my-cluster, strategy: Setters}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: app, namespace: flux-system}
spec:
  deletionPolicy: Orphan
  force: false
  ignoreMissingComponents: false
  interval: 10m0s
  path: ./deploy
  postBuild: {substituteStrategy: WithVariables, substitute: {a: b}}
  prune: true
  sourceRef: {kind: GitRepository, name: app}
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: app, namespace: flux-system}
spec:
  interval: 10m0s
  resources:
  - {apiVersion: source.toolkit.fluxcd.io/v1, kind: GitRepository, name: app}
  secretRef: {name: token}
  type: github
"""


def test_flux_export_output_with_the_defaults_conveyor_behaves_as_is_accepted() -> None:
    objects = parse_manifests(EXPORTED)
    assert len(objects) == 6
    assert {o.kind: o.unsupported for o in objects} == {o.kind: () for o in objects}


IGNORED_BY_FLUX = """\
apiVersion: source.toolkit.fluxcd.io/v1beta2
kind: GitRepository
metadata: {name: app, namespace: flux-system}
spec:
  url: https://example.com/app.git
  interval: 1m
  gitImplementation: libgit2
  accessFrom:
    namespaceSelectors: [{matchLabels: {team: a}}]
---
apiVersion: kustomize.toolkit.fluxcd.io/v1beta2
kind: Kustomization
metadata: {name: app, namespace: flux-system}
spec:
  interval: 1m
  sourceRef: {kind: GitRepository, name: app}
  validation: client
"""


def test_fields_flux_ignores_are_accepted() -> None:
    """Fields Flux's controllers do not act on (2.x reads these kinds as v1, which has none of
    them: ``gitImplementation`` is deprecated, ``accessFrom`` provisional and never
    implemented, ``validation`` unused since v1beta2): accepted, and the object conveyor works
    with is the one it would be without them."""
    docs = list(yaml.safe_load_all(IGNORED_BY_FLUX))
    for doc, obj in zip(docs, parse_manifests(IGNORED_BY_FLUX), strict=True):
        assert obj.unsupported == (), obj.kind
        spec = {k: v for k, v in doc["spec"].items()
                if k not in ("gitImplementation", "accessFrom", "validation")}
        assert len(spec) < len(doc["spec"])
        plain = one(yaml.safe_dump({**doc, "spec": spec}))
        assert obj.spec == plain.spec and obj.spec_hash() == plain.spec_hash(), obj.kind


def test_a_receiver_reads_its_secret_at_each_delivery(redis_url: str) -> None:
    """A Receiver's ``interval`` (how often Flux re-reads its Secret) has nothing to wait
    for: a changed token counts from the next delivery on."""
    store = Store.from_url(redis_url)
    secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: token, namespace: flux-system}\n"
    for obj in parse_manifests(
        secret + "stringData: {token: first-token-0123}\n---\n"
        "apiVersion: notification.toolkit.fluxcd.io/v1\nkind: Receiver\n"
        "metadata: {name: hook, namespace: flux-system}\n"
        "spec:\n  type: generic\n  interval: 1h\n  secretRef: {name: token}\n"
        "  resources: [{kind: GitRepository, name: app}]\n---\n"
        + git_repository("app", "/nowhere")
    ):
        store.put_object(obj)
    http = TestClient(create_app(Context(store, InlineDispatcher())))
    assert http.post(webhook_path("first-token-0123", "hook", "flux-system")).status_code == 200
    store.put_object(one(secret + "stringData: {token: second-token-0123}\n"))
    assert http.post(webhook_path("first-token-0123", "hook", "flux-system")).status_code == 404
    assert http.post(webhook_path("second-token-0123", "hook", "flux-system")).status_code == 200


# Flux's documented examples: every ```yaml block of docs/spec/v1 of each controller whose kind
# conveyor reads: tests/fixtures/flux_doc_examples.yaml (with where each comes from).
DOC_EXAMPLES = Path(__file__).parent / "fixtures" / "flux_doc_examples.yaml"


def test_flux_documented_examples_are_accepted_or_refused_by_name() -> None:
    """Never "not a field" (each example's fields are Flux's); where conveyor refuses one, it
    is a field the table marks unsupported (or a value it does not take), named. Many are
    fragments of an object (no interval, a placeholder name): their fields are what counts."""
    accepted = refused = 0
    for doc in yaml.safe_load_all(DOC_EXAMPLES.read_text()):
        kind, api_version, spec = doc["kind"], doc["apiVersion"], doc["spec"]
        namespace = (doc.get("metadata") or {}).get("namespace", "default")
        found = refusals(kind, api_version, spec, namespace)
        assert not [r for r in found if "is not a field" in r], doc
        for text in found:
            field = FIELDS[kind][_schema_path(text.split(" ")[0].rstrip(":"))]
            assert not field.implemented or field.values, (text, doc)
        if found:
            refused += 1
        else:
            accepted += 1
    assert accepted >= 50 and refused >= 10, (accepted, refused)


def _schema_path(path: str) -> str:
    """``spec.a[0].b`` as the table spells it: ``spec.a[].b``."""
    return re.sub(r"\[\d+\]", "[]", path)


# --- the real path: Stalled, named, and the others run ---------------------------------------


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    bare = tmp_path / "app.git"
    _git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    work = tmp_path / "work"
    _git("clone", "-q", str(bare), str(work), cwd=tmp_path)
    (work / "deploy").mkdir()
    (work / "deploy" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: apps}\ndata: {k: v}\n"
    )
    _git("add", "-A", cwd=work)
    _git("-c", "user.name=d", "-c", "user.email=d@e", "commit", "-qm", "init", cwd=work)
    _git("push", "-q", "origin", "main", cwd=work)
    return bare


def reconcile(store: Store, ctx: Context, kind: str, namespace: str, name: str) -> Status:
    stage = load_stage(BY_NAME[kind].service or "")
    event = ReconcileRequested(kind=kind, namespace=namespace, name=name)
    handle(stage, event.to_message(), ctx)
    status: Status = store.get_status(f"{kind}/{namespace}/{name}", BY_NAME[kind].status)
    return status


def git_repository(name: str, url: str, extra: str = "") -> str:
    return (
        f"apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        f"metadata: {{name: {name}, namespace: flux-system}}\n"
        f"spec:\n  url: {url}\n  interval: 1m\n  ref: {{branch: main}}\n{extra}"
    )


def test_a_refused_object_is_stalled_and_its_sibling_is_reconciled(
    remote: Path, redis_url: str, tmp_path: Path
) -> None:
    store = Store.from_url(redis_url)
    ctx = Context(store, InlineDispatcher(), Settings(data_dir=tmp_path / "data"))
    refused = git_repository(
        "refused", remote.as_uri(), "  proxySecretRef: {name: proxy}\n"
        "  serviceAccountName: sa\n"
    )
    store.put_object(one(refused))
    store.put_object(one(git_repository("plain", remote.as_uri())))
    status = reconcile(store, ctx, "GitRepository", "flux-system", "refused")
    ready, stalled = status.ready, status.condition("Stalled")
    assert ready is not None and ready.status == "False" and ready.reason == "UnsupportedField"
    assert ready.message == (
        "spec.proxySecretRef is not supported by conveyor; "
        "spec.serviceAccountName is not supported by conveyor"
    )
    assert stalled is not None and stalled.status == "True"
    assert stalled.reason == "UnsupportedField"
    assert isinstance(status, GitRepositoryStatus) and status.artifact is None
    assert store.get_artifact("GitRepository/flux-system/refused") is None
    plain = reconcile(store, ctx, "GitRepository", "flux-system", "plain")
    assert isinstance(plain, GitRepositoryStatus)
    assert plain.ready is not None and plain.ready.status == "True", plain.ready
    assert plain.artifact is not None

    # not tried again at that generation; without the fields, a new generation, reconciled
    again = reconcile(store, ctx, "GitRepository", "flux-system", "refused")
    assert again.ready == ready
    store.put_object(one(git_repository("refused", remote.as_uri())))
    fixed = reconcile(store, ctx, "GitRepository", "flux-system", "refused")
    assert fixed.ready is not None and fixed.ready.status == "True", fixed.ready
    assert fixed.condition("Stalled") is None and fixed.observed_generation == 2


def test_a_refused_receiver_serves_no_webhook_and_the_others_do(redis_url: str) -> None:
    token = "webhook-token-0123456789"
    store = Store.from_url(redis_url)
    text = (
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: token, namespace: flux-system}}\n"
        f"stringData: {{token: {token}}}\n"
    )
    for name, extra in (("refused", "  oidcProviders: [{issuerURL: https://x}]\n"), ("ok", "")):
        text += (
            "---\napiVersion: notification.toolkit.fluxcd.io/v1\nkind: Receiver\n"
            f"metadata: {{name: {name}, namespace: flux-system}}\n"
            "spec:\n  type: generic\n  secretRef: {name: token}\n"
            f"  resources: [{{kind: GitRepository, name: app}}]\n{extra}"
        )
    for obj in parse_manifests(text + "---\n" + git_repository("app", "/nowhere")):
        store.put_object(obj)
    ctx = Context(store, InlineDispatcher())
    refresh_receivers(ctx)
    status = store.get_status("Receiver/flux-system/refused")
    ready, stalled = status.ready, status.condition("Stalled")
    assert ready is not None and ready.reason == "UnsupportedField"
    assert ready.message == "spec.oidcProviders is not supported by conveyor"
    assert stalled is not None and stalled.status == "True"
    ok = store.get_status("Receiver/flux-system/ok").ready
    assert ok is not None and ok.status == "True"
    http = TestClient(create_app(ctx))
    refused = http.post(webhook_path(token, "refused", "flux-system"), content=b"{}")
    assert refused.status_code == 404
    answer = http.post(webhook_path(token, "ok", "flux-system"), content=b"{}")
    assert answer.status_code == 200 and answer.json()["accepted"] == [
        "GitRepository/flux-system/app"
    ]


def test_diff_refuses_a_kustomization_with_an_unsupported_field(
    redis_url: str, tmp_path: Path
) -> None:
    manifests = tmp_path / "flux"
    manifests.mkdir()
    (manifests / "ks.yaml").write_text(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: app, namespace: flux-system}\n"
        "spec:\n  interval: 1m\n  sourceRef: {kind: GitRepository, name: app}\n"
        "  decryption: {provider: sops}\n"
    )
    out, err = io.StringIO(), io.StringIO()
    settings = Settings(data_dir=tmp_path / "data", redis_url=redis_url)
    code = diff(settings, ManifestSource(manifests), "flux-system", "app", out, err)
    assert code == 2
    assert out.getvalue() == "✗ spec.decryption is not supported by conveyor\n", out.getvalue()


# --- fields whose other tests show only the mechanism ----------------------------------------


def test_suspend_stops_every_queued_kind(redis_url: str, tmp_path: Path) -> None:
    """``suspend: true``: the object is not reconciled (no status at all); false: it is."""
    store = Store.from_url(redis_url)
    ctx = Context(store, InlineDispatcher(), Settings(data_dir=tmp_path))
    objects = {
        "GitRepository": git_repository("x", "/nowhere"),
        "ImageRepository": "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\n"
        "metadata: {name: x, namespace: flux-system}\n"
        "spec:\n  image: 'bad image'\n  interval: 1m\n",
        "ImagePolicy": "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\n"
        "metadata: {name: x, namespace: flux-system}\n"
        "spec:\n  imageRepositoryRef: {name: none}\n  policy: {numerical: {}}\n",
        "ImageUpdateAutomation": "apiVersion: image.toolkit.fluxcd.io/v1\n"
        "kind: ImageUpdateAutomation\nmetadata: {name: x, namespace: flux-system}\n"
        "spec:\n  interval: 1m\n  sourceRef: {kind: GitRepository, name: none}\n"
        "  git: {commit: {author: {email: a@b}}}\n",
    }
    for kind, text in objects.items():
        store.put_object(one(text.rstrip("\n") + "\n  suspend: true\n"))
        assert reconcile(store, ctx, kind, "flux-system", "x").conditions == [], kind
        store.put_object(one(text.rstrip("\n") + "\n  suspend: false\n"))
        status = reconcile(store, ctx, kind, "flux-system", "x")
        assert status.ready is not None and status.ready.status == "False", kind


def test_a_suspended_receiver_answers_503(redis_url: str) -> None:
    token = "webhook-token-0123456789"
    store = Store.from_url(redis_url)
    for obj in parse_manifests(
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: token, namespace: flux-system}}\n"
        f"stringData: {{token: {token}}}\n---\n"
        "apiVersion: notification.toolkit.fluxcd.io/v1\nkind: Receiver\n"
        "metadata: {name: paused, namespace: flux-system}\n"
        "spec:\n  type: generic\n  suspend: true\n  secretRef: {name: token}\n"
        "  resources: [{kind: GitRepository, name: app}]\n"
    ):
        store.put_object(obj)
    dispatcher = InlineDispatcher()
    http = TestClient(create_app(Context(store, dispatcher)))
    answer = http.post(webhook_path(token, "paused", "flux-system"), content=b"{}")
    assert answer.status_code == 503 and not dispatcher.queue


def test_registry_options_come_from_the_image_repository(redis_url: str, tmp_path: Path) -> None:
    store = Store.from_url(redis_url)
    config = json.dumps(
        {"auths": {"registry.example:5000": {"auth": base64.b64encode(b"u:pw").decode()}}}
    )
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: pull, namespace: apps}\n"
        "type: kubernetes.io/dockerconfigjson\n"
        f"stringData: {{.dockerconfigjson: '{config}'}}\n---\n"
        "apiVersion: v1\nkind: Secret\nmetadata: {name: tls, namespace: apps}\n"
        "stringData: {ca.crt: the-ca, tls.crt: the-cert, tls.key: the-key}\n---\n"
        "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\n"
        "metadata: {name: app, namespace: apps}\n"
        "spec:\n  image: registry.example:5000/app\n  interval: 1m\n  timeout: 15s\n"
        "  insecure: true\n  secretRef: {name: pull}\n  certSecretRef: {name: tls}\n"
    )
    for obj in parse_manifests(text):
        store.put_object(obj)
    repo = store.get_object("ImageRepository/apps/app", ImageRepository)
    assert repo is not None and repo.unsupported == ()
    ctx = Context(store, InlineDispatcher(), Settings(data_dir=tmp_path))
    options = registry_options(repo, parse_image(repo.spec.image), ctx)
    assert options.credentials is not None
    assert (options.credentials.username, options.credentials.password) == ("u", "pw")
    assert (options.ca_pem, options.client_cert_pem, options.client_key_pem) == (
        b"the-ca", b"the-cert", b"the-key"
    )
    assert options.insecure and options.timeout == 15.0


def test_policy_selector_expressions() -> None:
    obj = one(
        "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageUpdateAutomation\n"
        "metadata: {name: a, namespace: ns}\n"
        "spec:\n  interval: 1m\n  sourceRef: {kind: GitRepository, name: s}\n"
        "  git: {commit: {author: {email: a@b}}}\n"
        "  policySelector:\n    matchExpressions:\n"
        "      - {key: team, operator: In, values: [a, b]}\n"
        "      - {key: tier, operator: NotIn, values: [test]}\n"
        "      - {key: app, operator: Exists}\n"
        "      - {key: legacy, operator: DoesNotExist}\n"
    )
    assert isinstance(obj, ImageUpdateAutomation) and obj.unsupported == ()
    selector = obj.spec.policy_selector
    assert selector is not None
    assert selector.matches({"team": "a", "app": "x"})
    assert selector.matches({"team": "b", "app": "x", "tier": "prod"})
    assert not selector.matches({"team": "c", "app": "x"})  # In
    assert not selector.matches({"team": "a", "app": "x", "tier": "test"})  # NotIn
    assert not selector.matches({"team": "a"})  # Exists
    assert not selector.matches({"team": "a", "app": "x", "legacy": ""})  # DoesNotExist


def test_kustomization_images_as_flux_writes_them(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "d.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
        "spec:\n  selector: {matchLabels: {app: web}}\n  template:\n"
        "    metadata: {labels: {app: web}}\n    spec:\n      containers:\n"
        "        - {name: a, image: nginx}\n        - {name: b, image: redis:6}\n"
    )
    digest = "sha256:" + "a" * 64
    obj = one(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: app, namespace: ns}\n"
        "spec:\n  interval: 1m\n  sourceRef: {kind: GitRepository, name: s}\n  path: ./app\n"
        "  images:\n    - {name: nginx, newName: registry.example/nginx, newTag: '1.27'}\n"
        f"    - {{name: redis, newName: mirror.example/redis, digest: '{digest}'}}\n"
    )
    assert isinstance(obj, Kustomization) and obj.unsupported == ()
    [dep] = build.build(tmp_path, obj.spec, "Kustomization ns/app")
    images = [c["image"] for c in dep["spec"]["template"]["spec"]["containers"]]
    assert images == ["registry.example/nginx:1.27", f"mirror.example/redis@{digest}"]


def test_kubeconfig_secret_ref_key(redis_url: str, tmp_path: Path) -> None:
    store = Store.from_url(redis_url)
    kubeconfig = "apiVersion: v1\nkind: Config\nclusters: []\n"
    for obj in parse_manifests(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: remote, namespace: ns}\n"
        f"stringData: {{value: not-this, prod.yaml: {json.dumps(kubeconfig)}}}\n---\n"
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: app, namespace: ns}\n"
        "spec:\n  interval: 1m\n  sourceRef: {kind: GitRepository, name: s}\n"
        "  kubeConfig: {secretRef: {name: remote, key: prod.yaml}}\n"
    ):
        store.put_object(obj)
    ks = store.get_object("Kustomization/ns/app", Kustomization)
    assert ks is not None and ks.unsupported == ()
    target = cluster_target(ks, Context(store, InlineDispatcher(), Settings(data_dir=tmp_path)))
    assert target is not None and target.kubeconfig_data == kubeconfig


def test_cross_namespace_references(redis_url: str, tmp_path: Path) -> None:
    """A Kustomization reads its source and its dependencies in the namespaces they name (the
    source's ``apiVersion`` naming nothing more than its kind does); a Receiver wakes an object
    of the namespace it names; a source of a kind conveyor does not fetch is refused by name."""
    store = Store.from_url(redis_url)
    text = (
        git_repository("app", "/nowhere") + "---\n"
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: base, namespace: infra}\n"
        "spec: {interval: 1m, sourceRef: {kind: GitRepository, name: app, "
        "namespace: flux-system}}\n---\n"
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: web, namespace: apps}\n"
        "spec:\n  interval: 1m\n  path: ./deploy\n"
        "  sourceRef: {apiVersion: source.toolkit.fluxcd.io/v1, kind: GitRepository, "
        "name: app, namespace: flux-system}\n"
        "  dependsOn: [{name: base, namespace: infra}]\n---\n"
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: oci, namespace: apps}\n"
        "spec: {interval: 1m, sourceRef: {kind: OCIRepository, name: app}}\n"
    )
    for obj in parse_manifests(text):
        store.put_object(obj)
    source = "GitRepository/flux-system/app"
    store.put_artifact(source, b"not read before the dependencies")
    store.put_status(
        source, GitRepositoryStatus(artifact=Artifact(revision="main@sha1:" + "1" * 40,
                                                      digest="sha256:" + "2" * 64))
    )
    ctx = Context(store, InlineDispatcher(), Settings(data_dir=tmp_path))
    web = reconcile(store, ctx, "Kustomization", "apps", "web")
    assert web.ready is not None and web.ready.reason == "DependencyNotReady"
    assert web.ready.message == "dependency 'infra/base' is not ready"  # source found
    oci = reconcile(store, ctx, "Kustomization", "apps", "oci")
    assert oci.ready is not None and oci.ready.reason == "UnsupportedField"
    assert oci.ready.message == (
        "spec.sourceRef.kind: 'OCIRepository' is not supported by conveyor (only 'GitRepository')"
    )

    token = "webhook-token-0123456789"
    for obj in parse_manifests(
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: token, namespace: hooks}}\n"
        f"stringData: {{token: {token}}}\n---\n"
        "apiVersion: notification.toolkit.fluxcd.io/v1\nkind: Receiver\n"
        "metadata: {name: hook, namespace: hooks}\n"
        "spec:\n  type: generic\n  secretRef: {name: token}\n"
        "  resources: [{apiVersion: kustomize.toolkit.fluxcd.io/v1, kind: Kustomization, "
        "name: web, namespace: apps}]\n"
    ):
        store.put_object(obj)
    http = TestClient(create_app(Context(store, InlineDispatcher())))
    answer = http.post(webhook_path(token, "hook", "hooks"), content=b"{}")
    assert answer.status_code == 200 and answer.json()["accepted"] == ["Kustomization/apps/web"]


def test_the_own_namespace_of_a_policy_is_its_metadata_namespace() -> None:
    assert repr(OWN_NAMESPACE) == "the object's own namespace"
    text = (
        "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\n"
        "metadata: {name: p, namespace: apps}\n"
        "spec: {imageRepositoryRef: {name: r, namespace: NS}, policy: {numerical: {}}}\n"
    )
    assert one(text.replace("NS", "apps")).unsupported == ()
    assert one(text.replace("NS", "flux-system")).unsupported == (
        "spec.imageRepositoryRef.namespace: 'flux-system' is not supported by conveyor "
        "(only the object's own namespace)",
    )
    no_namespace = text.replace(", namespace: apps}", "}").replace("NS", "default")
    assert one(no_namespace).unsupported == ()  # a manifest without one is in "default"
