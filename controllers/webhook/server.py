"""The webhook server: one HTTPS port for admission (`/mutate-*`, `/validate-*`), CRD conversion (`/convert`)
and `/healthz`; certificates are swapped in place, so rotation never drops a connection.

Paths follow the generated webhook configurations (`policies/webhooks.yaml`): a workload path names its group
and kind, and the kind itself comes from the AdmissionReview, so one handler serves them all.
"""
from __future__ import annotations

import logging
import ssl
import tempfile
from pathlib import Path
from typing import Awaitable, Callable

from aiohttp import web

from controllers.metrics import REGISTRY

from controllers import schema as schemas

from . import admission, conversion, deletion_protection, reviews
from .certs import CertBundle
from .containerrecreaterequest import ObjectLookup, mutate_crr
from .kubernetes_validation import DryRunCreate

log = logging.getLogger(__name__)

PodMutator = Callable[[dict], Awaitable[dict]]
CRR_MUTATE_PATH = "/mutate-apps-kruise-io-v1alpha1-containerrecreaterequest"


def _well_formed(review: dict, versions: tuple[str, ...]) -> dict:
    """Enough of a malformed review to answer it: its apiVersion when it is one we speak, and its uid."""
    version = review.get("apiVersion") if review.get("apiVersion") in versions else versions[0]
    return {"apiVersion": version, "request": {"uid": reviews.uid_of(review)}}


class WebhookServer:
    def __init__(self, host: str, port: int, *, pods_lookup: admission.PodsLookup | None = None,
                 pod_mutator: PodMutator | None = None, feature_gates: dict[str, bool] | None = None,
                 object_lookup: ObjectLookup | None = None,
                 state_lookups: dict[str, admission.StateLookup] | None = None,
                 dry_run: DryRunCreate | None = None,
                 list_items: deletion_protection.ListItems | None = None):
        self.host, self.port = host, port
        self.object_lookup = object_lookup  # reads a pod or node (the ContainerRecreateRequest webhook)
        self.pods_lookup, self.pod_mutator = pods_lookup, pod_mutator
        self.state_lookups = state_lookups
        self.dry_run = dry_run      # the API server's dry-run create, for rules kubernetesValidation
        self.feature_gates = feature_gates
        self.list_items = list_items    # the Cascading checks of deletion protection (pods, claims, CRs)
        # Paths that guard Kubernetes' own objects against deletion (policies/webhooks.yaml `deleteProtection`).
        self.protected = schemas.default_schema().data.get("deletionProtection", {})
        self.ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.serving: CertBundle | None = None
        self._runner: web.AppRunner | None = None

    # ---- certificates ----------------------------------------------------------------------
    def load(self, bundle: CertBundle) -> None:
        """Serve `bundle` from the next TLS handshake on (the context is shared by every connection)."""
        with tempfile.TemporaryDirectory() as d:
            cert, key = Path(d) / "tls.crt", Path(d) / "tls.key"
            cert.write_bytes(bundle.cert_pem)
            key.write_bytes(bundle.key_pem)
            self.ssl.load_cert_chain(cert, key)
        self.serving = bundle

    # ---- handlers ---------------------------------------------------------------------------
    async def _admission(self, request: web.Request) -> web.Response:
        path = request.path
        try:
            review = reviews.parse(await request.read())
        except reviews.Malformed as e:
            REGISTRY.inc("controller_runtime_webhook_requests_total", webhook=path, code="400")
            return web.json_response({"message": str(e)}, status=400)
        errors = reviews.admission_errors(review)
        if errors:
            REGISTRY.inc("controller_runtime_webhook_requests_total", webhook=path, code="400")
            return web.json_response(admission._response(_well_formed(review, reviews.ADMISSION_VERSIONS), False,
                                                         message=reviews.summary(errors), code=400,
                                                         reason="BadRequest"))
        try:
            result = await self._admit(path, review)
        except Exception as e:
            # A defect, not a verdict: answer the API server with what went wrong instead of aiohttp's text 500.
            log.exception("admission %s failed", path)
            result = admission._response(review, False, message=f"Internal error: {e!r}", code=500,
                                         reason="InternalError")
        allowed = result["response"]["allowed"]
        REGISTRY.inc("controller_runtime_webhook_requests_total", webhook=path, code="200" if allowed else "denied")
        return web.json_response(result)

    async def _admit(self, path: str, review: dict) -> dict:
        if path == "/mutate-pod":
            return await self.pod_mutator(review) if self.pod_mutator else admission._response(review, True)
        if path == CRR_MUTATE_PATH:
            return await mutate_crr(review, self.object_lookup, feature_gates=self.feature_gates)
        if path.startswith("/mutate-"):
            return admission.mutate(review, feature_gates=self.feature_gates)
        if path in self.protected:
            return await deletion_protection.validate(review, self.protected[path], feature_gates=self.feature_gates,
                                                      list_items=self.list_items)
        return await admission.validate(review, pods=self.pods_lookup, feature_gates=self.feature_gates,
                                        lookups=self.state_lookups, dry_run=self.dry_run)

    async def _convert(self, request: web.Request) -> web.Response:
        try:
            review = reviews.parse(await request.read())
        except reviews.Malformed as e:
            REGISTRY.inc("controller_runtime_webhook_requests_total", webhook="/convert", code="400")
            return web.json_response({"message": str(e)}, status=400)
        errors = reviews.conversion_errors(review)
        if errors:
            result = conversion.failure(_well_formed(review, reviews.CONVERSION_VERSIONS), reviews.summary(errors))
        else:
            try:
                result = conversion.review(review)
            except Exception as e:
                log.exception("conversion failed")
                result = conversion.failure(review, f"Internal error: {e!r}")
        REGISTRY.inc("controller_runtime_webhook_requests_total", webhook="/convert",
                     code="200" if result["response"]["result"]["status"] == "Success" else "500")
        return web.json_response(result)

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    def app(self) -> web.Application:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_post("/convert", self._convert)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_post("/mutate-pod", self._admission)
        app.router.add_post(r"/{path:(mutate|validate)-[a-z0-9-]+}", self._admission)
        return app

    async def start(self) -> None:
        if self.serving is None:
            raise RuntimeError("load a certificate before starting the webhook server")
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self.ssl, backlog=512)
        await site.start()
        log.info("webhook server listening on https://%s:%d", self.host or "0.0.0.0", self.port)

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
