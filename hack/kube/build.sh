#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager (for the demo), etcd and kubectl (Kubernetes v1.37.2) from the Go module proxy
# into a cache outside the clone, only the ones that are missing, and prints the
# directory. Override the directory with KUBEGATE_KUBE_BIN.
set -euo pipefail

KUBE_VERSION=v1.37.2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${KUBEGATE_KUBE_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/kubegate/kube-$KUBE_VERSION}
mkdir -p "$dir"

major=${KUBE_VERSION#v}; major=${major%%.*}
minor=${KUBE_VERSION#v*.}; minor=${minor%%.*}
vpkg=k8s.io/component-base/version
ldflags="-s -w -X $vpkg.gitVersion=$KUBE_VERSION -X $vpkg.gitMajor=$major -X $vpkg.gitMinor=$minor -X $vpkg.gitTreeState=clean -X $vpkg.buildDate=1970-01-01T00:00:00Z"

build() { # name package
	local name=$1 pkg=$2
	if [ -x "$dir/$name" ]; then return; fi
	echo "kube-bin: building $name for Kubernetes $KUBE_VERSION into $dir (first time only; kube-apiserver takes ~8-10 min on 2 cores)" >&2
	local start=$SECONDS
	# Build to a temporary name and rename, so an interrupted build never leaves a
	# half-written binary that later runs would take as present.
	(cd "$here" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$dir/.$name.tmp" "$pkg")
	mv "$dir/.$name.tmp" "$dir/$name"
	echo "kube-bin: built $name in $((SECONDS - start))s" >&2
}

build etcd go.etcd.io/etcd/server/v3
build kubectl k8s.io/kubernetes/cmd/kubectl
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
echo "$dir"
