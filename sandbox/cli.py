"""`ack-kruise sandbox up|down|status|env|restart-manager|images` (the manager image: `ack-kruise image`)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _nodes(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if not 0 <= n <= 100:
        raise argparse.ArgumentTypeError(f"must be between 0 and 100, got {n}")
    return n


def _port(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {value!r}") from None
    if not 1 <= n <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 1 and 65535, got {n}")
    return n


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="where the sandbox keeps its state and logs "
                             "(default $ACK_KRUISE_SANDBOX_DIR or ~/.local/state/ack-kruise/sandbox)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = actions.add_parser("up", help="start the sandbox (reuses a running one) and print `export KUBECONFIG=...`")
    up.add_argument("--nodes", type=_nodes, default=3, help="simulated nodes, spread over 3 zones (default 3)")
    up.add_argument("--no-real-node", action="store_true",
                    help="no kubelet/containerd node: simulated nodes only, untainted (no root needed for it)")
    up.add_argument("--tainted-simulated-nodes", action="store_true",
                    help="taint simulated nodes even without a real node (they are tainted when one runs), so "
                         "that only pods tolerating node.ack-kruise.io/simulated land there")
    up.add_argument("--apiserver-port", type=_port, default=0, help="default: a free port")
    up.add_argument("--etcd-port", type=_port, default=0, help="default: a free port")
    up.add_argument("--with-manager", action="store_true",
                    help="install the apps.kruise.io CRDs and webhooks and run kruise-manager on the host")
    up.add_argument("--kcm-qps", type=float, default=20, help="kube-controller-manager client QPS (default 20)")
    up.add_argument("--kcm-burst", type=int, default=30, help="kube-controller-manager client burst (default 30)")
    actions.add_parser("down", help="stop every process the sandbox started")
    actions.add_parser("status", help="show which components run; exit 0 only when all do")
    actions.add_parser("env", help="print `export KUBECONFIG=...` for a running sandbox")
    actions.add_parser("restart-manager", help="stop the sandbox's kruise-manager and start a new one (new code)")
    actions.add_parser("images", help="build the test images (OCI archive, no Docker) and list them")


def run(args: argparse.Namespace) -> int:
    from .cluster import Sandbox, SandboxError, SandboxOptions
    from .processes import ProcessExited
    from .realnode import RealNodeError
    from .tools import MissingTool

    box = Sandbox(args.state_dir)
    try:
        if args.action == "up":
            state = box.up(SandboxOptions(
                real_node=not args.no_real_node, simulated_nodes=args.nodes,
                simulated_nodes_tainted=True if args.tainted_simulated_nodes else None,
                apiserver_port=args.apiserver_port, etcd_port=args.etcd_port,
                kcm_qps=args.kcm_qps, kcm_burst=args.kcm_burst, with_manager=args.with_manager))
            print(f"export KUBECONFIG={state.kubeconfig}")
            return 0
        if args.action == "down":
            box.down()
            return 0
        if args.action == "restart-manager":
            box.restart_manager()
            return 0
        if args.action == "images":
            from . import images
            archive = images.build()
            print(f"{archive} ({archive.stat().st_size // 1024} KiB)")
            for spec in images.IMAGES:
                print(f"  {', '.join(spec.names)}: {spec.description}")
            return 0
        if args.action == "env":
            state = box.state()
            if not state or not box.is_running():
                print("sandbox: not running; start it with `ack-kruise sandbox up`", file=sys.stderr)
                return 1
            print(f"export KUBECONFIG={state.kubeconfig}")
            return 0
        # status
        state = box.state()
        if not state:
            print(f"not running (no state in {box.state_dir})")
            return 1
        for proc in state.processes:
            print(f"{proc.name:<25} {'running' if proc.alive() else 'DEAD':<8} pid {proc.pid}")
        print(f"{'kube-apiserver url':<25} {state.apiserver_url}")
        print(f"{'kubeconfig':<25} {state.kubeconfig}")
        return 0 if box.is_running() else 1
    except (SandboxError, MissingTool, ProcessExited, RealNodeError) as e:
        print(f"sandbox: {e}", file=sys.stderr)
        return 1
