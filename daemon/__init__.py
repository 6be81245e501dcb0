"""kruise-daemon: the node agent (`ack-kruise daemon`), one per node. It talks CRI to the node's container
runtime (`cri.py`, behind an interface of ours) and carries out ContainerRecreateRequests (`crr.py`, pure;
`recreator.py`, the watches and writes). See `main.py` and README "kruise-daemon"."""
