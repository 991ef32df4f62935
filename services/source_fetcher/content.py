"""What a GitRepository's artifact holds beside the files of its commit, as source-controller
builds it: ``spec.include`` (other GitRepositories' artifacts), ``spec.recurseSubmodules``,
``spec.sparseCheckout``, ``spec.ignore`` (with ``.sourceignore`` files and Flux's default
exclusions), after ``spec.verify`` accepted the commit; and when the artifact of an unchanged
revision must be built again (Flux's ``gitContentConfigChanged``: a content setting, or an
included artifact, differs from what the status observed).

The conditions are Flux's: ``IncludeUnavailable`` (reasons ``NotFound``, ``NoArtifact``),
``FetchFailed`` (a sparse directory that is not there), ``StorageOperationFailed``
(``CopyFailure``, ``IllegalPath``) and ``SourceVerified`` (``Succeeded``, or
``InvalidCommitSignature``, ``InvalidTagSignature``, ``InvalidGitObject``,
``InvalidVerificationMode``, ``VerificationError``); a failed verification keeps the last
artifact.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conveyor.services.source_fetcher import verify
from conveyor.services.source_fetcher.artifact import IncludeError, Tree, included
from conveyor.shared.adapters import git
from conveyor.shared.errors import (
    ConveyorError,
    DependencyNotReady,
    InvalidSpec,
    NotFound,
    PermanentError,
    TransientError,
)
from conveyor.shared.models import GitRepository, GitRepositoryInclude, object_key
from conveyor.shared.runtime import Context
from conveyor.shared.status import Artifact, GitRepositoryStatus

SOURCE_VERIFIED = "SourceVerified"
INCLUDE_UNAVAILABLE = "IncludeUnavailable"
FETCH_FAILED = "FetchFailed"
STORAGE_FAILED = "StorageOperationFailed"

MAX_INCLUDE_DEPTH = 32  # GitRepositories followed through includes when looking for a cycle


@dataclass(frozen=True)
class Included:
    """One entry of ``spec.include`` with the artifact its GitRepository (``key``) has."""

    include: GitRepositoryInclude
    artifact: Artifact
    key: str


def begin(status: GitRepositoryStatus) -> None:
    """Forget what the last run found wrong: each run finds it again (a failed verification
    too; a successful one stays until the next verification)."""
    for gone in (INCLUDE_UNAVAILABLE, FETCH_FAILED, STORAGE_FAILED):
        status.remove_condition(gone)
    verified = status.condition(SOURCE_VERIFIED)
    if verified is not None and verified.status == "False":
        status.remove_condition(SOURCE_VERIFIED)


def _fail(
    status: GitRepositoryStatus, obj: GitRepository, condition: str, error: ConveyorError
) -> ConveyorError:
    """``error``, recorded as Flux's ``condition`` (True: a negative one; SourceVerified: False)."""
    value = condition != SOURCE_VERIFIED
    status.set_condition(condition, value, error.reason, str(error), obj.metadata.generation)
    return error


def includes(obj: GitRepository, status: GitRepositoryStatus, ctx: Context) -> list[Included]:
    """The artifacts ``spec.include`` names, in its order; the first that is missing or has no
    artifact yet is ``IncludeUnavailable`` (retried; its first artifact wakes this one)."""
    _refuse_cycles(obj, ctx)
    found = []
    for entry in obj.spec.include:
        name = entry.repository.name
        key = object_key("GitRepository", obj.namespace, name)
        if ctx.store.get_object(key) is None:
            raise _fail(
                status,
                obj,
                INCLUDE_UNAVAILABLE,
                DependencyNotReady(
                    f"could not get resource for include '{name}': "
                    f"GitRepository {obj.namespace}/{name} not found",
                    reason="NotFound",
                ),
            )
        artifact = ctx.store.get_status(key, GitRepositoryStatus).artifact
        if artifact is None:
            raise _no_artifact(status, obj, name)
        found.append(Included(entry, artifact, key))
    return found


def _no_artifact(status: GitRepositoryStatus, obj: GitRepository, name: str) -> ConveyorError:
    return _fail(
        status,
        obj,
        INCLUDE_UNAVAILABLE,
        DependencyNotReady(f"no artifact available for include '{name}'", reason="NoArtifact"),
    )


