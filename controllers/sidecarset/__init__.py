"""SidecarSet (apps.kruise.io, v1beta1 stored, cluster-scoped): sidecar containers injected into matching pods at
creation by the pod webhook, then upgraded in place by the controller (spec: shared/reference/openkruise-1.9/
sidecarset.md).

Modules are listed here as they land; each says which section of the spec it implements.

Injection at pod creation (§2, the pod webhook calls `inject.inject`): `matching` (§2.2), `revision_choice`
(§2.3), `history` (§4.5, a revision restored), `podmeta` (§2.5), `containers` (§2.6, §2.7, §2.10), `resources`
(§2.9), `inject` (§2.8 and the whole), `annotations` (§2.11, the pod annotations and their JSON), `availability`
(the warning about namespaces where the pod webhook fails open).

The upgrade controller (§4, §5, §1.6, §6):
- `revisions.py`: ControllerRevisions in the install namespace, registration and history limit (§4);
- `upgrade.py`: matched pods, predicates, which pods go, the in-place and hot-upgrade pod writes (§5.2-§5.9);
- `status.py`: the counters (§1.6);
- `reconcile.py`: the v1.9.0 pipeline (§5.4), pure; `handlers.py`: its declaration for the runtime.
"""
