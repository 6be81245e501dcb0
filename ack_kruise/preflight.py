"""`ack-kruise preflight`: can this cluster run the ack-kruise chart, and with which values?

    ack-kruise preflight --kubeconfig ~/.kube/config

Asks the API server, changing nothing:
1. its version (GET /version): below 1.13 the chart cannot run; 1.13-1.15 get the legacy profile
   (apiextensions and admissionregistration v1beta1), 1.16 and later the v1 profile;
2. whether it accepts a CRD with a conversion webhook: a server-side dry run (`?dryRun=All`, nothing is
   stored) of a small two-version CRD with `conversion.strategy: Webhook`, through apiextensions.k8s.io/v1
   when served, v1beta1 otherwise. 1.13 and 1.14 refuse it unless kube-apiserver runs with
   --feature-gates=CustomResourceWebhookConversion=true, and the Advanced StatefulSet and DaemonSet CRDs need it;
3. whether the apps.kruise.io CRDs or kruise webhook configurations already exist outside a Helm release
   (an OpenKruise installed another way): `helm install` would refuse to take them over.

It prints what to enable or set before installing (e.g. `--set compatibility.customResourceWebhookConversion=true`
after enabling the gate) and exits 0 when the chart can be installed, 1 when it cannot, 2 when the checks
could not run (unreachable API server, no permission).
"""
from __future__ import annotations

import argparse
import asyncio
import re
import sys
from dataclasses import dataclass, field

import aiohttp

from controllers import schema
from kube import ApiError, ConfigError, KubeClient, load_config

# The compatibility matrix and the names of the chart's cluster-wide objects come from the runtime schema
# (schema.compatibility(), schema.chart_objects()), which the generator writes from policies/.
# The kube-apiserver gate that conversion webhooks need (alpha, off by default, in the oldest versions); the
# dry run below probes for it. Its name is the API server's; which versions need it, and the chart value that
# confirms it, come from the matrix.
GATE = "CustomResourceWebhookConversion"


