"""Receiver: its Secret, its webhook path in status, and the objects a webhook wakes."""

from __future__ import annotations

from collections.abc import Callable

from conveyor.services.receiver.filters import compile_filters
from conveyor.services.receiver.webhooks import Rejected, webhook_path
from conveyor.shared import fields
from conveyor.shared.adapters.cel import EvaluationError, InvalidExpression
from conveyor.shared.errors import InvalidSpec, PermanentError, UnsupportedField, scrub
from conveyor.shared.kinds import kind_of
from conveyor.shared.models import FluxObject, Receiver
from conveyor.shared.runtime import Context
from conveyor.shared.status import ReceiverStatus

# Flux's defaultFluxAPIVersions: the kinds a resource entry may name without ``apiVersion``.
DEFAULT_API_VERSIONS = {
    "Bucket": "source.toolkit.fluxcd.io/v1",
    "HelmChart": "source.toolkit.fluxcd.io/v1",
    "HelmRepository": "source.toolkit.fluxcd.io/v1",
    "GitRepository": "source.toolkit.fluxcd.io/v1",
    "OCIRepository": "source.toolkit.fluxcd.io/v1",
    "ImageRepository": "image.toolkit.fluxcd.io/v1",
    "ArtifactGenerator": "source.extensions.fluxcd.io/v1beta1",
}


class UnsupportedType(PermanentError):
    reason = "UnsupportedField"


def receiver_secret(receiver: Receiver, ctx: Context) -> dict[str, str]:
    """The Receiver's Secret as text: ``token`` (required), and what its type reads beside
    it (``gcr``: ``email``, ``audience``)."""
    spec = receiver.spec
    owner = f"Receiver {receiver.namespace}/{receiver.name}"
    if spec.secret_ref is None:
        raise InvalidSpec(f"{owner}: secretRef is required when type is not generic-oidc")
    secret = ctx.secret(receiver.namespace, spec.secret_ref.name, owner=owner)
    if not secret.text("token"):
        raise Rejected(f"{owner}: secret {spec.secret_ref.name} has no 'token' key")
    return {k: v.decode("utf-8", errors="replace") for k, v in secret.data.items()}


def receiver_token(receiver: Receiver, ctx: Context) -> str:
    return receiver_secret(receiver, ctx)["token"]


def check_spec(receiver: Receiver) -> None:
    """Raise what Flux's reconcile stalls a Receiver on: an invalid CEL filter
    (InvalidCELExpression); and what conveyor does not serve (``generic-oidc``)."""
    if receiver.spec.type == "generic-oidc":
        raise UnsupportedType(
            "spec.type: generic-oidc is not supported by conveyor (its OIDC providers are "
            "not implemented)"
        )
    compile_filters(receiver.spec)


def refresh_receivers(ctx: Context) -> None:
    """Record each Receiver's webhook path (or why it has none) in its status, with the
    ``reconcile.fluxcd.io/requestedAt`` it answers (``flux reconcile receiver``); a status
    that did not change is not written."""
    for receiver in ctx.store.list_objects(Receiver):
        status = ctx.store.get_status(receiver.key, ReceiverStatus)
        before = status.wire()
        _refresh(receiver, status, ctx)
        request = receiver.metadata.reconcile_request
        if request is not None:
            status.last_handled_reconcile_at = request
        if status.wire() != before:
            ctx.store.put_status(receiver.key, status)


def _refresh(receiver: Receiver, status: ReceiverStatus, ctx: Context) -> None:
    try:
        fields.check(receiver.unsupported)  # not served: Stalled, naming the fields
    except UnsupportedField as exc:
        status.webhook_path = None
        status.mark_failed(
            exc.reason, ctx.redact(str(exc)), receiver.metadata.generation, stalled=True
        )
        return
    try:
        check_spec(receiver)
    except (UnsupportedType, InvalidExpression, InvalidSpec) as exc:
        status.webhook_path = None
        message = scrub(ctx.redact(str(exc)))
        status.mark_failed(exc.reason, message, receiver.metadata.generation, stalled=True)
        return
    try:
        path = webhook_path(receiver_token(receiver, ctx), receiver.name, receiver.namespace)
        status.webhook_path = path
        status.mark_ready(
            "Succeeded", f"Receiver initialized for path: {path}", receiver.metadata.generation
        )
    except Exception as exc:  # no Secret, no token: no path until there is one (Flux)
        status.webhook_path = None
        status.mark_failed(
            "TokenNotFound",
            scrub(ctx.redact(str(exc))),
            receiver.metadata.generation,
            stalled=False,
        )


# Whether a delivery wakes an object: (entry index, the object, the entry's apiVersion).
Accept = Callable[[int, FluxObject, str], bool]


def _labels_match(obj: FluxObject, match: dict[str, str]) -> bool:
    return all(obj.metadata.labels.get(k) == v for k, v in match.items())


def targets_of(
    receiver: Receiver, ctx: Context, accept: Accept | None = None
) -> tuple[list[str], list[str]]:
    """The keys of the objects a delivery to ``receiver`` wakes, and what failed (Flux
    answers 500 then, having woken the rest), entry by entry as Flux's requestReconciliation:
    ``apiVersion`` (required for a kind without Flux's default) must be served; a name must
    exist; ``*`` takes the objects of the namespace whose labels hold ``matchLabels`` (which
    it requires), in name order; ``accept`` (the CEL filters) decides for each object, the
    first that fails ends its entry. Objects are read only for labels or filters."""
    keys: dict[str, list[str]] = {}
    out: list[str] = []
    errors: list[str] = []
    for index, ref in enumerate(receiver.spec.resources):
        namespace = ref.namespace or receiver.namespace
        api_version = ref.api_version or DEFAULT_API_VERSIONS.get(ref.kind)
        if api_version is None:
            errors.append(f"apiVersion must be specified for kind {ref.kind!r}")
            continue
        kind = kind_of(ref.kind)
        if kind is None or not kind.flux or api_version not in kind.api_versions:
            errors.append(f"no matches for kind {ref.kind!r} in version {api_version!r}")
            continue
        if ref.kind not in keys:
            keys[ref.kind] = ctx.store.keys(ref.kind)
        prefix = f"{ref.kind}/{namespace}/"
        if ref.name != "*":
            candidates = [prefix + ref.name] if prefix + ref.name in keys[ref.kind] else []
            if not candidates:
                errors.append(f"unable to read {ref.kind} '{namespace}/{ref.name}': not found")
                continue
        elif ref.match_labels is None:
            errors.append("matchLabels field not set when using wildcard '*' as name")
            continue
        else:
            candidates = [k for k in keys[ref.kind] if k.startswith(prefix)]
        if not ref.match_labels and accept is None:
            out += candidates
            continue
        for key in candidates:
            obj = ctx.store.get_object(key)
            if obj is None or (ref.match_labels and not _labels_match(obj, ref.match_labels)):
                continue
            try:
                if accept is None or accept(index, obj, api_version):
                    out.append(key)
            except EvaluationError as exc:
                errors.append(f"{ref.kind} '{namespace}/{obj.name}': {exc}")
                break
    return list(dict.fromkeys(out)), errors
