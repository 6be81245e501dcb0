"""Well-known names shared by the workloads (openkruise.md §2.6, `apis/apps/pub/*.go`, `apis/apps/v1alpha1`)."""

# Pod labels written by the workload controllers.
CONTROLLER_REVISION_HASH_LABEL = "controller-revision-hash"  # apps/v1 ControllerRevisionHashLabelKey
POD_TEMPLATE_HASH_LABEL = "pod-template-hash"  # apps/v1 DefaultDeploymentUniqueLabelKey, always the short hash
CLONESET_INSTANCE_ID_LABEL = "apps.kruise.io/cloneset-instance-id"
SPECIFIED_DELETE_LABEL = "apps.kruise.io/specified-delete"  # any value: deletion requested

# Label on ControllerRevisions (k8s.io/kubernetes/pkg/controller/history ControllerRevisionHashLabel).
REVISION_HASH_LABEL = "controller.kubernetes.io/hash"
# Annotation on CloneSet ControllerRevisions with gate RecreatePodWhenChangeVCTInCloneSetGate
# (pkg/util/volumeclaimtemplate HashAnnotation): the hash of the volumeClaimTemplates the revision was made with.
VCT_HASH_ANNOTATION = "kruise.io/cloneset-volumeclaimtemplate-hash"

# Lifecycle hooks (apis/apps/pub/lifecycle.go).
LIFECYCLE_STATE_LABEL = "lifecycle.apps.kruise.io/state"
LIFECYCLE_TIMESTAMP_ANNOTATION = "lifecycle.apps.kruise.io/timestamp"

# In-place update (apis/apps/pub/inplace_update.go); the legacy keys are still read and cleaned up.
INPLACE_UPDATE_STATE_ANNOTATION = "apps.kruise.io/inplace-update-state"
INPLACE_UPDATE_STATE_ANNOTATION_LEGACY = "inplace-update-state"
INPLACE_UPDATE_GRACE_ANNOTATION = "apps.kruise.io/inplace-update-grace"
INPLACE_UPDATE_GRACE_ANNOTATION_LEGACY = "inplace-update-grace"

# Pod condition types / readiness gates.
INPLACE_UPDATE_READY = "InPlaceUpdateReady"
KRUISE_POD_READY = "KruisePodReady"
POD_READY = "Ready"
CONTAINERS_READY = "ContainersReady"

# Container env that orders in-place updates of a pod's containers (KRUISE_CONTAINER_PRIORITY).
CONTAINER_PRIORITY_ENV = "KRUISE_CONTAINER_PRIORITY"

# Workload labels.
CLONESET_SCALING_EXCLUDE_PREPARING_DELETE_LABEL = "apps.kruise.io/cloneset-scaling-exclude-preparing-delete"

# Upstream pod annotation honoured when choosing pods to delete (lower cost goes first).
POD_DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"
