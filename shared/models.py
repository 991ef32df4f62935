"""The spec of every kind, and one object class per kind whose ``spec`` is that spec.

Specs keep Flux's camelCase names on the wire (``by_alias``) and snake_case in Python. What is
known of each kind beside its model (group, versions, status, owning service) is in the one
table of ``conveyor.shared.kinds``; parsing manifests into these objects is
``conveyor.shared.manifests``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

RECONCILE_REQUEST = "reconcile.fluxcd.io/requestedAt"  # Flux's meta.ReconcileRequestAnnotation

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: str | int | float) -> float:
    """Seconds in a Go duration string (``30s``, ``1m30s``, ``1h``, ``500ms``)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    if text == "0":
        return 0.0
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"invalid duration {text!r} (expected a Go duration such as 30s, 5m, 1h)")
    return total


Duration = Annotated[float, BeforeValidator(parse_duration)]


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        frozen=True,
        defer_build=True,  # a model is built when first used: a worker builds only its own
    )

    def wire(self) -> dict[str, Any]:
        """The object in Flux's field names, without unset optional fields."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class Spec(_Model):
    """The spec of any kind (a v1 Secret's or ConfigMap's data too)."""


class ReconciledSpec(Spec):
    """The spec of a kind that a stage reconciles: an interval and ``suspend``."""

    interval: Duration | None = None
    suspend: bool = False

    def retry_after(self) -> float | None:
        """How long to wait at most before retrying a failed reconcile (Flux: the interval)."""
        return self.interval


# --- references and metadata -------------------------------------------------------------


class LocalRef(_Model):
    name: str


class NamespacedRef(_Model):
    name: str
    namespace: str | None = None


class CrossNamespaceRef(_Model):
    kind: str
    name: str
    namespace: str | None = None
    api_version: str | None = None


class ObjectMeta(_Model):
    name: Annotated[str, Field(min_length=1, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]
    namespace: str = "default"
    generation: int = 1
    uid: str = ""  # a cluster's object's (its events name it); "" from a manifest
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    @property
    def reconcile_request(self) -> str | None:
        """The token of Flux's ``reconcile.fluxcd.io/requestedAt`` annotation (what ``flux
        reconcile`` sets): a new value asks for a reconcile, answered in the status's
        ``lastHandledReconcileAt``."""
        return self.annotations.get(RECONCILE_REQUEST)


# --- GitRepository (source.toolkit.fluxcd.io) --------------------------------------------


class GitRef(_Model):
    branch: str | None = None
    tag: str | None = None
    semver: str | None = None
    name: str | None = None
    commit: str | None = None


class GitRepositoryInclude(_Model):
    """Another GitRepository's artifact (or its ``from_path``) put at ``to_path`` (default: its
    name) of this one's."""

    repository: LocalRef
    from_path: str = ""
    to_path: str = ""


class GitRepositoryVerification(_Model):
    mode: Literal["head", "HEAD", "Tag", "TagAndHEAD"] = "HEAD"  # "head": v1beta2's HEAD
    secret_ref: LocalRef


class GitRepositorySpec(ReconciledSpec):
    url: Annotated[str, Field(min_length=1)]
    interval: Duration
    ref: GitRef = GitRef(branch="master")
    secret_ref: LocalRef | None = None
    timeout: Duration = 60.0
    suspend: bool = False
    ignore: str | None = None
    include: list[GitRepositoryInclude] = Field(default_factory=list)
    recurse_submodules: bool = False
    sparse_checkout: list[str] | None = None
    verify: GitRepositoryVerification | None = None


# --- ImageRepository / ImagePolicy (image.toolkit.fluxcd.io) -----------------------------


class ImageRepositorySpec(ReconciledSpec):
    image: Annotated[str, Field(min_length=1)]
    interval: Duration
    secret_ref: LocalRef | None = None
    cert_secret_ref: LocalRef | None = None
    service_account_name: str | None = None
    insecure: bool = False
    timeout: Duration | None = None
    exclusion_list: list[str] = Field(default_factory=lambda: [r"^.*\.sig$"])
    suspend: bool = False


class TagFilter(_Model):
    pattern: str = ""
    extract: str = ""


class SemVerPolicy(_Model):
    range: Annotated[str, Field(min_length=1)]


class OrderPolicy(_Model):
    order: Literal["asc", "desc"] = "asc"


