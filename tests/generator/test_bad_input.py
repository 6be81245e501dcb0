"""Bad input: the error names the file and the field path, and nothing is written."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from generator import cli

from .conftest import generate
from .test_changes import edit

CLONESET = "schema/apps.kruise.io/cloneset.yaml"


def run_cli(inputs: Path, out: Path) -> int:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return cli.run(parser.parse_args(["--out-dir", str(out), "--schema-dir", str(inputs / "schema"),
                                      "--policies-dir", str(inputs / "policies")]))


CASES = {
    "unknown type": (
        CLONESET, "paused: {type: boolean,", "paused: {type: bool,",
        f"{CLONESET}: definitions.CloneSetSpec.updateStrategy.paused.type: unknown type 'bool'"),
    "missing required key": (
        CLONESET, "listKind: CloneSetList\n", "",
        f"{CLONESET}: listKind: missing required key"),
    "default of the wrong type": (
        CLONESET, "revisionHistoryLimit: {type: int32, default: 10,", "revisionHistoryLimit: {type: int32, default: ten,",
        f"{CLONESET}: definitions.CloneSetSpec.revisionHistoryLimit.default: bad default 'ten'"),
    "default outside the enum": (
        CLONESET, "default: ReCreate", "default: Recreate",
        f"{CLONESET}: definitions.CloneSetSpec.updateStrategy.type.default: bad default 'Recreate'"),
    "default below the minimum": (
        "schema/apps.kruise.io/_definitions.yaml",
        "gracePeriodSeconds:\n        type: int32\n        minimum: 0",
        "gracePeriodSeconds:\n        type: int32\n        default: -1\n        minimum: 0",
        "schema/apps.kruise.io/_definitions.yaml: definitions.InPlaceUpdateStrategy.gracePeriodSeconds.default: bad default -1"),
    "fallback of the wrong type": (
        CLONESET, "fallback: 0  #", "fallback: none  #",
        f"{CLONESET}: definitions.CloneSetSpec.minReadySeconds.fallback: bad fallback 'none'"),
    "percentage default that is not a percentage": (
        CLONESET, "default: 20%", "default: twenty",
        f"{CLONESET}: definitions.CloneSetSpec.updateStrategy.maxUnavailable.default: bad default 'twenty'"),
    "unknown definition": (
        CLONESET, "lifecycle: {ref: Lifecycle}", "lifecycle: {ref: LifeCycle}",
        f"{CLONESET}: definitions.CloneSetSpec.lifecycle.ref: unknown definition 'LifeCycle'"),
    "unknown field in a rule": (
        "policies/admission/cloneset.yaml", "field: spec.scaleStrategy.podsToDelete\n  - id: delete-protection",
        "field: spec.scaleStrategy.podToDelete\n  - id: delete-protection",
        "policies/admission/cloneset.yaml: rules[9].field: 'spec.scaleStrategy.podToDelete' is not a field of CloneSet"),
    "unknown version on a field": (
        "schema/apps.kruise.io/statefulset.yaml", "lifecycle: {ref: Lifecycle, versions: [v1beta1]}",
        "lifecycle: {ref: Lifecycle, versions: [v1beta2]}",
        "schema/apps.kruise.io/statefulset.yaml: definitions.StatefulSetSpec.lifecycle.versions: unknown version 'v1beta2'"),
    "printer column on a missing field": (
        CLONESET, "jsonPath: .status.updatedReadyReplicas", "jsonPath: .status.updatedReadReplicas",
        f"{CLONESET}: printerColumns[2].jsonPath: .status.updatedReadReplicas is not a field of CloneSet"),
    "condition on a missing field": (
        CLONESET, "defaultIf: {field: type, in:", "defaultIf: {field: kind, in:",
        f"{CLONESET}: definitions.CloneSetSpec.updateStrategy.inPlaceUpdateStrategy.defaultIf: condition reads unknown field 'kind'"),
    "invalid example": (
        CLONESET, "    replicas: 5\n", "    replicas: -5\n",
        f"{CLONESET}: example.spec.replicas: Invalid value: -5: must be greater than or equal to 0"),
    "quantity in the API schema": (
        CLONESET, "paused: {type: boolean,", "paused: {type: quantity,",
        f"{CLONESET}: definitions.CloneSetSpec.updateStrategy.paused.type: unknown type 'quantity' (a chart-values type)"),
    "chart value default that is not a quantity": (
        "schema/chart-values/manager.yaml", "default: {cpu: 100m, memory: 256Mi}", "default: {cpu: lots, memory: 256Mi}",
        "schema/chart-values/manager.yaml: values.manager.resources.requests.default: bad default"),
    "template reads a value nobody describes": (
        "schema/chart-values/webhook.yaml", "      podWebhook:", "      podHook:",
        "policies/webhooks.yaml: extra[0].enabledBy: chart value 'webhook.podWebhook.enabled' must be described"),
    "pod webhook split by an unknown kind": (
        "policies/webhooks.yaml", "        CloneSet: apps.kruise.io/cloneset-instance-id",
        "        Cloneset: apps.kruise.io/cloneset-instance-id",
        "policies/webhooks.yaml: extra[0].perWorkload.podLabels.Cloneset: unknown kind"),
    "pod webhook split by a value nobody describes": (
        "policies/webhooks.yaml", "unless: featureGates.KruisePodReadinessGate", "unless: featureGates.KruisePodReadiness",
        "policies/webhooks.yaml: extra[0].perWorkload.unless: chart value 'featureGates.KruisePodReadiness' must be described"),
    "deletion protection behind an unknown gate": (
        "policies/webhooks.yaml", "    enabledByFeatureGate: ResourcesDeletionProtection\n    since: '1.16'\n"
        "    deleteProtection: {cascading: podsAndClaims}",
        "    enabledByFeatureGate: ResourcesDeletionProtections\n    since: '1.16'\n"
        "    deleteProtection: {cascading: podsAndClaims}",
        "policies/webhooks.yaml: extra[5].enabledByFeatureGate: unknown feature gate 'ResourcesDeletionProtections'"),
    "deletion protection with an unknown cascading check": (
        "policies/webhooks.yaml", "deleteProtection: {cascading: podsAndClaims}", "deleteProtection: {cascading: pods}",
        "policies/webhooks.yaml: extra[5].deleteProtection.cascading: one of replicas, podsAndClaims, customResources"),
    "deletion protection on CREATE": (
        "policies/webhooks.yaml", "resources: [namespaces], operations: [DELETE]",
        "resources: [namespaces], operations: [CREATE, DELETE]",
        "policies/webhooks.yaml: extra[5].deleteProtection: deletion protection needs a validating webhook on DELETE only"),
    "unknown rule check": (
        "policies/admission/daemonset.yaml", "check: selectorNotEmpty\n", "check: frozen\n",
        "policies/admission/daemonset.yaml: rules[1].check: unknown check 'frozen'"),
    "unknown error type of a rule": (
        "policies/admission/daemonset.yaml", "errorType: Forbidden\n    require: {field: spec.lifecycle",
        "errorType: Denied\n    require: {field: spec.lifecycle",
        "policies/admission/daemonset.yaml: rules[5].errorType: errorType is one of Invalid, Required"),
    "admission in an unknown version": (
        "policies/admission/daemonset.yaml", "admitIn: servedVersion", "admitIn: newestVersion",
        "policies/admission/daemonset.yaml: admitIn: admitIn is storageVersion (the default) or servedVersion"),
    "conversion mapping to a field both versions have": (
        "schema/apps.kruise.io/daemonset.yaml", "storageField: status.updateRevision",
        "storageField: status.numberReady",
        "schema/apps.kruise.io/daemonset.yaml: conversionMappings.v1alpha1[0].storageField: must be a field of "
        "v1beta1 that v1alpha1 does not have"),
    "conversion mapping of an unknown field": (
        "schema/apps.kruise.io/daemonset.yaml", "{field: status.daemonSetHash,", "{field: status.daemonsetHash,",
        "schema/apps.kruise.io/daemonset.yaml: conversionMappings.v1alpha1[0].field: "
        "not a field of DaemonSet v1alpha1"),
    "rewrite in an unknown version": (
        "schema/apps.kruise.io/daemonset.yaml", "rewrite: {v1alpha1:", "rewrite: {v1alpha2:",
        "schema/apps.kruise.io/daemonset.yaml: spec.updateStrategy.rollingUpdate.rollingUpdateType.rewrite: "
        "unknown version 'v1alpha2'"),
    "default case outside the type": (
        "schema/apps.kruise.io/daemonset.yaml", "defaultCases: [{value: 1,", "defaultCases: [{value: -1,",
        "schema/apps.kruise.io/daemonset.yaml: spec.updateStrategy.rollingUpdate.maxSurge.defaultCases[0].value: "
        "bad default -1"),
    "template defaults at a field that is not a pod template": (
        "policies/admission/cloneset.yaml", "  podTemplates:\n    - spec.template\n",
        "  podTemplates:\n    - spec.selector\n",
        "policies/admission/cloneset.yaml: templateDefaults.podTemplates[0]: 'spec.selector' is not a pod template "
        "in CloneSet v1alpha1"),
    "template defaults at a missing field": (
        "policies/admission/statefulset.yaml", "    - spec.volumeClaimTemplates\n", "    - spec.claimTemplates\n",
        "policies/admission/statefulset.yaml: templateDefaults.volumeClaimTemplates[0]: 'spec.claimTemplates' is "
        "not a list of claim templates in StatefulSet v1beta1"),
    "template defaults at a wildcard path": (
        "policies/admission/cloneset.yaml", "    - spec.template\n", "    - spec.template[*]\n",
        "policies/admission/cloneset.yaml: templateDefaults.podTemplates[0]: expected a plain dotted path"),
    "template defaults turned off by an unknown gate": (
        "policies/admission/daemonset.yaml", "unlessFeatureGate: TemplateNoDefaults", "unlessFeatureGate: NoDefaults",
        "policies/admission/daemonset.yaml: templateDefaults.unlessFeatureGate: unknown feature gate 'NoDefaults'"),
    "template defaults of an unknown kind of template": (
        "policies/admission/daemonset.yaml", "  podTemplates:\n", "  jobTemplates:\n",
        "policies/admission/daemonset.yaml: templateDefaults.jobTemplates: unknown key"),
    "resource key that is not kubectl's": (
        "policies/controllers.yaml", "  controllerrevisions.apps:\n", "  controllerrevisions:\n",
        "policies/controllers.yaml: resources.controllerrevisions: a resource's key is <plural>.<group> (kubectl's): "
        "controllerrevisions.apps"),
    "controller writing a resource the table does not know": (
        "policies/controllers.yaml", "      deployments.apps: [create, patch, delete]",
        "      deployments.extensions: [create, patch, delete]",
        "policies/controllers.yaml: controllers.uniteddeployment: unknown resource 'deployments.extensions'"),
    "workload read at a version that is not stored": (
        "policies/controllers.yaml", "v1beta1  # the storage version, as for StatefulSets",
        "v1alpha1  # the storage version, as for StatefulSets",
        "policies/controllers.yaml: resources.daemonsets.apps.kruise.io.apiVersion: DaemonSet is stored as "
        "apps.kruise.io/v1beta1"),
    "controller verb that is not an RBAC verb": (
        "policies/controllers.yaml", "      pods: [patch]  # sidecar", "      pods: [mutate]  # sidecar",
        "policies/controllers.yaml: controllers.sidecarset.writes.pods: verbs are among get, list, watch, create, "
        "update, patch, delete"),
    "duplicate key": (
        CLONESET, "scope: Namespaced\n", "scope: Namespaced\nscope: Cluster\n",
        f"{CLONESET}: line"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_reported_with_file_and_path_and_nothing_is_written(
        case: str, repo_inputs: Path, tmp_path: Path, capsys) -> None:
    relative, old, new, message = CASES[case]
    out = tmp_path / "out"
    generate(repo_inputs, out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    edit(repo_inputs, relative, old, new)
    # A valid change elsewhere must not be written either: the whole run is all or nothing.
    edit(repo_inputs, "schema/apps.kruise.io/daemonset.yaml", "Stops updating pods.", "Stops the update.")

    assert run_cli(repo_inputs, out) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
