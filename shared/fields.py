"""Every spec field of Flux's CRDs, per kind: implemented (naming the test that shows it) or
refused by name. The one table of what conveyor does with each field Flux defines.

A path is ``spec.a.b``; the items of an array of objects are ``spec.a[].b``. A map
(``additionalProperties``) or a free-form value (``x-kubernetes-preserve-unknown-fields``) ends
a path: its keys are data, not fields. ``tests/test_fields.py`` walks every schema of every
version in ``crds/flux/*/`` and checks that each path is here, with the versions whose schema
has it, that each path here is in a schema, and that each named test exists.

An object whose spec sets a field marked unsupported, or a field that is in no schema of its
apiVersion, is not reconciled: ``parse_document`` records why (``refusals``), and the one
reconcile loop marks it Ready=False, Stalled=True, reason ``UnsupportedField``, naming each
path. A field Flux's API server does not know is refused as Flux's own API server refuses it
(``kubectl apply`` validates strictly by default, and the server-side apply of Flux's
kustomize-controller fails with ``field not declared in schema``); it is not pruned in silence.
A field that holds ``null`` is not set; nor is an empty list, nor an empty map (an empty
object, ``verify: {}``, is set).

Each row is one of:

- ``done(test)``: implemented at Flux's semantics; ``test`` (``tests/<file>.py::<function>``)
  shows it. ``only=`` limits it to those values (others are refused, naming the value).
- ``unsupported()``: refused whatever it holds. ``unless=`` names values conveyor behaves as
  anyway (Flux's defaults, which the API server or ``flux export`` write into objects):
  those are accepted.
- ``v=``: the versions whose schema has the field, when not all of the kind's.

To implement a field, turn its row into ``done(...)`` naming the test that shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conveyor.shared.errors import UnsupportedField

MAX_NAMED = 10  # paths a refusal names before "and N more"
MAX_SHOWN = 60  # characters of a key or value shown in a message


class _OwnNamespace:
    """A value of ``unless=``: the object's own namespace."""

    def __repr__(self) -> str:
        return "the object's own namespace"


OWN_NAMESPACE = _OwnNamespace()


@dataclass(frozen=True)
class Field:
    test: str = ""  # implemented: the test that shows it; "" unsupported
    values: tuple[object, ...] = ()  # the only values accepted (none: any, when implemented)
    versions: tuple[str, ...] = ()  # the versions whose schema has it; (): every version
    note: str = ""

    @property
    def implemented(self) -> bool:
        return bool(self.test)


def done(test: str, *, only: tuple[object, ...] = (), v: str = "", note: str = "") -> Field:
    return Field(test=test, values=only, versions=tuple(v.split()), note=note)


def unsupported(*, unless: tuple[object, ...] = (), v: str = "", note: str = "") -> Field:
    return Field(values=unless, versions=tuple(v.split()), note=note)


# Versions served by no vendored CRD, read with the schema of a later version that has every
# field they have: image.toolkit.fluxcd.io/v1alpha2 (image-reflector-controller < v0.23,
# image-automation-controller < v0.27), whose fields are a subset of v1beta1's.
OLDER_SCHEMAS: dict[str, str] = {"v1alpha2": "v1beta1"}

