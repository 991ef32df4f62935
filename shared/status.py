"""Status in Flux's field names, and the one helper that sets conditions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# What Flux's CRDs (metav1.Condition) accept of a condition's reason and message.
MAX_MESSAGE = 32768
_REASON = re.compile(r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")


def _reason(text: str) -> str:
    """``text`` as a condition reason the API server accepts (a CamelCase word, at most 1024
    characters): invalid characters dropped."""
    if _REASON.match(text) and len(text) <= 1024:
        return text
    cleaned = re.sub(r"[^A-Za-z0-9_,:]", "", text).lstrip("0123456789_,:").rstrip(",:")
    return cleaned[:1024].rstrip(",:") or "Unknown"


def _message(text: str) -> str:
    if len(text) <= MAX_MESSAGE:
        return text
    return text[: MAX_MESSAGE - 15] + " ... (trimmed)"


class _Status(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", defer_build=True
    )

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class Condition(_Status):
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str = ""
    last_transition_time: str = Field(default_factory=now_iso)
    observed_generation: int | None = None


class Status(_Status):
    # The kind's own conditions beside Ready (its reconcile sets and removes them): kept when
    # a run ends Ready or failed, where any other is dropped.
    OWN: ClassVar[tuple[str, ...]] = ()

    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list)
    last_handled_reconcile_at: str | None = None  # the `reconcile.fluxcd.io/requestedAt` handled

    def served_as(self, version: str) -> dict[str, Any]:
        """The status as Flux writes it for an object served as ``version`` of its kind (the
        fields of older versions added; a field the version lacks is pruned by the API
        server)."""
        return self.wire()

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)

    @property
    def ready(self) -> Condition | None:
        return self.condition("Ready")

    def set_condition(
        self, type_: str, status: bool | None, reason: str, message: str, generation: int | None
    ) -> None:
        """Set one condition, keeping lastTransitionTime when the status did not change."""
        value: Literal["True", "False", "Unknown"] = (
            "Unknown" if status is None else ("True" if status else "False")
        )
        old = self.condition(type_)
        cond = Condition(
            type=type_,
            status=value,
            reason=_reason(reason),
            message=_message(message),
            observed_generation=generation,
        )
        if old is not None and old.status == value:
            cond.last_transition_time = old.last_transition_time
        self.conditions = [c for c in self.conditions if c.type != type_] + [cond]

    def remove_condition(self, type_: str) -> None:
        self.conditions = [c for c in self.conditions if c.type != type_]

    def mark_ready(self, reason: str, message: str, generation: int) -> None:
        self.set_condition("Ready", True, reason, message, generation)
        self.conditions = [c for c in self.conditions if c.type in ("Ready", *self.OWN)]
        self.observed_generation = generation

    def mark_failed(self, reason: str, message: str, generation: int, *, stalled: bool) -> None:
        self.set_condition("Ready", False, reason, message, generation)
        self.conditions = [c for c in self.conditions if c.type in ("Ready", *self.OWN)]
        if stalled:
            self.set_condition("Stalled", True, reason, message, generation)
        self.observed_generation = generation


class Artifact(_Status):
    revision: str
    digest: str
    last_update_time: str = Field(default_factory=now_iso)
    size: int | None = None
    path: str | None = None  # as source-controller's storage: gitrepository/<ns>/<name>/<file>
    url: str | None = None  # http://<host>/<path>


class GitRepositoryStatus(Status):
    OWN = ("SourceVerified", "IncludeUnavailable", "FetchFailed", "StorageOperationFailed")

    artifact: Artifact | None = None
    url: str | None = None
    included_artifacts: list[Artifact] | None = None
    observed_ignore: str | None = None
    observed_include: list[dict[str, Any]] | None = None
    observed_recurse_submodules: bool | None = None
    observed_sparse_checkout: list[str] | None = None
    source_verification_mode: str | None = None


class ScanResult(_Status):
    revision: str
    tag_count: int
    scan_time: str = Field(default_factory=now_iso)
    latest_tags: list[str] = Field(default_factory=list)


class ImageRepositoryStatus(Status):
    canonical_image_name: str | None = None
    last_scan_result: ScanResult | None = None
    observed_exclusion_list: list[str] | None = None


class ImageRef(_Status):
    name: str
    tag: str
    digest: str | None = None


class ImagePolicyStatus(Status):
    latest_ref: ImageRef | None = None
    observed_previous_ref: ImageRef | None = None

    def served_as(self, version: str) -> dict[str, Any]:
        """Before v1, Flux also writes ``latestImage`` (``spec.image:tag``, the LATESTIMAGE
        column of ``kubectl get``) and ``observedPreviousImage``; v1beta1 has only those."""
        out = self.wire()
        if version != "v1":
            if self.latest_ref is not None:
                out["latestImage"] = f"{self.latest_ref.name}:{self.latest_ref.tag}"
            if self.observed_previous_ref is not None:
                previous = self.observed_previous_ref
                out["observedPreviousImage"] = f"{previous.name}:{previous.tag}"
        return out


class ImageUpdateAutomationStatus(Status):
    last_automation_run_time: str | None = None
    last_push_commit: str | None = None
    last_push_time: str | None = None
    observed_source_revision: str | None = None
    observed_policies: dict[str, ImageRef] | None = None


@dataclass(frozen=True)
class ObjRef:
    """An object's identity: what an inventory entry names (the version is kept beside it)."""

    group: str
    kind: str
    namespace: str
    name: str

    @property
    def id(self) -> str:
        name = self.name.replace(":", "__")
        return f"{self.namespace}_{name}_{self.group}_{self.kind}"

    @classmethod
    def parse(cls, entry_id: str) -> ObjRef:
        """The reverse of ``id`` (cli-utils ParseObjMetadata)."""
        namespace, sep, rest = entry_id.partition("_")
        rest, sep2, kind = rest.rpartition("_")
        name, sep3, group = rest.rpartition("_")
        if not (sep and sep2 and sep3) or not name or not kind:
            raise ValueError(f"invalid inventory entry {entry_id!r}")
        return cls(group=group, kind=kind, namespace=namespace, name=name.replace("__", ":"))

    def __str__(self) -> str:
        """Flux's FmtObjMetadata: ``Kind/namespace/name``, or ``Kind/name`` cluster-wide."""
        return (
            f"{self.kind}/{self.namespace}/{self.name}"
            if self.namespace
            else (f"{self.kind}/{self.name}")
        )