def _minor(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


def variant_of(minor: tuple[int, int]) -> dict | None:
    """The variant serving Kubernetes `minor`: the last whose `since` is at or below it; None below the oldest."""
    found = None
    for variant in schema.compatibility()["variants"]:
        if _minor(variant["since"]) <= minor:
            found = variant
    return found

PROBE_GROUP = "preflight.ack-kruise.io"
PROBE_CRD = f"conversionprobes.{PROBE_GROUP}"


@dataclass
class ServerVersion:
    git_version: str
    major: int
    minor: int

    @property
    def short(self) -> str:
        return f"{self.major}.{self.minor}"


def parse_version(info: dict) -> ServerVersion:
    """GET /version → major.minor; `gitVersion` first (v1.14.8-aliyun.1), `major`/`minor` ("26+") otherwise."""
    git = str(info.get("gitVersion", ""))
    match = re.match(r"^v?(\d+)\.(\d+)", git)
    if match:
        return ServerVersion(git, int(match.group(1)), int(match.group(2)))
    major = re.match(r"\d+", str(info.get("major", "")))
    minor = re.match(r"\d+", str(info.get("minor", "")))
    if not major or not minor:
        raise ValueError(f"the API server reports no usable version: {info}")
    return ServerVersion(git or f"v{major.group(0)}.{minor.group(0)}", int(major.group(0)), int(minor.group(0)))


@dataclass
class ConversionCheck:
    """The outcome of the dry-run create: accepted, refused (with the server's message) or unknown."""
    accepted: bool | None
    api_version: str = ""
    message: str = ""


@dataclass
class ExistingObject:
    kind: str
    name: str
    helm_release: str | None   # "namespace/name" of the Helm release that owns it, None if none does


@dataclass
class Facts:
    version: ServerVersion
    conversion: ConversionCheck
    existing: list[ExistingObject] = field(default_factory=list)


@dataclass
class Report:
    exit_code: int   # 0: installable; 1: not installable yet; 2: could not tell
    lines: list[str]
    helm_flags: list[str]

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def probe_crd(api_version: str) -> dict:
    """A minimal two-version CRD with a conversion webhook, valid for apiextensions v1 and v1beta1 (fields
    an older server does not know are dropped by it)."""
    webhook = {"service": {"namespace": "default", "name": "ack-kruise-preflight", "path": "/convert"}}
    names = {"plural": "conversionprobes", "singular": "conversionprobe", "kind": "ConversionProbe",
             "listKind": "ConversionProbeList"}
    if api_version.endswith("/v1"):
        schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
        spec = {
            "group": PROBE_GROUP, "names": names, "scope": "Namespaced",
            "versions": [{"name": "v1beta1", "served": True, "storage": True, "schema": schema},
                         {"name": "v1alpha1", "served": True, "storage": False, "schema": schema}],
            "conversion": {"strategy": "Webhook",
                           "webhook": {"clientConfig": webhook, "conversionReviewVersions": ["v1", "v1beta1"]}},
        }
    else:
        spec = {
            "group": PROBE_GROUP, "names": names, "scope": "Namespaced",
            "versions": [{"name": "v1beta1", "served": True, "storage": True},
                         {"name": "v1alpha1", "served": True, "storage": False}],
            "validation": {"openAPIV3Schema": {"type": "object"}},
            "preserveUnknownFields": False,   # 1.15+: webhook conversion needs pruning
            "conversion": {"strategy": "Webhook", "webhookClientConfig": webhook,
                           "conversionReviewVersions": ["v1beta1"]},
        }
    return {"apiVersion": api_version, "kind": "CustomResourceDefinition",
            "metadata": {"name": PROBE_CRD}, "spec": spec}


async def _served_versions(client: KubeClient, group: str) -> list[str]:
    try:
        info = await client.get(f"/apis/{group}")
    except ApiError as e:
        if e.not_found:
            return []
        raise
    return [v["version"] for v in info.get("versions", [])]


async def check_conversion(client: KubeClient) -> ConversionCheck:
    served = await _served_versions(client, "apiextensions.k8s.io")
    version = "v1" if "v1" in served else "v1beta1" if "v1beta1" in served else None
    if version is None:
        return ConversionCheck(None, message="the API server serves no apiextensions.k8s.io API")
    api_version = f"apiextensions.k8s.io/{version}"
    try:
        await client.create(f"/apis/{api_version}/customresourcedefinitions", probe_crd(api_version), dryRun="All")
    except ApiError as e:
        message = e.body.get("message", str(e))
        if e.status == 409:   # someone created it for real: the server accepted such a CRD once
            return ConversionCheck(True, api_version, message)
        if e.status in (400, 422) and ("conversion" in message.lower() or GATE in message):
            return ConversionCheck(False, api_version, message)
        if e.status == 400 and "dry" in message.lower():
            return ConversionCheck(None, api_version, f"server-side dry run is not available: {message}")
        if e.status == 403:
            return ConversionCheck(None, api_version, f"no permission to create CRDs (installing the chart "
                                                      f"needs it too): {message}")
        return ConversionCheck(None, api_version, f"unexpected answer {e.status}: {message}")
    return ConversionCheck(True, api_version)


def _helm_owner(obj: dict) -> str | None:
    annotations = obj.get("metadata", {}).get("annotations") or {}
    name, namespace = annotations.get("meta.helm.sh/release-name"), annotations.get("meta.helm.sh/release-namespace")
    return f"{namespace}/{name}" if name else None


async def existing_objects(client: KubeClient, crd_api_version: str) -> list[ExistingObject]:
    found = []
    for name in schema.chart_objects()["customResourceDefinitions"]:
        obj = await client.get_or_none(f"/apis/{crd_api_version}/customresourcedefinitions/{name}")
        if obj:
            found.append(ExistingObject("CustomResourceDefinition", name, _helm_owner(obj)))
    admission = await _served_versions(client, "admissionregistration.k8s.io")
    version = "v1" if "v1" in admission else "v1beta1"
    for which, name in schema.chart_objects()["webhookConfigurations"].items():   # mutating, validating
        path = f"/apis/admissionregistration.k8s.io/{version}/{which}webhookconfigurations/{name}"
        obj = await client.get_or_none(path)
        if obj:
            found.append(ExistingObject(f"{which.capitalize()}WebhookConfiguration", name, _helm_owner(obj)))
    return found


async def gather(client: KubeClient) -> Facts:
    version = parse_version(await client.get("/version"))
    conversion = await check_conversion(client)
    existing = await existing_objects(client, conversion.api_version or "apiextensions.k8s.io/v1beta1")
    return Facts(version, conversion, existing)


def assess(facts: Facts) -> Report:
    """What the facts mean for the chart: a verdict, the lines to print, the helm flags to use."""
    v = facts.version
    lines: list[str] = []
    flags: list[str] = []
    ok = True
    minor = (v.major, v.minor)
    variant = variant_of(minor)
    if variant is None:
        oldest = schema.compatibility()["variants"][0]["since"]
        lines.append(f"✗ Kubernetes {v.git_version}: ack-kruise needs Kubernetes {oldest} or later "
                     "(conversion webhooks for Advanced StatefulSet v1alpha1/v1beta1). Upgrade the cluster first.")
        return Report(1, lines, flags)
    profile = f"{variant['profile']} profile ({variant['crdApiVersion']}, {variant['admissionApiVersion']})"
    lines.append(f"✓ Kubernetes {v.git_version}: supported, {profile}")

    c = facts.conversion
    gate_off_by_default = GATE in variant["apiServerFeatureGates"]
    gate_value = schema.compatibility()["apiServerFeatureGates"][GATE]["value"]
    if c.accepted:
        lines.append(f"✓ conversion webhooks: accepted ({c.api_version}, server-side dry run)")
        if gate_off_by_default:
            lines.append(f"  kube-apiserver runs with {GATE}=true; tell the chart so:")
            flags.append(f"--set {gate_value}=true")
    elif c.accepted is False:
        ok = False
        lines.append(f"✗ conversion webhooks: refused ({c.api_version}): {c.message}")
        if gate_off_by_default:
            lines += [f"  Kubernetes {v.short} has the kube-apiserver feature gate {GATE} off by default. Enable it:",
                      f"    kube-apiserver ... --feature-gates={GATE}=true",
                      "  (on every API server; on managed clusters ask your provider), run preflight again, then install with:",
                      f"    --set {gate_value}=true"]
        else:
            lines.append(f"  The API server refuses CRDs with conversion webhooks although Kubernetes {v.short} "
                         f"enables them by default: check its --feature-gates ({GATE} must not be false).")
    else:
        lines.append(f"? conversion webhooks: could not check: {c.message}")
        if gate_off_by_default:
            lines += [f"  Kubernetes {v.short} needs kube-apiserver --feature-gates={GATE}=true. Once you know it is on,",
                      f"  install with --set {gate_value}=true."]

    owned = [o for o in facts.existing if o.helm_release]
    foreign = [o for o in facts.existing if not o.helm_release]
    if owned:
        releases = sorted({o.helm_release for o in owned})
        lines.append(f"• already installed by Helm release {', '.join(releases)} ({len(owned)} objects): "
                     "upgrade that release with `helm upgrade` instead of installing a second one")
    if foreign:
        ok = False
        lines.append("✗ already in the cluster, not from a Helm release (another OpenKruise installation?), so "
                     "`helm install` would refuse to take them over:")
        lines += [f"    {o.kind} {o.name}" for o in foreign]
        lines.append("  Uninstall that installation first. To keep its CRDs (and so its workloads), remove everything "
                     "else and install with `helm install --take-ownership` (Helm 3.17+), which adopts them.")
    if not ok:
        lines += ["", "The chart cannot be installed on this cluster yet: fix the ✗ items above."]
        return Report(1, lines, flags)
    if c.accepted is None and gate_off_by_default:
        lines += ["", f"Could not tell whether Kubernetes {v.short} accepts conversion webhooks (see ? above)."]
        return Report(2, lines, flags)
    install = "helm install ack-kruise <chart> --namespace kruise-system --create-namespace"
    lines += ["", "Ready to install: " + " ".join([install, *flags]),
              f"  (for offline or GitOps renders, also --set kubeVersion={v.git_version})"]
    return Report(0, lines, flags)


# ---- command line ------------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", help="default: $KUBECONFIG, then the in-cluster service account")
    parser.add_argument("--context", help="kubeconfig context (default: the current context)")


async def _run(args: argparse.Namespace) -> Report:
    config = load_config(args.kubeconfig, args.context)
    async with KubeClient(config, user_agent="ack-kruise-preflight") as client:
        return assess(await gather(client))


def run(args: argparse.Namespace) -> int:
    try:
        report = asyncio.run(_run(args))
    except ConfigError as e:
        print(f"ack-kruise preflight: {e}", file=sys.stderr)
        return 2
    except ApiError as e:
        print(f"ack-kruise preflight: the API server refused a check: {e}", file=sys.stderr)
        return 2
    except (OSError, aiohttp.ClientError, asyncio.TimeoutError) as e:
        print(f"ack-kruise preflight: cannot reach the API server: {e}", file=sys.stderr)
        return 2
    print("\n".join(report.lines))
    return 0 if report.ok else 1
