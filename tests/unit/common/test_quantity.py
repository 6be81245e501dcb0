"""Quantities written as the API server writes them. Every expected text below is what the v1.20.2 API server
returned for a PodTemplate with that quantity as a container's cpu limit (SetDefaults_ResourceList: rounded up
to milli) and, where given, as an emptyDir sizeLimit (not rounded); tests/e2e/test_template_defaults.py asks
the API server again for a table like this one."""
from __future__ import annotations

from fractions import Fraction

import pytest

from controllers.common import quantity

# text -> (as a resource, as a sizeLimit or None when only the resource form was asked)
API_SERVER = {
    "1": ("1", None), "0.5": ("500m", None), "1e3": ("1e3", None), "1E3": ("1E3", None),
    "12e-1": ("1200e-3", None), "0.5Ki": ("512", None), "1024": ("1024", None), "1Ki": ("1Ki", None),
    "100u": ("1m", None), "0.1m": ("1m", None), "1000000000": ("1G", None), "+5": ("+5", None),
    "5.0": ("5", None), "1500": ("1500", None), "2000": ("2k", None), "1.5k": ("1500", None),
    "10e2": ("1e3", None), "1Gi": ("1Gi", None), "1024Mi": ("1Gi", None), "0": ("0", None), "0.0": ("0", None),
    "0m": ("0", None), "3e0": ("3e0", None), "1e-3": ("1e-3", None), "1.5e3": ("1500", None),
    "100n": ("1m", None), "1e19": ("10e18", None), "1P": ("1P", None), "1.0001Ki": ("1024103m", None),
    "1023Ki": ("1023Ki", None), "1.5Gi": ("1536Mi", None), "100000": ("100k", None),
    "10000E": ("10", "10"), "007": ("007", "007"), "1.": ("1.", "1."), "8Ki": ("8Ki", "8Ki"), "5Ki": ("5Ki", "5Ki"),
    "1536Ki": ("1536Ki", "1536Ki"), "1.5Mi": ("1536Ki", "1536Ki"), "2048": ("2048", "2048"),
    "0.1n": ("1m", "1n"), "000": ("0", "0"), "-0": ("0", "0"), "0.000000001": ("1m", "1n"),
    "12345678901234567890": ("12345678901234567890", "12345678901234567890"), "1.5e-9": ("1e-3", "2e-9"),
    "100m": ("100m", "100m"), "1000m": ("1", "1"), "10m": ("10m", "10m"), "0.01": ("10m", "10m"),
    "1.10": ("1100m", "1100m"),
}


@pytest.mark.parametrize("text", sorted(API_SERVER))
def test_quantities_come_back_as_the_api_server_writes_them(text: str) -> None:
    as_resource, as_size = API_SERVER[text]
    assert quantity.canonical(text, round_to_milli=True) == as_resource
    if as_size is not None:
        assert quantity.canonical(text) == as_size


@pytest.mark.parametrize("text", ["1e", "", "abc", "1K", "1.2.3", "1Kib", "--1", "1 Gi"])
def test_what_the_api_server_refuses_is_not_a_quantity(text: str) -> None:
    assert quantity.parse(text) is None and quantity.canonical(text) is None


def test_numbers_are_read_as_go_writes_them_in_json() -> None:
    assert quantity.canonical(2000) == "2k" and quantity.canonical(0.5) == "500m"
    assert quantity.canonical(1e-07, round_to_milli=True) == "1e-3", "Go writes 1e-07 as 1e-7: exponent form"
    assert quantity.canonical(True) is None and quantity.canonical(None) is None


def test_values_are_exact() -> None:
    assert quantity.parse("1.5Gi").value == 1536 * 2 ** 20
    assert quantity.parse("-100m").value == Fraction(-1, 10)
    assert quantity.parse("1.0001Ki").value == Fraction(10241024, 10000)


def test_negative_quantities_round_away_from_zero() -> None:
    assert quantity.canonical("-100u", round_to_milli=True) == "-1m"
    assert quantity.canonical("-1.5Gi") == "-1536Mi"
