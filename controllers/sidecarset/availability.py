"""Which pods a SidecarSet can reach only while the pod webhook answers (README "SidecarSet injection").

The pod webhook fails open everywhere except in namespaces labelled with the required-injection label
(policies/webhooks.yaml `failClosedNamespaces`): there, no pod is created while the webhook is unavailable. A
SidecarSet whose namespaceSelector does not require that label can select pods in namespaces without it, which
then start without its sidecars while kruise-manager is down: the SidecarSet webhook says so as a warning.
"""
from __future__ import annotations


def requires_label(namespace_selector: dict | None, key: str, value: str) -> bool:
    """Does every namespace the selector matches carry key=value?"""
    if not namespace_selector:
        return False
    if (namespace_selector.get("matchLabels") or {}).get(key) == value:
        return True
    return any(e.get("key") == key and e.get("operator") == "In" and e.get("values") == [value]
               for e in namespace_selector.get("matchExpressions") or [])


def fail_open_warnings(sidecarset: dict, label: dict | None) -> list[str]:
    """The admission warnings for a SidecarSet (v1beta1) given the required-injection label ({key, value}, or
    None when the chart renders no fail-closed entry)."""
    if not label:
        return []
    selector = (sidecarset.get("spec") or {}).get("namespaceSelector")
    if requires_label(selector, label["key"], label["value"]):
        return []
    name = (sidecarset.get("metadata") or {}).get("name", "")
    return [f"SidecarSet {name} can select pods in namespaces not labelled {label['key']}={label['value']}: "
            f"pods created there while kruise-manager is unavailable start without its sidecars (label those "
            f"namespaces, or require the label in spec.namespaceSelector)"]
