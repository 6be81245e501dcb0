"""The rules of OpenKruise v1.9.0's validating webhooks (pkg/webhook/*/validating) that the CRD schema cannot
state, through the real API server and our webhooks, on CREATE and on UPDATE (README "Admission rules"). Each bad
object is refused by the validating webhook with the exact field path and message and leaves nothing behind (a
refused create stores nothing, a refused update changes nothing); the matching good object is accepted. Sent as
raw API calls (what `kubectl create --validate=false` sends), so only the server judges. No pod runs: replicas 0
and a node selector no node has (one CloneSet case needs replicas 1: its pod stays Pending). The manager runs with
StatefulSetAutoResizePVCGate and ResourcesDeletionProtection for this module (the volumeClaimTemplates and
delete-protection rules exist only with them, as upstream). Follows no upstream e2e case: upstream tests these
rules in unit tests only (pkg/webhook/*/validating/*_test.go)."""
from __future__ import annotations

import copy
import re
import uuid

import pytest
from kubernetes.client import StorageV1Api
from kubernetes.client.rest import ApiException

from tests.e2e.test_kubernetes_validation import (NOWHERE, _call, delete_sidecarsets, refusal, refused_naming,
                                                  stored, united)
from tests.kube import Cluster
from tests.manager import with_feature_gates

LABELS = {"app": "ruled"}
CONTAINER = {"name": "main", "image": "nginx:alpine"}


@pytest.fixture(scope="module", autouse=True)
def gated_manager(sandbox, kruise):
    yield from with_feature_gates(sandbox, kruise, "StatefulSetAutoResizePVCGate=true,ResourcesDeletionProtection=true")


@pytest.fixture(scope="module")
def ns(cluster: Cluster):
    """One namespace for the module: every case names its objects uniquely."""
    name = f"webhook-rules-{uuid.uuid4().hex[:5]}"
    cluster.create_namespace(name)
    yield name
    cluster.delete_namespace(name, wait=False)


def asts(**spec) -> dict:
    base = {"replicas": 0, "serviceName": "ruled", "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": LABELS},
            "template": {"metadata": {"labels": LABELS},
                         "spec": {"readinessGates": [{"conditionType": "InPlaceUpdateReady"}],
                                  "containers": [copy.deepcopy(CONTAINER)], "nodeSelector": NOWHERE}}}
    return {"apiVersion": "apps.kruise.io/v1beta1", "kind": "StatefulSet", "metadata": {}, "spec": {**base, **spec}}


def rolling(**fields) -> dict:
    return {"type": "RollingUpdate", "rollingUpdate": fields}


def priority(*selectors: dict) -> dict:
    terms = [{"weight": 10, "matchSelector": s} for s in selectors]
    return rolling(unorderedUpdate={"priorityStrategy": {"weightPriority": terms}})


