"""CustomResourceDefinitions: plain files under crds/ (one per kind and variant, for kubectl users) and chart
templates under charts/<chart>/templates/generated/crds/ (service and annotations from values)."""
from __future__ import annotations

from dataclasses import dataclass

from . import chart
from .inputs import Inputs, Kind, Variant
from .openapi import object_schema
from .yamlio import dump_yaml, yaml_header


@dataclass(frozen=True)
class ServiceRef:
    name: str
    namespace: str
    port: int | str


def variant_dir(inputs: Inputs, variant: Variant) -> str:
    """crds/v1, or crds/legacy/1.14 when a profile has several variants."""
    siblings = [v for v in inputs.variants if v.profile == variant.profile]
    if len(siblings) == 1:
        return variant.profile
    return f"{variant.profile}/{variant.since[0]}.{variant.since[1]}"


def _names(kind: Kind) -> dict:
    names = {"kind": kind.name, "listKind": kind.raw["listKind"], "plural": kind.plural,
             "singular": kind.raw["singular"]}
    if kind.raw.get("shortNames"):
        names["shortNames"] = list(kind.raw["shortNames"])
    if kind.raw.get("categories"):
        names["categories"] = list(kind.raw["categories"])
    return names


def _subresources(kind: Kind) -> dict | None:
    raw = kind.raw.get("subresources", {})
    result: dict = {}
    if raw.get("status"):
        result["status"] = {}
    if "scale" in raw:
        result["scale"] = dict(raw["scale"])
    return result or None


def _columns(kind: Kind, path_key: str, version: str | None = None) -> list[dict]:
    """The printer columns of `version`; None: those every version prints (apiextensions v1beta1's single list)."""
    columns = []
    for column in kind.raw.get("printerColumns", []):
        only = column.get("versions")
        if only is not None and (version is None or version not in only):
            continue
        entry = {"name": column["name"], "type": column["type"], path_key: column["jsonPath"]}
        for key in ("description", "priority", "format"):
            if column.get(key):
                entry[key] = column[key]
        columns.append(entry)
    return columns


def build_crd(inputs: Inputs, kind: Kind, variant: Variant, service: ServiceRef, *,
              annotations: bool = False) -> dict:
    supports = variant.supports
    schemas = {v: object_schema(kind.trees[v], kind.raw["description"], supports) for v in kind.version_names}
    spec: dict = {"group": kind.group, "names": _names(kind), "scope": kind.raw["scope"]}
    subresources = _subresources(kind)
    if variant.crd_api_version == "apiextensions.k8s.io/v1":
        versions = []
        for version in kind.versions:
            entry = {"name": version["name"], "served": version["served"], "storage": version["storage"],
                     "schema": {"openAPIV3Schema": schemas[version["name"]]}}
            if subresources:
                entry["subresources"] = subresources
            if kind.raw.get("printerColumns"):
                entry["additionalPrinterColumns"] = _columns(kind, "jsonPath", version["name"])
            versions.append(entry)
        spec["versions"] = versions
        if kind.conversion_webhook:
            service_ref = {"name": service.name, "namespace": service.namespace,
                           "path": inputs.webhooks["conversionPath"], "port": service.port}
            spec["conversion"] = {"strategy": "Webhook", "webhook": {
                "clientConfig": {"service": service_ref},
                "conversionReviewVersions": list(inputs.webhooks["conversionReviewVersions"])}}
    else:
        # apiextensions v1beta1: `version` must name the first version, and per-version schemas,
        # subresources and columns are only allowed where they differ between versions.
        spec["version"] = kind.version_names[0]
        spec["versions"] = [{"name": v["name"], "served": v["served"], "storage": v["storage"]} for v in kind.versions]
        distinct = {dump_yaml(s) for s in schemas.values()}
        if len(distinct) == 1:
            spec["validation"] = {"openAPIV3Schema": schemas[kind.version_names[0]]}
        else:
            for entry in spec["versions"]:
                entry["schema"] = {"openAPIV3Schema": schemas[entry["name"]]}
        if subresources:
            spec["subresources"] = subresources
        if kind.raw.get("printerColumns"):
            spec["additionalPrinterColumns"] = _columns(kind, "JSONPath")
        if kind.conversion_webhook:
            service_ref = {"name": service.name, "namespace": service.namespace,
                           "path": inputs.webhooks["conversionPath"]}
            if supports("crd.conversion.service.port"):
                service_ref["port"] = service.port
            conversion = {"strategy": "Webhook", "webhookClientConfig": {"service": service_ref}}
            if supports("crd.conversion.conversionReviewVersions"):
                conversion["conversionReviewVersions"] = list(inputs.webhooks["conversionReviewVersions"])
            spec["conversion"] = conversion
        if supports("crd.spec.preserveUnknownFields"):
            # Prune unknown fields as v1 does; the schemas are structural from 1.15 on.
            spec["preserveUnknownFields"] = False
    metadata: dict = {"name": kind.crd_name}
    if annotations:
        metadata["annotations"] = chart.ANNOTATIONS
    return {"apiVersion": variant.crd_api_version, "kind": "CustomResourceDefinition",
            "metadata": metadata, "spec": spec}


def crd_sources(inputs: Inputs, kind: Kind) -> list[str]:
    sources = [kind.file, *inputs.definitions_files, inputs.compatibility_file]
    if kind.conversion_webhook:
        sources.append(inputs.webhooks_file)
    return sources


def generate(inputs: Inputs, plain_service: ServiceRef) -> dict[str, str]:
    """{path: text} for every kind and variant, plain and chart template."""
    files: dict[str, str] = {}
    name = chart.chart_name(inputs)
    templates = chart.GENERATED_TEMPLATES.format(chart=name)
    chart_service = ServiceRef(chart.SERVICE_NAME, chart.SERVICE_NAMESPACE, chart.SERVICE_PORT)
    for kind in inputs.kinds:
        sources = crd_sources(inputs, kind)
        file_name = f"{kind.group}_{kind.plural}.yaml"
        for variant in inputs.variants:
            plain = build_crd(inputs, kind, variant, plain_service)
            files[f"crds/{variant_dir(inputs, variant)}/{file_name}"] = yaml_header(sources) + dump_yaml(plain)
            manifest = build_crd(inputs, kind, variant, chart_service, annotations=True)
            helper = f'"{name}.crd.annotations" (dict "context" $ "conversion" {str(kind.conversion_webhook).lower()})'
            body = chart.dump_template(manifest, name, helper)
            files[f"{templates}/crds/{variant.name}/{file_name}"] = chart.variant_template(
                body, variant, name, sources, condition="$.Values.crds.enabled",
                checks=kind.conversion_webhook and bool(variant.gates))
    return files
