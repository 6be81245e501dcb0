"""ack-kruise: OpenKruise's workload controllers in Python, and the `ack-kruise` command."""
