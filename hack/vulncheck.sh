#!/usr/bin/env bash
# Runs govulncheck (built from the Go module proxy into the tool cache) over the
# module: it fails on vulnerabilities that the code can reach. The vulnerability
# database is https://vuln.go.dev, or GOVULNDB (e.g. file:///srv/vulndb, a mirror).
# When the database cannot be reached at all (an offline machine), it says so and
# succeeds, unless KUBEGATE_REQUIRE_VULNCHECK=1.
set -euo pipefail
version=v1.9.0
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${XDG_CACHE_HOME:-$HOME/.cache}/kubegate/tools/govulncheck-$version
if [ ! -x "$bin/govulncheck" ]; then
	GOBIN=$bin go install "golang.org/x/vuln/cmd/govulncheck@$version"
fi
db=${GOVULNDB:-https://vuln.go.dev}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cd "$here"
if "$bin/govulncheck" -db "$db" ./... >"$out" 2>&1; then
	tail -n 1 "$out"
	exit 0
fi
if grep -q "fetching vulnerabilities" "$out" && [ "${KUBEGATE_REQUIRE_VULNCHECK:-0}" != 1 ]; then
	echo "vulncheck: SKIPPED: the vulnerability database $db cannot be reached from this machine:" >&2
	grep "fetching vulnerabilities" "$out" >&2
	echo "vulncheck: set GOVULNDB to a reachable mirror, or KUBEGATE_REQUIRE_VULNCHECK=1 to fail instead" >&2
	exit 0
fi
cat "$out" >&2
exit 1
