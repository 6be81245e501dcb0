"""Pod and PVC templates judged by the API server itself (rule check `kubernetesValidation`, README "Templates
judged by the API server"): for each template of the object under review, a server-side dry-run create
(`?dryRun=All`) of the Pod or PersistentVolumeClaim built from it. The API server answers with its own
validation for its own version and feature gates; a 422 Invalid from object validation becomes our refusal,
each cause's field prefixed by the template's path (`spec.template.spec.containers[0].image: Required value`).

Anything else is not a verdict on the template and never refuses: a refusal by admission (ResourceQuota,
LimitRanger, PodSecurity, a namespace being terminated, a missing ServiceAccount or PriorityClass: 403), another
webhook's failure, a slow or unreachable API server (TIMEOUT_SECONDS). The object is then admitted as if the
check did not exist, with a warning saying why. Everything but the call itself is pure: `probes` builds the
objects to send, `errors_of` reads an answer.
"""
from __future__ import annotations

import asyncio
import copy
import re
from typing import Any, Awaitable, Callable, Iterator, NamedTuple

from apischema.conditions import get
from apischema.values import FieldError

# (resource, namespace or None for the install namespace, body) -> None when the dry run created it, else the
# failure Status of the API server with its HTTP `code`. Raises when there is no answer.
DryRunCreate = Callable[[str, "str | None", dict], Awaitable["dict | None"]]

# Well under the webhooks' timeoutSeconds (policies/webhooks.yaml, chart value webhook.timeoutSeconds, 30 s at
# most): a slow API server costs an admission this long, then the template goes unchecked.
TIMEOUT_SECONDS = 5.0
# The first wait for a new namespace's ServiceAccount or its token (`awaits_service_account`); doubled up to 1 s.
SERVICE_ACCOUNT_RETRY_SECONDS = 0.05
PROBE_NAME = "kruise-admission-probe"
# The probe pod must not reach our own pod webhook (SidecarSet injection would add containers that are not the
# template's; with the manager busy it would be a call back into ourselves): objectSelector in
# policies/webhooks.yaml `objectSelectors.pods` skips pods with this label.
SKIP_POD_WEBHOOK_LABEL = "apps.kruise.io/skip-pod-webhook"
# The SidecarSet fields of a container that are not core/v1 Container fields.
_SIDECAR_ONLY_FIELDS = ("podInjectPolicy", "upgradeStrategy", "shareVolumePolicy", "shareVolumeDevicePolicy",
                        "transferEnv", "resourcesPolicy")
# validateContainersForSidecarSet: a pod needs a container; one is added when a SidecarSet has only initContainers.
_PLACEHOLDER = {"name": "kruise-admission-placeholder", "image": "placeholder"}
_POD_LISTS = ("initContainers", "containers", "ephemeralContainers", "volumes")
_LIST_ITEM = re.compile(r"^spec\.(\w+)\[(\d+)\](.*)$")


class Probe(NamedTuple):
    """One object to dry-run: `resource` (pods or persistentvolumeclaims) with `body`; its fields are the
    user's under `prefix`, or, for a pod made of SidecarSet lists (`lists` set), the item `i` of `spec.<list>`
    is the item `i` of the user's `lists[<list>]`."""
    prefix: str
    resource: str
    body: dict
    lists: dict[str, str] = {}
    # A pod placed as a list item says (`placements`): the pod's field prefix -> the user's path.
    placement: dict[str, str] = {}


class Judgement(NamedTuple):
    """What the API server said of one rule's templates: the field errors, and whether every probe got a
    verdict (else `warnings` say why not)."""
    errors: list[FieldError]
    complete: bool
    warnings: list[str]


def _metadata(template_metadata: Any, name: str) -> dict:
    """Only what a created object takes from a template's metadata: labels and annotations. Its name and
    namespace are the controller's, and are ours here."""
    source = template_metadata if isinstance(template_metadata, dict) else {}
    metadata: dict[str, Any] = {"name": name}
    for key in ("labels", "annotations"):
        if source.get(key) is not None:
            metadata[key] = copy.deepcopy(source[key])
    return metadata


