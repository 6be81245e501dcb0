"""ContainerRecreateRequest (CRR): recreate some containers of a running pod in place.

Three parties share the object (openkruise-1.9/kruise-daemon.md §3):
- the mutating webhook (`admission.py`) fills the pod's node, uid and container statuses in;
- the kruise-daemon of that node (`daemon/`) kills the containers through CRI, one per round, and writes
  `status.containerRecreateStates`; the kubelet restarts them;
- the manager's controller (`reconcile.py`) completes requests whose pod is gone or whose deadline passed,
  copies the recreated containers' pod status into an annotation the daemon reads, holds the pod not-ready
  during `unreadyGracePeriodSeconds`, removes the `active` label once done, and deletes it after its TTL.
The names they share are in `api.py`.
"""
