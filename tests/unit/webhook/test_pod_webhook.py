"""The pod webhook: which pods it mutates (KruisePodReady gate), and that the webhook configuration selects
exactly the labels our controllers put on the pods they create."""
from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import yaml

from controllers.common.keys import CLONESET_INSTANCE_ID_LABEL, KRUISE_POD_READY
from controllers.statefulset.spec import POD_NAME_LABEL
from controllers.webhook.pods import mutate_pod

REPO = Path(__file__).resolve().parents[3]


def review(owner_api: str | None) -> dict:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    if owner_api:
        pod["metadata"]["ownerReferences"] = [{"apiVersion": owner_api, "kind": "X", "name": "x", "uid": "u",
                                               "controller": True}]
    return {"request": {"uid": "1", "operation": "CREATE", "object": pod}}


def added_gates(answer: dict) -> list[dict]:
    assert answer["allowed"]
    ops = json.loads(base64.b64decode(answer["patch"])) if "patch" in answer else []
    return [op["value"] for op in ops if op["path"] == "/spec/readinessGates"]


def test_without_the_gate_only_pods_of_kruise_workloads_get_kruise_pod_ready():
    assert added_gates(asyncio.run(mutate_pod(review("apps.kruise.io/v1beta1")))["response"]) == \
        [[{"conditionType": KRUISE_POD_READY}]]
    for owner in ("apps/v1", None):
        assert added_gates(asyncio.run(mutate_pod(review(owner), {"KruisePodReadinessGate": False}))["response"]) == []


def test_kruise_pod_readiness_gate_adds_it_to_every_pod():
    for owner in ("apps/v1", None, "apps.kruise.io/v1alpha1"):
        answer = asyncio.run(mutate_pod(review(owner), {"KruisePodReadinessGate": True}))["response"]
        assert added_gates(answer) == [[{"conditionType": KRUISE_POD_READY}]], owner


def test_the_pod_webhook_selects_the_labels_our_controllers_set_on_every_new_pod():
    policy = yaml.safe_load((REPO / "policies" / "webhooks.yaml").read_text())
    pod_hook = next(e for e in policy["extra"] if e["path"] == "/mutate-pod")
    assert pod_hook["perWorkload"]["podLabels"] == {"CloneSet": CLONESET_INSTANCE_ID_LABEL,
                                                    "StatefulSet": POD_NAME_LABEL}
    assert pod_hook["perWorkload"]["unless"] == "featureGates.KruisePodReadinessGate"