def pod_from_template(template: dict, claims: list[str] | None = None) -> dict:
    """The pod a template makes. `claims`: the names of the workload's volumeClaimTemplates, which its pods get as
    volumes (after the template's, as upstream's CloneSet webhook mocks them), so that mounts may name them."""
    metadata = _metadata(template.get("metadata"), PROBE_NAME)
    labels = metadata.get("labels")
    metadata["labels"] = {**(labels if isinstance(labels, dict) else {}), SKIP_POD_WEBHOOK_LABEL: "true"}
    spec = copy.deepcopy(template.get("spec"))
    if claims and isinstance(spec, dict):
        volumes = spec.get("volumes") if isinstance(spec.get("volumes"), list) else []
        spec["volumes"] = volumes + [{"name": name, "persistentVolumeClaim": {"claimName": name}} for name in claims]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def _claim_names(rule: dict, template_path: str, obj: dict | None) -> list[str]:
    """The names of the claims beside a pod template (`<owner>.volumeClaimTemplates` for `<owner>.template`),
    when the rule lists them."""
    owner = template_path.rpartition(".")[0]
    path = f"{owner}.volumeClaimTemplates" if owner else "volumeClaimTemplates"
    if obj is None or path not in rule.get("volumeClaimTemplates", []):
        return []
    return [name for claim in _list(get(path, obj)) if isinstance(claim, dict)
            and isinstance(name := get("metadata.name", claim), str)]


def claim_from_template(claim: dict) -> dict:
    """The claim's own name is kept, so that an invalid one is reported at `...metadata.name`."""
    metadata = _metadata(claim.get("metadata"), get("metadata.name", claim))
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": metadata,
            "spec": copy.deepcopy(claim.get("spec"))}


def pod_of_lists(lists: dict[str, list]) -> dict:
    """A pod made of a SidecarSet's initContainers, containers and volumes, as upstream's fake pod."""
    spec: dict[str, Any] = {}
    for key, items in lists.items():
        spec[key] = [{k: v for k, v in item.items() if k not in _SIDECAR_ONLY_FIELDS} if isinstance(item, dict)
                     and key != "volumes" else copy.deepcopy(item) for item in items]
    if not spec.get("containers"):
        spec["containers"] = [dict(_PLACEHOLDER)]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": PROBE_NAME, "labels": {SKIP_POD_WEBHOOK_LABEL: "true"}}, "spec": spec}


def _list(value: Any) -> list:
    """A list the schema expects, or none: the webhook judges before the API server checks types."""
    return value if isinstance(value, list) else []


_REQUIRED_TERM = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"


def pod_placed(term: Any, tolerations: Any) -> dict:
    """A pod placed by one node selector term (as its required node affinity) and tolerations, as a
    UnitedDeployment subset places its pods; upstream validates them with ValidateNodeSelectorTerm and
    ValidateTolerations."""
    spec: dict[str, Any] = {"containers": [dict(_PLACEHOLDER)]}
    if isinstance(term, dict) and term:
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [copy.deepcopy(term)]}}}
    if isinstance(tolerations, list) and tolerations:
        spec["tolerations"] = copy.deepcopy(tolerations)
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": PROBE_NAME, "labels": {SKIP_POD_WEBHOOK_LABEL: "true"}}, "spec": spec}


def probes(rule: dict, obj: dict, old: dict | None) -> Iterator[Probe]:
    """The objects to dry-run for `rule` (`podTemplates`, `volumeClaimTemplates`, `podOf`). On UPDATE, only
    what changed: an unchanged template was judged when it was written, and is not judged again."""
    for path in rule.get("podTemplates", []):
        template, claims = get(path, obj), _claim_names(rule, path, obj)
        changed = old is None or get(path, old) != template or _claim_names(rule, path, old) != claims
        if isinstance(template, dict) and changed:
            yield Probe(path, "pods", pod_from_template(template, claims))
    for path in rule.get("volumeClaimTemplates", []):
        before = get(path, old) if old is not None else None
        before = before if isinstance(before, list) else []
        for index, claim in enumerate(_list(get(path, obj))):
            if isinstance(claim, dict) and (index >= len(before) or before[index] != claim):
                yield Probe(f"{path}[{index}]", "persistentvolumeclaims", claim_from_template(claim))
    if "podOf" in rule:
        lists = {key: [i for i in _list(get(path, obj)) if isinstance(i, dict)] for key, path in rule["podOf"].items()}
        unchanged = old is not None and all(get(path, obj) == get(path, old) for path in rule["podOf"].values())
        if any(lists.values()) and not unchanged:
            yield Probe("", "pods", pod_of_lists(lists), dict(rule["podOf"]))
    if "placements" in rule:
        where = rule["placements"]
        before = get(where["list"], old) if old is not None else None
        before = before if isinstance(before, list) else []
        for index, item in enumerate(_list(get(where["list"], obj))):
            if not isinstance(item, dict) or (index < len(before) and before[index] == item):
                continue
            term, tolerations = get(where["nodeSelectorTerm"], item), get(where["tolerations"], item)
            if term or tolerations:
                base = f"{where['list']}[{index}]"
                yield Probe(base, "pods", pod_placed(term, tolerations),
                            placement={_REQUIRED_TERM: f"{base}.{where['nodeSelectorTerm']}",
                                       "spec.tolerations": f"{base}.{where['tolerations']}"})