PRIORITY = "spec.updateStrategy.rollingUpdate.unorderedUpdate.priorityStrategy"
GOOD_SELECTOR = {"matchLabels": {"tier": "high"}}
# (rule id in policies/admission, bad object, its good twin, the field named, the message after `<field>: `)
CREATE = [
    ("statefulset reserve-ordinals-forms (negative)", asts(reserveOrdinals=[1, -1]), asts(reserveOrdinals=[1, 0]),
     "spec.reserveOrdinals[1]", "Invalid value: -1: 1 th reserve ordinal is negative: -1"),
    ("statefulset reserve-ordinals-forms (a number as a string)", asts(reserveOrdinals=["5"]),
     asts(reserveOrdinals=["5-5"]), "spec.reserveOrdinals[0]",
     'Invalid value: "5": 0 th reserve ordinal is not a valid range: 5'),
    ("statefulset reserve-ordinals-forms (reversed range)", asts(reserveOrdinals=[2, "7-3"]),
     asts(reserveOrdinals=[2, "3-7"]), "spec.reserveOrdinals[1]",
     'Invalid value: "7-3": 1 th reserve ordinal is invalid: 7-3, err = invalid range 7-3'),
    ("statefulset scale-max-unavailable-positive", asts(scaleStrategy={"maxUnavailable": "0%"}),
     asts(scaleStrategy={"maxUnavailable": "1%"}), "spec.scaleStrategy.maxUnavailable",
     "Invalid value: should not be less than 1"),
    ("statefulset scale-max-unavailable-needs-parallel",
     asts(podManagementPolicy="OrderedReady", scaleStrategy={"maxUnavailable": 2}, updateStrategy=rolling()),
     asts(podManagementPolicy="OrderedReady", scaleStrategy={"maxUnavailable": 1}, updateStrategy=rolling()),
     "spec.scaleStrategy.maxUnavailable", "Invalid value: can only work with Parallel PodManagementPolicyType"),
    ("statefulset max-unavailable-needs-parallel",
     asts(podManagementPolicy="OrderedReady", updateStrategy=rolling(maxUnavailable=2)),
     asts(podManagementPolicy="Parallel", updateStrategy=rolling(maxUnavailable=2)),
     "spec.updateStrategy.rollingUpdate.maxUnavailable",
     "Invalid value: maxUnavailable can just work with Parallel PodManagementPolicyType"),
    ("statefulset unordered-update-needs-parallel",
     asts(podManagementPolicy="OrderedReady", updateStrategy=priority(GOOD_SELECTOR)),
     asts(updateStrategy=priority(GOOD_SELECTOR)), "spec.updateStrategy.rollingUpdate.unorderedUpdate",
     "Invalid value: unorderedUpdate can only work with Parallel PodManagementPolicyType"),
    ("statefulset priority-weight-selector-not-empty", asts(updateStrategy=priority({})),
     asts(updateStrategy=priority(GOOD_SELECTOR)), f"{PRIORITY}.weightPriority[0].matchSelector",
     "Invalid value: selector can not be empty"),
    ("statefulset priority-weight-selector-syntax",
     asts(updateStrategy=priority(GOOD_SELECTOR, {"matchLabels": {"bad key": "x"}})),
     asts(updateStrategy=priority(GOOD_SELECTOR, {"matchLabels": {"good-key": "x"}})),
     f"{PRIORITY}.weightPriority[1].matchSelector.matchLabels", 'Invalid value: "bad key"'),
    ("statefulset selector-not-empty", asts(selector={}), asts(), "spec.selector",
     "Invalid value: empty selector is invalid for statefulset"),
    ("statefulset template-no-active-deadline",
     asts(template={"metadata": {"labels": LABELS}, "spec": {
         "containers": [CONTAINER], "nodeSelector": NOWHERE, "activeDeadlineSeconds": 5}}), asts(),
     "spec.template.spec.activeDeadlineSeconds", "Forbidden: activeDeadlineSeconds in StatefulSet is not Supported"),
]


def ud(*subsets: dict) -> dict:
    obj = united("cloneSetTemplate")
    obj["spec"]["topology"]["subsets"] = [{"name": "subset-a"}, *subsets]
    return obj


def ud_of(template_kind: str, **changes) -> dict:
    """A UnitedDeployment of one template kind with `changes` (dotted paths under spec; `__` for dots)."""
    obj = united(template_kind)
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = obj["spec"]
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value
    return obj


ASTS_T, STS_T, DEPLOY_T = "advancedStatefulSetTemplate", "statefulSetTemplate", "deploymentTemplate"
RESERVE = {"type": "Adaptive", "adaptive": {"reserveUnschedulablePods": True}}


def placed(name: str = "subset-b", operator: str = "In", effect: str = "NoSchedule") -> dict:
    return {"name": name, "nodeSelectorTerm": {"matchExpressions": [{"key": "zone", "operator": operator,
                                                                      "values": ["a"]}]},
            "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": effect}]}


def sidecarset(selector: dict, scatter: list | None = None) -> dict:
    strategy = {"type": "RollingUpdate", "priorityStrategy": {"weightPriority": [{"weight": 5, "matchSelector": selector}]}}
    if scatter is not None:
        strategy["scatterStrategy"] = scatter
    return {"apiVersion": "apps.kruise.io/v1beta1", "kind": "SidecarSet", "metadata": {},
            "spec": {"selector": {"matchLabels": {"ruled": uuid.uuid4().hex[:8]}},
                     "containers": [{"name": "side", "image": "busybox:1"}], "updateStrategy": strategy}}


