#!/usr/bin/env bash
# Builds helm from the Go module proxy into the tool cache, only when missing, and
# prints its path.
set -euo pipefail
version=v3.22.0
dir=${XDG_CACHE_HOME:-$HOME/.cache}/kubegate/tools/helm-$version
if [ ! -x "$dir/helm" ]; then
	echo "helm: building helm $version into $dir (first time only, ~2 min)" >&2
	GOBIN=$dir go install -ldflags "-X helm.sh/helm/v3/internal/version.version=$version" "helm.sh/helm/v3/cmd/helm@$version"
fi
echo "$dir/helm"
