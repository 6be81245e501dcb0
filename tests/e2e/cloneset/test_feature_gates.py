"""The CloneSet feature gates (openkruise.md §10 and the §12 cases "regard preparing-update pod as update when
scaling" and "Update with VolumeClaimTemplate changes"), with the sandbox's manager restarted once for this
module with the gates on (`--feature-gates`, as the chart's featureGates value passes them), and restarted
again without them afterwards. The unit tests (tests/unit/cloneset/test_feature_gates.py) show each gate off."""
from __future__ import annotations

import json

import pytest

from tests.kube import Cluster
from tests.manager import with_feature_gates

from .helpers import SIM_IMAGE, CloneSets, cloneset, wait_for

GATES = ("CloneSetShortHash=true,CloneSetPartitionRollback=true,PreparingUpdateAsUpdate=true,"
         "RecreatePodWhenChangeVCTInCloneSetGate=true")
STATE = "lifecycle.apps.kruise.io/state"
HASH = "controller-revision-hash"
VCT_HASH = "kruise.io/cloneset-volumeclaimtemplate-hash"


@pytest.fixture(scope="module", autouse=True)
def gated_manager(sandbox, kruise):
    yield from with_feature_gates(sandbox, kruise, GATES)



def short(revision: str) -> str:
    return revision.rsplit("-", 1)[-1]


def uids(pods: list[dict]) -> set[str]:
    return {p["metadata"]["uid"] for p in pods}


def image_of(pod: dict) -> str:
    return pod["spec"]["containers"][0]["image"]


def test_short_hash_labels_new_and_in_place_updated_pods(cs: CloneSets):
    cs.create(cloneset("short", 2, update={"type": "InPlaceIfPossible"}))
    first = cs.wait_ready("short", 2)["status"]["updateRevision"]
    pods = cs.pods("short")
    assert {p["metadata"]["labels"][HASH] for p in pods} == {short(first)}
    assert {p["metadata"]["labels"]["pod-template-hash"] for p in pods} == {short(first)}
    cs.set_image("short", f"{SIM_IMAGE}:v2")
    second = wait_for(lambda: (s := cs.wait_ready("short", 2)["status"])["updateRevision"] != first and s, 60,
                      "the new revision")["updateRevision"]
    assert uids(cs.pods("short")) == uids(pods), "updated in place"
    assert {p["metadata"]["labels"][HASH] for p in cs.pods("short")} == {short(second)}


def test_partition_rollback_moves_updated_pods_back_when_the_partition_grows(cs: CloneSets):
    cs.create(cloneset("rollback", 4, update={"type": "InPlaceIfPossible", "partition": 1, "maxUnavailable": "50%"}))
    cs.wait_ready("rollback", 4)
    before = uids(cs.pods("rollback"))
    cs.set_image("rollback", f"{SIM_IMAGE}:v2")

    def updated_ready(n: int):
        def check():
            s = cs.status("rollback")
            return s.get("updatedReadyReplicas") == n and s.get("readyReplicas") == 4 and s
        return check
    wait_for(updated_ready(3), 90, "3 pods updated", describe=lambda: cs.status("rollback"))
    cs.patch("rollback", {"spec": {"updateStrategy": {"partition": 3}}})
    status = wait_for(updated_ready(1), 90, "2 pods rolled back", describe=lambda: cs.status("rollback"))
    assert status["currentRevision"] != status["updateRevision"]
    pods = cs.pods("rollback")
    assert sorted(image_of(p) for p in pods) == [f"{SIM_IMAGE}:v1"] * 3 + [f"{SIM_IMAGE}:v2"]
    assert uids(pods) == before, "rolled back in place"