CREATE += [
    ("uniteddeployment kubernetes-validation-placement (nodeSelectorTerm)", ud(placed(operator="Near")), ud(placed()),
     "spec.topology.subsets[1].nodeSelectorTerm.matchExpressions[0].operator",
     'Invalid value: "Near": not a valid selector operator'),
    ("uniteddeployment kubernetes-validation-placement (tolerations)", ud(placed(effect="Sometimes")), ud(placed()),
     "spec.topology.subsets[1].tolerations[0].effect", 'Unsupported value: "Sometimes"'),
    ("uniteddeployment reserve-stateless-only", ud_of(ASTS_T, topology__scheduleStrategy=RESERVE),
     ud_of("cloneSetTemplate", topology__scheduleStrategy=RESERVE), "spec.topology.scheduleStrategy",
     "Invalid value: only stateless workloads (Deployment and CloneSet) are supported by reserved rescheduling"),
    ("uniteddeployment selector-match-labels (beyond upstream)",
     ud_of(DEPLOY_T, selector={"matchExpressions": [{"key": "app", "operator": "In", "values": ["judged"]}]}),
     ud_of(DEPLOY_T), "spec.selector.matchLabels",
     "Required value: the subset workloads' selectors are built from matchLabels, so it must not be empty"),
    ("uniteddeployment adaptive-no-subset-replicas",
     ud_of(DEPLOY_T, topology__scheduleStrategy={"type": "Adaptive"}, topology__subsets=[{"name": "a", "replicas": 0}]),
     ud_of(DEPLOY_T, topology__scheduleStrategy={"type": "Adaptive"}, topology__subsets=[{"name": "a"}]),
     "spec.topology.subsets[0].replicas",
     "Forbidden: specify replicas use minReplicas/maxReplicas to enable adaptive strategy"),
    ("uniteddeployment partitions-name-subsets",
     ud_of(DEPLOY_T, updateStrategy={"type": "Manual", "manualUpdate": {"partitions": {"nope": 0}}}),
     ud_of(DEPLOY_T, updateStrategy={"type": "Manual", "manualUpdate": {"partitions": {"subset-a": 0}}}),
     "spec.updateStrategy.manualUpdate.partitions[nope]", 'Invalid value: "nope": subset does not exist'),
    ("uniteddeployment statefulset-template-no-partition",
     ud_of(STS_T, template__statefulSetTemplate__spec__updateStrategy=rolling(partition=1)),
     ud_of(STS_T, template__statefulSetTemplate__spec__updateStrategy=rolling()),
     "spec.template.statefulSetTemplate.spec.updateStrategy.rollingUpdate.partition",
     "Invalid value: 1: partition in statefulSetTemplate will not be used"),
    # Only with type RollingUpdate given, as upstream (the template is not defaulted): else the partition is unused.
    ("uniteddeployment advanced-statefulset-template-no-partition",
     ud_of(ASTS_T, template__advancedStatefulSetTemplate__spec__updateStrategy=rolling(partition=2)),
     ud_of(ASTS_T, template__advancedStatefulSetTemplate__spec__updateStrategy={"rollingUpdate": {"partition": 2}}),
     "spec.template.advancedStatefulSetTemplate.spec.updateStrategy.rollingUpdate.partition",
     "Invalid value: 2: partition in advancedStatefulSetTemplate will not be used"),
    ("uniteddeployment advanced-statefulset-template-no-replicas",
     ud_of(ASTS_T, template__advancedStatefulSetTemplate__spec__replicas=2), ud_of(ASTS_T),
     "spec.template.advancedStatefulSetTemplate.spec.replicas",
     "Invalid value: replicas are set per subset by the UnitedDeployment; remove them from the template"),
    ("uniteddeployment deployment-template-restart-policy",
     ud_of(DEPLOY_T, template__deploymentTemplate__spec__template__spec__restartPolicy="OnFailure"), ud_of(DEPLOY_T),
     "spec.template.deploymentTemplate.spec.template.spec.restartPolicy", 'Unsupported value: supported values: "Always"'),
    ("sidecarset weight-priority-selector-syntax", sidecarset({"matchLabels": {"bad key": "x"}}),
     sidecarset(GOOD_SELECTOR, scatter=[{"key": "zone", "value": "a"}]),
     "spec.updateStrategy.priorityStrategy.weightPriority[0].matchSelector.matchLabels", 'Invalid value: "bad key"'),
]


