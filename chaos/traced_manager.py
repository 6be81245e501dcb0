"""`ack-kruise manager` that appends each write it sends to a file, for the leader scenario's proof that only
the leader acts: `python -m chaos.traced_manager manager <arguments>` with $ACK_KRUISE_WRITES_FILE set.

A line per write (POST, PUT, PATCH, DELETE), `<unix time> <method> <path>`, appended when it is sent, answered
or not (an attempt is an act). Left out: server-side dry runs (the admission webhooks' kubernetesValidation,
which store nothing), and what every replica does by design, leader or not: its Lease (the election itself) and
the serving certificate's machinery (the Secret, the webhook configurations' and CRDs' caBundle).
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any

from kube import KubeClient

WRITES = ("POST", "PUT", "PATCH", "DELETE")
EVERY_REPLICAS = ("/leases", "/secrets/", "webhookconfigurations", "/customresourcedefinitions")


def acts(method: str, path: str, params: dict | None) -> bool:
    """Whether a request changes the cluster on the manager's behalf as an actor (see the module's docstring)."""
    return (method in WRITES and "dryRun" not in (params or {})
            and not any(part in path for part in EVERY_REPLICAS))


def install(writes_file: str) -> None:
    original = KubeClient.request

    async def request(self: KubeClient, method: str, path: str, *, params: Any = None, **kwargs: Any) -> Any:
        if acts(method, path, params):
            with open(writes_file, "a") as f:
                f.write(f"{time.time():.3f} {method} {path}\n")
        return await original(self, method, path, params=params, **kwargs)

    KubeClient.request = request  # type: ignore[method-assign]


def main() -> int:
    install(os.environ["ACK_KRUISE_WRITES_FILE"])
    from ack_kruise.cli import main as cli_main
    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
