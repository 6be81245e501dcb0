"""CloneSet: pure reconcile logic (`reconcile.reconcile`) and its parts.

    spec       a defaulted, read-only view of a CloneSet
    podstate   CloneSet's readiness and availability predicates, specified delete
    diffs      calculateDiffsWithExpectation: how many pods to create, delete and update
    newpods    the pods and PVCs CloneSet creates
    scale      the scale step (create, delete, preDelete hooks)
    update     the update step (refresh, order, limit, in-place or recreate)
    status     the status block
    reconcile  the entry point, gluing the steps together like cloneset_controller.go doReconcile
"""
