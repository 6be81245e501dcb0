"""Mechanisms written once and shared by the workload controllers (CloneSet, Advanced StatefulSet, ...).

Every module here is pure: plain dicts in, plain dicts or `actions` out. No API calls, no kopf, no asyncio.

    actions      what a reconcile is given (`Context`) and asks the runtime to do (`Create`, `Patch`,
                 `Delete`, `Event`: a `Plan`)
    keys         well-known label, annotation, condition and env names (openkruise.md §2.6)
    names        random instance ids and Kubernetes' safe encoding
    intstr       int-or-percent values (maxUnavailable, maxSurge, ...)
    partition    partition maths (CalculatePartitionReplicas)
    objects      what every object has: name, uid, labels, annotations, finalizers, creation, deletion
    times        metav1.Time: format and parse
    pods         pod predicates: active, ready, available, conditions
    ownership    controller ownerReferences
    selectors    label selectors: matching and the string form used by the scale subresource
    revision     ControllerRevisions: hashing, naming, reuse, rollback, collisions, history truncation
    ordering     update order (ActivePods, priority, scatter) and scale-in order
    lifecycle    lifecycle hooks: states, hooked checks, transitions
    podreadiness the KruisePodReady condition and its not-ready message keys
    inplace      in-place update: what can be updated in place, the pod patch, grace period, completion
    jsondiff     a minimal RFC 6902 diff, used to classify template changes
"""
