"""Hypothesis strategies for fuzzing the webhook server (issue 19 item 4), shared by the in-process property tests
(tests/unit/webhook/test_fuzz_*.py) and the end-to-end run against a manager (tests/e2e/test_fuzz_webhooks.py).

Everything is read from what the product itself reads, so a new kind or field is fuzzed without a change here:
- the endpoints: the paths of the generated webhook configuration (charts/.../generated/webhooks/v1.yaml) and
  the CRDs' conversion path;
- valid objects: each kind's `example` in schema/apps.kruise.io/<kind>.yaml, in every served version (the
  conversion webhook's own answer), and objects built from the runtime schema (`objects_of`);
- mutations of them: fields removed, set to null, to a value of another type, to odd unicode, huge or
  non-finite numbers, deeply nested values, unknown fields added.

Budget: every test takes `settings(fuzz_settings(n))`; `FUZZ_EXAMPLES=<n>` multiplies n for a long run (and
turns derandomization off, so each long run explores new inputs; `FUZZ_SEED` pins one).
"""
from __future__ import annotations

import copy
import json
import math
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from controllers import schema as schemas

REPO = Path(__file__).resolve().parents[1]
SCHEMA = schemas.default_schema()
GROUP = "apps.kruise.io"
WEBHOOKS = REPO / "charts" / "ack-kruise" / "templates" / "generated" / "webhooks" / "v1.yaml"
CONVERT_PATH = "/convert"


# ---------------------------------------------------------------------------------------------- the budget

def fuzz_settings(examples: int, **overrides: Any) -> settings:
    """CI: `examples` derandomized examples (the same inputs on every run, so a failure reproduces). A long
    run: FUZZ_EXAMPLES=<factor> multiplies them and draws fresh inputs."""
    factor = int(os.environ.get("FUZZ_EXAMPLES", "0") or 0)
    long_run = factor > 0
    return settings(max_examples=examples * factor if long_run else examples, derandomize=not long_run,
                    deadline=None, database=None if not long_run else settings.default.database,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much, HealthCheck.large_base_example],
                    **overrides)


# ---------------------------------------------------------------------------------------------- the endpoints

@lru_cache(maxsize=1)
def webhook_paths() -> dict[str, str | None]:
    """Every admission path the generated webhook configurations name -> the kind it serves (None: pods), but
    the deletion protection of Kubernetes' own objects (`deletion_protection_paths`)."""
    by_lower = {kind.lower(): kind for kind in SCHEMA.kinds()}
    paths: dict[str, str | None] = {}
    for path in re.findall(r"path: (/\S+)", WEBHOOKS.read_text()):
        if path in deletion_protection_paths():
            continue
        paths[path] = None if path == "/mutate-pod" else by_lower[path.rsplit("-", 1)[1]]
    return dict(sorted(paths.items()))


def deletion_protection_paths() -> list[str]:
    """The paths guarding Namespaces, CRDs and apps/v1 workloads against deletion (DELETE only, no schema kind)."""
    return sorted(SCHEMA.data.get("deletionProtection", {}))


def converted_kinds() -> list[str]:
    """The kinds served in more than one version (their CRDs convert through the webhook)."""
    return [k for k in SCHEMA.kinds() if len(SCHEMA.data["kinds"][k]["versions"]) > 1]


def versions(kind: str) -> list[str]:
    return sorted(SCHEMA.data["kinds"][kind]["versions"])


def api_version(version: str) -> str:
    return f"{GROUP}/{version}"


# ---------------------------------------------------------------------------------------------- valid objects

@lru_cache(maxsize=None)
def _example(kind: str) -> str:
    path = REPO / "schema" / GROUP / f"{kind.lower()}.yaml"
    return json.dumps(yaml.safe_load(path.read_text())["example"])


def example(kind: str, version: str | None = None) -> dict:
    """The schema's own example of `kind`, in `version` (converted by the product's conversion) and with a
    namespace, as the API server sends it."""
    from controllers.webhook import conversion
    obj = json.loads(_example(kind))
    if version and obj["apiVersion"] != api_version(version):
        obj = conversion.convert(obj, api_version(version))
    obj["metadata"].setdefault("namespace", "fuzz")
    return obj


