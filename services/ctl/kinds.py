"""The Flux kinds as the command line spells them: kubectl's names (the kind, its plural, its
singular and its CRD's ``shortNames``, ignoring case, optionally followed by ``.<group>``) and
the names of the ``flux`` CLI's subcommands. Kept without the models, so that parsing a
command costs nothing; tests check it against ``conveyor.shared.kinds`` and Flux's CRDs.
"""

from __future__ import annotations

from dataclasses import dataclass

from conveyor.shared.errors import UsageError


@dataclass(frozen=True)
class CtlKind:
    name: str  # the kind, as in manifests
    group: str
    versions: tuple[str, ...]  # oldest first, as conveyor.shared.kinds
    plural: str
    short_names: tuple[str, ...]  # the CRD's shortNames (crds/flux/2.9)
    human: str  # the flux CLI's humanKind, in its messages ("suspending source git ...")
    service: str  # the conveyor service that reconciles it
    flux_words: tuple[str, ...] = ()  # flux's subcommand names and aliases for the kind

    @property
    def singular(self) -> str:
        return self.name.lower()

    @property
    def spellings(self) -> tuple[str, ...]:
        return (self.singular, self.plural, *self.short_names, *self.flux_words)

    def api_versions(self) -> tuple[str, ...]:
        return tuple(f"{self.group}/{v}" for v in self.versions)


_IMAGE = ("v1alpha2", "v1beta1", "v1beta2", "v1")
_THREE = ("v1beta1", "v1beta2", "v1")
_NOTIFICATION = ("v1beta1", "v1beta2", "v1beta3")

# In reconcile order, upstream first: the order of `conveyor get all`, as of `flux get all`.
KINDS: tuple[CtlKind, ...] = (
    CtlKind("GitRepository", "source.toolkit.fluxcd.io", _THREE, "gitrepositories",
            ("gitrepo",), "source git", "source-fetcher", ("git",)),
    CtlKind("ImageRepository", "image.toolkit.fluxcd.io", _IMAGE, "imagerepositories",
            ("imgrepo", "imagerepo"), "image repository", "registry-scanner",
            ("repository",)),
    CtlKind("ImagePolicy", "image.toolkit.fluxcd.io", _IMAGE, "imagepolicies",
            ("imgpol", "imagepol"), "image policy", "policy-evaluator", ("policy",)),
    CtlKind("ImageUpdateAutomation", "image.toolkit.fluxcd.io", _IMAGE, "imageupdateautomations",
            ("iua", "imgupd", "imgauto"), "image update automation", "git-committer",
            ("update",)),
    CtlKind("Kustomization", "kustomize.toolkit.fluxcd.io", _THREE, "kustomizations", ("ks",),
            "kustomization", "applier"),
    CtlKind("Receiver", "notification.toolkit.fluxcd.io", _THREE, "receivers", (), "receiver",
            "receiver"),
    CtlKind("Provider", "notification.toolkit.fluxcd.io", _NOTIFICATION, "providers", (),
            "alert provider", "receiver", ("alert-provider", "alert-providers")),
    CtlKind("Alert", "notification.toolkit.fluxcd.io", _NOTIFICATION, "alerts", (), "alert",
            "receiver"),
)

BY_NAME: dict[str, CtlKind] = {k.name: k for k in KINDS}

_SPELLED: dict[str, CtlKind] = {}
for _kind in KINDS:
    for _word in _kind.spellings:
        _SPELLED[_word] = _kind
        if _word in (_kind.singular, _kind.plural):
            _SPELLED[f"{_word}.{_kind.group}"] = _kind


def spellings() -> list[str]:
    """Every word a KIND may be given as (lower case), for completion and help."""
    return sorted(_SPELLED)


def resolve(word: str) -> CtlKind:
    """The kind ``word`` names, as kubectl resolves it (ignoring case); a UsageError that
    lists the kinds otherwise."""
    found = _SPELLED.get(word.lower())
    if found is None:
        known = ", ".join(k.singular for k in KINDS)
        raise UsageError(f"'{word}' is not a kind conveyor knows: one of {known} "
                         f"(or their plurals and short names, e.g. ks, gitrepo, imgpol)")
    return found
