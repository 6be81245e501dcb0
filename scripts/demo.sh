#!/usr/bin/env bash
# `make demo`: the seed document's walkthrough on the sandbox, with the commands exactly as it writes them.
# The sandbox (and kruise-manager) keeps running afterwards; `make sandbox-down` stops everything.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ROOT/.venv/bin:$PATH"
GUESTBOOK=registry.cn-hangzhou.aliyuncs.com/kruise-test/guestbook

if [ -t 1 ]; then B=$'\033[1m' N=$'\033[0m'; else B="" N=""; fi
say() { printf '\n%s%s%s\n' "$B" "$*" "$N"; }
show() { printf '\n%s$ %s%s\n' "$B" "$*" "$N"; "$@"; }
# Poll a jsonpath until it prints the wanted value (no fixed sleeps).
until_value() {
  local want="$1"; shift
  for _ in $(seq 1 600); do [ "$(kubectl "$@" 2>/dev/null)" = "$want" ] && return 0; sleep 0.2; done
  echo "timed out waiting for kubectl $* to print $want" >&2; return 1
}
fresh_namespace() {
  kubectl delete namespace "$1" --ignore-not-found --wait=true >/dev/null
  kubectl create namespace "$1" >/dev/null
  until kubectl -n "$1" get serviceaccount default >/dev/null 2>&1; do sleep 0.2; done
  kubectl config set-context --current --namespace "$1" >/dev/null
}

say "== The sandbox: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, a real node"
say "   (kubelet + containerd + runc), simulated nodes, and ack-kruise: CRDs, webhooks, kruise-manager"
# `python -m` from the checkout, so the sandbox installs this checkout's CRDs and runs its manager (the
# `ack-kruise` script runs the copy the virtualenv was installed from, another worktree's perhaps).
eval "$(cd "$ROOT" && python -m ack_kruise sandbox up --with-manager)"
echo "KUBECONFIG=$KUBECONFIG"
fresh_namespace seed
cd "$ROOT/examples/seed"   # the seed's YAML, verbatim

say "== Use a CloneSet to deploy a stateless application (seed document, step 1-3)"
show cat ./cloneset.yaml
show kubectl create -f ./cloneset.yaml
until_value 5 get clone demo-clone -o 'jsonpath={.status.updatedReadyReplicas}'
show kubectl get pod
show kubectl get clone

say "== In-place upgrade to :v2: the pods keep their names; the kubelet restarts only the container"
show kubectl patch clone demo-clone --type=json \
  -p "[{\"op\":\"replace\",\"path\":\"/spec/template/spec/containers/0/image\",\"value\":\"$GUESTBOOK:v2\"}]"
until_value 5 get clone demo-clone -o 'jsonpath={.status.updatedReadyReplicas}'
show kubectl get pod
show kubectl get clone
show kubectl get pod -o 'custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[0].image,RESTARTS:.status.containerStatuses[0].restartCount,IP:.status.podIP'

say "== A SidecarSet injects a log agent into the CloneSet's pods as they are created (the pod webhook)"
kubectl label namespace seed kubernetes.io/metadata.name=seed --overwrite >/dev/null  # set by Kubernetes from 1.21
show cat "$ROOT/examples/kinds/sidecarset.yaml"
show kubectl apply -f "$ROOT/examples/kinds/sidecarset.yaml"
# Injection happens only at pod creation: the CloneSet recreates the deleted pods, now with the sidecar.
show kubectl delete pod -l app=guestbook --wait=false
until_value "true true true true true" get pod -l app=guestbook \
  -o 'jsonpath={.items[*].status.containerStatuses[?(@.name=="log-agent")].ready}'
until_value "" get pod -l app=guestbook -o 'jsonpath={.items[?(@.metadata.deletionTimestamp)].metadata.name}'
until_value "5 5" get sidecarset demo-log-agent -o 'jsonpath={.status.matchedPods} {.status.readyPods}'
SIDECAR_COLUMNS='custom-columns=NAME:.metadata.name,CONTAINERS:.spec.containers[*].name'
SIDECAR_COLUMNS+=',SIDECAR:.spec.containers[?(@.name=="log-agent")].image'
SIDECAR_COLUMNS+=',SIDECAR-RESTARTS:.status.containerStatuses[?(@.name=="log-agent")].restartCount'
SIDECAR_COLUMNS+=',APP-RESTARTS:.status.containerStatuses[?(@.name=="guestbook")].restartCount,IP:.status.podIP'
show kubectl get sidecarset
show kubectl get pod -o "$SIDECAR_COLUMNS"

say "== The sidecar's image is upgraded in place, two pods at a time: only the sidecar restarts"
show kubectl patch sidecarset demo-log-agent --type=json \
  -p '[{"op":"replace","path":"/spec/containers/0/image","value":"localhost:5000/ack-kruise/testapp:v2"}]'
until_value "5 5 $(kubectl get sidecarset demo-log-agent -o 'jsonpath={.metadata.generation}')" get sidecarset \
  demo-log-agent -o 'jsonpath={.status.updatedReadyPods} {.status.readyPods} {.status.observedGeneration}'