def seeds() -> list[dict]:
    """The example of every kind in every version it is served in."""
    return [example(kind, version) for kind in SCHEMA.kinds() for version in versions(kind)]


# ---------------------------------------------------------------------------------------------- odd values

ODD_TEXT = st.one_of(
    st.text(max_size=12),                                         # any unicode but surrogates
    st.sampled_from(["", " ", "\x00", "\u202e", "💥", "ǅ", "\ufeff", "a" * 70, "x" * 5000, "../..", "%", "-1",
                     "1e400", "NaN", "true", "null", "0x10", "Always ", "InPlaceIfPossible\n", "${x}", "~1", "/"]),
)
HUGE_NUMBERS = st.sampled_from([2 ** 31, -2 ** 31 - 1, 2 ** 63, -2 ** 63 - 1, 2 ** 64, 10 ** 30, -1, 0,
                                1.5, -0.0, 1e308, float("inf"), float("-inf"), float("nan")])


def deep(depth: int, leaf: Any = 1) -> Any:
    """A value nested `depth` levels (alternating objects and lists)."""
    value = leaf
    for level in range(depth):
        value = {"d": value} if level % 2 else [value]
    return value


# Around the webhook server's limit of 100 levels (controllers/webhook/reviews.py MAX_DEPTH), under and over it;
# deeper bodies are raw_bodies' (Python's own json and deepcopy stop near 1000 levels).
DEEP = st.sampled_from([20, 85, 120, 300]).map(deep)
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10, 10), HUGE_NUMBERS, ODD_TEXT)
ANY_JSON = st.recursive(JSON_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(ODD_TEXT, inner, max_size=3)), max_leaves=8)
JUNK = st.one_of(ANY_JSON, DEEP)


# ---------------------------------------------------------------------------------------------- schema-valid values

def _string(node: dict) -> st.SearchStrategy:
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if "pattern" in node:
        return st.from_regex(node["pattern"], fullmatch=True).filter(
            lambda s: len(s) >= node.get("minLength", 0) and len(s) <= node.get("maxLength", 10 ** 6))
    return st.text(st.characters(codec="utf-8"), min_size=max(node.get("minLength", 0), 0),
                   max_size=max(node.get("minLength", 0), min(node.get("maxLength", 8), 8)))


def _integer(node: dict, low: int, high: int) -> st.SearchStrategy:
    if "enum" in node:
        return st.sampled_from(node["enum"])
    low, high = max(low, node.get("minimum", low)), min(high, node.get("maximum", high))
    return st.one_of(st.integers(max(low, -3), min(high, 20)) if max(low, -3) <= min(high, 20) else st.nothing(),
                     st.sampled_from([low, high]))


DATE_TIMES = st.datetimes(min_value=__import__("datetime").datetime(1970, 1, 1),
                          max_value=__import__("datetime").datetime(2100, 1, 1)).map(
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ"))


def values_of(node: dict, depth: int = 0) -> st.SearchStrategy:
    """Values the schema node accepts by type, enum, bounds and pattern (cross-field rules are not followed:
    many are refused by the webhook, which is what the admission fuzz wants; conversion needs only types)."""
    kind = node.get("type")
    if kind == "string":
        return _string(node)
    if kind == "date-time":
        return DATE_TIMES
    if kind == "boolean":
        return st.booleans()
    if kind in ("int32", "int64"):
        bits = 31 if kind == "int32" else 63
        return _integer(node, -2 ** bits, 2 ** bits - 1)
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False, width=32)
    if kind == "int-or-string":
        return st.one_of(_integer(node, -2 ** 31, 2 ** 31 - 1), _string({k: v for k, v in node.items()
                                                                          if k != "enum"}))
    if kind == "int-or-percent":
        return st.one_of(st.integers(0, 10), st.integers(0, 100).map(lambda n: f"{n}%"))
    if kind == "quantity":
        return st.sampled_from(["1", "500m", "1.5Gi", "0", 2, "100Mi"])
    if kind == "schemaless":
        return st.dictionaries(st.sampled_from(["a", "b", "c"]), st.one_of(st.integers(0, 3), st.text(max_size=3)),
                               max_size=2) if depth > 2 else st.just({})
    if kind == "map":
        return st.dictionaries(st.text("abcdef./-~0", min_size=1, max_size=6), values_of(node["values"], depth + 1),
                               max_size=2 if depth < 4 else 0)
    if kind == "array":
        low = node.get("minItems", 0)
        high = max(low, min(node.get("maxItems", 2), 2 if depth < 4 else low))
        keys = node.get("uniqueBy")
        unique_by = (lambda item: json.dumps([item.get(k) for k in keys] if isinstance(item, dict) else item,
                                             sort_keys=True)) if keys else (
            (lambda item: json.dumps(item, sort_keys=True)) if node.get("unique") else None)
        return st.lists(values_of(node["items"], depth + 1), min_size=low, max_size=high, unique_by=unique_by)
    if kind == "object" or "properties" in node:
        return _object(node, depth)
    return JSON_SCALARS