class PolicyChoice(_Model):
    semver: SemVerPolicy | None = None
    numerical: OrderPolicy | None = None
    alphabetical: OrderPolicy | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> PolicyChoice:
        chosen = [k for k in ("semver", "numerical", "alphabetical") if getattr(self, k)]
        if len(chosen) != 1:
            raise ValueError(
                "exactly one of semver, numerical, alphabetical is required"
                + (f" (got {', '.join(chosen)})" if chosen else "")
            )
        return self


# Conveyor-only annotations of an ImagePolicy (never spec fields: Flux's CRD would prune them),
# read by the policy-evaluator (services/policy_evaluator/builds.py): ``build-time`` orders the
# candidates by their images' creation time, for the platform of the second.
ORDER_BY = "conveyor.dev/order-by"
BUILD_PLATFORM = "conveyor.dev/build-platform"


class ImagePolicySpec(ReconciledSpec):
    image_repository_ref: NamespacedRef
    policy: PolicyChoice
    filter_tags: TagFilter | None = None
    digest_reflection_policy: Literal["Never", "IfNotPresent", "Always"] = "Never"
    interval: Duration | None = None
    suspend: bool = False


# --- ImageUpdateAutomation ----------------------------------------------------------------


class CommitUser(_Model):
    name: str = ""  # optional in Flux: a commit with an empty author name
    email: str


class SigningKeyRef(_Model):
    secret_ref: LocalRef  # gpg: ``git.asc`` (+ ``passphrase``); ssh: ``identity`` (+ ``password``)
    type: Literal["gpg", "ssh"] | None = None  # None: gpg


class CommitSpec(_Model):
    author: CommitUser
    message_template: str | None = None
    message_template_values: dict[str, str] | None = None  # the template's ``.Values``
    signing_key: SigningKeyRef | None = None


class CheckoutSpec(_Model):
    ref: GitRef


class PushSpec(_Model):
    branch: str | None = None
    refspec: str | None = None
    options: dict[str, str] | None = None  # Git push options (``git push -o key=value``)


class GitAutomationSpec(_Model):
    checkout: CheckoutSpec | None = None
    commit: CommitSpec
    push: PushSpec | None = None


class UpdateStrategy(_Model):
    path: str = "."
    strategy: Literal["Setters"] = "Setters"


class LabelRequirement(_Model):
    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] = Field(default_factory=list)