# The tests the table names, by file (tests/<file>.py::<function>).
_T = "tests/test_fields.py::"
_SEED = "tests/e2e/test_seed_pipeline.py::test_once_commits_the_newest_tag_and_nothing_more"
_AS_EXPORTED = (
    "tests/e2e/test_unsupported_fields.py::"
    "test_the_seed_as_flux_exports_it_runs_beside_objects_refused_by_name"
)
_NO_EFFECT = _T + "test_fields_flux_ignores_are_accepted"
_SUSPEND = _T + "test_suspend_stops_every_queued_kind"
_CROSS = _T + "test_cross_namespace_references"
_REGISTRY = _T + "test_registry_options_come_from_the_image_repository"
_SELECTOR = _T + "test_policy_selector_expressions"
_IMAGES = _T + "test_kustomization_images_as_flux_writes_them"
_SCHEDULE = "tests/test_proportion.py::test_the_schedule_takes_what_is_due_once_across_workers"
_REFS = "tests/git/test_source_refs.py::test_revision_of_each_ref"
_SSH = "tests/e2e/test_seed_over_ssh.py::test_seed_over_ssh_with_the_seed_secret"
_BOUNDED = "tests/e2e/test_bounded_waits.py::"
_GIT_TIMEOUT = _BOUNDED + "test_a_git_remote_that_never_answers_ends_once_with_the_condition"
_SCAN_TIMEOUT = _BOUNDED + "test_a_registry_that_never_answers_ends_once_with_the_condition"
_EXCLUSION = "tests/test_runtime.py::test_exclusion_list_uses_go_regexp_and_names_the_bad_pattern"
_PULL = "tests/registry/test_service_account.py::test_pull_secrets_of_the_service_account"
_CHAOS = "tests/chaos/"
_POLICY = "tests/policy/test_policy.py::"
_SEED_POLICY = _POLICY + "test_seed_policy_picks_newest_master_build"
_TAG_FILTER = "tests/policy/test_regex.py::test_tag_filter"
_DIGESTS = "tests/e2e/test_digests.py::test_always_follows_a_tag_that_moved_to_a_new_digest"
_TEMPLATES = "tests/committer/test_template.py::test_flux_documentation_templates"
_SIGNING = "tests/e2e/test_signing.py::test_commits_are_signed"
_OPTIONS = "tests/e2e/test_automation_options.py::"
_PUSH_BRANCH = _OPTIONS + "test_push_branch_is_created_then_built_upon"
_REFSPEC = _OPTIONS + "test_push_refspec"
_SSH_SIGNING = "tests/committer/test_ssh_signing.py::test_commits_are_signed_with_the_ssh_key"
_PINNED = (
    "tests/committer/test_checkout_refs.py::"
    "test_a_push_branch_starts_at_the_pinned_ref_then_is_built_upon"
)
_LABELS = _OPTIONS + "test_policy_selector_leaves_unselected_markers_alone"
_RACES = (
    _CHAOS + "test_push_races.py::test_automations_and_a_developer_racing_on_one_branch_converge"
)
_APPLY = "tests/applier/test_apply.py::"
_APPLIES = _APPLY + "test_applies_with_owner_labels_and_records_flux_inventory"
_OVERLAY = _APPLY + "test_build_overlay_target_namespace_prefix_images_patches_common_metadata"
_FORCE = _APPLY + "test_force_recreates_an_object_whose_immutable_field_changed"
_DRIFT = _APPLY + "test_a_hand_edit_is_undone_at_the_next_interval_and_recorded"
_KUBECONFIG = _APPLY + "test_kubeconfig_secret_ref_applies_to_that_cluster"
_PRUNE = _APPLY + "test_prune_deletes_what_git_removed_but_keeps_prune_disabled"
_IMPERSONATE = _APPLY + "test_a_service_account_without_rights_is_forbidden"
_BUILD = "tests/applier/test_build.py::"
_GENERATOR = _BUILD + "test_overlay_as_flux_generator"
_PATH = _BUILD + "test_generated_kustomization_lists_files_and_stops_at_nested_kustomizations"
_RECONCILE = "tests/applier/test_reconcile.py::"
_HEALTH = _RECONCILE + "test_health_checks_job_and_custom_resource_with_ready_condition"
_DEPENDS = _RECONCILE + "test_depends_on_waits_for_the_dependency_then_follows_it"
_POST_BUILD = _RECONCILE + "test_post_build_substitution_from_inline_configmap_and_secret"
_OPTIONAL = "tests/applier/test_substitute.py::test_variables_precedence_newlines_and_optional"
_RETRY = _RECONCILE + "test_retries_back_off_up_to_the_retry_interval"
_SUSPEND_KS = _RECONCILE + "test_suspend_stops_applying_and_drift_correction"
_WAIT = _RECONCILE + "test_wait_fails_naming_the_unready_object_then_passes_once_it_is_ready"
_COMPONENTS = (
    "tests/applier/test_components.py::"
    "test_components_relative_to_the_path_are_added_to_the_generated_kustomization"
)
_MISSING_COMPONENTS = (
    "tests/applier/test_components.py::test_a_missing_component_fails_the_build_unless_ignored"
)
_DELETION = (
    "tests/applier/test_deletion.py::"
    "test_deletion_policy_decides_what_a_deleted_kustomization_leaves"
)
_CEL_HEALTH = (
    "tests/applier/test_health_exprs_cluster.py::"
    "test_health_check_exprs_of_flux_s_documentation_on_the_api_server"
)
_CEL_MATCH = (
    "tests/applier/test_healthexpr.py::"
    "test_entries_match_by_group_and_kind_a_kind_wins_over_its_group_and_jobs_stay_flux_s"
)
_CEL_ORDER = (
    "tests/applier/test_healthexpr.py::"
    "test_order_in_progress_then_failed_then_current_and_none_true_is_in_progress"
)
_HOOKS = "tests/receiver/test_webhooks.py::"
_AUTHENTIC = _HOOKS + "test_authentic_requests"
_PUSHED = _HOOKS + "test_a_signed_push_requests_reconciles_of_its_resources"
_HOOK_PATH = _HOOKS + "test_status_api_shows_the_webhook_path_and_never_a_secret"
_HOOK_FILTERS = "tests/receiver/test_filters.py::"
_HOOK_TYPES = "tests/receiver/test_provider_types.py::"
# Flux's Receiver types but generic-oidc (each: a test in tests/receiver/test_provider_types.py)
_RECEIVER_TYPES = (
    "generic", "generic-hmac", "github", "gitlab", "bitbucket", "harbor", "dockerhub", "quay",
    "gcr", "nexus", "acr", "cdevents",
)

