"""Advanced DaemonSet (apps.kruise.io, v1beta1 stored): the pure decision layer, as OpenKruise v1.9.0 and
Kubernetes v1.20's DaemonSet controller decide (spec: shared/reference/openkruise-1.9 Part A).

The decision layer: plain dicts in, dataclasses out; no actions, no kopf, no clock (now is a parameter).

    spec         a defaulted, read-only view of the stored object (strategy, budgets' raw values, burst, partition)
    eligibility  which nodes should run the pod: NewPod + default daemon tolerations, nodeShouldRunDaemonPod
    pods         target node of a pod, the node → pods map, revision of a pod, availability, pinning, the template
    decisions    the dataclasses handed back (PodDeletion, NodeCreation, PodUpdate, PreDeleteHold, ...)
    manage       podsShouldBeOnNode, partitioned scaling, failed-pod backoff; syncNodes' preDelete filter and burst
    update       the rolling update: budgets, partition and node-selector order, no-surge and surge paths, in place
    status       every status counter, the write-skip rule, the minReadySeconds requeue
    round        one pass: manage, then (when nothing is outstanding) the rolling update
    reconcile    the pure reconcile (A6): revisions, `round.decide`, the in-place refresh, the status, and the
                 decisions turned into the runtime's Create / Patch / Delete / Event actions
    handlers     the `WorkloadKind` the manager runs: owned pods (claimed), owned revisions, cluster nodes

The generic scheduling predicates (taints, tolerations, node selector terms) live in `controllers/common/nodes`.
"""