def _refuse_cycles(obj: GitRepository, ctx: Context) -> None:
    """A GitRepository that includes itself, through others or not, would grow without end
    (each artifact holding the last): refused by name."""
    path = [obj.name]
    todo = [(obj, path)]
    seen = {obj.name}
    while todo:
        current, trail = todo.pop()
        for entry in current.spec.include:
            name = entry.repository.name
            if name == obj.name:
                # not Stalled: the other GitRepositories of the cycle may change
                raise PermanentError(
                    f"spec.include: an include cycle: {' -> '.join([*trail, name])}",
                    reason="IncludeCycle",
                )
            if name in seen or len(trail) >= MAX_INCLUDE_DEPTH:
                continue
            seen.add(name)
            key = object_key("GitRepository", obj.namespace, name)
            found = ctx.store.get_object(key, GitRepository)
            if found is not None:
                todo.append((found, [*trail, name]))


def _mode(obj: GitRepository) -> str:
    """Flux's GetMode: the mode, ``HEAD`` for any other value (v1beta2's ``head``)."""
    mode = obj.spec.verify.mode if obj.spec.verify is not None else "HEAD"
    return mode if mode in ("HEAD", "Tag", "TagAndHEAD") else "HEAD"


def _requires_verification(obj: GitRepository, status: GitRepositoryStatus) -> bool:
    if obj.spec.verify is None:
        return False
    observed, mode = status.source_verification_mode, _mode(obj)
    return (
        observed is None
        or (observed == "Tag" and mode in ("HEAD", "TagAndHEAD"))
        or (observed == "HEAD" and mode in ("Tag", "TagAndHEAD"))
    )


def _observed_include(entry: GitRepositoryInclude) -> dict[str, Any]:
    """An include as Flux writes it in ``status.observedInclude`` (empty paths left out)."""
    return {k: v for k, v in entry.wire().items() if v != ""}


def changed(obj: GitRepository, status: GitRepositoryStatus, found: list[Included]) -> bool:
    """Whether the artifact of an unchanged revision must be built again: a content setting
    differs from what the status observed, a verification is due, or an included artifact
    changed (Flux's gitContentConfigChanged)."""
    spec = obj.spec
    observed_includes = status.observed_include or []
    included = status.included_artifacts or []
    if (
        spec.ignore != status.observed_ignore
        or spec.recurse_submodules != bool(status.observed_recurse_submodules)
        or (spec.sparse_checkout or []) != (status.observed_sparse_checkout or [])
        or _requires_verification(obj, status)
        or len(spec.include) != len(observed_includes)
        or len(spec.include) != len(included)
    ):
        return True
    return any(
        _observed_include(item.include) != seen
        or item.artifact.revision != before.revision
        or item.artifact.digest != before.digest
        for item, seen, before in zip(found, observed_includes, included, strict=True)
    )


def observe(obj: GitRepository, status: GitRepositoryStatus, found: list[Included]) -> None:
    """Record what the new artifact was built from (Flux's observed* and includedArtifacts)."""
    spec = obj.spec
    status.included_artifacts = [i.artifact.model_copy() for i in found] or None
    status.observed_ignore = spec.ignore
    status.observed_include = [_observed_include(i.include) for i in found] or None
    status.observed_recurse_submodules = spec.recurse_submodules or None
    status.observed_sparse_checkout = spec.sparse_checkout or None
    if spec.verify is None:
        forget_verification(status)


def forget_verification(status: GitRepositoryStatus) -> None:
    status.source_verification_mode = None
    status.remove_condition(SOURCE_VERIFIED)


def sparse_prefixes(obj: GitRepository) -> list[str] | None:
    """``spec.sparseCheckout`` as go-git takes it: a leading ``./`` trimmed; None: all."""
    if not obj.spec.sparse_checkout:
        return None
    return [p.removeprefix("./") for p in obj.spec.sparse_checkout]


def build(
    obj: GitRepository,
    status: GitRepositoryStatus,
    ctx: Context,
    mirror: Path,
    ref: str,
    commit: str,
    auth: git.GitAuth | None,
    found: list[Included],
) -> bytes:
    """The artifact of ``commit`` (fetched into ``mirror`` as ``ref``): its tree (sparse, or
    with its submodules), verified, with its includes, archived without what is ignored."""
    spec = obj.spec
    prefixes = sparse_prefixes(obj)
    try:
        if spec.recurse_submodules and prefixes is None:
            # go-git's sparse checkout clones without a checkout, and only a checkout brings
            # submodules: with sparseCheckout, none
            tree = _with_submodules(obj, ctx, mirror, commit, auth)
        else:
            tree = Tree.from_tar(git.tree_tar(mirror, commit, spec.timeout))
    except ValueError as exc:
        raise TransientError(
            f"checkout of {commit} failed: {exc}", reason="GitOperationFailed"
        ) from exc
    if prefixes is not None:
        tree.sparse(prefixes)
        for directory in spec.sparse_checkout or []:
            if not tree.exists(directory):
                raise _fail(
                    status,
                    obj,
                    FETCH_FAILED,
                    TransientError(
                        "failed to sparse checkout directories : sparse checkout dir "
                        f"'{directory}' does not exist in repository",
                        reason="GitOperationFailed",
                    ),
                )
    verify_source(obj, status, ctx, mirror, ref, commit)
    for item in found:
        entry = item.include
        data = ctx.store.get_artifact(item.key)
        if data is None:
            raise _no_artifact(status, obj, entry.repository.name)
        try:
            tree.include(included(data), entry.repository.name, entry.from_path, entry.to_path)
        except (IncludeError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, IncludeError) else "CopyFailure"
            error = TransientError(str(exc), reason=reason)
            raise _fail(status, obj, STORAGE_FAILED, error) from exc
    return tree.archive(spec.ignore)


