"""`ack-kruise manager`: every controller and the webhook server in one process.

Start-up order, as OpenKruise's manager (openkruise.md §0, §7.2):
1. certificates: read, or in `self` mode create or renew, the Secret with the serving certificate;
2. the webhook server listens with it, and the caBundles are injected; /readyz turns ready once the
   server answers its own /healthz over TLS with that CA;
   Before that, every replica starts its own SidecarSet cache for the pod webhook
   (controllers/webhook/sidecarset_cache.py) and waits for its first list, whatever its leadership;
3. leader election on the Lease `kruise-manager`; every replica serves webhooks, only the leader reconciles;
4. the controllers start (kopf, standalone: the Lease, not kopf's peering, decides who acts).
Losing the lease stops the process (exit 1), as controller-runtime does, so a restarted replica starts clean.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime
import functools
import logging
import re
import signal
import ssl
import sys

import aiohttp
from aiohttp import web

from apischema import gates as feature_gate_syntax

from controllers import schema as schemas
from controllers.memory import keep_trimmed
from controllers.metrics import REGISTRY, request_counter
from controllers.settings import ENVIRONMENT, ManagerSettings
from controllers.webhook.certs import MODES, CertBundle, CertificateStore, CertSettings, trusted_by
from controllers.webhook.injector import CABundleInjector, InjectionTargets
from controllers.webhook.server import WebhookServer
from kube import ApiError, KubeClient, load_config, resource_path
from kube.leader import ElectionSettings, LeaderElector

MAX_CONNECTIONS = 32
log = logging.getLogger("kruise-manager")
CA_PROPAGATION_SECONDS = 2.0

# Controller name → module whose `KIND` the runtime wires into kopf.
CONTROLLER_MODULES = {
    "cloneset": "controllers.cloneset.handlers",
    "statefulset": "controllers.statefulset.handlers",
    "daemonset": "controllers.daemonset.handlers",
    "sidecarset": "controllers.sidecarset.handlers",
    "uniteddeployment": "controllers.uniteddeployment.handlers",
    "containerrecreaterequest": "controllers.containerrecreaterequest.handlers",
    "nodeimage": "controllers.nodeimage.handlers",
    "imagepulljob": "controllers.imagepulljob.handlers",
    "imagelistpulljob": "controllers.imagelistpulljob.handlers",
}


class Manager:
    def __init__(self, settings: ManagerSettings):
        self.s = settings
        self.client: KubeClient | None = None
        self.server: WebhookServer | None = None
        self.webhook_ready = asyncio.Event()
        self.stopping = asyncio.Event()
        self.elector: LeaderElector | None = None
        self.sidecarset_cache = None
        self.exit_code = 0

    # ---- certificates and webhooks ------------------------------------------------------------
    def _cert_settings(self) -> CertSettings:
        w, ns = self.s.webhook, self.s.namespace
        dns = [f"{w.service_name}.{ns}.svc", f"{w.service_name}.{ns}.svc.cluster.local", "localhost"]
        ips = ["127.0.0.1"]
        if w.url_base:
            host = re.sub(r"^https://", "", w.url_base).split("/")[0].rsplit(":", 1)[0].strip("[]")
            (ips if re.fullmatch(r"[0-9.]+|[0-9a-fA-F:]+", host) else dns).append(host)
        return CertSettings(mode=w.cert_mode, namespace=ns, secret_name=w.cert_secret, dns_names=dns,
                            ip_addresses=sorted(set(ips)), cert_validity=w.cert_validity,
                            renew_before=w.cert_renew_before)

    @staticmethod
    async def _pods_named(client: KubeClient, namespace: str, names: list[str]) -> dict[str, dict]:
        """The named pods that exist (a CloneSet's newly named `scaleStrategy.podsToDelete`), read live by name as
        upstream reads them from its cache: never the namespace's whole list, which holds every pod of every
        workload there."""
        async def one(name: str) -> dict | None:
            return await client.get_or_none(resource_path("v1", "pods", namespace, name))
        found = await asyncio.gather(*(one(name) for name in names))
        return {name: pod for name, pod in zip(names, found) if pod is not None}

    # Cluster state the SidecarSet validating webhook reads at admission time (policies/admission/sidecarset.yaml
    # `needs`), listed from the API server on each request: SidecarSet writes are rare, and every replica then
    # answers from the same truth without a cache of its own.
    async def _sidecarsets(self, _: dict) -> list[dict]:
        listed = await self.client.get(resource_path("apps.kruise.io/v1beta1", "sidecarsets"))
        return listed.get("items", [])

    async def _kruise_configuration(self, _: dict) -> dict | None:
        """The data of ConfigMap kruise-configuration in the install namespace (None: there is none)."""
        found = await self.client.get_or_none(resource_path("v1", "configmaps", self.s.namespace,
                                                            "kruise-configuration"))
        return None if found is None else found.get("data") or {}

    async def _revisions(self, _: dict) -> list[dict]:
        listed = await self.client.get(resource_path("apps/v1", "controllerrevisions", self.s.namespace))
        return listed.get("items", [])

    async def _storage_classes(self, _: dict) -> list[dict]:
        """Every StorageClass, for a StatefulSet update that grows a claim (StatefulSetAutoResizePVCGate; the
        chart grants get and list only with that gate, policies/controllers.yaml `reads`)."""
        listed = await self.client.get(resource_path("storage.k8s.io/v1", "storageclasses"))
        return listed.get("items", [])

    @staticmethod
    async def _list_items(client: KubeClient, path: str) -> list[dict]:
        """Every item at `path`, page by page: the Cascading checks of deletion protection (a namespace's pods
        and claims, a CRD's custom resources), read live so that every replica judges from the same truth."""
        items: list[dict] = []
        token = None
        while True:
            page = await client.get(path, limit=500, **({"continue": token} if token else {}))
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items

    async def _dry_run_create(self, client: KubeClient, resource: str, namespace: str | None,
                              body: dict) -> dict | None:
        """A server-side dry-run create (rules kubernetesValidation): None when the API server would create it,
        else its failure Status with the HTTP code. A cluster-scoped object's templates (SidecarSet) are tried
        in the install namespace."""
        try:
            await client.create(resource_path("v1", resource, namespace or self.s.namespace), body, dryRun="All")
        except ApiError as e:
            return {**e.body, "code": e.status}
        return None

    async def _apply_bundle(self, bundle: CertBundle, store: CertificateStore, injector: CABundleInjector) -> None:
        """Inject the CA bundle first, then serve a certificate the API server already trusts."""
        served = self.server.serving
        if store.manages_ca_bundles and served and served.ca_pem != bundle.ca_pem:
            # A new CA: the API server must trust old and new until every replica serves the new one.
            trusted = bundle.ca_bundle
            if served.ca_pem not in trusted:
                trusted += served.ca_pem
            await injector.inject(trusted)
            for _ in range(100):
                live = await injector.current_ca_bundle()
                if live is None or trusted_by(bundle.cert_pem, live):
                    break
                await asyncio.sleep(0.1)
            # The API server applies webhook configuration changes through a watch: give it a moment.
            await asyncio.sleep(CA_PROPAGATION_SECONDS)
        self.server.load(bundle)

    async def _self_check(self, bundle: CertBundle) -> None:
        ctx = ssl.create_default_context(cadata=bundle.ca_pem.decode())
        ctx.check_hostname = False
        url = f"https://127.0.0.1:{self.s.webhook.port}/healthz"
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                try:
                    async with session.get(url, ssl=ctx, timeout=aiohttp.ClientTimeout(total=2)) as r:
                        if r.status == 200:
                            return
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"the webhook server does not answer {url}")

    async def _maintain_certificates(self, store: CertificateStore, injector: CABundleInjector) -> None:
        """Renew before expiry, and pick up what another replica (or cert-manager) wrote."""
        while True:
            await asyncio.sleep(self.s.webhook.cert_check_interval)
            try:
                bundle = await store.ensure()
                if bundle != self.server.serving:
                    log.info("webhook certificate changed; switching")
                    await self._apply_bundle(bundle, store, injector)
                elif store.manages_ca_bundles:
                    await injector.inject(bundle.ca_bundle)  # someone reverted a caBundle: put it back
            except Exception as e:
                log.warning("certificate maintenance: %s", e)

    # ---- probes and metrics ------------------------------------------------------------------
    async def _serve_probes(self) -> list[web.AppRunner]:
        async def healthz(_: web.Request) -> web.Response:
            return web.Response(text="ok")

        async def readyz(_: web.Request) -> web.Response:
            if self.webhook_ready.is_set():
                return web.Response(text="ok")
            return web.Response(status=503, text="webhook not ready")

        async def metrics(_: web.Request) -> web.Response:
            return web.Response(text=REGISTRY.render(), content_type="text/plain")

        runners = []
        apps: dict[str, web.Application] = {}
        for addr, routes in ((self.s.health_addr, [("/healthz", healthz), ("/readyz", readyz)]),
                             (self.s.metrics_addr, [("/metrics", metrics)])):
            if not addr or addr == "0":
                continue
            app = apps.setdefault(addr, web.Application())
            for path, handler in routes:
                app.router.add_get(path, handler)
        for addr, app in apps.items():
            host, _, port = addr.rpartition(":")
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, host or None, int(port)).start()
            runners.append(runner)
        return runners

    # ---- controllers ---------------------------------------------------------------------------
    def _controller_modules(self) -> list[str]:
        """The controllers asked for (all by default), less those behind a feature gate that is off
        (policies/controllers.yaml `featureGate`: the chart grants their RBAC only with it on)."""
        table = schemas.default_schema().data.get("controllers", {})
        gates = schemas.default_schema().gates(self.s.feature_gates)
        return [CONTROLLER_MODULES[name] for name in self.s.controllers or CONTROLLER_MODULES
                if gates.get(table.get(name, {}).get("featureGate") or "", True)]

    async def _run_controllers(self) -> None:
        modules = self._controller_modules()
        if not modules:
            log.info("no controllers to run")
            await self.stopping.wait()
            return
        from controllers.runtime import run_kopf  # imported only where kopf is needed
        await run_kopf(self.client, self.s, modules, self.stopping)

    # ---- main ------------------------------------------------------------------------------------
    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        config = load_config(self.s.api.kubeconfig)
        # 32 connections: a watch per watched resource plus requests of a few ms each carry QPS 500 with room
        # to spare, and every idle TLS connection kept open costs memory (100 of them: about 10 MB).
        self.client = KubeClient(config, qps=self.s.api.qps, burst=self.s.api.burst, user_agent="kruise-manager",
                                 hooks=[request_counter("controllers")], limit_per_resource=True,
                                 max_connections=MAX_CONNECTIONS)
        runners = await self._serve_probes()
        tasks: list[asyncio.Task] = []
        admission_client: KubeClient | None = None
        try:
            # Its own client: admissions must not queue behind the controllers' rate limit.
            admission_client = KubeClient(config, user_agent="kruise-manager-webhook",
                                          hooks=[request_counter("webhooks")])
            # The webhooks' certificate and caBundles are kept on the webhooks' client too: their check reads
            # the Secret, both webhook configurations and the conversion CRDs once a minute, whatever the
            # workloads do, so on the controllers' client they were billed to the pods of whatever ran then
            # (0.03 requests a pod in a 200-second rollout of 1000 pods).
            store = CertificateStore(admission_client, self._cert_settings())
            injector = CABundleInjector(admission_client, InjectionTargets(
                self.s.webhook.mutating_configuration, self.s.webhook.validating_configuration),
                url_base=self.s.webhook.url_base)
            bundle = await store.ensure()
            from controllers.webhook.pods import mutate_pod
            if self.s.webhook.sidecarset_injection:
                # Its own client: pod admissions must not queue behind the controllers' rate limit.
                from controllers.webhook.sidecarset_cache import SidecarSetCache
                webhook_client = KubeClient(config, user_agent="kruise-manager-webhook",
                                            hooks=[request_counter("webhooks")])
                self.sidecarset_cache = SidecarSetCache(webhook_client, self.s.namespace)
                self.sidecarset_cache.start()
                if not await self.sidecarset_cache.wait_synced(60):
                    log.warning("the SidecarSet cache has not synced after 60 s; serving anyway")
            self.server = WebhookServer(self.s.webhook.host, self.s.webhook.port,
                                        pods_lookup=functools.partial(self._pods_named, admission_client),
                                        pod_mutator=functools.partial(mutate_pod, feature_gates=self.s.feature_gates,
                                                                      views=self.sidecarset_cache),
                                        feature_gates=self.s.feature_gates,
                                        object_lookup=self.client.get_or_none,
                                        state_lookups={"sidecarsets": self._sidecarsets,
                                                       "kruiseConfiguration": self._kruise_configuration,
                                                       "revisions": self._revisions,
                                                       "storageClasses": self._storage_classes},
                                        dry_run=functools.partial(self._dry_run_create, admission_client),
                                        list_items=functools.partial(self._list_items, admission_client))
            if store.manages_ca_bundles:
                await injector.inject(bundle.ca_bundle)
            self.server.load(bundle)
            await self.server.start()
            await self._self_check(bundle)
            self.webhook_ready.set()
            log.info("webhook server ready (certificates: %s)", self.s.webhook.cert_mode)
            tasks.append(asyncio.create_task(self._maintain_certificates(store, injector)))
            tasks.append(asyncio.create_task(keep_trimmed()))  # freed memory back to the OS after bursts

            if self.s.leader.enabled:
                # Its own client, as controller-runtime's leader election has: Lease renewals neither wait for
                # the controllers' budget nor count as their requests (`client="leader-election"`).
                election_client = KubeClient(config, qps=self.s.api.qps, burst=self.s.api.burst,
                                             user_agent="kruise-manager-leader-election",
                                             hooks=[request_counter("leader-election")])
                self.elector = LeaderElector(election_client, ElectionSettings(
                    namespace=self.s.namespace, name=self.s.leader.lease_name, identity=self.s.leader.identity,
                    lease_duration=self.s.leader.lease_duration, renew_deadline=self.s.leader.renew_deadline,
                    retry_period=self.s.leader.retry_period))
                tasks.append(asyncio.create_task(self.elector.run()))
                waiter = asyncio.create_task(self.elector.is_leader.wait())
                stop = asyncio.create_task(self.stopping.wait())
                await asyncio.wait({waiter, stop}, return_when=asyncio.FIRST_COMPLETED)
                if self.stopping.is_set():
                    return 0
                REGISTRY.set("leader_election_master_status", 1, name=self.s.leader.lease_name)
                lost = asyncio.create_task(self.elector.lost.wait())
            else:
                lost = asyncio.create_task(asyncio.Event().wait())
            controllers = asyncio.create_task(self._run_controllers())
            stop = asyncio.create_task(self.stopping.wait())
            done, _ = await asyncio.wait({lost, controllers, stop}, return_when=asyncio.FIRST_COMPLETED)
            if lost in done:
                log.error("lost leadership: stopping so that a fresh replica takes over")
                self.exit_code = 1
            elif controllers in done and controllers.exception():
                raise controllers.exception()
            self.stopping.set()
            await asyncio.wait({controllers}, timeout=10)
            return self.exit_code
        finally:
            for t in tasks:
                t.cancel()
            if self.elector:
                await self.elector.release()
                await self.elector.client.close()
            if self.server:
                await self.server.stop()
            if self.sidecarset_cache:
                await self.sidecarset_cache.stop()
                await self.sidecarset_cache.client.close()
            for r in runners:
                await r.cleanup()
            if admission_client is not None:
                await admission_client.close()
            await self.client.close()


