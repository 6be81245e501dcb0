"""SidecarSet (apps.kruise.io, v1beta1 stored, cluster-scoped): sidecar containers injected into matching pods at
creation by the pod webhook, then upgraded in place by the controller (spec: shared/reference/openkruise-1.9/
sidecarset.md).

Modules are listed here as they land; each says which section of the spec it implements.
"""
