"""The one registry of kinds: for each kind conveyor reads, its object model (and so its spec),
its status model, its API group and versions, the service that owns it, and whether it is
reported. The table's order is the reconcile order, upstream first.

Every other place reads this table: parsing (which kinds and apiVersions exist), the store
(which status model a key has), the events (which queue a ``ReconcileRequested`` goes to),
the runner (which kinds a worker ticks, what ``--once`` reports), the cluster source (which
custom resources to list). Adding a kind is a model, a status and a row here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from conveyor.shared import names
from conveyor.shared.models import (
    Alert,
    ConfigMap,
    FluxObject,
    GitRepository,
    ImagePolicy,
    ImageRepository,
    ImageUpdateAutomation,
    Kustomization,
    Provider,
    Receiver,
    Secret,
)
from conveyor.shared.status import (
    AlertStatus,
    GitRepositoryStatus,
    ImagePolicyStatus,
    ImageRepositoryStatus,
    ImageUpdateAutomationStatus,
    KustomizationStatus,
    ProviderStatus,
    ReceiverStatus,
    Status,
)

ObjT = TypeVar("ObjT", bound=FluxObject)
StatusT = TypeVar("StatusT", bound=Status)


@dataclass(frozen=True)
class Kind(Generic[ObjT, StatusT]):
    model: type[ObjT]
    status: type[StatusT]
    group: str  # "" for the core group (Secret, ConfigMap)
    versions: tuple[str, ...]  # oldest first
    service: str | None = None  # the service that reconciles it; None: read, never reconciled
    queued: bool = True  # reconciled from the service's queue (a Receiver is served in place)
    reported: bool = True  # listed by `--once`, the status API, and written back to a cluster
    finalized: bool = False  # its service acts on its deletion (Stage.finalize), as a finalizer
    controller: str = ""  # the Flux controller that owns it: its events' reportingController

    @property
    def name(self) -> str:
        return self.model.kind_name()

    @property
    def api_versions(self) -> tuple[str, ...]:
        return tuple(f"{self.group}/{v}" if self.group else v for v in self.versions)

    @property
    def flux(self) -> bool:
        """A Flux custom resource (not a core Secret or ConfigMap)."""
        return bool(self.group)


_IMAGE = "image.toolkit.fluxcd.io"
_IMAGE_VERSIONS = ("v1alpha2", "v1beta1", "v1beta2", "v1")

GIT_REPOSITORY = Kind(
    GitRepository,
    GitRepositoryStatus,
    "source.toolkit.fluxcd.io",
    ("v1beta1", "v1beta2", "v1"),
    service="source-fetcher",
    controller="source-controller",
)
IMAGE_REPOSITORY = Kind(
    ImageRepository,
    ImageRepositoryStatus,
    _IMAGE,
    _IMAGE_VERSIONS,
    service="registry-scanner",
    controller="image-reflector-controller",
)
IMAGE_POLICY = Kind(
    ImagePolicy,
    ImagePolicyStatus,
    _IMAGE,
    _IMAGE_VERSIONS,
    service="policy-evaluator",
    controller="image-reflector-controller",
)
IMAGE_UPDATE_AUTOMATION = Kind(
    ImageUpdateAutomation,
    ImageUpdateAutomationStatus,
    _IMAGE,
    _IMAGE_VERSIONS,
    service="git-committer",
    controller="image-automation-controller",
)
KUSTOMIZATION = Kind(
    Kustomization,
    KustomizationStatus,
    "kustomize.toolkit.fluxcd.io",
    ("v1beta1", "v1beta2", "v1"),
    service="applier",
    finalized=True,
    controller="kustomize-controller",
)
RECEIVER = Kind(
    Receiver,
    ReceiverStatus,
    "notification.toolkit.fluxcd.io",
    ("v1beta1", "v1beta2", "v1"),  # v1beta3 is Alert's and Provider's, never a Receiver's
    service="receiver",
    queued=False,
    controller="notification-controller",
)
# notification-controller's Alerts and Providers: served by the receiver's process, which
# delivers the stages' events (conveyor.services.receiver.notifier)
_NOTIFICATION_VERSIONS = ("v1beta1", "v1beta2", "v1beta3")
PROVIDER = Kind(
    Provider,
    ProviderStatus,
    "notification.toolkit.fluxcd.io",
    _NOTIFICATION_VERSIONS,
    service="receiver",
    queued=False,
    controller="notification-controller",
)
ALERT = Kind(
    Alert,
    AlertStatus,
    "notification.toolkit.fluxcd.io",
    _NOTIFICATION_VERSIONS,
    service="receiver",
    queued=False,
    controller="notification-controller",
)
SECRET = Kind(Secret, Status, "", ("v1",), reported=False)
CONFIG_MAP = Kind(ConfigMap, Status, "", ("v1",), reported=False)

KINDS: tuple[Kind[Any, Any], ...] = (
    GIT_REPOSITORY,
    IMAGE_REPOSITORY,
    IMAGE_POLICY,
    IMAGE_UPDATE_AUTOMATION,
    KUSTOMIZATION,
    RECEIVER,
    PROVIDER,
    ALERT,
    SECRET,
    CONFIG_MAP,
)

BY_NAME: dict[str, Kind[Any, Any]] = {k.name: k for k in KINDS}

REPORTED: tuple[Kind[Any, Any], ...] = tuple(k for k in KINDS if k.reported)

# The services with a queue, in pipeline order: each reconciles the kinds it owns.
STAGE_SERVICES: tuple[str, ...] = tuple(
    dict.fromkeys(k.service for k in KINDS if k.service is not None and k.queued)
)

# Every service, the receiver included: what `conveyor worker` runs.
SERVICES: tuple[str, ...] = tuple(dict.fromkeys(k.service for k in KINDS if k.service))
if set(SERVICES) != set(names.SERVICES):  # the command line's list, kept without the models
    raise RuntimeError(f"shared.names.SERVICES {names.SERVICES} != the kinds' {SERVICES}")


def kind_of(name: str) -> Kind[Any, Any] | None:
    return BY_NAME.get(name)