class ResourceRef(_Status):
    id: str
    v: str


class Inventory(_Status):
    entries: list[ResourceRef] = Field(default_factory=list)


class Snapshot(_Status):
    """One entry of Flux's ``status.history``: a digest of the built objects and how its
    reconciliations went (newest first)."""

    digest: str
    first_reconciled: str = Field(default_factory=now_iso)
    last_reconciled: str = Field(default_factory=now_iso)
    last_reconciled_duration: str = "0s"
    last_reconciled_status: str = ""
    total_reconciliations: int = 1
    metadata: dict[str, str] = Field(default_factory=dict)


class KustomizationStatus(Status):
    last_applied_revision: str | None = None
    last_attempted_revision: str | None = None
    inventory: Inventory | None = None
    history: list[Snapshot] | None = None


class ReceiverStatus(Status):
    webhook_path: str | None = None

    def served_as(self, version: str) -> dict[str, Any]:
        """v1beta1 and v1beta2 also carry the path as ``url``."""
        out = self.wire()
        if version in ("v1beta1", "v1beta2") and self.webhook_path is not None:
            out["url"] = self.webhook_path
        return out


class NotificationStatus(Status):
    """A Provider's or an Alert's: whether conveyor can use it. Flux's v1beta1 and v1beta2
    carried Ready (``Initialized``); v1beta3 has no status at all, so an object served as
    v1beta3 is written none (conveyor keeps it for its own report and status API)."""

    def served_as(self, version: str) -> dict[str, Any]:
        return {} if version == "v1beta3" else self.wire()


class ProviderStatus(NotificationStatus):
    pass


class AlertStatus(NotificationStatus):
    pass