def _object(node: dict, depth: int) -> st.SearchStrategy:
    properties = node.get("properties", {})
    required = {name: values_of(child, depth + 1) for name, child in properties.items() if child.get("required")}
    optional = {name: values_of(child, depth + 1) for name, child in properties.items()
                if not child.get("required")} if depth < 6 else {}
    strategy = st.fixed_dictionaries(required, optional=optional)
    groups = [g if isinstance(g, list) else [g] for g in node.get("mutuallyExclusive", [])
              + node.get("exactlyOne", [])]
    if groups:
        # At most one member group of each one-of set (the others are dropped), so types hold.
        def one_group(value: dict) -> dict:
            used = [g for g in groups if any(value.get(name) is not None for name in g)]
            return {k: v for k, v in value.items() if not any(k in g for g in used[1:])}
        strategy = strategy.map(one_group)
    return strategy


def spec_node(kind: str, version: str) -> dict:
    return SCHEMA.version(kind, version)["schema"]


METADATA_KEYS = st.sampled_from(["app", "a.b/c", "kubernetes.io/metadata.name",
                                 "apps.kruise.io/sidecarset-custom-version",
                                 "daemonset.kruise.io/progressive-create-pod", "conversion.apps.kruise.io/x"])


@st.composite
def objects_of(draw, kind: str, version: str, *, status: bool = True) -> dict:
    """An object of `kind` in `version` whose fields all have the type, enum and bounds the schema says: what
    the API server stores (it prunes and type-checks by the same schema). Labels and annotations include the
    keys conversion mappings read."""
    node = spec_node(kind, version)
    meta: dict[str, Any] = {"name": "fuzz", "namespace": "fuzz"}
    labels = draw(st.dictionaries(METADATA_KEYS, st.sampled_from(["", "true", "false", "v1", "x"]), max_size=2))
    annotations = draw(st.dictionaries(METADATA_KEYS, st.sampled_from(["", "true", "false", "v1", "{}"]), max_size=2))
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    obj: dict[str, Any] = {"apiVersion": api_version(version), "kind": kind, "metadata": meta}
    for section in ("spec", "status") if status else ("spec",):
        child = node["properties"].get(section)
        if child is not None and (child.get("required") or draw(st.booleans())):
            obj[section] = draw(values_of(child, 1))
    return obj


# ---------------------------------------------------------------------------------------------- mutations

