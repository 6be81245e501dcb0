"""Advanced StatefulSet (apps.kruise.io, v1beta1 stored): pure reconcile logic (`reconcile.reconcile`).

    spec       a defaulted, read-only view of the stored v1beta1 object
    ordinals   pod names and ordinals, reserveOrdinals, ordinals.start: which ordinals should run
    podstate   healthy, ready, available, failed, pending, specified delete
    claims     the PVCs: names, creation, retention policy (ownerReferences), status.volumeClaims
    newpods    the pods it creates, the revision a new pod gets, identity and storage checks
    round      the state of one round: pods laid out by ordinal, the actions decided so far
    scale      processReplica / processCondemned (OrderedReady and Parallel, scaleStrategy.maxUnavailable)
    update     the rolling update (partition, maxUnavailable, unorderedUpdate, in place or recreate,
               specified delete)
    status     the status block
    reconcile  the entry point, gluing the steps together like stateful_set_control.go UpdateStatefulSet

`handlers.py` (the kopf wiring) belongs to the runtime.
"""
