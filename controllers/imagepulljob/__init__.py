"""ImagePullJob, ImageListPullJob and NodeImage: image pre-download on nodes (openkruise-1.9/kruise-daemon.md §2).

Three parties share the NodeImage of each node:
- the manager's NodeImage controller (`controllers/nodeimage/`) keeps one per node, drops tags nobody wants any
  more or whose TTL passed, and fails tags the node's daemon never answered;
- the ImagePullJob controller (`reconcile.py`) writes the job's image as a tag into the NodeImages of the nodes
  it selects, `parallelism` at a time, and counts its status from theirs; ImageListPullJob
  (`controllers/imagelistpulljob/`) makes one ImagePullJob per image;
- the kruise-daemon of the node (`daemon/imagepuller.py`) pulls the tags through CRI and writes the status.
The names they share are in `api.py`.
"""
