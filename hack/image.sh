#!/usr/bin/env bash
# Builds kubegate's OCI image as a tarball, without a container daemon:
#   hack/image.sh [OUT_DIR]   (default: bin/)
# The static binary (CGO off, version stamped) on an empty base, user 65532, tagged
# ghcr.io/kubegate/kubegate:VERSION (the Helm chart's default image). Load it with
# `docker load -i` or `crane push`.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$(cd "${1:-$here/bin}" 2>/dev/null && pwd || (mkdir -p "${1:-$here/bin}" && cd "${1:-$here/bin}" && pwd))
version=${VERSION:-$(git -C "$here" describe --tags --always --dirty 2>/dev/null || echo dev)}
repo=${IMAGE_REPOSITORY:-ghcr.io/kubegate/kubegate}
tag=$version
case $tag in v*) ;; *) tag=v0.0.0-$tag ;; esac
cd "$here"
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags "-s -w -X github.com/kubegate/kubegate.Version=$version" \
	-o "$out/kubegate-linux-amd64" ./cmd/kubegate
ca=/etc/ssl/certs/ca-certificates.crt
[ -f "$ca" ] || ca=""
(cd hack/image && go run . -binary "$out/kubegate-linux-amd64" -tag "$repo:$tag" -version "$version" -out "$out/kubegate-image.tar" -ca-bundle "$ca")
echo "$out/kubegate-image.tar ($repo:$tag)"