def _locations(value: Any, path: tuple = ()) -> list[tuple]:
    """Every path into `value` (dict keys and list indices), the root included, down to 30 levels."""
    found = [path]
    if len(path) >= 30:
        return found
    if isinstance(value, dict):
        for key, child in value.items():
            found += _locations(child, path + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _locations(child, path + (index,))
    return found


def _parent(root: Any, path: tuple) -> Any:
    for part in path[:-1]:
        root = root[part]
    return root


MUTATIONS = ("remove", "null", "junk", "odd-text", "huge-number", "deep", "unknown-field", "empty", "duplicate")


@st.composite
def mutated(draw, obj: dict, max_mutations: int = 3, keep_envelope: bool = True) -> dict:
    """`obj` after 1..max_mutations random mutations at random places (apiVersion and kind kept when
    `keep_envelope`, so the object still reaches its kind's code)."""
    out = copy.deepcopy(obj)
    for _ in range(draw(st.integers(1, max_mutations))):
        places = [p for p in _locations(out) if p and not (keep_envelope and p[0] in ("apiVersion", "kind"))]
        if not places:
            break
        path = draw(st.sampled_from(places))
        parent, last = _parent(out, path), path[-1]
        current = parent[last]
        how = draw(st.sampled_from(MUTATIONS))
        if how == "remove":
            del parent[last]
        elif how == "null":
            parent[last] = None
        elif how == "junk":
            parent[last] = draw(JUNK)
        elif how == "odd-text":
            parent[last] = draw(ODD_TEXT)
        elif how == "huge-number":
            parent[last] = draw(HUGE_NUMBERS)
        elif how == "deep":
            parent[last] = draw(DEEP)
        elif how == "unknown-field" and isinstance(current, dict):
            current[draw(ODD_TEXT)] = draw(ANY_JSON)
        elif how == "empty":
            parent[last] = type(current)() if isinstance(current, (dict, list, str)) else 0
        elif how == "duplicate" and isinstance(current, list) and current:
            current.append(current[0])          # shared, not copied: it may be deep
        elif how == "duplicate" and isinstance(parent, list):
            parent.append(current)
    return out


# ---------------------------------------------------------------------------------------------- requests

OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")


@st.composite
def admission_reviews(draw, obj: Any, old: Any = None) -> dict:
    """An AdmissionReview (v1 or v1beta1) about `obj`, for any operation."""
    operation = draw(st.sampled_from(OPERATIONS))
    request: dict[str, Any] = {"uid": draw(st.uuids()).hex, "operation": operation,
                               "namespace": "fuzz", "name": "fuzz"}
    if isinstance(obj, dict):
        request["kind"] = {"group": GROUP, "version": str(obj.get("apiVersion", "")).rpartition("/")[2],
                           "kind": obj.get("kind")}
    if operation != "DELETE":
        request["object"] = obj
    if operation in ("UPDATE", "DELETE"):
        request["oldObject"] = obj if old is None else old
    return {"apiVersion": draw(st.sampled_from(["admission.k8s.io/v1", "admission.k8s.io/v1beta1"])),
            "kind": "AdmissionReview", "request": request}


@st.composite
def conversion_reviews(draw, objects: list) -> dict:
    kind_versions = [api_version(v) for v in ("v1alpha1", "v1beta1")]
    return {"apiVersion": draw(st.sampled_from(["apiextensions.k8s.io/v1", "apiextensions.k8s.io/v1beta1"])),
            "kind": "ConversionReview",
            "request": {"uid": draw(st.uuids()).hex, "desiredAPIVersion": draw(st.sampled_from(kind_versions)),
                        "objects": objects}}


def _envelope_parts() -> st.SearchStrategy:
    return st.fixed_dictionaries({}, optional={
        "uid": st.one_of(st.text(max_size=8), JUNK), "operation": st.one_of(st.sampled_from(OPERATIONS), JUNK),
        "object": JUNK, "oldObject": JUNK, "namespace": JUNK, "name": JUNK, "subResource": JUNK,
        "desiredAPIVersion": st.one_of(st.sampled_from([api_version("v1alpha1"), api_version("v1beta1"), "v1", ""]),
                                       JUNK),
        "objects": st.one_of(st.lists(JUNK, max_size=3), JUNK)})


MALFORMED_ENVELOPES = st.one_of(
    ANY_JSON,                                                    # any JSON at all: a list, a string, a number
    st.fixed_dictionaries({}, optional={"apiVersion": JUNK, "kind": JUNK,
                                        "request": st.one_of(JUNK, _envelope_parts())}),
)


def raw_bodies() -> st.SearchStrategy:
    """Bodies that are not JSON, or JSON Python reads but Go would not (NaN, deep nesting)."""
    return st.one_of(st.binary(max_size=64), st.sampled_from([b"", b"{", b"[" * 100_000, b"\xff\xfe", b"NaN",
                                                              b'{"request": Infinity}', b"{}" * 3, b'"\\ud800"']))


def body(value: Any) -> bytes:
    """JSON as Python writes it (NaN and Infinity included: a fuzzer may send what Go never would)."""
    return json.dumps(value).encode()


def finite(value: Any) -> bool:
    """Whether a JSON value holds no NaN or infinity (what a Kubernetes client can send)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(finite(v) for v in value.values())
    if isinstance(value, list):
        return all(finite(v) for v in value)
    return True


# ---------------------------------------------------------------------------------------------- the server, in process

class JsonPoster:
    """POSTs JSON bodies on one kept-alive connection (`connect` makes it: HTTP in process, HTTPS to a
    sandbox's manager); a connection the server closed is opened again, once."""

    def __init__(self, connect: Any):
        self._connect = connect
        self._connection = connect()

    def post(self, path: str, data: bytes) -> tuple[int, Any]:
        """(HTTP status, the JSON answer or the text of a non-JSON one)."""
        import http.client
        for attempt in (1, 2):
            try:
                self._connection.request("POST", path, body=data, headers={"Content-Type": "application/json"})
                response = self._connection.getresponse()
                text = response.read()
                break
            except (http.client.HTTPException, OSError):
                self._connection.close()
                self._connection = self._connect()
                if attempt == 2:
                    raise
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text.decode(errors="replace")

    def close(self) -> None:
        self._connection.close()


class InProcessWebhooks:
    """The product's webhook application (controllers/webhook/server.py, every route and handler) served over
    plain HTTP on a loopback port from a thread of its own, with the cluster state it reads given as plain
    data: no pods, SidecarSets, revisions or configuration, the pod and node of a ContainerRecreateRequest,
    and an API server that finds every template valid. These lookups never fail, so any refusal with code 500
    is a defect of the webhook itself, not of the cluster. Use as a context manager."""

    def __init__(self, sidecarsets: list[dict] | None = None, feature_gates: dict[str, bool] | None = None):
        self.sidecarsets = sidecarsets or []
        # Every gate on, so that gated kinds and rules are reached, but TemplateNoDefaults (which turns the
        # template defaults off).
        self.feature_gates = feature_gates if feature_gates is not None else {
            gate: gate != "TemplateNoDefaults" for gate in SCHEMA.gate_defaults}
        self.port = 0
        self._thread = None
        self._loop = None
        self._runner = None

    async def _pods(self, namespace: str, names: list[str]) -> dict[str, dict]:
        return {}

    async def _objects(self, path: str) -> dict | None:
        if "/nodes/" in path:
            return {"metadata": {"name": "node-1"},
                    "status": {"nodeInfo": {"containerRuntimeVersion": "containerd://1.6"}}}
        name = path.rsplit("/", 1)[1]
        return {"metadata": {"name": name, "namespace": "fuzz", "uid": "pod-uid"},
                "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "x"}]},
                "status": {"phase": "Running", "containerStatuses": [
                    {"name": "app", "containerID": "containerd://abc", "ready": True, "restartCount": 0}]}}

    def _state(self) -> dict:
        async def sidecarsets(_: dict) -> list[dict]:
            return copy.deepcopy(self.sidecarsets)

        async def none(_: dict) -> None:
            return None

        async def empty(_: dict) -> list:
            return []
        return {"sidecarsets": sidecarsets, "kruiseConfiguration": none, "revisions": empty}

    async def _dry_run(self, resource: str, namespace: str | None, body: dict) -> dict | None:
        """The API server finds half the templates valid, and gives no verdict on the other half (as when it
        cannot decode one), so that the checks run when it gives none are fuzzed too; the same template
        always gets the same answer."""
        import zlib
        if zlib.crc32(json.dumps(body, sort_keys=True).encode()) % 2:
            return None
        return {"kind": "Status", "code": 400, "reason": "BadRequest", "message": "cannot decode the object"}

    def _views(self):
        from controllers.webhook.sidecarset_cache import InjectionView
        owner = self

        class Views:
            async def view(self, namespace: str) -> InjectionView:
                return InjectionView(copy.deepcopy(owner.sidecarsets), {"kubernetes.io/metadata.name": namespace})

            async def all_revisions(self, direct: bool = False) -> list[dict]:
                return []
        return Views()

    def __enter__(self) -> "InProcessWebhooks":
        import asyncio
        import functools
        import threading

        from aiohttp import web

        from controllers.webhook.pods import mutate_pod
        from controllers.webhook.server import WebhookServer

        server = WebhookServer("127.0.0.1", 0, pods_lookup=self._pods, object_lookup=self._objects,
                               pod_mutator=functools.partial(mutate_pod, views=self._views(),
                                                             feature_gates=self.feature_gates),
                               feature_gates=self.feature_gates, state_lookups=self._state(), dry_run=self._dry_run)
        started = threading.Event()

        async def serve() -> None:
            self._runner = web.AppRunner(server.app(), access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]
            started.set()

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(serve(), self._loop).result(10)
        started.wait(10)
        import http.client
        self._poster = JsonPoster(lambda: http.client.HTTPConnection("127.0.0.1", self.port, timeout=30))
        return self

    def post(self, path: str, data: bytes) -> tuple[int, Any]:
        return self._poster.post(path, data)

    def __exit__(self, *_: Any) -> None:
        import asyncio
        self._poster.close()
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


# ---------------------------------------------------------------------------------------------- what answers must be

REFUSAL_CODES = (400, 403, 422)


def nesting(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((nesting(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((nesting(v) for v in value), default=0)
    return 0


def readable(sent: Any) -> bool:
    """Whether `sent` is a body the server must answer with a review (HTTP 200): a JSON object (bytes are
    raw bodies), with finite numbers, nested at most the server's 100 levels."""
    from controllers.webhook.reviews import MAX_DEPTH
    return isinstance(sent, dict) and finite(sent) and nesting(sent) <= MAX_DEPTH


def assert_admission_answer(status: int, answer: Any, sent: Any) -> dict | None:
    """The server answered `sent` (an AdmissionReview or anything else) without failing: HTTP 400 with a
    message for a body that is not a review object, else HTTP 200 with an AdmissionReview whose response
    echoes the uid and either allows (a JSON patch, if any, that applies) or denies with a 4xx code and a
    message. Returns the response."""
    assert status in (200, 400), f"HTTP {status}: {str(answer)[:500]}"
    if status == 400:
        assert isinstance(answer, dict) and answer.get("message"), answer
        assert not readable(sent), f"a readable review refused with HTTP 400: {answer}"
        return None
    assert isinstance(answer, dict) and answer.get("kind") == "AdmissionReview", str(answer)[:500]
    assert answer.get("apiVersion") in ("admission.k8s.io/v1", "admission.k8s.io/v1beta1"), answer.get("apiVersion")
    response = answer["response"]
    request = sent.get("request") if isinstance(sent, dict) else None
    uid = request.get("uid") if isinstance(request, dict) else None
    assert response["uid"] == (uid if isinstance(uid, str) else ""), (response["uid"], uid)
    assert isinstance(response["allowed"], bool)
    if not response["allowed"]:
        assert response["status"]["code"] in REFUSAL_CODES, response["status"]
        assert isinstance(response["status"]["message"], str) and response["status"]["message"], response
    elif "patch" in response:
        import base64
        import jsonpatch
        assert response["patchType"] == "JSONPatch"
        operations = json.loads(base64.b64decode(response["patch"]))
        jsonpatch.apply_patch(request["object"], operations)     # raises if it does not apply
    return response


def assert_conversion_answer(status: int, answer: Any, sent: Any) -> dict | None:
    """As assert_admission_answer, for a ConversionReview: Success with one converted object per object sent,
    in the desired version, or Failure with a message."""
    assert status in (200, 400), f"HTTP {status}: {str(answer)[:500]}"
    if status == 400:
        assert isinstance(answer, dict) and answer.get("message"), answer
        assert not readable(sent), f"a readable review refused with HTTP 400: {answer}"
        return None
    assert isinstance(answer, dict) and answer.get("kind") == "ConversionReview", str(answer)[:500]
    response = answer["response"]
    request = sent.get("request") if isinstance(sent, dict) else None
    uid = request.get("uid") if isinstance(request, dict) else None
    assert response["uid"] == (uid if isinstance(uid, str) else ""), (response["uid"], uid)
    result = response["result"]
    if result["status"] == "Failure":
        assert isinstance(result.get("message"), str) and result["message"], result
        assert not result["message"].startswith("Internal error"), result["message"]
        return response
    assert result["status"] == "Success", result
    objects = request.get("objects") or []
    assert len(response["convertedObjects"]) == len(objects)
    for converted in response["convertedObjects"]:
        assert converted["apiVersion"] == request["desiredAPIVersion"]
    return response
