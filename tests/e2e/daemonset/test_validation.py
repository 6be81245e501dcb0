"""Every validation rule of spec A3, through the real API server (`kubectl create` and `kubectl patch`): each bad
Advanced DaemonSet is refused with the field named and the rule stated, and nothing is stored or changed. The
unit tests (`tests/unit/webhook/test_daemonset_api.py`) check the same rules on the schema alone; here the CRD's
OpenAPI schema, our mutating webhook (defaults first) and our validating webhook all take part. No upstream e2e
case covers validation. Two rules cannot be reached through the API (the mutating webhook supplies a missing
rollingUpdate and rewrites v1alpha1 Surging first); the unit tests hold them. One rule is not checked yet, for any
kind: Kubernetes' own pod template validation (`ValidatePodTemplateSpec`: a container named `Bad_Name` is accepted,
and its pods are then refused with FailedCreate events)."""
from __future__ import annotations

import copy
import json
import re

import pytest

from tests.kube import Cluster

from .helpers import Daemons, daemonset

pytestmark = pytest.mark.usefixtures("kruise")
ALPHA = "apps.kruise.io/v1alpha1"
GE0 = "greater than or equal to 0"  # the CRD schema says "should be", our webhook "must be"
RU = "spec.updateStrategy.rollingUpdate"


def _set(obj: dict, path: str, value) -> dict:
    out = copy.deepcopy(obj)
    *parents, last = path.split(".")
    target = out
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value
    return out


def rolling(**fields) -> dict:
    return {"type": "RollingUpdate", "rollingUpdate": fields}


# (what the rule is, changes {path: value} to a valid DaemonSet, the field named, the rule stated)
REFUSED = [
    ("name is a DNS subdomain", {"metadata.name": "Bad_Name"}, "metadata.name", "Invalid value"),
    ("selector is a valid label selector", {"spec.selector": {"matchLabels": {"app": "bad", "bad key!": "x"}}},
     "spec.selector.matchLabels", "Invalid value"),
    ("selector matches the template labels", {"spec.selector": {"matchLabels": {"app": "other"}}},
     "spec.template.metadata.labels", "`selector` does not match template `labels`"),
    ("selector not empty", {"spec.selector": {}}, "spec.selector", "empty selector is invalid for daemonset"),
    ("restartPolicy Always", {"spec.template.spec.restartPolicy": "Never"}, "spec.template.spec.restartPolicy",
     'supported values: "Always"'),
    ("no activeDeadlineSeconds", {"spec.template.spec.activeDeadlineSeconds": 5},
     "spec.template.spec.activeDeadlineSeconds", "activeDeadlineSeconds in DaemonSet is not Supported"),
    ("minReadySeconds >= 0", {"spec.minReadySeconds": -1}, "spec.minReadySeconds", GE0),
    ("revisionHistoryLimit >= 0", {"spec.revisionHistoryLimit": -1}, "spec.revisionHistoryLimit", GE0),
    ("no inPlaceUpdate hook", {"spec.lifecycle": {"inPlaceUpdate": {"labelsHandler": {"a": "b"}}}},
     "spec.lifecycle.inPlaceUpdate", "inPlaceUpdate hook has not supported yet"),
    ("updateStrategy.type RollingUpdate or OnDelete", {"spec.updateStrategy": {"type": "Recreate"}},
     "spec.updateStrategy.type", '"Recreate"'),
    ("maxUnavailable a valid int or percent", {"spec.updateStrategy": rolling(maxUnavailable="101%")},
     f"{RU}.maxUnavailable", "Invalid value"),
    ("maxUnavailable not negative", {"spec.updateStrategy": rolling(maxUnavailable=-1)},
     f"{RU}.maxUnavailable", "Invalid value"),
    ("maxSurge a valid int or percent", {"spec.updateStrategy": rolling(maxUnavailable=0, maxSurge="200%")},
     f"{RU}.maxSurge", "Invalid value"),
    ("not both maxSurge and maxUnavailable", {"spec.updateStrategy": rolling(maxUnavailable=1, maxSurge=1)},
     f"{RU}.maxSurge", "may not be set when maxUnavailable is non-zero"),
    ("not both zero", {"spec.updateStrategy": rolling(maxUnavailable=0, maxSurge="0%")},
     f"{RU}.maxUnavailable", "cannot be 0 when maxSurge is 0"),
    ("no surge in place", {"spec.updateStrategy": rolling(rollingUpdateType="InPlaceIfPossible", maxUnavailable=0,
                                                          maxSurge=1)},
     f"{RU}.maxSurge", "must be 0 for InPlaceIfPossible type"),
    ("rollingUpdateType Standard or InPlaceIfPossible", {"spec.updateStrategy": rolling(rollingUpdateType="Fast")},
     f"{RU}.rollingUpdateType", '"Fast"'),
    ("v1beta1 has no Surging", {"spec.updateStrategy": rolling(rollingUpdateType="Surging", maxUnavailable=0,
                                                                maxSurge=1)},
     f"{RU}.rollingUpdateType", '"Surging"'),
    ("partition not negative", {"spec.updateStrategy": rolling(partition=-1)}, f"{RU}.partition", "Invalid value"),
    ("partition at most 100%", {"spec.updateStrategy": rolling(partition="150%")}, f"{RU}.partition",
     "Invalid value"),
    ("partition a valid percent (v1alpha1)", {"apiVersion": ALPHA, "spec.updateStrategy": rolling(partition="x")},
     f"{RU}.partition", "Invalid value"),
    ("rollingUpdate.selector a valid label selector",
     {"spec.updateStrategy": rolling(selector={"matchExpressions": [{"key": "zone", "operator": "NotIn"}]})},
     f"{RU}.selector.matchExpressions[0].values", "Required value"),
    ("burstReplicas at least 1 (beyond upstream, which stalls or panics)", {"spec.burstReplicas": 0},
     "spec.burstReplicas", "Invalid value"),
    ("burstReplicas a non-zero percent", {"spec.burstReplicas": "0%"}, "spec.burstReplicas", "Invalid value"),
    ("the same rules in v1alpha1", {"apiVersion": ALPHA, "spec.updateStrategy": rolling(maxUnavailable=1, maxSurge=1)},
     f"{RU}.maxSurge", "may not be set when maxUnavailable is non-zero"),
]


