"""Writes the caBundle into our webhook configurations and the conversion of the CRDs that serve two versions
(Advanced StatefulSet, Advanced DaemonSet), and nothing else.

OpenKruise rewrites whole webhook lists and CRD conversion settings at runtime, which GitOps tools then fight
(openkruise.md §7.3). Here the chart renders every field but caBundle, and the manager patches exactly the
caBundle fields, each guarded by a JSON-patch `test` on the webhook's name, so a concurrent change to the
list can never make us patch the wrong entry.

Outside a cluster (tests, the demo, development), `url_base` points the API server at the manager's own
address: each clientConfig becomes `url: <url_base><path>` instead of the service reference.
"""
from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field

from controllers import schema
from kube import JSON_PATCH, ApiError, KubeClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InjectionTargets:
    """By default the chart's objects, as the runtime schema names them (generated from policies/webhooks.yaml
    and the kinds that serve several versions)."""
    mutating: str = field(default_factory=lambda: _named()["webhookConfigurations"]["mutating"])
    validating: str = field(default_factory=lambda: _named()["webhookConfigurations"]["validating"])
    conversion_crds: tuple[str, ...] = field(default_factory=lambda: tuple(_named()["conversionWebhookCRDs"]))


def _named() -> dict:
    return schema.chart_objects()


def _client_config_ops(prefix: str, config: dict, ca_b64: str, url_base: str | None) -> list[dict]:
    ops = []
    if url_base:
        path = (config.get("service") or {}).get("path") or _path_of_url(config.get("url"))
        if config.get("url") != f"{url_base}{path}":
            if "service" in config:
                ops.append({"op": "remove", "path": f"{prefix}/service"})
            ops.append({"op": "add", "path": f"{prefix}/url", "value": f"{url_base}{path}"})
    if config.get("caBundle") != ca_b64:
        ops.append({"op": "add", "path": f"{prefix}/caBundle", "value": ca_b64})
    return ops


def _path_of_url(url: str | None) -> str:
    if not url:
        return ""
    rest = url.split("://", 1)[-1]
    return "/" + rest.split("/", 1)[1] if "/" in rest else ""


class CABundleInjector:
    def __init__(self, client: KubeClient, targets: InjectionTargets = InjectionTargets(),
                 url_base: str | None = None):
        self.client, self.targets, self.url_base = client, targets, url_base
        self._admission_version: str | None = None
        self._crd_version: str | None = None

    async def _pick(self, group: str, candidates: tuple[str, ...]) -> str:
        """The newest version of an API group this server serves (v1 from 1.16, v1beta1 before)."""
        for version in candidates:
            try:
                await self.client.get(f"/apis/{group}/{version}")
                return version
            except ApiError as e:
                if not e.not_found:
                    raise
        raise RuntimeError(f"the API server serves none of {group}/{candidates}")

    async def current_ca_bundle(self) -> bytes | None:
        """The caBundle the API server now uses for our mutating webhooks (None if absent)."""
        version = self._admission_version or await self._pick("admissionregistration.k8s.io", ("v1", "v1beta1"))
        self._admission_version = version
        obj = await self.client.get_or_none(
            f"/apis/admissionregistration.k8s.io/{version}/mutatingwebhookconfigurations/{self.targets.mutating}")
        hooks = (obj or {}).get("webhooks") or []
        if not hooks or not hooks[0].get("clientConfig", {}).get("caBundle"):
            return None
        return base64.b64decode(hooks[0]["clientConfig"]["caBundle"])

    async def inject(self, ca_bundle: bytes) -> int:
        """Patch every target; returns how many objects changed. Missing objects are skipped (the chart
        may disable some), so this is safe to call before and after installation."""
        ca_b64 = base64.b64encode(ca_bundle).decode()
        changed = 0
        self._admission_version = self._admission_version or await self._pick(
            "admissionregistration.k8s.io", ("v1", "v1beta1"))
        for resource, name in (("mutatingwebhookconfigurations", self.targets.mutating),
                               ("validatingwebhookconfigurations", self.targets.validating)):
            path = f"/apis/admissionregistration.k8s.io/{self._admission_version}/{resource}/{name}"
            obj = await self.client.get_or_none(path)
            if obj is None:
                continue
            ops: list[dict] = []
            for i, hook in enumerate(obj.get("webhooks") or []):
                hook_ops = _client_config_ops(f"/webhooks/{i}/clientConfig", hook.get("clientConfig") or {},
                                              ca_b64, self.url_base)
                if hook_ops:
                    ops.append({"op": "test", "path": f"/webhooks/{i}/name", "value": hook["name"]})
                    ops.extend(hook_ops)
            if ops:
                await self.client.patch(path, ops, JSON_PATCH)
                changed += 1
        self._crd_version = self._crd_version or await self._pick("apiextensions.k8s.io", ("v1", "v1beta1"))
        for crd_name in self.targets.conversion_crds:
            path = f"/apis/apiextensions.k8s.io/{self._crd_version}/customresourcedefinitions/{crd_name}"
            crd = await self.client.get_or_none(path)
            conv = ((crd or {}).get("spec") or {}).get("conversion") or {}
            if conv.get("strategy") != "Webhook":
                continue
            if self._crd_version == "v1":
                config, prefix = (conv.get("webhook") or {}).get("clientConfig") or {}, "/spec/conversion/webhook/clientConfig"
            else:
                config, prefix = conv.get("webhookClientConfig") or {}, "/spec/conversion/webhookClientConfig"
            ops = _client_config_ops(prefix, config, ca_b64, self.url_base)
            if ops:
                await self.client.patch(path, ops, JSON_PATCH)
                changed += 1
        return changed
