"""The reference walk (conveyor.shared.secretrefs) against Flux's CRDs, each kind's
documented Secret and ConfigMap references found; and the store's sealing of Secrets."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from conveyor.shared.manifests import load_directory
from conveyor.shared.models import Secret, SecretSpec
from conveyor.shared.sealed import SecretKeyError, key_file
from conveyor.shared.secretrefs import (
    PULL_REQUEST_SECRET,
    VERIFY_SECRET,
    only_referenced,
    spec_references,
)
from conveyor.shared.store import Store

CRDS = Path(__file__).parent.parent / "crds" / "flux"

# Flux's documented references to a Secret or ConfigMap, per kind (every version, 2.6 to 2.9)
DOCUMENTED = {
    "GitRepository": {"spec.secretRef", "spec.proxySecretRef", "spec.verify.secretRef"},
    "ImageRepository": {"spec.secretRef", "spec.certSecretRef", "spec.proxySecretRef"},
    "ImagePolicy": set(),
    "ImageUpdateAutomation": {"spec.git.commit.signingKey.secretRef"},
    "Kustomization": {
        "spec.decryption.secretRef",
        "spec.kubeConfig.secretRef",
        "spec.kubeConfig.configMapRef",
        "spec.postBuild.substituteFrom",
    },
    "Receiver": {"spec.secretRef"},
    "Provider": {"spec.secretRef", "spec.certSecretRef", "spec.proxySecretRef"},
    "Alert": set(),
}


def example(schema: dict[str, Any], path: str, found: dict[str, str]) -> Any:
    """A spec filling every object of ``schema`` and naming each ``{name}`` or
    ``substituteFrom`` item after its path (``found``: name -> path)."""
    if schema.get("type") == "array":
        return [example(schema.get("items") or {}, path + "[]", found)]
    props = schema.get("properties")
    if not props:
        return "x" if schema.get("type") == "string" else None
    out: dict[str, Any] = {}
    for field, sub in props.items():
        out[field] = example(sub, f"{path}.{field}", found)
    if "name" in props:
        name = f"n{len(found)}"
        out["name"] = name
        found[name] = path.removesuffix("[]")
        if "kind" in props:
            out["kind"] = "Secret"
    return out


@pytest.mark.parametrize(
    "crd", sorted(CRDS.glob("*/*.yaml")), ids=lambda p: f"{p.parent.name}-{p.stem}"
)
def test_the_walk_finds_exactly_the_documented_references(crd: Path) -> None:
    doc = yaml.safe_load(crd.read_text())
    kind = doc["spec"]["names"]["kind"]
    for version in doc["spec"]["versions"]:
        spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
        names: dict[str, str] = {}  # every {name} in the spec, sourceRef and the like too
        filled = example(spec, "spec", names)
        got = {key.rsplit("/", 1)[1] for key in spec_references(filled, "ns")}
        paths = {names[n] for n in got}
        assert paths <= DOCUMENTED[kind], (version["name"], paths)
        # every documented reference this version has is found
        present = {p for p in names.values() if p in DOCUMENTED[kind]}
        assert paths == present, (version["name"], present - paths)
        assert all(k.split("/")[1] == "ns" for k in spec_references(filled, "ns"))


def test_only_referenced_secrets_and_configmaps_are_kept(tmp_path: Path) -> None:
    (tmp_path / "all.yaml").write_text(
        """
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: repo, namespace: a}
spec:
  url: https://example.com/r.git
  interval: 1m
  secretRef: {name: git-auth}
  verify: {mode: HEAD, secretRef: {name: gpg-keys}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: img, namespace: b}
spec: {image: example.com/app, interval: 1m, secretRef: {name: pull}, certSecretRef: {name: ca}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: app, namespace: a}
spec:
  interval: 1m
  prune: true
  sourceRef: {kind: GitRepository, name: repo}
  postBuild:
    substituteFrom:
      - {kind: ConfigMap, name: vars}
      - {kind: Secret, name: secret-vars, optional: true}
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: hook, namespace: a}
spec:
  type: generic
  secretRef: {name: token}
  resources: [{kind: GitRepository, name: repo}]