_V1 = "v1"
_V1B = "v1beta2 v1"  # not in v1beta1
_OLD = "v1beta1 v1beta2"  # not in v1
# the kinds a Receiver can wake in conveyor
_WAKES = (
    "GitRepository", "ImageRepository", "ImagePolicy", "ImageUpdateAutomation", "Kustomization"
)

# Alerts and Providers (notification-controller's event server, conveyor's notifier)
_ALERTS = "tests/receiver/test_alerts.py::"
_SOURCES = _ALERTS + "test_event_sources_by_kind_name_and_namespace"
_METADATA = _ALERTS + "test_event_metadata_and_summary_merge_as_flux_does"
_LISTS = _ALERTS + "test_inclusion_and_exclusion_lists_are_go_regexps"
_NOTIFIER = "tests/receiver/test_notifier.py::"
_DELIVERED = _NOTIFIER + "test_a_generic_hmac_alert_delivers_the_signed_event"
_SUSPENDED_ALERTS = _NOTIFIER + "test_a_suspended_alert_or_provider_sends_nothing"
_PROVIDERS = "tests/receiver/test_providers.py::"
_GENERIC = _PROVIDERS + "test_generic_posts_flux_s_event_with_the_secret_s_headers"
_SLACK = _PROVIDERS + "test_slack_attachments_with_channel_username_and_token"
_TLS_PROXY = _PROVIDERS + "test_cert_secret_ref_and_proxy_secret_ref_reach_gitea"
_V1B3 = "v1beta3"
_V1B2_3 = "v1beta2 v1beta3"
# the kinds an Alert's eventSources may name (their CRDs' enum: conveyor emits events of its
# own kinds; the others, Flux's, never match here, as in a cluster without their controllers)
_EVENT_SOURCE_KINDS = (
    "Bucket", "GitRepository", "Kustomization", "HelmRelease", "HelmChart", "HelmRepository",
    "ImageRepository", "ImagePolicy", "ImageUpdateAutomation", "OCIRepository",
    "ArtifactGenerator", "ExternalArtifact",
)
# Flux's Provider types that conveyor delivers to (each: a test in tests/receiver/)
PROVIDER_TYPES = (
    "generic", "generic-hmac", "slack", "msteams", "discord", "googlechat", "rocket", "github",
    "gitlab", "gitea", "bitbucket",
)

_CONTENT = "tests/git/test_source_content.py::"
_IGNORE = _CONTENT + "test_spec_ignore_as_flux_documents_it_overrides_the_defaults"
_INCLUDE = _CONTENT + "test_include_copies_another_artifact_and_follows_its_revision"
_SUBMODULES = _CONTENT + "test_recurse_submodules_with_the_same_credentials"
_SPARSE = _CONTENT + "test_sparse_checkout_keeps_only_the_listed_directories"
_VERIFY = "tests/git/test_source_verify.py::test_verify_head_accepts_signed_refuses_the_rest"
_VERIFY_MODES = "tests/git/test_source_verify.py::test_verify_tag_modes"

