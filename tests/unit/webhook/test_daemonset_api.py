"""Advanced DaemonSet API as OpenKruise v1.9.0 (openkruise-1.9/daemonset-uniteddeployment.md A2-A3): the
webhook defaults, every validation rule (accepted and refused, the field named), and lossless conversion."""
from __future__ import annotations

import asyncio
import base64
import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controllers import schema
from controllers.webhook import admission, conversion

ALPHA, BETA = "apps.kruise.io/v1alpha1", "apps.kruise.io/v1beta1"
PROGRESSIVE = "daemonset.kruise.io/progressive-create-pod"
VERSIONS = ["v1alpha1", "v1beta1"]


def ds(version: str = "v1beta1", **spec) -> dict:
    base = {"selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}
    return {"apiVersion": f"apps.kruise.io/{version}", "kind": "DaemonSet",
            "metadata": {"name": "d", "namespace": "n"}, "spec": {**base, **spec}}


def rolling(version: str = "v1beta1", **fields) -> dict:
    return ds(version, updateStrategy={"type": "RollingUpdate", "rollingUpdate": fields})


def errors(obj: dict, old: dict | None = None) -> dict[str, str]:
    return {e.path: e.message for e in schema.validate(obj, old)}


def defaulted(obj: dict) -> dict:
    return schema.apply_defaults(obj)


# ------------------------------------------------------------------------------------------------ defaults

@pytest.mark.parametrize("version", VERSIONS)
def test_defaults(version: str) -> None:
    spec = defaulted(ds(version))["spec"]
    assert spec["burstReplicas"] == 250 and spec["revisionHistoryLimit"] == 10
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {
        "rollingUpdateType": "Standard", "maxUnavailable": 1, "maxSurge": 0}}
    assert "minReadySeconds" not in spec and "partition" not in spec["updateStrategy"]["rollingUpdate"]
    assert "scaleStrategy" not in spec and "lifecycle" not in spec


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("given_fields,expected", [
    ({}, {"maxUnavailable": 1, "maxSurge": 0}),                 # both unset: both default
    ({"maxSurge": 2}, {"maxSurge": 2}),                          # one set: the other stays unset
    ({"maxUnavailable": "10%"}, {"maxUnavailable": "10%"}),
])
def test_unavailable_and_surge_default_together(version: str, given_fields: dict, expected: dict) -> None:
    got = defaulted(rolling(version, **given_fields))["spec"]["updateStrategy"]["rollingUpdate"]
    assert {k: v for k, v in got.items() if k in ("maxUnavailable", "maxSurge")} == expected


def test_on_delete_gets_no_rolling_update_and_the_template_no_pod_defaults_from_apply_defaults() -> None:
    spec = defaulted(ds(updateStrategy={"type": "OnDelete"}))["spec"]
    assert spec["updateStrategy"] == {"type": "OnDelete"}
    assert spec["template"] == ds()["spec"]["template"]


@pytest.mark.parametrize("given_fields,expected", [
    ({}, {"maxSurge": 1, "maxUnavailable": 0}),
    ({"maxSurge": "20%"}, {"maxSurge": "20%", "maxUnavailable": 0}),
    ({"maxUnavailable": 0, "maxSurge": 3}, {"maxSurge": 3, "maxUnavailable": 0}),
])
def test_v1alpha1_surging_gets_its_defaults_then_becomes_standard(given_fields: dict, expected: dict) -> None:
    got = defaulted(rolling("v1alpha1", rollingUpdateType="Surging", **given_fields))["spec"]["updateStrategy"]
    assert got["rollingUpdate"] == {"rollingUpdateType": "Standard", **expected}
    assert errors(defaulted(rolling("v1alpha1", rollingUpdateType="Surging", **given_fields))) == {}


def test_the_mutating_webhook_defaults_v1alpha1_in_v1alpha1() -> None:
    obj = rolling("v1alpha1", rollingUpdateType="Surging")
    review = {"request": {"uid": "1", "operation": "CREATE", "object": obj}}
    answer = admission.mutate(review, feature_gates={"TemplateNoDefaults": True})["response"]
    ops = json.loads(base64.b64decode(answer["patch"]))
    assert all(op["path"].startswith("/spec/") for op in ops), "defaulted in v1alpha1: no conversion, no stash"
    assert {"op": "replace", "path": "/spec/updateStrategy/rollingUpdate/rollingUpdateType", "value": "Standard"} in ops
    assert {"op": "add", "path": "/spec/updateStrategy/rollingUpdate/maxSurge", "value": 1} in ops
    assert {"op": "add", "path": "/spec/updateStrategy/rollingUpdate/maxUnavailable", "value": 0} in ops


