"""The scale step: `stateful_set_control.go processReplica` over the replicas in increasing ordinal order,
then the condemned pods (out of range or reserved) in decreasing order (`processCondemned`).

OrderedReady (monotonic): one pod is created per round and only once every lower ordinal is Running, Ready and
available for minReadySeconds; a terminating or unhealthy pod halts the round; pods are deleted from the
highest ordinal down, each only once the others are healthy (the first unhealthy pod may go). Parallel
(burst): every missing pod is created and every condemned pod deleted in the same round, except that
scaleStrategy.maxUnavailable bounds how many replicas may be missing, terminating or unavailable at once
(upstream's decreaseAndCheckMaxUnavailable: when the budget runs out the scale loop stops and the round moves
on to the condemned pods and the update).

A failed (or succeeded) pod is deleted and created again in a later round, once its name is free. PVCs are
created before their pod, and again for a pending pod whose PVC went missing; they are never deleted here.
"""
from __future__ import annotations

from enum import Enum

from controllers.common import lifecycle
from controllers.common.actions import Event, create_pod, create_pvc
from controllers.common.objects import is_terminating, name_of
from controllers.common.revision import equal_to_revision_hash

from .claims import blocks_new_pod, claim_names, new_claim, retention_patches, template_name
from .newpods import identity_matches, identity_patch, storage_matches
from .podstate import is_failed_or_succeeded, is_pending, is_running_and_ready, running_and_available
from .round import Round, Slot

# How soon to look again when a new pod waits for a PVC that is being deleted.
WAIT_FOR_CLAIM_SECONDS = 1.0


class Next(Enum):
    CONTINUE = "continue"  # on to the next replica
    BREAK = "break"  # stop scaling replicas, go on with the condemned pods and the update
    EXIT = "exit"  # the round ends here


def _missing_claims(r: Round, ordinal: int) -> list:
    """Creates for the claims of `ordinal` that do not exist at all (a terminating one cannot be replaced)."""
    by_template = {template_name(v): v for v in r.sts.volume_claim_templates}
    return [create_pvc(new_claim(r.sts, by_template[t], ordinal))
            for t, name in claim_names(r.sts, ordinal) if name not in r.pvcs]


def _create(r: Round, slot: Slot) -> Next:
    name = slot.name
    if blocks_new_pod(r.sts, slot.ordinal, name, r.pvcs):
        r.wait(WAIT_FOR_CLAIM_SECONDS)
        return Next.EXIT
    claims = _missing_claims(r, slot.ordinal)
    r.emit(*claims, create_pod(slot.new))
    r.emit(*(Event("Normal", "SuccessfulCreate",
                   f"create Claim {c.name} Pod {name} in StatefulSet {r.sts.name} success")
             for c in claims))
    r.emit(Event("Normal", "SuccessfulCreate", f"create Pod {name} in StatefulSet {r.sts.name} successful"))
    if r.monotonic:
        return Next.EXIT
    return Next.BREAK if r.spend_scale_budget() else Next.CONTINUE


def _released_for_update(r: Round, pod: dict) -> bool:
    """A pod in PreparingUpdate whose inPlaceUpdate hook was released is waiting for the update step to update
    it. Upstream counts it as unavailable here, so OrderedReady never reaches the update step again and the
    pod stays in PreparingUpdate forever; here it does not halt the scale step (the update step still counts it
    as unavailable)."""
    return (lifecycle.state_of(pod) == lifecycle.PREPARING_UPDATE
            and not lifecycle.is_pod_hooked(lifecycle.hook_of(r.sts.lifecycle, "inPlaceUpdate"), pod)
            and not equal_to_revision_hash(pod, r.update_name))


def process_replica(r: Round, slot: Slot) -> Next:
    if slot.pod is None:
        return _create(r, slot)
    pod, sts = slot.pod, r.sts

    if is_failed_or_succeeded(pod):
        # Evicted, or stopped on a node reboot: replace it whatever the exit code; the new pod is created once
        # the old one is gone from the API.
        if not is_terminating(pod):
            if lifecycle.hold_for_pre_delete(sts.lifecycle, pod, r.now) is None:
                r.emit(Event("Warning", "RecreatingFailedPod",
                             f"StatefulSet {sts.namespace}/{sts.name} is recreating failed Pod {name_of(pod)}"))
            r.delete_pod(pod)
        return Next.EXIT

    if is_pending(pod) and not is_terminating(pod):
        r.emit(*_missing_claims(r, slot.ordinal))

    if is_terminating(pod):
        if r.monotonic:
            return Next.EXIT  # wait for the graceful deletion to finish
        return Next.BREAK if r.spend_scale_budget() else Next.CONTINUE

    if (lifecycle.state_of(pod) == lifecycle.PREPARING_DELETE
            and lifecycle.hold_for_pre_delete(sts.lifecycle, pod, r.now) is None):
        # A deletion (specified delete, recreate update) whose preDelete hook was released: finish it. Upstream
        # leaves this to the update step, which OrderedReady never reaches while this pod is not Normal.
        r.delete_pod(pod)
        if r.monotonic:
            return Next.EXIT
        return Next.BREAK if r.spend_scale_budget() else Next.CONTINUE

    r.refresh(pod)

    if (r.monotonic or r.scale_budget is not None) and not _released_for_update(r, pod):
        available, wait = running_and_available(pod, sts.min_ready_seconds, r.now)
        if not available:
            r.wait(wait)
            if r.monotonic:
                return Next.EXIT
            if r.spend_scale_budget():
                return Next.BREAK

    # Enforce the StatefulSet invariants: identity, storage, PVC retention.
    if not identity_matches(sts, pod, slot.ordinal):
        r.emit(identity_patch(sts, pod, slot.ordinal),
               Event("Normal", "SuccessfulUpdate", f"update Pod {name_of(pod)} in StatefulSet {sts.name} successful"))
    if not storage_matches(sts, pod, slot.ordinal):
        # A volumeClaimTemplate added after the pod was created: its PVC is made now, the pod gets the volume
        # when it is recreated (pod volumes are immutable; upstream's update of them fails and retries forever).
        r.emit(*_missing_claims(r, slot.ordinal))
    r.emit(*retention_patches(sts, pod, slot.ordinal, False, r.pvcs))
    return Next.CONTINUE


def process_replicas(r: Round) -> bool:
    """runForAllWithBreak(processReplica). Returns False when the round ends here."""
    for slot in r.slots:
        outcome = process_replica(r, slot)
        if outcome is Next.EXIT:
            return False
        if outcome is Next.BREAK:
            break
    return True


def process_condemned(r: Round) -> bool:
    """fixPodClaim then processCondemned for every condemned pod. Returns False when the round ends here."""
    for ordinal, pod in r.condemned:
        r.emit(*retention_patches(r.sts, pod, ordinal, True, r.pvcs))
        # Upstream refreshes condemned pods only in the update step, which OrderedReady does not reach while
        # one of them is not ready: a pod condemned before its InPlaceUpdateReady was first set would never
        # become ready, and never be deleted.
        r.refresh(pod)
    first_unhealthy = r.first_unhealthy_ordinal()
    for ordinal, pod in r.condemned:
        if is_terminating(pod):
            if r.monotonic:
                return False  # wait for it to be gone first
            continue
        if r.monotonic and ordinal != first_unhealthy:
            if not is_running_and_ready(pod):
                return False
            available, wait = running_and_available(pod, r.sts.min_ready_seconds, r.now)
            if not available:
                r.wait(wait)
                return False
        modified, _ = r.delete_pod(pod)
        if r.monotonic and modified:
            return False
    return True
