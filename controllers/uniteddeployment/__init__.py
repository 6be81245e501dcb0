"""UnitedDeployment: one workload template spread over subsets of nodes, one subset workload (CloneSet, Advanced
StatefulSet, StatefulSet or Deployment) per subset (openkruise-1.9/daemonset-uniteddeployment.md Part B)."""