FIELDS: dict[str, dict[str, Field]] = {
    "GitRepository": {
        "spec.accessFrom": done(_NO_EFFECT, v=_OLD, note="not implemented by Flux"),
        "spec.accessFrom.namespaceSelectors": done(_NO_EFFECT, v=_OLD),
        "spec.accessFrom.namespaceSelectors[].matchLabels": done(_NO_EFFECT, v=_OLD),
        "spec.gitImplementation": done(_NO_EFFECT, v=_OLD, note="ignored since Flux 2.0"),
        "spec.ignore": done(_IGNORE),
        "spec.include": done(_INCLUDE),
        "spec.include[].fromPath": done(_INCLUDE),
        "spec.include[].repository": done(_INCLUDE),
        "spec.include[].repository.name": done(_INCLUDE),
        "spec.include[].toPath": done(_INCLUDE),
        "spec.interval": done(_SCHEDULE),
        "spec.provider": unsupported(unless=("generic",), v=_V1),
        "spec.proxySecretRef": unsupported(v=_V1),
        "spec.proxySecretRef.name": unsupported(v=_V1),
        "spec.recurseSubmodules": done(_SUBMODULES),
        "spec.ref": done(_REFS),
        "spec.ref.branch": done(_REFS),
        "spec.ref.commit": done(_REFS),
        "spec.ref.name": done(_REFS, v=_V1B),
        "spec.ref.semver": done(_REFS),
        "spec.ref.tag": done(_REFS),
        "spec.secretRef": done(_SSH),
        "spec.secretRef.name": done(_SSH),
        "spec.serviceAccountName": unsupported(v=_V1),
        "spec.sparseCheckout": done(_SPARSE, v=_V1),
        "spec.suspend": done(_SUSPEND),
        "spec.timeout": done(_GIT_TIMEOUT),
        "spec.url": done(_REFS),
        "spec.verify": done(_VERIFY),
        "spec.verify.mode": done(_VERIFY_MODES),
        "spec.verify.secretRef": done(_VERIFY),
        "spec.verify.secretRef.name": done(_VERIFY),
    },
    "ImageRepository": {
        "spec.accessFrom": unsupported(),
        "spec.accessFrom.namespaceSelectors": unsupported(),
        "spec.accessFrom.namespaceSelectors[].matchLabels": unsupported(),
        "spec.certSecretRef": done(_REGISTRY),
        "spec.certSecretRef.name": done(_REGISTRY),
        "spec.exclusionList": done(_EXCLUSION),
        "spec.image": done(_SEED),
        "spec.insecure": done(_SEED, v=_V1B),
        "spec.interval": done(_SCHEDULE),
        "spec.provider": unsupported(unless=("generic",), v=_V1B),
        "spec.proxySecretRef": unsupported(v=_V1B),
        "spec.proxySecretRef.name": unsupported(v=_V1B),
        "spec.secretRef": done(_REGISTRY),
        "spec.secretRef.name": done(_REGISTRY),
        "spec.serviceAccountName": done(_PULL),
        "spec.suspend": done(_SUSPEND),
        "spec.timeout": done(_SCAN_TIMEOUT),
    },
    "ImagePolicy": {
        "spec.digestReflectionPolicy": done(_DIGESTS, v=_V1B),
        "spec.filterTags": done(_SEED_POLICY),
        "spec.filterTags.extract": done(_POLICY + "test_extract_forms"),
        "spec.filterTags.pattern": done(_TAG_FILTER),
        "spec.imageRepositoryRef": done(_SEED),
        "spec.imageRepositoryRef.name": done(_SEED),
        # Flux lets a policy read another namespace's ImageRepository only by its accessFrom
        "spec.imageRepositoryRef.namespace": unsupported(unless=(OWN_NAMESPACE,)),
        "spec.interval": done(_DIGESTS, v=_V1B),
        "spec.policy": done(_SEED),
        "spec.policy.alphabetical": done(_POLICY + "test_alphabetical"),
        "spec.policy.alphabetical.order": done(_POLICY + "test_alphabetical"),
        "spec.policy.numerical": done(_POLICY + "test_numerical"),
        "spec.policy.numerical.order": done(_POLICY + "test_numerical"),
        "spec.policy.semver": done(_POLICY + "test_semver"),
        "spec.policy.semver.range": done(_POLICY + "test_semver"),
        "spec.suspend": done(_SUSPEND, v=_V1B),
    },
    "ImageUpdateAutomation": {
        "spec.git": done(_SEED),
        "spec.git.checkout": done(_SEED),
        "spec.git.checkout.ref": done(_SEED),
        "spec.git.checkout.ref.branch": done(_SEED),
        "spec.git.checkout.ref.commit": done(_PINNED),
        "spec.git.checkout.ref.name": done(_PINNED),
        "spec.git.checkout.ref.semver": done(_PINNED),
        "spec.git.checkout.ref.tag": done(_PINNED),
        "spec.git.commit": done(_SEED),
        "spec.git.commit.author": done(_SEED),
        "spec.git.commit.author.email": done(_SEED),
        "spec.git.commit.author.name": done(_SEED),
        "spec.git.commit.messageTemplate": done(_TEMPLATES),
        "spec.git.commit.messageTemplateValues": done(
            "tests/committer/test_commit_message.py::"
            "test_a_v1_template_with_values_and_sprig_functions",
            v=_V1B,
        ),
        "spec.git.commit.signingKey": done(_SIGNING),
        "spec.git.commit.signingKey.secretRef": done(_SIGNING),
        "spec.git.commit.signingKey.secretRef.name": done(_SIGNING),
        "spec.git.commit.signingKey.type": done(_SSH_SIGNING, v=_V1),
        "spec.git.push": done(_SEED),
        "spec.git.push.branch": done(_PUSH_BRANCH),
        "spec.git.push.options": done(_OPTIONS + "test_push_options_reach_the_remote"),
        "spec.git.push.refspec": done(_REFSPEC),
        "spec.interval": done(_SCHEDULE),
        "spec.policySelector": done(_LABELS, v=_V1B),
        "spec.policySelector.matchExpressions": done(_SELECTOR, v=_V1B),
        "spec.policySelector.matchExpressions[].key": done(_SELECTOR, v=_V1B),
        "spec.policySelector.matchExpressions[].operator": done(_SELECTOR, v=_V1B),
        "spec.policySelector.matchExpressions[].values": done(_SELECTOR, v=_V1B),
        "spec.policySelector.matchLabels": done(_LABELS, v=_V1B),
        "spec.sourceRef": done(_SEED),
        "spec.sourceRef.apiVersion": done(_AS_EXPORTED, note="Flux reads kind and name"),
        "spec.sourceRef.kind": done(_SEED),
        "spec.sourceRef.name": done(_SEED),
        "spec.sourceRef.namespace": done(_RACES),
        "spec.suspend": done(_SUSPEND),
        "spec.update": done(_SEED),
        "spec.update.path": done(_SEED),
        "spec.update.strategy": done(_SEED),
    },
    "Kustomization": {
        "spec.buildMetadata": unsupported(v=_V1),
        "spec.commonMetadata": done(_OVERLAY, v=_V1B),
        "spec.commonMetadata.annotations": done(_OVERLAY, v=_V1B),
        "spec.commonMetadata.labels": done(_OVERLAY, v=_V1B),
        "spec.components": done(_COMPONENTS, v=_V1B),
        "spec.decryption": unsupported(),
        "spec.decryption.provider": unsupported(),
        "spec.decryption.secretRef": unsupported(),
        "spec.decryption.secretRef.name": unsupported(),
        "spec.decryption.serviceAccountName": unsupported(v=_V1),
        "spec.deletionPolicy": done(_DELETION, v=_V1),
        "spec.dependsOn": done(_DEPENDS),
        "spec.dependsOn[].name": done(_DEPENDS),
        "spec.dependsOn[].namespace": done(_CROSS),
        "spec.dependsOn[].readyExpr": unsupported(v=_V1),
        "spec.force": done(_FORCE),
        "spec.healthCheckExprs": done(_CEL_HEALTH, v=_V1),
        "spec.healthCheckExprs[].apiVersion": done(_CEL_MATCH, v=_V1),
        "spec.healthCheckExprs[].current": done(_CEL_HEALTH, v=_V1),
        "spec.healthCheckExprs[].failed": done(_CEL_HEALTH, v=_V1),
        "spec.healthCheckExprs[].inProgress": done(_CEL_ORDER, v=_V1),
        "spec.healthCheckExprs[].kind": done(_CEL_MATCH, v=_V1),
        "spec.healthChecks": done(_HEALTH),
        "spec.healthChecks[].apiVersion": done(_HEALTH),
        "spec.healthChecks[].kind": done(_HEALTH),
        "spec.healthChecks[].name": done(_HEALTH),
        "spec.healthChecks[].namespace": done(_HEALTH),
        "spec.ignore": unsupported(v=_V1),
        "spec.ignoreMissingComponents": done(_MISSING_COMPONENTS, v=_V1),
        "spec.ignore[].paths": unsupported(v=_V1),
        "spec.ignore[].target": unsupported(v=_V1),
        "spec.ignore[].target.annotationSelector": unsupported(v=_V1),
        "spec.ignore[].target.group": unsupported(v=_V1),
        "spec.ignore[].target.kind": unsupported(v=_V1),
        "spec.ignore[].target.labelSelector": unsupported(v=_V1),
        "spec.ignore[].target.name": unsupported(v=_V1),
        "spec.ignore[].target.namespace": unsupported(v=_V1),
        "spec.ignore[].target.version": unsupported(v=_V1),
        "spec.images": done(_OVERLAY),
        "spec.images[].digest": done(_IMAGES),
        "spec.images[].name": done(_OVERLAY),
        "spec.images[].newName": done(_IMAGES),
        "spec.images[].newTag": done(_OVERLAY),
        "spec.interval": done(_DRIFT),
        "spec.kubeConfig": done(_KUBECONFIG),
        "spec.kubeConfig.configMapRef": unsupported(v=_V1),
        "spec.kubeConfig.configMapRef.name": unsupported(v=_V1),
        "spec.kubeConfig.secretRef": done(_KUBECONFIG),
        "spec.kubeConfig.secretRef.key": done(_T + "test_kubeconfig_secret_ref_key", v=_V1B),
        "spec.kubeConfig.secretRef.name": done(_KUBECONFIG),
        "spec.namePrefix": done(_OVERLAY, v=_V1),
        "spec.nameSuffix": done(_GENERATOR, v=_V1),
        "spec.patches": done(_OVERLAY),
        # v1beta1 and v1beta2 patches as kustomize-controller v0.x applies them (v1 has none)
        "spec.patchesJson6902": done(_GENERATOR, v=_OLD),
        "spec.patchesJson6902[].patch": done(_GENERATOR, v=_OLD),
        "spec.patchesJson6902[].patch[].from": done(_GENERATOR, v=_OLD),
        "spec.patchesJson6902[].patch[].op": done(_GENERATOR, v=_OLD),
        "spec.patchesJson6902[].patch[].path": done(_GENERATOR, v=_OLD),
        "spec.patchesJson6902[].patch[].value": done(_GENERATOR, v=_OLD),
        "spec.patchesJson6902[].target": done(_GENERATOR, v=_OLD),
        "spec.patchesJson6902[].target.annotationSelector": done(_GENERATOR, v=_OLD),
        "spec.patchesJson6902[].target.group": done(_GENERATOR, v=_OLD),
        "spec.patchesJson6902[].target.kind": done(_GENERATOR, v=_OLD),
        "spec.patchesJson6902[].target.labelSelector": done(_GENERATOR, v=_OLD),
        "spec.patchesJson6902[].target.name": done(_GENERATOR, v=_OLD),
        "spec.patchesJson6902[].target.namespace": done(_GENERATOR, v=_OLD),
        "spec.patchesJson6902[].target.version": done(_GENERATOR, v=_OLD),
        "spec.patchesStrategicMerge": done(_GENERATOR, v=_OLD),
        "spec.patches[].patch": done(_OVERLAY),
        "spec.patches[].target": done(_OVERLAY),
        "spec.patches[].target.annotationSelector": done(_OVERLAY),
        "spec.patches[].target.group": done(_OVERLAY),
        "spec.patches[].target.kind": done(_OVERLAY),
        "spec.patches[].target.labelSelector": done(_OVERLAY),
        "spec.patches[].target.name": done(_OVERLAY),
        "spec.patches[].target.namespace": done(_OVERLAY),
        "spec.patches[].target.version": done(_OVERLAY),
        "spec.path": done(_PATH),
        "spec.postBuild": done(_POST_BUILD),
        "spec.postBuild.substitute": done(_POST_BUILD),
        "spec.postBuild.substituteFrom": done(_POST_BUILD),
        "spec.postBuild.substituteFrom[].kind": done(_POST_BUILD),
        "spec.postBuild.substituteFrom[].name": done(_POST_BUILD),
        "spec.postBuild.substituteFrom[].optional": done(_OPTIONAL, v=_V1B),
        "spec.postBuild.substituteStrategy": unsupported(unless=("WithVariables",), v=_V1),
        "spec.prune": done(_PRUNE),
        "spec.retryInterval": done(_RETRY),
        "spec.serviceAccountName": done(_IMPERSONATE),
        "spec.sourceRef": done(_APPLIES),
        "spec.sourceRef.apiVersion": done(_CROSS, note="Flux reads kind and name"),
        "spec.sourceRef.kind": done(_CROSS, only=("GitRepository",)),
        "spec.sourceRef.name": done(_APPLIES),
        "spec.sourceRef.namespace": done(_CROSS),
        "spec.suspend": done(_SUSPEND_KS),
        "spec.targetNamespace": done(_OVERLAY),
        "spec.timeout": done(_WAIT),
        "spec.validation": done(_NO_EFFECT, v=_OLD, note="not used since Flux 2.0"),
        "spec.wait": done(_WAIT, v=_V1B),
    },
    "Receiver": {
        "spec.events": done(_AUTHENTIC),
        "spec.interval": done(_T + "test_a_receiver_reads_its_secret_at_each_delivery", v=_V1B),
        "spec.oidcProviders": unsupported(v=_V1),
        "spec.oidcProviders[].audience": unsupported(v=_V1),
        "spec.oidcProviders[].issuerURL": unsupported(v=_V1),
        "spec.oidcProviders[].validations": unsupported(v=_V1),
        "spec.oidcProviders[].validations[].expression": unsupported(v=_V1),
        "spec.oidcProviders[].validations[].message": unsupported(v=_V1),
        "spec.oidcProviders[].variables": unsupported(v=_V1),
        "spec.oidcProviders[].variables[].expression": unsupported(v=_V1),
        "spec.oidcProviders[].variables[].name": unsupported(v=_V1),
        "spec.resourceFilter": done(
            _HOOK_FILTERS + "test_the_documented_resource_filter_wakes_what_the_tag_names", v=_V1
        ),
        "spec.resources": done(_PUSHED),
        "spec.resources[].apiVersion": done(
            _HOOK_FILTERS + "test_what_cannot_be_woken_answers_500_and_the_rest_is_woken"
        ),
        "spec.resources[].filter": done(
            _HOOK_FILTERS + "test_the_documented_per_resource_filter_stacks_with_the_top_one",
            v=_V1,
        ),
        "spec.resources[].kind": done(_PUSHED, only=_WAKES),
        "spec.resources[].matchLabels": done(
            _HOOK_FILTERS + "test_match_labels_alone_wakes_every_labelled_object"
        ),
        "spec.resources[].name": done(_PUSHED),
        "spec.resources[].namespace": done(_CROSS),
        "spec.secretRef": done(_HOOK_PATH),
        "spec.secretRef.name": done(_HOOK_PATH),
        "spec.suspend": done(_T + "test_a_suspended_receiver_answers_503"),
        "spec.type": done(
            _HOOK_TYPES + "test_bitbucket_server_refs_changed_signed_in_x_hub_signature",
            only=_RECEIVER_TYPES,
        ),
    },
    "Provider": {
        "spec.address": done(_GENERIC),
        "spec.certSecretRef": done(_TLS_PROXY),
        "spec.certSecretRef.name": done(_TLS_PROXY),
        "spec.channel": done(_SLACK),
        "spec.commitStatusExpr": unsupported(v=_V1B3),
        "spec.interval": done(
            _NOTIFIER + "test_a_provider_reads_its_secrets_at_each_delivery", v=_V1B2_3,
            note="v1beta2: how often Flux re-read the Secret; conveyor reads it at each event",
        ),
        "spec.proxy": done(_PROVIDERS + "test_the_deprecated_proxy_field_and_secret_key"),
        "spec.proxySecretRef": done(_TLS_PROXY, v=_V1B3),
        "spec.proxySecretRef.name": done(_TLS_PROXY, v=_V1B3),
        "spec.secretRef": done(_GENERIC),
        "spec.secretRef.name": done(_GENERIC),
        "spec.serviceAccountName": unsupported(v=_V1B3),
        "spec.suspend": done(_SUSPENDED_ALERTS),
        "spec.timeout": done(_NOTIFIER + "test_a_dead_endpoint_does_not_delay_another_alert"),
        "spec.type": done(_PROVIDERS + "test_each_type_s_payload", only=PROVIDER_TYPES),
        "spec.username": done(_SLACK),
    },
    "Alert": {
        "spec.eventMetadata": done(_METADATA, v=_V1B2_3),
        "spec.eventSeverity": done(_ALERTS + "test_error_severity_sends_only_errors"),
        "spec.eventSources": done(_SOURCES),
        "spec.eventSources[].apiVersion": done(_SOURCES, note="Flux does not match on it"),
        "spec.eventSources[].kind": done(_SOURCES, only=_EVENT_SOURCE_KINDS),
        "spec.eventSources[].matchLabels": done(
            _ALERTS + "test_match_labels_read_the_labels_of_the_stored_object"
        ),
        "spec.eventSources[].name": done(_SOURCES),
        "spec.eventSources[].namespace": done(_SOURCES),
        "spec.exclusionList": done(_LISTS),
        "spec.inclusionList": done(_LISTS, v=_V1B2_3),
        "spec.providerRef": done(_DELIVERED),
        "spec.providerRef.name": done(_DELIVERED),
        "spec.summary": done(_METADATA),
        "spec.suspend": done(_SUSPENDED_ALERTS),
    },
}