class LabelSelector(_Model):
    """A Kubernetes label selector (``matchLabels`` and ``matchExpressions``)."""

    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: list[LabelRequirement] = Field(default_factory=list)

    def matches(self, labels: dict[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in self.match_labels.items()):
            return False
        for req in self.match_expressions:
            present = req.key in labels
            ok = {
                "In": present and labels.get(req.key) in req.values,
                "NotIn": not present or labels.get(req.key) not in req.values,
                "Exists": present,
                "DoesNotExist": not present,
            }[req.operator]
            if not ok:
                return False
        return True


class ImageUpdateAutomationSpec(ReconciledSpec):
    source_ref: CrossNamespaceRef
    interval: Duration
    git: GitAutomationSpec | None = None  # required by Flux's reconcile, optional in its CRD
    update: UpdateStrategy = UpdateStrategy()
    policy_selector: LabelSelector | None = None
    suspend: bool = False

    @field_validator("source_ref")
    @classmethod
    def _git_source(cls, ref: CrossNamespaceRef) -> CrossNamespaceRef:
        if ref.kind != "GitRepository":
            raise ValueError(f"kind must be GitRepository, not {ref.kind!r}")
        return ref


# --- Kustomization (kustomize.toolkit.fluxcd.io) ------------------------------------------


class HealthCheckExpressions(_Model):
    """One entry of a Kustomization's ``healthCheckExprs``: CEL expressions for the objects of
    ``apiVersion``'s group (and ``kind``, when set)."""

    api_version: str
    kind: str = ""
    current: str
    in_progress: str = ""
    failed: str = ""


class KustomizationSpec(ReconciledSpec):
    source_ref: CrossNamespaceRef
    interval: Duration
    path: str = "./"
    prune: bool = False
    target_namespace: str | None = None
    name_prefix: str | None = None
    name_suffix: str | None = None
    retry_interval: Duration | None = None
    timeout: Duration | None = None
    wait: bool = False
    force: bool = False
    suspend: bool = False
    service_account_name: str | None = None
    depends_on: list[NamespacedRef] = Field(default_factory=list)
    images: list[dict[str, Any]] = Field(default_factory=list)
    patches: list[dict[str, Any]] = Field(default_factory=list)
    patches_strategic_merge: list[dict[str, Any]] = Field(default_factory=list)  # v1beta2
    patches_json6902: list[dict[str, Any]] = Field(default_factory=list)  # v1beta2
    common_metadata: dict[str, Any] | None = None
    post_build: dict[str, Any] | None = None
    health_checks: list[dict[str, Any]] = Field(default_factory=list)
    health_check_exprs: list[HealthCheckExpressions] = Field(default_factory=list)
    kube_config: dict[str, Any] | None = None
    components: list[str] = Field(default_factory=list)
    ignore_missing_components: bool = False
    deletion_policy: Literal["MirrorPrune", "Delete", "WaitForTermination", "Orphan"] = (
        "MirrorPrune"
    )

    def retry_after(self) -> float | None:
        return self.retry_interval or self.interval


# --- Receiver (notification.toolkit.fluxcd.io) --------------------------------------------


class ReceiverResource(CrossNamespaceRef):
    match_labels: dict[str, str] | None = None  # with ``name: "*"``; {} matches every object
    filter: str | None = None  # CEL, beside the Receiver's ``resourceFilter``


class ReceiverSpec(ReconciledSpec):
    type: Literal[
        "generic", "generic-hmac", "generic-oidc", "github", "gitlab", "bitbucket", "harbor",
        "dockerhub", "quay", "gcr", "nexus", "acr", "cdevents",
    ]
    secret_ref: LocalRef | None = None  # required by every type but generic-oidc
    resources: list[ReceiverResource] = Field(min_length=1)
    events: list[str] = Field(default_factory=list)
    resource_filter: str | None = None  # CEL over ``res`` and ``req``
    interval: Duration | None = None
    suspend: bool = False


class ProviderSpec(ReconciledSpec):
    """Where an Alert's events go (notification.toolkit.fluxcd.io Provider). ``type`` is any of
    Flux's; those conveyor does not deliver to are refused by ``conveyor.shared.fields``."""

    type: Annotated[str, Field(min_length=1)]
    address: str | None = None  # a webhook URL, or the repository of a commit-status type
    channel: str | None = None
    username: str | None = None
    timeout: Duration = 15.0  # Flux's Provider.GetTimeout default
    proxy: str | None = None  # deprecated by Flux for proxySecretRef
    secret_ref: LocalRef | None = None
    cert_secret_ref: LocalRef | None = None
    proxy_secret_ref: LocalRef | None = None
    interval: Duration | None = None  # v1beta2: how often Flux re-read the Secret
    suspend: bool = False


class AlertSource(_Model):
    """One of an Alert's ``eventSources``: the objects whose events it sends."""

    kind: str
    name: Annotated[str, Field(min_length=1)]  # "*": every object of the kind
    namespace: str | None = None  # None: the Alert's own
    api_version: str | None = None  # not matched on, as in Flux
    match_labels: dict[str, str] | None = None  # None: not set; {} matches any labels


class AlertSpec(ReconciledSpec):
    provider_ref: LocalRef
    event_sources: list[AlertSource]
    event_severity: Literal["info", "error"] = "info"
    inclusion_list: list[str] = Field(default_factory=list)  # Go regexps over the message
    exclusion_list: list[str] = Field(default_factory=list)
    event_metadata: dict[str, str] = Field(default_factory=dict)
    summary: str | None = None  # deprecated by Flux for eventMetadata.summary
    suspend: bool = False


# --- v1 Secret ----------------------------------------------------------------------------


def _from_base64(value: Any) -> Any:
    return base64.b64decode(value, validate=True) if isinstance(value, str) else value


# Bytes in Python, base64 in JSON (the store keeps objects as JSON).
Base64Bytes = Annotated[
    bytes,
    BeforeValidator(_from_base64),
    PlainSerializer(lambda value: base64.b64encode(value).decode(), when_used="json"),
]


class SecretSpec(Spec):
    """A v1 Secret has no spec; its data lives here so every object has the same shape."""

    type: str = "Opaque"
    data: dict[str, Base64Bytes] = Field(default_factory=dict, repr=False)

    def text(self, key: str) -> str | None:
        value = self.data.get(key)
        return value.decode() if value is not None else None


class ConfigMapSpec(Spec):
    """A v1 ConfigMap's ``data``: what ``postBuild.substituteFrom`` reads (beside the Secrets)."""

    data: dict[str, str] = Field(default_factory=dict)


# --- the objects ---------------------------------------------------------------------------


class FluxObject(_Model):
    """Any object conveyor reads: kind, apiVersion, metadata, the kind's spec, and where it was
    read. Each kind has its subclass below, whose ``spec`` is typed."""

    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: Spec
    source: str = ""
    # what of the spec as read conveyor refuses (``conveyor.shared.fields``): such an object
    # is stored and reported, never reconciled
    unsupported: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return object_key(self.kind, self.metadata.namespace, self.metadata.name)

    @property
    def namespace(self) -> str:
        return self.metadata.namespace

    @property
    def name(self) -> str:
        return self.metadata.name

    def spec_hash(self) -> str:
        spec: Any = self.spec.model_dump(mode="json")
        if self.unsupported:  # the fields the model drops: a change of them is a spec change
            spec = [spec, self.unsupported]
        body = json.dumps(spec, sort_keys=True, default=str)
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True)

    def object_meta(self) -> dict[str, Any]:
        """The object's metadata as Kubernetes serializes it (a ``PartialObjectMetadata``'s):
        name, namespace, generation, and labels and annotations when there are some."""
        meta: dict[str, Any] = {
            "name": self.name,
            "namespace": self.namespace,
            "generation": self.metadata.generation,
        }
        if self.metadata.uid:
            meta["uid"] = self.metadata.uid
        if self.metadata.labels:
            meta["labels"] = dict(self.metadata.labels)
        if self.metadata.annotations:
            meta["annotations"] = dict(self.metadata.annotations)
        return meta

    def references(self) -> list[str]:
        """The keys of the objects this one reads (its source, repository, dependencies): the
        store keeps the reverse, so an event about one finds the others without a scan."""
        return []

    @classmethod
    def kind_name(cls) -> str:
        """The ``kind`` of this model's objects (its subclass's literal)."""
        name: str = cls.model_fields["kind"].default
        return name