# ------------------------------------------------------------------------------------------------ validation

ACCEPTED = [
    rolling(maxUnavailable="100%", maxSurge=0),
    rolling(maxUnavailable=0, maxSurge="50%"),
    rolling(maxUnavailable=0, maxSurge=1, rollingUpdateType="Standard"),
    rolling(maxUnavailable=2, maxSurge="0%", rollingUpdateType="InPlaceIfPossible"),
    rolling(maxUnavailable=1, maxSurge=0, partition=3),
    rolling(maxUnavailable=1, maxSurge=0, partition="30%"),
    rolling("v1alpha1", maxUnavailable=1, maxSurge=0, partition="100%"),
    rolling(maxUnavailable=1, maxSurge=0, selector={"matchExpressions": [{"key": "zone", "operator": "In",
                                                                          "values": ["a"]}]}),
    ds(updateStrategy={"type": "OnDelete"}),
    ds(updateStrategy={"type": "OnDelete", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}),  # not checked
    ds(burstReplicas=1), ds(burstReplicas="10%"), ds(minReadySeconds=0), ds(revisionHistoryLimit=0),
    ds(lifecycle={"preDelete": {"labelsHandler": {"hold": "true"}}, "preNormal": {"finalizersHandler": ["x/y"]}}),
    ds(scaleStrategy={"partitionedScaling": True}),
]


@pytest.mark.parametrize("obj", ACCEPTED, ids=range(len(ACCEPTED)))
def test_accepted(obj: dict) -> None:
    assert errors(defaulted(obj)) == {}


def _template(**spec) -> dict:
    return {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "i"}], **spec}}


REFUSED = [
    # (object, field path, start of the message)
    (ds(selector={"matchLabels": {"app": "b"}}), "spec.template.metadata.labels", "Invalid value: `selector` does not"),
    (ds(selector={}), "spec.selector", "Invalid value: empty selector is invalid for daemonset"),
    (ds(selector={"matchLabels": {"app": "a", "bad key!": "x"}}), "spec.selector.matchLabels", "Invalid value: \"bad"),
    (ds(selector={"matchLabels": {"app": "a"}, "matchExpressions": [{"key": "k", "operator": "In"}]}),
     "spec.selector.matchExpressions[0].values", "Required value"),
    (ds(selector={"matchLabels": {"app": "a"},
                  "matchExpressions": [{"key": "k", "operator": "Exists", "values": ["v"]}]}),
     "spec.selector.matchExpressions[0].values", "Forbidden"),
    (ds(template=_template(restartPolicy="Never")), "spec.template.spec.restartPolicy",
     'Unsupported value: supported values: "Always"'),
    (ds(template=_template(activeDeadlineSeconds=5)), "spec.template.spec.activeDeadlineSeconds",
     "Forbidden: activeDeadlineSeconds in DaemonSet is not Supported"),
    (ds(minReadySeconds=-1), "spec.minReadySeconds", "Invalid value: -1: must be greater than or equal to 0"),
    (ds(revisionHistoryLimit=-1), "spec.revisionHistoryLimit", "Invalid value: -1: must be greater than or equal to 0"),
    (ds(lifecycle={"inPlaceUpdate": {"labelsHandler": {"a": "b"}}}), "spec.lifecycle.inPlaceUpdate",
     "Forbidden: inPlaceUpdate hook has not supported yet"),
    (ds(updateStrategy={"type": "Recreate"}), "spec.updateStrategy.type", 'Unsupported value: "Recreate"'),
    (rolling(maxUnavailable=1, maxSurge=1), "spec.updateStrategy.rollingUpdate.maxSurge",
     "Invalid value: may not be set when maxUnavailable is non-zero"),
    (rolling(maxUnavailable=0, maxSurge="0%"), "spec.updateStrategy.rollingUpdate.maxUnavailable",
     "Required value: cannot be 0 when maxSurge is 0"),
    (rolling(maxUnavailable="101%", maxSurge=0), "spec.updateStrategy.rollingUpdate.maxUnavailable", "Invalid value"),
    (rolling(maxUnavailable=-1, maxSurge=0), "spec.updateStrategy.rollingUpdate.maxUnavailable", "Invalid value"),
    (rolling(maxUnavailable=0, maxSurge="abc"), "spec.updateStrategy.rollingUpdate.maxSurge", "Invalid value"),
    (rolling(maxUnavailable=0, maxSurge=1, rollingUpdateType="InPlaceIfPossible"),
     "spec.updateStrategy.rollingUpdate.maxSurge", "Required value: must be 0 for InPlaceIfPossible type"),
    (rolling(maxUnavailable=1, rollingUpdateType="Fast"), "spec.updateStrategy.rollingUpdate.rollingUpdateType",
     'Unsupported value: "Fast"'),
    (rolling(maxUnavailable=0, maxSurge=1, rollingUpdateType="Surging"),
     "spec.updateStrategy.rollingUpdate.rollingUpdateType", 'Unsupported value: "Surging"'),
    (rolling(maxUnavailable=1, partition=-1), "spec.updateStrategy.rollingUpdate.partition", "Invalid value"),
    (rolling(maxUnavailable=1, partition="150%"), "spec.updateStrategy.rollingUpdate.partition", "Invalid value"),
    (rolling("v1alpha1", maxUnavailable=1, partition="x"), "spec.updateStrategy.rollingUpdate.partition",
     "Invalid value"),
    (rolling(maxUnavailable=1, selector={"matchExpressions": [{"key": "zone", "operator": "NotIn"}]}),
     "spec.updateStrategy.rollingUpdate.selector.matchExpressions[0].values", "Required value"),
    (rolling(maxUnavailable=1, selector={"matchLabels": {"zone": "a b"}}),
     "spec.updateStrategy.rollingUpdate.selector.matchLabels", "Invalid value"),
    (ds(burstReplicas=0), "spec.burstReplicas", "Invalid value: 0"),
    (ds(burstReplicas=-3), "spec.burstReplicas", "Invalid value: -3"),
    (ds(burstReplicas="0%"), "spec.burstReplicas", "Invalid value"),
    (ds(burstReplicas="many"), "spec.burstReplicas", "Invalid value"),
    (ds("v1alpha1", scaleStrategy={"partitionedScaling": True}), "spec.scaleStrategy", "Forbidden: unknown field"),
]