def _with_submodules(
    obj: GitRepository, ctx: Context, mirror: Path, commit: str, auth: git.GitAuth | None
) -> Tree:
    scratch = ctx.settings.scratch
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="checkout-", dir=scratch) as tmp:
        tree = Path(tmp, "tree")
        git.check_out(mirror, commit, tree, obj.spec.url, auth, obj.spec.timeout, scratch)
        return Tree.from_directory(tree)


def verify_source(
    obj: GitRepository,
    status: GitRepositoryStatus,
    ctx: Context,
    mirror: Path,
    ref: str,
    commit: str,
) -> None:
    """``spec.verify``: the tag's signature (modes Tag, TagAndHEAD) and the commit's (HEAD,
    TagAndHEAD), with the Secret's keys; ``SourceVerified`` says how it went."""
    spec = obj.spec
    if spec.verify is None:
        forget_verification(status)
        return
    generation = obj.metadata.generation
    secret_name = spec.verify.secret_ref.name
    try:
        secret = ctx.secret(obj.namespace, secret_name, owner=f"GitRepository {obj.name}")
    except NotFound as exc:
        raise _fail(
            status,
            obj,
            SOURCE_VERIFIED,
            TransientError(
                f"public keys secret error: secret '{obj.namespace}/{secret_name}' not found",
                reason="VerificationError",
            ),
        ) from exc
    rings, authorized = verify.split_keys(secret.data)
    mode = _mode(obj)
    lines = []
    if mode in ("Tag", "TagAndHEAD"):
        tag = git.read_object(mirror, ref) if ref.startswith("refs/tags/") else None
        if tag is None:
            raise _fail(
                status,
                obj,
                SOURCE_VERIFIED,
                InvalidSpec(
                    "cannot verify tag object's signature if a tag reference is not specified",
                    reason="InvalidVerificationMode",
                ),
            )
        kind, sha, raw = tag
        signed = verify.split_tag(raw) if kind == "tag" else verify.Signed(raw, "")
        # Flux names an annotated tag <name>@<tag object>, a lightweight one by its name
        shown = ref.removeprefix("refs/tags/")
        if kind == "tag":
            shown = f"{verify.tag_name(raw) or shown}@{sha}"
        if not signed.signature:
            raise _fail(
                status,
                obj,
                SOURCE_VERIFIED,
                TransientError(
                    f"cannot verify signature of tag '{shown}' since it is not signed",
                    reason="InvalidGitObject",
                ),
            )
        try:
            key = verify.verify(signed, "tag", rings, authorized, ctx.settings.scratch)
        except verify.VerificationFailed as exc:
            raise _fail(
                status,
                obj,
                SOURCE_VERIFIED,
                TransientError(
                    f"signature verification of tag '{shown}' failed: {exc}",
                    reason="InvalidTagSignature",
                ),
            ) from exc
        lines.append(f"tag '{shown}' with key '{key}'")
    if mode in ("HEAD", "TagAndHEAD"):
        found = git.read_object(mirror, commit)
        raw = found[2] if found is not None and found[0] == "commit" else b""
        try:
            key = verify.verify(
                verify.split_commit(raw), "commit", rings, authorized, ctx.settings.scratch
            )
        except verify.VerificationFailed as exc:
            raise _fail(
                status,
                obj,
                SOURCE_VERIFIED,
                TransientError(
                    f"signature verification of commit '{commit}' failed: {exc}",
                    reason="InvalidCommitSignature",
                ),
            ) from exc
        lines.append(f"commit '{commit}' with key '{key}'")
    message = "verified signature of\n" + "\n".join(f"\t- {line}" for line in lines)
    status.set_condition(SOURCE_VERIFIED, True, "Succeeded", message, generation)
    status.source_verification_mode = mode
