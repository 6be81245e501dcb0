"""Golden renders of the default values for each Kubernetes version (plus the gate value on 1.13 and 1.14,
which the defaults cannot pass without). UPDATE_GOLDEN=1 rewrites tests/chart/golden/<version>.yaml.

The chart's version and appVersion are replaced by placeholders, so `make release` does not stale them."""
from __future__ import annotations

import re

import pytest
import yaml

from .conftest import CHART, GOLDEN, VERSIONS, render_text, version_args


def normalised(text: str) -> str:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    text = re.sub(rf"(helm\.sh/chart: ack-kruise-){re.escape(str(chart['version']))}\n", r"\1<version>\n", text)
    text = text.replace(f'app.kubernetes.io/version: "{chart["appVersion"]}"\n', 'app.kubernetes.io/version: "<appVersion>"\n')
    return text.replace(f':{chart["appVersion"]}"\n', ':<appVersion>"\n')


@pytest.mark.parametrize("version, schemas, gate", VERSIONS)
def test_default_render(version: str, schemas: str, gate: bool, update_golden: bool) -> None:
    text = normalised(render_text(*version_args(version, gate)))
    golden = GOLDEN / f"{version}.yaml"
    if update_golden:
        golden.write_text(text)
    assert golden.exists(), f"{golden} is missing: UPDATE_GOLDEN=1 to create it"
    assert text == golden.read_text(), f"{golden.name} differs from the render (UPDATE_GOLDEN=1 to accept)"


def test_placeholders_are_applied() -> None:
    text = (GOLDEN / "1.20.2.yaml").read_text()
    assert "helm.sh/chart: ack-kruise-<version>" in text
    assert 'image: "localhost:5000/ack-kruise/kruise-manager:<appVersion>"' in text
