"""Fuzzing (issue 19 item 4) end to end: hypothesis-generated requests sent to the running kruise-manager's HTTPS
webhook server, over TLS with the CA the API server trusts (the caBundle of the installed webhook configuration)
and at the address it calls; then mutated objects created through the API server. Nothing gives a 500, the
API server never reports `failed calling webhook`, and the manager is alive and answering afterwards.

No upstream e2e case: OpenKruise has no fuzzing. The in-process property tests with more examples are
tests/unit/webhook/test_fuzz_*.py; the strategies are tests/fuzzing.py."""
from __future__ import annotations

import base64
import http.client
import json
import ssl
import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import fuzzing as fz
from tests.kube import Cluster

pytestmark = pytest.mark.usefixtures("kruise")

ADMISSION_PATHS = list(fz.webhook_paths())


class Webhooks:
    """The manager's webhook server as the API server reaches it: the URL and caBundle of the installed
    MutatingWebhookConfiguration (the sandbox's manager runs with --webhook-url-base)."""

    def __init__(self, cluster: Cluster):
        live = json.loads(cluster.kubectl("get", "mutatingwebhookconfiguration",
                                          "kruise-mutating-webhook-configuration", "-o", "json").stdout)
        config = live["webhooks"][0]["clientConfig"]
        url = urllib.parse.urlsplit(config["url"])
        self.host, self.port = url.hostname, url.port
        self.context = ssl.create_default_context(cadata=base64.b64decode(config["caBundle"]).decode())
        self._poster = fz.JsonPoster(self._connect)

    def _connect(self) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=30)

    def post(self, path: str, data: bytes) -> tuple[int, object]:
        return self._poster.post(path, data)

    def healthz(self) -> int:
        connection = self._connect()
        try:
            connection.request("GET", "/healthz")
            return connection.getresponse().status
        finally:
            connection.close()


@pytest.fixture(scope="module")
def webhooks(cluster: Cluster) -> Webhooks:
    served = Webhooks(cluster)
    yield served
    served._poster.close()


@st.composite
def any_request(draw) -> tuple[str, bytes, object]:
    """(path, body, what was sent): a raw body, a malformed review, or a mutated object of the path's kind."""
    path = draw(st.sampled_from(ADMISSION_PATHS + [fz.CONVERT_PATH]))
    how = draw(st.sampled_from(["raw", "envelope", "mutated", "mutated", "mutated"]))
    if how == "raw":
        return path, draw(fz.raw_bodies()), None
    if how == "envelope":
        review = draw(fz.MALFORMED_ENVELOPES)
        return path, fz.body(review), review
    kind = fz.webhook_paths().get(path) if path != fz.CONVERT_PATH else draw(st.sampled_from(fz.converted_kinds()))
    seed = fz.example(kind or "CloneSet", draw(st.sampled_from(fz.versions(kind or "CloneSet"))))
    if kind is None:    # the pod webhook: a pod of the CloneSet example
        seed = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "fuzz-pod", "namespace": "fuzz",
                                                                  **seed["spec"]["template"]["metadata"]},
                "spec": seed["spec"]["template"]["spec"]}
    obj = draw(fz.mutated(seed))
    review = draw(fz.conversion_reviews([obj]) if path == fz.CONVERT_PATH else fz.admission_reviews(obj, seed))
    return path, fz.body(review), review


def test_generated_requests_get_an_answer_never_a_500(webhooks: Webhooks, namespace: str, kruise):
    """400 requests straight to every admission path and /convert; then the manager is still the same
    process and answers /healthz and a valid admission."""
    pid = kruise.record.pid
    answered = []

    @fz.fuzz_settings(400)
    @given(request=any_request())
    def send(request):
        path, data, sent = request
        status, answer = webhooks.post(path, data)
        check = fz.assert_conversion_answer if path == fz.CONVERT_PATH else fz.assert_admission_answer
        check(status, answer, sent)
        answered.append(path)
    send()

    assert len(answered) >= 400 and set(answered) >= set(ADMISSION_PATHS) - {"/mutate-pod"}
    assert kruise.alive and kruise.record.pid == pid, "the manager died or was restarted during the fuzz"
    assert webhooks.healthz() == 200
    cloneset = fz.example("CloneSet")
    cloneset["metadata"]["namespace"] = namespace    # where the API server can judge its template
    review = {"apiVersion": "admission.k8s.io/v1", "request": {"uid": "after", "operation": "CREATE",
                                                              "object": cloneset}}
    status, answer = webhooks.post("/validate-apps-kruise-io-v1alpha1-cloneset", fz.body(review))
    assert status == 200 and answer["response"] == {"uid": "after", "allowed": True}, answer


PLURALS = {kind: f"{kind.lower()}s" for kind in fz.SCHEMA.kinds()}
CLUSTER_SCOPED = {"SidecarSet", "NodeImage"}


def test_mutated_objects_through_the_api_server_are_refused_or_stored_never_a_webhook_failure(
        cluster: Cluster, namespace: str, kruise):
    """Mutated objects of every kind created through the API server (server-side dry runs, so nothing is stored
    and no controller acts, but every webhook is called): each is accepted or refused with a 4xx naming the
    problem, never a 500 or `failed calling webhook`."""
    import kubernetes
    outcomes: dict[int, int] = {}

    @fz.fuzz_settings(120)
    @given(data=st.data())
    def create(data):
        seed = data.draw(st.sampled_from(fz.seeds()))
        obj = data.draw(fz.mutated(seed).filter(fz.finite))
        if isinstance(obj.get("metadata"), dict):
            obj["metadata"]["name"] = "fuzz"
            obj["metadata"].pop("namespace", None)
        group, _, version = seed["apiVersion"].rpartition("/")
        try:
            if seed["kind"] in CLUSTER_SCOPED:
                cluster.custom.create_cluster_custom_object(group, version, PLURALS[seed["kind"]], obj, dry_run="All")
            else:
                cluster.custom.create_namespaced_custom_object(group, version, namespace, PLURALS[seed["kind"]], obj,
                                                               dry_run="All")
            code = 201
        except kubernetes.client.ApiException as e:
            code = e.status
            assert 400 <= e.status < 500, f"{e.status}: {e.body}"
            assert "failed calling webhook" not in (e.body or ""), e.body
        outcomes[code] = outcomes.get(code, 0) + 1
    create()

    assert sum(outcomes.values()) >= 120 and set(outcomes) & {400, 422}, outcomes
    assert kruise.alive