def clone(**spec) -> dict:
    base = {"replicas": 0, "selector": {"matchLabels": LABELS},
            "template": {"metadata": {"labels": LABELS},
                         "spec": {"containers": [copy.deepcopy(CONTAINER)], "nodeSelector": NOWHERE}}}
    return {"apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet", "metadata": {}, "spec": {**base, **spec}}


def clone_pod(**fields) -> dict:
    return {"metadata": {"labels": LABELS},
            "spec": {"containers": [copy.deepcopy(CONTAINER)], "nodeSelector": NOWHERE, **fields}}


def weight_term(selector: dict) -> dict:
    return {"priorityStrategy": {"weightPriority": [{"weight": 5, "matchSelector": selector}]}}


DATA_CLAIM = {"metadata": {"name": "data"},
              "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
MOUNTS_DATA = {"containers": [{**CONTAINER, "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}

# CloneSet: v1.9.0 validateCloneSetSpec, validateScaleStrategy, validateUpdateStrategy, one case per rule, with
# upstream's words (README "Admission rules", CloneSet rows).
CREATE += [
    ("cloneset selector-not-empty", clone(selector={}), clone(), "spec.selector",
     "Invalid value: empty selector is invalid for cloneset"),
    ("cloneset template-restart-policy", clone(template=clone_pod(restartPolicy="Never")),
     clone(template=clone_pod(restartPolicy="Always")), "spec.template.spec.restartPolicy",
     'Unsupported value: "Never": supported values: "Always"'),
    ("cloneset template-no-active-deadline", clone(template=clone_pod(activeDeadlineSeconds=5)), clone(),
     "spec.template.spec.activeDeadlineSeconds", "Forbidden: activeDeadlineSeconds in cloneset is not Supported"),
    ("cloneset pods-to-delete-unique", clone(scaleStrategy={"podsToDelete": ["gone", "gone"]}),
     clone(scaleStrategy={"podsToDelete": []}), "spec.scaleStrategy.podsToDelete",
     'Invalid value: ["gone", "gone"]: duplicated items [gone]'),
    ("cloneset in-place-only-no-surge", clone(updateStrategy={"type": "InPlaceOnly", "maxSurge": 1}),
     clone(updateStrategy={"type": "InPlaceIfPossible", "maxSurge": 1}), "spec.updateStrategy.maxSurge",
     "Invalid value: 1: can not use maxSurge with strategy type InPlaceOnly"),
    ("cloneset unavailable-or-surge", clone(replicas=1, updateStrategy={"maxUnavailable": 0, "maxSurge": 0}),
     clone(replicas=1, updateStrategy={"maxUnavailable": 0, "maxSurge": "1%"}), "spec.updateStrategy.maxUnavailable",
     "Invalid value: maxUnavailable and maxSurge should not both be less than 1"),
    ("cloneset priority-weight-selector-not-empty", clone(updateStrategy=weight_term({})),
     clone(updateStrategy=weight_term(GOOD_SELECTOR)), "spec.updateStrategy.priorityStrategy.weightPriority[0].matchSelector",
     "Invalid value: selector can not be empty"),
    ("cloneset priority-weight-selector-syntax", clone(updateStrategy=weight_term({"matchLabels": {"bad key": "x"}})),
     clone(updateStrategy=weight_term({"matchLabels": {"good-key": "x"}})),
     "spec.updateStrategy.priorityStrategy.weightPriority[0].matchSelector.matchLabels", 'Invalid value: "bad key"'),
    ("cloneset progress-deadline-after-min-ready", clone(progressDeadlineSeconds=5, minReadySeconds=5),
     clone(progressDeadlineSeconds=6, minReadySeconds=5), "spec.progressDeadlineSeconds",
     "Invalid value: 5: must be greater than minReadySeconds"),
    ("cloneset fractional percentages (ParseFloat)", clone(updateStrategy={"partition": "12.5"}),
     clone(updateStrategy={"partition": "12.5%", "maxUnavailable": "0.5%", "maxSurge": "1.5%"}),
     "spec.updateStrategy.partition", 'Invalid value: "12.5": must be a non-negative integer or a percentage'),
    # The claims are the pods' volumes (mocked into the template, as upstream): a mount may name one, and a
    # template volume of a claim's name is a duplicate, named where upstream names it.
    ("cloneset kubernetes-validation (claims are volumes)",
     clone(volumeClaimTemplates=[DATA_CLAIM], template=clone_pod(volumes=[{"name": "data", "emptyDir": {}}])),
     clone(volumeClaimTemplates=[DATA_CLAIM], template=clone_pod(**MOUNTS_DATA)),
     "spec.template.spec.volumes[1].name", 'Duplicate value: "data"'),
    ("statefulset kubernetes-validation (claims are volumes)",
     asts(volumeClaimTemplates=[DATA_CLAIM], template={"metadata": {"labels": LABELS}, "spec": {
         "containers": [CONTAINER], "nodeSelector": NOWHERE, "volumes": [{"name": "data", "emptyDir": {}}]}}),
     asts(volumeClaimTemplates=[DATA_CLAIM], template={"metadata": {"labels": LABELS}, "spec": {
         "readinessGates": [{"conditionType": "InPlaceUpdateReady"}], "nodeSelector": NOWHERE, **MOUNTS_DATA}}),
     "spec.template.spec.volumes[1].name", 'Duplicate value: "data"'),
]


def _named(obj: dict, case: str) -> dict:
    out = copy.deepcopy(obj)
    out["metadata"]["name"] = re.sub(r"[^a-z0-9]+", "-", case.lower()).strip("-")[:50] + "-" + uuid.uuid4().hex[:4]
    return out


@pytest.mark.parametrize("case, bad, good, path, message", CREATE, ids=[c[0] for c in CREATE])
def test_create_refused_naming_the_field_and_good_twin_accepted(cluster: Cluster, ns: str, case, bad, good,
                                                                 path, message):
    bad, good = _named(bad, case), _named(good, case)
    try:
        refused_naming(cluster, bad, ns, path, message)
        assert refusal(cluster, "create", good, ns, good) is None, f"the good twin of {case} was refused"
        assert stored(cluster, good, ns)
    finally:
        if stored(cluster, good, ns):
            delete_sidecarsets(cluster, [good])     # cluster-scoped: the namespace's deletion does not take them


def claim(storage: str = "1Gi", modes: tuple[str, ...] = ("ReadWriteOnce",), name: str = "data") -> dict:
    return {"metadata": {"name": name},
            "spec": {"accessModes": list(modes), "resources": {"requests": {"storage": storage}}}}


def with_claims(*claims: dict) -> dict:
    return asts(volumeClaimTemplates=list(claims), volumeClaimUpdateStrategy={"type": "OnPodRollingUpdate"})


IN_PLACE_ONLY = asts(updateStrategy=rolling(podUpdatePolicy="InPlaceOnly"))


def container(**fields) -> dict:
    """A spec change of the template's one container (the template's other fields kept by the merge)."""
    return {"template": {"spec": {"containers": [{**CONTAINER, **fields}]}}}


# (rule id, the stored object, a bad spec change (a JSON merge patch of spec), a good one, the field named, the
# message after `<field>: `)
UPDATE = [
    ("statefulset in-place-only-images", IN_PLACE_ONLY, container(env=[{"name": "A", "value": "b"}]),
     container(image="nginx:1.27-alpine"), "spec.template.spec",
     "Forbidden: invalid template modified with InPlaceOnly strategy, currently only image update is allowed for "
     "InPlaceOnly"),
    ("statefulset spec-update-whitelist", asts(), {"serviceName": "other"}, {"scaleStrategy": {"maxUnavailable": 2}},
     "spec.serviceName", "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals'"),
    ("cloneset spec-update-whitelist", clone(),
     {"selector": {"matchLabels": LABELS, "matchExpressions": [{"key": "app", "operator": "Exists"}]}},
     {"minReadySeconds": 5}, "spec.selector",
     "Forbidden: updates to cloneset spec for fields other than 'replicas', 'template', 'lifecycle', 'scaleStrategy', "
     "'updateStrategy', 'minReadySeconds', 'progressDeadlineSeconds', 'volumeClaimTemplates' and "
     "'revisionHistoryLimit' are forbidden"),
    ("cloneset in-place-only-images", clone(updateStrategy={"type": "InPlaceOnly"}),
     container(env=[{"name": "A", "value": "b"}]), container(image="nginx:1.27-alpine"), "spec.template.spec",
     "Forbidden: only allowed to update images in spec for InPlaceOnly, but found add /containers/0/env"),
    ("statefulset volume-claims-only-grow (added)", with_claims(claim()),
     {"volumeClaimTemplates": [claim(), claim(name="more")]}, {"volumeClaimTemplates": [claim("2Gi")]},
     "spec.volumeClaimTemplates", "Invalid value: volumeClaimTemplate can not be added or deleted when OnRollingUpdate"),
    ("statefulset volume-claims-only-grow (renamed)", with_claims(claim()),
     {"volumeClaimTemplates": [claim(name="renamed")]}, {"volumeClaimTemplates": [claim("2Gi")]},
     "spec.volumeClaimTemplates[renamed].name", "Forbidden: volumeClaimTemplate name can not be modified"),
    ("statefulset volume-claims-only-grow (access modes)", with_claims(claim()),
     {"volumeClaimTemplates": [claim(modes=("ReadWriteMany",))]}, {"volumeClaimTemplates": [claim("3Gi")]},
     "spec.volumeClaimTemplates[data]", "Invalid value: volumeClaimTemplate can not be modified when OnRollingUpdate"),
    ("uniteddeployment subset-placement-immutable", ud(placed()),
     {"topology": {"subsets": [{"name": "subset-a"}, placed(effect="NoExecute")]}},
     {"topology": {"subsets": [{"name": "subset-a"}, placed(), placed("subset-c", effect="NoExecute")]}},
     "spec.topology.subsets[1].tolerations", "Forbidden: may not be changed in an update"),
    ("uniteddeployment asts-template-update-whitelist", ud_of(ASTS_T),
     {"template": {ASTS_T: {"spec": {"serviceName": "other"}}}},
     {"template": {ASTS_T: {"spec": {"template": {"spec": {"containers": [{**CONTAINER, "image": "nginx:1.27-alpine"}]}}}}}},
     "spec.template.advancedStatefulSetTemplate.spec.serviceName",
     "Forbidden: updates to UnitedDeployment spec.template.advancedStatefulSetTemplate.spec for fields other than "
     "'template', 'updateStrategy', 'replicas' are forbidden"),
    ("statefulset volume-claims-only-grow (shrink)", with_claims(claim("2Gi")),
     {"volumeClaimTemplates": [claim("1Gi")]}, {"volumeClaimTemplates": [claim("4Gi")]},
     "spec.volumeClaimTemplates", "Forbidden: the storage request of 'data' cannot shrink"),
]


def _patch(cluster: Cluster, obj: dict, ns: str, spec: dict) -> str | None:
    return refusal(cluster, "patch", obj, ns, obj["metadata"]["name"], {"spec": spec})


@pytest.mark.parametrize("case, old, bad, good, path, message", UPDATE, ids=[c[0] for c in UPDATE])
def test_update_refused_naming_the_field_and_good_change_accepted(cluster: Cluster, ns: str, case, old, bad, good,
                                                                   path, message):
    obj = _named(old, case)
    _call(cluster, "create", obj, ns, obj)
    before = _call(cluster, "get", obj, ns, obj["metadata"]["name"])["spec"]
    error = _patch(cluster, obj, ns, bad)
    assert error is not None, f"{case}: the bad update was accepted"
    assert f'admission webhook "v{obj["kind"].lower()}.kb.io" denied the request' in error, error
    assert re.search(rf"(^|[\s\[,]){re.escape(path)}: {re.escape(message)}", error), f"{path}: {message!r} not in {error}"
    assert _call(cluster, "get", obj, ns, obj["metadata"]["name"])["spec"] == before, "a refused update changed the spec"
    assert _patch(cluster, obj, ns, good) is None, f"{case}: the good update was refused"


@pytest.fixture
def storage_classes(cluster: Cluster):
    """Two StorageClasses of a provisioner nobody runs: one that refuses expansion, one that allows it."""
    storage = StorageV1Api(cluster.api)
    names = {allow: f"webhook-rules-{'growing' if allow else 'fixed'}-{uuid.uuid4().hex[:5]}" for allow in (False, True)}
    for allow, name in names.items():
        storage.create_storage_class({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                                      "metadata": {"name": name}, "provisioner": "example.com/nobody",
                                      "allowVolumeExpansion": allow})
    yield names
    for name in names.values():
        try:
            storage.delete_storage_class(name)
        except ApiException as e:
            if e.status != 404:
                raise


def test_a_growing_claim_needs_a_storage_class_that_allows_expansion(cluster: Cluster, ns: str, storage_classes):
    """ValidateVolumeClaimTemplateUpdate (StatefulSetAutoResizePVCGate): the webhook reads the claim's
    StorageClass; `allowVolumeExpansion: false` refuses a bigger claim, naming its storage request, and changes
    nothing; the same resize on a class that allows it is accepted."""
    fixed, growing = _named(with_claims({**claim(), "spec": {**claim()["spec"], "storageClassName": storage_classes[False]}}),
                            "claims on fixed"), \
        _named(with_claims({**claim(), "spec": {**claim()["spec"], "storageClassName": storage_classes[True]}}),
               "claims on growing")
    for obj in (fixed, growing):
        _call(cluster, "create", obj, ns, obj)
    before = _call(cluster, "get", fixed, ns, fixed["metadata"]["name"])["spec"]
    bigger = {"volumeClaimTemplates": [{**claim("2Gi"), "spec": {**claim("2Gi")["spec"],
                                                                 "storageClassName": storage_classes[False]}}]}
    error = _patch(cluster, fixed, ns, bigger)
    path, message = ("spec.volumeClaimTemplates[data].spec.resources.requests.storage",
                     f"Forbidden: storage class {storage_classes[False]} does not support volume expansion")
    assert error is not None and f"{path}: {message}" in error, error
    assert _call(cluster, "get", fixed, ns, fixed["metadata"]["name"])["spec"] == before, "a refused update changed the spec"
    bigger["volumeClaimTemplates"][0]["spec"]["storageClassName"] = storage_classes[True]
    assert _patch(cluster, growing, ns, bigger) is None, "growing a claim whose class allows expansion was refused"
    stored_claim = _call(cluster, "get", growing, ns, growing["metadata"]["name"])["spec"]["volumeClaimTemplates"][0]
    assert stored_claim["spec"]["resources"]["requests"]["storage"] == "2Gi"


PROTECTION = "policy.kruise.io/delete-protection"


@pytest.mark.parametrize("kind, obj", [("CloneSet", clone()), ("StatefulSet", asts()),
                                       ("UnitedDeployment", ud_of(DEPLOY_T))], ids=["cloneset", "statefulset",
                                                                                    "uniteddeployment"])
def test_delete_protection(cluster: Cluster, ns: str, kind: str, obj: dict):
    """deletionprotection.ValidateWorkloadDeletion (feature gate ResourcesDeletionProtection): `Always` refuses
    every DELETE, `Cascading` refuses it while replicas > 0; the object stays; without the label it goes."""
    obj = _named(obj, f"protected {kind}")
    obj["metadata"]["labels"] = {PROTECTION: "Always"}
    name = obj["metadata"]["name"]
    _call(cluster, "create", obj, ns, obj)
    try:
        error = refusal(cluster, "delete", obj, ns, name)
        assert error is not None and f'admission webhook "v{kind.lower()}.kb.io" denied the request' in error, error
        assert f"forbidden by ResourcesProtectionDeletion for {PROTECTION}=Always" in error, error
        assert stored(cluster, obj, ns)
        # Cascading: refused while replicas > 0 (the pods stay Pending: no node matches)
        assert refusal(cluster, "patch", obj, ns, name, {"metadata": {"labels": {PROTECTION: "Cascading"}},
                                                         "spec": {"replicas": 1}}) is None
        error = refusal(cluster, "delete", obj, ns, name)
        assert error is not None and f"forbidden by ResourcesProtectionDeletion for {PROTECTION}=Cascading and " \
                                     "replicas 1>0" in error, error
        assert stored(cluster, obj, ns)
        assert refusal(cluster, "patch", obj, ns, name, {"spec": {"replicas": 0}}) is None
        assert refusal(cluster, "delete", obj, ns, name) is None, "Cascading with 0 replicas must allow the deletion"
    finally:
        if stored(cluster, obj, ns):    # never leave a protected object for the namespace's deletion to trip on
            _call(cluster, "patch", obj, ns, name, {"metadata": {"labels": {PROTECTION: None}}})