show kubectl get sidecarset
show kubectl get pod -o "$SIDECAR_COLUMNS"

say "== Use an Advanced StatefulSet to deploy a stateful application (seed document, step 1-3)"
fresh_namespace seed-asts
show cat ./statefulset.yaml
show kubectl create -f ./statefulset.yaml
until_value 3 get asts demo-asts -o 'jsonpath={.status.updatedReadyReplicas}'
show kubectl get pod
show kubectl get asts

say "== In-place upgrade of the StatefulSet to :v2 (podUpdatePolicy InPlaceIfPossible)"
show kubectl patch asts demo-asts --type=json \
  -p "[{\"op\":\"replace\",\"path\":\"/spec/template/spec/containers/0/image\",\"value\":\"$GUESTBOOK:v2\"}]"
until_value "3 $(kubectl get asts demo-asts -o 'jsonpath={.metadata.generation}')" get asts demo-asts \
  -o 'jsonpath={.status.updatedReadyReplicas} {.status.observedGeneration}'
until_value "$(kubectl get asts demo-asts -o 'jsonpath={.status.updateRevision}')" get asts demo-asts -o 'jsonpath={.status.currentRevision}'
show kubectl get pod
show kubectl get asts

say "== An Advanced DaemonSet: one pod on each of the four nodes, the real one and three simulated"
fresh_namespace daemon
show cat "$ROOT/examples/kinds/daemonset.yaml"
show kubectl create -f "$ROOT/examples/kinds/daemonset.yaml"
until_value 4 get ads demo-ads -o 'jsonpath={.status.numberReady}'
show kubectl get ads
show kubectl get pod -o wide

say "== A node-label canary, in place: only the node labelled canary=true (the real node) gets :v2"
show kubectl label node real-node-0 canary=true --overwrite
show kubectl patch ads demo-ads --type=json \
  -p "[{\"op\":\"replace\",\"path\":\"/spec/template/spec/containers/0/image\",\"value\":\"$GUESTBOOK:v2\"}]"
until_value 1 get pod -l app=guestbook-daemon --field-selector spec.nodeName=real-node-0 \
  -o 'jsonpath={.items[0].status.containerStatuses[0].restartCount}'
until_value "1 4" get ads demo-ads -o 'jsonpath={.status.updatedNumberScheduled} {.status.numberAvailable}'
show kubectl get ads
show kubectl get pod -o 'custom-columns=NAME:.metadata.name,NODE:.spec.nodeName,IMAGE:.spec.containers[0].image,RESTARTS:.status.containerStatuses[0].restartCount'
kubectl label node real-node-0 canary- >/dev/null

say "== A UnitedDeployment: 6 replicas over the simulated nodes' three zones, one CloneSet per zone"
fresh_namespace united
show cat "$ROOT/examples/kinds/uniteddeployment.yaml"
show kubectl create -f "$ROOT/examples/kinds/uniteddeployment.yaml"
until_value "6 6" get ud demo-ud -o 'jsonpath={.status.replicas} {.status.readyReplicas}'
show kubectl get ud
show kubectl get clone -L apps.kruise.io/subset-name
show kubectl get pod -o 'custom-columns=NAME:.metadata.name,SUBSET:.metadata.labels.apps\.kruise\.io/subset-name,NODE:.spec.nodeName'

say "== zone-a's share changes from 33% to 4 pods: its CloneSet grows, the other two shrink to one each"
show kubectl patch ud demo-ud --type=json -p '[{"op":"replace","path":"/spec/topology/subsets/0/replicas","value":4}]'
until_value '{"zone-a":4,"zone-b":1,"zone-c":1}' get ud demo-ud -o 'jsonpath={.status.subsetReplicas}'
until_value "6 6" get ud demo-ud -o 'jsonpath={.status.replicas} {.status.readyReplicas}'
show kubectl get ud demo-ud -o 'jsonpath={.status.subsetReplicas}{"\n"}'
show kubectl get clone -L apps.kruise.io/subset-name

say "== A Deployment rolled out by the native controllers onto the simulated nodes' three zones"
fresh_namespace scale
kubectl create deployment zoned --image=$GUESTBOOK:v1 --replicas=12 --dry-run=client -o json \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); s=d["spec"]["template"]["spec"]; s["nodeSelector"]={"node.ack-kruise.io/simulated":"true"}; s["tolerations"]=[{"key":"node.ack-kruise.io/simulated","operator":"Exists"}]; print(json.dumps(d))' \
  | kubectl apply -f - >/dev/null
echo "deployment.apps/zoned created (12 replicas, tolerating node.ack-kruise.io/simulated)"
show kubectl rollout status deployment/zoned --timeout=60s
show kubectl get nodes,pods -o wide
show kubectl get nodes -L topology.kubernetes.io/zone
kubectl config set-context --current --namespace seed >/dev/null

say "The sandbox keeps running. Use it with:"
printf '  export KUBECONFIG=%s PATH=%s/.venv/bin:$PATH\n' "$KUBECONFIG" "$ROOT"
printf 'Stop it with: make sandbox-down\n'