@pytest.mark.parametrize("obj,path,message", REFUSED, ids=[f"{i}:{r[1]}" for i, r in enumerate(REFUSED)])
def test_refused_naming_the_field(obj: dict, path: str, message: str) -> None:
    found = errors(defaulted(obj))
    assert path in found, found
    assert found[path].startswith(message), found[path]


def test_rules_not_reachable_through_the_webhook_still_hold() -> None:
    # Without the mutating webhook: a RollingUpdate without rollingUpdate, and v1alpha1 Surging with unavailability.
    assert errors(ds(updateStrategy={"type": "RollingUpdate"}))["spec.updateStrategy.rollingUpdate"].startswith(
        "Required value")
    surging = rolling("v1alpha1", rollingUpdateType="Surging", maxUnavailable=1, maxSurge=0)
    assert errors(surging)["spec.updateStrategy.rollingUpdate.maxUnavailable"] == \
        "Required value: must be 0 for Surging type"


@pytest.mark.parametrize("version", VERSIONS)
def test_updates_change_only_the_allowed_fields(version: str) -> None:
    old = defaulted(ds(version))
    new = copy.deepcopy(old)
    new["spec"].update(burstReplicas="50%", minReadySeconds=5, revisionHistoryLimit=3,
                       lifecycle={"preDelete": {"finalizersHandler": ["x/y"]}},
                       template=_template(nodeSelector={"a": "b"}))
    new["spec"]["updateStrategy"] = {"type": "OnDelete"}
    if version == "v1beta1":
        new["spec"]["scaleStrategy"] = {"partitionedScaling": True}
    assert errors(new, old) == {}
    moved = copy.deepcopy(old)
    moved["spec"]["selector"] = {"matchLabels": {"app": "a", "tier": "x"}}
    moved["spec"]["template"]["metadata"]["labels"]["tier"] = "x"
    message = errors(moved, old)["spec.selector"]
    assert message.startswith("Forbidden: updates to DaemonSet spec for fields other than 'burstReplicas'")
    assert ("'scaleStrategy'" in message) == (version == "v1beta1")
    # Every rule of CREATE applies to UPDATE too.
    bad = copy.deepcopy(old)
    bad["spec"]["updateStrategy"]["rollingUpdate"]["maxSurge"] = 1
    assert "spec.updateStrategy.rollingUpdate.maxSurge" in errors(bad, old)