def named(path: str, message: str) -> bool:
    """`message` names the field by its full path (not as the tail of a longer one): `<path>: <what>`."""
    return re.search(rf"(^|[\s\[*,]){re.escape(path)}: ", message, re.MULTILINE) is not None


def manifest(name: str, changes: dict) -> dict:
    obj = daemonset(name)
    for path, value in changes.items():
        obj = {**obj, "apiVersion": value} if path == "apiVersion" else _set(obj, path, value)
    return obj


def stored(cluster: Cluster, namespace: str) -> list[str]:
    return cluster.kubectl("get", "daemonsets.apps.kruise.io", "-o", "name", namespace=namespace).stdout.split()


@pytest.mark.parametrize("rule, changes, path, message", REFUSED, ids=[r[0] for r in REFUSED])
def test_a_bad_daemonset_is_refused_naming_the_field(cluster: Cluster, daemons: Daemons, rule, changes, path,
                                                     message):
    obj = manifest("bad", changes)
    result = cluster.kubectl("create", "--validate=false", "-f", "-", input=json.dumps(obj), check=False,
                             namespace=daemons.ns)
    assert result.returncode != 0, f"{rule}: accepted"
    assert "error validating data" not in result.stderr, f"refused by kubectl, not the API server: {result.stderr}"
    assert named(path, result.stderr), f"{rule}: {path!r} not named in: {result.stderr}"
    assert message in result.stderr, f"{rule}: {message!r} not stated in: {result.stderr}"
    assert stored(cluster, daemons.ns) == [], "a refused object is not stored"


def test_every_rule_is_refused_on_update_too_and_the_selector_is_immutable(cluster: Cluster, daemons: Daemons):
    """A3 UPDATE: the spec's other fields may change, the selector may not; and every CREATE rule applies again.
    A refused update changes nothing."""
    daemons.create(manifest("good", {"spec.template.spec.nodeSelector": {"no-such-node": "x"}}))
    before = daemons.get("good")

    def patch(body: dict):
        return cluster.kubectl("patch", "daemonsets.apps.kruise.io", "good", "--type=merge", "-p", json.dumps(body),
                               check=False, namespace=daemons.ns)

    moved = patch({"spec": {"selector": {"matchLabels": {"app": "good", "tier": "x"}},
                            "template": {"metadata": {"labels": {"tier": "x"}}}}})
    assert moved.returncode != 0 and named("spec.selector", moved.stderr), moved.stderr
    assert "updates to DaemonSet spec for fields other than" in moved.stderr, moved.stderr
    bad = patch({"spec": {"updateStrategy": {"rollingUpdate": {"maxSurge": 1}}}})
    assert bad.returncode != 0 and named(f"{RU}.maxSurge", bad.stderr), bad.stderr
    after = daemons.get("good")
    assert after["spec"] == before["spec"] and after["metadata"]["generation"] == before["metadata"]["generation"]
    fine = patch({"spec": {"minReadySeconds": 5, "burstReplicas": 10, "updateStrategy": {"type": "OnDelete"}}})
    assert fine.returncode == 0, fine.stderr
