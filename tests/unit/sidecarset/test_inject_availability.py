"""The SidecarSet webhook's warning about pods it can reach only while the pod webhook answers."""
from controllers import schema as schemas
from controllers.sidecarset.availability import fail_open_warnings, requires_label

LABEL = {"key": "sidecarset.kruise.io/injection", "value": "required"}


def test_the_label_comes_from_the_webhook_policy():
    assert schemas.chart_objects()["podWebhookRequiredNamespaceLabel"] == LABEL


def test_a_selector_requiring_the_label_gets_no_warning():
    assert requires_label({"matchLabels": {"sidecarset.kruise.io/injection": "required", "team": "a"}}, **LABEL)
    assert requires_label({"matchExpressions": [{"key": "sidecarset.kruise.io/injection", "operator": "In",
                                                 "values": ["required"]}]}, **LABEL)
    assert not requires_label({"matchExpressions": [{"key": "sidecarset.kruise.io/injection", "operator": "In",
                                                     "values": ["required", "other"]}]}, **LABEL)
    assert not requires_label(None, **LABEL) and not requires_label({}, **LABEL)


def test_warning_names_the_sidecarset_and_the_label():
    s = {"metadata": {"name": "logging"}, "spec": {"namespaceSelector": {"matchLabels": {"team": "a"}}}}
    [warning] = fail_open_warnings(s, LABEL)
    assert warning.startswith("SidecarSet logging can select pods in namespaces not labelled "
                              "sidecarset.kruise.io/injection=required")
    assert fail_open_warnings(s, None) == []
    s["spec"]["namespaceSelector"]["matchLabels"]["sidecarset.kruise.io/injection"] = "required"
    assert fail_open_warnings(s, LABEL) == []