def test_validating_webhook_refuses_with_422_and_the_field() -> None:
    obj = defaulted(ds("v1alpha1", lifecycle={"inPlaceUpdate": {"labelsHandler": {"a": "b"}}}))
    review = {"request": {"uid": "1", "operation": "CREATE", "object": obj}}
    answer = asyncio.run(admission.validate(review))["response"]
    assert not answer["allowed"] and answer["status"]["code"] == 422
    assert answer["status"]["message"] == ('DaemonSet.apps.kruise.io "d" is invalid: spec.lifecycle.inPlaceUpdate: '
                                           "Forbidden: inPlaceUpdate hook has not supported yet")


# ------------------------------------------------------------------------------------------------ conversion

def test_conversion_maps_the_renamed_and_annotated_fields() -> None:
    beta = ds(scaleStrategy={"partitionedScaling": True})
    beta["status"] = {"updateRevision": "abc", "numberReady": 2, "desiredNumberScheduled": 3}
    alpha = conversion.convert(beta, ALPHA)
    assert alpha["status"] == {"daemonSetHash": "abc", "numberReady": 2, "desiredNumberScheduled": 3}
    assert alpha["metadata"]["annotations"][PROGRESSIVE] == "true" and "scaleStrategy" not in alpha["spec"]
    assert conversion.convert(alpha, BETA) == beta

    created = ds("v1alpha1")
    created["metadata"]["annotations"] = {PROGRESSIVE: "true"}
    stored = conversion.convert(created, BETA)
    assert stored["spec"]["scaleStrategy"] == {"partitionedScaling": True}
    assert stored["metadata"]["annotations"] == {PROGRESSIVE: "true"}, "upstream keeps the annotation"
    assert conversion.convert(stored, ALPHA) == created, "no stash needed: the annotation says it all"


def test_surging_becomes_standard_in_v1beta1_and_comes_back() -> None:
    alpha = rolling("v1alpha1", rollingUpdateType="Surging", maxSurge=1, maxUnavailable=0)
    beta = conversion.convert(alpha, BETA)
    assert beta["spec"]["updateStrategy"]["rollingUpdate"]["rollingUpdateType"] == "Standard"
    assert conversion.convert(beta, ALPHA) == alpha
    edited = copy.deepcopy(beta)
    edited["spec"]["updateStrategy"]["rollingUpdate"]["rollingUpdateType"] = "InPlaceIfPossible"
    assert conversion.convert(edited, ALPHA)["spec"]["updateStrategy"]["rollingUpdate"]["rollingUpdateType"] == \
        "InPlaceIfPossible", "a v1beta1 client's change wins over the record"


def test_a_stale_annotation_does_not_turn_partitioned_scaling_on() -> None:
    # Upstream: v1beta1 false + a stale "true" annotation reads as true after a v1alpha1 round trip.
    beta = ds(scaleStrategy={"partitionedScaling": False})
    beta["metadata"]["annotations"] = {PROGRESSIVE: "true"}
    assert conversion.convert(conversion.convert(beta, ALPHA), BETA) == beta


def test_a_v1alpha1_client_switches_partitioned_scaling_with_the_annotation() -> None:
    alpha = conversion.convert(ds(scaleStrategy={"partitionedScaling": True}), ALPHA)
    alpha["metadata"]["annotations"][PROGRESSIVE] = "false"
    assert "scaleStrategy" not in conversion.convert(alpha, BETA)["spec"]
    off = conversion.convert(ds(), ALPHA)
    off["metadata"]["annotations"] = {PROGRESSIVE: "true"}
    assert conversion.convert(off, BETA)["spec"]["scaleStrategy"] == {"partitionedScaling": True}


int_or_percent = st.one_of(st.integers(0, 5), st.sampled_from(["0%", "25%", "100%"]))
rolling_updates = st.fixed_dictionaries({}, optional={
    "rollingUpdateType": st.sampled_from(["Standard", "InPlaceIfPossible"]), "maxUnavailable": int_or_percent,
    "maxSurge": int_or_percent, "partition": int_or_percent, "paused": st.booleans(),
    "selector": st.just({"matchLabels": {"zone": "a"}})})
