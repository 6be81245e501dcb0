"""`ack-kruise daemon`: kruise-daemon, one process per node (kruise-daemon.md §1).

    NODE_NAME=real-node-0 ack-kruise daemon --kubeconfig ... --cri-socket /run/containerd/containerd.sock

- Scoped to its node: NODE_NAME (or --node-name) is required, and every watch selects that node's objects only.
- Finds the CRI socket itself (§1.4): --socket-file names one under the host's /var/run (mounted at
  /hostvarrun in the DaemonSet), else the known sockets there are tried in order; --cri-socket takes any
  path (a runtime on a socket of its own, as the sandbox's real node). No runtime answering runtime.v1: exit 1.
- Serves /healthz (200 once its watches have synced, 500 naming the check that has not, as upstream) and
  /metrics (Prometheus text) on --addr.
- Runs the ContainerRecreateRequest controller (`daemon/recreator.py`) and the image puller
  (`daemon/imagepuller.py`, the node's NodeImage). No leader election: each daemon owns exactly its node.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

from aiohttp import web

import controllers
from controllers.metrics import REGISTRY, request_counter
from apischema import gates as feature_gate_syntax
from kube import KubeClient, load_config

from . import cri
from .containermeta import ContainerMetaWriter
from .imagepuller import ImagePuller
from .recreator import Recreator

log = logging.getLogger("kruise-daemon")
HOST_VAR_RUN = "/hostvarrun"  # where the DaemonSet mounts the host's /var/run
# The gates and their defaults, from the generated runtime schema (policies/feature-gates.yaml). Read as data:
# the schema engine belongs to the manager's webhook.
SCHEMA_FILE = Path(controllers.__file__).resolve().parent / "_generated" / "schema.json"


def gate_defaults() -> dict[str, bool]:
    gates = json.loads(SCHEMA_FILE.read_text(encoding="utf-8")).get("featureGates", {})
    return {name: bool(g.get("default")) for name, g in gates.items()}


def _addr(text: str) -> str:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected [host]:port, got {text!r}")
    return text


def _socket_file(text: str) -> str:
    if not text:
        return text
    if text.startswith("/") or ".." in Path(text).parts:
        raise argparse.ArgumentTypeError(f"a file name under the host's /var/run (e.g. containerd/containerd.sock), "
                                         f"got {text!r}; use --cri-socket for any other path")
    return text


def _non_negative(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"must not be negative, got {text!r}")
        return value
    return parse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig", help="default: $KUBECONFIG, then the in-cluster service account")
    p.add_argument("--node-name", default=os.environ.get("NODE_NAME", ""),
                   help="the node this daemon serves (default: $NODE_NAME; required)")
    p.add_argument("--addr", type=_addr, default=":10221", help="/healthz and /metrics (default: %(default)s)")
    p.add_argument("--var-run", default=None,
                   help=f"the host's /var/run, where CRI sockets are looked for (default: {HOST_VAR_RUN} when it "
                        "exists, else /var/run)")
    p.add_argument("--socket-file", type=_socket_file, default="",
                   help="the CRI socket's file name under --var-run; turns auto-detection off")
    p.add_argument("--cri-socket", default=os.environ.get("KRUISE_DAEMON_CRI_SOCKET", ""),
                   help="the CRI socket's full path, for a runtime on a socket of its own "
                        "(default: $KRUISE_DAEMON_CRI_SOCKET; overrides --var-run and --socket-file)")
    p.add_argument("--feature-gates", type=lambda text: feature_gate_syntax.parse_feature_gates(text, gate_defaults()), default={},
                   help="Name=true|false,... (default: every gate at its policies/feature-gates.yaml default)")
    p.add_argument("--rest-config-qps", type=_non_negative(float), default=5.0, help="default: %(default)g")
    p.add_argument("--rest-config-burst", type=_non_negative(int), default=10, help="default: %(default)s")
    p.add_argument("--max-workers-for-pull-image", type=int, default=-1,
                   help="images pulled at the same time on this node; -1: no limit (default: %(default)s)")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default="info",
                   help="default: %(default)s")
    # Upstream's flags the chart passes, accepted so the same arguments work: Go's pprof and klog have no
    # counterpart here.
    for flag in ("--enable-pprof", "--pprof-addr", "--logtostderr", "--v"):
        p.add_argument(flag, help=argparse.SUPPRESS)


def _sockets(args: argparse.Namespace) -> list[Path]:
    if args.cri_socket:
        return [Path(args.cri_socket)]
    var_run = Path(args.var_run or (HOST_VAR_RUN if Path(HOST_VAR_RUN).is_dir() else "/var/run"))
    return cri.candidate_sockets(var_run, args.socket_file or None)


def check_arguments(args: argparse.Namespace) -> str | None:
    """What argparse cannot check alone: the error, naming the argument, or None."""
    if not args.node_name:
        return "--node-name: not set; set the environment variable NODE_NAME or pass --node-name"
    if args.cri_socket and not Path(args.cri_socket).exists():
        return f"--cri-socket: {args.cri_socket} does not exist"
    if args.var_run and not Path(args.var_run).is_dir():
        return f"--var-run: {args.var_run} is not a directory"
    if not args.cri_socket and args.socket_file and not _sockets(args):
        return f"--socket-file: {args.socket_file} does not exist under {args.var_run or HOST_VAR_RUN}"
    return None


class Daemon:
    def __init__(self, args: argparse.Namespace, gates: dict[str, bool]):
        self.args, self.gates = args, gates
        self.stopping = asyncio.Event()
        self.recreator: Recreator | None = None
        self.containermeta: ContainerMetaWriter | None = None
        self.puller: ImagePuller | None = None

    def checks(self) -> dict[str, bool]:
        """Upstream's healthz checks: every informer has synced."""
        checks = {"crrInformerSynced": bool(self.recreator and self.recreator.informer.synced.is_set()),
                  "nodeImageInformerSynced": bool(self.puller and self.puller.informer.synced.is_set())}
        if self.containermeta is not None:
            checks["podInformerSynced"] = self.containermeta.informer.synced.is_set()
        return checks

    async def _serve(self) -> web.AppRunner:
        async def healthz(_: web.Request) -> web.Response:
            failed = [name for name, ok in self.checks().items() if not ok]
            if failed:
                return web.Response(status=500, text=f"check {failed[0]} failed, err: not synced")
            return web.Response(text="ok")

        async def metrics(_: web.Request) -> web.Response:
            return web.Response(text=REGISTRY.render(), content_type="text/plain")

        app = web.Application()
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/metrics", metrics)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        host, _, port = self.args.addr.rpartition(":")
        await web.TCPSite(runner, host or None, int(port)).start()
        return runner

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        args = self.args
        try:
            runtime = await cri.connect(_sockets(args))
        except cri.CriError as e:
            log.error("not found container runtime sock: %s", e)
            return 1
        client = KubeClient(load_config(args.kubeconfig), qps=args.rest_config_qps, burst=args.rest_config_burst,
                            user_agent="kruise-daemon", hooks=[request_counter("daemon")])
        runner = await self._serve()
        self.recreator = Recreator(client, runtime, args.node_name)
        self.puller = ImagePuller(client, runtime, args.node_name, args.max_workers_for_pull_image)
        tasks = [asyncio.create_task(self.recreator.run()), asyncio.create_task(self.puller.run())]
        if self.gates.get("DaemonWatchingPod", True):
            self.containermeta = ContainerMetaWriter(client, runtime, args.node_name)
            tasks.append(asyncio.create_task(self.containermeta.run()))
        log.info("kruise-daemon for node %s: serving %s", args.node_name, args.addr)
        stop = asyncio.create_task(self.stopping.wait())
        try:
            done, _ = await asyncio.wait({*tasks, stop}, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                if t is not stop and t.exception():
                    raise t.exception()
            return 0
        finally:
            for t in (*tasks, stop):
                t.cancel()
            await runner.cleanup()
            await client.close()
            await runtime.close()


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    error = check_arguments(args)
    if error:
        print(f"ack-kruise daemon: error: {error}", file=sys.stderr)
        return 2
    gates = {**gate_defaults(), **args.feature_gates}
    if not gates.get("KruiseDaemon", True):
        print("ack-kruise daemon: error: --feature-gates: KruiseDaemon=false turns the daemon off", file=sys.stderr)
        return 2
    try:
        return asyncio.run(Daemon(args, gates).run())
    except Exception as e:
        log.error("%s", e)
        return 1