# ---- command line ----------------------------------------------------------------------------------
_DURATION = re.compile(r"^([0-9]+)(s|m|h|d)$")


def parse_duration(text: str) -> datetime.timedelta:
    m = _DURATION.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"expected a duration like 90s, 10m, 12h or 30d, got {text!r}")
    n, unit = int(m.group(1)), m.group(2)
    return datetime.timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[unit]: n})


def _addr(text: str) -> str:
    if text in ("", "0"):
        return text
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected [host]:port, got {text!r}")
    return text


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}")
    return int(text)


def _duration(value: datetime.timedelta) -> str:
    """A timedelta as --cert-validity takes it (365d, 12h, 90s)."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _env(name: str) -> str:
    return f"${name}, else {ENVIRONMENT[name] or repr(ENVIRONMENT[name])}"


def parse_feature_gates(text: str) -> dict[str, bool]:
    return feature_gate_syntax.parse_feature_gates(text, schemas.default_schema().data.get("featureGates", {}))


def add_arguments(p: argparse.ArgumentParser) -> None:
    # Every default is ManagerSettings()'s (controllers/settings.py), environment variables included.
    d = ManagerSettings()
    w = d.webhook
    p.add_argument("--kubeconfig", help="default: $KUBECONFIG, then the in-cluster service account")
    p.add_argument("--namespace", default=d.namespace,
                   help=f"namespace of the Lease and the certificate Secret (default: {_env('POD_NAMESPACE')})")
    p.add_argument("--enable-leader-election", default=str(d.leader.enabled).lower(), choices=["true", "false"],
                   help="default: %(default)s")
    p.add_argument("--leader-election-id", default=d.leader.lease_name, help="default: %(default)s")
    p.add_argument("--lease-duration", type=float, default=d.leader.lease_duration, help="seconds (default %(default)g)")
    p.add_argument("--webhook-host", default=w.host, help=f"default: {_env('WEBHOOK_BIND_HOST')} (all addresses)")
    p.add_argument("--webhook-port", type=_port, default=w.port, help=f"default: {_env('WEBHOOK_PORT')}")
    p.add_argument("--webhook-service", default=w.service_name, help=f"default: {_env('SERVICE_NAME')}")
    p.add_argument("--sidecarset-injection", default=str(w.sidecarset_injection).lower(), choices=["true", "false"],
                   help="the pod webhook injects SidecarSets (default: %(default)s)")
    p.add_argument("--webhook-url-base", help="outside a cluster: https://HOST:PORT the API server can call")
    p.add_argument("--cert-mode", choices=MODES, default=w.cert_mode, help="default: %(default)s")
    p.add_argument("--cert-secret", default=w.cert_secret, help=f"default: {_env('SECRET_NAME')}")
    p.add_argument("--cert-validity", type=parse_duration, default=w.cert_validity,
                   help=f"default: {_duration(w.cert_validity)}")
    p.add_argument("--cert-renew-before", type=parse_duration, default=w.cert_renew_before,
                   help=f"default: {_duration(w.cert_renew_before)}")
    p.add_argument("--cert-check-interval", type=float, default=w.cert_check_interval,
                   help="seconds (default %(default)g)")
    p.add_argument("--health-probe-addr", type=_addr, default=d.health_addr, help="default: %(default)s")
    p.add_argument("--metrics-addr", type=_addr, default=d.metrics_addr, help="default: %(default)s")
    p.add_argument("--rest-config-qps", type=float, default=d.api.qps, help="default: %(default)g")
    p.add_argument("--rest-config-burst", type=int, default=d.api.burst, help="default: %(default)s")
    p.add_argument("--feature-gates", type=parse_feature_gates, default=dict(d.feature_gates),
                   help="Name=true|false,... (default: every gate at its policies/feature-gates.yaml default)")
    p.add_argument("--controllers", default=",".join(d.controllers),
                   help=f"comma-separated subset of: {', '.join(CONTROLLER_MODULES)} (default: all)")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default=d.log_level,
                   help="default: %(default)s")


def settings_from(args: argparse.Namespace) -> ManagerSettings:
    s = ManagerSettings(namespace=args.namespace, feature_gates=args.feature_gates,
                        health_addr=args.health_probe_addr, metrics_addr=args.metrics_addr, log_level=args.log_level)
    s.api.kubeconfig, s.api.qps, s.api.burst = args.kubeconfig, args.rest_config_qps, args.rest_config_burst
    s.leader.enabled = args.enable_leader_election == "true"
    s.leader.lease_name, s.leader.lease_duration = args.leader_election_id, args.lease_duration
    s.leader.renew_deadline = min(s.leader.renew_deadline, args.lease_duration * 2 / 3)
    s.leader.retry_period = min(s.leader.retry_period, args.lease_duration / 5)
    w = s.webhook
    w.host, w.port, w.service_name, w.url_base = args.webhook_host, args.webhook_port, args.webhook_service, args.webhook_url_base
    w.cert_mode, w.cert_secret = args.cert_mode, args.cert_secret
    w.sidecarset_injection = args.sidecarset_injection == "true"
    w.cert_validity, w.cert_renew_before, w.cert_check_interval = args.cert_validity, args.cert_renew_before, args.cert_check_interval
    controllers = tuple(filter(None, (c.strip() for c in args.controllers.split(","))))
    unknown = [c for c in controllers if c not in CONTROLLER_MODULES]
    if unknown:
        raise SystemExit(f"ack-kruise manager: error: --controllers: unknown controller(s) {', '.join(unknown)}; "
                         f"known: {', '.join(CONTROLLER_MODULES)}")
    s.controllers = controllers
    return s


# Installed by the test extra only (pyproject.toml), absent from the image. kopf imports them when they are
# importable (kopf/_cogs/helpers/thirdparty.py), which costs the manager 17 MB of RSS and 340 modules it never
# uses: a manager started from the development virtualenv (sandbox, tests, bench) runs as the image runs it.
TEST_ONLY_CLIENTS = ("kubernetes", "kubernetes_asyncio", "pykube")


def _as_shipped() -> None:
    for name in TEST_ONLY_CLIENTS:
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]  # `import name` raises ImportError


def run(args: argparse.Namespace) -> int:
    _as_shipped()
    settings = settings_from(args)
    logging.basicConfig(level=settings.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    try:
        return asyncio.run(Manager(settings).run())
    except Exception as e:
        log.error("%s", e)
        return 1