common_specs = {
    "burstReplicas": st.one_of(st.integers(1, 300), st.just("10%")),
    "minReadySeconds": st.integers(0, 30), "revisionHistoryLimit": st.integers(0, 10),
    "lifecycle": st.just({"preDelete": {"labelsHandler": {"hold": "true"}}}),
    "updateStrategy": st.one_of(st.just({"type": "OnDelete"}),
                                st.builds(lambda r: {"type": "RollingUpdate", "rollingUpdate": r}, rolling_updates)),
}
statuses = st.fixed_dictionaries({"numberReady": st.integers(0, 3), "desiredNumberScheduled": st.integers(0, 3),
                                  "currentNumberScheduled": st.integers(0, 3), "numberMisscheduled": st.just(0)},
                                 optional={"observedGeneration": st.integers(1, 9), "collisionCount": st.integers(0, 2),
                                           "numberAvailable": st.integers(0, 3),
                                           "updatedNumberScheduled": st.integers(0, 3),
                                           "numberUnavailable": st.integers(0, 3)})
annotation_values = st.sampled_from([None, "true", "false", "yes"])


@settings(max_examples=200, deadline=None)
@given(spec=st.fixed_dictionaries({}, optional={**common_specs, "scaleStrategy": st.one_of(
           st.just({}), st.fixed_dictionaries({"partitionedScaling": st.booleans()}))}),
       status=statuses, revision=st.one_of(st.none(), st.text("abc0123", min_size=1, max_size=5)),
       annotation=annotation_values)
def test_v1beta1_round_trip_through_v1alpha1_is_lossless(spec, status, revision, annotation) -> None:
    obj = ds("v1beta1", **spec)
    obj["status"] = dict(status, **({"updateRevision": revision} if revision else {}))
    if annotation is not None:
        obj["metadata"]["annotations"] = {PROGRESSIVE: annotation, "other": "x"}
    original = copy.deepcopy(obj)
    alpha = conversion.convert(obj, ALPHA)
    assert "updateRevision" not in alpha["status"] and ("scaleStrategy" not in alpha["spec"])
    assert not [e for e in schema.validate(alpha) if "unknown field" in e.message], "only v1alpha1 fields are left"
    assert conversion.convert(alpha, BETA) == original
    assert obj == original, "conversion never mutates its input"


@settings(max_examples=200, deadline=None)
@given(spec=st.fixed_dictionaries({}, optional=common_specs), status=statuses,
       revision=st.one_of(st.none(), st.text("abc0123", min_size=1, max_size=5)),
       annotation=annotation_values, surging=st.booleans())
def test_v1alpha1_round_trip_through_v1beta1_is_lossless(spec, status, revision, annotation, surging) -> None:
    obj = ds("v1alpha1", **spec)
    if surging and (obj["spec"].get("updateStrategy") or {}).get("type") == "RollingUpdate":
        obj["spec"]["updateStrategy"]["rollingUpdate"]["rollingUpdateType"] = "Surging"
    obj["status"] = dict(status, **({"daemonSetHash": revision} if revision else {}))
    if annotation is not None:
        obj["metadata"]["annotations"] = {PROGRESSIVE: annotation}
    original = copy.deepcopy(obj)
    beta = conversion.convert(obj, BETA)
    assert "daemonSetHash" not in beta["status"]
    assert beta["spec"].get("scaleStrategy", {}).get("partitionedScaling", False) == (annotation == "true")
    assert conversion.convert(beta, ALPHA) == original
    assert obj == original


def test_the_manager_injects_the_ca_bundle_into_every_crd_with_a_conversion_webhook() -> None:
    from pathlib import Path

    import yaml

    from controllers.webhook.injector import InjectionTargets

    crds = [yaml.safe_load(p.read_text()) for p in (Path(__file__).resolve().parents[3] / "crds" / "v1").glob("*.yaml")]
    converted = {c["metadata"]["name"] for c in crds if "conversion" in c["spec"]}
    assert converted == {"daemonsets.apps.kruise.io", "sidecarsets.apps.kruise.io", "statefulsets.apps.kruise.io",
                         "imagepulljobs.apps.kruise.io", "imagelistpulljobs.apps.kruise.io", "nodeimages.apps.kruise.io"}
    assert set(InjectionTargets().conversion_crds) == converted