class GitRepository(FluxObject):
    kind: Literal["GitRepository"] = "GitRepository"
    spec: GitRepositorySpec

    def references(self) -> list[str]:
        return [
            object_key("GitRepository", self.namespace, i.repository.name)
            for i in self.spec.include
        ]


class ImageRepository(FluxObject):
    kind: Literal["ImageRepository"] = "ImageRepository"
    spec: ImageRepositorySpec


class ImagePolicy(FluxObject):
    kind: Literal["ImagePolicy"] = "ImagePolicy"
    spec: ImagePolicySpec

    def references(self) -> list[str]:
        ref = self.spec.image_repository_ref
        return [object_key("ImageRepository", ref.namespace or self.namespace, ref.name)]


class ImageUpdateAutomation(FluxObject):
    kind: Literal["ImageUpdateAutomation"] = "ImageUpdateAutomation"
    spec: ImageUpdateAutomationSpec

    def references(self) -> list[str]:
        ref = self.spec.source_ref
        return [object_key("GitRepository", ref.namespace or self.namespace, ref.name)]


class Kustomization(FluxObject):
    kind: Literal["Kustomization"] = "Kustomization"
    spec: KustomizationSpec

    def references(self) -> list[str]:
        ref = self.spec.source_ref
        source = object_key(ref.kind, ref.namespace or self.namespace, ref.name)
        return [
            source,
            *(
                object_key("Kustomization", d.namespace or self.namespace, d.name)
                for d in self.spec.depends_on
            ),
        ]


class Receiver(FluxObject):
    kind: Literal["Receiver"] = "Receiver"
    spec: ReceiverSpec


class Provider(FluxObject):
    kind: Literal["Provider"] = "Provider"
    spec: ProviderSpec


class Alert(FluxObject):
    kind: Literal["Alert"] = "Alert"
    spec: AlertSpec

    def references(self) -> list[str]:
        return [object_key("Provider", self.namespace, self.spec.provider_ref.name)]


class Secret(FluxObject):
    kind: Literal["Secret"] = "Secret"
    spec: SecretSpec


class ConfigMap(FluxObject):
    kind: Literal["ConfigMap"] = "ConfigMap"
    spec: ConfigMapSpec


def object_key(kind: str, namespace: str, name: str) -> str:
    return f"{kind}/{namespace}/{name}"