def _users_path(probe: Probe, field: str) -> str | None:
    """Where a cause's field is in the object under review, or None when it is not the user's: our name, or
    an item that a mutating webhook (another injector) added to the pod."""
    if field.split("[")[0] in ("metadata.name", "metadata.namespace", "metadata.generateName"):
        return None
    if probe.placement:
        for prefix, users in probe.placement.items():
            if field == prefix or field.startswith((prefix + ".", prefix + "[")):
                return users + field[len(prefix):]
        return None
    item = _LIST_ITEM.match(field)
    if probe.lists:
        if item is None or item.group(1) not in probe.lists:
            return None
        length = len(get(f"spec.{item.group(1)}", probe.body) or [])
        if item.group(1) == "containers" and probe.body["spec"]["containers"][-1] == _PLACEHOLDER:
            length -= 1
        if int(item.group(2)) >= length:
            return None
        return f"{probe.lists[item.group(1)]}[{item.group(2)}]{item.group(3)}"
    if item is not None and item.group(1) in _POD_LISTS and probe.resource == "pods":
        if int(item.group(2)) >= len(get(f"spec.{item.group(1)}", probe.body) or []):
            return None
    return f"{probe.prefix}.{field}" if field else probe.prefix


def errors_of(probe: Probe, status: dict | None) -> list[FieldError] | None:
    """The field errors in the API server's answer to a probe; None when the answer is no verdict on it."""
    if status is None:
        return []
    if status.get("code") == 409:
        # AlreadyExists (a claim of that name is in the namespace): storage comes after object validation.
        return []
    details = status.get("details") or {}
    validated = (status.get("code") == 422 and status.get("reason") == "Invalid"
                 and details.get("kind") == probe.body["kind"]
                 and not str(status.get("message", "")).startswith("admission webhook"))
    if not validated:
        return None
    errors = []
    for cause in details.get("causes") or []:
        path = _users_path(probe, str(cause.get("field") or ""))
        if path is not None:
            errors.append(FieldError(path, str(cause.get("message", ""))))
    return errors or None


def awaits_service_account(status: dict | None) -> bool:
    """True when the ServiceAccount admission plugin refused the probe pod for what kube-controller-manager is
    about to create: a new namespace's `default` ServiceAccount (403), or the token Secret of a ServiceAccount
    that exists (500 ServerTimeout, "retry after the token is automatically created"). A namespace and a
    workload applied together (GitOps, `kubectl apply -f dir/`) would otherwise leave the template unchecked.
    Another missing ServiceAccount may never come: that is not waited for."""
    if not status:
        return False
    message = str(status.get("message", ""))
    if status.get("code") == 403:
        return "error looking up service account" in message and 'serviceaccount "default" not found' in message
    return status.get("code") == 500 and status.get("reason") == "ServerTimeout" \
        and "No API token found for service account" in message


def _why_not(probe: Probe, status: dict | None, error: BaseException | None) -> str:
    what = f"{probe.prefix or 'the containers and volumes'} ({probe.body['kind']})"
    if error is not None:
        reason = "no answer in time" if isinstance(error, asyncio.TimeoutError) else str(error)
        return f"{what} was not checked by the API server: {reason}"
    return (f"{what} was not checked by the API server: the dry-run create was refused with "
            f"{(status or {}).get('code')} {(status or {}).get('reason', '')}: {(status or {}).get('message', '')}")


async def judge(rules: list[dict], obj: dict, old: dict | None, namespace: str | None,
                dry_run: DryRunCreate) -> dict[str, Judgement]:
    """The API server's judgement of every rule's probes, by rule id; the probes run concurrently."""
    planned = [(rule["id"], probe) for rule in rules for probe in probes(rule, obj, old)]

    async def ask_until_judged(probe: Probe) -> dict | None:
        delay = SERVICE_ACCOUNT_RETRY_SECONDS
        while True:
            status = await dry_run(probe.resource, namespace, probe.body)
            if not awaits_service_account(status):
                return status
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def ask(probe: Probe) -> tuple[dict | None, BaseException | None]:
        try:
            return await asyncio.wait_for(ask_until_judged(probe), TIMEOUT_SECONDS), None
        except Exception as e:      # no answer: the template goes unchecked, the request is not held up
            return None, e

    answers = await asyncio.gather(*(ask(probe) for _, probe in planned))
    result = {rule["id"]: Judgement([], True, []) for rule in rules}
    for (rule_id, probe), (status, error) in zip(planned, answers):
        errors = None if error is not None else errors_of(probe, status)
        judgement = result[rule_id]
        if errors is None:
            result[rule_id] = Judgement(judgement.errors, False,
                                        judgement.warnings + [_why_not(probe, status, error)])
        else:
            judgement.errors.extend(errors)
    return result
