"""The local Kubernetes sandbox: control plane, simulated nodes, and (later) a real node."""
