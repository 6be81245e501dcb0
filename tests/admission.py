"""A validating admission webhook served by the test itself: the API server's own view of every pod create
in one namespace, refused ones included, which no watch can give (a refused create leaves no object).

    with PodCreateRecorder(cluster, namespace, {"app": "web"}, deny=lambda n: n == 1) as recorder:
        ...create the workload, wait...
    assert recorder.groups == [[0], [1, 2], ...]

Requests sent together are answered together: each one is held until no new one has arrived for `quiet`
seconds, and the requests released at once form a group. A client that waits for one batch before it sends
the next (slow start) shows one group per batch.
"""
from __future__ import annotations

import base64
import datetime
import json
import ssl
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

from controllers.webhook.certs import new_ca, new_serving_cert

from .kube import Cluster, wait_for

REFUSED = "refused by the test's pod create recorder"


class PodCreateRecorder:
    def __init__(self, cluster: Cluster, namespace: str, labels: dict[str, str],
                 deny: Callable[[int], bool] = lambda n: False, quiet: float = 0.5):
        """Records the creates of pods with `labels` in `namespace`; `deny(n)` refuses the n-th (from 0)."""
        self.cluster, self.namespace, self.labels, self.deny, self.quiet = cluster, namespace, labels, deny, quiet
        self.groups: list[list[int]] = []  # request numbers (0, 1, ...) in the groups they were answered in
        self.denied: list[int] = []
        self._open: list[int] = []
        self._count = 0
        self._last = 0.0
        self._cond = threading.Condition()
        self._name = f"pod-create-recorder-{namespace}"[:63]
        self._server: ThreadingHTTPServer | None = None

    # ---- the decision, one call per request (each in its own thread) -------------------------------------
    def _admit(self) -> bool:
        with self._cond:
            number, group = self._count, self._open
            self._count += 1
            group.append(number)
            self._last = time.monotonic()
            self._cond.notify_all()
            while group is self._open:
                left = self._last + self.quiet - time.monotonic()
                if left <= 0:
                    self.groups.append(group)
                    self._open = []
                    self._cond.notify_all()
                    break
                self._cond.wait(left)
            allowed = not self.deny(number)
            if not allowed:
                self.denied.append(number)
            return allowed

    # ---- serving ----------------------------------------------------------------------------------------
    def __enter__(self) -> "PodCreateRecorder":
        ca, ca_key = new_ca(datetime.timedelta(hours=1))
        cert, key = new_serving_cert(ca, ca_key, [], ["127.0.0.1"], datetime.timedelta(hours=1))
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                # A dry run is the probe that shows the webhook in force: refused, not recorded.
                allowed = not review["request"].get("dryRun") and recorder._admit()
                response = {"uid": review["request"]["uid"], "allowed": allowed}
                if not allowed:
                    response["status"] = {"code": 403, "message": REFUSED}
                body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                                   "response": response}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "tls.crt").write_bytes(cert)
            (Path(tmp) / "tls.key").write_bytes(key)
            context.load_cert_chain(Path(tmp) / "tls.crt", Path(tmp) / "tls.key")
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

        # Only this namespace's pods: the API server 1.20 has no automatic namespace name label, so add one.
        self.cluster.kubectl("label", "namespace", self.namespace, f"pod-create-recorder={self.namespace}",
                             "--overwrite")
        port = self._server.server_address[1]
        self.cluster.apply({
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": self._name},
            "webhooks": [{
                "name": "pods.recorder.ack-kruise.io", "admissionReviewVersions": ["v1"], "sideEffects": "None",
                "failurePolicy": "Fail", "timeoutSeconds": 10,
                "clientConfig": {"url": f"https://127.0.0.1:{port}/", "caBundle": base64.b64encode(ca).decode()},
                "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                           "resources": ["pods"]}],
                "namespaceSelector": {"matchLabels": {"pod-create-recorder": self.namespace}},
                "objectSelector": {"matchLabels": self.labels},
            }]}, self.namespace)
        probe = json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe", "labels": self.labels},
                            "spec": {"containers": [{"name": "main", "image": "registry.example/app:v1"}]}})
        wait_for(lambda: REFUSED in self.cluster.kubectl("create", "--dry-run=server", "-f", "-", input=probe,
                                                         namespace=self.namespace, check=False).stderr,
                 30, "the API server calling the recorder")
        return self

    def __exit__(self, *exc) -> None:
        self.cluster.kubectl("delete", "validatingwebhookconfiguration", self._name, "--ignore-not-found")
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def sizes(self) -> list[int]:
        with self._cond:
            return [len(g) for g in self.groups]
