"""Which Secrets and ConfigMaps the Flux objects reference: the only ones a source stores.

One walk of a spec (in Flux's field names) finds every reference Flux's CRDs (2.6 to 2.9)
have, all of them to an object in the referring object's own namespace:

- a field named ``secretRef`` or ending in ``SecretRef`` (``certSecretRef``,
  ``proxySecretRef``) holding ``{name}``: a Secret. That is a GitRepository's ``secretRef``,
  ``proxySecretRef`` and ``verify.secretRef``; an ImageRepository's ``secretRef``,
  ``certSecretRef`` and ``proxySecretRef``; an automation's
  ``git.commit.signingKey.secretRef``; a Kustomization's ``decryption.secretRef`` and
  ``kubeConfig.secretRef``; a Receiver's ``secretRef``; a Provider's ``secretRef``,
  ``certSecretRef`` and ``proxySecretRef``;
- a field named ``configMapRef`` holding ``{name}``: a ConfigMap (a Kustomization's
  ``kubeConfig.configMapRef``);
- ``substituteFrom``: a list of ``{kind: Secret|ConfigMap, name}`` (a Kustomization's
  ``postBuild.substituteFrom``).

No other field of those CRDs has such a name, and none of them holds free-form objects, so the
walk is exact (``tests/test_secretrefs.py`` checks it against the CRDs).

conveyor's own settings that name a Secret are annotations (a field Flux's CRD schemas do not
have would be pruned in a cluster): ``SECRET_ANNOTATIONS``, read by the same walk of an object.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from conveyor.shared.models import ConfigMap, FluxObject, Secret, object_key

VALUE_KINDS = ("Secret", "ConfigMap")

# Annotations naming a Secret of the object's namespace: an ImageUpdateAutomation's pull-request
# token (conveyor.services.git_committer.pullrequest), its approvers' tokens and its Slack app's
# signing secret (conveyor.shared.approvals); an ImagePolicy's keys or trusted root for signature
# verification (conveyor.services.policy_evaluator.verify).
PULL_REQUEST_SECRET = "conveyor.dev/pull-request-secret"
APPROVERS_SECRET = "conveyor.dev/approvers-secret"
SLACK_SIGNING_SECRET = "conveyor.dev/slack-signing-secret"
VERIFY_SECRET = "conveyor.dev/verify-secret"
SECRET_ANNOTATIONS = (PULL_REQUEST_SECRET, APPROVERS_SECRET, SLACK_SIGNING_SECRET, VERIFY_SECRET)
_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")


def spec_references(spec: Any, namespace: str) -> set[str]:
    """The keys (``Secret/<ns>/<name>``, ``ConfigMap/<ns>/<name>``) that ``spec`` (a spec in
    Flux's field names, as parsed JSON) references."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        for field, value in node.items():
            kind = _kind_of(str(field))
            if kind is not None and isinstance(value, dict):
                name = value.get("name")
                if isinstance(name, str) and name:
                    found.add(object_key(kind, namespace, name))
            elif field == "substituteFrom" and isinstance(value, list):
                for item in value:
                    if isinstance(item, dict) and item.get("kind") in VALUE_KINDS:
                        name = item.get("name")
                        if isinstance(name, str) and name:
                            found.add(object_key(str(item["kind"]), namespace, name))
            else:
                walk(value)

    walk(spec)
    return found


def _kind_of(field: str) -> str | None:
    if field == "secretRef" or field.endswith("SecretRef"):
        return "Secret"
    if field == "configMapRef":
        return "ConfigMap"
    return None


def annotation_references(annotations: Mapping[str, str], namespace: str) -> set[str]:
    """The keys of the Secrets that ``annotations`` (``SECRET_ANNOTATIONS``) name; a value
    that is no object name names nothing (its reader refuses it)."""
    return {
        object_key("Secret", namespace, value)
        for field in SECRET_ANNOTATIONS
        if isinstance(value := annotations.get(field), str) and _NAME.fullmatch(value)
    }


def referenced(objects: Iterable[FluxObject]) -> set[str]:
    """The keys of the Secrets and ConfigMaps that the Flux objects among ``objects``
    reference."""
    keys: set[str] = set()
    for obj in objects:
        if isinstance(obj, Secret | ConfigMap):
            continue
        keys |= spec_references(obj.spec.model_dump(mode="json", by_alias=True), obj.namespace)
        keys |= annotation_references(obj.metadata.annotations, obj.namespace)
    return keys


def only_referenced(objects: list[FluxObject]) -> list[FluxObject]:
    """``objects`` without the Secrets and ConfigMaps no Flux object among them references:
    those never reach the store."""
    wanted = referenced(objects)
    return [o for o in objects if not isinstance(o, Secret | ConfigMap) or o.key in wanted]
