#!/usr/bin/env bash
# `make demo`: the sandbox, and workloads rolled out on it, shown with the commands a user would type.
# The sandbox stays up afterwards so you can keep exploring; `make sandbox-down` stops it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ROOT/.venv/bin:$PATH"
NS=ack-kruise-demo

if [ -t 1 ]; then B=$'\033[1m' N=$'\033[0m'; else B="" N=""; fi
say() { printf '\n%s%s%s\n' "$B" "$*" "$N"; }
show() { printf '\n%s$ %s%s\n' "$B" "$*" "$N"; "$@"; }

say "== Starting the sandbox (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, simulated nodes)"
eval "$(ack-kruise sandbox up)"
echo "KUBECONFIG=$KUBECONFIG"

kubectl delete namespace "$NS" --ignore-not-found --wait=true >/dev/null
kubectl create namespace "$NS" >/dev/null
until kubectl -n "$NS" get serviceaccount default >/dev/null 2>&1; do sleep 0.2; done

say "== A Deployment rolled out by the native controllers onto the simulated nodes"
show kubectl -n "$NS" create deployment web --image=registry.cn-hangzhou.aliyuncs.com/kruise-test/guestbook:v1 --replicas=6
show kubectl -n "$NS" rollout status deployment/web --timeout=60s
show kubectl get nodes,pods -o wide -n "$NS"

say "== A rolling update to :v2"
show kubectl -n "$NS" set image deployment/web guestbook=registry.cn-hangzhou.aliyuncs.com/kruise-test/guestbook:v2
show kubectl -n "$NS" rollout status deployment/web --timeout=60s
show kubectl -n "$NS" get pods -o custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[0].image,IMAGE_ID:.status.containerStatuses[0].imageID,READY:.status.containerStatuses[0].ready

say "The sandbox keeps running. Use it with:"
printf '  export KUBECONFIG=%s PATH=%s/.venv/bin:$PATH\n' "$KUBECONFIG" "$ROOT"
printf 'Stop it with: make sandbox-down\n'