# The paths below which the table has fields (objects and arrays of objects walked into).
_PARENTS: dict[str, frozenset[str]] = {
    kind: frozenset(
        path[: path.rindex(".")].removesuffix("[]") for path in table if path.count(".") > 1
    )
    for kind, table in FIELDS.items()
}


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def _name(key: object) -> str:
    text = str(key)
    if not text.isprintable() or len(text) > MAX_SHOWN:
        return _show(text)
    return text


def _allowed(value: object, values: tuple[object, ...], namespace: str) -> bool:
    return any(
        (a is OWN_NAMESPACE and value == namespace) or (type(value) is type(a) and value == a)
        for a in values
    )


def refusals(kind: str, api_version: str, spec: Any, namespace: str) -> tuple[str, ...]:
    """What in ``spec`` (an object's raw spec, as read) conveyor refuses, one message a field:
    the unsupported ones, and those that are no field of ``api_version``'s schema."""
    table = FIELDS.get(kind)
    if table is None or not isinstance(spec, dict):
        return ()
    version = api_version.rpartition("/")[2]
    version = OLDER_SCHEMAS.get(version, version)
    found: list[str] = []
    parents = _PARENTS[kind]

    def walk(path: str, shown: str, value: dict[Any, Any]) -> None:
        for key, child in value.items():
            here, name = f"{path}.{key}", f"{shown}.{_name(key)}"
            if child is None:
                continue
            field = table.get(here)
            if field is None or (field.versions and version not in field.versions):
                elsewhere = f" (it is in {', '.join(field.versions)})" if field else ""
                found.append(f"{name} is not a field of {kind} {api_version}{elsewhere}")
                continue
            if child == [] or (child == {} and here not in parents):  # an object {} is set
                continue
            if field.values and not _allowed(child, field.values, namespace):
                only = ", ".join(_show(v) for v in field.values)
                found.append(f"{name}: {_show(child)} is not supported by conveyor (only {only})")
                continue
            if not field.implemented and not field.values:
                found.append(f"{name} is not supported by conveyor")
                continue
            if here in parents:
                if isinstance(child, dict):
                    walk(here, name, child)
                elif isinstance(child, list):
                    for i, item in enumerate(child):
                        if isinstance(item, dict):
                            walk(f"{here}[]", f"{name}[{i}]", item)

    walk("spec", "spec", spec)
    return tuple(found)


def message(refused: tuple[str, ...]) -> str:
    """The Stalled message of an object with ``refused`` fields (at most MAX_NAMED named)."""
    text = "; ".join(refused[:MAX_NAMED])
    more = len(refused) - MAX_NAMED
    return text + (f"; and {more} more" if more > 0 else "")


def check(unsupported_fields: tuple[str, ...]) -> None:
    """Raise ``UnsupportedField`` when an object's spec has refused fields."""
    if unsupported_fields:
        raise UnsupportedField(message(unsupported_fields))
