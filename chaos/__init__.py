"""`make chaos`: faults injected into a sandbox of its own, and what they cost (issue 19).

`sequence.py` runs a workload through scale-up, in-place rollout and scale-down with a fault in each operation
and counts pods lost, duplicated and needlessly recreated, and the time to converge; `scenarios.py` names the
faults (kruise-manager killed, kube-apiserver or etcd restarted, watch expiry by an etcd compaction, the manager
cut off from the API server by `proxy.py`, the serving certificate rotating under admission load by
`admission.py`, the leader of two replicas killed by `replicas.py`, which runs them as `traced_manager.py`);
`kinds.py` the workloads (CloneSet, Advanced StatefulSet, Advanced DaemonSet, UnitedDeployment, SidecarSet);
`__main__.py` runs them, the kinds of a seed in parallel on one sandbox, and writes `chaos/results.md`.
"""
