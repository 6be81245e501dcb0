#!/usr/bin/env bash
# `make demo`: the sandbox, and workloads rolled out on it, shown with the commands a user would type.
# The sandbox stays up afterwards so you can keep exploring; `make sandbox-down` stops it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ROOT/.venv/bin:$PATH"
NS=ack-kruise-demo
GUESTBOOK=registry.cn-hangzhou.aliyuncs.com/kruise-test/guestbook

if [ -t 1 ]; then B=$'\033[1m' N=$'\033[0m'; else B="" N=""; fi
say() { printf '\n%s%s%s\n' "$B" "$*" "$N"; }
show() { printf '\n%s$ %s%s\n' "$B" "$*" "$N"; "$@"; }

say "== Starting the sandbox: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,"
say "   a real node (kubelet + containerd + runc) and simulated nodes"
eval "$(ack-kruise sandbox up)"
echo "KUBECONFIG=$KUBECONFIG"

kubectl delete namespace "$NS" --ignore-not-found --wait=true >/dev/null
kubectl create namespace "$NS" >/dev/null
until kubectl -n "$NS" get serviceaccount default >/dev/null 2>&1; do sleep 0.2; done
kubectl config set-context --current --namespace "$NS" >/dev/null

say "== A Deployment of the seed's guestbook image: real containers on the real node"
show kubectl create deployment guestbook --image=$GUESTBOOK:v1 --replicas=3
show kubectl rollout status deployment/guestbook --timeout=90s
show kubectl get nodes,pods -o wide
pod=$(kubectl get pods -l app=guestbook -o jsonpath='{.items[0].metadata.name}')
ip=$(kubectl get pod "$pod" -o jsonpath='{.status.podIP}')
show curl -s "http://$ip:8080/"

say "== Patch one pod's image: the kubelet restarts only that container; the pod keeps its name, UID and IP"
cols='custom-columns=NAME:.metadata.name,UID:.metadata.uid,IP:.status.podIP,IMAGE:.spec.containers[0].image,RESTARTS:.status.containerStatuses[0].restartCount,READY:.status.containerStatuses[0].ready'
show kubectl get pod "$pod" -o "$cols"
show kubectl patch pod "$pod" -p "{\"spec\":{\"containers\":[{\"name\":\"guestbook\",\"image\":\"$GUESTBOOK:v2\"}]}}"
until [ "$(kubectl get pod "$pod" -o jsonpath='{.status.containerStatuses[0].restartCount}/{.status.containerStatuses[0].ready}')" = "1/true" ]; do sleep 0.2; done
show kubectl get pod "$pod" -o "$cols"
show curl -s "http://$ip:8080/"

say "== Simulated nodes in three zones, for scale: pods opt in by tolerating their taint"
kubectl create deployment zoned --image=$GUESTBOOK:v1 --replicas=12 --dry-run=client -o json \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); s=d["spec"]["template"]["spec"]; s["nodeSelector"]={"node.ack-kruise.io/simulated":"true"}; s["tolerations"]=[{"key":"node.ack-kruise.io/simulated","operator":"Exists"}]; print(json.dumps(d))' \
  | kubectl apply -f - >/dev/null
echo "deployment.apps/zoned created (12 replicas, tolerating node.ack-kruise.io/simulated)"
show kubectl rollout status deployment/zoned --timeout=60s
show kubectl get nodes -L topology.kubernetes.io/zone
show kubectl get pods -l app=zoned -o wide

say "The sandbox keeps running. Use it with:"
printf '  export KUBECONFIG=%s PATH=%s/.venv/bin:$PATH\n' "$KUBECONFIG" "$ROOT"
printf 'Stop it with: make sandbox-down\n'
