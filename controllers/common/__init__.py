"""Mechanisms written once and shared by the workload controllers (CloneSet, Advanced StatefulSet, and next
Advanced DaemonSet and SidecarSet). One mechanism, one place: a kind adds only what is its own.

Every module here is pure: plain dicts in, plain dicts or `actions` out. No API calls, no kopf, no asyncio.

    actions           what a reconcile is given (`Context`) and asks the runtime to do (`Create`, `Patch`,
                      `Delete`, `Event`: a `Plan`)
    round             `Round`: what a reconcile round has decided so far, appended to by the kind's steps
    keys              well-known label, annotation, condition and env names (openkruise.md §2.6)
    names             random instance ids and Kubernetes' safe encoding
    view              `WorkloadView`: the defensive read of a workload's metadata, spec and status
    intstr            int-or-percent values (maxUnavailable, maxSurge, ...)
    partition         partition maths (CalculatePartitionReplicas), for every kind
    images            container image references: parsing and normalising them as docker's reference library does
    quantity          resource quantities: parsing, comparing, the text the API server writes back
    objects           what every object has: name, uid, labels, annotations, finalizers, creation, deletion
    times             metav1.Time: format and parse
    pods              pod predicates: active, ready, available, conditions
    ownership         controller ownerReferences (making, reading) and the claim of pods (ClaimPods)
    selectors         label selectors: matching and the string form used by the scale subresource
    nodes             scheduling predicates: taints and tolerations, node selector terms, node affinity
    revision          ControllerRevisions: hashing, naming, reuse, rollback, collisions, history truncation
    newpods           a new pod from a workload's template (GetPodFromTemplate, lifecycle state, claim volumes)
    ordering          update order (ActivePods, priority, scatter) and scale-in order
    lifecycle         lifecycle hooks: states, hooked checks, transitions, deleting through the preDelete hook
    podreadiness      the KruisePodReady condition and its not-ready message keys
    inplace           in-place update: what can be updated in place, in place or recreate for one pod, the pod
                      patch, grace period, completion, and a round's refresh that keeps its drains (`hold`)
    predownload       image pre-download for in-place updates: the changed images, when to skip, the ImagePullJobs,
                      the revision's labels, deleting the jobs once rolled out
    containerhash     the kubelet's container hash and kruise-daemon's runtime-containers-meta annotation
    status            workload status: failure conditions, "did it change", the minReadySeconds requeue
    progress          the Progressing condition of progressDeadlineSeconds (Deployment's, CloneSet's in v1.9.0)
    template_defaults Kubernetes' defaults for pod and PVC templates (the webhook's templateDefaults)
    jsondiff          a minimal RFC 6902 diff: template change classification, admission responses' patches
    mergepatch        RFC 7386 JSON merge patches, applied or combined
    strategicmerge    strategic merge patches on pod templates, applied (UnitedDeployment's subset patch)

How a step is written (one style for every kind):
- a mechanism here is a function of plain dicts (and `now`) that returns what it decided: a list of actions, or
  a small result with the actions, when to look again and an error (`inplace.PodUpdate`, `inplace.PodRefresh`,
  `lifecycle.delete_through_hooks`'s (actions, deleting)). It never takes a kind's view or round, so every kind
  calls it as it is;
- a kind's step takes its view and the `round.Round` (a kind may extend it with its own state, as Advanced
  StatefulSet does with its pods by ordinal), emits those results into it in the order upstream makes its API
  calls (`emit`, `wait`, `fail`, `holding`), and returns only what steers the next step (CloneSet's scale step:
  "modified"; Advanced StatefulSet's: go on or stop). `reconcile` turns the round into the `Plan`
  (`finish`, `requeue_after`). Nothing filters actions afterwards: the drains of this round's in-place updates
  are kept by `inplace.hold`, inside `finish`.
"""
