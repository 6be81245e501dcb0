"""SidecarSet (apps.kruise.io, v1beta1 stored, cluster-scoped): sidecar containers injected into matching pods at
creation by the pod webhook, then upgraded in place by the controller (spec: shared/reference/openkruise-1.9/
sidecarset.md).

Modules are listed here as they land; each says which section of the spec it implements.

The upgrade controller (§4, §5, §1.6, §6):
- `revisions.py`: ControllerRevisions in the install namespace, registration and history limit (§4);
- `upgrade.py`: matched pods, predicates, which pods go, the in-place and hot-upgrade pod writes (§5.2-§5.9);
- `status.py`: the counters (§1.6);
- `reconcile.py`: the v1.9.0 pipeline (§5.4), pure; `handlers.py`: its declaration for the runtime.
"""