def test_preparing_update_pods_count_as_updated_when_scaling(cluster: Cluster, cs: CloneSets):
    """Upstream's e2e: partition 99% of 2 lets one pod update, and an inPlaceUpdate hook holds it in
    PreparingUpdate. Counted as updated, it makes a rebuilt pod, and a pod added by a scale-up, belong to the
    current revision (without the gate, the rebuilt pod would take the update revision)."""
    hook = "preparing-update-hook"
    obj = cloneset("prep", 2, update={"type": "InPlaceIfPossible", "partition": "99%", "maxUnavailable": "50%"},
                   lifecycle={"inPlaceUpdate": {"labelsHandler": {hook: "true"}}})
    obj["spec"]["template"]["metadata"]["labels"][hook] = "true"
    cs.create(obj)
    current = cs.wait_ready("prep", 2)["status"]["updateRevision"]
    cs.set_image("prep", f"{SIM_IMAGE}:v2")

    def held() -> list[dict]:
        return [p for p in cs.pods("prep") if p["metadata"]["labels"].get(STATE) == "PreparingUpdate"]
    [waiting] = wait_for(held, 30, "one pod held in PreparingUpdate")
    update = cs.status("prep")["updateRevision"]
    assert update != current and waiting["metadata"]["labels"][HASH] == short(current)

    other = next(p for p in cs.pods("prep") if p["metadata"]["name"] != waiting["metadata"]["name"])
    cluster.kubectl("delete", "pod", other["metadata"]["name"], "--wait=false", namespace=cs.ns)
    wait_for(lambda: other["metadata"]["uid"] not in uids(cs.pods("prep", True)), 60, "the pod deleted")
    cs.wait_ready("prep", 2, updated=False)
    assert {p["metadata"]["labels"][HASH] for p in cs.pods("prep")} == {short(current)}, "rebuilt at current"

    cs.patch("prep", {"spec": {"replicas": 3}})
    cs.wait_ready("prep", 3, updated=False)
    assert {p["metadata"]["labels"][HASH] for p in cs.pods("prep")} == {short(current)}, "scaled at current"
    assert [p["metadata"]["name"] for p in held()] == [waiting["metadata"]["name"]]

    cluster.kubectl("label", "pod", waiting["metadata"]["name"], f"{hook}-", namespace=cs.ns)
    wait_for(lambda: cs.status("prep").get("updatedReadyReplicas") == 1, 60, "the released pod updated")
    assert cluster.pod(cs.ns, waiting["metadata"]["name"])["metadata"]["labels"][HASH] == short(update)
    assert not held()


def test_volume_claim_template_changes_recreate_pods_with_an_image_change(cluster: Cluster, cs: CloneSets):
    """Upstream's e2e "Update with VolumeClaimTemplate changes": image + VCT ⇒ pods and claims recreated;
    VCT only ⇒ nothing until the next image change, which recreates; InPlaceOnly ⇒ in place, claims kept."""
    vct = cluster.static_volumes(cs.ns, 8, capacity="5Gi")
    cs.create(cloneset("vct", 2, update={"type": "InPlaceIfPossible"}, volumeClaimTemplates=vct))

    def claims() -> list[dict]:
        items = json.loads(cluster.kubectl("get", "pvc", "-o", "json", namespace=cs.ns).stdout)["items"]
        return [c for c in items if not c["metadata"].get("deletionTimestamp")]

    def sizes() -> list[str]:
        return sorted(c["spec"]["resources"]["requests"]["storage"] for c in claims())

    def revisions() -> list[dict]:
        return json.loads(cluster.kubectl("get", "controllerrevisions", "-o", "json", namespace=cs.ns).stdout)["items"]

    def change(image: str, size: str | None = None, update_type: str | None = None) -> None:
        ops = [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": f"{SIM_IMAGE}:{image}"}]
        if size:
            ops.append({"op": "replace", "path": "/spec/volumeClaimTemplates/0/spec/resources/requests/storage",
                        "value": size})
        if update_type:
            ops.append({"op": "replace", "path": "/spec/updateStrategy/type", "value": update_type})
        cs.patch("vct", ops, "json")

    try:
        cs.wait_ready("vct", 2, timeout=90)
        assert all(r["metadata"]["annotations"][VCT_HASH] for r in revisions())
        pods, pvcs = uids(cs.pods("vct")), uids(claims())

        change("v2", "2Gi")
        wait_for(lambda: len(cs.pods("vct")) == 2 and not uids(cs.pods("vct")) & pods, 120, "both pods recreated")
        cs.wait_ready("vct", 2, timeout=90)
        assert not uids(claims()) & pvcs and sizes() == ["2Gi", "2Gi"], "new claims of the new size"

        pods, pvcs, known = uids(cs.pods("vct")), uids(claims()), {r["metadata"]["name"] for r in revisions()}
        cs.patch("vct", [{"op": "replace", "path": "/spec/volumeClaimTemplates/0/spec/resources/requests/storage",
                          "value": "3Gi"}], "json")
        cs.wait_for_a_round("vct")
        assert (uids(cs.pods("vct")), uids(claims())) == (pods, pvcs), "a VCT-only change does nothing"
        assert {r["metadata"]["name"] for r in revisions()} == known, "and makes no revision"

        change("v3")
        wait_for(lambda: len(cs.pods("vct")) == 2 and not uids(cs.pods("vct")) & pods, 120,
                 "both pods recreated by the image change")
        cs.wait_ready("vct", 2, timeout=90)
        assert sizes() == ["3Gi", "3Gi"]

        pods, pvcs = uids(cs.pods("vct")), uids(claims())
        change("v4", "4Gi", "InPlaceOnly")
        cs.wait_ready("vct", 2, timeout=90)
        assert (uids(cs.pods("vct")), uids(claims())) == (pods, pvcs), "InPlaceOnly: in place, claims kept"
        assert {image_of(p) for p in cs.pods("vct")} == {f"{SIM_IMAGE}:v4"}
    finally:
        cluster.kubectl("delete", "pv", "-l", f"test={cs.ns}", "--wait=false")
