#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kube-proxy v1.20.2 offline
# from Debian's `kubernetes` source package, and caches the binaries under $ACK_KRUISE_CACHE.
#
# Why from source: no registry we can reach ships a prebuilt kube-apiserver (control-plane.md). The
# Debian orig tarball carries upstream's vendor/, so the build needs no network once the source is here.
# All five binaries are built in one go because the 3 GB build tree is deleted afterwards.
#
# usage: build-kubernetes.sh [--check-tools]   (--check-tools: only check that the build tools are installed)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/require-tools.sh"

DEBIAN_SOURCE_VERSION="${DEBIAN_SOURCE_VERSION:-1.20.5+really1.20.2-1.1+deb12u1}"
CACHE="${ACK_KRUISE_CACHE:-$HOME/.cache/ack-kruise}"
OUT="$CACHE/kubernetes-$DEBIAN_SOURCE_VERSION/bin"
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)
# Everything the build below runs or copies, with the Debian package that provides it.
GOCODE=/usr/share/gocode/src/github.com
BUILD_TOOLS=(apt-get=apt tar=tar sed=sed grep=grep find=findutils install=coreutils go=golang-go make=make
             rsync=rsync "$GOCODE/modern-go/reflect2=golang-github-modern-go-reflect2-dev"
             "$GOCODE/json-iterator/go=golang-github-json-iterator-go-dev")
if [ "${1:-}" = --check-tools ]; then
  require_tools build-kubernetes.sh "${BUILD_TOOLS[@]}"
  exit
fi

have_all() { for b in "${BINARIES[@]}"; do [ -x "$OUT/$b" ] || return 1; done; }
if have_all; then
  echo "kubernetes binaries cached in $OUT"
  exit 0
fi
require_tools build-kubernetes.sh "${BUILD_TOOLS[@]}" || exit 1

work="$CACHE/build.$$"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$OUT"

# The machine lists only binary packages: a private deb-src list for the same suites fetches the source
# without touching the system's apt configuration.
sed -e 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > "$work/sources.list.sources" 2>/dev/null || true
if ! grep -q 'deb-src' "$work/sources.list.sources" 2>/dev/null; then
  cat > "$work/sources.list.sources" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
apt_src=(-o APT::Sandbox::User=root -o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts="$work/sourceparts" -o Dir::State::Lists="$work/lists")
mkdir -p "$work/sourceparts"; mv "$work/sources.list.sources" "$work/sourceparts/debian-src.sources"

echo "fetching the kubernetes=$DEBIAN_SOURCE_VERSION source package"
apt-get "${apt_src[@]}" update -qq
(cd "$work" && apt-get "${apt_src[@]}" source --download-only "kubernetes=$DEBIAN_SOURCE_VERSION" >/dev/null)
orig=$(ls "$work"/kubernetes_*.orig.tar.* | head -n1)
mkdir -p "$work/src"
tar -xf "$orig" -C "$work/src" --strip-components=1

# Go >= 1.18 makes the vendored reflect2 v1.0.1 panic on the first JSON decode of a map (the first CRD
# POST). Debian's packaged reflect2 1.0.2 and json-iterator 1.1.12 fix it.
for pkg in github.com/modern-go/reflect2 github.com/json-iterator/go; do
  rm -rf "$work/src/vendor/$pkg"
  mkdir -p "$work/src/vendor/$pkg"
  cp -r "/usr/share/gocode/src/$pkg/." "$work/src/vendor/$pkg/"
  find "$work/src/vendor/$pkg" -name '*_test.go' -delete
done

echo "building ${BINARIES[*]} (about 6 minutes on 2 cores)"
what=""; for b in "${BINARIES[@]}"; do what="$what cmd/$b"; done
(
  cd "$work/src"
  export GOFLAGS=-mod=vendor GOPROXY=off CGO_ENABLED=0 GOCACHE="$work/gocache" GOPATH="$work/gopath"
  export KUBE_GIT_VERSION=v1.20.2 KUBE_GIT_TREE_STATE=clean KUBE_GIT_MAJOR=1 KUBE_GIT_MINOR=20
  make WHAT="${what# }" >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log" >&2; exit 1; }
)
for b in "${BINARIES[@]}"; do install -m 0755 "$work/src/_output/bin/$b" "$OUT/$b"; done
echo "kubernetes binaries built into $OUT"
