"""`make chaos`: faults injected into a sandbox of its own, and what they cost (issue 19).

So far one scenario (`kills.py`): kruise-manager killed with SIGKILL at random points of scale-up, rollout in
place and scale-down, for CloneSet and Advanced StatefulSet. Each kill reports pods lost, pods duplicated, pods
needlessly recreated and the time to converge; the run writes `chaos/results.md`.
"""