"""
        + "".join(
            f"---\napiVersion: v1\nkind: {kind}\nmetadata: {{name: {name}, namespace: {ns}}}\n"
            for kind, ns, name in [
                ("Secret", "a", "git-auth"),
                ("Secret", "a", "gpg-keys"),
                ("Secret", "b", "pull"),
                ("Secret", "b", "ca"),
                ("ConfigMap", "a", "vars"),
                ("Secret", "a", "secret-vars"),
                ("Secret", "a", "token"),
                ("Secret", "a", "unused"),
                ("Secret", "b", "git-auth"),
                ("ConfigMap", "a", "other"),
            ]
        )
    )
    result = load_directory(tmp_path)
    assert not result.errors, result.errors
    kept = {o.key for o in only_referenced(result.objects) if o.kind in ("Secret", "ConfigMap")}
    assert kept == {
        "Secret/a/git-auth",
        "Secret/a/gpg-keys",
        "Secret/b/pull",
        "Secret/b/ca",
        "ConfigMap/a/vars",
        "Secret/a/secret-vars",
        "Secret/a/token",
    }



def test_a_secret_named_by_an_annotation_is_kept(tmp_path: Path) -> None:
    """conveyor's pull-request token and an ImagePolicy's verification keys (annotations: a
    spec field would be pruned by Flux's CRD) reach the store by the same walk; a value that is
    no name, or a Secret of another namespace, does not."""
    (tmp_path / "all.yaml").write_text(
        f"""
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata:
  name: auto
  namespace: a
  annotations: {{{PULL_REQUEST_SECRET}: forge-token}}
spec:
  interval: 1m
  sourceRef: {{kind: GitRepository, name: repo}}
  git: {{commit: {{author: {{name: bot, email: bot@example.com}}}}}}
  update: {{path: ./}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata:
  name: odd
  namespace: a
  annotations: {{{PULL_REQUEST_SECRET}: "../Not A Name"}}
spec:
  interval: 1m
  sourceRef: {{kind: GitRepository, name: repo}}
  git: {{commit: {{author: {{name: bot, email: bot@example.com}}}}}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: app
  namespace: a
  annotations: {{{VERIFY_SECRET}: cosign-keys}}
spec:
  imageRepositoryRef: {{name: app}}
  policy: {{semver: {{range: ">=1.0.0"}}}}
"""
        + "".join(
            f"---\napiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {ns}}}\n"
            for ns, name in [
                ("a", "forge-token"), ("b", "forge-token"), ("a", "other"), ("a", "cosign-keys"),
                ("b", "cosign-keys"),
            ]
        )
    )
    result = load_directory(tmp_path)
    assert not result.errors, result.errors
    kept = {o.key for o in only_referenced(result.objects) if o.kind == "Secret"}
    assert kept == {"Secret/a/forge-token", "Secret/a/cosign-keys"}


KEY = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8w="
OTHER = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="


def secret() -> Secret:
    return Secret.model_validate(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s", "namespace": "ns"},
            "spec": SecretSpec(data={"password": b"hunter2-but-longer"}),
        }
    )


def test_the_store_seals_secrets_and_a_wrong_or_missing_key_says_so(redis_url: str) -> None:
    store = Store.from_url(redis_url, secret_key=KEY)
    store.put_object(secret())
    raw = cast(bytes, store.redis.hget("conveyor:obj:Secret/ns/s", "json") or b"")
    assert raw.startswith(b"sealed:v1:") and b"hunter2" not in raw
    assert b"aHVudGVyMi" not in raw  # nor in base64
    opened = store.get_object("Secret/ns/s", Secret)
    assert opened is not None and opened.spec.text("password") == "hunter2-but-longer"
    assert [s.key for s in store.list_objects(Secret)] == ["Secret/ns/s"]
    with pytest.raises(SecretKeyError, match="CONVEYOR_SECRET_KEY"):
        Store.from_url(redis_url, secret_key=OTHER).get_object("Secret/ns/s")
    with pytest.raises(SecretKeyError, match="set CONVEYOR_SECRET_KEY"):
        Store.from_url(redis_url).list_objects(Secret)
    with pytest.raises(SecretKeyError, match="CONVEYOR_SECRET_KEY must be 32"):
        Store.from_url(redis_url, secret_key="short")
    # the same Secret again: nothing rewritten (its keyed digest unchanged)
    store.put_object(secret())
    assert store.redis.hget("conveyor:obj:Secret/ns/s", "json") == raw


def test_the_key_file_is_made_once_private(tmp_path: Path) -> None:
    first = key_file(tmp_path / "data")
    assert key_file(tmp_path / "data") == first
    path = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["secret.key"]
