"""The chart README's GitOps examples are valid and name the objects the chart renders; every value is in its
table; the Dockerfile builds the manager from the project wheel."""
from __future__ import annotations

import json
import re
import tomllib

import yaml

from .conftest import CHART, REPO, render

README = (CHART / "README.md").read_text()


def yaml_blocks() -> list[dict]:
    docs = []
    for block in re.findall(r"```yaml\n(.*?)```", README, re.S):
        docs += [d for d in yaml.safe_load_all(block) if d]
    return docs


def test_argo_cd_ignores_exactly_the_runtime_ca_bundles() -> None:
    app = next(d for d in yaml_blocks() if d["kind"] == "Application")
    assert app["spec"]["source"]["chart"] == "ack-kruise"
    entries = app["spec"]["ignoreDifferences"]
    docs = render("--kube-version", "1.20.2")
    carriers = {(d["apiVersion"].split("/")[0], d["kind"], d["metadata"]["name"]) for d in docs
                if d["kind"].endswith("WebhookConfiguration")
                or (d["kind"] == "CustomResourceDefinition" and "conversion" in d["spec"])}
    assert {(e["group"], e["kind"], e["name"]) for e in entries} == carriers
    for entry in entries:
        expected = (".spec.conversion.webhook.clientConfig.caBundle" if entry["kind"] == "CustomResourceDefinition"
                    else ".webhooks[]?.clientConfig.caBundle")
        assert entry["jqPathExpressions"] == [expected]
    assert "RespectIgnoreDifferences=true" in app["spec"]["syncPolicy"]["syncOptions"]


def test_flux_example() -> None:
    release = next(d for d in yaml_blocks() if d["kind"] == "HelmRelease")
    repository = next(d for d in yaml_blocks() if d["kind"] == "OCIRepository")
    assert repository["spec"]["url"].startswith("oci://") and repository["spec"]["url"].endswith("/charts/ack-kruise")
    assert release["spec"]["chartRef"] == {"kind": "OCIRepository", "name": repository["metadata"]["name"]}
    # The HelmRelease sits with its source; the release goes into a namespace Flux creates (the review found
    # the old example in kruise-system, which nothing created).
    assert release["metadata"]["namespace"] == repository["metadata"]["namespace"] == "flux-system"
    assert release["spec"]["targetNamespace"] == "kruise-system"
    assert release["spec"]["install"]["createNamespace"] is True
    assert release["spec"]["releaseName"] == "ack-kruise"


def test_argo_cd_example_leaves_the_version_to_argo_cd_and_protects_the_crds() -> None:
    app = next(d for d in yaml_blocks() if d["kind"] == "Application")
    values = app["spec"]["source"]["helm"].get("valuesObject") or {}
    assert "kubeVersion" not in values   # Argo CD passes the destination cluster's version
    assert "large CRDs" not in README   # the old, wrong reason for ServerSideApply (26 KB against 256 KiB)
    assert app["spec"]["syncPolicy"]["automated"]["prune"] is True
    # With automated pruning on, what keeps the CRDs is their own annotation: rendered by default.
    crds = [d for d in render("--kube-version", "1.20.2") if d["kind"] == "CustomResourceDefinition"]
    assert all(d["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] == "Prune=false,Delete=false"
               for d in crds)


def test_example_values_are_valid_values() -> None:
    import json

    import jsonschema

    schema = json.loads((CHART / "values.schema.json").read_text())
    app = next(d for d in yaml_blocks() if d["kind"] == "Application")
    release = next(d for d in yaml_blocks() if d["kind"] == "HelmRelease")
    for values in (app["spec"]["source"]["helm"]["valuesObject"], release["spec"]["values"]):
        jsonschema.Draft7Validator(schema).validate(values)


def leaves(values: dict, path: str = "") -> dict:
    """Dotted path -> default of every value values.yaml sets (objects of the schema are walked; maps and lists
    with defaults are values of their own)."""
    schema = json.loads((CHART / "values.schema.json").read_text())

    def walk(node: dict, value, at: str, out: dict) -> None:
        if node.get("type") == "object" and "properties" in node:
            for name, child in node["properties"].items():
                if name != "global":   # Helm's, for umbrella charts; not a value of this chart
                    walk(child, value[name], f"{at}.{name}" if at else name, out)
        else:
            out[at] = value
    out: dict = {}
    walk(schema, values, path, out)
    return out


def test_the_readme_values_table_lists_every_value_with_its_default() -> None:
    # The table is written by the generator (values.TABLE_BEGIN/END; `generate --check` reports drift): here,
    # independently, every value of values.yaml has its row, with the same default, and nothing else does.
    from generator import values as generated

    table = README.split(generated.TABLE_BEGIN, 1)[1].split(generated.TABLE_END, 1)[0]
    rows = {}
    for line in table.strip().splitlines()[2:]:
        cells = re.match(r"^\| `([^`]+)` \| `(.*)` \| (.+) \|$", line)
        assert cells, line
        rows[cells[1]] = json.loads(cells[2].replace("\\|", "|"))
    expected = leaves(yaml.safe_load((CHART / "values.yaml").read_text()))
    assert rows == expected


def test_the_dockerfile_installs_the_wheel_and_runs_ack_kruise() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.M)
    assert 'ENTRYPOINT ["ack-kruise"]' in dockerfile
    assert "pip wheel" in dockerfile and "pip install" in dockerfile
    # Every package of the wheel is copied into the build stage.
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]:
        package = pattern.rstrip("*")
        assert f"COPY {package} {package}" in dockerfile, package
    # ... and into the wheel `make image` builds without Docker (release/image.py).
    from release import image
    packages = {pattern.rstrip("*") for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= set(image.SOURCES), sorted(packages - set(image.SOURCES))
    # The image runs as the user the chart's securityContext expects.
    assert "USER 65534:65534" in dockerfile
    assert "docker build -t" in README


def test_the_wheel_carries_the_runtime_schema() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    package_data = pyproject["tool"]["setuptools"].get("package-data", {})
    assert any("_generated" in pattern for pattern in package_data.get("controllers", []))
